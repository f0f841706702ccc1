// What an Engine is built with. Capacities are fixed for the engine's life; the clip table can
// grow later through the queue (grow_clip_table).
#pragma once

#include <cstdint>

namespace clipd::engine {

class StreamRing;

struct Config {
  std::uint32_t sample_rate = 48000;
  std::uint32_t outputs = 2;       // 1..64
  std::uint32_t max_voices = 256;  // scheduled + playing + paused voices (>= 1)
  std::uint32_t fade_voices = 0;   // extra slots for voices fading out; 0 = max_voices
  std::uint32_t clip_capacity = 256;
  std::uint32_t max_messages_per_cycle = 256;  // messages taken from the queue per cycle
  std::uint32_t max_pending = 1024;            // stop/set commands waiting for their at_frame
  std::uint32_t retired_capacity = 64;         // removed/replaced clips whose voices still fade out
  // MIDI events that act (start or stop voices) per cycle; past it the newest note-ons are
  // dropped first (counted in Engine::midi_dropped()). At most kMidiBufferCapacity.
  std::uint32_t max_midi_events = 256;
  std::uint32_t declick_frames = 0;  // fade for stolen, choked, unloaded voices; 0 = 5 ms

  // MIDI triggers (engine/bindings.hpp). Each voice a note starts takes two nodes from a pool of
  // spare_nodes that control keeps topped up with `spare` messages. When fewer than two are left,
  // the voice still starts but its voice_started and voice_ended cannot be sent (both counted in
  // lost_events()), unless drop_notes_when_dry is set: then the note is dropped (counted in
  // dropped_notes()). Voices started by notes take the ids midi_voice_base, midi_voice_base + 1,
  // ...: keep control's own ids below it.
  std::uint32_t spare_nodes = 256;
  std::uint64_t midi_voice_base = std::uint64_t{1} << 48;
  bool drop_notes_when_dry = false;

  // Streamed clips (engine/stream_ring.hpp): streams[0..stream_rings) are the rings that voices
  // of streamed clips read past their heads; control owns them (and their locked memory) and
  // shares them with the disk threads, and keeps them alive until the engine is destroyed. At
  // most max_streamed_voices voices holding a ring are scheduled, playing or paused: a play past
  // that steals the oldest of them; voices fading out keep their rings, so stream_rings should
  // exceed max_streamed_voices (when every ring is taken, the ring voice that began stopping first
  // is cut). stream_channels bounds a streamed clip's channels (the engine's ring scratch).
  StreamRing* streams = nullptr;
  std::uint32_t stream_rings = 0;
  std::uint32_t max_streamed_voices = 0;
  std::uint32_t stream_channels = 8;

  // Called at the end of every process() call, inside the real-time context, with
  // cycle_hook_arg. It runs on the audio thread and must be real-time safe itself. Tests use it to
  // prove that the RealtimeSanitizer watches process(); it can also publish per-cycle data.
  void (*cycle_hook)(void* arg) noexcept = nullptr;
  void* cycle_hook_arg = nullptr;
};

}  // namespace clipd::engine
