// A process target for the PipeWire backend's tests: writes the server frame of every sample into
// the outputs, so a recording made by another client proves, sample by sample, both the bit-exact
// path and that the two clients saw the same frame in the same cycle.
//
// out_1 = frame & 0xffff, out_2 = (frame >> 16) & 0xffff (as floats: exact), further outputs =
// the output index. It keeps the (frame, nframes) of its cycles and the MIDI events it was handed
// (absolute frame, bytes) in preallocated tables.
//
// Thread contract: render() runs on the data thread; the control thread reads the atomics and,
// after Backend::retire(), everything. With `allocate_in_cycle` set (the RealtimeSanitizer's
// negative control) render() allocates once, in that cycle: deliberately not real-time safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "backend/backend.hpp"

namespace clipd::backend::testing {

struct CycleRecord {
  std::uint64_t frame = 0;
  std::uint32_t nframes = 0;
};

struct MidiRecord {
  std::uint64_t frame = 0;  // cycle frame + offset
  std::uint32_t offset = 0;
  std::uint32_t size = 0;
  std::uint8_t bytes[4] = {};
};

inline float stamp_low(std::uint64_t frame) {
  return static_cast<float>(frame & 0xffff);
}
inline float stamp_high(std::uint64_t frame) {
  return static_cast<float>((frame >> 16) & 0xffff);
}
// The frame a pair of recorded samples stands for (low 32 bits).
inline std::uint64_t stamp_decode(float low, float high) {
  return static_cast<std::uint64_t>(low) | (static_cast<std::uint64_t>(high) << 16);
}

class StampTarget {
 public:
  // Note: allocates (the tables).
  explicit StampTarget(std::uint32_t outputs, std::size_t max_cycles = 1 << 16,
                       std::size_t max_midi = 4096)
      : outputs_(outputs), cycles_(max_cycles), midi_(max_midi) {}

  ProcessTarget target() noexcept { return {&StampTarget::render, this}; }
  void allocate_in_cycle(std::size_t cycle) noexcept { allocate_in_cycle_ = cycle; }

  // Data thread. Non-blocking guarantees: wait-free (unless allocate_in_cycle is set).
  static void render(void* ctx, std::uint64_t frame, std::uint32_t nframes, float* const* out,
                     std::span<const engine::MidiEventView> midi, std::uint64_t usecs,
                     std::uint64_t /*next_usecs*/) noexcept {
    auto* self = static_cast<StampTarget*>(ctx);
    const std::size_t n = self->count_.load(std::memory_order_relaxed);
    if (n == self->allocate_in_cycle_) {
      void* volatile p = std::malloc(64);
      std::free(p);
    }
    for (std::uint32_t i = 0; i < nframes; ++i) {
      out[0][i] = stamp_low(frame + i);
      if (self->outputs_ > 1) out[1][i] = stamp_high(frame + i);
    }
    for (std::uint32_t c = 2; c < self->outputs_; ++c) {
      for (std::uint32_t i = 0; i < nframes; ++i)
        out[c][i] = static_cast<float>(c);
    }
    std::size_t m = self->midi_count_.load(std::memory_order_relaxed);
    for (const engine::MidiEventView& e : midi) {
      if (m == self->midi_.size()) break;
      MidiRecord& r = self->midi_[m++];
      r.frame = frame + e.offset;
      r.offset = e.offset;
      r.size = e.size;
      for (std::uint32_t b = 0; b < e.size && b < 4; ++b)
        r.bytes[b] = e.data[b];
      if (e.offset >= nframes) self->bad_offsets_.fetch_add(1, std::memory_order_relaxed);
    }
    self->midi_count_.store(m, std::memory_order_release);
    if (n > 0) {
      const CycleRecord& last = self->cycles_[(n - 1) % self->cycles_.size()];
      if (last.frame + last.nframes != frame) {
        self->discontinuities_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    self->cycles_[n % self->cycles_.size()] = {frame, nframes};
    self->last_usecs_.store(usecs, std::memory_order_relaxed);
    self->last_nframes_.store(nframes, std::memory_order_relaxed);
    self->count_.store(n + 1, std::memory_order_release);
  }

  std::size_t cycles() const noexcept { return count_.load(std::memory_order_acquire); }
  std::uint64_t discontinuities() const noexcept {
    return discontinuities_.load(std::memory_order_relaxed);
  }
  std::uint64_t bad_offsets() const noexcept {
    return bad_offsets_.load(std::memory_order_relaxed);
  }
  std::uint64_t last_usecs() const noexcept { return last_usecs_.load(std::memory_order_relaxed); }
  std::uint32_t last_nframes() const noexcept {
    return last_nframes_.load(std::memory_order_relaxed);
  }
  std::size_t midi_count() const noexcept { return midi_count_.load(std::memory_order_acquire); }
  // The MIDI events so far (entries below midi_count() are complete).
  std::vector<MidiRecord> midi() const {
    const std::size_t m = midi_count();
    return {midi_.begin(), midi_.begin() + static_cast<std::ptrdiff_t>(m)};
  }

  // The cycles still in the table (the most recent max_cycles), oldest first: once the backend
  // has retired, or as a snapshot whose last entry may be in flight.
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
  std::size_t allocate_in_cycle_ = SIZE_MAX;
  std::vector<CycleRecord> cycles_;
  std::vector<MidiRecord> midi_;
  std::atomic<std::size_t> count_{0};
  std::atomic<std::size_t> midi_count_{0};
  std::atomic<std::uint64_t> discontinuities_{0};
  std::atomic<std::uint64_t> bad_offsets_{0};
  std::atomic<std::uint64_t> last_usecs_{0};
  std::atomic<std::uint32_t> last_nframes_{0};
};

}  // namespace clipd::backend::testing
