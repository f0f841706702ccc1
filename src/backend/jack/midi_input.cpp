#include "backend/jack/midi_input.hpp"

#include <jack/midiport.h>

namespace clipd::backend::jack {

MidiRead read_midi(void* port_buffer, engine::MidiEventView* out, std::uint32_t capacity) noexcept {
  MidiRead read;
  if (port_buffer == nullptr) return read;
  const std::uint32_t all = jack_midi_get_event_count(port_buffer);
  const std::uint32_t readable = all < capacity ? all : capacity;
  read.overflow = all - readable;
  for (std::uint32_t i = 0; i < readable; ++i) {
    jack_midi_event_t event{};
    if (jack_midi_event_get(&event, port_buffer, i) != 0 || event.size == 0) continue;
    out[read.count++] = {event.time, static_cast<std::uint32_t>(event.size), event.buffer};
  }
  return read;
}

}  // namespace clipd::backend::jack
