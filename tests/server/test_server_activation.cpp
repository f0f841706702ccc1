// Socket activation: systemd-socket-activate listens and starts a server on the first
// connection; the server serves on the passed socket and leaves the file to systemd.
#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdlib>
#include <string>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "server_fixture.hpp"

namespace clipd::control::test {
namespace {

class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child() {
    if (pid_ > 0 && !exited()) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool exited() {
    if (reaped_) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      status_ = status;
    }
    return reaped_;
  }
  int status() const { return status_; }

 private:
  pid_t pid_;
  bool reaped_ = false;
  int status_ = 0;
};

TEST(Activation, SystemdSocketIsUsedAndLeftToSystemd) {
  const char* server_bin = std::getenv("CLIPD_ACTIVATED_SERVER");
  ASSERT_NE(server_bin, nullptr) << "CLIPD_ACTIVATED_SERVER is not set";
  if (std::system("command -v systemd-socket-activate >/dev/null") != 0) {
    GTEST_SKIP() << "systemd-socket-activate is not installed";
  }
  TempDir dir;
  const auto path = dir.path() / "activated.sock";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execlp("systemd-socket-activate", "systemd-socket-activate", "-l", path.c_str(), server_bin,
             static_cast<char*>(nullptr));
    ::_exit(127);
  }
  Child child(pid);
  for (int i = 0; i < 500 && !std::filesystem::exists(path); ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(std::filesystem::is_socket(path));
  const ino_t inode = std::filesystem::exists(path) ? [&] {
    struct stat st{};
    ::stat(path.c_str(), &st);
    return st.st_ino;
  }()
                                                    : 0;

  // The file appears at bind, a moment before systemd-socket-activate listens.
  Client c;
  int err = c.connect(path);
  for (int i = 0; i < 500 && err == ECONNREFUSED; ++i) {
    std::this_thread::sleep_for(10ms);
    err = c.connect(path);
  }
  ASSERT_EQ(err, 0) << std::strerror(err);
  ASSERT_TRUE(c.send_all(R"({"id":1,"cmd":"ping"})"
                         "\n"));
  EXPECT_EQ(c.read_line(), R"({"id":1,"ok":true,"result":{"activated":true}})");
  ASSERT_TRUE(c.send_all(R"({"id":2,"cmd":"quit"})"
                         "\n"));
  EXPECT_EQ(c.read_line(), R"({"id":2,"ok":true,"result":{"activated":true}})");
  EXPECT_TRUE(c.wait_closed());

  for (int i = 0; i < 500 && !child.exited(); ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(child.exited());
  EXPECT_TRUE(WIFEXITED(child.status()) && WEXITSTATUS(child.status()) == 0) << child.status();
  // The socket file belongs to systemd: still there, the same file.
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, inode);
}

}  // namespace
}  // namespace clipd::control::test
