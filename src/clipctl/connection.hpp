// A blocking connection to clipd's control socket (clipctl does one thing at a time).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace clipd::clipctl {

class Connection {
 public:
  // Connects to the UNIX socket at `path`; nullopt (with `error` set) when nobody listens there.
  static std::optional<Connection> open(const std::string& path, std::string& error);

  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&&) = delete;
  Connection(const Connection&) = delete;
  ~Connection();

  // Writes `line` (which ends in "\n") in full; false when the daemon has gone.
  bool send(std::string_view line);
  // The next line without its "\n"; nullopt at end of stream or on an error.
  std::optional<std::string> read_line();

 private:
  explicit Connection(int fd) : fd_(fd) {}
  int fd_ = -1;
  std::string buffer_;
  std::size_t start_ = 0;
};

}  // namespace clipd::clipctl
