// control/server/server.hpp: the control socket server: JSON lines over a UNIX stream socket.
//
// The server frames lines and moves bytes; it never parses a request. A SessionHandler (the
// dispatcher) gets each line and answers through the Session. Everything runs on one
// io_context, the control thread; nothing blocks it after start().
//
//   boost::asio::io_context io;
//   MyHandler handler;
//   clipd::control::Server server(io, {.socket_path = clipd::control::default_socket_path()},
//                                 handler);
//   server.start();  // throws AddressInUse when another daemon answers
//   io.run();        // server.stop() from the control thread ends every session
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "control/server/server_config.hpp"
#include "control/server/session.hpp"
#include "control/server/session_handler.hpp"
#include "control/server/socket_path.hpp"

namespace clipd::control {

namespace detail {
struct ServerState;
struct ListenSocket;
}  // namespace detail

class Server {
 public:
  // `handler` must outlive the server; it is called on the thread running `io`.
  Server(boost::asio::io_context& io, ServerConfig config, SessionHandler& handler);
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  // Calls stop().
  ~Server();

  // Takes the socket passed by systemd, or binds the configured path, and starts accepting.
  // Call once, before io.run() or on the control thread. Throws AddressInUse or ServerError.
  // Note: blocking system calls (bind, connect probe, mkdir); start-up only.
  void start();

  // Control thread. Closes the listener, writes to every session what its socket takes without
  // waiting, closes them all (on_closed for each) and removes the socket file unless systemd
  // passed it. Idempotent.
  void stop();

  bool running() const noexcept;
  // The path listened on (for a systemd socket: as getsockname reports it, may be empty).
  const std::filesystem::path& socket_path() const noexcept;
  // True when the listening socket came from systemd.
  bool socket_activated() const noexcept;

  // Control thread: the open sessions, in no particular order.
  std::size_t session_count() const noexcept;
  std::vector<std::shared_ptr<Session>> sessions() const;
  // Control thread: send_event(line) to every open session whose subscription wants `event`.
  // Returns how many got it. Subscribers over their backlog cap are disconnected.
  // Note: allocates (one copy of `line` per subscriber).
  std::size_t broadcast_event(std::string_view event, std::string_view line);
  // Connections closed at accept because the peer's uid differs from ours.
  std::uint64_t refused_peers() const noexcept;

 private:
  static boost::asio::awaitable<void> accept_loop(std::shared_ptr<detail::ServerState> st);

  std::shared_ptr<detail::ServerState> state_;
  std::unique_ptr<detail::ListenSocket> listen_;
  bool started_ = false;
};

}  // namespace clipd::control
