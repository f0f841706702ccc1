#include "control/protocol/errors.hpp"

namespace clipd::protocol {

Error clip_not_found(std::string_view clip) {
  return {ErrorCode::clip_not_found, "no clip named '" + std::string(clip) + "'"};
}

Error clip_exists(std::string_view clip) {
  return {ErrorCode::clip_exists, "a clip named '" + std::string(clip) + "' exists (use replace)"};
}

Error voice_not_found(std::int64_t voice) {
  return {ErrorCode::voice_not_found, "no voice " + std::to_string(voice)};
}

Error engine_offline() {
  return {ErrorCode::engine_offline, "the engine is offline (no audio server)"};
}

Error cancelled(std::string_view clip) {
  return {ErrorCode::cancelled, "load of '" + std::string(clip) + "' cancelled"};
}

Error internal_error(std::string_view message) {
  return {ErrorCode::internal, std::string(message)};
}

}  // namespace clipd::protocol
