// control/osc/request.hpp: from an OSC message to the request object of clipd-protocol(7).
//
// The OSC front end builds the same JSON request object a JSON-lines client would send and runs
// it through protocol::parse_request, so every check and error code is the JSON contract's. This
// file knows the two address forms of clipd-osc(7):
// - generic: /clipd/COMMAND, the command's main arguments, then name/value pairs
//   (/clipd/play ,ssf kick gain_db -6);
// - controls: /clipd/clip/NAME/play, /clipd/group/NAME/stop, /clipd/voice/N/gain_db f, ... with
//   the target in the address, for buttons and faders that send one value or none.
//
// Thread contract: pure functions; any thread but the audio thread (they allocate).
#pragma once

#include <string>
#include <variant>

#include "control/osc/packet.hpp"
#include "control/protocol/error_code.hpp"
#include "control/protocol/json.hpp"
#include "control/protocol/request_id.hpp"

namespace clipd::control::osc {

// A button's release (a single 0, 0.0 or false): no request, no reply.
struct Release {
  bool operator==(const Release&) const = default;
};

// A message that maps to no request object: its reply is this error. `id` is the message's `id`
// pair when it had a valid one.
struct RequestError {
  protocol::RequestId id;
  protocol::ErrorCode code = protocol::ErrorCode::bad_request;
  std::string message;
};

// The request object ({"cmd": ..., fields...}; "id" when the message carried one), a release, or
// an error. Note: allocates.
std::variant<protocol::Json, Release, RequestError> to_request_object(const Message& message);

// The OSC argument a request id goes back as: nil, an integer, or a string (an id the contract
// refuses, or an integer past 64 bits, as its JSON text).
Arg id_arg(const protocol::RequestId& id);

}  // namespace clipd::control::osc
