// The one message type of both engine queues (control → engine and engine → control).
//
// Every node the engine pops goes back on the return queue exactly once, so the control thread
// allocates and frees every node and the audio thread never does. A message is plain data: a
// `kind` and a union of trivially copyable payloads (the queue destroys the moved-from value on the
// audio thread, so it must own nothing). Which payload is live follows from `kind`.
//
// What comes back for each command (the same node, rewritten in place):
//
// - add_clip: rides with its clip and comes back as clip_released (same `clip` payload: slot,
//   samples, token) when the clip leaves the engine: after remove_clip or a replace_clip of its
//   slot, once the last voice reading it has faded out, or at retire(). A slot beyond the table
//   comes back at once as clip_released.
// - replace_clip: like add_clip for the new clip; the old clip's node comes back as described.
//   The slot's voices end (reason unloaded) with the declick fade.
// - remove_clip: at once, as remove_clip with `remove.found`. The slot is free at once.
// - grow_clip_table: at once, as table_released carrying the old table (or the offered one when
//   it is not larger): control frees it with delete[].
// - voice_end: rides with its voice, back as voice_ended. Push it immediately before its play,
//   with nothing else from this producer between them.
// - play: back as voice_started when the first sample is written; if the voice ends before that
//   (stopped, stolen, unloaded, retired, unknown slot), as voice_started with started == false,
//   pushed just before the voice_ended.
// - stop, set: same kind with the result (`stopped`, `found`) when the command acts: at once, or on
//   its at_frame (those wait inside the engine).
// - pause, resume, master, query_voices, query_meters: same kind, results filled, when taken.
// - set_bindings: rides with its binding table and comes back as bindings_released (same
//   `bindings` payload: the table it brought, possibly null) when the next set_bindings takes its
//   place, or at retire(). Control frees the table with `delete`.
// - spare: kept in the engine's spare pool (Config::spare_nodes) until a MIDI note needs it; then
//   it comes back as the voice_started or the voice_ended (midi == true) of a voice the engine
//   started; at retire() as spare. When the pool is full it comes back at once as spare.
// - voice_started, voice_ended, clip_released, table_released, bindings_released sent to the
//   engine: straight back.
//
// Voices started by MIDI notes (engine/bindings.hpp) take two spare nodes each: their
// voice_started (midi == true) always comes back before their voice_ended, and is how control
// learns of the voice. Their ids come from the engine's own range, from Config::midi_voice_base up.
// With fewer than two spares left, such a voice sends neither event (both counted in
// lost_events()), or with Config::drop_notes_when_dry the note is dropped (dropped_notes()).
// Control keeps the pool full by filling it once (Config::spare_nodes spares) and then sending one
// spare for every voice_started or voice_ended with midi == true that comes back; a spare that
// comes back as spare is surplus (or retire()) and is freed or kept for reuse.
//
// So every node comes back exactly once and every clip exactly once, in the node that brought
// it. Frames are absolute (the process() frame counter); durations are in frames; gains linear.
//
// Thread contract: plain values, built and read on any thread. A payload written by the engine
// (query results, events) is visible to the control thread once it has popped the node (the
// queue's release/acquire pair orders it). The arrays a query points to must stay alive until the
// node comes back.
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

#include "clipd/node_queue.hpp"
#include "engine/bindings.hpp"
#include "engine/clip_samples.hpp"
#include "engine/voice_list.hpp"

namespace clipd::engine {

struct Message;
struct ClipSlot;

// `at_frame` value meaning "at the first frame of the cycle that takes the message" (never late).
inline constexpr std::uint64_t kNow = std::numeric_limits<std::uint64_t>::max();
// `length` value meaning "no cap"; `remaining` value in a VoiceInfo meaning "never ends".
inline constexpr std::uint64_t kUnlimited = std::numeric_limits<std::uint64_t>::max();
// `loops` value meaning "loop the region forever". 0 means "no loop: play on to the clip's end";
// n >= 1 means "n passes in all" (offset → loop_end, then n - 1 times [loop_start, loop_end)).
inline constexpr std::uint32_t kLoopForever = std::numeric_limits<std::uint32_t>::max();
// Shortest loop region the engine loops: a region shorter than this (after clamping to the clip)
// plays as no loop. Control refuses such plays (bad-request); the engine only stays safe. With
// it, a chunk of kMaxBlock frames wraps at most kMaxBlock / kMinLoopFrames + 1 times.
inline constexpr std::uint64_t kMinLoopFrames = 64;
// `outputs` value selecting every output (bit i selects output i, 0-based).
inline constexpr std::uint64_t kAllOutputs = ~std::uint64_t{0};
// Largest number of outputs an engine can have (one bit each in `outputs`).
inline constexpr std::uint32_t kMaxOutputs = 64;

enum class Kind : std::uint8_t {
  // control → engine
  add_clip,
  remove_clip,
  replace_clip,
  grow_clip_table,
  voice_end,
  play,
  stop,
  pause,
  resume,
  set,
  master,
  query_voices,
  query_meters,
  set_bindings,
  spare,
  // engine → control only
  voice_started,
  voice_ended,
  clip_released,
  table_released,
  bindings_released,
};

// Why a voice ended (voice_ended.reason and the reason a stop asks for).
enum class EndReason : std::uint8_t {
  finished,
  stopped,
  stolen,
  choked,
  unloaded,
  offline,
  shutdown,
  read_error,  // a streamed clip's file could not be read on (truncated, replaced, removed)
};

enum class VoiceState : std::uint8_t { scheduled, playing, paused, stopping };

enum class StopTarget : std::uint8_t { voice, clip, group, all };

// add_clip, replace_clip (the new clip) and clip_released (the clip handed back).
struct ClipPayload {
  std::uint32_t slot;   // index in the clip table, chosen by control (< table capacity)
  ClipSamples samples;  // must stay valid until the clip comes back as clip_released
  std::uint64_t token;  // opaque to the engine: control's handle for the clip object
};

// remove_clip. Ends the slot's voices (reason unloaded, declick fade); the slot is free at once.
struct RemovePayload {
  std::uint32_t slot;
  bool found;  // result: the slot held a clip
};

// grow_clip_table: a table of `capacity` slots allocated by control with `new ClipSlot[n]()`,
// larger than the current one. Comes back as table_released with the old table, which control
// frees with `delete[]` (every node in it has been moved out).
struct TablePayload {
  ClipSlot* table;
  std::uint32_t capacity;
};

// play, in engine units (frames, linear gain). Comes back as voice_started.
struct PlayPayload {
  std::uint64_t voice;       // id chosen by control, unique among live voices
  std::uint64_t at_frame;    // kNow, or the frame of the first sample
  // 0, or the server time of the first sample, in nanoseconds on the clock of process()'s usecs:
  // the play then waits unbound and takes its frame in the cycle that holds that time (at_frame
  // is control's estimate, never acted on). Never with at_frame kNow.
  std::uint64_t at_nsecs;
  std::uint64_t offset;      // first clip frame played
  std::uint64_t length;      // cap on frames played in all, loops included; kUnlimited for none
  std::uint64_t loop_start;  // loop region [loop_start, loop_end) in clip frames
  std::uint64_t loop_end;    // clamped to the clip's frames
  std::uint64_t fade_in;     // frames; 0 for none
  std::uint64_t outputs;     // bit mask of outputs; kAllOutputs for all
  std::uint32_t clip;        // clip table slot
  std::uint32_t group;       // choke group chosen by control; 0 = none
  std::uint32_t loops;       // 0 = no loop, n = n passes in all, kLoopForever
  float gain;                // linear, >= 0
  float pan;                 // [-1, 1]
};

// voice_started (the play node coming back).
struct StartedPayload {
  std::uint64_t voice;
  std::uint64_t frame;  // frame of the first sample written; when !started, the frame it ended
  std::uint32_t clip;
  bool started;         // false: the voice ended before it wrote a sample
  bool late;            // at_frame had passed when the engine took the play
  std::uint32_t group;  // the voice's choke group (0 = none)
  bool midi;            // started by a MIDI note (a spare node), not by a play command
};

// voice_end (sent) and voice_ended (returned).
struct EndedPayload {
  std::uint64_t voice;
  std::uint64_t frame;  // first frame after the voice's last sample
  std::uint32_t clip;
  EndReason reason;
  bool midi;  // the voice was started by a MIDI note (the node is a spare)
};

// set_bindings (sent) and bindings_released (returned). The table may be null: no bindings.
struct BindingsPayload {
  BindingTable* table;
};

// stop. `id` is the voice id, the clip slot or the group (unused for all).
struct StopPayload {
  std::uint64_t id;
  std::uint64_t fade;      // frames; 0 cuts at once
  std::uint64_t at_frame;  // kNow or a frame
  std::uint64_t at_nsecs;  // 0, or a server time to act at (as PlayPayload::at_nsecs)
  std::uint32_t stopped;   // result: voices told to stop that were not already stopping
  StopTarget target;
  EndReason reason;  // stopped, shutdown, ...
};

// pause and resume.
struct PausePayload {
  std::uint64_t voice;
  std::uint64_t fade;  // frames
  bool found;          // result: the voice was live
};

// set.
struct SetPayload {
  std::uint64_t voice;
  std::uint64_t ramp;      // frames
  std::uint64_t at_frame;  // kNow or a frame
  std::uint64_t at_nsecs;  // 0, or a server time to act at (as PlayPayload::at_nsecs)
  float gain;              // linear, used when has_gain
  float pan;               // used when has_pan
  bool has_gain;
  bool has_pan;
  bool found;  // result: the voice was live when the set acted
};

// master.
struct MasterPayload {
  std::uint64_t ramp;  // frames
  float gain;          // linear
};

// One record of a voices snapshot.
struct VoiceInfo {
  std::uint64_t voice;
  std::uint64_t position;   // next clip frame to be played
  std::uint64_t remaining;  // frames until it ends if nothing changes; kUnlimited for never
  std::uint32_t clip;
  std::uint32_t group;
  float gain;  // the `set` gain (linear), without fades
  float pan;
  VoiceState state;
};

// query_voices: control owns `out` (capacity records); the engine writes min(count, capacity).
struct VoicesQueryPayload {
  VoiceInfo* out;
  std::uint32_t capacity;
  std::uint32_t count;  // result: live voices (may exceed capacity)
  std::uint64_t frame;  // result: frame of the cycle that answered
};

// query_meters: control owns both arrays (capacity floats each); linear peak and RMS per output
// over the last 100 ms (ten 10 ms bins), after master gain.
struct MetersQueryPayload {
  float* peak;
  float* rms;
  std::uint32_t capacity;
  std::uint32_t count;  // result: outputs written
};

struct Message {
  Kind kind = Kind::master;
  union {
    ClipPayload clip;
    RemovePayload remove;
    TablePayload table;
    PlayPayload play;
    StartedPayload started;
    EndedPayload ended;
    StopPayload stop;
    PausePayload pause;  // pause and resume
    SetPayload set;
    MasterPayload master;
    VoicesQueryPayload voices;
    MetersQueryPayload meters;
    BindingsPayload bindings;  // set_bindings, bindings_released
  };

  Message() noexcept : master{} {}

  // Builders for the control side (any thread; plain value construction).
  static Message add_clip(std::uint32_t slot, ClipSamples samples, std::uint64_t token) noexcept {
    Message m;
    m.kind = Kind::add_clip;
    m.clip = ClipPayload{slot, samples, token};
    return m;
  }
  static Message replace_clip(std::uint32_t slot, ClipSamples samples,
                              std::uint64_t token) noexcept {
    Message m = add_clip(slot, samples, token);
    m.kind = Kind::replace_clip;
    return m;
  }
  static Message remove_clip(std::uint32_t slot) noexcept {
    Message m;
    m.kind = Kind::remove_clip;
    m.remove = RemovePayload{slot, false};
    return m;
  }
  static Message grow_clip_table(ClipSlot* table, std::uint32_t capacity) noexcept {
    Message m;
    m.kind = Kind::grow_clip_table;
    m.table = TablePayload{table, capacity};
    return m;
  }
  // A play with default arguments for the voice: reproduces the clip bit for bit, now.
  static Message play_default(std::uint64_t voice, std::uint32_t clip) noexcept {
    Message m;
    m.kind = Kind::play;
    m.play = PlayPayload{voice,       kNow, 0,    0, kUnlimited, 0,    kUnlimited, 0,
                         kAllOutputs, clip, 0, 0,          1.0f, 0.0f};
    return m;
  }
  // The voice_end node that must be pushed just before the play of `voice`.
  static Message voice_end(std::uint64_t voice) noexcept {
    Message m;
    m.kind = Kind::voice_end;
    m.ended = EndedPayload{voice, 0, 0, EndReason::finished, false};
    return m;
  }
  static Message stop_cmd(StopTarget target, std::uint64_t id, std::uint64_t fade,
                          std::uint64_t at_frame = kNow,
                          EndReason reason = EndReason::stopped) noexcept {
    Message m;
    m.kind = Kind::stop;
    m.stop = StopPayload{id, fade, at_frame, 0, 0, target, reason};
    return m;
  }
  static Message pause_cmd(std::uint64_t voice, std::uint64_t fade) noexcept {
    Message m;
    m.kind = Kind::pause;
    m.pause = PausePayload{voice, fade, false};
    return m;
  }
  static Message resume_cmd(std::uint64_t voice, std::uint64_t fade) noexcept {
    Message m = pause_cmd(voice, fade);
    m.kind = Kind::resume;
    return m;
  }
  static Message set_gain(std::uint64_t voice, float gain, std::uint64_t ramp,
                          std::uint64_t at_frame = kNow) noexcept {
    Message m;
    m.kind = Kind::set;
    m.set = SetPayload{voice, ramp, at_frame, 0, gain, 0.0f, true, false, false};
    return m;
  }
  static Message set_pan(std::uint64_t voice, float pan, std::uint64_t ramp,
                         std::uint64_t at_frame = kNow) noexcept {
    Message m;
    m.kind = Kind::set;
    m.set = SetPayload{voice, ramp, at_frame, 0, 1.0f, pan, false, true, false};
    return m;
  }
  static Message master_cmd(float gain, std::uint64_t ramp) noexcept {
    Message m;
    m.kind = Kind::master;
    m.master = MasterPayload{ramp, gain};
    return m;
  }
  static Message query_voices(VoiceInfo* out, std::uint32_t capacity) noexcept {
    Message m;
    m.kind = Kind::query_voices;
    m.voices = VoicesQueryPayload{out, capacity, 0, 0};
    return m;
  }
  static Message query_meters(float* peak, float* rms, std::uint32_t capacity) noexcept {
    Message m;
    m.kind = Kind::query_meters;
    m.meters = MetersQueryPayload{peak, rms, capacity, 0};
    return m;
  }
  // Swaps in `table` (allocated with `new BindingTable()`, or null for none).
  static Message set_bindings(BindingTable* table) noexcept {
    Message m;
    m.kind = Kind::set_bindings;
    m.bindings = BindingsPayload{table};
    return m;
  }
  // A node for the engine's spare pool (its payload is unused).
  static Message spare() noexcept {
    Message m;
    m.kind = Kind::spare;
    return m;
  }
};

static_assert(std::is_trivially_copyable_v<Message>, "messages are plain data");
static_assert(std::is_trivially_destructible_v<Message>,
              "the moved-from message is destroyed on the audio thread");
static_assert(std::is_nothrow_move_constructible_v<Message>);

using MessageNode = Node<Message>;
using MessageQueue = Queue<Message>;

// One slot of the clip table. Control allocates tables with `new ClipSlot[n]()` (all empty) and
// frees them with `delete[]` once they come back as table_released; only the engine writes them
// while they are in use. `node` is the add_clip / replace_clip node riding with the slot's clip
// (empty when the slot is free); `readers` counts voices reading it, `voices` lists them (engine
// use: the readers of the slot's clip, in play order).
struct ClipSlot {
  MessageNode node;
  std::uint32_t readers = 0;
  VoiceList voices;
};

}  // namespace clipd::engine
