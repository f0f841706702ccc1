// tests/support/osc_socket.hpp: a datagram socket of a test or benchmark's own, sending to one
// address: UDP from a chosen local address, or a UNIX datagram socket bound to a path, so that
// a daemon's answers (OSC, clipd-osc(7)) come back to it. Bytes only: encoding and decoding are
// the caller's.
// Thread contract: one thread at a time per socket, except that one thread may read fd() while
// another sends. Failures throw std::runtime_error.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace clipd::test {

// A UDP port on 127.0.0.1 that was free a moment ago (the kernel's pick), for a daemon to bind.
std::uint16_t free_udp_port();

class OscSocket {
 public:
  // Bound to `from` (an IPv4 address, any port), sending to 127.0.0.1:`port`.
  static std::unique_ptr<OscSocket> udp(std::uint16_t port, const std::string& from = "127.0.0.1");
  // Bound to `own_path` (replaced if it exists, removed with the socket), sending to `to`.
  static std::unique_ptr<OscSocket> unix_socket(const std::string& own_path, const std::string& to);
  ~OscSocket();
  OscSocket(const OscSocket&) = delete;
  OscSocket& operator=(const OscSocket&) = delete;

  // Sends one datagram, whole.
  void send(std::span<const std::byte> bytes);
  // The next datagram, or an empty one after `timeout`.
  std::vector<std::byte> receive(std::chrono::milliseconds timeout);
  int fd() const noexcept { return fd_; }

 private:
  OscSocket() = default;
  int fd_ = -1;
  std::string own_path_;
  sockaddr_storage to_{};
  socklen_t to_len_ = 0;
};

}  // namespace clipd::test
