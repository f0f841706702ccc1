// Seconds in requests, frames in the engine: the largest value a seconds field may carry, and the
// conversion the dispatcher makes with the server's rate. Thread contract: pure, any thread.
#pragma once

#include <cmath>
#include <cstdint>

namespace clipd::protocol {

// Frame counts derived from seconds stay at or below 2^62, so a few of them added to a 64-bit
// frame (now + in_s, offset + length ...) can never wrap.
inline constexpr std::uint64_t max_frames = std::uint64_t{1} << 62;
// clipd takes whatever rate the JACK server runs at; 768 kHz is the highest it plans for.
inline constexpr double max_sample_rate = 768000;
// Every field ending in `_s` is at most this (about 31,700 years): times the highest rate, still
// below max_frames. Larger values are a `bad-request` (clipd-protocol(7), REQUESTS AND REPLIES).
inline constexpr double max_seconds = 1e12;
static_assert(max_seconds * max_sample_rate < static_cast<double>(max_frames));

// `seconds` at `rate` frames per second, rounded to the nearest frame. Never wraps: NaN and values
// <= 0 give 0, and anything at or past max_frames gives max_frames (a rate above max_sample_rate
// or a seconds value the parser never lets through). Cost: a few floating-point operations.
inline std::uint64_t seconds_to_frames(double seconds, double rate) noexcept {
  const double frames = seconds * rate;
  if (!(frames > 0)) return 0;
  if (frames >= static_cast<double>(max_frames)) return max_frames;
  return static_cast<std::uint64_t>(std::llround(frames));
}

}  // namespace clipd::protocol
