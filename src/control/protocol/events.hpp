// Events sent to subscribed connections: `{"event": name, ...fields}`.
// Thread contract: control thread (the engine's returned nodes are turned into these there).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace clipd::protocol {

enum class EventKind : std::uint8_t {
  clip_loaded,
  clip_unloaded,
  clip_failed,
  voice_started,
  voice_ended,
  xrun,
  engine_offline,
  engine_online,
  underrun,
};
inline constexpr int event_kind_count = 9;

std::string_view to_string(EventKind kind) noexcept;
std::optional<EventKind> event_kind_from_string(std::string_view name) noexcept;

// The events a connection subscribed to.
class EventSet {
 public:
  constexpr EventSet() noexcept = default;
  static constexpr EventSet all() noexcept { return EventSet{(1u << event_kind_count) - 1}; }
  constexpr bool contains(EventKind kind) const noexcept {
    return (bits_ >> static_cast<unsigned>(kind) & 1u) != 0;
  }
  constexpr void insert(EventKind kind) noexcept { bits_ |= 1u << static_cast<unsigned>(kind); }
  constexpr bool empty() const noexcept { return bits_ == 0; }
  constexpr std::uint32_t bits() const noexcept { return bits_; }
  constexpr bool operator==(const EventSet&) const noexcept = default;

 private:
  constexpr explicit EventSet(std::uint32_t bits) noexcept : bits_(bits) {}
  std::uint32_t bits_ = 0;
};

enum class EndReason : std::uint8_t {
  finished,
  stopped,
  stolen,
  choked,
  unloaded,
  offline,
  shutdown,
  read_error,
};
std::string_view to_string(EndReason reason) noexcept;

// What started a voice (clipd-protocol(7), voice-started): a `play` command or a MIDI note.
enum class Trigger : std::uint8_t { command, midi };
std::string_view to_string(Trigger trigger) noexcept;

struct ClipLoadedEvent {
  std::string name;
};
struct ClipUnloadedEvent {
  std::string name;
};
struct ClipFailedEvent {
  std::string name;
  std::string error;
};
struct VoiceStartedEvent {
  std::int64_t voice = 0;
  std::string clip;
  std::int64_t frame = 0;
  bool late = false;
  Trigger trigger = Trigger::command;
};
struct VoiceEndedEvent {
  std::int64_t voice = 0;
  std::string clip;
  std::int64_t frame = 0;
  EndReason reason = EndReason::finished;
};
struct XrunEvent {
  std::uint64_t count = 0;
};
struct EngineOfflineEvent {};
struct EngineOnlineEvent {
  std::uint32_t sample_rate = 0;
  std::uint32_t buffer_size = 0;
  std::int64_t frame = 0;
};
// A streamed voice played frames as silence because they had not been read from disk in time.
struct UnderrunEvent {
  std::int64_t voice = 0;
  std::string clip;
  std::int64_t frame = 0;           // the first frame of the last run of missing frames
  std::uint64_t frames_missed = 0;  // since the voice's previous underrun event
};

using Event =
    std::variant<ClipLoadedEvent, ClipUnloadedEvent, ClipFailedEvent, VoiceStartedEvent,
                 VoiceEndedEvent, XrunEvent, EngineOfflineEvent, EngineOnlineEvent, UnderrunEvent>;

// The kind of an event, for filtering against a connection's EventSet.
EventKind kind_of(const Event& event) noexcept;

// `{"event":"voice-ended","voice":3,...}\n`. Note: allocates.
std::string serialize_event(const Event& event);
void append_event(std::string& out, const Event& event);

}  // namespace clipd::protocol
