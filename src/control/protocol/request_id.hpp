// The request id: absent/null, an integer or a string, echoed back in the reply exactly as given.
// Thread contract: control thread and clients.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

namespace clipd::protocol {

// An `id` of a type the contract does not allow (`1.0`, `true`, `[1]` ...). Its request is a
// `bad-request`, and the reply echoes the value as given: `json` is its compact JSON text.
struct InvalidId {
  std::string json;
  bool operator==(const InvalidId&) const = default;
};

// std::monostate: no id, or `"id": null` (replies carry `null`).
using RequestId = std::variant<std::monostate, std::int64_t, std::string, InvalidId>;

// Appends the id as a JSON value (`null`, a number, a quoted string, or the invalid value's text).
// Note: allocates when `out` grows.
void append_id(std::string& out, const RequestId& id);

}  // namespace clipd::protocol
