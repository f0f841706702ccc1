#include "clips/load_error.hpp"

namespace clipd::clips {

std::string_view to_string(LoadErrorCode code) noexcept {
  switch (code) {
    case LoadErrorCode::file_not_found:
      return "file-not-found";
    case LoadErrorCode::permission_denied:
      return "permission-denied";
    case LoadErrorCode::unsupported_format:
      return "unsupported-format";
    case LoadErrorCode::decode_failed:
      return "decode-failed";
    case LoadErrorCode::memory_budget:
      return "memory-budget";
    case LoadErrorCode::cancelled:
      return "cancelled";
  }
  return "internal";
}

}  // namespace clipd::clips
