// control/osc/reply.hpp: what the OSC front end sends back, as OSC bytes (clipd-osc(7), REPLIES).
//
//   /clipd/reply  ID NAME VALUE NAME VALUE ...   a result object, one pair per member
//   /clipd/error  ID CODE MESSAGE                 the JSON contract's error code and message
//   /clipd/event  EVENT NAME VALUE ...            an event, one pair per field after `event`
//
// ID is nil when the request had none. A value is nil, T/F, an integer ('i' when it fits 32
// bits, else 'h'), a real ('d') or a string; lists and objects are their JSON text.
//
// Thread contract: pure functions; any thread but the audio thread (they allocate).
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "control/osc/packet.hpp"
#include "control/protocol/error_code.hpp"
#include "control/protocol/events.hpp"
#include "control/protocol/json.hpp"
#include "control/protocol/request_id.hpp"

namespace clipd::control::osc {

// One JSON value as one OSC argument (see above).
Arg value_arg(const protocol::Json& value);

std::vector<std::byte> encode_reply(const protocol::RequestId& id, const protocol::Json& result);
std::vector<std::byte> encode_error(const protocol::RequestId& id, protocol::ErrorCode code,
                                    std::string_view message);
std::vector<std::byte> encode_event(const protocol::Event& event);

}  // namespace clipd::control::osc
