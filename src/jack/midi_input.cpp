#include "jack/midi_input.hpp"

#include <jack/midiport.h>

namespace clipd::jack {

MidiInput::MidiInput(void* port_buffer) noexcept : buffer_(port_buffer), count_(0), overflow_(0) {
  const std::uint32_t all = port_buffer != nullptr ? jack_midi_get_event_count(port_buffer) : 0;
  count_ = all < kMidiInputCapacity ? all : kMidiInputCapacity;
  overflow_ = all - count_;
}

MidiEvent MidiInput::operator[](std::uint32_t index) const noexcept {
  jack_midi_event_t event{};
  if (index >= count_ || jack_midi_event_get(&event, buffer_, index) != 0) return {};
  return {event.time, static_cast<std::uint32_t>(event.size), event.buffer};
}

}  // namespace clipd::jack
