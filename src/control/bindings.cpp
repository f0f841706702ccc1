// MIDI bindings on the control thread: the `bind`, `unbind` and `bindings` commands, and the
// engine's binding table, rebuilt and swapped in whole whenever a binding or a clip's engine slot
// changes (the old table comes back as bindings_released and is reused: see binding_tables_).
#include <algorithm>
#include <cmath>
#include <memory>

#include "control/controller.hpp"
#include "engine/bindings.hpp"

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

void Controller::push_bindings() {
  if (!online_) return;
  if (free_binding_tables_.empty()) {
    bindings_dirty_ = true;  // rebuilt when the engine hands a table back
    return;
  }
  bindings_dirty_ = false;
  engine::BindingTable* table = free_binding_tables_.back();
  free_binding_tables_.pop_back();
  *table = engine::BindingTable{};
  for (const auto& [key, b] : bindings_) {
    auto it = clips_.find(b.clip);
    if (it == clips_.end() || it->second->slot == kNoSlot) continue;  // the note does nothing
    engine::Binding& e =
        table->at(static_cast<std::uint32_t>(key.first), static_cast<std::uint32_t>(key.second));
    e.used = true;
    e.clip = it->second->slot;
    e.group = b.group ? group_id(*b.group) : 0;
    e.gain = static_cast<float>(std::pow(10.0, b.gain_db / 20.0));
    e.mode = to_engine(b.mode);
    e.velocity = b.velocity;
  }
  if (!send_own(engine::Message::set_bindings(table))) return_binding_table(table);
}

void Controller::return_binding_table(engine::BindingTable* table) {
  if (table == nullptr) return;
  if (std::find(free_binding_tables_.begin(), free_binding_tables_.end(), table) ==
      free_binding_tables_.end()) {
    free_binding_tables_.push_back(table);
  }
  // A change that waited for this table goes out on the next tick (not from inside a drain).
}

void Controller::reclaim_binding_tables() {
  // No engine runs any more (retired, or abandoned and never run again): both tables are free.
  free_binding_tables_ = {binding_tables_[0].get(), binding_tables_[1].get()};
  bindings_dirty_ = false;
}

void Controller::top_up_spares(std::uint32_t n) {
  for (std::uint32_t i = 0; i < n; ++i) {
    if (!send_own(engine::Message::spare())) return;
  }
}

void Controller::cmd_bind(const RequesterPtr& from, const Parsed& p,
                          const protocol::BindRequest& r) {
  if (!admit_own(from, p, 1)) return;  // the new binding table
  const BindingKey key{r.channel.value_or(0), r.note};
  bindings_[key] = r;
  push_bindings();
  save_state();
  from->reply_ok(p.id, protocol::Json::object());
}

void Controller::cmd_unbind(const RequesterPtr& from, const Parsed& p,
                            const protocol::UnbindRequest& r) {
  const BindingKey key{r.channel.value_or(0), r.note};
  if (bindings_.count(key) != 0 && !admit_own(from, p, 1)) return;  // the new binding table
  if (bindings_.erase(key) == 0) {
    from->reply_error(
        p.id, protocol::ErrorCode::bad_request,
        "note: no binding for note " + std::to_string(r.note) +
            (r.channel ? " on channel " + std::to_string(*r.channel) : " on any channel"));
    return;
  }
  push_bindings();
  save_state();
  from->reply_ok(p.id, protocol::Json::object());
}

void Controller::cmd_bindings(const RequesterPtr& from, const Parsed& p) {
  from->reply_ok(p.id, protocol::Json{{"bindings", bindings_json()}});
}

protocol::Json Controller::bindings_json() const {
  protocol::Json list = protocol::Json::array();
  for (const auto& [key, b] : bindings_)
    list.push_back(protocol::to_json(b));
  return list;
}

void Controller::restore_bindings(const std::vector<std::string>& lines) {
  for (const auto& line : lines) {
    auto parsed = protocol::parse_request(line);
    auto* req = std::get_if<protocol::ParsedRequest>(&parsed);
    const auto* bind = req != nullptr ? std::get_if<protocol::BindRequest>(&req->request) : nullptr;
    if (bind == nullptr) {
      if (options_.on_warning)
        options_.on_warning("state file: ignored a damaged binding: " + line);
      continue;
    }
    bindings_[BindingKey{bind->channel.value_or(0), bind->note}] = *bind;
  }
}

}  // namespace clipd::control
