// control/server/listen_socket.hpp: getting the listening UNIX socket, from systemd or by
// binding the path. Internal to the server library; called on the control thread at start-up.
#pragma once

#include <filesystem>

#include <sys/types.h>

#include "control/server/server_config.hpp"

namespace clipd::control::detail {

struct ListenSocket {
  int fd = -1;                // listening, close-on-exec; owned by the caller
  bool from_systemd = false;  // then the file belongs to systemd and is never removed
  std::filesystem::path path;
  dev_t dev = 0;  // identity of the socket file we bound, so we only ever remove our own
  ino_t ino = 0;
};

// Uses the first listening UNIX stream socket passed by systemd when `config` allows it and one
// is there. Otherwise creates the missing folders (0700), binds `config.socket_path`, makes it
// 0600 and listens. A socket file nobody answers on is replaced; throws AddressInUse when
// someone answers, ServerError for anything else. Note: blocking system calls, start-up only.
ListenSocket open_listen_socket(const ServerConfig& config);

// Unlinks the socket file if it is still the one `socket` bound (never a systemd one).
void remove_socket_file(const ListenSocket& socket) noexcept;

}  // namespace clipd::control::detail
