// clipd's real-time engine: takes commands from a queue, renders voices into plain float buffers
// on the exact frame, and hands every node back on a second queue.
//
// Threads:
// - Construction, destruction and retire() run on the control thread. They allocate and free.
// - process() is the only audio-thread entry. It never allocates, frees, locks, waits or makes a
//   system call; it runs inside clipd::RealtimeScope so the RealtimeSanitizer checks that.
// - The published counters (last_frame(), ...) are atomics: read them from any thread.
// - Nothing here locks memory: build the engine, then mlockall(MCL_CURRENT) (controller.cpp) so its
//   pools and tables never page-fault on the audio thread.
//
// Queues: the engine is the consumer of the to-engine queue and the producer of the to-control
// queue; control keeps the other two ends. Message layout and what comes back for each command:
// engine/message.hpp. In short: push voice_end then play for each voice; every node comes back
// exactly once; every clip comes back exactly once as clip_released in the node that brought it.
//
// Time: `frame` is the first frame of the cycle. A command without at_frame acts at that frame; a
// stop or set whose at_frame lies ahead waits in the engine and acts on its exact frame (several on
// one frame in the order they arrived); one whose at_frame has passed acts at the cycle's first
// frame. A play, stop or set that names a server time (at_nsecs, engine/message.hpp) waits unbound
// until the cycle whose time span [usecs, next_usecs) holds that time, which binds it to the frame
// the server's own map gives there (JACK2's Time2Frames: frame + rint(du / dp * nframes)); from
// then on it is a play or command at that frame. Control keeps at most Config::max_pending waiting:
// one past that comes back at once, unacted (stopped = 0, found = false), and the engine always
// goes on taking the queue. A timed stop of a voice or set names a live voice: when that voice
// ends, or when it names no live voice on arrival, the command comes back at once, unacted. A play
// whose at_frame has passed starts at the cycle's first frame with late = true.
//
// Queries: control keeps at most one query_voices in flight (each copies every live voice). Should
// more arrive, the engine answers one per cycle: a second one in a cycle waits, with the messages
// behind it, for the next cycle.
//
// Semantics are those of the protocol's Voices section; the engine-side choices are:
// - loops: 0 = no loop (offset to the clip's end), n = n passes in all, kLoopForever. A loop region
//   shorter than kMinLoopFrames (after clamping to the clip) plays as no loop.
// - outputs: clip channel i goes to the i-th selected output (a mono clip to every selected one);
//   pan acts on the first two of them.
// - pause of a scheduled or stopping voice, or resume of a voice that is not paused: no effect,
//   found = true. Stop (any fade) of a paused voice ends it at once.
// - A voice that reaches its end while fading out ends there with the stop's reason.
// - A play of an empty slot ends at once, unstarted (reason unloaded). A start frame skipped by a
//   forward jump of the frame counter starts at the cycle's first frame, late.
// - When every fade slot is taken, the voice that began stopping first is cut at once. When
//   Config::retired_capacity clips are already waiting for their voices to fade, a further
//   remove/replace ends the clip's voices at once (no fade).
//
// MIDI: process() may take the cycle's MIDI events. A note-on (velocity > 0) of a bound note
// (engine/bindings.hpp) starts its clip on the event's exact frame, with the default play (whole
// clip, no loop, every output, pan 0) at the binding's gain (times (v / 127)^2 when `velocity`),
// in the binding's choke group, with the same stealing and choking as a play. A note-off (or a
// note-on with velocity 0) stops, with the declick fade, the gate voices that note-on of the
// same channel and note started. A toggle binding's note-on stops (declick fade) the voices of
// that binding that are not already stopping, and starts nothing, if there are any. "The same
// binding" is the same table entry (channel slot and note), also across table swaps. Notes whose
// binding names a slot without a clip do nothing; other MIDI messages are ignored. Events act in
// the order given; one with an offset before its predecessor's acts at the predecessor's frame,
// one at or past nframes at the last frame of the cycle. At most Config::max_midi_events events
// that act are taken per cycle (note-offs of live gate voices first, then the rest in order); the
// others are dropped and counted in midi_dropped(), as are events past kMidiBufferCapacity.
//
// Streamed clips (ClipSamples::stream != 0; engine/stream_ring.hpp): a voice plays the clip's
// head from memory; a voice whose playing order goes past the head takes a ring when it is placed
// and asks the disk side, through it, for its frames from the head's end (or from its offset,
// when that lies beyond the head) in playing order, loops included. Past the head it reads only
// the ring: frames that have not arrived play as silence and are skipped (the voice keeps time),
// counted in underruns() and in the ring's underrun report. A voice that starts beyond the head
// starts once its ring holds kStreamStartFrames (or the rest of its first pass): on its frame
// when the data is there by then, later (late) when not. A ring whose producer failed ends its
// voice, once the frames published before the failure have played, with reason read_error.
//
// Cost model (doc/realtime.md): every cost below is a product of these capacities, never of a
// value a client picks:
//   P  pool voices (max_voices + fade_voices)      F  frames of the cycle (nframes)
//   M  max_messages_per_cycle                      T  max_pending (timed commands)
//   B  kMidiBufferCapacity (MIDI events read)      E  max_midi_events (MIDI events acting)
//   R  retired_capacity                            S  spare_nodes
//   O  outputs                                     C  clip table capacity
//   H  stream_channels (a streamed clip's channels)
// An id lookup (VoiceIndex) is O(1) expected, O(P) at worst; a heap operation O(log T) or
// O(log P); "mixing" a voice n frames costs O(n + n / kMinLoopFrames) kernel work per route.
// A cycle: O(M) messages + O((P + T) log) binding of server times + O(B) MIDI filtering +
// O(T + E + P) events, each touching only the
// voices it concerns (at most P), + mixing every voice at most F frames + O(O * F) master and
// meters. Worst case O(P * F) samples plus O((M + T + E + P) * P) voice touches.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "clipd/node_queue.hpp"
#include "engine/bindings.hpp"
#include "engine/clip_samples.hpp"
#include "engine/config.hpp"
#include "engine/indexed_heap.hpp"
#include "engine/message.hpp"
#include "engine/midi_event.hpp"
#include "engine/stream_ring.hpp"
#include "engine/voice.hpp"
#include "engine/voice_index.hpp"

namespace clipd::engine {

// Largest number of frames rendered in one piece; longer periods are rendered in pieces.
inline constexpr std::uint32_t kMaxBlock = 8192;
// Frames a voice of a streamed clip that starts beyond the head waits for in its ring (or the
// rest of its first pass, when shorter).
inline constexpr std::uint64_t kStreamStartFrames = 4096;

class Engine {
 public:
  // Note: allocates every table the engine will ever use. Control thread.
  Engine(const Config& config, Consumer<Message> in, Producer<Message> out);
  // Frees the nodes the engine still holds (after retire() there are none). Control thread, once
  // process() is no longer called.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // One audio cycle (cost: see "Cost model" above): takes at most max_messages_per_cycle
  // messages, renders nframes frames into
  // outputs[0..config().outputs) (each written whole, silence when idle), returns nodes, publishes
  // the counters. `usecs` is published as is (JACK's clock at `frame`), and `next_usecs` (the
  // server's estimate of the next cycle's start on that clock; 0: none) with it.
  // Audio thread only. Non-blocking guarantees: wait-free (bounded by the configured capacities),
  // no allocation, no system call. Sets FTZ/DAZ for its duration and restores MXCSR.
  void process(std::uint64_t frame, std::uint32_t nframes, float* const* outputs,
               std::uint64_t usecs) noexcept;
  // The same cycle with its MIDI input: `midi[0..midi_count)` (may be null when midi_count is 0),
  // read during the call only. Audio thread only. Non-blocking guarantees: wait-free (bounded by
  // midi_count and the configured capacities), no allocation, no system call.
  void process(std::uint64_t frame, std::uint32_t nframes, float* const* outputs,
               std::uint64_t usecs, const MidiEventView* midi, std::uint32_t midi_count,
               std::uint64_t next_usecs = 0) noexcept;

  // Ends the engine's work once the audio thread has stopped calling process() for good (the
  // server went away, or shutdown): takes every message still queued (clips are added, plays end
  // unstarted, other commands are acknowledged without acting), ends every voice with `reason` at
  // `end_frame`, hands back every pending command and every clip (clip_released), every spare node
  // (spare) and the binding table (bindings_released). Afterwards the engine holds no node, no
  // clip and no binding table: destroy it, or build a fresh one and add the clips again.
  // Control thread only; the caller must have made sure no process() call is running or will run
  // (with acquire/release ordering, e.g. an atomic flag the audio thread clears on exit).
  void retire(std::uint64_t end_frame, EndReason reason);

  const Config& config() const noexcept { return config_; }

  // Checks the engine's invariants: every voice slot free or live exactly once; the play-order,
  // clip, group and MIDI-key lists linked both ways and holding exactly the voices they should;
  // reader counts equal to the clip lists; both heaps ordered; every timed record either free or
  // in the heap and in its voice's list. CLIPD_RT_ASSERT runs it after every cycle in builds with
  // real-time assertions (include/clipd/rt_assert.hpp). Audio thread (or control thread once
  // process() is no longer called); no allocation.
  // O(pool voices + max_pending + clip table + retired_capacity + 2 * 17 * 128 keys).
  bool invariants_hold() const noexcept;
  // True when the engine holds no node, clip or binding table (as after retire()). O(clip table +
  // retired_capacity + spare_nodes).
  bool holds_nothing() const noexcept;

  // Published at the end of each cycle; any thread. Non-blocking guarantees: wait-free.
  std::uint64_t last_frame() const noexcept { return last_frame_.load(std::memory_order_acquire); }
  std::uint64_t last_usecs() const noexcept { return last_usecs_.load(std::memory_order_acquire); }
  std::uint64_t last_next_usecs() const noexcept {
    return last_next_usecs_.load(std::memory_order_acquire);
  }
  std::uint32_t last_nframes() const noexcept {
    return last_nframes_.load(std::memory_order_acquire);
  }
  std::uint64_t cycles() const noexcept { return cycles_.load(std::memory_order_acquire); }
  // Voices that have not ended (scheduled, playing, paused, stopping).
  std::uint32_t live_voices() const noexcept {
    return live_voices_pub_.load(std::memory_order_acquire);
  }
  // Events the engine could not send for lack of a node (a play sent without its voice_end).
  std::uint64_t lost_events() const noexcept {
    return lost_events_.load(std::memory_order_acquire);
  }
  // MIDI notes dropped because the spare pool was dry (only with Config::drop_notes_when_dry).
  std::uint64_t dropped_notes() const noexcept {
    return dropped_notes_.load(std::memory_order_acquire);
  }
  // Acting MIDI events dropped by the per-cycle cap (Config::max_midi_events), plus events past
  // kMidiBufferCapacity in one call.
  std::uint64_t midi_dropped() const noexcept {
    return midi_dropped_.load(std::memory_order_acquire);
  }
  // Underrun episodes of streamed voices (runs of cycles whose ring reads came up short).
  std::uint64_t underruns() const noexcept { return underruns_.load(std::memory_order_acquire); }
  // Nodes in the spare pool at the end of the last cycle.
  std::uint32_t spare_count() const noexcept {
    return spare_count_pub_.load(std::memory_order_acquire);
  }
  // The master gain (linear) at the end of the last cycle.
  float master_gain() const noexcept { return master_gain_pub_.load(std::memory_order_acquire); }

 private:
  struct Retired {
    MessageNode node;  // the node riding with the clip
    std::uint32_t readers = 0;
    VoiceList voices;  // the voices still reading it
  };
  // A choke group with live voices. Records come from a pool of one per voice slot, found by
  // group id through groups_ (group ids are control's choice: any uint32).
  struct Group {
    std::uint64_t id = 0;
    VoiceList sounding;  // playing and paused: what a choke stops
    VoiceList others;    // scheduled and stopping
  };

  // Audio thread (or retire()) from here on; all wait-free, none allocates. Costs use the names
  // of the cost model above; "end" is end_voice's cost, "stop" stop_voice's.

  // At most M messages; a second voices query in a cycle waits for the next one. O(M) + the
  // cost of each message below.
  void take_messages() noexcept;
  // Dispatch: O(1) + the handler's cost.
  void handle(MessageNode&& node) noexcept;
  // add/replace: O(1), or retire_clip's cost when the slot held a clip.
  void handle_add(MessageNode&& node) noexcept;
  // retire_clip's cost.
  void handle_remove(MessageNode&& node) noexcept;
  void handle_replace(MessageNode&& node) noexcept;
  // O(C): the old table is moved into the new one.
  void handle_grow(MessageNode&& node) noexcept;
  // place_voice's cost.
  void handle_play(MessageNode&& node) noexcept;
  // O(P); at most one a cycle (take_messages).
  void handle_query_voices(Message& m) const noexcept;
  // O(O * 10 bins).
  void handle_query_meters(Message& m) const noexcept;
  // O(1).
  void handle_bindings(MessageNode&& node) noexcept;
  void handle_spare(MessageNode&& node) noexcept;
  // Acts on a stop or set at offset `at` of the current cycle; the node goes back. act_stop's or
  // act_set's cost.
  void act(MessageNode&& node, std::uint32_t at) noexcept;
  // Voice: a lookup + stop. Clip: stop per voice of the slot. Group: a lookup + stop per voice
  // of the group. All: stop per live voice (<= P).
  std::uint32_t act_stop(const StopPayload& s, std::uint32_t at) noexcept;
  // A lookup + catch_up of that voice + O(1).
  bool act_set(const SetPayload& s, std::uint32_t at) noexcept;
  // A lookup + O(1) (they act at offset 0: nothing to mix first).
  void act_pause(PausePayload& p) noexcept;
  void act_resume(PausePayload& p) noexcept;
  // Keeps a stop or set whose at_frame lies ahead until that frame (or sends it back unacted when
  // it names no live voice, or when T already wait). A lookup + O(log T).
  void wait_timed(MessageNode&& node) noexcept;
  // Takes waiting record `t` out of the heap and out of its voice's list. O(log T).
  MessageNode take_timed(std::uint32_t t) noexcept;
  // Binds what names a server time this cycle holds (or a past one) to its frame: each voice and
  // record once in its life, O(log P) or O(log T) + O(log T) each; at most P + T in a cycle.
  void bind_times() noexcept;
  // The frame of server time `nsecs` (nanoseconds), no earlier than frame_: frame_ + rint((nsecs /
  // 1000 - usecs_) / (next_usecs_ - usecs_) * nframes_), or frame_ for a time before the cycle,
  // with `late` set when the cycle before held that time. O(1).
  std::uint64_t frame_of_nsecs(std::uint64_t nsecs, bool& late) const noexcept;
  // Sends a stop or set back without acting (stopped = 0, found = false). O(1).
  void send_unacted(MessageNode&& node) noexcept;

  // Tells a voice to stop at offset `at`; true when it was not already stopping. A voice already
  // stopping on a fade no longer than the new one is left alone in O(1); otherwise catch_up of
  // the voice + O(1), or + end.
  bool stop_voice(std::uint32_t v, std::uint64_t fade, EndReason reason, std::uint32_t at) noexcept;
  // Takes a voice slot for `p` (stealing at offset `at` when needed) and sets it up, scheduled;
  // its nodes are left empty. The clip slot must hold a clip. O(O) routing + a lookup + O(log P)
  // + at most one stop (a steal) and one end (alloc_voice).
  std::uint32_t place_voice(const PlayPayload& p, std::uint32_t at) noexcept;
  // O(log P) + a lookup.
  void start_voice(std::uint32_t v, std::uint32_t at) noexcept;
  // Stops the sounding (playing, paused) voices of v's group: stop per such voice.
  void choke(std::uint32_t v, std::uint32_t at) noexcept;
  // O(1) + a lookup (index and group) + O(log P) + O(log T) per timed command naming the voice
  // (each comes back unacted; over a cycle at most T in all).
  void end_voice(std::uint32_t v, std::uint64_t frame, EndReason reason) noexcept;
  // Takes the clip of slot `slot` out of the table into a retired record (or releases it when no
  // voice reads it); its voices end (reason unloaded) with the declick fade, or at once when no
  // record is free. `at` is the cycle offset. O(R) + stop (or catch_up + end) per voice of the
  // slot.
  void retire_clip(std::uint32_t slot, std::uint32_t at) noexcept;
  // O(1).
  void release_clip(MessageNode& rider) noexcept;
  void send(MessageNode&& node) noexcept;

  // Mixes every live voice from its `done` offset up to `to`: O(P) calls of render_voice.
  void render(std::uint32_t to) noexcept;
  // Mixes voice v up to cycle offset `at` before an event changes it; false when it ended on its
  // own before `at` (then the event finds no voice). render_voice's cost.
  bool catch_up(std::uint32_t v, std::uint32_t at) noexcept;
  // Mixes [from, to) of one voice in chunks that end at ramp ends and kMaxBlock: O(chunks) +
  // mix_chunk's cost per chunk (+ one end). Chunks: O(1 + (to - from) / kMaxBlock + ramps
  // ending). A chunk of a streamed voice past its head adds pull_ring's cost.
  void render_voice(std::uint32_t v, std::uint32_t from, std::uint32_t to) noexcept;
  // Mixes n frames of the voice from its position at cycle offset `at`, wrapping at its loop
  // inside (inside the kernel when no ramp runs, else one mix_segment per wrap); n <= kMaxBlock,
  // within the frames left and within every running ramp. O(n + n / kMinLoopFrames) per route.
  // `pulled`: the chunk's frames are in ring_scratch_ (pull_ring), in playing order; they are
  // mixed in the same segments, so a streamed voice's samples equal the memory path's.
  void mix_chunk(const Voice& voice, std::uint32_t at, std::uint32_t n, bool pulled) noexcept;
  // One segment of a chunk: frames [pos, pos + n) of `clip` (the voice's clip, or its ring's
  // frames in ring_scratch_), k frames into the chunk. O(n) per route.
  void mix_segment(const Voice& voice, const ClipSamples& clip, std::uint32_t at, std::uint64_t pos,
                   std::uint32_t n, std::uint32_t k) noexcept;
  // The next frame offset after `from` (before `to`) at which an event acts: the tops of both
  // heaps and the next kept MIDI event. O(1).
  std::uint32_t next_event(std::uint32_t from, std::uint32_t to) const noexcept;
  // Keeps the cycle's MIDI events that act, in order, with the frame each acts on, under the
  // per-cycle cap. O(B).
  void filter_midi() noexcept;
  // The first Binding entry a note-on of (channel, note) uses, and its key; null when unbound.
  // O(1).
  const Binding* binding_of(std::uint32_t channel, std::uint32_t note,
                            std::uint32_t& key) const noexcept;
  // note_on's or note_off's cost.
  void handle_midi(const MidiEventView& e, std::uint32_t at) noexcept;
  // place_voice's cost; a toggle's note-on that stops: stop per voice of that binding.
  void note_on(std::uint32_t channel, std::uint32_t note, std::uint32_t velocity,
               std::uint32_t at) noexcept;
  // Stop per gate voice of that channel and note.
  void note_off(std::uint32_t channel, std::uint32_t note, std::uint32_t at) noexcept;
  // Everything due at offset `at`: timed commands (act each, O(log T) to take), kept MIDI events,
  // grouped starts (O(log P) + choke each). Over a cycle: at most T + E + P events.
  void apply_events(std::uint32_t at) noexcept;
  // Master gain and meters: O(O * F).
  void finish_outputs(std::uint32_t nframes) noexcept;

  // O(1), or catch_up + end of the fading voice cut when every slot is taken.
  std::uint32_t alloc_voice(std::uint32_t at) noexcept;
  // List membership changes of voice v: O(1) + a group lookup.
  void join_group(std::uint32_t v) noexcept;
  void leave_group(std::uint32_t v) noexcept;
  void move_group(std::uint32_t v, bool sounding) noexcept;
  void leave_key(std::uint32_t v) noexcept;
  // O(1).
  std::uint64_t remaining_of(const Voice& voice) const noexcept;

  // Streamed voices. take_ring gives voice v a ring and sends its request: O(1), or at the
  // streamed-voice limit a steal (an O(P) walk of the active list + stop), or with every ring
  // taken a cut (an O(P) walk of the stopping list + catch_up + end).
  void take_ring(std::uint32_t v, std::uint32_t at) noexcept;
  // O(1): the ring goes idle and back to the free queue.
  void drop_ring(Voice& x) noexcept;
  // True when a voice that starts beyond the head may start: its ring holds kStreamStartFrames
  // (or the rest of its first pass), or failed. O(1).
  bool ring_ready(const Voice& x) const noexcept;
  // Copies the chunk's n frames in playing order into ring_scratch_: `from_head` frames of the
  // head, then the ring's next frames (silence for those missing, which are counted, unless the
  // ring failed) and advances the ring count. O(n * H).
  void pull_ring(Voice& x, std::uint32_t at, std::uint32_t n, std::uint64_t from_head) noexcept;

  Config config_;
  Consumer<Message> in_;
  Producer<Message> out_;

  std::unique_ptr<Voice[]> voices_;
  std::uint32_t pool_size_ = 0;
  std::unique_ptr<std::uint32_t[]> free_;  // stack of free voice slots
  std::uint32_t free_count_ = 0;
  std::unique_ptr<std::uint32_t[]> live_;  // dense array of live voice slots
  std::uint32_t live_count_ = 0;
  VoiceList active_;    // scheduled, playing, paused, in play order
  VoiceList stopping_;  // stopping, in the order they began
  std::unique_ptr<Group[]> groups_pool_;
  std::unique_ptr<std::uint32_t[]> groups_free_;  // stack of free Group records
  std::uint32_t groups_free_count_ = 0;
  VoiceIndex groups_;  // group id → Group record
  // MIDI: gate voices by (channel, note), then toggle voices by binding key; not stopping.
  static constexpr std::uint32_t kKeys = kMidiChannels * kMidiNotes;
  std::unique_ptr<VoiceList[]> key_lists_;  // [2 * kKeys]
  std::uint64_t next_seq_ = 0;
  VoiceIndex index_;

  ClipSlot* table_ = nullptr;  // owned: the table built here, or the last one swapped in
  std::uint32_t table_capacity_ = 0;
  std::unique_ptr<Retired[]> retired_;
  std::uint32_t retired_capacity_ = 0;

  // Timed stop/set waiting for their at_frame: a store of max_pending records, a heap of them
  // ordered by (at_frame, arrival), and for each voice a list of the records that name it. A record
  // that names a server time sits in timed_heap_ at kUnbound until bind_times() gives it its frame.
  struct Timed {
    MessageNode node;
    std::uint32_t voice = kNoIndex;  // the voice slot it names (stop of a voice, set), or none
    std::uint32_t prev = kNoIndex;   // the voice's list of waiting records
    std::uint32_t next = kNoIndex;
  };
  std::unique_ptr<Timed[]> timed_;
  std::unique_ptr<std::uint32_t[]> timed_free_;  // stack of free records
  std::uint32_t timed_free_count_ = 0;
  IndexedHeap timed_heap_;
  std::uint64_t timed_seq_ = 0;  // arrival order
  // Scheduled voices with a choke group, by (start frame, play order): apply_events starts them
  // (an unbound one sits at kUnbound).
  IndexedHeap grouped_heap_;
  // What names a server time and is not bound yet, by (server time, arrival or play order):
  // voices (ids = voice slots) and timed records (ids = record slots).
  IndexedHeap voice_times_;
  IndexedHeap timed_times_;
  // The frame key of what waits unbound: beyond any frame a cycle reaches.
  static constexpr std::uint64_t kUnbound = ~std::uint64_t{0} >> 1;
  MessageNode pending_end_;     // voice_end node waiting for its play
  MessageNode deferred_query_;  // a second query_voices of a cycle, answered first next cycle
  bool retired_once_ = false;   // retire() ran: the destructor checks that nothing is held

  // MIDI: the spare pool, the set_bindings node riding with the table in use, the cycle's events.
  std::unique_ptr<MessageNode[]> spares_;
  std::uint32_t spare_count_ = 0;
  MessageNode bindings_node_;
  const BindingTable* bindings_ = nullptr;
  const MidiEventView* midi_ = nullptr;
  std::uint32_t midi_count_ = 0;
  // The cycle's acting events (index into midi_, frame offset), and the first not yet acted on.
  struct Acting {
    std::uint32_t index;
    std::uint32_t at;
    bool live_off;  // a note-off of a live gate voice: kept before note-ons under the cap
  };
  std::unique_ptr<Acting[]> acting_;  // [kMidiBufferCapacity]
  std::uint32_t acting_count_ = 0;
  std::uint32_t midi_next_ = 0;
  // Per (channel, note): the cycle number in which a gate note-on was kept, so its note-off in
  // the same cycle acts too.
  std::unique_ptr<std::uint64_t[]> gate_mark_;  // [kKeys]
  std::uint64_t midi_cycle_ = 0;
  std::uint64_t midi_dropped_count_ = 0;
  std::uint64_t next_midi_id_ = 0;
  std::uint64_t dropped_ = 0;

  std::uint64_t declick_ = 0;
  Ramp master_;

  // Streamed voices: the rings (Config::streams), a queue of the free ones (oldest freed first,
  // so control reads a voice's last underrun report before its ring serves another voice), the
  // voices holding a ring that are not stopping, and the scratch a chunk of ring frames is
  // copied into ([stream_channels * kMaxBlock]).
  StreamRing* rings_ = nullptr;
  std::uint32_t ring_count_ = 0;
  std::unique_ptr<std::uint32_t[]> ring_free_;
  std::uint32_t ring_free_head_ = 0;
  std::uint32_t ring_free_size_ = 0;
  std::uint32_t streamed_active_ = 0;
  std::unique_ptr<float[]> ring_scratch_;
  std::uint64_t underrun_count_ = 0;

  // The current cycle.
  std::uint64_t frame_ = 0;
  std::uint32_t nframes_ = 0;
  std::uint64_t usecs_ = 0;               // the server's time at frame_
  std::uint64_t next_usecs_ = 0;          // its estimate of the next cycle's start (> usecs_)
  std::uint64_t previous_end_usecs_ = 0;  // next_usecs_ of the cycle before
  float* const* outputs_ = nullptr;
  std::unique_ptr<float[]> scratch_;  // three gain rows of kMaxBlock

  // Meters: ten completed 10 ms bins per output plus the one being filled.
  static constexpr std::uint32_t kBins = 10;
  std::uint32_t bin_frames_ = 480;
  std::uint32_t bin_fill_ = 0;         // frames in the current bin
  std::uint32_t bin_current_ = 0;      // index of the bin being filled (kBins + 1 ring)
  std::uint32_t bins_done_ = 0;        // completed bins, up to kBins
  std::unique_ptr<float[]> bin_peak_;  // [(kBins + 1) * outputs]
  std::unique_ptr<float[]> bin_sum_;

  alignas(64) std::atomic<std::uint64_t> last_frame_{0};
  std::atomic<std::uint64_t> last_usecs_{0};
  std::atomic<std::uint64_t> last_next_usecs_{0};
  std::atomic<std::uint64_t> cycles_{0};
  std::atomic<std::uint64_t> lost_events_{0};
  std::atomic<std::uint64_t> dropped_notes_{0};
  std::atomic<std::uint64_t> midi_dropped_{0};
  std::atomic<std::uint64_t> underruns_{0};
  std::atomic<std::uint32_t> spare_count_pub_{0};
  std::atomic<std::uint32_t> last_nframes_{0};
  std::atomic<std::uint32_t> live_voices_pub_{0};
  std::atomic<float> master_gain_pub_{1.0f};
  std::uint64_t lost_ = 0;

  static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
  static_assert(std::atomic<float>::is_always_lock_free);
};

}  // namespace clipd::engine
