// control/midi_bindings.hpp: the MIDI bindings (`bind`, `unbind`, `bindings`) and the engine's
// two binding tables.
//
// The engine reads a whole BindingTable on the audio thread and never sees a change in place: a
// change fills the free table and swaps it in (a set_bindings message); the engine hands the old
// one back (bindings_released). Both tables are allocated with the command core, so they are
// locked with everything else before an engine runs (a table allocated later could page-fault on
// the audio thread). The engine holds at most one; a change made while neither is free waits for
// one to come back (change_waiting()).
//
// Thread contract: control thread only. Allocates (the map, JSON); never blocks.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "control/protocol/json.hpp"
#include "control/protocol/requests.hpp"
#include "engine/bindings.hpp"

namespace clipd::control {

class MidiBindings {
 public:
  // The binding of `note` on `channel` (none: any channel) replaces any other there.
  void set(const protocol::BindRequest& binding);
  bool contains(std::optional<std::int64_t> channel, std::int64_t note) const;
  // False when there was no such binding.
  bool erase(std::optional<std::int64_t> channel, std::int64_t note);
  // Every binding as the `bindings` result lists them (by channel, then note).
  protocol::Json json() const;
  // Adds the bindings of `bind` request lines (the state file's); returns the lines that are not
  // one.
  std::vector<std::string> restore(const std::vector<std::string>& lines);

  // Fills the free table with every binding whose clip the engine holds (`slot_of` gives its
  // slot, or nullopt) and returns it for a set_bindings message; nullptr when the engine holds
  // both (the change goes out once one comes back). `group_of` gives a choke group's engine id.
  engine::BindingTable* build(
      const std::function<std::optional<std::uint32_t>(const std::string&)>& slot_of,
      const std::function<std::uint32_t(const std::string&)>& group_of);
  // A table the engine handed back (bindings_released), or one whose message was not sent.
  void give_back(engine::BindingTable* table);
  // No engine runs any more (retired, or abandoned and never run again): both tables are free.
  void reclaim_all() noexcept;
  // A change waits for a table and one is free now: build() again.
  bool change_waiting() const noexcept { return dirty_ && !free_.empty(); }

 private:
  // (channel, note); channel 0 is "any".
  using Key = std::pair<std::int64_t, std::int64_t>;
  std::map<Key, protocol::BindRequest> bindings_;
  std::array<std::unique_ptr<engine::BindingTable>, 2> tables_{
      std::make_unique<engine::BindingTable>(), std::make_unique<engine::BindingTable>()};
  std::vector<engine::BindingTable*> free_{tables_[0].get(), tables_[1].get()};
  bool dirty_ = false;
};

}  // namespace clipd::control
