#include "osc_socket.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace clipd::test {

namespace {

std::runtime_error system_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

}  // namespace

std::uint16_t free_udp_port() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw system_error("socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  if (!ok) throw system_error("cannot find a free UDP port");
  return ntohs(a.sin_port);
}

std::unique_ptr<OscSocket> OscSocket::udp(std::uint16_t port, const std::string& from) {
  auto s = std::unique_ptr<OscSocket>(new OscSocket());
  s->fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s->fd_ < 0) throw system_error("socket");
  sockaddr_in own{};
  own.sin_family = AF_INET;
  if (::inet_pton(AF_INET, from.c_str(), &own.sin_addr) != 1) {
    throw std::runtime_error("not an IPv4 address: " + from);
  }
  if (::bind(s->fd_, reinterpret_cast<sockaddr*>(&own), sizeof own) != 0) {
    throw system_error("cannot bind a UDP socket to " + from);
  }
  auto* to = reinterpret_cast<sockaddr_in*>(&s->to_);
  to->sin_family = AF_INET;
  to->sin_port = htons(port);
  to->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  s->to_len_ = sizeof(sockaddr_in);
  return s;
}

std::unique_ptr<OscSocket> OscSocket::unix_socket(const std::string& own_path,
                                                  const std::string& to) {
  auto s = std::unique_ptr<OscSocket>(new OscSocket());
  s->fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s->fd_ < 0) throw system_error("socket");
  sockaddr_un own{};
  own.sun_family = AF_UNIX;
  std::strncpy(own.sun_path, own_path.c_str(), sizeof own.sun_path - 1);
  ::unlink(own_path.c_str());
  if (::bind(s->fd_, reinterpret_cast<sockaddr*>(&own), sizeof own) != 0) {
    throw system_error("cannot bind " + own_path);
  }
  s->own_path_ = own_path;
  auto* dst = reinterpret_cast<sockaddr_un*>(&s->to_);
  dst->sun_family = AF_UNIX;
  std::strncpy(dst->sun_path, to.c_str(), sizeof dst->sun_path - 1);
  s->to_len_ = sizeof(sockaddr_un);
  return s;
}

OscSocket::~OscSocket() {
  if (fd_ >= 0) ::close(fd_);
  if (!own_path_.empty()) ::unlink(own_path_.c_str());
}

void OscSocket::send(std::span<const std::byte> bytes) {
  if (::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&to_),
               to_len_) != static_cast<ssize_t>(bytes.size())) {
    throw system_error("sendto");
  }
}

std::vector<std::byte> OscSocket::receive(std::chrono::milliseconds timeout) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
  std::vector<std::byte> buffer(65536);
  const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
  buffer.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return buffer;
}

}  // namespace clipd::test
