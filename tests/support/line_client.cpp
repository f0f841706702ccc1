#include "line_client.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <thread>

namespace clipd::test {

LineClient::LineClient(const std::string& socket) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (;;) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket.c_str(), sizeof(addr.sun_path) - 1);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return;
    ::close(fd_);
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("cannot connect to " + socket);
    }
    // Polling pace: the socket's presence is the daemon's state.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

LineClient::~LineClient() {
  ::close(fd_);
}

void LineClient::write(const std::string& line) {
  if (::send(fd_, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    throw std::runtime_error("send failed");
  }
}

std::string LineClient::read_line() {
  for (;;) {
    if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) throw std::runtime_error("the daemon closed its socket");
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

nlohmann::json LineClient::ok(nlohmann::json request, std::int64_t* written) {
  request["id"] = ++id_;
  const std::string line = request.dump() + "\n";
  if (written != nullptr) {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    *written = std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
  }
  write(line);
  for (;;) {
    const nlohmann::json reply = nlohmann::json::parse(read_line());
    if (reply.value("id", nlohmann::json()) != id_) continue;
    if (reply.value("ok", false) != true) {
      throw std::runtime_error(request.dump() + " failed: " + reply.dump());
    }
    return reply["result"];
  }
}

}  // namespace clipd::test
