// clipd/backend/pipewire/midi_sequence.hpp: one cycle's MIDI input, read from PipeWire's control
// sequence.
//
// A DSP MIDI port ("8 bit raw midi") carries, per cycle, one spa_pod_sequence: controls in
// non-decreasing offset order, each with the frame offset inside the cycle. The SPA_CONTROL_Midi
// ones hold one MIDI message each; other control types (properties, OSC) are skipped.
//
// Thread contract: called by the process callback on the data thread; real-time safe.
#pragma once

#include <cstdint>

#include "engine/midi_event.hpp"

namespace clipd::backend::pipewire {

struct MidiRead {
  std::uint32_t count = 0;     // events written to `out`
  std::uint32_t overflow = 0;  // MIDI events past `capacity` (skipped)
};

// Reads the sequence in `size` bytes at `data` + `offset` (a buffer of `maxsize` bytes) into
// `out` (room for `capacity`). A chunk that is no sequence reads as no events; of a sequence
// that claims more than the chunk or the buffer holds, the controls wholly inside are read.
// Offsets at or past `nframes` are clamped to nframes - 1 and an offset below the previous
// event's is raised to it, so the engine always gets offsets < nframes in non-decreasing order;
// empty messages are skipped. The views point into the buffer: valid until the buffer is queued
// back.
// Non-blocking guarantees: wait-free. Cost: O(controls in the chunk) <= O(size / 16), the
// smallest control being 16 bytes.
MidiRead read_midi_sequence(const void* data, std::uint32_t maxsize, std::uint32_t offset,
                            std::uint32_t size, std::uint32_t nframes, engine::MidiEventView* out,
                            std::uint32_t capacity) noexcept;

}  // namespace clipd::backend::pipewire
