// Test rig: an Engine with its two queues, rendered offline into long per-output recordings, and
// every node that comes back collected as a plain Message.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <vector>

#include "engine/engine.hpp"

namespace clipd::engine::test {

// A clip in page-aligned planar memory, filled with deterministic noise in [-1, 1).
class TestClip {
 public:
  TestClip(std::uint64_t frames, std::uint32_t channels, std::uint32_t seed = 1) {
    stride_ = (frames + 15) / 16 * 16;
    if (stride_ == 0) stride_ = 16;
    const std::size_t bytes = (sizeof(float) * stride_ * channels + 4095) / 4096 * 4096;
    data_.reset(static_cast<float*>(std::aligned_alloc(4096, bytes == 0 ? 4096 : bytes)));
    std::uint32_t x = seed * 2654435761u + 1;
    for (std::uint64_t i = 0; i < stride_ * channels; ++i) {
      x = x * 1664525u + 1013904223u;
      data_.get()[i] = static_cast<float>(static_cast<std::int32_t>(x)) / 2147483648.0f;
    }
    samples_ = ClipSamples{data_.get(), frames, channels, stride_};
  }
  const ClipSamples& samples() const { return samples_; }
  float at(std::uint32_t channel, std::uint64_t frame) const {
    return samples_.channel(channel)[frame];
  }
  std::uint64_t frames() const { return samples_.frames; }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  std::uint64_t stride_ = 0;
  ClipSamples samples_{};
};

class Rig {
 public:
  static constexpr std::uint64_t kBase = 1'000'000;  // frame of the first cycle

  explicit Rig(Config config = {}) : outputs_(config.outputs) {
    engine_ = std::make_unique<Engine>(config, to_engine_.consumer(), to_control_.producer());
    tx_ = to_engine_.producer();
    rx_ = to_control_.consumer();
    recording_.resize(outputs_);
  }
  ~Rig() {
    if (!retired_) retire(EndReason::shutdown);
  }

  Engine& engine() { return *engine_; }
  std::uint64_t frame() const { return frame_; }

  void send(const Message& m) {
    tx_.push(MessageNode::make(m));
    ++sent_;
  }
  // A play is two nodes: voice_end first, then play.
  void play(const Message& m) {
    send(Message::voice_end(m.play.voice));
    send(m);
  }
  // Default play of `clip` as `voice`, optionally at a frame.
  void play(std::uint64_t voice, std::uint32_t clip, std::uint64_t at = kNow) {
    Message m = Message::play_default(voice, clip);
    m.play.at_frame = at;
    play(m);
  }
  void add_clip(std::uint32_t slot, const TestClip& clip, std::uint64_t token = 0) {
    send(Message::add_clip(slot, clip.samples(), token == 0 ? slot + 1 : token));
  }

  // One MIDI message of a cycle, at frame `offset` inside it.
  struct Midi {
    std::uint32_t offset;
    std::vector<std::uint8_t> bytes;
  };
  static Midi note_on(std::uint32_t offset, std::uint32_t channel, std::uint32_t note,
                      std::uint32_t velocity = 100) {
    return Midi{offset,
                {static_cast<std::uint8_t>(0x90 + channel - 1), static_cast<std::uint8_t>(note),
                 static_cast<std::uint8_t>(velocity)}};
  }
  static Midi note_off(std::uint32_t offset, std::uint32_t channel, std::uint32_t note) {
    return Midi{
        offset,
        {static_cast<std::uint8_t>(0x80 + channel - 1), static_cast<std::uint8_t>(note), 64}};
  }
  // A new, empty binding table, freed with the rig (after retire()).
  BindingTable* new_table() {
    tables_.push_back(std::make_unique<BindingTable>());
    return tables_.back().get();
  }
  void spares(std::uint32_t n) {
    for (std::uint32_t i = 0; i < n; ++i)
      send(Message::spare());
  }

  // Runs one cycle of n frames and records it; collects what came back.
  void cycle(std::uint32_t n) { cycle(n, {}); }
  // One cycle whose server times are `usecs` at its first frame and `next_usecs` at the next
  // cycle's (the backend's ProcessFn arguments).
  void cycle_timed(std::uint32_t n, std::uint64_t usecs, std::uint64_t next_usecs) {
    cycle(n, {}, usecs, next_usecs);
  }
  // The same with MIDI input; by default 10 us a frame and no estimate of the next cycle.
  void cycle(std::uint32_t n, const std::vector<Midi>& midi) { cycle(n, midi, frame_ * 10, 0); }
  void cycle(std::uint32_t n, const std::vector<Midi>& midi, std::uint64_t usecs,
             std::uint64_t next_usecs) {
    std::vector<MidiEventView> views;
    for (const auto& e : midi) {
      views.push_back(
          MidiEventView{e.offset, static_cast<std::uint32_t>(e.bytes.size()), e.bytes.data()});
    }
    std::vector<std::vector<float>> bufs(outputs_, std::vector<float>(n, 12345.0f));
    std::vector<float*> ptrs;
    for (auto& b : bufs)
      ptrs.push_back(b.data());
    engine_->process(frame_, n, ptrs.data(), usecs, views.data(),
                     static_cast<std::uint32_t>(views.size()), next_usecs);
    for (std::uint32_t o = 0; o < outputs_; ++o) {
      recording_[o].insert(recording_[o].end(), bufs[o].begin(), bufs[o].end());
    }
    frame_ += n;
    drain();
  }
  void run(std::uint64_t frames, std::uint32_t period) {
    for (std::uint64_t done = 0; done < frames; done += period)
      cycle(period);
  }

  void drain() {
    while (MessageNode n = rx_.pop()) {
      events_.push_back(*n);
      ++returned_;
    }
  }
  void retire(EndReason reason) {
    engine_->retire(frame_, reason);
    retired_ = true;
    drain();
  }

  // Output sample at an absolute frame (must have been rendered).
  float out(std::uint32_t output, std::uint64_t frame) const {
    return recording_.at(output).at(frame - kBase);
  }
  const std::vector<Message>& events() const { return events_; }
  std::uint64_t sent() const { return sent_; }
  std::uint64_t returned() const { return returned_; }

  // The voice_started events of MIDI voices, in order.
  std::vector<StartedPayload> midi_starts() const {
    std::vector<StartedPayload> out;
    for (const auto& m : events_) {
      if (m.kind == Kind::voice_started && m.started.midi) out.push_back(m.started);
    }
    return out;
  }
  std::optional<StartedPayload> started(std::uint64_t voice) const {
    for (const auto& m : events_) {
      if (m.kind == Kind::voice_started && m.started.voice == voice) return m.started;
    }
    return std::nullopt;
  }
  std::optional<EndedPayload> ended(std::uint64_t voice) const {
    for (const auto& m : events_) {
      if (m.kind == Kind::voice_ended && m.ended.voice == voice) return m.ended;
    }
    return std::nullopt;
  }
  int count(Kind kind) const {
    int c = 0;
    for (const auto& m : events_)
      c += m.kind == kind ? 1 : 0;
    return c;
  }
  // The last returned message of a kind.
  std::optional<Message> last(Kind kind) const {
    for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
      if (it->kind == kind) return *it;
    }
    return std::nullopt;
  }

 private:
  std::uint32_t outputs_;
  MessageQueue to_engine_;
  MessageQueue to_control_;
  Producer<Message> tx_;
  Consumer<Message> rx_;
  std::unique_ptr<Engine> engine_;
  std::uint64_t frame_ = kBase;
  std::vector<std::vector<float>> recording_;
  std::vector<Message> events_;
  std::uint64_t sent_ = 0;
  std::uint64_t returned_ = 0;
  bool retired_ = false;
  std::vector<std::unique_ptr<BindingTable>> tables_;
};

// Contract ramp value at sample k of an n-sample ramp from g0 to g1.
inline double ramp_at(double g0, double g1, std::uint64_t k, std::uint64_t n) {
  return g0 + (g1 - g0) * static_cast<double>(k + 1) / static_cast<double>(n);
}

}  // namespace clipd::engine::test
