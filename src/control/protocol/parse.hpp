// From a request line to a typed request or an error reply's content. Pure: no sockets, no state.
// Thread contract: any thread but the audio thread (allocates); reentrant.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "control/protocol/error_code.hpp"
#include "control/protocol/request_id.hpp"
#include "control/protocol/requests.hpp"

namespace clipd::protocol {

// Checks that depend on the daemon's configuration.
struct ParseLimits {
  std::int64_t max_outputs = 2;  // `outputs` entries must be in [1, max_outputs]
};

// A line that must get an error reply: `bad-json`, `bad-request` (the message names the field) or
// `unknown-command`. `id` is the request's id whenever the line is valid JSON from its start to
// the end of its top-level `id` member (see scan_line()), whatever else is wrong with it; an id of
// a wrong type is kept as written (InvalidId). Else null.
struct ParseError {
  RequestId id;
  ErrorCode code = ErrorCode::bad_request;
  std::string message;
  bool operator==(const ParseError&) const = default;
};

// A line holding nothing but JSON whitespace: the contract says to ignore it (no reply).
struct BlankLine {
  bool operator==(const BlankLine&) const = default;
};

using ParseResult = std::variant<ParsedRequest, ParseError, BlankLine>;

// Objects and arrays nested deeper than this make a `bad-request` (keeps every later step free
// of deep recursion).
inline constexpr int max_json_depth = 32;
// A request object with more members than this is a `bad-request` (no command has half as many;
// bounds the cost of the duplicate-field check).
inline constexpr int max_request_fields = 64;

// Parses one line, without its "\n" (a trailing "\r" is JSON whitespace and harmless).
// Note: allocates.
ParseResult parse_request(std::string_view line, const ParseLimits& limits = {});

}  // namespace clipd::protocol
