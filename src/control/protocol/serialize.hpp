// From replies, errors, events and requests to lines. Every line ends in "\n".
// Thread contract: any thread but the audio thread (allocates); reentrant.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "control/protocol/error_code.hpp"
#include "control/protocol/errors.hpp"
#include "control/protocol/json.hpp"
#include "control/protocol/parse.hpp"
#include "control/protocol/request_id.hpp"
#include "control/protocol/requests.hpp"

namespace clipd::protocol {

// {"id":..,"ok":true,"result":{...}}\n. `result` must be an object.
std::string serialize_ok(const RequestId& id, const Json& result);
void append_ok(std::string& out, const RequestId& id, const Json& result);
// One result for many replies (answers shared by coalesced queries): the result is serialised
// once, with the reply's end, into a text every reply shares (share_result()); each reply owns
// only its head (serialize_ok_head()). Head then shared text is the same line as serialize_ok().
std::shared_ptr<const std::string> share_result(const Json& result);
std::string serialize_ok_head(const RequestId& id);
// {"id":..,"ok":true,"result":{}}\n without building a Json (ping, unload, pause, ...).
std::string serialize_ok_empty(const RequestId& id);
void append_ok_empty(std::string& out, const RequestId& id);

// {"id":..,"ok":false,"error":{"code":"..","message":".."}}\n
std::string serialize_error(const RequestId& id, ErrorCode code, std::string_view message);
void append_error(std::string& out, const RequestId& id, ErrorCode code, std::string_view message);
std::string serialize_error(const ParseError& error);
void append_error(std::string& out, const ParseError& error);
std::string serialize_error(const RequestId& id, const Error& error);

// `line-too-long` (id null: the line was never parsed); `limit` in bytes.
std::string line_too_long_reply(std::size_t limit);

// A request line in canonical form: `id` (when not null), `cmd`, then the fields that differ from
// their defaults, in the order of the contract's table. parse_request() of the result gives back
// an equal ParsedRequest. Used by clients (clipctl) and the round-trip fuzz target.
std::string serialize_request(const ParsedRequest& request);
// The request's fields (with `cmd`, without `id`) as a JSON object.
Json request_to_json(const Request& request);

}  // namespace clipd::protocol
