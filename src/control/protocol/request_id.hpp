// The request id: absent/null, an integer or a string, echoed back in the reply exactly as given.
// Thread contract: control thread and clients.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace clipd::protocol {

// An integer id that std::int64_t cannot give back as written: beyond the 64-bit range
// (18446744073709551616) but within a double's, or -0. A valid id; `text` is its token as
// written, and is what the reply echoes.
struct IntegerToken {
  std::string text;
  bool operator==(const IntegerToken&) const = default;
};

// An `id` of a type the contract does not allow (`1.0`, `1e3`, `true`, `[1]` ...), or holding a
// number past the range of a double (1e400, an integer of 400 digits). Its request is a
// `bad-request`, and the reply echoes the value as given: `json` is its token as written, or
// `null` when the token holds a number past a double's range (many JSON readers refuse those).
struct InvalidId {
  std::string json;
  bool operator==(const InvalidId&) const = default;
};

// std::monostate: no id, or `"id": null` (replies carry `null`).
using RequestId = std::variant<std::monostate, std::int64_t, std::string, InvalidId, IntegerToken>;

// The id a JSON value token stands for (`token` is valid JSON text: a request line's `id` value as
// scan_line() finds it). Integers that fit are std::int64_t, strings are unescaped.
// Note: allocates.
RequestId request_id_from_token(std::string_view token);

// Appends the id as a JSON value (`null`, a number, a quoted string, or the token as written).
// Note: allocates when `out` grows.
void append_id(std::string& out, const RequestId& id);

}  // namespace clipd::protocol
