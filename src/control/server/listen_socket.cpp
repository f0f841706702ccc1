#include "control/server/listen_socket.hpp"

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

namespace clipd::control::detail {

namespace {

std::string errno_text(int err) {
  return std::strerror(err);
}

// Owns a descriptor until released, so every error path closes it.
class Fd {
 public:
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

sockaddr_un make_address(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string& s = path.native();
  if (s.empty()) throw ServerError("no control socket path given");
  if (s.size() >= sizeof(addr.sun_path)) {
    throw ServerError("control socket path '" + s + "' is too long (at most " +
                      std::to_string(sizeof(addr.sun_path) - 1) + " bytes)");
  }
  std::memcpy(addr.sun_path, s.data(), s.size());
  return addr;
}

// Creates the missing folders of `dir`, each 0700 (the runtime folder is private to the user).
void make_private_folders(const std::filesystem::path& dir) {
  if (dir.empty()) return;
  struct stat st{};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      throw ServerError("cannot create the control socket: '" + dir.native() + "' is not a folder");
    }
    return;
  }
  if (dir.has_parent_path() && dir.parent_path() != dir) make_private_folders(dir.parent_path());
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST) return;
    throw ServerError("cannot create the folder '" + dir.native() + "': " + errno_text(errno));
  }
  // mkdir honours the umask, which can only take bits away; make it exactly 0700.
  ::chmod(dir.c_str(), 0700);
}

enum class Probe { answers, stale, error };

// Does a listener answer on `addr`? A non-blocking connect never waits: a full backlog (EAGAIN)
// still means someone is listening.
Probe probe(const sockaddr_un& addr, int& err) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    err = errno;
    return Probe::error;
  }
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
    return Probe::answers;
  }
  err = errno;
  if (err == EAGAIN || err == EINPROGRESS) return Probe::answers;
  if (err == ECONNREFUSED) return Probe::stale;
  return Probe::error;
}

bool try_systemd(ListenSocket& out) {
  const int n = sd_listen_fds(1);
  if (n <= 0) return false;
  for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; ++fd) {
    if (sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0) <= 0) continue;
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    out.fd = fd;
    out.from_systemd = true;
    sockaddr_un addr{};
    socklen_t len = sizeof(addr);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
        len > offsetof(sockaddr_un, sun_path) && addr.sun_path[0] != '\0') {
      out.path = std::string(addr.sun_path, ::strnlen(addr.sun_path, sizeof(addr.sun_path)));
    }
    return true;
  }
  throw ServerError("systemd passed " + std::to_string(n) +
                    " socket(s), but none is a listening UNIX stream socket");
}

}  // namespace

ListenSocket open_listen_socket(const ServerConfig& config) {
  ListenSocket out;
  if (config.accept_systemd_socket && try_systemd(out)) return out;

  const std::filesystem::path& path = config.socket_path;
  const sockaddr_un addr = make_address(path);
  make_private_folders(path.parent_path());

  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) throw ServerError("cannot create a UNIX socket: " + errno_text(errno));

  const auto bind_path = [&] {
    return ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  };
  if (!bind_path()) {
    int err = errno;
    if (err != EADDRINUSE) {
      throw ServerError("cannot bind the control socket '" + path.native() +
                        "': " + errno_text(err));
    }
    struct stat st{};
    if (::lstat(path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode)) {
      throw ServerError("cannot bind the control socket: '" + path.native() +
                        "' exists and is not a socket");
    }
    switch (probe(addr, err)) {
      case Probe::answers:
        throw AddressInUse("another clipd is already running: something answers on '" +
                           path.native() + "'");
      case Probe::error:
        throw ServerError("cannot check the existing socket '" + path.native() +
                          "': " + errno_text(err));
      case Probe::stale:
        // Nobody listens: a crashed daemon left it behind.
        if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
          throw ServerError("cannot remove the stale socket '" + path.native() +
                            "': " + errno_text(errno));
        }
        if (!bind_path()) {
          throw ServerError("cannot bind the control socket '" + path.native() +
                            "': " + errno_text(errno));
        }
        break;
    }
  }

  // The folder is private already; the socket gets 0600 before anyone can connect.
  struct stat st{};
  if (::chmod(path.c_str(), 0600) != 0 || ::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    throw ServerError("cannot set up the control socket '" + path.native() +
                      "': " + errno_text(err));
  }
  if (::listen(fd.get(), SOMAXCONN) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    throw ServerError("cannot listen on '" + path.native() + "': " + errno_text(err));
  }
  out.fd = fd.release();
  out.path = path;
  out.dev = st.st_dev;
  out.ino = st.st_ino;
  return out;
}

void remove_socket_file(const ListenSocket& socket) noexcept {
  if (socket.from_systemd || socket.path.empty()) return;
  struct stat st{};
  if (::lstat(socket.path.c_str(), &st) != 0) return;
  // Another daemon may have replaced it since; only our own file goes.
  if (S_ISSOCK(st.st_mode) && st.st_dev == socket.dev && st.st_ino == socket.ino) {
    ::unlink(socket.path.c_str());
  }
}

}  // namespace clipd::control::detail
