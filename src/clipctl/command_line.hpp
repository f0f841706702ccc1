// clipctl's command line: from argv to what to send and how to show it. Pure (the environment
// comes in as a value), so tests can check each command line's request and usage errors.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "control/protocol/protocol.hpp"

namespace clipd::clipctl {

// Exit codes.
inline constexpr int exit_ok = 0;
inline constexpr int exit_error_reply = 1;
inline constexpr int exit_usage = 2;
inline constexpr int exit_not_running = 3;

// What the process environment contributes.
struct Environment {
  std::optional<std::string> xdg_runtime_dir;  // $XDG_RUNTIME_DIR
  std::optional<std::string> clipd_socket;     // $CLIPD_SOCKET
  std::string cwd;                             // to make `load` paths absolute
  unsigned uid = 0;                            // for /run/user/UID when XDG_RUNTIME_DIR is unset
};

// Send one request, show its reply. With `wait_for_voice` (play --wait): subscribe to
// voice-ended first, then play, and return when that voice has ended.
struct SendRequest {
  protocol::Request request;
  bool wait_for_voice = false;
};
// `watch [EVENT...]`: subscribe and print events until interrupted or the daemon goes away.
struct Watch {
  protocol::EventSet events = protocol::EventSet::all();
};
// `raw JSON`: send the line as given, print the reply line as received.
struct Raw {
  std::string line;
};
using Action = std::variant<SendRequest, Watch, Raw>;

struct Invocation {
  std::string socket_path;
  bool json = false;
  Action action;
};
// `--help` (or `help [COMMAND]`): print this on stdout, exit 0.
struct Help {
  std::string text;
};
// A usage error: print this on stderr, exit 2.
struct UsageError {
  std::string message;
};
using CommandLine = std::variant<Invocation, Help, UsageError>;

// `args` excludes argv[0].
CommandLine parse_command_line(const std::vector<std::string>& args, const Environment& env);

// The default socket: $CLIPD_SOCKET, else $XDG_RUNTIME_DIR/clipd/control.sock (or NAME.sock for
// an instance; --instance wins over $CLIPD_SOCKET), with /run/user/UID for an unset
// $XDG_RUNTIME_DIR.
std::string default_socket_path(const Environment& env, const std::optional<std::string>& instance);

}  // namespace clipd::clipctl
