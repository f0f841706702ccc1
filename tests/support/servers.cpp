#include "servers.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace clipd::test {

namespace {

constexpr auto kStartTimeout = std::chrono::milliseconds(10000);

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

pid_t read_pid(const std::string& path) {
  const std::string text = read_file(path);
  return text.empty() ? -1 : static_cast<pid_t>(std::strtol(text.c_str(), nullptr, 10));
}

// A server that another process (clipd-with-server) started: only its environment is known.
class ExternalServer final : public TestServer {
 public:
  explicit ExternalServer(std::string kind) : kind_(std::move(kind)) {}
  const char* kind() const noexcept override { return kind_.c_str(); }
  EnvChanges env() const override { return {}; }  // inherited
  std::vector<std::string> wrap(std::vector<std::string> argv) const override { return argv; }

 private:
  std::string kind_;
};

}  // namespace

std::unique_ptr<Process> TestServer::spawn(std::vector<std::string> argv,
                                           const std::string& output_file,
                                           EnvChanges extra_env) const {
  EnvChanges e = env();
  e.insert(e.end(), extra_env.begin(), extra_env.end());
  return std::make_unique<Process>(wrap(std::move(argv)), std::move(e), output_file);
}

RunResult TestServer::run_client(std::vector<std::string> argv,
                                 std::chrono::milliseconds timeout) const {
  return run(wrap(std::move(argv)), env(), timeout);
}

bool TestServer::accepts_clients() const {
  return run_client({"jack_lsp"}, std::chrono::milliseconds(3000)).status == 0;
}

bool TestServer::wait_until_ready(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (accepts_clients()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// jack_lsp's output, once it has connected. A server that refuses a client for a moment under
// load (see open_tool_client() in jack_tool.hpp) is asked again; an empty list is never taken for
// an answer when jack_lsp did not get one.
std::string TestServer::lsp(std::vector<std::string> args) const {
  args.insert(args.begin(), "jack_lsp");
  RunResult r;
  for (int attempt = 1; attempt <= 5; ++attempt) {
    r = run_client(args);
    if (r.status == 0) return r.output;
    std::fprintf(stderr, "jack_lsp failed (status %d, attempt %d): %s\n", r.status, attempt,
                 r.output.c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  throw std::runtime_error("jack_lsp failed five times:\n" + r.output);
}

std::vector<std::string> TestServer::ports() const {
  return lines(lsp({}));
}

std::vector<std::string> TestServer::connections() const {
  // jack_lsp -c: a port at the start of a line, its connections indented below it.
  std::vector<std::string> out;
  std::string current;
  for (const std::string& line : lines(lsp({"-c"}))) {
    if (line[0] == ' ' || line[0] == '\t') {
      out.push_back(current + " -> " + line.substr(line.find_first_not_of(" \t")));
    } else {
      current = line;
    }
  }
  return out;
}

// jackd

JackdServer::JackdServer() : JackdServer(Options{}) {}

JackdServer::JackdServer(Options options) : options_(std::move(options)) {
  if (options_.name.empty()) options_.name = unique_name("clipd-test");
  dir_ = std::make_unique<TempDir>("clipd-jackd");
  if (options_.log_file.empty()) options_.log_file = dir_->file("jackd.log");
  start();
}

JackdServer::~JackdServer() {
  stop();
  // A SIGKILLed jackd leaves its socket and semaphores in /dev/shm; the name is this test's own.
  std::error_code ec;
  const std::string tag = "_" + options_.name + "_";
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", ec)) {
    if (entry.path().filename().string().find(tag) != std::string::npos) {
      std::filesystem::remove(entry.path(), ec);
    }
  }
}

std::string JackdServer::log() const {
  return read_file(options_.log_file);
}

void JackdServer::start(std::uint32_t rate) {
  options_.rate = rate;
  start();
}

namespace {

// True when some process on the machine runs jackd (read from /proc; nothing is signalled).
bool any_jackd_running() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string comm = read_file(entry.path().string() + "/comm");
    if (comm.rfind("jackd", 0) == 0) return true;
  }
  return false;
}

// JACK2's shared registry has eight server slots and reclaims a dead server's slot only for a
// server of the same name, so every jackd that was SIGKILLed elsewhere on the machine (and never
// started again under its name) holds one for good: "Too many servers already active". When no
// jackd runs at all, the registry holds nothing alive: remove it and the next server makes a
// fresh one. Only after that failure: a process that has been a JACK client keeps the registry
// it first mapped, so removing it needlessly would hide later servers from it.
bool reclaim_jack_registry() {
  return !any_jackd_running() && ::unlink("/dev/shm/jack-shm-registry") == 0;
}

// The same leak while other servers run (other suites on the machine): frees the slots of servers
// whose process is gone, under the lock JACK2 itself takes around the registry (common/shm.c: a
// System V semaphore of key 0x282929 holding one unit, taken with SEM_UNDO). The layout is
// JACK2's jack_shm_header_t on Linux: a 24-byte header, then eight slots of a pid and a 257-byte
// name, 264 bytes each; the header's own length field is checked first and nothing is touched
// when it differs. True when a slot was freed.
bool reclaim_dead_jack_servers() {
  constexpr std::size_t kSlots = 8, kSlotsAt = 24, kSlotSize = 264;
  constexpr std::size_t kHeaderSize = kSlotsAt + kSlots * kSlotSize;
  const int fd = ::open("/dev/shm/jack-shm-registry", O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  void* map = MAP_FAILED;
  if (::fstat(fd, &st) == 0 && static_cast<std::size_t>(st.st_size) >= kHeaderSize) {
    map = ::mmap(nullptr, kHeaderSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  }
  ::close(fd);
  if (map == MAP_FAILED) return false;
  auto* bytes = static_cast<unsigned char*>(map);
  std::uint32_t header_size = 0;
  std::memcpy(&header_size, bytes + 16, sizeof header_size);
  bool freed = false;
  const int semaphore = ::semget(0x282929, 0, 0);
  sembuf take{0, -1, SEM_UNDO};
  if (header_size == kHeaderSize && semaphore >= 0 && ::semop(semaphore, &take, 1) == 0) {
    for (std::size_t i = 0; i < kSlots; ++i) {
      unsigned char* slot = bytes + kSlotsAt + i * kSlotSize;
      std::int32_t pid = 0;
      std::memcpy(&pid, slot, sizeof pid);
      if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) {
        std::memset(slot, 0, kSlotSize);
        freed = true;
      }
    }
    sembuf give{0, 1, SEM_UNDO};
    ::semop(semaphore, &give, 1);
  }
  ::munmap(map, kHeaderSize);
  return freed;
}

}  // namespace

void JackdServer::start() {
  stop();
  constexpr int kSlotTries = 40;
  int slot_tries = 0, exit_tries = 0;
  for (;;) {
    std::vector<std::string> argv = {
        "jackd", "--no-realtime", "-p", std::to_string(options_.port_max), "-n", options_.name};
    if (options_.sync) argv.push_back("-S");
    argv.insert(argv.end(), {"-t", std::to_string(options_.timeout_ms), "-d", "dummy", "-r",
                             std::to_string(options_.rate), "-p", std::to_string(options_.period)});
    // The server must not inherit a default server name of its own.
    process_ =
        std::make_unique<Process>(argv, EnvChanges{"JACK_DEFAULT_SERVER"}, options_.log_file);
    const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!process_->running()) break;
      if (accepts_clients()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const bool exited = !process_->running();
    const int status = process_->stop();
    const std::string why = log();
    // The eight slots are taken: free those of dead servers and wait for live ones to end. With
    // two suites on the machine, four tests may hold servers and several start at once, so a
    // slot may be taken again between the reclaim and the next start: a few seconds of tries.
    const bool full = why.find("Too many servers already active") != std::string::npos;
    if (full && slot_tries < kSlotTries) {
      ++slot_tries;
      if (!reclaim_jack_registry() && !reclaim_dead_jack_servers()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      if (slot_tries == 1 || slot_tries % 5 == 0) {
        std::fprintf(stderr, "jackd %s: every server slot is taken (try %d), starting again\n",
                     options_.name.c_str(), slot_tries);
      }
      continue;
    }
    // Seen with several suites' servers starting at once on a loaded machine: jackd exits right
    // after its banner, before it says anything of the server. Nothing of the test has touched
    // that server yet, so starting it again makes a new server rather than hiding a failure; the
    // first exit is reported on stderr either way.
    if (exited && exit_tries < 2 && !full) {
      ++exit_tries;
      std::fprintf(stderr, "jackd %s exited at start (status %d), starting it again:\n%s\n",
                   options_.name.c_str(), status, why.c_str());
      continue;
    }
    throw std::runtime_error("jackd " + options_.name + " did not start (status " +
                             std::to_string(status) + ", " + std::to_string(slot_tries) +
                             " tries for a server slot):\n" + why);
  }
}

void JackdServer::stop() {
  if (process_) process_->stop();
  process_.reset();
}

void JackdServer::kill_hard() {
  if (!process_) return;
  process_->signal(SIGKILL);
  process_->wait_for(std::chrono::milliseconds(5000));
  process_.reset();  // reaps; the rest of its group (none) is killed by the watchdog release
}

// PipeWire

PipewireServer::PipewireServer() : PipewireServer(Options{}) {}

PipewireServer::PipewireServer(Options options) : options_(options) {
  dir_ = std::make_unique<TempDir>("clipd-pw");
  chmod(dir_->path().c_str(), 0700);
  start();
}

PipewireServer::~PipewireServer() {
  stop();
}

EnvChanges PipewireServer::env() const {
  return {"PIPEWIRE_RUNTIME_DIR=" + dir_->path(), "XDG_RUNTIME_DIR=" + dir_->path(),
          "JACK_DEFAULT_SERVER", "PIPEWIRE_REMOTE"};
}

std::vector<std::string> PipewireServer::wrap(std::vector<std::string> argv) const {
  argv.insert(argv.begin(), "pw-jack");
  return argv;
}

pid_t PipewireServer::pipewire_pid() const {
  return read_pid(dir_->file("pipewire.pid"));
}
pid_t PipewireServer::wireplumber_pid() const {
  return read_pid(dir_->file("wireplumber.pid"));
}

std::optional<int> PipewireServer::pipewire_crash() const {
  // The start script's status line: 128 + the signal's number when pipewire died of one.
  const std::string text = read_file(dir_->file("pipewire.exit"));
  if (text.empty()) return std::nullopt;
  const int status = std::atoi(text.c_str());
  for (const int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE}) {
    if (status == 128 + sig) return sig;
  }
  return std::nullopt;
}

std::string PipewireServer::log() const {
  std::string text = read_file(dir_->file("session.log")) + read_file(dir_->file("pipewire.log")) +
                     read_file(dir_->file("wireplumber.log"));
  const std::string exit = read_file(dir_->file("pipewire.exit"));
  if (!exit.empty()) text += "pipewire exited with status " + exit;
  if (const auto sig = pipewire_crash()) {
    text += std::string("pipewire crashed: ") + strsignal(*sig) + "\n";
  }
  return text;
}

std::string PipewireServer::clipd_policy_config_home() {
  const char* source = std::getenv("CLIPD_SOURCE_ROOT");
  if (source == nullptr || *source == '\0') {
    throw std::runtime_error("CLIPD_SOURCE_ROOT is not set: no clipd policy for WirePlumber");
  }
  return source;
}

bool PipewireServer::clipd_policy_runs(std::chrono::milliseconds timeout) const {
  return run({"pw-cli", "ls", "Metadata"}, env(), timeout).output.find("clipd-default-links") !=
         std::string::npos;
}

void PipewireServer::start() {
  stop();
  // pipewire first; wireplumber once pipewire's socket exists (it does not retry).
  const std::string script =
      "cd \"$XDG_RUNTIME_DIR\" || exit 1\n"
      // pipewire.pid is pipewire's own pid (tests signal it); pipewire.exit says how it ended.
      "(sh -c 'echo $$ >pipewire.pid; exec pipewire' >pipewire.log 2>&1; echo $? >pipewire.exit)"
      " &\n"
      "i=0; while [ ! -S pipewire-0 ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done\n"
      "if [ -n \"$CLIPD_WP_CONFIG\" ]; then export XDG_CONFIG_HOME=\"$CLIPD_WP_CONFIG\"; fi\n"
      "if [ \"$CLIPD_WIREPLUMBER\" = 1 ]; then\n"
      "  wireplumber >wireplumber.log 2>&1 & echo $! >wireplumber.pid\n"
      "fi\n"
      "wait\n";
  EnvChanges e = env();
  e.push_back(std::string("CLIPD_WIREPLUMBER=") + (options_.wireplumber ? "1" : "0"));
  if (options_.clipd_policy) {
    e.push_back("CLIPD_WP_CONFIG=" + clipd_policy_config_home());
  } else {
    e.push_back("CLIPD_WP_CONFIG");
  }
  // No desktop session leaks in: a private bus, no display.
  e.insert(e.end(), {"DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY"});
  process_ = std::make_unique<Process>(
      std::vector<std::string>{"dbus-run-session", "--", "sh", "-c", script}, e,
      dir_->file("session.log"));

  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  bool jack_ok = false;
  while (std::chrono::steady_clock::now() < deadline && process_->running()) {
    if (!jack_ok) jack_ok = accepts_clients();
    // Ready once JACK clients connect and wireplumber has registered with the server.
    if (jack_ok && (!options_.wireplumber ||
                    run({"pw-cli", "ls", "Client"}, env(), std::chrono::milliseconds(3000))
                            .output.find("WirePlumber") != std::string::npos)) {
      // clipd's policy shows it runs with its metadata object.
      if (!options_.clipd_policy || clipd_policy_runs()) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string why = log();
  process_->stop();
  throw std::runtime_error("PipeWire did not start:\n" + why);
}

void PipewireServer::stop() {
  if (process_) process_->stop();
  process_.reset();
  if (dir_) {
    unlink(dir_->file("pipewire.pid").c_str());
    unlink(dir_->file("pipewire.exit").c_str());
    unlink(dir_->file("wireplumber.pid").c_str());
    // A SIGKILLed pipewire leaves its socket behind: the start script would take it for the new
    // server's and start wireplumber before pipewire listens.
    unlink(dir_->file("pipewire-0").c_str());
    unlink(dir_->file("pipewire-0-manager").c_str());
  }
}

std::unique_ptr<TestServer> external_server() {
  const char* kind = std::getenv("CLIPD_TEST_SERVER");
  if (kind == nullptr || *kind == '\0') return nullptr;
  return std::make_unique<ExternalServer>(kind);
}

}  // namespace clipd::test
