// A linear ramp of one value (gain, pan or fade envelope), exactly as the contract states it:
// over n samples from g0 to g1, sample k has the value g0 + (g1 - g0)(k + 1)/n.
//
// Thread contract: owned by one voice (or the master bus) on the audio thread.
// Non-blocking guarantees: every member is wait-free and allocation-free, O(1).
#pragma once

#include <cstdint>

namespace clipd::engine {

struct Ramp {
  float value = 1.0f;  // value of the last sample written: where a new ramp starts from
  float from = 1.0f;
  float to = 1.0f;
  std::uint64_t length = 0;  // samples in the ramp; the ramp runs while done < length
  std::uint64_t done = 0;

  // Sets the value at once (a ramp of 0 samples).
  void jump(float v) noexcept {
    value = from = to = v;
    length = done = 0;
  }
  // Starts a ramp from the current value to `target` over `frames` samples (0 jumps).
  void start(float target, std::uint64_t frames) noexcept {
    if (frames == 0) {
      jump(target);
      return;
    }
    from = value;
    to = target;
    length = frames;
    done = 0;
  }
  bool ramping() const noexcept { return done < length; }
  std::uint64_t left() const noexcept { return length - done; }
  // Value at ramp sample k (0-based from the ramp's start).
  float at(std::uint64_t k) const noexcept {
    return from + (to - from) * (static_cast<float>(k + 1) / static_cast<float>(length));
  }
  // Marks n more samples as written (n <= left() while ramping).
  void advance(std::uint64_t n) noexcept {
    if (!ramping()) return;
    done += n;
    value = done >= length ? to : at(done - 1);
  }
};

}  // namespace clipd::engine
