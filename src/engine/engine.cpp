#include "engine/engine.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "clipd/realtime.hpp"
#include "clipd/rt_assert.hpp"
#include "engine/denormals.hpp"
#include "engine/mix.hpp"

namespace clipd::engine {

namespace {

Config normalized(Config c) noexcept {
  c.outputs = std::clamp<std::uint32_t>(c.outputs, 1, kMaxOutputs);
  c.max_voices = std::max<std::uint32_t>(c.max_voices, 1);
  if (c.fade_voices == 0) c.fade_voices = c.max_voices;
  c.clip_capacity = std::max<std::uint32_t>(c.clip_capacity, 1);
  c.max_messages_per_cycle = std::max<std::uint32_t>(c.max_messages_per_cycle, 1);
  c.max_pending = std::max<std::uint32_t>(c.max_pending, 1);
  c.retired_capacity = std::max<std::uint32_t>(c.retired_capacity, 1);
  c.max_midi_events = std::clamp<std::uint32_t>(c.max_midi_events, 1, kMidiBufferCapacity);
  if (c.streams == nullptr) c.stream_rings = 0;
  c.max_streamed_voices = std::min(c.max_streamed_voices, c.stream_rings);
  if (c.max_streamed_voices == 0) c.max_streamed_voices = c.stream_rings;
  c.stream_channels = std::max<std::uint32_t>(c.stream_channels, 1);
  if (c.sample_rate == 0) c.sample_rate = 48000;
  if (c.declick_frames == 0) c.declick_frames = std::max<std::uint32_t>(1, c.sample_rate / 200);
  return c;
}

// The ramp's sweep `k` samples past its current position.
mix::Sweep sweep_of(const Ramp& r, std::uint64_t k = 0) noexcept {
  if (!r.ramping()) return mix::Sweep{r.value, 0.0f, 0.0f, 0.0f};
  return mix::Sweep{r.from, r.to - r.from, static_cast<float>(r.done + k + 1),
                    1.0f / static_cast<float>(r.length)};
}

}  // namespace

Engine::Engine(const Config& config, Consumer<Message> in, Producer<Message> out)
    : config_(normalized(config)),
      in_(in),
      out_(out),
      pool_size_(config_.max_voices + config_.fade_voices),
      groups_(config_.max_voices + config_.fade_voices),
      index_(config_.max_voices + config_.fade_voices),
      timed_heap_(config_.max_pending),
      grouped_heap_(config_.max_voices + config_.fade_voices),
      voice_times_(config_.max_voices + config_.fade_voices),
      timed_times_(config_.max_pending) {
  voices_ = std::make_unique<Voice[]>(pool_size_);
  free_ = std::make_unique<std::uint32_t[]>(pool_size_);
  live_ = std::make_unique<std::uint32_t[]>(pool_size_);
  // Lowest slots first, so a small workload stays in few cache lines.
  for (std::uint32_t i = 0; i < pool_size_; ++i)
    free_[i] = pool_size_ - 1 - i;
  free_count_ = pool_size_;
  groups_pool_ = std::make_unique<Group[]>(pool_size_);
  groups_free_ = std::make_unique<std::uint32_t[]>(pool_size_);
  for (std::uint32_t i = 0; i < pool_size_; ++i)
    groups_free_[i] = pool_size_ - 1 - i;
  groups_free_count_ = pool_size_;
  key_lists_ = std::make_unique<VoiceList[]>(2 * kKeys);
  table_capacity_ = config_.clip_capacity;
  table_ = new ClipSlot[table_capacity_]();
  retired_capacity_ = config_.retired_capacity;
  retired_ = std::make_unique<Retired[]>(retired_capacity_);
  timed_ = std::make_unique<Timed[]>(config_.max_pending);
  timed_free_ = std::make_unique<std::uint32_t[]>(config_.max_pending);
  for (std::uint32_t i = 0; i < config_.max_pending; ++i)
    timed_free_[i] = config_.max_pending - 1 - i;
  timed_free_count_ = config_.max_pending;
  declick_ = config_.declick_frames;
  master_.jump(1.0f);
  scratch_ = std::make_unique<float[]>(3 * std::size_t{kMaxBlock});
  bin_frames_ = std::max<std::uint32_t>(1, config_.sample_rate / 100);
  bin_peak_ = std::make_unique<float[]>((kBins + 1) * config_.outputs);
  bin_sum_ = std::make_unique<float[]>((kBins + 1) * config_.outputs);
  spares_ = std::make_unique<MessageNode[]>(config_.spare_nodes);
  next_midi_id_ = config_.midi_voice_base;
  acting_ = std::make_unique<Acting[]>(kMidiBufferCapacity);
  gate_mark_ = std::make_unique<std::uint64_t[]>(kKeys);
  rings_ = config_.streams;
  ring_count_ = config_.stream_rings;
  ring_free_ = std::make_unique<std::uint32_t[]>(std::max<std::uint32_t>(ring_count_, 1));
  for (std::uint32_t i = 0; i < ring_count_; ++i)
    ring_free_[i] = i;
  ring_free_size_ = ring_count_;
  if (ring_count_ > 0) {
    ring_scratch_ =
        std::make_unique<float[]>(std::size_t{config_.stream_channels} * std::size_t{kMaxBlock});
  }
}

Engine::~Engine() {
  CLIPD_RT_ASSERT(!retired_once_ || holds_nothing());
  delete[] table_;
  if (bindings_node_) delete bindings_node_->bindings.table;
}

// ---------------------------------------------------------------------------------------------
// The cycle.

void Engine::process(std::uint64_t frame, std::uint32_t nframes, float* const* outputs,
                     std::uint64_t usecs) noexcept {
  process(frame, nframes, outputs, usecs, nullptr, 0);
}

void Engine::process(std::uint64_t frame, std::uint32_t nframes, float* const* outputs,
                     std::uint64_t usecs, const MidiEventView* midi, std::uint32_t midi_count,
                     std::uint64_t next_usecs) noexcept {
  RealtimeScope realtime;
  DenormalScope denormals;
  frame_ = frame;
  nframes_ = nframes;
  usecs_ = usecs;
  previous_end_usecs_ = next_usecs_;
  // Without the server's estimate, the cycle's nominal length.
  next_usecs_ = next_usecs > usecs
                    ? next_usecs
                    : usecs + std::max<std::uint64_t>(
                                  1, std::uint64_t{nframes} * 1000000 / config_.sample_rate);
  outputs_ = outputs;
  midi_ = midi;
  midi_count_ = midi == nullptr ? 0 : midi_count;
  if (midi_count_ > kMidiBufferCapacity) {
    midi_dropped_count_ += midi_count_ - kMidiBufferCapacity;
    midi_count_ = kMidiBufferCapacity;
  }
  midi_next_ = 0;
  acting_count_ = 0;
  for (std::uint32_t o = 0; o < config_.outputs; ++o) {
    std::memset(outputs[o], 0, sizeof(float) * nframes);
  }
  for (std::uint32_t i = 0; i < live_count_; ++i)
    voices_[live_[i]].done = 0;
  take_messages();
  bind_times();
  filter_midi();
  // Events in frame order; each mixes the voices it changes up to its frame first.
  apply_events(0);
  for (std::uint32_t at = 0;;) {
    at = next_event(at, nframes);
    if (at >= nframes) break;
    apply_events(at);
  }
  render(nframes);
  finish_outputs(nframes);
  midi_ = nullptr;
  midi_count_ = midi_next_ = acting_count_ = 0;
  if (config_.cycle_hook != nullptr) config_.cycle_hook(config_.cycle_hook_arg);

  last_usecs_.store(usecs, std::memory_order_relaxed);
  last_next_usecs_.store(next_usecs, std::memory_order_relaxed);
  last_nframes_.store(nframes, std::memory_order_relaxed);
  live_voices_pub_.store(live_count_, std::memory_order_relaxed);
  lost_events_.store(lost_, std::memory_order_relaxed);
  dropped_notes_.store(dropped_, std::memory_order_relaxed);
  midi_dropped_.store(midi_dropped_count_, std::memory_order_relaxed);
  underruns_.store(underrun_count_, std::memory_order_relaxed);
  spare_count_pub_.store(spare_count_, std::memory_order_relaxed);
  master_gain_pub_.store(master_.value, std::memory_order_relaxed);
  cycles_.fetch_add(1, std::memory_order_relaxed);
  CLIPD_RT_ASSERT(invariants_hold());
  // Last, with release: a reader that sees this frame sees the rest of this cycle's values.
  last_frame_.store(frame, std::memory_order_release);
}

void Engine::take_messages() noexcept {
  // A voices query copies every live voice: one a cycle. A second one waits for the next cycle
  // (and the messages behind it with it), so a flood of queries costs one copy per cycle.
  bool queried = false;
  std::uint32_t taken = 0;
  if (deferred_query_) {
    handle(std::move(deferred_query_));
    queried = true;
    ++taken;
  }
  for (; taken < config_.max_messages_per_cycle; ++taken) {
    MessageNode node = in_.pop();
    if (!node) return;
    if (node->kind == Kind::query_voices) {
      if (queried) {
        deferred_query_ = std::move(node);
        return;
      }
      queried = true;
    }
    handle(std::move(node));
  }
}

void Engine::send(MessageNode&& node) noexcept {
  out_.push(std::move(node));
}

void Engine::handle(MessageNode&& node) noexcept {
  Message& m = *node;
  switch (m.kind) {
    case Kind::add_clip:
      handle_add(std::move(node));
      return;
    case Kind::remove_clip:
      handle_remove(std::move(node));
      return;
    case Kind::replace_clip:
      handle_replace(std::move(node));
      return;
    case Kind::grow_clip_table:
      handle_grow(std::move(node));
      return;
    case Kind::voice_end:
      if (pending_end_) {
        // A voice_end whose play never followed: back as ended, unstarted.
        Message& old = *pending_end_;
        old.kind = Kind::voice_ended;
        old.ended.frame = frame_;
        old.ended.reason = EndReason::stopped;
        send(std::move(pending_end_));
      }
      pending_end_ = std::move(node);
      return;
    case Kind::play:
      handle_play(std::move(node));
      return;
    case Kind::stop:
    case Kind::set: {
      const std::uint64_t at_frame = m.kind == Kind::stop ? m.stop.at_frame : m.set.at_frame;
      const std::uint64_t at_nsecs = m.kind == Kind::stop ? m.stop.at_nsecs : m.set.at_nsecs;
      if (at_frame != kNow && (at_nsecs != 0 || at_frame > frame_)) {
        wait_timed(std::move(node));
        return;
      }
      // Records waiting for this cycle's first frame (or an earlier one) arrived before this
      // command: they act first. Each record acts once, so this adds at most T acts per cycle.
      while (!timed_heap_.empty() && timed_heap_.top().frame <= frame_)
        act(take_timed(timed_heap_.top().id), 0);
      act(std::move(node), 0);
      return;
    }
    case Kind::pause:
      act_pause(m.pause);
      send(std::move(node));
      return;
    case Kind::resume:
      act_resume(m.pause);
      send(std::move(node));
      return;
    case Kind::master:
      master_.start(m.master.gain, m.master.ramp);
      send(std::move(node));
      return;
    case Kind::query_voices:
      handle_query_voices(m);
      send(std::move(node));
      return;
    case Kind::query_meters:
      handle_query_meters(m);
      send(std::move(node));
      return;
    case Kind::set_bindings:
      handle_bindings(std::move(node));
      return;
    case Kind::spare:
      handle_spare(std::move(node));
      return;
    case Kind::voice_started:
    case Kind::voice_ended:
    case Kind::clip_released:
    case Kind::table_released:
    case Kind::bindings_released:
      break;
  }
  send(std::move(node));  // not a command: straight back
}

// ---------------------------------------------------------------------------------------------
// Clips.

void Engine::handle_add(MessageNode&& node) noexcept {
  const std::uint32_t slot = node->clip.slot;
  if (slot >= table_capacity_) {
    node->kind = Kind::clip_released;
    send(std::move(node));
    return;
  }
  if (table_[slot].node) retire_clip(slot, 0);
  table_[slot].node = std::move(node);
  table_[slot].node->kind = Kind::add_clip;
}

void Engine::handle_replace(MessageNode&& node) noexcept {
  handle_add(std::move(node));
}

void Engine::handle_remove(MessageNode&& node) noexcept {
  const std::uint32_t slot = node->remove.slot;
  const bool found = slot < table_capacity_ && table_[slot].node;
  if (found) retire_clip(slot, 0);
  node->remove.found = found;
  send(std::move(node));
}

void Engine::handle_grow(MessageNode&& node) noexcept {
  TablePayload& t = node->table;
  if (t.table != nullptr && t.capacity > table_capacity_) {
    for (std::uint32_t i = 0; i < table_capacity_; ++i) {
      t.table[i].node = std::move(table_[i].node);
      t.table[i].readers = std::exchange(table_[i].readers, 0);
      t.table[i].voices = std::exchange(table_[i].voices, VoiceList{});
    }
    std::swap(t.table, table_);
    std::swap(t.capacity, table_capacity_);
  }
  node->kind = Kind::table_released;  // the old table, or the refused new one
  send(std::move(node));
}

void Engine::release_clip(MessageNode& rider) noexcept {
  rider->kind = Kind::clip_released;
  send(std::move(rider));
}

void Engine::retire_clip(std::uint32_t slot, std::uint32_t at) noexcept {
  ClipSlot& s = table_[slot];
  if (s.readers == 0) {
    release_clip(s.node);
    return;
  }
  std::uint32_t r = 0;
  while (r < retired_capacity_ && retired_[r].node)
    ++r;
  if (r == retired_capacity_) {
    // No record free: the clip's voices end now, so the clip can go back now.
    while (!s.voices.empty()) {
      const std::uint32_t v = s.voices.head;
      if (catch_up(v, at)) end_voice(v, frame_ + at, EndReason::unloaded);
    }
    release_clip(s.node);
    return;
  }
  Retired& record = retired_[r];
  record.node = std::move(s.node);
  record.readers = std::exchange(s.readers, 0);
  record.voices = std::exchange(s.voices, VoiceList{});
  for (std::uint32_t v = record.voices.head; v != kNoIndex; v = voices_[v].clip_next)
    voices_[v].retired = r;
  // Stopping may end a voice (which leaves the list, and the last one frees the record): read
  // the next link first.
  for (std::uint32_t v = record.voices.head; v != kNoIndex;) {
    const std::uint32_t next = voices_[v].clip_next;
    stop_voice(v, declick_, EndReason::unloaded, at);  // a stopping voice's fade only shortens
    v = next;
  }
}

// ---------------------------------------------------------------------------------------------
// Voices.

namespace {

constexpr auto push_play = list_push_back<Voice, &Voice::prev, &Voice::next>;
constexpr auto remove_play = list_remove<Voice, &Voice::prev, &Voice::next>;
constexpr auto push_clip = list_push_back<Voice, &Voice::clip_prev, &Voice::clip_next>;
constexpr auto remove_clip = list_remove<Voice, &Voice::clip_prev, &Voice::clip_next>;
constexpr auto push_group = list_push_back<Voice, &Voice::group_prev, &Voice::group_next>;
constexpr auto remove_group = list_remove<Voice, &Voice::group_prev, &Voice::group_next>;
constexpr auto push_key = list_push_back<Voice, &Voice::key_prev, &Voice::key_next>;
constexpr auto remove_key = list_remove<Voice, &Voice::key_prev, &Voice::key_next>;

}  // namespace

void Engine::join_group(std::uint32_t v) noexcept {
  Voice& x = voices_[v];
  std::uint32_t g = groups_.find(x.group);
  if (g == VoiceIndex::kNone) {
    // At most one record per live voice, and the pool has one per voice slot: never empty here.
    g = groups_free_[--groups_free_count_];
    groups_pool_[g].id = x.group;
    groups_.insert(x.group, g);
  }
  x.group_rec = g;
  push_group(voices_.get(), groups_pool_[g].others, v);
}

void Engine::move_group(std::uint32_t v, bool sounding) noexcept {
  Voice& x = voices_[v];
  if (x.group_rec == kNoIndex) return;
  Group& g = groups_pool_[x.group_rec];
  remove_group(voices_.get(), sounding ? g.others : g.sounding, v);
  push_group(voices_.get(), sounding ? g.sounding : g.others, v);
}

void Engine::leave_group(std::uint32_t v) noexcept {
  Voice& x = voices_[v];
  if (x.group_rec == kNoIndex) return;
  Group& g = groups_pool_[x.group_rec];
  const bool sounding = x.state == VoiceState::playing || x.state == VoiceState::paused;
  remove_group(voices_.get(), sounding ? g.sounding : g.others, v);
  if (g.sounding.empty() && g.others.empty()) {
    groups_.erase(g.id, x.group_rec);
    groups_free_[groups_free_count_++] = x.group_rec;
  }
  x.group_rec = kNoIndex;
}

void Engine::leave_key(std::uint32_t v) noexcept {
  Voice& x = voices_[v];
  if (x.key_list == kNoIndex) return;
  remove_key(voices_.get(), key_lists_[x.key_list], v);
  x.key_list = kNoIndex;
}

std::uint32_t Engine::alloc_voice(std::uint32_t at) noexcept {
  if (free_count_ == 0) {
    // Every fade slot is taken: cut the voice that began stopping first.
    const std::uint32_t v = stopping_.head;
    if (catch_up(v, at)) end_voice(v, frame_ + at, voices_[v].stop_reason);
  }
  return free_[--free_count_];
}

void Engine::handle_play(MessageNode&& node) noexcept {
  const PlayPayload p = node->play;
  MessageNode end = std::move(pending_end_);
  if (end && end->ended.voice != p.voice) {
    Message& old = *end;
    old.kind = Kind::voice_ended;
    old.ended.frame = frame_;
    old.ended.reason = EndReason::stopped;
    send(std::move(end));
  }
  const bool valid = p.clip < table_capacity_ && table_[p.clip].node;
  if (!valid) {
    node->kind = Kind::voice_started;
    node->started = StartedPayload{p.voice, frame_, p.clip, false, false, p.group, false};
    send(std::move(node));
    if (end) {
      end->kind = Kind::voice_ended;
      end->ended = EndedPayload{p.voice, frame_, p.clip, EndReason::unloaded, false};
      send(std::move(end));
    } else {
      ++lost_;
    }
    return;
  }
  const std::uint32_t v = place_voice(p, 0);
  Voice& x = voices_[v];
  x.start_node = std::move(node);
  x.end_node = std::move(end);
}

std::uint32_t Engine::place_voice(const PlayPayload& p, std::uint32_t at) noexcept {
  if (active_.size >= config_.max_voices) {
    stop_voice(active_.head, declick_, EndReason::stolen, at);
  }
  const std::uint32_t v = alloc_voice(at);
  Voice& x = voices_[v];
  const ClipSamples clip = table_[p.clip].node->clip.samples;

  x.id = p.voice;
  x.seq = next_seq_++;
  x.late = p.at_frame != kNow && p.at_frame < frame_;
  x.start_frame = (p.at_frame == kNow || p.at_frame < frame_) ? frame_ : p.at_frame;
  x.at_nsecs = p.at_frame != kNow ? p.at_nsecs : 0;
  if (x.at_nsecs != 0) {
    x.late = false;  // bind_times() decides
    voice_times_.push(v, x.at_nsecs, x.seq);
  }
  x.clip = clip;
  x.slot = p.clip;
  x.retired = kNoIndex;
  x.group = p.group;

  x.loop_end = std::min(p.loop_end, clip.frames);
  x.loop_start = std::min(p.loop_start, x.loop_end);
  const bool looping = p.loops != 0 && x.loop_end - x.loop_start >= kMinLoopFrames;
  x.region_end = looping ? x.loop_end : clip.frames;
  x.forever = looping && p.loops == kLoopForever;
  x.passes_left = looping && !x.forever ? p.loops - 1 : 0;
  x.pos = std::min(p.offset, x.region_end);
  x.remaining = p.length;

  x.gain.jump(p.gain);
  x.pan.jump(std::clamp(p.pan, -1.0f, 1.0f));
  if (p.fade_in > 0) {
    x.env.jump(0.0f);
    x.env.start(1.0f, p.fade_in);
  } else {
    x.env.jump(1.0f);
  }
  x.state = VoiceState::scheduled;
  x.holding = false;
  x.stop_reason = EndReason::stopped;
  x.midi = false;
  x.trigger = TriggerMode::oneshot;
  x.note_channel = x.note = 0;
  x.binding_key = 0;

  const std::uint64_t mask = p.outputs;
  std::uint8_t selected = 0;
  std::uint8_t outs[kMaxOutputs];
  for (std::uint32_t o = 0; o < config_.outputs; ++o) {
    if ((mask >> o) & 1u) outs[selected++] = static_cast<std::uint8_t>(o);
  }
  if (clip.channels <= 1) {
    x.routes = clip.channels == 0 ? 0 : selected;
    for (std::uint8_t r = 0; r < x.routes; ++r) {
      x.out[r] = outs[r];
      x.src[r] = 0;
    }
  } else {
    x.routes = static_cast<std::uint8_t>(std::min<std::uint32_t>(selected, clip.channels));
    for (std::uint8_t r = 0; r < x.routes; ++r) {
      x.out[r] = outs[r];
      x.src[r] = r;
    }
  }

  x.live_pos = live_count_;
  live_[live_count_++] = v;
  push_play(voices_.get(), active_, v);
  index_.insert(x.id, v);
  ++table_[p.clip].readers;
  push_clip(voices_.get(), table_[p.clip].voices, v);
  x.group_rec = kNoIndex;
  x.key_list = kNoIndex;
  if (x.group != 0) join_group(v);
  x.waiting = kNoIndex;
  x.done = at;
  x.ring = kNoIndex;
  x.ring_read = 0;
  x.starving = false;
  // A streamed clip's voice whose playing order leaves the head (its first pass ends past it: a
  // loop region inside the head keeps the voice in memory) reads a ring from there on.
  x.needs_ring = clip.stream != 0 && x.region_end > clip.head;
  x.on_ring = x.needs_ring && x.pos >= clip.head;
  if (x.needs_ring) take_ring(v, at);
  if (x.group != 0) grouped_heap_.push(v, x.at_nsecs != 0 ? kUnbound : x.start_frame, x.seq);
  return v;
}

void Engine::take_ring(std::uint32_t v, std::uint32_t at) noexcept {
  if (ring_count_ == 0) return;  // no rings: the voice ends where the head does (read_error)
  if (streamed_active_ >= config_.max_streamed_voices) {
    // The oldest streamed voice not yet stopping gives way, as at the voice limit.
    for (std::uint32_t u = active_.head; u != kNoIndex; u = voices_[u].next) {
      if (u != v && voices_[u].ring != kNoIndex) {
        stop_voice(u, declick_, EndReason::stolen, at);
        break;
      }
    }
  }
  if (ring_free_size_ == 0) {
    // Every ring is held by voices fading out: cut the one that began stopping first.
    for (std::uint32_t u = stopping_.head; u != kNoIndex; u = voices_[u].next) {
      if (voices_[u].ring != kNoIndex) {
        if (catch_up(u, at)) end_voice(u, frame_ + at, voices_[u].stop_reason);
        break;
      }
    }
  }
  if (ring_free_size_ == 0) return;
  Voice& x = voices_[v];
  x.ring = ring_free_[ring_free_head_];
  ring_free_head_ = (ring_free_head_ + 1) % ring_count_;
  --ring_free_size_;
  ++streamed_active_;
  const bool looping = x.forever || x.passes_left > 0;
  StreamRequest r;
  r.clip = x.clip.stream;
  r.voice = x.id;
  r.start = std::max(x.pos, x.clip.head);
  r.first_end = x.region_end;
  r.loop_start = x.loop_start;
  r.loop_end = x.loop_end;
  r.channels = std::min(x.clip.channels, config_.stream_channels);
  r.looping = looping;
  x.ring_gen = rings_[x.ring].request(r);
  x.ring_read = 0;
}

void Engine::drop_ring(Voice& x) noexcept {
  if (x.ring == kNoIndex) return;
  rings_[x.ring].release();
  ring_free_[(ring_free_head_ + ring_free_size_) % ring_count_] = x.ring;
  ++ring_free_size_;
  if (x.state != VoiceState::stopping) --streamed_active_;
  x.ring = kNoIndex;
}

bool Engine::ring_ready(const Voice& x) const noexcept {
  if (!x.on_ring) return true;
  if (x.ring == kNoIndex) return true;  // it ends at once (read_error)
  bool failed = false;
  const std::uint64_t have = rings_[x.ring].available(x.ring_gen, x.ring_read, failed);
  const bool looping = x.forever || x.passes_left > 0;
  const std::uint64_t pass = x.region_end > x.pos ? x.region_end - x.pos : 0;
  const std::uint64_t want = looping ? kStreamStartFrames : std::min(kStreamStartFrames, pass);
  return failed || have >= want;
}

void Engine::pull_ring(Voice& x, std::uint32_t at, std::uint32_t n,
                       std::uint64_t from_head) noexcept {
  const std::uint32_t channels = std::min(x.clip.channels, config_.stream_channels);
  // Only the channels the routes read.
  std::uint32_t used = 0;
  for (std::uint32_t r = 0; r < x.routes; ++r)
    used = std::max<std::uint32_t>(used, x.src[r] + 1u);
  used = std::min(used, channels);
  const std::uint64_t want = n - from_head;
  std::uint64_t got = 0;
  bool failed = false;
  if (x.ring != kNoIndex) {
    got = std::min<std::uint64_t>(rings_[x.ring].available(x.ring_gen, x.ring_read, failed), want);
  }
  for (std::uint32_t c = 0; c < used; ++c) {
    float* out = ring_scratch_.get() + std::size_t{c} * kMaxBlock;
    if (from_head > 0) std::memcpy(out, x.clip.channel(c) + x.pos, sizeof(float) * from_head);
    if (got > 0) rings_[x.ring].read(x.ring_read, got, channels, c, out + from_head);
    if (got < want) std::memset(out + from_head + got, 0, sizeof(float) * (want - got));
  }
  if (x.ring == kNoIndex) return;
  StreamRing& ring = rings_[x.ring];
  if (got < want && !failed) {
    // Missing frames play as silence and are skipped, so the voice keeps time.
    const bool fresh = !x.starving;
    if (fresh) ++underrun_count_;
    x.starving = true;
    ring.report_underrun(x.id, x.slot, frame_ + at + from_head + got, want - got, fresh);
  } else {
    x.starving = false;
  }
  x.ring_read += want;
  ring.consume(x.ring_gen, x.ring_read);
}

void Engine::start_voice(std::uint32_t v, std::uint32_t at) noexcept {
  Voice& x = voices_[v];
  x.state = VoiceState::playing;
  x.done = at;  // silent before its first sample
  grouped_heap_.erase(v);
  move_group(v, true);
  if (frame_ + at > x.start_frame) x.late = true;  // its frame was skipped by a counter jump
  if (!x.start_node) {
    ++lost_;  // a MIDI voice started with a dry spare pool
    return;
  }
  Message& m = *x.start_node;
  m.kind = Kind::voice_started;
  m.started = StartedPayload{x.id, frame_ + at, x.slot, true, x.late, x.group, x.midi};
  send(std::move(x.start_node));
}

void Engine::choke(std::uint32_t v, std::uint32_t at) noexcept {
  // The group's sounding list holds exactly the playing and paused voices: each one stopped
  // leaves it (to the other list, or ends), so the walk reads the next link first.
  const std::uint32_t g = voices_[v].group_rec;
  if (g == kNoIndex) return;
  for (std::uint32_t u = groups_pool_[g].sounding.head; u != kNoIndex;) {
    const std::uint32_t next = voices_[u].group_next;
    if (u != v) stop_voice(u, declick_, EndReason::choked, at);
    u = next;
  }
}

bool Engine::catch_up(std::uint32_t v, std::uint32_t at) noexcept {
  Voice& x = voices_[v];
  if (x.done < at) {
    render_voice(v, x.done, at);
    if (x.live_pos == kNoIndex) return false;  // it ended on its own before `at`
    x.done = at;
  }
  return true;
}

bool Engine::stop_voice(std::uint32_t v, std::uint64_t fade, EndReason reason,
                        std::uint32_t at) noexcept {
  Voice& x = voices_[v];
  if (x.state == VoiceState::stopping && fade != 0) {
    // Only a shorter fade changes a stopping voice: decide without mixing it up to `at` (a storm
    // of stops on fading voices then costs O(1) each).
    const std::uint64_t elapsed = at - x.done;
    if (x.env.left() <= elapsed || fade >= x.env.left() - elapsed) return false;
  }
  if (!catch_up(v, at)) return false;
  switch (x.state) {
    case VoiceState::scheduled:
    case VoiceState::paused:
      end_voice(v, frame_ + at, reason);
      return true;
    case VoiceState::stopping:
      if (fade == 0) {
        end_voice(v, frame_ + at, x.stop_reason);
      } else if (fade < x.env.left()) {
        x.env.start(0.0f, fade);
      }
      return false;
    case VoiceState::playing:
      if (fade == 0) {
        end_voice(v, frame_ + at, reason);
        return true;
      }
      move_group(v, false);
      leave_key(v);
      if (x.ring != kNoIndex) --streamed_active_;  // a fading voice keeps its ring
      x.state = VoiceState::stopping;
      x.stop_reason = reason;
      x.env.start(0.0f, fade);
      remove_play(voices_.get(), active_, v);
      push_play(voices_.get(), stopping_, v);
      return true;
  }
  return false;
}

void Engine::end_voice(std::uint32_t v, std::uint64_t frame, EndReason reason) noexcept {
  Voice& x = voices_[v];
  if (x.start_node) {
    Message& m = *x.start_node;
    m.kind = Kind::voice_started;
    m.started = StartedPayload{x.id, frame, x.slot, false, x.late, x.group, x.midi};
    send(std::move(x.start_node));
  } else if (x.state == VoiceState::scheduled) {
    ++lost_;  // never started, and no node to say so
  }
  if (x.end_node) {
    Message& m = *x.end_node;
    m.kind = Kind::voice_ended;
    m.ended = EndedPayload{x.id, frame, x.slot, reason, x.midi};
    send(std::move(x.end_node));
  } else {
    ++lost_;
  }
  grouped_heap_.erase(v);
  voice_times_.erase(v);
  x.at_nsecs = 0;
  // Stopping a voice releases what waits for it: its timed stop/set come back unacted now.
  while (x.waiting != kNoIndex)
    send_unacted(take_timed(x.waiting));
  if (x.state == VoiceState::stopping) {
    remove_play(voices_.get(), stopping_, v);
  } else {
    remove_play(voices_.get(), active_, v);
  }
  leave_group(v);
  leave_key(v);
  drop_ring(x);
  const std::uint32_t last = live_[--live_count_];
  live_[x.live_pos] = last;
  voices_[last].live_pos = x.live_pos;
  x.live_pos = kNoIndex;
  index_.erase(x.id, v);
  if (x.retired != kNoIndex) {
    Retired& r = retired_[x.retired];
    remove_clip(voices_.get(), r.voices, v);
    if (--r.readers == 0) release_clip(r.node);
    x.retired = kNoIndex;
  } else {
    remove_clip(voices_.get(), table_[x.slot].voices, v);
    --table_[x.slot].readers;
  }
  free_[free_count_++] = v;
}

// ---------------------------------------------------------------------------------------------
// Commands that name voices.

void Engine::act(MessageNode&& node, std::uint32_t at) noexcept {
  Message& m = *node;
  if (m.kind == Kind::stop) {
    m.stop.stopped = act_stop(m.stop, at);
  } else {
    m.set.found = act_set(m.set, at);
  }
  send(std::move(node));
}

void Engine::send_unacted(MessageNode&& node) noexcept {
  Message& m = *node;
  if (m.kind == Kind::stop) {
    m.stop.stopped = 0;
  } else {
    m.set.found = false;
  }
  send(std::move(node));
}

void Engine::wait_timed(MessageNode&& node) noexcept {
  const Message& m = *node;
  std::uint32_t v = kNoIndex;
  if (m.kind == Kind::set || m.stop.target == StopTarget::voice) {
    v = index_.find(m.kind == Kind::set ? m.set.voice : m.stop.id);
    // No live voice of that id: nothing can act on it later either (ids are unique among live
    // voices and a new play of the id would be a different voice).
    if (v == VoiceIndex::kNone) {
      send_unacted(std::move(node));
      return;
    }
  }
  if (timed_free_count_ == 0) {
    // Control keeps at most max_pending in flight; one past that comes back at once.
    send_unacted(std::move(node));
    return;
  }
  const std::uint32_t t = timed_free_[--timed_free_count_];
  Timed& r = timed_[t];
  const std::uint64_t at_frame = m.kind == Kind::stop ? m.stop.at_frame : m.set.at_frame;
  const std::uint64_t at_nsecs = m.kind == Kind::stop ? m.stop.at_nsecs : m.set.at_nsecs;
  r.node = std::move(node);
  r.voice = v;
  r.prev = kNoIndex;
  r.next = kNoIndex;
  if (v != kNoIndex) {
    Voice& x = voices_[v];
    r.next = x.waiting;
    if (x.waiting != kNoIndex) timed_[x.waiting].prev = t;
    x.waiting = t;
  }
  const std::uint64_t seq = timed_seq_++;
  if (at_nsecs != 0) {
    timed_heap_.push(t, kUnbound, seq);
    timed_times_.push(t, at_nsecs, seq);
  } else {
    timed_heap_.push(t, at_frame, seq);
  }
}

void Engine::bind_times() noexcept {
  const std::uint64_t end = next_usecs_ * 1000;  // the span's end, in nanoseconds
  while (!voice_times_.empty() && voice_times_.top().frame < end) {
    const std::uint64_t at = voice_times_.top().frame;
    const std::uint32_t v = voice_times_.pop();
    Voice& x = voices_[v];
    bool late = false;
    x.start_frame = frame_of_nsecs(at, late);
    x.late = late;
    x.at_nsecs = 0;
    if (grouped_heap_.contains(v)) grouped_heap_.rekey(v, x.start_frame);
  }
  while (!timed_times_.empty() && timed_times_.top().frame < end) {
    const std::uint64_t at = timed_times_.top().frame;
    const std::uint32_t t = timed_times_.pop();
    bool late = false;
    timed_heap_.rekey(t, frame_of_nsecs(at, late));
  }
}

std::uint64_t Engine::frame_of_nsecs(std::uint64_t nsecs, bool& late) const noexcept {
  const double du = static_cast<double>(static_cast<std::int64_t>(nsecs - usecs_ * 1000)) / 1000;
  const auto dp = static_cast<double>(next_usecs_ - usecs_);
  const double offset = std::rint(du / dp * nframes_);
  // Before this cycle: late when the last cycle's span held it (the command came after that
  // cycle); a time between the last cycle's estimated end and this cycle's start (a server whose
  // cycles do not start where it estimated, as PipeWire's) is this cycle's first frame, on time.
  late = offset < 0 && nsecs < previous_end_usecs_ * 1000;
  // At most nframes_ (nsecs < next_usecs_ * 1000): the next cycle's first frame.
  return offset <= 0 ? frame_ : frame_ + static_cast<std::uint64_t>(offset);
}

MessageNode Engine::take_timed(std::uint32_t t) noexcept {
  Timed& r = timed_[t];
  timed_heap_.erase(t);
  timed_times_.erase(t);
  if (r.voice != kNoIndex) {
    if (r.prev != kNoIndex) {
      timed_[r.prev].next = r.next;
    } else {
      voices_[r.voice].waiting = r.next;
    }
    if (r.next != kNoIndex) timed_[r.next].prev = r.prev;
  }
  r.voice = r.prev = r.next = kNoIndex;
  timed_free_[timed_free_count_++] = t;
  return std::move(r.node);
}

std::uint32_t Engine::act_stop(const StopPayload& s, std::uint32_t at) noexcept {
  if (s.target == StopTarget::voice) {
    const std::uint32_t v = index_.find(s.id);
    if (v == VoiceIndex::kNone) return 0;
    return stop_voice(v, s.fade, s.reason, at) ? 1 : 0;
  }
  std::uint32_t count = 0;
  if (s.target == StopTarget::all) {
    // Stopping may end a voice, which moves the last live voice into its place.
    for (std::uint32_t i = 0; i < live_count_;) {
      const std::uint32_t v = live_[i];
      count += stop_voice(v, s.fade, s.reason, at) ? 1 : 0;
      if (i < live_count_ && live_[i] == v) ++i;
    }
    return count;
  }
  // The walks read the next link first: a stopped voice may end (and leave its lists).
  if (s.target == StopTarget::clip) {
    if (s.id >= table_capacity_) return 0;
    for (std::uint32_t v = table_[s.id].voices.head; v != kNoIndex;) {
      const std::uint32_t next = voices_[v].clip_next;
      count += stop_voice(v, s.fade, s.reason, at) ? 1 : 0;
      v = next;
    }
    return count;
  }
  if (s.id == 0 || s.id > 0xffffffffu) return 0;  // group 0 is "no group"
  const std::uint32_t g = groups_.find(s.id);
  if (g == VoiceIndex::kNone) return 0;
  // The others first (scheduled and stopping), then the sounding ones, which move to the others
  // list as they begin stopping and so are not met twice. The record stays while a voice does.
  for (std::uint32_t v = groups_pool_[g].others.head; v != kNoIndex;) {
    const std::uint32_t next = voices_[v].group_next;
    count += stop_voice(v, s.fade, s.reason, at) ? 1 : 0;
    v = next;
  }
  for (std::uint32_t v = groups_pool_[g].sounding.head; v != kNoIndex;) {
    const std::uint32_t next = voices_[v].group_next;
    count += stop_voice(v, s.fade, s.reason, at) ? 1 : 0;
    v = next;
  }
  return count;
}

bool Engine::act_set(const SetPayload& s, std::uint32_t at) noexcept {
  const std::uint32_t v = index_.find(s.voice);
  if (v == VoiceIndex::kNone || !catch_up(v, at)) return false;
  Voice& x = voices_[v];
  if (s.has_gain) x.gain.start(s.gain, s.ramp);
  if (s.has_pan) x.pan.start(std::clamp(s.pan, -1.0f, 1.0f), s.ramp);
  return true;
}

void Engine::act_pause(PausePayload& p) noexcept {
  const std::uint32_t v = index_.find(p.voice);
  p.found = v != VoiceIndex::kNone;
  if (!p.found) return;
  Voice& x = voices_[v];
  if (x.state != VoiceState::playing) return;
  x.state = VoiceState::paused;
  x.env.start(0.0f, p.fade);
  if (!x.env.ramping()) x.holding = true;
}

void Engine::act_resume(PausePayload& p) noexcept {
  const std::uint32_t v = index_.find(p.voice);
  p.found = v != VoiceIndex::kNone;
  if (!p.found) return;
  Voice& x = voices_[v];
  if (x.state != VoiceState::paused) return;
  x.state = VoiceState::playing;
  x.holding = false;
  x.env.start(1.0f, p.fade);
}

// ---------------------------------------------------------------------------------------------
// Events inside the cycle: timed stop/set, MIDI events and starts of voices with a choke group act
// on their exact frame; each mixes the voices it changes up to that frame first (catch_up), so
// the other voices are mixed in one piece.

std::uint32_t Engine::next_event(std::uint32_t from, std::uint32_t to) const noexcept {
  std::uint32_t next = to;
  if (midi_next_ < acting_count_) {
    const std::uint32_t o = acting_[midi_next_].at;
    if (o > from && o < to) next = o;
  }
  const std::uint64_t lo = frame_ + from, hi = frame_ + to;
  // Both heaps hold nothing due at or before `from` (apply_events took it): their tops are the
  // next frames at which they act.
  if (!timed_heap_.empty()) {
    const std::uint64_t f = timed_heap_.top().frame;
    if (f > lo && f < hi) next = std::min(next, static_cast<std::uint32_t>(f - frame_));
  }
  if (!grouped_heap_.empty()) {
    const std::uint64_t f = grouped_heap_.top().frame;
    if (f > lo && f < hi) next = std::min(next, static_cast<std::uint32_t>(f - frame_));
  }
  return next;
}

void Engine::apply_events(std::uint32_t at) noexcept {
  const std::uint64_t now = frame_ + at;
  // Timed commands due now, by frame and then in the order they arrived (a stop may end a voice
  // and so take other records out of the heap: the top is read afresh each time).
  while (!timed_heap_.empty() && timed_heap_.top().frame <= now)
    act(take_timed(timed_heap_.top().id), at);
  // MIDI events due now, in their order (a voice they start is scheduled for this frame).
  while (midi_next_ < acting_count_ && acting_[midi_next_].at <= at) {
    handle_midi(midi_[acting_[midi_next_].index], at);
    ++midi_next_;
  }
  // Voices with a choke group that start now, in play order: each chokes its group.
  while (!grouped_heap_.empty() && grouped_heap_.top().frame <= now) {
    const std::uint32_t v = grouped_heap_.pop();
    if (!ring_ready(voices_[v])) {
      // Its ring is not primed: try again at the next cycle's first frame (late then).
      grouped_heap_.push(v, frame_ + nframes_, voices_[v].seq);
      continue;
    }
    start_voice(v, at);
    choke(v, at);
  }
}

void Engine::render(std::uint32_t to) noexcept {
  // Clip reads jump from voice to voice, which the hardware prefetchers cannot guess: ask for the
  // samples a few voices ahead while this one mixes (a hint; it never faults).
  constexpr std::uint32_t kAhead = 4;
  const std::uint32_t span = std::min<std::uint32_t>(to, 1024);
  for (std::uint32_t i = 0; i < live_count_;) {
    if (i + kAhead < live_count_) {
      const Voice& ahead = voices_[live_[i + kAhead]];
      const std::uint32_t hinted = ahead.on_ring ? 0 : ahead.routes;
      for (std::uint32_t r = 0; r < hinted && r < 2; ++r) {
        const float* p = ahead.clip.channel(ahead.src[r]) + ahead.pos;
        for (std::uint32_t k = 0; k < span; k += 16)
          __builtin_prefetch(p + k);
      }
    }
    const std::uint32_t v = live_[i];
    if (voices_[v].done < to) render_voice(v, voices_[v].done, to);
    if (i < live_count_ && live_[i] == v) ++i;  // else it ended: a later voice took its place
  }
}

void Engine::render_voice(std::uint32_t v, std::uint32_t from, std::uint32_t to) noexcept {
  Voice& x = voices_[v];
  std::uint32_t at = from;
  if (x.state == VoiceState::scheduled) {
    if (x.group != 0) return;     // started by apply_events on its frame
    if (x.at_nsecs != 0) return;  // not bound to a frame yet: bind_times() does it
    // A start frame skipped by a jump of the frame counter starts at once (and is late).
    const std::uint64_t start = x.start_frame > frame_ ? x.start_frame - frame_ : 0;
    if (start >= to) return;
    // A start beyond a streamed clip's head waits for its ring (and is late when it waited).
    if (!ring_ready(x)) return;
    at = std::max<std::uint32_t>(from, static_cast<std::uint32_t>(start));
    start_voice(v, at);
  }
  while (at < to) {
    if (x.holding) return;
    // Frames left to play: the current pass, then the loop passes left (a chunk never needs more
    // than kMaxBlock / kMinLoopFrames + 1 of them; capping keeps the product small).
    const std::uint64_t pass = x.region_end > x.pos ? x.region_end - x.pos : 0;
    const std::uint64_t loop = x.loop_end - x.loop_start;
    std::uint64_t left = kUnlimited;
    if (!x.forever) {
      constexpr std::uint64_t kMaxWraps = kMaxBlock / kMinLoopFrames + 1;
      left = pass + std::min<std::uint64_t>(x.passes_left, kMaxWraps) * loop;
    }
    if (left == 0 || x.remaining == 0) {
      end_voice(v, frame_ + at,
                x.state == VoiceState::stopping ? x.stop_reason : EndReason::finished);
      return;
    }
    std::uint64_t n = std::min<std::uint64_t>(to - at, left);
    if (x.needs_ring) {
      if (!x.on_ring && x.pos >= x.clip.head) x.on_ring = true;  // the head's end
      const std::uint64_t in_head = x.on_ring ? 0 : x.clip.head - x.pos;
      if (n > in_head) {
        bool failed = x.ring == kNoIndex;  // no ring: nothing comes past the head
        const std::uint64_t have =
            failed ? 0 : rings_[x.ring].available(x.ring_gen, x.ring_read, failed);
        if (failed && in_head + have == 0) {
          // Nothing more will come: the frames before the failure have played.
          end_voice(v, frame_ + at, EndReason::read_error);
          return;
        }
        if (failed) n = std::min(n, in_head + have);
      }
    }
    n = std::min<std::uint64_t>(n, x.remaining);
    n = std::min<std::uint64_t>(n, kMaxBlock);
    if (x.env.ramping()) n = std::min(n, x.env.left());
    if (x.gain.ramping()) n = std::min(n, x.gain.left());
    if (x.pan.ramping()) n = std::min(n, x.pan.left());
    const auto chunk = static_cast<std::uint32_t>(n);
    // A chunk that reaches past the head is mixed from ring_scratch_: the head's part copied
    // there, then the ring's (chunks are cut where the memory path cuts them, so both paths
    // compute the same samples).
    const std::uint64_t from_head = x.on_ring ? 0 : x.clip.head - x.pos;
    const bool pulled = x.needs_ring && chunk > from_head;
    if (pulled) pull_ring(x, at, chunk, from_head);
    mix_chunk(x, at, chunk, pulled);
    if (pulled) x.on_ring = true;
    if (chunk <= pass) {
      x.pos += chunk;
    } else {
      // The chunk wrapped: w whole loop passes and r frames more. A chunk that ends exactly on
      // loop_end leaves the position there (the next wrap happens when playing resumes), as a
      // chunk ending on region_end does.
      const std::uint64_t rest = chunk - pass;
      const std::uint64_t r = rest % loop;
      const std::uint64_t wraps = rest / loop + (r != 0 ? 1 : 0);
      x.pos = r != 0 ? x.loop_start + r : x.loop_end;
      x.region_end = x.loop_end;
      if (!x.forever) x.passes_left -= static_cast<std::uint32_t>(wraps);
    }
    at += chunk;
    if (x.remaining != kUnlimited) x.remaining -= chunk;
    x.gain.advance(chunk);
    x.pan.advance(chunk);
    const bool fading = x.env.ramping();
    x.env.advance(chunk);
    if (fading && !x.env.ramping()) {
      if (x.state == VoiceState::stopping) {
        end_voice(v, frame_ + at, x.stop_reason);
        return;
      }
      if (x.state == VoiceState::paused) {
        x.holding = true;
        return;
      }
    }
  }
}

void Engine::mix_chunk(const Voice& x, std::uint32_t at, std::uint32_t n, bool pulled) noexcept {
  if (x.routes == 0) return;
  // Pulled frames are in playing order, loops unrolled, in ring_scratch_.
  const ClipSamples scratch{ring_scratch_.get(), n, config_.stream_channels, kMaxBlock};
  if (pulled && !x.gain.ramping() && !x.pan.ramping() && !x.env.ramping()) {
    mix_segment(x, scratch, at, 0, n, 0);  // constant gains: the same sums in one segment
    return;
  }
  // The chunk's segments: the rest of the current pass, then whole or partial loop passes (each
  // at least kMinLoopFrames long). The ramps run on across the wraps: segment k frames into the
  // chunk evaluates them k samples further.
  std::uint64_t pos = x.pos;
  std::uint64_t end = x.region_end;
  if (n > end - pos && !x.gain.ramping() && !x.pan.ramping() && !x.env.ramping()) {
    // Constant gains across wraps: computed once, the kernels wrap inside (a wrapping chunk
    // only happens while looping, and then region_end is loop_end).
    const float u = x.gain.value * x.env.value;
    if (u == 0.0f) return;  // silent: adding zeros changes nothing
    const float left = u * std::min(1.0f, 1.0f - x.pan.value);
    const float right = u * std::min(1.0f, 1.0f + x.pan.value);
    float* const* outs = outputs_;
    const float* ch0 = x.clip.channel(x.src[0]);
    if (x.routes == 1) {
      mix::add_const_loop(outs[x.out[0]] + at, ch0, left, n, pos, x.loop_start, x.loop_end);
      return;
    }
    mix::add2_const_loop(outs[x.out[0]] + at, outs[x.out[1]] + at, ch0, x.clip.channel(x.src[1]),
                         left, right, n, pos, x.loop_start, x.loop_end);
    for (std::uint32_t r = 2; r < x.routes; ++r) {
      mix::add_const_loop(outs[x.out[r]] + at, x.clip.channel(x.src[r]), u, n, pos, x.loop_start,
                          x.loop_end);
    }
    return;
  }
  for (std::uint32_t done = 0; done < n;) {
    if (pos >= end) {
      pos = x.loop_start;
      end = x.loop_end;
    }
    const auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>(n - done, end - pos));
    // Ramps run: cut where the memory path cuts (at the wraps), so the gains are the same.
    if (pulled) {
      mix_segment(x, scratch, at + done, done, len, done);
    } else {
      mix_segment(x, x.clip, at + done, pos, len, done);
    }
    pos += len;
    done += len;
  }
}

void Engine::mix_segment(const Voice& x, const ClipSamples& clip, std::uint32_t at,
                         std::uint64_t pos, std::uint32_t n, std::uint32_t k) noexcept {
  float* const* outs = outputs_;
  const float* in0 = clip.channel(x.src[0]) + pos;
  if (!x.gain.ramping() && !x.pan.ramping() && !x.env.ramping()) {
    const float u = x.gain.value * x.env.value;
    if (u == 0.0f) return;  // silent (a held pause, a zero gain): adding zeros changes nothing
    const float left = u * std::min(1.0f, 1.0f - x.pan.value);
    const float right = u * std::min(1.0f, 1.0f + x.pan.value);
    if (x.routes == 1) {
      mix::add_const(outs[x.out[0]] + at, in0, left, n);
      return;
    }
    const float* in1 = clip.channel(x.src[1]) + pos;
    mix::add2_const(outs[x.out[0]] + at, outs[x.out[1]] + at, in0, in1, left, right, n);
    for (std::uint32_t r = 2; r < x.routes; ++r) {
      mix::add_const(outs[x.out[r]] + at, clip.channel(x.src[r]) + pos, u, n);
    }
    return;
  }
  if (!x.pan.ramping() && x.gain.ramping() != x.env.ramping()) {
    // One ramp (a gain ramp or a fade) and nothing else: the per-sample gain is the ramp's
    // value at the sample's index in the ramp (whatever the chunk, so whatever the cycle size)
    // times a constant, computed in registers inside the kernel.
    const mix::Sweep r = sweep_of(x.gain.ramping() ? x.gain : x.env, k);
    const float other = x.gain.ramping() ? x.env.value : x.gain.value;
    const float lw = other * std::min(1.0f, 1.0f - x.pan.value);
    const float rw = other * std::min(1.0f, 1.0f + x.pan.value);
    if (x.routes == 1) {
      mix::add_linear(outs[x.out[0]] + at, in0, r, lw, n);
      return;
    }
    const float* in1 = clip.channel(x.src[1]) + pos;
    mix::add2_linear(outs[x.out[0]] + at, outs[x.out[1]] + at, in0, in1, r, lw, rw, n);
    for (std::uint32_t r2 = 2; r2 < x.routes; ++r2) {
      mix::add_linear(outs[x.out[r2]] + at, clip.channel(x.src[r2]) + pos, r, other, n);
    }
    return;
  }
  float* gain = scratch_.get();
  float* left = gain + kMaxBlock;
  float* right = left + kMaxBlock;
  mix::fill_gains(sweep_of(x.gain, k), sweep_of(x.env, k), sweep_of(x.pan, k), gain, left, right,
                  n);
  if (x.routes == 1) {
    mix::add_gain(outs[x.out[0]] + at, in0, left, n);
    return;
  }
  const float* in1 = clip.channel(x.src[1]) + pos;
  mix::add2_gain(outs[x.out[0]] + at, outs[x.out[1]] + at, in0, in1, left, right, n);
  for (std::uint32_t r = 2; r < x.routes; ++r) {
    mix::add_gain(outs[x.out[r]] + at, clip.channel(x.src[r]) + pos, gain, n);
  }
}

void Engine::finish_outputs(std::uint32_t nframes) noexcept {
  const std::uint32_t outputs = config_.outputs;
  // Master gain.
  std::uint32_t ramped = 0;
  if (master_.ramping()) {
    ramped = static_cast<std::uint32_t>(std::min<std::uint64_t>(master_.left(), nframes));
    const mix::Sweep s = sweep_of(master_);
    for (std::uint32_t o = 0; o < outputs; ++o)
      mix::scale_sweep(outputs_[o], s, ramped);
    master_.advance(ramped);
  }
  if (ramped < nframes && master_.value != 1.0f) {
    for (std::uint32_t o = 0; o < outputs; ++o) {
      mix::scale_const(outputs_[o] + ramped, master_.value, nframes - ramped);
    }
  }
  // Meters, in 10 ms bins.
  for (std::uint32_t i = 0; i < nframes;) {
    const std::uint32_t piece = std::min(nframes - i, bin_frames_ - bin_fill_);
    float* peak = bin_peak_.get() + std::size_t{bin_current_} * outputs;
    float* sum = bin_sum_.get() + std::size_t{bin_current_} * outputs;
    for (std::uint32_t o = 0; o < outputs; ++o)
      mix::measure(outputs_[o] + i, piece, peak[o], sum[o]);
    i += piece;
    bin_fill_ += piece;
    if (bin_fill_ == bin_frames_) {
      bin_current_ = (bin_current_ + 1) % (kBins + 1);
      bin_fill_ = 0;
      bins_done_ = std::min(bins_done_ + 1, kBins);
      std::fill_n(bin_peak_.get() + std::size_t{bin_current_} * outputs, outputs, 0.0f);
      std::fill_n(bin_sum_.get() + std::size_t{bin_current_} * outputs, outputs, 0.0f);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// MIDI triggers.

void Engine::handle_bindings(MessageNode&& node) noexcept {
  if (bindings_node_) {
    bindings_node_->kind = Kind::bindings_released;
    send(std::move(bindings_node_));
  }
  bindings_node_ = std::move(node);
  bindings_ = bindings_node_->bindings.table;
}

void Engine::handle_spare(MessageNode&& node) noexcept {
  if (spare_count_ < config_.spare_nodes) {
    spares_[spare_count_++] = std::move(node);
    return;
  }
  send(std::move(node));  // the pool is full: straight back, as spare
}

const Binding* Engine::binding_of(std::uint32_t channel, std::uint32_t note,
                                  std::uint32_t& key) const noexcept {
  if (bindings_ == nullptr) return nullptr;
  key = channel * kMidiNotes + note;
  const Binding* b = &bindings_->at(channel, note);
  if (b->used) return b;
  key = note;
  b = &bindings_->at(0, note);
  return b->used ? b : nullptr;
}

void Engine::filter_midi() noexcept {
  // Only events that can act are kept: a note-on of a bound note whose slot holds a clip,
  // a note-off of a note with a live gate voice (or with a gate note-on kept earlier in this
  // cycle). Everything else is dropped here, uncounted: it would do nothing. The clip table and
  // the bindings cannot change before the events act (messages were taken already).
  ++midi_cycle_;
  const std::uint32_t last = nframes_ == 0 ? 0 : nframes_ - 1;
  std::uint32_t at = 0;
  std::uint32_t live_offs = 0;
  for (std::uint32_t i = 0; i < midi_count_; ++i) {
    const MidiEventView& e = midi_[i];
    // An event before its predecessor acts at the predecessor's frame, as if none were dropped.
    at = std::max(at, std::min(e.offset, last));
    if (e.data == nullptr || e.size < 3) continue;
    const std::uint32_t type = e.data[0] & 0xf0u;
    if (type != 0x80u && type != 0x90u) continue;
    const std::uint32_t channel = (e.data[0] & 0x0fu) + 1;
    const std::uint32_t note = e.data[1] & 0x7fu;
    const std::uint32_t gate_key = channel * kMidiNotes + note;
    bool live_off = false;
    if (type == 0x90u && (e.data[2] & 0x7fu) > 0) {
      std::uint32_t key = 0;
      const Binding* b = binding_of(channel, note, key);
      if (b == nullptr || b->clip >= table_capacity_ || !table_[b->clip].node) continue;
      if (b->mode == TriggerMode::gate) gate_mark_[gate_key] = midi_cycle_;
    } else {
      // A note-off of a live gate voice, or of a gate note-on earlier in this cycle, is kept
      // first under the cap: dropping it would leave the voice sounding to the clip's end.
      live_off = !key_lists_[gate_key].empty() || gate_mark_[gate_key] == midi_cycle_;
      if (!live_off) continue;
    }
    acting_[acting_count_++] = Acting{i, at, live_off};
    live_offs += live_off ? 1 : 0;
  }
  const std::uint32_t cap = config_.max_midi_events;
  if (acting_count_ <= cap) return;
  // Over the cap: note-offs of live gate voices first (in order, up to the cap), then the others
  // in order while room is left; the rest are dropped and counted.
  const std::uint32_t offs_kept = std::min(live_offs, cap);
  std::uint32_t others_room = cap - offs_kept;
  std::uint32_t offs_room = offs_kept;
  std::uint32_t kept = 0;
  for (std::uint32_t i = 0; i < acting_count_; ++i) {
    std::uint32_t& room = acting_[i].live_off ? offs_room : others_room;
    if (room == 0) continue;
    --room;
    acting_[kept++] = acting_[i];
  }
  midi_dropped_count_ += acting_count_ - kept;
  acting_count_ = kept;
}

void Engine::handle_midi(const MidiEventView& e, std::uint32_t at) noexcept {
  if (e.data == nullptr || e.size < 3) return;
  const std::uint32_t status = e.data[0];
  const std::uint32_t type = status & 0xf0u;
  if (type != 0x80u && type != 0x90u) return;
  const std::uint32_t channel = (status & 0x0fu) + 1;
  const std::uint32_t note = e.data[1] & 0x7fu;
  const std::uint32_t velocity = e.data[2] & 0x7fu;
  if (type == 0x90u && velocity > 0) {
    note_on(channel, note, velocity, at);
  } else {
    note_off(channel, note, at);
  }
}

void Engine::note_on(std::uint32_t channel, std::uint32_t note, std::uint32_t velocity,
                     std::uint32_t at) noexcept {
  std::uint32_t key = 0;
  const Binding* b = binding_of(channel, note, key);
  if (b == nullptr) return;
  if (b->clip >= table_capacity_ || !table_[b->clip].node) return;  // no clip: nothing
  if (b->mode == TriggerMode::toggle) {
    // The binding's live toggle voices not yet stopping: each leaves the list as it stops.
    VoiceList& list = key_lists_[kKeys + key];
    if (!list.empty()) {
      while (!list.empty())
        stop_voice(list.head, declick_, EndReason::stopped, at);
      return;
    }
  }
  MessageNode start, end;
  if (spare_count_ >= 2) {
    end = std::move(spares_[--spare_count_]);
    start = std::move(spares_[--spare_count_]);
  } else if (config_.drop_notes_when_dry) {
    ++dropped_;
    return;
  }
  float gain = b->gain;
  if (b->velocity) {
    const float v = static_cast<float>(velocity) / 127.0f;
    gain *= v * v;
  }
  const PlayPayload p{next_midi_id_++, frame_ + at, 0,        0, kUnlimited, 0,   kUnlimited, 0,
                      kAllOutputs,     b->clip,     b->group, 0, gain,       0.0f};
  const std::uint32_t v = place_voice(p, at);
  Voice& x = voices_[v];
  x.start_node = std::move(start);
  x.end_node = std::move(end);
  x.midi = true;
  x.trigger = b->mode;
  x.note_channel = static_cast<std::uint8_t>(channel);
  x.note = static_cast<std::uint8_t>(note);
  x.binding_key = static_cast<std::uint16_t>(key);
  if (b->mode == TriggerMode::gate) {
    x.key_list = channel * kMidiNotes + note;
  } else if (b->mode == TriggerMode::toggle) {
    x.key_list = kKeys + key;
  }
  if (x.key_list != kNoIndex) push_key(voices_.get(), key_lists_[x.key_list], v);
}

void Engine::note_off(std::uint32_t channel, std::uint32_t note, std::uint32_t at) noexcept {
  // The gate voices of this channel and note not yet stopping: each leaves the list as it stops.
  VoiceList& list = key_lists_[channel * kMidiNotes + note];
  while (!list.empty())
    stop_voice(list.head, declick_, EndReason::stopped, at);
}

// ---------------------------------------------------------------------------------------------
// Queries.

std::uint64_t Engine::remaining_of(const Voice& x) const noexcept {
  if (x.state == VoiceState::paused) return kUnlimited;  // held until resumed
  std::uint64_t left = kUnlimited;
  if (!x.forever) {
    const std::uint64_t pass = x.region_end > x.pos ? x.region_end - x.pos : 0;
    left = pass + std::uint64_t{x.passes_left} * (x.loop_end - x.loop_start);
  }
  left = std::min(left, x.remaining);
  if (x.state == VoiceState::stopping) left = std::min(left, x.env.left());
  if (x.state == VoiceState::scheduled && left != kUnlimited && x.start_frame > frame_) {
    left += x.start_frame - frame_;
  }
  return left;
}

void Engine::handle_query_voices(Message& m) const noexcept {
  VoicesQueryPayload& q = m.voices;
  q.count = live_count_;
  q.frame = frame_;
  const std::uint32_t n = q.out == nullptr ? 0 : std::min(q.capacity, live_count_);
  for (std::uint32_t i = 0; i < n; ++i) {
    const Voice& x = voices_[live_[i]];
    q.out[i] = VoiceInfo{x.id,    x.pos,        remaining_of(x), x.slot,
                         x.group, x.gain.value, x.pan.value,     x.state};
  }
}

void Engine::handle_query_meters(Message& m) const noexcept {
  MetersQueryPayload& q = m.meters;
  const std::uint32_t outputs = config_.outputs;
  q.count = std::min(q.capacity, outputs);
  if (q.peak == nullptr || q.rms == nullptr) q.count = 0;
  for (std::uint32_t o = 0; o < q.count; ++o) {
    float peak = 0.0f, sum = 0.0f;
    for (std::uint32_t b = 0; b < bins_done_; ++b) {
      const std::uint32_t bin = (bin_current_ + kBins - b) % (kBins + 1);
      peak = std::max(peak, bin_peak_[std::size_t{bin} * outputs + o]);
      sum += bin_sum_[std::size_t{bin} * outputs + o];
    }
    q.peak[o] = peak;
    q.rms[o] =
        bins_done_ == 0 ? 0.0f : std::sqrt(sum / static_cast<float>(bins_done_ * bin_frames_));
  }
}

// ---------------------------------------------------------------------------------------------
// Retirement, on the control thread once the audio thread has stopped.

void Engine::retire(std::uint64_t end_frame, EndReason reason) {
  frame_ = end_frame;
  nframes_ = 0;
  outputs_ = nullptr;
  for (std::uint32_t i = 0; i < live_count_; ++i)
    voices_[live_[i]].done = 0;  // nothing is mixed here: every event acts at offset 0
  if (deferred_query_) handle(std::move(deferred_query_));
  while (MessageNode node = in_.pop()) {
    Message& m = *node;
    switch (m.kind) {
      case Kind::play: {
        MessageNode end = std::move(pending_end_);
        const PlayPayload p = m.play;
        m.kind = Kind::voice_started;
        m.started = StartedPayload{p.voice, end_frame, p.clip, false, false, p.group, false};
        send(std::move(node));
        if (end) {
          end->kind = Kind::voice_ended;
          end->ended = EndedPayload{p.voice, end_frame, p.clip, reason, false};
          send(std::move(end));
        } else {
          ++lost_;
        }
        break;
      }
      case Kind::stop:
        m.stop.stopped = 0;
        send(std::move(node));
        break;
      case Kind::set:
        m.set.found = false;
        send(std::move(node));
        break;
      case Kind::pause:
      case Kind::resume:
        m.pause.found = false;
        send(std::move(node));
        break;
      default:
        handle(std::move(node));
        break;
    }
  }
  while (!timed_heap_.empty())
    send_unacted(take_timed(timed_heap_.top().id));
  if (pending_end_) {
    pending_end_->kind = Kind::voice_ended;
    pending_end_->ended.frame = end_frame;
    pending_end_->ended.reason = reason;
    send(std::move(pending_end_));
  }
  while (live_count_ > 0)
    end_voice(live_[live_count_ - 1], end_frame, reason);
  for (std::uint32_t s = 0; s < table_capacity_; ++s) {
    if (table_[s].node) release_clip(table_[s].node);
    table_[s].readers = 0;
    table_[s].voices = VoiceList{};
  }
  for (std::uint32_t r = 0; r < retired_capacity_; ++r) {
    if (retired_[r].node) release_clip(retired_[r].node);
    retired_[r].readers = 0;
    retired_[r].voices = VoiceList{};
  }
  while (spare_count_ > 0)
    send(std::move(spares_[--spare_count_]));  // back as spare
  if (bindings_node_) {
    bindings_node_->kind = Kind::bindings_released;
    send(std::move(bindings_node_));
  }
  bindings_ = nullptr;
  live_voices_pub_.store(0, std::memory_order_release);
  lost_events_.store(lost_, std::memory_order_release);
  dropped_notes_.store(dropped_, std::memory_order_release);
  midi_dropped_.store(midi_dropped_count_, std::memory_order_release);
  underruns_.store(underrun_count_, std::memory_order_release);
  spare_count_pub_.store(0, std::memory_order_release);
  retired_once_ = true;
  CLIPD_RT_ASSERT(invariants_hold() && holds_nothing());
}

// ---------------------------------------------------------------------------------------------
// Invariants, for assertions.

bool Engine::holds_nothing() const noexcept {
  if (live_count_ != 0 || !timed_heap_.empty() || !voice_times_.empty() || !timed_times_.empty() ||
      pending_end_ || deferred_query_ || bindings_node_ || spare_count_ != 0) {
    return false;
  }
  for (std::uint32_t s = 0; s < table_capacity_; ++s) {
    if (table_[s].node) return false;
  }
  for (std::uint32_t r = 0; r < retired_capacity_; ++r) {
    if (retired_[r].node) return false;
  }
  return true;
}

bool Engine::invariants_hold() const noexcept {
  const Voice* vs = voices_.get();
  const std::uint32_t n = pool_size_;
  // Every slot is free or live, once.
  if (live_count_ + free_count_ != n) return false;
  for (std::uint32_t i = 0; i < live_count_; ++i) {
    const std::uint32_t v = live_[i];
    if (v >= n || vs[v].live_pos != i) return false;
  }
  for (std::uint32_t i = 0; i < free_count_; ++i) {
    if (free_[i] >= n || vs[free_[i]].live_pos != kNoIndex) return false;
  }
  // Play order: the active list holds the non-stopping voices, the stopping list the others.
  const auto live = [&](std::uint32_t v) { return vs[v].live_pos != kNoIndex; };
  if (!list_valid<Voice, &Voice::prev, &Voice::next>(vs, n, active_, [&](std::uint32_t v) {
        return live(v) && vs[v].state != VoiceState::stopping;
      })) {
    return false;
  }
  if (!list_valid<Voice, &Voice::prev, &Voice::next>(vs, n, stopping_, [&](std::uint32_t v) {
        return live(v) && vs[v].state == VoiceState::stopping;
      })) {
    return false;
  }
  if (active_.size + stopping_.size != live_count_) return false;
  // Clip lists and reader counts.
  std::uint32_t readers = 0;
  for (std::uint32_t s = 0; s < table_capacity_; ++s) {
    const ClipSlot& c = table_[s];
    if (c.readers != c.voices.size || (c.readers > 0 && !c.node)) return false;
    if (!list_valid<Voice, &Voice::clip_prev, &Voice::clip_next>(
            vs, n, c.voices, [&](std::uint32_t v) {
              return live(v) && vs[v].slot == s && vs[v].retired == kNoIndex;
            })) {
      return false;
    }
    readers += c.readers;
  }
  for (std::uint32_t r = 0; r < retired_capacity_; ++r) {
    const Retired& c = retired_[r];
    if (c.readers != c.voices.size || (c.readers > 0) != static_cast<bool>(c.node)) return false;
    if (!list_valid<Voice, &Voice::clip_prev, &Voice::clip_next>(
            vs, n, c.voices, [&](std::uint32_t v) { return live(v) && vs[v].retired == r; })) {
      return false;
    }
    readers += c.readers;
  }
  if (readers != live_count_) return false;
  // Groups: each grouped voice in its record's sounding or other list; records in use found by
  // their id.
  std::uint32_t grouped = 0, listed = 0, scheduled_grouped = 0;
  for (std::uint32_t i = 0; i < live_count_; ++i) {
    const Voice& x = vs[live_[i]];
    if (x.group == 0) {
      if (x.group_rec != kNoIndex) return false;
      continue;
    }
    ++grouped;
    if (x.group_rec >= n || groups_.find(x.group) != x.group_rec) return false;
    if (x.state == VoiceState::scheduled) {
      ++scheduled_grouped;
      if (!grouped_heap_.contains(live_[i])) return false;
    }
  }
  if (n - groups_free_count_ > grouped) return false;  // a record without a voice
  for (std::uint32_t g = 0; g < n; ++g) {
    const Group& rec = groups_pool_[g];
    if (groups_.find(rec.id) != g) continue;
    const auto in_group = [&](std::uint32_t v) { return live(v) && vs[v].group_rec == g; };
    if (!list_valid<Voice, &Voice::group_prev, &Voice::group_next>(
            vs, n, rec.sounding, [&](std::uint32_t v) {
              return in_group(v) &&
                     (vs[v].state == VoiceState::playing || vs[v].state == VoiceState::paused);
            })) {
      return false;
    }
    if (!list_valid<Voice, &Voice::group_prev, &Voice::group_next>(
            vs, n, rec.others, [&](std::uint32_t v) {
              return in_group(v) &&
                     (vs[v].state == VoiceState::scheduled || vs[v].state == VoiceState::stopping);
            })) {
      return false;
    }
    if (rec.sounding.empty() && rec.others.empty()) return false;
    listed += rec.sounding.size + rec.others.size;
  }
  if (listed != grouped || grouped_heap_.size() != scheduled_grouped || !grouped_heap_.valid()) {
    return false;
  }
  // MIDI keys: gate and toggle voices not yet stopping.
  std::uint32_t keyed = 0, key_listed = 0;
  for (std::uint32_t i = 0; i < live_count_; ++i) {
    const Voice& x = vs[live_[i]];
    if (x.key_list == kNoIndex) continue;
    if (x.key_list >= 2 * kKeys || x.state == VoiceState::stopping || !x.midi) return false;
    ++keyed;
  }
  for (std::uint32_t k = 0; k < 2 * kKeys; ++k) {
    if (!list_valid<Voice, &Voice::key_prev, &Voice::key_next>(
            vs, n, key_lists_[k],
            [&](std::uint32_t v) { return live(v) && vs[v].key_list == k; })) {
      return false;
    }
    key_listed += key_lists_[k].size;
  }
  if (keyed != key_listed) return false;
  // Rings: each held by one live voice or free; the active count matches.
  std::uint32_t ringed = 0, ringed_active = 0;
  for (std::uint32_t i = 0; i < live_count_; ++i) {
    const Voice& x = vs[live_[i]];
    if (x.ring == kNoIndex) continue;
    if (x.ring >= ring_count_ || !x.needs_ring) return false;
    ++ringed;
    ringed_active += x.state != VoiceState::stopping ? 1 : 0;
  }
  if (ringed + ring_free_size_ != ring_count_ || ringed_active != streamed_active_) return false;
  // Timed records: free, or in the heap holding a node (and in the list of the voice it names).
  if (timed_heap_.size() + timed_free_count_ != config_.max_pending || !timed_heap_.valid()) {
    return false;
  }
  for (std::uint32_t t = 0; t < config_.max_pending; ++t) {
    const Timed& r = timed_[t];
    if (timed_heap_.contains(t) != static_cast<bool>(r.node)) return false;
    if (r.voice != kNoIndex && (!live(r.voice) || !r.node)) return false;
    // Unbound: waiting for its time, at kUnbound in the frame heap.
    if (timed_times_.contains(t) && !timed_heap_.contains(t)) return false;
  }
  if (!timed_times_.valid() || timed_times_.size() > timed_heap_.size()) return false;
  // Voices that name a server time: scheduled, unbound, in voice_times_ (and nothing else is).
  std::uint32_t unbound = 0;
  for (std::uint32_t i = 0; i < live_count_; ++i) {
    const Voice& x = vs[live_[i]];
    if (x.at_nsecs == 0) continue;
    if (x.state != VoiceState::scheduled || !voice_times_.contains(live_[i])) return false;
    ++unbound;
  }
  if (unbound != voice_times_.size() || !voice_times_.valid()) return false;
  for (std::uint32_t i = 0; i < live_count_; ++i) {
    const std::uint32_t v = live_[i];
    std::uint32_t prev = kNoIndex, count = 0;
    for (std::uint32_t t = vs[v].waiting; t != kNoIndex; t = timed_[t].next) {
      if (t >= config_.max_pending || timed_[t].voice != v || timed_[t].prev != prev ||
          ++count > config_.max_pending) {
        return false;
      }
      prev = t;
    }
  }
  return true;
}

}  // namespace clipd::engine
