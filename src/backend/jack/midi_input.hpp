// clipd/backend/jack/midi_input.hpp: one cycle's JACK MIDI input in the engine's form.
//
// The process callback copies the events of midi_in's port buffer into a preallocated array of
// engine::MidiEventView and hands the target a span of it, so that nothing past the backend knows
// JACK. The views point into the port buffer: valid until the callback returns.
//
// Thread contract: audio thread, inside one cycle.
#pragma once

#include <cstdint>

#include "engine/midi_event.hpp"

namespace clipd::backend::jack {

struct MidiRead {
  std::uint32_t count = 0;     // views written to `out`
  std::uint32_t overflow = 0;  // events of this cycle past `capacity` (not read)
};

// Reads the events of `port_buffer` (jack_port_get_buffer() of a MIDI input port for this cycle,
// or null: no events) into out[0 .. capacity - 1], in the buffer's non-decreasing frame order;
// an event JACK cannot read (or an empty one) is skipped.
// Non-blocking guarantees: wait-free (jack_midi_get_event_count and jack_midi_event_get only
// read the buffer). Cost: O(min(events in the buffer, capacity)).
MidiRead read_midi(void* port_buffer, engine::MidiEventView* out, std::uint32_t capacity) noexcept;

}  // namespace clipd::backend::jack
