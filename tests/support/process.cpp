#include "process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace clipd::test {

namespace {

std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error("program not found in PATH: " + name);
}

std::vector<std::string> build_env(const EnvChanges& changes) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e)
    env.emplace_back(*e);
  for (const std::string& change : changes) {
    const std::size_t eq = change.find('=');
    const std::string key = change.substr(0, eq);
    std::erase_if(env, [&](const std::string& e) {
      return e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=';
    });
    if (eq != std::string::npos) env.push_back(change);
  }
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings)
    out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

void close_from(int first) noexcept {
  syscall(SYS_close_range, first, ~0U, 0);
}

}  // namespace

Process::Process(std::vector<std::string> argv, EnvChanges env, std::string output_file)
    : output_file_(std::move(output_file)) {
  if (argv.empty()) throw std::runtime_error("Process: empty argv");
  std::string program = find_program(argv[0]);
  std::vector<std::string> env_strings = build_env(env);
  std::vector<char*> c_argv = c_strings(argv);
  std::vector<char*> c_env = c_strings(env_strings);

  int out_fd = -1;
  if (!output_file_.empty()) {
    out_fd = ::open(output_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out_fd < 0) throw std::runtime_error("cannot create " + output_file_);
  }
  int exec_pipe[2];  // reports a failed exec
  if (pipe2(exec_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");

  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    setsid();
    ::signal(SIGPIPE, SIG_DFL);
    if (out_fd >= 0) {
      dup2(out_fd, 1);
      dup2(out_fd, 2);
    }
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, 0);
    execve(program.c_str(), c_argv.data(), c_env.data());
    const int err = errno;
    [[maybe_unused]] ssize_t w = write(exec_pipe[1], &err, sizeof err);
    _exit(127);
  }
  close(exec_pipe[1]);
  if (out_fd >= 0) close(out_fd);
  int err = 0;
  const ssize_t got = read(exec_pipe[0], &err, sizeof err);
  close(exec_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof err)) {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    throw std::runtime_error("cannot run " + program + ": " + std::strerror(err));
  }

  // The watchdog: kills the group when the test process dies without standing it down.
  int wd[2];
  if (pipe2(wd, O_CLOEXEC) != 0) {
    stop();
    throw std::runtime_error("pipe2 failed");
  }
  const pid_t group = pid_;
  watchdog_ = fork();
  if (watchdog_ < 0) {
    close(wd[0]);
    close(wd[1]);
    stop();
    throw std::runtime_error("fork failed");
  }
  if (watchdog_ == 0) {
    setsid();  // a runner that kills the test's group must not take the watchdog with it
    if (wd[0] != 3) dup2(wd[0], 3);
    close_from(4);
    char byte = 0;
    ssize_t r;
    do {
      r = read(3, &byte, 1);
    } while (r < 0 && errno == EINTR);
    if (r <= 0 || byte == 'k') kill(-group, SIGKILL);
    _exit(0);
  }
  close(wd[0]);
  watchdog_fd_ = wd[1];
}

Process::~Process() {
  stop();
}

std::optional<int> Process::wait_for(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  if (pid_ < 0) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return status_;
    }
    if (r < 0 && errno != EINTR) {
      status_ = -1;
      return status_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void Process::signal(int sig) {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

void Process::signal_group(int sig) {
  // The group outlives its leader (a reaped leader's group id is not reused while members
  // remain), so the group is signalled until the watchdog stands down.
  if (pid_ > 0 && watchdog_fd_ >= 0) ::kill(-pid_, sig);
}

int Process::stop(std::chrono::milliseconds grace) {
  if (pid_ < 0) return status_.value_or(-1);
  if (!status_) {
    signal_group(SIGTERM);
    if (!wait_for(grace)) {
      signal_group(SIGKILL);
      wait_for(std::chrono::milliseconds(5000));
    }
  }
  // Members of the group that ignored SIGTERM (or a group whose leader exited first).
  release_watchdog(true);
  return status_.value_or(-1);
}

void Process::release_watchdog(bool kill_group) {
  if (watchdog_fd_ < 0) return;
  const char byte = kill_group ? 'k' : 'x';
  [[maybe_unused]] ssize_t w = write(watchdog_fd_, &byte, 1);
  close(watchdog_fd_);
  watchdog_fd_ = -1;
  int status = 0;
  while (waitpid(watchdog_, &status, 0) < 0 && errno == EINTR) {
  }
  watchdog_ = -1;
}

std::string Process::output() const {
  return read_file(output_file_);
}

RunResult run(std::vector<std::string> argv, EnvChanges env, std::chrono::milliseconds timeout) {
  TempDir dir("clipd-run");
  RunResult result;
  Process p(std::move(argv), std::move(env), dir.file("out"));
  auto status = p.wait_for(timeout);
  if (!status) {
    p.stop(std::chrono::milliseconds(200));
    result.status = 124;
  } else {
    p.stop();
    result.status = *status;
  }
  result.output = p.output();
  return result;
}

TempDir::TempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/" + prefix + "-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + templ);
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<unsigned> counter{0};
  return prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

std::string read_file(const std::string& path) {
  if (path.empty()) return {};
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string thread_report(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  std::string out = "threads of " + std::to_string(pid) + ":\n";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string t = entry.path().string();
    const std::string stat = read_file(t + "/stat");
    // The state is the field after the parenthesised name, which may hold spaces.
    const std::size_t close = stat.rfind(')');
    const char state =
        close != std::string::npos && close + 2 < stat.size() ? stat[close + 2] : '?';
    std::string comm = read_file(t + "/comm");
    if (!comm.empty() && comm.back() == '\n') comm.pop_back();
    out += "  " + entry.path().filename().string() + " " + comm + " " + state + " wchan " +
           read_file(t + "/wchan") + " syscall " + read_file(t + "/syscall");
    if (out.back() != '\n') out += '\n';
    std::istringstream stack(read_file(t + "/stack"));
    std::string frame;
    for (int i = 0; i < 6 && std::getline(stack, frame); ++i)
      out += "      " + frame + "\n";
  }
  return out;
}

std::string support_dir() {
  if (const char* root = std::getenv("CLIPD_BUILD_ROOT"); root != nullptr && *root != '\0') {
    return std::string(root) + "/tests/support";
  }
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (exe.parent_path().parent_path() / "support").string();
}

}  // namespace clipd::test
