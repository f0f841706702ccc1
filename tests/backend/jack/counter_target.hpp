// A process target for the JACK backend's tests: writes the server frame number of every sample
// into the outputs, so a recording made by another client proves, sample by sample, both the
// bit-exact path and that the two clients saw the same frame time in the same cycle.
//
// out_1 = frame & 0xffff, out_2 = (frame >> 16) & 0xffff (as floats: exact), further outputs
// = the output index. It also keeps the (frame, nframes) of its cycles in a preallocated table
// and counts MIDI events, for comparison with the recorder's periods.
//
// Thread contract: render() runs on the audio thread; the control thread reads the atomics and,
// after JackBackend::retire(), everything.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "backend/jack/jack_backend.hpp"

namespace clipd::backend::jack::testing {

struct CycleRecord {
  std::uint64_t frame = 0;
  std::uint32_t nframes = 0;
};

inline float counter_low(std::uint64_t frame) {
  return static_cast<float>(frame & 0xffff);
}
inline float counter_high(std::uint64_t frame) {
  return static_cast<float>((frame >> 16) & 0xffff);
}
// The frame a pair of recorded samples stands for (low 32 bits).
inline std::uint64_t counter_decode(float low, float high) {
  return static_cast<std::uint64_t>(low) | (static_cast<std::uint64_t>(high) << 16);
}

class CounterTarget {
 public:
  // Note: allocates (the cycle table).
  explicit CounterTarget(std::uint32_t outputs, std::size_t max_cycles = 1 << 16)
      : outputs_(outputs), cycles_(max_cycles) {}

  ProcessTarget target() noexcept { return {&CounterTarget::render, this}; }

  // Audio thread. Non-blocking guarantees: wait-free.
  static void render(void* ctx, std::uint64_t frame, std::uint32_t nframes, float* const* out,
                     std::span<const engine::MidiEventView> midi, std::uint64_t usecs,
                     std::uint64_t /*next_usecs*/) noexcept {
    auto* self = static_cast<CounterTarget*>(ctx);
    for (std::uint32_t i = 0; i < nframes; ++i) {
      out[0][i] = counter_low(frame + i);
      if (self->outputs_ > 1) out[1][i] = counter_high(frame + i);
    }
    for (std::uint32_t c = 2; c < self->outputs_; ++c) {
      for (std::uint32_t i = 0; i < nframes; ++i)
        out[c][i] = static_cast<float>(c);
    }
    if (!midi.empty()) {
      std::uint64_t bytes = 0;
      for (const engine::MidiEventView& e : midi)
        bytes += e.size;
      self->midi_events_.fetch_add(midi.size(), std::memory_order_relaxed);
      self->midi_bytes_.fetch_add(bytes, std::memory_order_relaxed);
    }
    const std::size_t n = self->count_.load(std::memory_order_relaxed);
    if (n > 0) {
      const CycleRecord& last = self->cycles_[(n - 1) % self->cycles_.size()];
      if (last.frame + last.nframes != frame) {
        self->discontinuities_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    self->cycles_[n % self->cycles_.size()] = {frame, nframes};
    self->last_usecs_.store(usecs, std::memory_order_relaxed);
    self->count_.store(n + 1, std::memory_order_release);
  }

  std::size_t cycles() const noexcept { return count_.load(std::memory_order_acquire); }
  std::uint64_t discontinuities() const noexcept {
    return discontinuities_.load(std::memory_order_relaxed);
  }
  std::uint64_t midi_events() const noexcept {
    return midi_events_.load(std::memory_order_relaxed);
  }
  std::uint64_t last_usecs() const noexcept { return last_usecs_.load(std::memory_order_relaxed); }

  // The cycles still in the table (the most recent max_cycles), oldest first. Only once the
  // client has retired (or for a racy snapshot in tests that tolerate it).
  std::vector<CycleRecord> history() const {
    const std::size_t n = count_.load(std::memory_order_acquire);
    const std::size_t keep = n < cycles_.size() ? n : cycles_.size();
    std::vector<CycleRecord> out;
    for (std::size_t i = n - keep; i < n; ++i)
      out.push_back(cycles_[i % cycles_.size()]);
    return out;
  }

 private:
  std::uint32_t outputs_;
  std::vector<CycleRecord> cycles_;
  std::atomic<std::size_t> count_{0};
  std::atomic<std::uint64_t> discontinuities_{0};
  std::atomic<std::uint64_t> midi_events_{0};
  std::atomic<std::uint64_t> midi_bytes_{0};
  std::atomic<std::uint64_t> last_usecs_{0};
};

}  // namespace clipd::backend::jack::testing
