// The daemon test harness's own checks, against a fake server on a UNIX socket: a second reply to
// one request id fails the test that reads it; a reply per request sent does not.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "harness.hpp"

namespace clipd::test {
namespace {

using namespace std::chrono_literals;

// A listening socket that accepts one client and writes what it is told.
class FakeServer {
 public:
  explicit FakeServer(const std::string& path) {
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (listen_fd_ < 0 ||
        ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listen_fd_, 1) != 0) {
      throw std::runtime_error("cannot listen on " + path);
    }
  }
  ~FakeServer() {
    if (fd_ >= 0) ::close(fd_);
    ::close(listen_fd_);
  }
  // Call after the client connected (connect() completes against the backlog).
  void accept() { fd_ = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC); }
  void write(const std::string& text) {
    ASSERT_EQ(::send(fd_, text.data(), text.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(text.size()));
  }

 private:
  int listen_fd_ = -1;
  int fd_ = -1;
};

TEST(Harness, ASecondReplyToOneRequestIdFailsTheTest) {
  TempDir dir("clipd-harness");
  FakeServer server(dir.file("s.sock"));
  Client c(dir.file("s.sock"));
  server.accept();
  server.write("{\"id\":1,\"ok\":true,\"result\":{}}\n{\"id\":1,\"ok\":true,\"result\":{}}\n");
  EXPECT_EQ(c.ok({{"cmd", "ping"}}), json::object());
  EXPECT_NONFATAL_FAILURE(c.read_message(1s), "second reply to request id 1");
}

TEST(Harness, OneReplyPerRequestSentWithAnIdPasses) {
  TempDir dir("clipd-harness");
  FakeServer server(dir.file("s.sock"));
  Client c(dir.file("s.sock"));
  server.accept();
  // The same id sent twice gets two replies; ids the harness never sent once (a line it could
  // not parse, echoed by the daemon) may be answered once; events never count.
  c.send_line(R"({"id":"a","cmd":"ping"})");
  c.send_line(R"({"id":"a","cmd":"ping"})");
  c.send_line(R"({"id":"b","cmd":"ping",)");
  server.write(
      "{\"id\":\"a\",\"ok\":true,\"result\":{}}\n"
      "{\"event\":\"xrun\",\"count\":1}\n{\"event\":\"xrun\",\"count\":2}\n"
      "{\"id\":\"a\",\"ok\":true,\"result\":{}}\n"
      "{\"id\":\"b\",\"ok\":false,\"error\":{\"code\":\"bad-json\",\"message\":\"x\"}}\n"
      "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"bad-json\",\"message\":\"x\"}}\n"
      "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"bad-json\",\"message\":\"x\"}}\n");
  for (int i = 0; i < 7; ++i)
    ASSERT_TRUE(c.read_message(1s)) << i;
}

}  // namespace
}  // namespace clipd::test
