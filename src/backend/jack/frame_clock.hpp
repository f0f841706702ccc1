// clipd/backend/jack/frame_clock.hpp: JACK's 32-bit frame time extended to 64 bits.
//
// jack_last_frame_time() wraps after 2^32 frames (about 24.9 hours at 48 kHz); the engine counts
// in 64-bit frames so that a daemon running for months never sees time go backwards. A step
// back of more than half the 32-bit range is taken as a wrap; a smaller one (a server that
// restarted its counter, a pipewire-jack time-domain hiccup) is passed through as is.
//
// Thread contract: one thread (the audio thread) calls extend(); reset() only while no cycle can
// run (before activation).
#pragma once

#include <cstdint>

namespace clipd::backend::jack {

class FrameClock {
 public:
  // Non-blocking guarantees: wait-free.
  std::uint64_t extend(std::uint32_t now) noexcept {
    if (seen_ && now < last_ && last_ - now > 0x80000000u) high_ += std::uint64_t{1} << 32;
    seen_ = true;
    last_ = now;
    return high_ | now;
  }

  void reset() noexcept { *this = FrameClock(); }

 private:
  std::uint64_t high_ = 0;
  std::uint32_t last_ = 0;
  bool seen_ = false;
};

}  // namespace clipd::backend::jack
