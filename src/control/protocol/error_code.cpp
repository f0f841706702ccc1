#include "control/protocol/error_code.hpp"

#include <array>

namespace clipd::protocol {

namespace {

constexpr std::array<std::string_view, 16> error_names = {
    "bad-json",           "bad-request",    "unknown-command", "line-too-long",
    "clip-not-found",     "clip-exists",    "file-not-found",  "permission-denied",
    "unsupported-format", "decode-failed",  "memory-budget",   "cancelled",
    "voice-not-found",    "engine-offline", "internal",        "limit",
};
static_assert(static_cast<std::size_t>(ErrorCode::limit) + 1 == error_names.size());

}  // namespace

std::string_view to_string(ErrorCode code) noexcept {
  return error_names[static_cast<std::size_t>(code)];
}

std::optional<ErrorCode> error_code_from_string(std::string_view name) noexcept {
  for (std::size_t i = 0; i < error_names.size(); ++i) {
    if (error_names[i] == name) return static_cast<ErrorCode>(i);
  }
  return std::nullopt;
}

}  // namespace clipd::protocol
