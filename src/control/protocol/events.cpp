#include "control/protocol/events.hpp"

#include <array>

#include "control/protocol/json.hpp"

namespace clipd::protocol {

namespace {

constexpr std::array<std::string_view, event_kind_count> event_names = {
    "clip-loaded", "clip-unloaded",  "clip-failed",   "voice-started", "voice-ended",
    "xrun",        "engine-offline", "engine-online", "underrun",
};
static_assert(static_cast<int>(EventKind::underrun) + 1 == event_kind_count);
static_assert(event_kind_count <= 32, "EventSet keeps one bit per kind in 32 bits");

constexpr std::array<std::string_view, 8> reason_names = {
    "finished", "stopped", "stolen", "choked", "unloaded", "offline", "shutdown", "read-error",
};
static_assert(static_cast<std::size_t>(EndReason::read_error) + 1 == reason_names.size());

// The event's fields after `event`, in the contract's order.
struct Fields {
  Json& j;
  void operator()(const ClipLoadedEvent& e) const { j["name"] = e.name; }
  void operator()(const ClipUnloadedEvent& e) const { j["name"] = e.name; }
  void operator()(const ClipFailedEvent& e) const {
    j["name"] = e.name;
    j["error"] = e.error;
  }
  void operator()(const VoiceStartedEvent& e) const {
    j["voice"] = e.voice;
    j["clip"] = e.clip;
    j["frame"] = e.frame;
    j["late"] = e.late;
    j["trigger"] = to_string(e.trigger);
  }
  void operator()(const VoiceEndedEvent& e) const {
    j["voice"] = e.voice;
    j["clip"] = e.clip;
    j["frame"] = e.frame;
    j["reason"] = to_string(e.reason);
  }
  void operator()(const XrunEvent& e) const { j["count"] = e.count; }
  void operator()(const EngineOfflineEvent&) const {}
  void operator()(const EngineOnlineEvent& e) const {
    j["sample_rate"] = e.sample_rate;
    j["buffer_size"] = e.buffer_size;
    j["frame"] = e.frame;
  }
  void operator()(const UnderrunEvent& e) const {
    j["voice"] = e.voice;
    j["clip"] = e.clip;
    j["frame"] = e.frame;
    j["frames_missed"] = e.frames_missed;
  }
};

}  // namespace

std::string_view to_string(EventKind kind) noexcept {
  return event_names[static_cast<std::size_t>(kind)];
}

std::optional<EventKind> event_kind_from_string(std::string_view name) noexcept {
  for (std::size_t i = 0; i < event_names.size(); ++i) {
    if (event_names[i] == name) return static_cast<EventKind>(i);
  }
  return std::nullopt;
}

std::string_view to_string(EndReason reason) noexcept {
  return reason_names[static_cast<std::size_t>(reason)];
}

std::string_view to_string(Trigger trigger) noexcept {
  return trigger == Trigger::midi ? "midi" : "command";
}

EventKind kind_of(const Event& event) noexcept {
  // The variant's alternatives are declared in EventKind's order.
  static_assert(std::variant_size_v<Event> == event_kind_count);
  return static_cast<EventKind>(event.index());
}

void append_event(std::string& out, const Event& event) {
  Json j = Json::object();
  j["event"] = to_string(kind_of(event));
  std::visit(Fields{j}, event);
  append_json(out, j);
  out += '\n';
}

std::string serialize_event(const Event& event) {
  std::string out;
  append_event(out, event);
  return out;
}

}  // namespace clipd::protocol
