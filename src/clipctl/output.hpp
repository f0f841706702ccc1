// clipctl's human-readable output: tables for lists, "key: value" lines for the rest.
#pragma once

#include <string>

#include "control/protocol/protocol.hpp"

namespace clipd::clipctl {

// The text shown for a successful reply to `request` (ends in "\n" unless empty).
std::string format_result(const protocol::Request& request, const protocol::Json& result);

// One line for an event: "voice-ended voice=3 clip=kick frame=123 reason=finished".
std::string format_event(const protocol::Json& event);

}  // namespace clipd::clipctl
