// What to load and how: kept with the loaded clip so it can be decoded again at a new engine
// rate (the same request with another target_rate).
#pragma once

#include <cstdint>
#include <string>

namespace clipd::clips {

inline constexpr std::uint32_t default_max_channels = 8;

struct LoadRequest {
  // The file to decode; a relative path is taken from the current folder at decode time and the
  // loaded clip records it made absolute.
  std::string path;
  // The engine's sample rate; 0 keeps the source's rate (no resampling).
  std::uint32_t target_rate = 0;
  // More channels than this is `unsupported-format`.
  std::uint32_t max_channels = default_max_channels;
};

}  // namespace clipd::clips
