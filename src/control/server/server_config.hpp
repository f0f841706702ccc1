// control/server/server_config.hpp: the knobs of the control socket server and its errors.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace clipd::control {

// Limits and defaults in one place.
inline constexpr std::size_t default_line_limit = std::size_t{1} << 20;         // 1 MiB
inline constexpr std::size_t default_write_high_water = std::size_t{1} << 20;   // 1 MiB
inline constexpr std::size_t default_event_backlog_cap = std::size_t{4} << 20;  // 4 MiB
inline constexpr int default_close_linger_ms = 5000;

struct ServerConfig {
  // Where to listen when no socket is passed by systemd. See default_socket_path().
  std::filesystem::path socket_path{};
  // Longest accepted line in bytes, without its "\n". A longer one gets one `line-too-long`
  // error reply and the connection is closed.
  std::size_t line_limit = default_line_limit;
  // Back pressure: while a session's unsent bytes (replies and events) exceed this, nothing more
  // is read from that session.
  std::size_t write_high_water = default_write_high_water;
  // A session whose unsent event bytes would pass this is disconnected.
  std::size_t event_backlog_cap = default_event_backlog_cap;
  // How long a session closed with Session::close() may take to flush before it is cut.
  int close_linger_ms = default_close_linger_ms;
  // Use a listening socket passed by systemd (sd_listen_fds) when there is one.
  bool accept_systemd_socket = true;
  // Called on the control thread for things worth a log line (refused peers, accept errors,
  // dropped subscribers). May be empty.
  std::function<void(std::string_view)> log{};
};

// Start-up failed (cannot create the folder, bind, listen...). what() is a complete sentence
// meant for the user.
class ServerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Another process answers on the socket path: a second daemon must not start.
class AddressInUse : public ServerError {
 public:
  using ServerError::ServerError;
};

}  // namespace clipd::control
