// control/json_front_end.hpp: the JSON-lines front end of the command core (clipd-protocol(7)).
//
// Each line a session of the control socket hands over is parsed (protocol::parse_request) into a
// typed request and submitted to the Controller, with the session's Requester: one per session,
// kept in Session::user_data(), which encodes each answer as one reply line. As the controller's
// EventSink it serialises every event once and broadcasts the line to the sessions whose
// subscription wants it.
//
// Thread contract: control thread only (the io_context's one thread, which runs the server and
// the controller). Nothing here blocks.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "control/controller.hpp"
#include "control/protocol/parse.hpp"
#include "control/requester.hpp"
#include "control/server/server.hpp"
#include "control/server/session_handler.hpp"

namespace clipd::control {

struct JsonFrontEndOptions {
  // Checks that depend on the daemon's configuration (the outputs a `play` may name).
  protocol::ParseLimits limits;
  // Extra commands of a test build (clipd-rtsan, src/daemon/main.cpp): a request that is exactly
  // {"cmd": NAME} plus an optional id runs the function on the control thread and is answered
  // `{}`, even while the daemon stops. Empty in the installed clipd, where such names are
  // `unknown-command`.
  std::map<std::string, std::function<void()>> debug_commands;
};

class JsonFrontEnd final : public SessionHandler, public EventSink {
 public:
  // `core` must outlive the front end.
  JsonFrontEnd(Controller& core, JsonFrontEndOptions options);
  // Leaves the controller's event sinks (the front end may go before the controller).
  ~JsonFrontEnd() override;
  JsonFrontEnd(const JsonFrontEnd&) = delete;
  JsonFrontEnd& operator=(const JsonFrontEnd&) = delete;

  // Events go out through `server` (which must outlive the front end). Call once, before the
  // controller starts.
  void attach(Server& server) noexcept { server_ = &server; }

  // SessionHandler.
  void on_line(const std::shared_ptr<Session>& session, std::string_view line) override;
  void on_closed(const std::shared_ptr<Session>& session) override;

  // EventSink.
  void on_event(const protocol::Event& event) override;

 private:
  // The session's Requester, made on its first line.
  RequesterPtr requester_of(const std::shared_ptr<Session>& session);
  // Runs `line` when it names one of options_.debug_commands; false when it does not.
  bool run_debug_command(Session& session, std::string_view line, const protocol::RequestId& id);

  Controller& core_;
  JsonFrontEndOptions options_;
  Server* server_ = nullptr;
};

}  // namespace clipd::control
