// clipd/jack/midi_input.hpp: a read-only view of one cycle's JACK MIDI input.
//
// The engine iterates the events of the current period without allocating and without knowing
// JACK: the view wraps the port buffer and reads it through jack_midi_get_event_count and
// jack_midi_event_get, which only read the buffer.
//
// Thread contract: built by the process callback for the duration of one cycle and used only on
// the audio thread, inside that cycle. The pointers it hands out are valid until the callback
// returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>

namespace clipd::jack {

// One MIDI message as JACK delivers it: `frame` is the offset inside the period (0 ..
// nframes - 1), events come in non-decreasing frame order.
struct MidiEvent {
  std::uint32_t frame = 0;
  std::uint32_t size = 0;
  const std::uint8_t* data = nullptr;
};

// Most events of one cycle the view hands out (the size of the per-cycle MIDI buffer the process
// callback fills); events past it are counted in overflow() and skipped.
inline constexpr std::uint32_t kMidiInputCapacity = 1024;

class MidiInput {
 public:
  // `port_buffer` is jack_port_get_buffer() of a MIDI input port for this cycle, or null (no
  // input: the view is empty).
  // Non-blocking guarantees: wait-free, O(1).
  explicit MidiInput(void* port_buffer) noexcept;

  // Events handed out: at most kMidiInputCapacity. Non-blocking guarantees: wait-free, O(1).
  std::uint32_t size() const noexcept { return count_; }
  // Events of this cycle past kMidiInputCapacity (never handed out). Wait-free.
  std::uint32_t overflow() const noexcept { return overflow_; }
  bool empty() const noexcept { return count_ == 0; }

  // Event `index` (< size()); an event JACK cannot read comes back with size 0 and no data.
  // Non-blocking guarantees: wait-free, O(1).
  MidiEvent operator[](std::uint32_t index) const noexcept;

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = MidiEvent;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = MidiEvent;

    iterator() noexcept = default;
    iterator(const MidiInput* input, std::uint32_t index) noexcept : input_(input), index_(index) {}
    MidiEvent operator*() const noexcept { return (*input_)[index_]; }
    iterator& operator++() noexcept {
      ++index_;
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator old = *this;
      ++index_;
      return old;
    }
    bool operator==(const iterator& other) const noexcept { return index_ == other.index_; }

   private:
    const MidiInput* input_ = nullptr;
    std::uint32_t index_ = 0;
  };

  // Non-blocking guarantees: wait-free, O(1).
  iterator begin() const noexcept { return iterator(this, 0); }
  iterator end() const noexcept { return iterator(this, count_); }

 private:
  void* buffer_;
  std::uint32_t count_;
  std::uint32_t overflow_;
};

}  // namespace clipd::jack
