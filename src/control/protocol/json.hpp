// The JSON value type of the protocol. Thread contract: control thread and clients only (never
// the audio thread: every operation allocates).
#pragma once

#include <nlohmann/json.hpp>

namespace clipd::protocol {

// Objects keep their insertion order, so replies list their fields in the order the contract
// tables give them, and small objects are a flat vector (faster than a tree for a handful of keys).
using Json = nlohmann::ordered_json;

// Dumps `value` compactly. Strings that are not valid UTF-8 (a clip's path on disk may be any
// bytes) are written with U+FFFD in place of the bad bytes instead of throwing.
// Note: allocates.
std::string dump_json(const Json& value);
// Same, appended to `out`.
void append_json(std::string& out, const Json& value);

}  // namespace clipd::protocol
