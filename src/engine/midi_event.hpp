// One MIDI message of the current cycle, as process() reads it: a plain view that the caller fills
// from its MIDI port (the daemon from JACK) without allocating.
//
// Thread contract: built by the audio thread for one process() call; the bytes `data` points to
// must stay valid until process() returns. The engine only reads them.
#pragma once

#include <cstdint>
#include <type_traits>

namespace clipd::engine {

// Most MIDI events one process() call reads (the size of the daemon's per-cycle MIDI buffer);
// events past it are not looked at and are counted in Engine::midi_dropped().
inline constexpr std::uint32_t kMidiBufferCapacity = 1024;

struct MidiEventView {
  std::uint32_t offset;      // frame inside the cycle (0 .. nframes - 1), non-decreasing
  std::uint32_t size;        // bytes at `data`
  const std::uint8_t* data;  // one complete MIDI message (status byte first)
};

static_assert(std::is_trivially_copyable_v<MidiEventView>);

}  // namespace clipd::engine
