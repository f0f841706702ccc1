// What to load and how: kept with the loaded clip so it can be decoded again at a new engine
// rate (the same request with another target_rate).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace clipd::clips {

inline constexpr std::uint32_t default_max_channels = 8;

// load's `stream` (clipd-protocol(7)): keep the clip whole in memory, stream it from disk with
// only its head in memory, or stream it when the decoded clip would pass a threshold.
enum class StreamMode : std::uint8_t { never, always, automatic };
inline constexpr std::size_t default_stream_threshold = std::size_t{64} << 20;
inline constexpr double default_stream_head_s = 2.0;

struct LoadRequest {
  // The file to decode; a relative path is taken from the current folder at decode time and the
  // loaded clip records it made absolute.
  std::string path;
  // The engine's sample rate; 0 keeps the source's rate (no resampling).
  std::uint32_t target_rate = 0;
  // More channels than this is `unsupported-format`.
  std::uint32_t max_channels = default_max_channels;
  // Streaming (clips/stream_load.hpp): the mode, the decoded size past which `automatic`
  // streams, and the seconds of head kept in memory.
  StreamMode stream = StreamMode::never;
  std::size_t stream_threshold = default_stream_threshold;
  double head_s = default_stream_head_s;
};

}  // namespace clipd::clips
