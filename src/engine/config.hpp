// What an Engine is built with. Capacities are fixed for the engine's life; the clip table can
// grow later through the queue (grow_clip_table).
#pragma once

#include <cstdint>

namespace clipd::engine {

struct Config {
  std::uint32_t sample_rate = 48000;
  std::uint32_t outputs = 2;       // 1..64
  std::uint32_t max_voices = 256;  // scheduled + playing + paused voices (>= 1)
  std::uint32_t fade_voices = 0;   // extra slots for voices fading out; 0 = max_voices
  std::uint32_t clip_capacity = 256;
  std::uint32_t max_messages_per_cycle = 256;  // messages taken from the queue per cycle
  std::uint32_t max_pending = 1024;            // stop/set commands waiting for their at_frame
  std::uint32_t retired_capacity = 64;         // removed/replaced clips whose voices still fade out
  std::uint32_t declick_frames = 0;            // fade for stolen, choked, unloaded voices; 0 = 5 ms

  // Called at the end of every process() call, inside the real-time context, with
  // cycle_hook_arg. It runs on the audio thread and must be real-time safe itself. Tests use it to
  // prove that the RealtimeSanitizer watches process(); it can also publish per-cycle data.
  void (*cycle_hook)(void* arg) noexcept = nullptr;
  void* cycle_hook_arg = nullptr;
};

}  // namespace clipd::engine
