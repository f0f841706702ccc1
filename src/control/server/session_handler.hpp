// control/server/session_handler.hpp: how the request dispatcher plugs into the server.
#pragma once

#include <memory>
#include <string_view>

namespace clipd::control {

class Session;

// Implemented by the dispatcher. Every call comes on the control thread (the thread running the
// server's io_context). The server never parses a line; it only frames them.
class SessionHandler {
 public:
  virtual ~SessionHandler() = default;

  // One complete line, without its "\n" (a trailing "\r" is left in place). Blank lines
  // (only spaces, tabs and "\r") never get here. `line` is valid only during the call. Every line
  // must get exactly one Session::send_reply(), now or later: after the peer's EOF the session
  // closes once all lines handed here are answered and the replies are flushed. Must not throw:
  // an exception escaping here is logged and the session aborted.
  virtual void on_line(const std::shared_ptr<Session>& session, std::string_view line) = 0;

  // The session is closed (peer gone, error, close(), abort() or Server::stop()). Called once
  // per session, possibly from inside on_line when the handler closes the session itself. The
  // session object stays valid as long as someone holds it; sends on it are dropped.
  virtual void on_closed(const std::shared_ptr<Session>& session) = 0;
};

}  // namespace clipd::control
