// The MIDI binding table: which clip a note starts, and how.
//
// Control allocates a whole table with `new BindingTable()` (every entry unused), fills it, and
// swaps it into the engine with a set_bindings message; the table rides in the engine with that
// node and comes back as bindings_released when the next set_bindings replaces it, or at retire()
// (control then frees it with `delete`). The engine only reads a table while it is in use.
//
// Lookup of a note on MIDI channel c (1..16): the entry [c][note] when used, else the any-channel
// entry [0][note] when used, else the note is unbound.
//
// Thread contract: written by control before it is sent, then read only by the audio thread until
// it comes back (the queue's release/acquire pair publishes the contents).
#pragma once

#include <cstdint>
#include <type_traits>

namespace clipd::engine {

// Index 0 of the channel dimension is "any channel"; 1..16 are the MIDI channels.
inline constexpr std::uint32_t kMidiChannels = 17;
inline constexpr std::uint32_t kMidiNotes = 128;

enum class TriggerMode : std::uint8_t {
  oneshot,  // note-on starts the clip; note-off is ignored
  gate,     // note-off of the same channel and note stops the voices it started (declick fade)
  toggle,   // a note-on while a voice of the same binding is live stops it (declick fade) instead
};

struct Binding {
  std::uint32_t clip = 0;   // clip table slot; a slot without a clip makes the note do nothing
  std::uint32_t group = 0;  // choke group; 0 = none
  float gain = 1.0f;        // linear
  TriggerMode mode = TriggerMode::oneshot;
  bool used = false;
  bool velocity = false;  // true: gain *= (v / 127)^2, i.e. +40 log10(v / 127) dB
};

struct BindingTable {
  Binding entries[kMidiChannels][kMidiNotes];

  // `channel` 0 = any, 1..16; `note` 0..127.
  Binding& at(std::uint32_t channel, std::uint32_t note) noexcept { return entries[channel][note]; }
  const Binding& at(std::uint32_t channel, std::uint32_t note) const noexcept {
    return entries[channel][note];
  }
};

static_assert(std::is_trivially_destructible_v<BindingTable>);
static_assert(sizeof(Binding) == 16, "the table stays small: 17 * 128 * 16 bytes");

}  // namespace clipd::engine
