// One voice of the engine's fixed pool: a clip being played, with its position, its gain, pan and
// fade ramps, where it is routed, and the two nodes it will send back.
//
// Thread contract: the pool is allocated on the control thread at construction; a voice is then
// read and written only by the audio thread (or by Engine::retire once the audio thread has
// stopped).
#pragma once

#include <cstdint>

#include "engine/bindings.hpp"
#include "engine/clip_samples.hpp"
#include "engine/message.hpp"
#include "engine/ramp.hpp"
#include "engine/voice_list.hpp"

namespace clipd::engine {

static_assert(kMidiChannels * kMidiNotes <= 0x10000, "a binding key fits Voice::binding_key");

struct Voice {
  MessageNode start_node;  // the play node, back as voice_started
  MessageNode end_node;    // the voice_end node, back as voice_ended (may be empty: counted lost)

  std::uint64_t id = 0;
  std::uint64_t seq = 0;          // order in which the engine took the plays (stealing order)
  std::uint64_t start_frame = 0;  // frame of the first sample (a scheduled voice waits for it)
  // A play that names a server time: that time (ns) until the cycle that holds it binds it to
  // its frame (start_frame is control's estimate until then), 0 once bound or for other plays.
  std::uint64_t at_nsecs = 0;

  ClipSamples clip{};
  std::uint32_t slot = 0;            // clip table slot
  std::uint32_t retired = kNoIndex;  // retired-clip record when its clip left the table
  std::uint32_t group = 0;

  // Playing order: the current pass ends at region_end; then, while passes remain, the loop
  // region [loop_start, loop_end) again.
  std::uint64_t pos = 0;
  std::uint64_t region_end = 0;
  std::uint64_t loop_start = 0;
  std::uint64_t loop_end = 0;
  std::uint64_t remaining = 0;  // length cap left (kUnlimited for none)
  std::uint32_t passes_left = 0;
  bool forever = false;

  Ramp gain;  // the `set` gain
  Ramp pan;
  Ramp env;  // fade envelope: fade-in, pause/resume fades, stop fades

  VoiceState state = VoiceState::scheduled;
  // Offset in the current cycle up to which this voice is mixed: an event at a later offset that
  // changes the voice mixes it up to there first (Engine::catch_up), so events never split the
  // rendering of the other voices.
  std::uint32_t done = 0;
  bool late = false;
  bool holding = false;  // paused and faded to silence: position held
  EndReason stop_reason = EndReason::stopped;

  // Voices started by a MIDI note: their binding (channel slot * 128 + note, channel slot 0 =
  // any) and the note that started them, for gate note-offs and toggles.
  bool midi = false;
  TriggerMode trigger = TriggerMode::oneshot;
  std::uint8_t note_channel = 0;  // 1..16
  std::uint8_t note = 0;
  std::uint16_t binding_key = 0;

  // Routing: route r sends clip channel src[r] to output out[r]; route 0 is left, route 1 right,
  // the others unity (the balance law acts on the first two outputs the voice feeds).
  std::uint8_t routes = 0;
  std::uint8_t out[kMaxOutputs] = {};
  std::uint8_t src[kMaxOutputs] = {};

  // Membership: the active list (scheduled/playing/paused, in play order) or the stopping list,
  // and the position in the dense array of live voices.
  std::uint32_t prev = kNoIndex;
  std::uint32_t next = kNoIndex;
  std::uint32_t live_pos = kNoIndex;
  // The readers of its clip slot (or of its retired-clip record).
  std::uint32_t clip_prev = kNoIndex;
  std::uint32_t clip_next = kNoIndex;
  // Its choke group's record (Engine::Group), when it has a group: the group's sounding list
  // (playing, paused) or its other list (scheduled, stopping).
  std::uint32_t group_rec = kNoIndex;
  std::uint32_t group_prev = kNoIndex;
  std::uint32_t group_next = kNoIndex;
  // A MIDI gate or toggle voice not yet stopping: the list of its note (gate) or of its binding
  // (toggle) in Engine::key_lists_, so note-offs and toggles find it directly.
  std::uint32_t key_list = kNoIndex;
  std::uint32_t key_prev = kNoIndex;
  std::uint32_t key_next = kNoIndex;
  // First of the timed stop/set records that name this voice (Engine::Timed), or none.
  std::uint32_t waiting = kNoIndex;

  // A voice of a streamed clip that plays past the clip's head: the ring it reads there
  // (engine/stream_ring.hpp), the ring's request generation, and the frames taken from it since
  // the request (missing frames included: they play as silence and are skipped). needs_ring:
  // its playing order leaves the head (set when placed). on_ring: the voice reads the ring now
  // (it passed the head, or started beyond it). starving: its last read came up short (an
  // underrun episode runs).
  std::uint32_t ring = kNoIndex;
  std::uint32_t ring_gen = 0;
  std::uint64_t ring_read = 0;
  bool needs_ring = false;
  bool on_ring = false;
  bool starving = false;
};

}  // namespace clipd::engine
