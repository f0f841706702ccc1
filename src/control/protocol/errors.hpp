// The command errors of the contract (clipd-protocol(7), ERRORS) as typed values: a code and its
// message, with the contract's wording where it gives one. Front ends encode them their own way
// (serialize_error() for a JSON line).
// Thread contract: any thread but the audio thread (allocates); reentrant.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "control/protocol/error_code.hpp"

namespace clipd::protocol {

struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;
  bool operator==(const Error&) const = default;
};

// "no clip named 'kick'"
Error clip_not_found(std::string_view clip);
// "a clip named 'kick' exists (use replace)"
Error clip_exists(std::string_view clip);
// "no voice 12"
Error voice_not_found(std::int64_t voice);
// "the engine is offline (no audio server)"
Error engine_offline();
// "load of 'kick' cancelled"
Error cancelled(std::string_view clip);
Error internal_error(std::string_view message);

}  // namespace clipd::protocol
