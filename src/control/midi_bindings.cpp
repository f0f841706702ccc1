#include "control/midi_bindings.hpp"

#include <algorithm>
#include <cmath>

#include "control/protocol/parse.hpp"
#include "control/protocol/results.hpp"

namespace clipd::control {
namespace {

engine::TriggerMode to_engine(protocol::BindMode mode) noexcept {
  switch (mode) {
    case protocol::BindMode::oneshot:
      return engine::TriggerMode::oneshot;
    case protocol::BindMode::gate:
      return engine::TriggerMode::gate;
    case protocol::BindMode::toggle:
      return engine::TriggerMode::toggle;
  }
  return engine::TriggerMode::oneshot;
}

}  // namespace

void MidiBindings::set(const protocol::BindRequest& binding) {
  bindings_[Key{binding.channel.value_or(0), binding.note}] = binding;
}

bool MidiBindings::contains(std::optional<std::int64_t> channel, std::int64_t note) const {
  return bindings_.count(Key{channel.value_or(0), note}) != 0;
}

bool MidiBindings::erase(std::optional<std::int64_t> channel, std::int64_t note) {
  return bindings_.erase(Key{channel.value_or(0), note}) != 0;
}

protocol::Json MidiBindings::json() const {
  protocol::Json list = protocol::Json::array();
  for (const auto& [key, b] : bindings_)
    list.push_back(protocol::to_json(b));
  return list;
}

std::vector<std::string> MidiBindings::restore(const std::vector<std::string>& lines) {
  std::vector<std::string> damaged;
  for (const auto& line : lines) {
    auto parsed = protocol::parse_request(line);
    auto* req = std::get_if<protocol::ParsedRequest>(&parsed);
    const auto* bind = req != nullptr ? std::get_if<protocol::BindRequest>(&req->request) : nullptr;
    if (bind == nullptr) {
      damaged.push_back(line);
      continue;
    }
    set(*bind);
  }
  return damaged;
}

engine::BindingTable* MidiBindings::build(
    const std::function<std::optional<std::uint32_t>(const std::string&)>& slot_of,
    const std::function<std::uint32_t(const std::string&)>& group_of) {
  if (free_.empty()) {
    dirty_ = true;  // built again when the engine hands a table back
    return nullptr;
  }
  dirty_ = false;
  engine::BindingTable* table = free_.back();
  free_.pop_back();
  *table = engine::BindingTable{};
  for (const auto& [key, b] : bindings_) {
    const std::optional<std::uint32_t> slot = slot_of(b.clip);
    if (!slot) continue;  // the note does nothing
    engine::Binding& e =
        table->at(static_cast<std::uint32_t>(key.first), static_cast<std::uint32_t>(key.second));
    e.used = true;
    e.clip = *slot;
    e.group = b.group ? group_of(*b.group) : 0;
    e.gain = static_cast<float>(std::pow(10.0, b.gain_db / 20.0));
    e.mode = to_engine(b.mode);
    e.velocity = b.velocity;
  }
  return table;
}

void MidiBindings::give_back(engine::BindingTable* table) {
  if (table == nullptr) return;
  if (std::find(free_.begin(), free_.end(), table) == free_.end()) free_.push_back(table);
  // A change that waited for this table goes out on the next tick (not from inside a drain).
}

void MidiBindings::reclaim_all() noexcept {
  free_ = {tables_[0].get(), tables_[1].get()};
  dirty_ = false;
}

}  // namespace clipd::control
