// Where and how the server listens: folders and modes, stale sockets, a second daemon, the
// default path.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "server_fixture.hpp"

namespace clipd::control::test {
namespace {

mode_t mode_of(const std::filesystem::path& p) {
  struct stat st{};
  if (::lstat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

ino_t inode_of(const std::filesystem::path& p) {
  struct stat st{};
  if (::lstat(p.c_str(), &st) != 0) return 0;
  return st.st_ino;
}

bool ping_ok(const std::filesystem::path& path) {
  Client c;
  if (c.connect(path) != 0) return false;
  if (!c.send_all(R"({"id":9,"cmd":"ping"})"
                  "\n"))
    return false;
  const auto line = c.read_line(5s);
  return line && request_id(*line) == "9";
}

// Leaves a socket file that nobody listens on, as a crashed daemon would.
void make_stale_socket(const std::filesystem::path& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);
  ASSERT_TRUE(std::filesystem::is_socket(path));
}

TEST(Listen, CreatesMissingFoldersPrivateAndSocket0600) {
  TempDir dir;
  const auto path = dir.path() / "run" / "clipd" / "control.sock";
  RunningServer server({.socket_path = path});
  EXPECT_EQ(mode_of(dir.path() / "run"), 0700u);
  EXPECT_EQ(mode_of(dir.path() / "run" / "clipd"), 0700u);
  EXPECT_TRUE(std::filesystem::is_socket(path));
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_TRUE(ping_ok(path));
}

TEST(Listen, ExistingFolderIsLeftAsItIs) {
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0750), 0);
  RunningServer server({.socket_path = dir.path() / "control.sock"});
  EXPECT_EQ(mode_of(dir.path()), 0750u);
  EXPECT_EQ(mode_of(server.path()), 0600u);
}

TEST(Listen, StaleSocketIsReplaced) {
  TempDir dir;
  const auto path = dir.path() / "control.sock";
  make_stale_socket(path);
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  RunningServer server({.socket_path = path});
  EXPECT_EQ(mode_of(path), 0600u);  // a new file, not the stale one
  EXPECT_TRUE(ping_ok(path));
}

TEST(Listen, SecondServerOnTheSamePathIsRefused) {
  TempDir dir;
  const auto path = dir.path() / "control.sock";
  RunningServer first({.socket_path = path});
  const ino_t inode = inode_of(path);

  boost::asio::io_context io;
  PingHandler handler(io);
  ServerConfig config{.socket_path = path};
  config.accept_systemd_socket = false;
  {
    Server second(io, config, handler);
    try {
      second.start();
      ADD_FAILURE() << "a second server started on " << path;
    } catch (const AddressInUse& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("already running"), std::string::npos) << what;
      EXPECT_NE(what.find(path.string()), std::string::npos) << what;
    }
    EXPECT_FALSE(second.running());
  }
  // The refused server touched nothing: the first one still serves on the same file.
  EXPECT_EQ(inode_of(path), inode);
  EXPECT_TRUE(ping_ok(path));
}

TEST(Listen, FileThatIsNotASocketIsNeverRemoved) {
  TempDir dir;
  const auto path = dir.path() / "control.sock";
  std::ofstream(path) << "precious";
  boost::asio::io_context io;
  PingHandler handler(io);
  ServerConfig config{.socket_path = path};
  config.accept_systemd_socket = false;
  Server server(io, config, handler);
  try {
    server.start();
    ADD_FAILURE() << "started over a regular file";
  } catch (const AddressInUse&) {
    ADD_FAILURE() << "a regular file reported as a running daemon";
  } catch (const ServerError& e) {
    EXPECT_NE(std::string(e.what()).find("not a socket"), std::string::npos) << e.what();
  }
  std::ifstream in(path);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST(Listen, TooLongPathIsAClearError) {
  boost::asio::io_context io;
  PingHandler handler(io);
  ServerConfig config{.socket_path = "/tmp/" + std::string(200, 'a') + ".sock"};
  config.accept_systemd_socket = false;
  Server server(io, config, handler);
  try {
    server.start();
    ADD_FAILURE() << "started on a path longer than sun_path";
  } catch (const ServerError& e) {
    EXPECT_NE(std::string(e.what()).find("too long"), std::string::npos) << e.what();
  }
}

TEST(Listen, StopRemovesOnlyItsOwnSocketFile) {
  TempDir dir;
  const auto path = dir.path() / "control.sock";
  {
    RunningServer server({.socket_path = path});
    EXPECT_TRUE(std::filesystem::is_socket(path));
  }
  EXPECT_FALSE(std::filesystem::exists(path));

  // A file that replaced ours while we ran belongs to someone else and stays.
  auto first = std::make_unique<RunningServer>(ServerConfig{.socket_path = path});
  ASSERT_TRUE(std::filesystem::remove(path));
  RunningServer second({.socket_path = path});
  const ino_t theirs = inode_of(path);
  first.reset();
  EXPECT_EQ(inode_of(path), theirs);
  EXPECT_TRUE(ping_ok(path));
}

TEST(Listen, DefaultSocketPath) {
  const char* saved = std::getenv("XDG_RUNTIME_DIR");
  const std::string restore = saved ? saved : "";
  ::setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
  EXPECT_EQ(default_socket_path(), std::filesystem::path("/run/user/1000/clipd/control.sock"));
  EXPECT_EQ(default_socket_path("studio"),
            std::filesystem::path("/run/user/1000/clipd/studio.sock"));
  EXPECT_THROW(default_socket_path("a/b"), ServerError);
  EXPECT_THROW(default_socket_path(""), ServerError);
  EXPECT_THROW(default_socket_path(".."), ServerError);
  ::setenv("XDG_RUNTIME_DIR", "relative/dir", 1);
  EXPECT_THROW(default_socket_path(), ServerError);
  ::unsetenv("XDG_RUNTIME_DIR");
  EXPECT_THROW(default_socket_path(), ServerError);
  if (saved != nullptr) ::setenv("XDG_RUNTIME_DIR", restore.c_str(), 1);
}

}  // namespace
}  // namespace clipd::control::test
