// clipd under systemd's protocols, without systemd: socket activation through
// systemd-socket-activate, and readiness through a NOTIFY_SOCKET of the test's own. No JACK
// server is needed: clipd serves its socket while it waits for one.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "harness.hpp"

namespace clipd::test {
namespace {

using namespace std::chrono_literals;

EnvChanges private_env(const TempDir& home) {
  return {"XDG_RUNTIME_DIR=" + home.file("run"), "XDG_STATE_HOME=" + home.file("state"),
          "XDG_CONFIG_HOME=" + home.file("config"),
          "JACK_DEFAULT_SERVER=" + unique_name("clipd-none")};
}

TEST(Systemd, SocketActivationServesTheFirstConnection) {
  TempDir home("clipd-activate");
  ::mkdir(home.file("run").c_str(), 0700);
  const std::string sock = home.file("activate.sock");
  Process activator({"systemd-socket-activate", "-l", sock, clipd_binary(), "--no-state"},
                    private_env(home), home.file("activate.log"));
  // The listening socket exists before clipd does.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  struct stat st{};
  while (::stat(sock.c_str(), &st) != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(::stat(sock.c_str(), &st), 0) << activator.output();
  Client c(sock);
  const json hello = c.ok({{"cmd", "hello"}});
  EXPECT_EQ(hello["server"], "clipd");
  EXPECT_EQ(hello["protocol"], 1);
  EXPECT_TRUE(hello["sample_rate"].is_null());  // offline: no JACK server
  EXPECT_EQ(c.ok({{"cmd", "status"}})["engine"], "offline");
  // clipd used the passed socket: it made none at its default path.
  EXPECT_NE(::stat(home.file("run/clipd/control.sock").c_str(), &st), 0);
  c.ok({{"cmd", "shutdown"}});
  EXPECT_TRUE(activator.wait_for(5s).has_value()) << activator.output();
}

TEST(Systemd, NotifiesReadyStatusAndStopping) {
  TempDir home("clipd-notify");
  ::mkdir(home.file("run").c_str(), 0700);
  const std::string notify = home.file("notify.sock");
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, notify.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);

  EnvChanges env = private_env(home);
  env.push_back("NOTIFY_SOCKET=" + notify);
  Process clipd({clipd_binary(), "--no-state"}, env, home.file("clipd.log"));
  std::string all;
  auto receive_until = [&](const std::string& what) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (all.find(what) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n > 0) all.append(buf, static_cast<std::size_t>(n)).append("\n");
    }
    return all.find(what) != std::string::npos;
  };
  EXPECT_TRUE(receive_until("READY=1")) << all << clipd.output();
  EXPECT_TRUE(receive_until("STATUS=")) << all;
  // READY=1 comes once the socket listens.
  Client c(home.file("run/clipd/control.sock"));
  c.ok({{"cmd", "ping"}});
  clipd.signal(SIGTERM);
  EXPECT_TRUE(receive_until("STOPPING=1")) << all;
  EXPECT_EQ(clipd.wait_for(5s), std::optional<int>(0)) << clipd.output();
  ::close(fd);
}

}  // namespace
}  // namespace clipd::test
