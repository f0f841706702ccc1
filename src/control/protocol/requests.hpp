// The typed requests: one struct per command of clipd-protocol(7), including the MIDI binding
// commands. The parser guarantees every field's type and range (see parse.hpp); what needs the
// daemon's state (a clip's length, whether a name or voice exists) is the dispatcher's to check.
// Defaults are the contract's. Thread contract: control thread and clients.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "control/protocol/events.hpp"
#include "control/protocol/request_id.hpp"

namespace clipd::protocol {

// When a command acts: now (the first frame of the cycle that takes it), at a frame, a time after
// the first frame of the next cycle, or a time of the server's clock. `at_frame` and `in_s` are
// exclusive on the wire.
struct Now {
  bool operator==(const Now&) const = default;
};
struct AtFrame {
  std::int64_t frame = 0;  // >= 0
  bool operator==(const AtFrame&) const = default;
};
struct InSeconds {
  double seconds = 0;  // >= 0, finite
  bool operator==(const InSeconds&) const = default;
};
// Not on the JSON wire: a time on the audio server's microsecond clock (an OSC bundle's timetag,
// control/osc/clock.hpp), with `frame` the frame it maps to when the request is made. The engine
// binds it to its frame in the cycle that holds it (engine/engine.hpp).
struct AtServerTime {
  std::int64_t frame = 0;   // >= 0
  std::uint64_t nsecs = 0;  // > 0, nanoseconds
  bool operator==(const AtServerTime&) const = default;
};
using When = std::variant<Now, AtFrame, InSeconds, AtServerTime>;

// `loop`: absent or false (off), true (forever), or a count of passes in all (>= 1).
struct Loop {
  enum class Mode : std::uint8_t { off, forever, passes };
  Mode mode = Mode::off;
  std::int64_t passes = 0;  // >= 1 when mode == passes, else 0
  bool operator==(const Loop&) const = default;
};

struct HelloRequest {
  static constexpr std::string_view name = "hello";
  bool operator==(const HelloRequest&) const = default;
};
struct PingRequest {
  static constexpr std::string_view name = "ping";
  bool operator==(const PingRequest&) const = default;
};
struct LoadRequest {
  static constexpr std::string_view name = "load";
  std::string clip_name;  // wire field `name`: non-empty, no NUL
  std::string path;       // non-empty, no NUL; may be relative (the dispatcher resolves it)
  bool replace = false;
  // `stream`: true, false or "auto" (clipd-protocol(7)).
  enum class Stream : std::uint8_t { automatic, always, never };
  Stream stream = Stream::automatic;
  bool operator==(const LoadRequest&) const = default;
};
struct UnloadRequest {
  static constexpr std::string_view name = "unload";
  std::string clip_name;  // wire field `name`
  bool operator==(const UnloadRequest&) const = default;
};
struct ListRequest {
  static constexpr std::string_view name = "list";
  bool operator==(const ListRequest&) const = default;
};
struct InfoRequest {
  static constexpr std::string_view name = "info";
  std::string clip_name;  // wire field `name`
  bool operator==(const InfoRequest&) const = default;
};
struct PlayRequest {
  static constexpr std::string_view name = "play";
  std::string clip;
  double gain_db = 0;                // [-120, 24]
  double pan = 0;                    // [-1, 1]
  double offset_s = 0;               // >= 0 (past the clip's end: the dispatcher's check)
  std::optional<double> length_s;    // >= 0; none: no limit
  Loop loop;                         //
  double loop_start_s = 0;           // >= 0
  std::optional<double> loop_end_s;  // > loop_start_s; none: the clip's end
  double fade_in_s = 0;              // >= 0
  When when;                         //
  std::optional<std::string> group;  // non-empty
  std::optional<std::vector<std::int64_t>> outputs;  // 1-based, distinct, in [1, max_outputs]
  bool operator==(const PlayRequest&) const = default;
};

// `stop`'s target: exactly one of `voice`, `clip`, `group`, `all: true`.
struct StopVoice {
  std::int64_t voice = 0;
  bool operator==(const StopVoice&) const = default;
};
struct StopClip {
  std::string clip;
  bool operator==(const StopClip&) const = default;
};
struct StopGroup {
  std::string group;
  bool operator==(const StopGroup&) const = default;
};
struct StopAll {
  bool operator==(const StopAll&) const = default;
};
using StopTarget = std::variant<StopVoice, StopClip, StopGroup, StopAll>;

struct StopRequest {
  static constexpr std::string_view name = "stop";
  StopTarget target;
  std::optional<double> fade_s;  // >= 0; none: the declick time
  When when;
  bool operator==(const StopRequest&) const = default;
};
struct PauseRequest {
  static constexpr std::string_view name = "pause";
  std::int64_t voice = 0;
  std::optional<double> fade_s;  // >= 0; none: the declick time
  bool operator==(const PauseRequest&) const = default;
};
struct ResumeRequest {
  static constexpr std::string_view name = "resume";
  std::int64_t voice = 0;
  std::optional<double> fade_s;  // >= 0; none: the declick time
  bool operator==(const ResumeRequest&) const = default;
};
struct SetRequest {
  static constexpr std::string_view name = "set";
  std::int64_t voice = 0;
  std::optional<double> gain_db;  // [-120, 24]; at least one of gain_db and pan is present
  std::optional<double> pan;      // [-1, 1]
  std::optional<double> ramp_s;   // >= 0; none: the declick time
  When when;
  bool operator==(const SetRequest&) const = default;
};
struct MasterRequest {
  static constexpr std::string_view name = "master";
  double gain_db = 0;            // [-120, 24]
  std::optional<double> ramp_s;  // >= 0; none: the declick time
  bool operator==(const MasterRequest&) const = default;
};
struct VoicesRequest {
  static constexpr std::string_view name = "voices";
  bool operator==(const VoicesRequest&) const = default;
};
struct MetersRequest {
  static constexpr std::string_view name = "meters";
  bool operator==(const MetersRequest&) const = default;
};
struct StatusRequest {
  static constexpr std::string_view name = "status";
  bool operator==(const StatusRequest&) const = default;
};
struct SubscribeRequest {
  static constexpr std::string_view name = "subscribe";
  EventSet events = EventSet::all();  // absent: all
  bool operator==(const SubscribeRequest&) const = default;
};
struct UnsubscribeRequest {
  static constexpr std::string_view name = "unsubscribe";
  bool operator==(const UnsubscribeRequest&) const = default;
};
struct ShutdownRequest {
  static constexpr std::string_view name = "shutdown";
  bool operator==(const ShutdownRequest&) const = default;
};

// MIDI note bindings (clipd-protocol(7), MIDI BINDINGS).
enum class BindMode : std::uint8_t { oneshot, gate, toggle };
std::string_view to_string(BindMode mode) noexcept;

struct BindRequest {
  static constexpr std::string_view name = "bind";
  std::int64_t note = 0;                // [0, 127]
  std::optional<std::int64_t> channel;  // [1, 16]; none: any channel
  std::string clip;                     // non-empty, no NUL
  BindMode mode = BindMode::oneshot;    //
  bool velocity = false;                // gain follows velocity
  double gain_db = 0;                   // [-120, 24]
  std::optional<std::string> group;     // non-empty
  bool operator==(const BindRequest&) const = default;
};
struct UnbindRequest {
  static constexpr std::string_view name = "unbind";
  std::int64_t note = 0;                // [0, 127]
  std::optional<std::int64_t> channel;  // [1, 16]; none: the any-channel binding
  bool operator==(const UnbindRequest&) const = default;
};
struct BindingsRequest {
  static constexpr std::string_view name = "bindings";
  bool operator==(const BindingsRequest&) const = default;
};

using Request =
    std::variant<HelloRequest, PingRequest, LoadRequest, UnloadRequest, ListRequest, InfoRequest,
                 PlayRequest, StopRequest, PauseRequest, ResumeRequest, SetRequest, MasterRequest,
                 VoicesRequest, MetersRequest, StatusRequest, SubscribeRequest, UnsubscribeRequest,
                 ShutdownRequest, BindRequest, UnbindRequest, BindingsRequest>;

// The wire name of a request's command ("play", ...).
std::string_view command_name(const Request& request) noexcept;

// A request line, parsed: its id and the typed command.
struct ParsedRequest {
  RequestId id;
  Request request;
  bool operator==(const ParsedRequest&) const = default;
};

}  // namespace clipd::protocol
