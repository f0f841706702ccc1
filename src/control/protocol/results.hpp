// Typed results of the commands whose result has a fixed shape, and their JSON form (field names
// and order as in clipd-protocol(7)). Thread contract: control thread and clients.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/protocol/json.hpp"
#include "control/protocol/requests.hpp"

namespace clipd::protocol {

// A level in dB: a number, or null for -inf (silence) and anything not finite.
Json decibels(double db);

// Clip info: `load`, `info`, and each entry of `list`.
struct ClipInfo {
  std::string name;
  std::string path;  // absolute
  std::int64_t frames = 0;
  std::uint32_t channels = 0;
  std::uint32_t sample_rate = 0;  // the engine's, after resampling
  std::uint32_t source_sample_rate = 0;
  double duration_s = 0;
  std::uint64_t bytes = 0;
  bool locked = false;
  std::uint64_t non_finite_samples = 0;  // NaN and infinities replaced by 0 at load
  bool streamed = false;                 // read from disk as it plays; only its head in memory
  std::int64_t head_frames = 0;          // frames held in memory: the head, or all of them
  double head_s = 0;
};
Json to_json(const ClipInfo& info);

enum class VoiceState : std::uint8_t { scheduled, playing, paused, stopping };
std::string_view to_string(VoiceState state) noexcept;

// One entry of `voices`.
struct VoiceInfo {
  std::int64_t voice = 0;
  std::string clip;
  VoiceState state = VoiceState::scheduled;
  double position_s = 0;
  std::optional<double> remaining_s;  // none: looping forever
  double gain_db = 0;
  double pan = 0;
  std::optional<std::string> group;
};
Json to_json(const VoiceInfo& info);

// `hello`. The optional fields are null while the engine is offline.
struct HelloResult {
  std::string version;
  std::optional<std::uint32_t> sample_rate;
  std::optional<std::uint32_t> buffer_size;
  std::string jack_client;
  std::optional<std::int64_t> frame;
  // "jack" or "pipewire" while a server is connected; null offline.
  std::optional<std::string> backend;
  // The name the server knows the daemon by (jack_client is the same, for older clients).
  std::string client;
};
inline constexpr int protocol_version = 1;
Json to_json(const HelloResult& hello);

// `status`. The optional fields are null while the engine is offline.
struct StatusResult {
  bool online = false;
  std::optional<std::string> backend;  // as in HelloResult
  std::optional<std::uint32_t> sample_rate;
  std::optional<std::uint32_t> buffer_size;
  std::optional<std::int64_t> frame;
  std::optional<std::uint64_t> usecs;
  std::optional<std::uint32_t> latency_frames;
  std::uint64_t xruns = 0;
  std::optional<double> dsp_load;
  std::uint32_t voices = 0;
  std::uint32_t max_voices = 0;
  std::uint32_t clips = 0;
  std::uint64_t memory_bytes = 0;
  std::uint64_t memory_budget_bytes = 0;
  std::uint64_t underruns = 0;  // runs of frames a streamed voice played as silence
  double master_gain_db = 0;
  double uptime_s = 0;
};
Json to_json(const StatusResult& status);

// `meters`: one value per output, -inf dB as null.
struct MetersResult {
  std::vector<double> peak_db;
  std::vector<double> rms_db;
};
Json to_json(const MetersResult& meters);

// One entry of `bindings`: the fields of `bind` (`channel` and `group` null when absent).
Json to_json(const BindRequest& binding);

}  // namespace clipd::protocol
