#include "jack/midi_input.hpp"

#include <jack/midiport.h>

namespace clipd::jack {

MidiInput::MidiInput(void* port_buffer) noexcept
    : buffer_(port_buffer),
      count_(port_buffer != nullptr ? jack_midi_get_event_count(port_buffer) : 0) {}

MidiEvent MidiInput::operator[](std::uint32_t index) const noexcept {
  jack_midi_event_t event{};
  if (index >= count_ || jack_midi_event_get(&event, buffer_, index) != 0) return {};
  return {event.time, static_cast<std::uint32_t>(event.size), event.buffer};
}

}  // namespace clipd::jack
