// control/server/server_state.hpp: what the server's coroutines and its sessions share.
// Internal to the server library. Control thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "control/server/server_config.hpp"
#include "control/server/session_handler.hpp"

namespace clipd::control {
class Session;
}

namespace clipd::control::detail {

// Shared by the Server object, its accept loop and its sessions, so that a coroutine finishing
// after the Server is gone still touches valid memory. Sessions hold it; the server drops them
// from `sessions` when they close, which breaks the cycle.
struct ServerState {
  ServerState(boost::asio::io_context& io, ServerConfig cfg, SessionHandler& h)
      : io(io), config(std::move(cfg)), handler(&h), acceptor(io) {}

  void log(std::string_view what) const {
    if (config.log) config.log(what);
  }

  boost::asio::io_context& io;
  ServerConfig config;
  SessionHandler* handler;
  boost::asio::local::stream_protocol::acceptor acceptor;
  std::unordered_map<std::uint64_t, std::shared_ptr<Session>> sessions;
  std::uint64_t next_id = 1;
  std::uint64_t refused_peers = 0;
  bool stopped = false;
};

}  // namespace clipd::control::detail
