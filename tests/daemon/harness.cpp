#include "harness.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sndfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace clipd::test {

std::string clipd_binary(bool rtsan) {
  const char* root = std::getenv("CLIPD_BUILD_ROOT");
  if (root == nullptr) throw std::runtime_error("CLIPD_BUILD_ROOT is not set");
  return std::string(root) + (rtsan ? "/src/daemon/clipd-rtsan" : "/src/daemon/clipd");
}

std::string clipctl_binary() {
  const char* root = std::getenv("CLIPD_BUILD_ROOT");
  if (root == nullptr) throw std::runtime_error("CLIPD_BUILD_ROOT is not set");
  return std::string(root) + "/src/clipctl/clipctl";
}

namespace {

int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

Clipd::Clipd(const TestServer& server, const TempDir& home, Options options)
    : server_(server),
      home_(home),
      options_(std::move(options)),
      socket_(home.file("run/clipd/control.sock")) {}

Clipd::~Clipd() {
  if (process_) process_->stop();
}

std::string Clipd::report() const {
  std::string out = log();
  if (process_ && process_->running()) out += thread_report(process_->pid());
  return out;
}

EnvChanges Clipd::env() const {
  return {"XDG_RUNTIME_DIR=" + home_.file("run"), "XDG_STATE_HOME=" + home_.file("state"),
          "XDG_CONFIG_HOME=" + home_.file("config")};
}

void Clipd::start() {
  if (process_) log_ += process_->output();
  std::vector<std::string> argv{clipd_binary(options_.rtsan), "--log-level", "debug"};
  argv.insert(argv.end(), options_.args.begin(), options_.args.end());
  EnvChanges env = server_.env();
  for (auto& e : this->env())
    env.push_back(e);
  ::mkdir(home_.file("run").c_str(), 0700);
  process_ = std::make_unique<Process>(server_.wrap(argv), env,
                                       home_.file("clipd-" + std::to_string(starts_++) + ".log"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    if (int fd = connect_unix(socket_); fd >= 0) {
      ::close(fd);
      return;
    }
    if (!process_->running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("clipd did not start:\n" + process_->output());
}

int Clipd::stop(std::chrono::milliseconds grace) {
  if (!process_) return -1;
  process_->signal(SIGTERM);
  auto status = process_->wait_for(grace);
  if (!status) return process_->stop();
  return *status;
}

void Clipd::kill_hard() {
  if (!process_) return;
  process_->signal(SIGKILL);
  process_->wait_for(std::chrono::seconds(5));
}

Client::Client(const std::string& socket_path) {
  fd_ = connect_unix(socket_path);
  if (fd_ < 0) throw std::runtime_error("cannot connect to " + socket_path);
}

Client::~Client() {
  if (fd_ >= 0) ::close(fd_);
}

void Client::send_line(const std::string& line) {
  // Count each request under its id, when the line has one the daemon can read back (a test may
  // pipeline several lines in one write).
  for (std::size_t begin = 0; begin < line.size();) {
    std::size_t end = line.find('\n', begin);
    if (end == std::string::npos) end = line.size();
    const json request = json::parse(line.substr(begin, end - begin), nullptr, false);
    if (request.is_object() && request.contains("id")) ++sent_[request["id"].dump()];
    begin = end + 1;
  }
  std::string data = line;
  if (data.empty() || data.back() != '\n') data += '\n';
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::send(fd_, p, left, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("send failed");
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

std::optional<std::string> Client::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return std::nullopt;
    buffer_.append(buf, static_cast<std::size_t>(n));
  }
}

std::optional<json> Client::read_message(std::chrono::milliseconds timeout) {
  auto line = read_line(timeout);
  if (!line) return std::nullopt;
  json message = json::parse(*line);
  // Exactly one reply per request (clipd-protocol(7)). A null id belongs to lines whose id could
  // not be read; those cannot be told apart.
  if (message.is_object() && !message.contains("event") && message.contains("id") &&
      !message["id"].is_null()) {
    const std::string id = message["id"].dump();
    const int replies = ++replied_[id];
    const auto sent = sent_.find(id);
    if (replies > std::max(1, sent == sent_.end() ? 0 : sent->second)) {
      ADD_FAILURE() << "second reply to request id " << id << ": " << *line;
    }
  }
  return message;
}

json Client::request(json request, std::chrono::milliseconds timeout) {
  const std::int64_t id = next_id_++;
  request["id"] = id;
  send_line(request.dump());
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto msg = read_message(left);
    if (!msg) throw std::runtime_error("no reply to " + request.dump());
    if (msg->contains("event")) {
      events_.push_back(std::move(*msg));
      continue;
    }
    if ((*msg)["id"] == id) return *msg;
  }
}

json Client::ok(json req, std::chrono::milliseconds timeout) {
  json reply = request(req, timeout);
  if (reply.value("ok", false) != true) {
    throw std::runtime_error("request " + req.dump() + " failed: " + reply.dump());
  }
  return reply["result"];
}

json Client::poll(const json& req, const std::function<bool(const json& result)>& done,
                  std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  json reply;
  for (;;) {
    reply = request(req);
    if (reply.value("ok", false) == true && done(reply["result"])) return reply["result"];
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("still not there after polling " + req.dump() + ": " + reply.dump());
    }
    // Polling pace only: what is awaited is the daemon's reply above.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::optional<json> Client::wait_event(const std::string& name, std::chrono::milliseconds timeout) {
  for (auto it = events_.begin(); it != events_.end(); ++it) {
    if ((*it)["event"] == name) {
      json e = *it;
      events_.erase(it);
      return e;
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto msg = read_message(left);
    if (!msg) return std::nullopt;
    if (msg->contains("event") && (*msg)["event"] == name) return msg;
    if (msg->contains("event")) events_.push_back(std::move(*msg));
  }
}

void write_wav(const std::string& path, std::uint32_t rate, std::uint32_t channels,
               const std::vector<float>& samples) {
  SF_INFO info{};
  info.samplerate = static_cast<int>(rate);
  info.channels = static_cast<int>(channels);
  info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (f == nullptr) throw std::runtime_error("cannot write " + path);
  sf_writef_float(f, samples.data(), static_cast<sf_count_t>(samples.size() / channels));
  sf_close(f);
}

std::vector<float> test_signal(std::uint64_t frames, std::uint32_t channels, std::uint32_t seed) {
  std::vector<float> out(frames * channels);
  std::uint32_t x = 0x9e3779b9u ^ seed;
  for (std::uint64_t i = 0; i < frames; ++i) {
    for (std::uint32_t c = 0; c < channels; ++c) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      float v = (static_cast<float>(x % 20001u) / 10000.0f - 1.0f) * 0.85f;
      if (v == 0.0f) v = 0.25f;
      out[i * channels + c] = v;
    }
  }
  return out;
}

std::unique_ptr<Process> start_recorder(TestServer& server, const std::string& prefix,
                                        std::uint64_t frames,
                                        const std::vector<std::string>& ports) {
  const std::string ready = prefix + ".ready";
  std::vector<std::string> argv{support_dir() + "/clipd-record",
                                "-o",
                                prefix,
                                "-f",
                                std::to_string(frames),
                                "--wait-ports",
                                "10",
                                "--timeout",
                                "60",
                                "--ready-file",
                                ready};
  argv.insert(argv.end(), ports.begin(), ports.end());
  auto rec = server.spawn(argv, prefix + ".log");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (::access(ready.c_str(), F_OK) != 0) {
    if (std::chrono::steady_clock::now() > deadline || !rec->running()) {
      ADD_FAILURE() << "recorder not ready: " << rec->output();
      break;
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(10));  // polling pace: the file is the state
  }
  return rec;
}

std::optional<std::uint64_t> first_sound(const std::vector<float>& samples,
                                         std::uint32_t channels) {
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (samples[i] != 0.0f) return i / channels;
  }
  return std::nullopt;
}

}  // namespace clipd::test
