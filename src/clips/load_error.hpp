// Why a load failed, in the control protocol's terms (clipd-protocol(7), ERRORS).
//
// Thread contract: plain value type; built on a loader worker, read on the control thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace clipd::clips {

enum class LoadErrorCode : std::uint8_t {
  file_not_found,      // the path does not exist (or a component of it is not a folder)
  permission_denied,   // the path exists but may not be read
  unsupported_format,  // libsndfile cannot open it as audio: not a regular file, unknown
                       // container, zero frames or channels, too many channels
  decode_failed,       // it opened, but reading its audio failed part way (truncated, corrupt)
  memory_budget,       // the decoded clip would pass the memory budget
  cancelled,           // the load was cancelled before it finished
};

// The protocol's code string: "file-not-found", "permission-denied", "unsupported-format",
// "decode-failed", "memory-budget" or "cancelled".
std::string_view to_string(LoadErrorCode code) noexcept;

struct LoadError {
  LoadErrorCode code = LoadErrorCode::decode_failed;
  // Names the file and, where libsndfile gave one, its reason.
  std::string message;

  std::string_view code_string() const noexcept { return to_string(code); }
};

}  // namespace clipd::clips
