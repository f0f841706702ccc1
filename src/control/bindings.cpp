// MIDI bindings on the control thread: the `bind`, `unbind` and `bindings` commands, and the
// engine's binding table, rebuilt and swapped in whole whenever a binding or a clip's engine slot
// changes (control/midi_bindings.hpp). Also the engine's spare nodes for the voices notes start.
#include <optional>
#include <string>

#include "control/controller.hpp"

namespace clipd::control {

void Controller::push_bindings() {
  if (!session_->online()) return;
  engine::BindingTable* table = bindings_.build(
      [this](const std::string& clip) -> std::optional<std::uint32_t> {
        const ClipEntry* entry = clips_.find(clip);
        if (entry == nullptr || entry->slot == kNoSlot) return std::nullopt;
        return entry->slot;
      },
      [this](const std::string& group) { return voices_.group_id(group); });
  if (table == nullptr) return;  // sent when the engine hands a table back
  if (!send_own(engine::Message::set_bindings(table))) bindings_.give_back(table);
}

void Controller::top_up_spares(std::uint32_t n) {
  for (std::uint32_t i = 0; i < n; ++i) {
    if (!send_own(engine::Message::spare())) return;
  }
}

void Controller::cmd_bind(const RequesterPtr& from, const Parsed& p,
                          const protocol::BindRequest& r) {
  if (!admit_own(from, p, 1)) return;  // the new binding table
  bindings_.set(r);
  push_bindings();
  save_state();
  from->reply_ok(p.id, protocol::Json::object());
}

void Controller::cmd_unbind(const RequesterPtr& from, const Parsed& p,
                            const protocol::UnbindRequest& r) {
  // The new binding table.
  if (bindings_.contains(r.channel, r.note) && !admit_own(from, p, 1)) return;
  if (!bindings_.erase(r.channel, r.note)) {
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
  from->reply_ok(p.id, protocol::Json{{"bindings", bindings_.json()}});
}

void Controller::restore_bindings(const std::vector<std::string>& lines) {
  for (const std::string& line : bindings_.restore(lines)) {
    if (options_.on_warning) options_.on_warning("state file: ignored a damaged binding: " + line);
  }
}

}  // namespace clipd::control
