// A random control side for the engine: sends every kind of command (plays, stops, sets,
// pauses, clip adds, removals, replacements, table growth, queries) and checks what comes back:
// every node exactly once, every voice exactly one voice_started and one voice_ended in that
// order, every clip handed back exactly once and only after the last voice reading it ended.
// Clip memory is freed as soon as it comes back, so a late read shows under ASan.
//
// With `midi`, every cycle also carries random MIDI events (note-ons, note-offs, junk) while
// control swaps random binding tables and keeps the small spare pool topped up only now and then,
// so the pool runs dry too; MIDI voices obey the same checks, and every table and spare node must
// come back exactly once.
//
// Timed stops and sets come near and far ahead, so the engine's store of them (64 here) fills,
// overflows and is released by voices ending; choke groups range over small ids and ids near the
// top of uint32. After every cycle the engine's invariants are checked, and every stop or set
// that acted must not have acted before its frame.
//
// Single-threaded: the "control" steps run between process() calls, outside its real-time context.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/engine.hpp"

namespace clipd::engine::test {

class Churn {
 public:
  struct Options {
    std::uint32_t seed = 1;
    std::uint32_t max_voices = 48;
    std::uint32_t outputs = 2;
    std::uint32_t max_commands_per_cycle = 20;  // uniform in [0, this]
    std::uint32_t max_messages_per_cycle = 16;
    std::uint32_t min_period = 16;
    std::uint32_t max_period = 128;
    bool midi = false;
    bool drop_notes_when_dry = false;
    std::uint32_t max_midi_per_cycle = 5;  // uniform in [0, this]
    std::uint32_t spare_nodes = 12;
  };

  explicit Churn(Options options) : opt_(options), rng_(options.seed) {
    Config config;
    config.outputs = opt_.outputs;
    config.max_voices = opt_.max_voices;
    config.fade_voices = opt_.max_voices / 4 + 1;  // small, so fades get cut too
    config.clip_capacity = 4;
    config.max_messages_per_cycle = opt_.max_messages_per_cycle;
    config.max_pending = 64;
    config.retired_capacity = 3;  // small, so the "no record free" path runs too
    config.declick_frames = 37;
    config.spare_nodes = opt_.spare_nodes;
    config.drop_notes_when_dry = opt_.drop_notes_when_dry;
    midi_base_ = config.midi_voice_base;
    engine_ = std::make_unique<Engine>(config, to_engine_.consumer(), to_control_.producer());
    tx_ = to_engine_.producer();
    rx_ = to_control_.consumer();
    capacity_ = config.clip_capacity;
    buffers_.assign(opt_.outputs, std::vector<float>(opt_.max_period));
    for (auto& b : buffers_)
      pointers_.push_back(b.data());
    voice_infos_.resize(256);
    peaks_.resize(opt_.outputs);
    rms_.resize(opt_.outputs);
  }

  ~Churn() {
    if (!retired_) finish();
  }

  Engine& engine() { return *engine_; }

  // One control step and one audio cycle.
  void step() {
    const std::uint32_t commands = uniform(0, opt_.max_commands_per_cycle);
    for (std::uint32_t i = 0; i < commands; ++i)
      command();
    const std::uint32_t period = uniform(opt_.min_period, opt_.max_period);
    if (opt_.midi) midi_control(period);
    // The server's clock runs kUsecsPerFrame a frame: a time maps back to its frame.
    engine_->process(frame_, period, pointers_.data(), frame_ * kUsecsPerFrame, views_.data(),
                     static_cast<std::uint32_t>(views_.size()), (frame_ + period) * kUsecsPerFrame);
    for (std::uint32_t o = 0; o < opt_.outputs; ++o) {
      for (std::uint32_t k = 0; k < period; ++k) {
        const float v = buffers_[o][k];
        if (!(v > -1e6f && v < 1e6f)) fail("output not finite or wild");
      }
    }
    frame_ += period;
    if (!engine_->invariants_hold()) fail("engine invariants broken");
    drain();
  }

  // Retires the engine and checks the final balance.
  void finish() {
    engine_->retire(frame_, EndReason::shutdown);
    retired_ = true;
    drain();
    if (returned_ != sent_)
      fail("nodes sent " + std::to_string(sent_) + ", back " + std::to_string(returned_));
    if (!voices_.empty()) {
      fail("voice " + std::to_string(voices_.begin()->first) + " did not get both events");
    }
    if (!clips_.empty()) fail(std::to_string(clips_.size()) + " clips never handed back");
    if (!binding_tables_.empty()) fail("binding tables never handed back");
    if (spares_out_ != 0) fail("spare nodes never handed back");
    if (opt_.midi && !opt_.drop_notes_when_dry) {
      // Voices started by a dry pool lose both their events.
      const std::uint64_t lost = engine_->lost_events();
      if (lost < lost_ids_.size() || (lost - lost_ids_.size()) % 2 != 0) {
        fail("lost events miscounted");
      }
    } else if (engine_->lost_events() != lost_ids_.size()) {
      fail("lost events miscounted");
    }
    if (!opt_.drop_notes_when_dry && engine_->dropped_notes() != 0) fail("notes dropped");
    // The table in use stays the engine's: it frees it.
  }

  std::uint64_t commands_sent() const { return commands_; }
  std::uint64_t notes_sent() const { return notes_; }
  std::uint64_t midi_voices() const { return midi_voices_; }
  std::uint64_t tables_sent() const { return tables_sent_; }
  std::uint64_t nodes_sent() const { return sent_; }
  const std::string& error() const { return error_; }
  bool ok() const { return error_.empty(); }

 private:
  struct ClipMemory {
    struct Free {
      void operator()(float* p) const { std::free(p); }
    };
    std::unique_ptr<float, Free> data;
    ClipSamples samples{};
  };
  struct VoiceRecord {
    std::uint64_t token = 0;
    bool started = false;
    bool ended = false;
    bool reading = false;
  };

  std::uint32_t uniform(std::uint32_t lo, std::uint32_t hi) {
    return std::uniform_int_distribution<std::uint32_t>(lo, hi)(rng_);
  }
  bool chance(std::uint32_t percent) { return uniform(0, 99) < percent; }

  void fail(const std::string& what) {
    if (error_.empty()) error_ = what;
  }

  void send(const Message& m) {
    tx_.push(MessageNode::make(m));
    ++sent_;
  }

  static constexpr std::uint64_t kUsecsPerFrame = 20;

  // Now and then, a timed command names its frame's time on the server's clock instead (a sub-frame
  // offset included), with `at_frame` an estimate up to 40 frames off, as control's would be.
  void maybe_by_time(std::uint64_t& at_frame, std::uint64_t& at_nsecs) {
    if (at_frame == kNow || !chance(30)) return;
    at_nsecs = at_frame * kUsecsPerFrame * 1000 + uniform(0, kUsecsPerFrame * 1000 - 1);
    const std::uint64_t off = uniform(0, 80);
    at_frame = at_frame + off >= 40 ? at_frame + off - 40 : 0;
  }
  // The earliest frame a command may act on: its time's frame, or its at_frame.
  static std::uint64_t due_frame(std::uint64_t at_frame, std::uint64_t at_nsecs) {
    return at_nsecs != 0 ? at_nsecs / (kUsecsPerFrame * 1000) : at_frame;
  }

  std::uint64_t at_frame() {
    switch (uniform(0, 5)) {
      case 0:
        return kNow;
      case 1:
        return frame_ > 50 ? frame_ - uniform(0, 50) : frame_;  // passed: late
      case 2:
        return frame_ + uniform(1000, 200000);  // far: waits until its voice ends, or overflows
      default:
        return frame_ + uniform(0, 600);
    }
  }

  std::uint64_t new_clip() {
    const std::uint64_t frames = uniform(1, 400);
    const std::uint32_t channels = uniform(1, 3);
    const std::uint64_t stride = (frames + 15) / 16 * 16;
    ClipMemory mem;
    mem.data.reset(static_cast<float*>(std::aligned_alloc(64, sizeof(float) * stride * channels)));
    for (std::uint64_t i = 0; i < stride * channels; ++i) {
      mem.data.get()[i] = static_cast<float>(uniform(0, 2000)) / 1000.0f - 1.0f;
    }
    mem.samples = ClipSamples{mem.data.get(), frames, channels, stride};
    const std::uint64_t token = ++next_token_;
    clips_.emplace(token, std::move(mem));
    return token;
  }

  void command() {
    ++commands_;
    const std::uint32_t pick = uniform(0, 99);
    if (pick < 8) {  // add or replace
      const std::uint32_t slot = uniform(0, capacity_ - 1);
      const std::uint64_t token = new_clip();
      const ClipSamples s = clips_.at(token).samples;
      const bool occupied = slot_token_.count(slot) != 0;
      send(occupied ? Message::replace_clip(slot, s, token) : Message::add_clip(slot, s, token));
      slot_token_[slot] = token;
    } else if (pick < 11) {  // remove
      const std::uint32_t slot = uniform(0, capacity_ - 1);
      send(Message::remove_clip(slot));
      slot_token_.erase(slot);
    } else if (pick < 12) {  // grow
      if (capacity_ < 64 && chance(20)) {
        const std::uint32_t bigger = capacity_ + uniform(1, 8);
        auto* table = new ClipSlot[bigger]();
        tables_[table] = bigger;
        send(Message::grow_clip_table(table, bigger));
        capacity_ = bigger;
      }
    } else if (pick < 50) {  // play
      const std::uint64_t id = ++next_voice_;
      const std::uint32_t slot = uniform(0, capacity_);  // sometimes an empty or unknown slot
      Message m = Message::play_default(id, slot);
      PlayPayload& p = m.play;
      p.at_frame = at_frame();
      maybe_by_time(p.at_frame, p.at_nsecs);
      p.gain = chance(50) ? 1.0f : static_cast<float>(uniform(0, 150)) / 100.0f;
      p.pan = chance(50) ? 0.0f : static_cast<float>(uniform(0, 200)) / 100.0f - 1.0f;
      p.offset = chance(60) ? 0 : uniform(0, 450);
      if (chance(30)) p.length = uniform(0, 900);
      if (chance(40)) {
        p.loops = chance(30) ? kLoopForever : uniform(1, 4);
        p.loop_start = uniform(0, 300);
        p.loop_end = p.loop_start + uniform(0, 200);
      }
      if (chance(20)) p.fade_in = uniform(1, 100);
      if (chance(30)) p.group = some_group();
      if (chance(20)) p.outputs = uniform(0, 7);
      auto it = slot_token_.find(slot);
      voices_[id].token = it == slot_token_.end() ? 0 : it->second;
      live_ids_.push_back(id);
      if (chance(3)) {
        send(m);  // a play without its voice_end: the engine counts the lost event
        voices_[id].ended = true;
        lost_ids_.insert(id);
      } else {
        send(Message::voice_end(id));
        send(m);
      }
    } else if (pick < 65) {  // stop
      const std::uint32_t which = uniform(0, 9);
      const std::uint64_t fade = chance(30) ? 0 : uniform(1, 80);
      Message m;
      if (which < 6) {
        m = Message::stop_cmd(StopTarget::voice, some_voice(), fade, at_frame());
      } else if (which < 8) {
        const std::uint64_t group = chance(5)    ? (std::uint64_t{1} << 32) + some_group()
                                    : chance(10) ? 0
                                                 : some_group();
        m = Message::stop_cmd(StopTarget::group, group, fade, at_frame());
      } else if (which < 9) {
        m = Message::stop_cmd(StopTarget::clip, uniform(0, capacity_), fade, at_frame());
      } else {
        m = Message::stop_cmd(StopTarget::all, 0, fade, at_frame());
      }
      maybe_by_time(m.stop.at_frame, m.stop.at_nsecs);
      send(m);
    } else if (pick < 80) {  // set
      Message m = Message::set_gain(some_voice(), static_cast<float>(uniform(0, 100)) / 100.0f,
                                    uniform(0, 100), at_frame());
      if (chance(50)) {
        m.set.has_pan = true;
        m.set.pan = static_cast<float>(uniform(0, 200)) / 100.0f - 1.0f;
      }
      maybe_by_time(m.set.at_frame, m.set.at_nsecs);
      send(m);
    } else if (pick < 86) {
      send(Message::pause_cmd(some_voice(), uniform(0, 60)));
    } else if (pick < 92) {
      send(Message::resume_cmd(some_voice(), uniform(0, 60)));
    } else if (pick < 95) {
      send(Message::master_cmd(static_cast<float>(uniform(50, 100)) / 100.0f, uniform(0, 200)));
    } else if (pick < 98) {
      send(Message::query_voices(voice_infos_.data(), static_cast<std::uint32_t>(uniform(0, 256))));
    } else {
      send(Message::query_meters(peaks_.data(), rms_.data(), opt_.outputs));
    }
  }

  // Control side of MIDI for one cycle: maybe a new binding table, maybe a top-up of the spare
  // pool, then the cycle's events.
  void midi_control(std::uint32_t period) {
    if (chance(4)) {
      BindingTable* table = nullptr;
      if (!chance(10)) {
        table = new BindingTable();
        const std::uint32_t entries = uniform(1, 24);
        for (std::uint32_t i = 0; i < entries; ++i) {
          Binding& b = table->at(chance(50) ? 0 : uniform(1, 3), uniform(0, 7));
          b.used = true;
          b.clip = uniform(0, capacity_);  // sometimes an empty or unknown slot
          b.group = chance(50) ? 0 : uniform(1, 3);
          b.gain = static_cast<float>(uniform(0, 120)) / 100.0f;
          b.mode = static_cast<TriggerMode>(uniform(0, 2));
          b.velocity = chance(50);
        }
      }
      binding_tables_.insert(table);
      send(Message::set_bindings(table));
      ++tables_sent_;
    }
    if (chance(40)) {
      const std::uint32_t want = opt_.spare_nodes + (chance(5) ? uniform(1, 3) : 0);
      while (spares_out_ < want) {
        send(Message::spare());
        ++spares_out_;
      }
    }
    views_.clear();
    const std::uint32_t count = uniform(0, opt_.max_midi_per_cycle);
    std::uint32_t offset = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
      offset = std::min(period - 1, offset + uniform(0, period / 2));
      std::uint32_t at = offset;
      if (chance(3)) at = uniform(0, period + 10);  // out of order, or past the cycle
      std::uint8_t* bytes = midi_bytes_[i].data();
      const std::uint32_t channel = chance(70) ? uniform(0, 2) : uniform(0, 15);
      const std::uint32_t pick = uniform(0, 99);
      std::uint32_t size = 3;
      if (pick < 55) {
        bytes[0] = static_cast<std::uint8_t>(0x90 | channel);
        bytes[2] = static_cast<std::uint8_t>(chance(15) ? 0 : uniform(1, 127));
        ++notes_;
      } else if (pick < 90) {
        bytes[0] = static_cast<std::uint8_t>(0x80 | channel);
        bytes[2] = static_cast<std::uint8_t>(uniform(0, 127));
      } else {
        bytes[0] = static_cast<std::uint8_t>(uniform(0, 255));
        bytes[2] = static_cast<std::uint8_t>(uniform(0, 255));
        size = uniform(0, 3);
      }
      bytes[1] = static_cast<std::uint8_t>(chance(95) ? uniform(0, 7) : uniform(0, 255));
      views_.push_back(MidiEventView{at, size, size == 0 && chance(50) ? nullptr : bytes});
    }
  }

  std::uint32_t some_group() { return chance(80) ? uniform(1, 3) : 0xffffff00u + uniform(0, 3); }

  std::uint64_t some_voice() {
    if (live_ids_.empty() || chance(5)) return 1'000'000'000 + uniform(0, 10);  // unknown
    return live_ids_[uniform(0, static_cast<std::uint32_t>(live_ids_.size() - 1))];
  }

  void drain() {
    while (MessageNode node = rx_.pop()) {
      ++returned_;
      const Message& m = *node;
      switch (m.kind) {
        case Kind::voice_started: {
          if (m.started.midi != (m.started.voice >= midi_base_)) fail("midi flag or id wrong");
          if (m.started.midi) {
            if (spares_out_-- == 0) fail("more MIDI events than spare nodes");
            if (voices_.count(m.started.voice) != 0) fail("MIDI voice id reused");
            live_ids_.push_back(m.started.voice);
            ++midi_voices_;
          }
          auto& v = voices_[m.started.voice];
          if (v.started) fail("voice_started twice");
          if (v.ended && !(lost_voice(m.started.voice))) fail("voice_started after voice_ended");
          v.started = true;
          if (m.started.frame > frame_ + opt_.max_period) fail("start frame in the future");
          if (lost_voice(m.started.voice)) {
            voices_.erase(m.started.voice);  // its end cannot be reported
            forget(m.started.voice);
          } else if (m.started.started && v.token != 0) {
            v.reading = true;
            ++readers_[v.token];
          }
          break;
        }
        case Kind::voice_ended: {
          if (m.ended.midi != (m.ended.voice >= midi_base_)) fail("midi flag or id wrong");
          if (m.ended.midi && spares_out_-- == 0) fail("more MIDI events than spare nodes");
          auto& v = voices_[m.ended.voice];
          if (v.ended || lost_voice(m.ended.voice)) fail("voice_ended twice");
          if (!v.started) fail("voice_ended before voice_started");
          v.ended = true;
          if (v.reading) --readers_[v.token];
          forget(m.ended.voice);
          voices_.erase(m.ended.voice);
          break;
        }
        case Kind::clip_released: {
          auto it = clips_.find(m.clip.token);
          if (it == clips_.end()) {
            fail("clip released twice or unknown");
            break;
          }
          if (it->second.samples.data != m.clip.samples.data) fail("released samples differ");
          if (readers_[m.clip.token] != 0) fail("clip released while a voice may read it");
          readers_.erase(m.clip.token);
          clips_.erase(it);  // frees: any later read by the engine is a use after free
          break;
        }
        case Kind::table_released: {
          auto it = tables_.find(m.table.table);
          if (it == tables_.end()) {
            if (m.table.table != first_table_seen_ && first_table_seen_ != nullptr) {
              fail("unknown table back");
            }
            first_table_seen_ = m.table.table;  // the engine's own first table
          } else {
            tables_.erase(it);
          }
          delete[] m.table.table;
          break;
        }
        case Kind::spare:
          if (spares_out_-- == 0) fail("more spare nodes back than sent");
          break;
        case Kind::bindings_released: {
          auto it = binding_tables_.find(m.bindings.table);
          if (it == binding_tables_.end()) {
            fail("binding table back twice or unknown");
            break;
          }
          binding_tables_.erase(it);
          delete m.bindings.table;
          break;
        }
        case Kind::stop:
          if (m.stop.stopped > opt_.max_voices) fail("stop counted too many voices");
          if (m.stop.stopped > 0 && m.stop.at_frame != kNow &&
              due_frame(m.stop.at_frame, m.stop.at_nsecs) >= frame_) {
            fail("stop acted before its frame");
          }
          break;
        case Kind::set:
          if (m.set.found && m.set.at_frame != kNow &&
              due_frame(m.set.at_frame, m.set.at_nsecs) >= frame_) {
            fail("set acted before its frame");
          }
          break;
        case Kind::query_voices:
          if (m.voices.count > opt_.max_voices + opt_.max_voices / 4 + 1) fail("too many voices");
          break;
        default:
          break;
      }
    }
  }

  bool lost_voice(std::uint64_t id) const { return lost_ids_.count(id) != 0; }

  void forget(std::uint64_t id) {
    for (std::size_t i = 0; i < live_ids_.size(); ++i) {
      if (live_ids_[i] == id) {
        live_ids_[i] = live_ids_.back();
        live_ids_.pop_back();
        return;
      }
    }
  }

  Options opt_;
  std::mt19937 rng_;
  MessageQueue to_engine_;
  MessageQueue to_control_;
  Producer<Message> tx_;
  Consumer<Message> rx_;
  std::unique_ptr<Engine> engine_;
  std::uint32_t capacity_ = 0;
  std::uint64_t frame_ = 5000;
  std::vector<std::vector<float>> buffers_;
  std::vector<float*> pointers_;
  std::vector<VoiceInfo> voice_infos_;
  std::vector<float> peaks_, rms_;

  std::map<std::uint64_t, ClipMemory> clips_;
  std::map<std::uint32_t, std::uint64_t> slot_token_;
  std::map<ClipSlot*, std::uint32_t> tables_;
  ClipSlot* first_table_seen_ = nullptr;
  std::map<std::uint64_t, VoiceRecord> voices_;  // until both events came back
  std::map<std::uint64_t, int> readers_;         // clip token → voices started, not ended
  std::vector<std::uint64_t> live_ids_;
  std::uint64_t next_voice_ = 0;
  std::uint64_t next_token_ = 0;
  std::uint64_t sent_ = 0;
  std::uint64_t returned_ = 0;
  std::uint64_t commands_ = 0;
  std::set<std::uint64_t> lost_ids_;
  std::uint64_t midi_base_ = 0;
  std::multiset<BindingTable*> binding_tables_;  // sent, not back yet (null: no table)
  std::uint64_t spares_out_ = 0;  // spare nodes sent and not back (as spare or MIDI events)
  std::vector<MidiEventView> views_;
  std::vector<std::array<std::uint8_t, 3>> midi_bytes_ =
      std::vector<std::array<std::uint8_t, 3>>(64);
  std::uint64_t notes_ = 0;
  std::uint64_t midi_voices_ = 0;
  std::uint64_t tables_sent_ = 0;
  bool retired_ = false;
  std::string error_;
};

}  // namespace clipd::engine::test
