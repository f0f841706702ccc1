// The error codes of the contract (clipd-protocol(7), ERRORS).
#pragma once

#include <optional>
#include <string_view>

namespace clipd::protocol {

enum class ErrorCode {
  bad_json,
  bad_request,
  unknown_command,
  line_too_long,
  clip_not_found,
  clip_exists,
  file_not_found,
  permission_denied,
  unsupported_format,
  decode_failed,
  memory_budget,
  cancelled,
  voice_not_found,
  engine_offline,
  internal,
  limit,
};

// The wire name: "bad-json", "clip-not-found", ...
std::string_view to_string(ErrorCode code) noexcept;
std::optional<ErrorCode> error_code_from_string(std::string_view name) noexcept;

}  // namespace clipd::protocol
