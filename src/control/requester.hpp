// control/requester.hpp: one client of the command core, whichever front end it came through.
//
// The controller takes typed requests (protocol/requests.hpp) and answers each through the
// Requester that sent it, with a result or a typed error; it never writes wire text itself. Each
// front end implements Requester for its own clients and encodes the answers in its own way: the
// JSON-lines server for a session (one line per reply), the OSC front end for a sender's address
// (a /clipd/reply or /clipd/error message). Events reach every front end through EventSink.
//
// Thread contract: control thread only (the io_context's one thread). Nothing here blocks.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "control/protocol/error_code.hpp"
#include "control/protocol/events.hpp"
#include "control/protocol/json.hpp"
#include "control/protocol/request_id.hpp"
#include "control/server/session.hpp"  // Subscription

namespace clipd::control {

// A result many requests share (coalesced `voices` and `meters` queries): built once, answered
// many times. `text` is the result serialised once with the JSON reply's end
// (protocol::share_result()), so the JSON front end never copies it; other front ends encode
// `value`.
struct SharedResult {
  protocol::Json value;
  std::shared_ptr<const std::string> text;
};

// Makes the SharedResult of `result` (an object). Note: allocates.
std::shared_ptr<const SharedResult> make_shared_result(protocol::Json result);

class Requester {
 public:
  virtual ~Requester() = default;

  // Every request gets exactly one of these three, now or later. Dropped silently once the
  // client is gone. `result` is an object ({} for commands whose result is empty).
  virtual void reply_ok(const protocol::RequestId& id, const protocol::Json& result) = 0;
  virtual void reply_shared(const protocol::RequestId& id,
                            const std::shared_ptr<const SharedResult>& result) = 0;
  virtual void reply_error(const protocol::RequestId& id, protocol::ErrorCode code,
                           std::string_view message) = 0;

  // False once the client is gone (its replies are dropped).
  virtual bool open() const noexcept = 0;

  // The events this client gets (`subscribe` and `unsubscribe` change it).
  virtual Subscription& subscription() noexcept = 0;
};

using RequesterPtr = std::shared_ptr<Requester>;

// A front end's side of the event stream: the controller calls it with every event, once, and
// the front end sends it to those of its clients whose subscription wants it.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void on_event(const protocol::Event& event) = 0;
};

}  // namespace clipd::control
