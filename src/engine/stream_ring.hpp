// One streamed voice's ring of frames: the disk side writes the voice's frames in playing order
// ahead of it, the audio thread reads them. clipd-protocol(7) describes streamed clips.
//
// A streamed clip's samples in the engine are its head (ClipSamples::head frames in memory);
// a voice that needs frames past the head takes a ring (Engine picks a free one) and asks for
// them with request(): the frames from `start` up to `first_end`, then, when looping, the
// region [loop_start, loop_end) again and again. The ring holds them in that order, counted from
// 0 at the request, so the reader never seeks and a loop wrap is prefetched like any other
// frame. Counts are kept modulo 2^40 inside the published words (no length limit: only
// differences are used, and the ring is far smaller than 2^40 frames).
//
// Threads and their roles:
// - Engine (audio thread), the consumer: request(), release(), available(), read(), consume(),
//   report_underrun(). All wait-free: a few atomic loads and stores, no system call.
// - One disk thread at a time, the producer: current(), consumed(), write_frames(), publish().
// - The control thread reads the underrun report (underrun_report()) on its drain timer.
// The request is a seqlock (gen odd while the engine writes it): the producer reads it with
// current(), which fails while it changes. Frames and counts pass with release/acquire on the
// two count words; nothing here ever waits.
//
// Memory: the floats live outside (control maps and locks one block for all rings); a clip with
// c channels uses floats() / c frames of it, channel k at data + k * frames.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>

namespace clipd::engine {

// What a voice asks its ring for (playing order). `clip` is the disk side's id of the streamed
// clip (ClipSamples::stream); 0 means "nothing": the ring is idle.
struct StreamRequest {
  std::uint64_t clip = 0;
  std::uint64_t voice = 0;       // for underrun reports
  std::uint64_t start = 0;       // first clip frame
  std::uint64_t first_end = 0;   // end of the first pass (clip frames)
  std::uint64_t loop_start = 0;  // the region repeated after the first pass, when looping
  std::uint64_t loop_end = 0;
  std::uint32_t channels = 0;
  bool looping = false;
};

// A voice's underrun record, as control reads it: `episodes` runs of missing frames so far,
// `missed` frames in all, `frame` the first frame of the last run.
struct UnderrunReport {
  std::uint64_t voice = 0;
  std::uint64_t clip = 0;
  std::uint64_t frame = 0;
  std::uint64_t episodes = 0;
  std::uint64_t missed = 0;
};

class StreamRing {
 public:
  static constexpr std::uint64_t kCountBits = 40;
  static constexpr std::uint64_t kCountMask = (std::uint64_t{1} << kCountBits) - 1;
  static constexpr std::uint64_t kFailed = std::uint64_t{1} << 63;

  StreamRing() noexcept = default;
  StreamRing(const StreamRing&) = delete;
  StreamRing& operator=(const StreamRing&) = delete;

  // Control thread, before the ring is shared.
  void attach(float* data, std::uint64_t floats) noexcept {
    data_ = data;
    floats_ = floats;
  }
  std::uint64_t floats() const noexcept { return floats_; }
  // Frames the ring holds for a clip of `channels` channels.
  std::uint64_t capacity(std::uint32_t channels) const noexcept {
    return channels == 0 ? 0 : floats_ / channels;
  }

  // ---- Audio thread (consumer). Each O(1), wait-free, unless stated.

  // Starts a new request; returns its generation (the count words carry it). O(1).
  std::uint32_t request(const StreamRequest& r) noexcept {
    const std::uint32_t g = gen_.load(std::memory_order_relaxed) + 1;  // odd: changing
    gen_.store(g, std::memory_order_relaxed);
    clip_.store(r.clip, std::memory_order_release);
    voice_.store(r.voice, std::memory_order_release);
    start_.store(r.start, std::memory_order_release);
    first_end_.store(r.first_end, std::memory_order_release);
    loop_start_.store(r.loop_start, std::memory_order_release);
    loop_end_.store(r.loop_end, std::memory_order_release);
    shape_.store(std::uint64_t{r.channels} | (r.looping ? std::uint64_t{1} << 32 : 0),
                 std::memory_order_release);
    consumed_.store(tag(g + 1), std::memory_order_release);
    gen_.store(g + 1, std::memory_order_release);
    return g + 1;
  }
  // The ring goes idle: the producer stops filling it. O(1).
  void release() noexcept { request(StreamRequest{}); }

  // Frames readable from count `from` of generation `gen`; `failed` tells that the producer met
  // an error after the frames it published (which stay readable).
  std::uint64_t available(std::uint32_t gen, std::uint64_t from, bool& failed) const noexcept {
    const std::uint64_t p = produced_.load(std::memory_order_acquire);
    failed = false;
    if ((p & ~kFailed) >> kCountBits != tag_bits(gen)) return 0;
    failed = (p & kFailed) != 0;
    const std::uint64_t ahead = (p - from) & kCountMask;
    // A reader that skipped missing frames is past the producer: nothing to read yet.
    return ahead > capacity(channels_of_request()) ? 0 : ahead;
  }
  // Copies frames [from, from + n) (all available) of channel `c` to out. O(n).
  void read(std::uint64_t from, std::uint64_t n, std::uint32_t channels, std::uint32_t c,
            float* out) const noexcept {
    const std::uint64_t cap = capacity(channels);
    const float* ch = data_ + c * cap;
    const std::uint64_t i = from % cap;
    const std::uint64_t first = std::min(n, cap - i);
    std::memcpy(out, ch + i, sizeof(float) * first);
    if (first < n) std::memcpy(out + first, ch, sizeof(float) * (n - first));
  }
  // The reader is at count `to` (it may run ahead of the producer over missing frames). O(1).
  void consume(std::uint32_t gen, std::uint64_t to) noexcept {
    consumed_.store(tag(gen) | (to & kCountMask), std::memory_order_release);
  }
  // Counts missing frames for control's report: `fresh` starts a new episode at `frame`. O(1).
  void report_underrun(std::uint64_t voice, std::uint64_t clip, std::uint64_t frame,
                       std::uint64_t missed, bool fresh) noexcept {
    const std::uint32_t s = report_seq_.load(std::memory_order_relaxed) + 1;
    report_seq_.store(s, std::memory_order_relaxed);
    if (voice != r_voice_.load(std::memory_order_relaxed)) {
      r_episodes_.store(0, std::memory_order_release);
      r_missed_.store(0, std::memory_order_release);
    }
    r_voice_.store(voice, std::memory_order_release);
    r_clip_.store(clip, std::memory_order_release);
    if (fresh) {
      r_frame_.store(frame, std::memory_order_release);
      r_episodes_.store(r_episodes_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    }
    r_missed_.store(r_missed_.load(std::memory_order_relaxed) + missed, std::memory_order_release);
    report_seq_.store(s + 1, std::memory_order_release);
  }

  // ---- Disk thread (producer).

  // The current request and its generation; false while the engine is changing it (try again
  // later) or when the ring is idle (clip == 0, then gen is still set).
  bool current(std::uint32_t& gen, StreamRequest& r) const noexcept {
    const std::uint32_t g = gen_.load(std::memory_order_acquire);
    if ((g & 1u) != 0) return false;
    r.clip = clip_.load(std::memory_order_acquire);
    r.voice = voice_.load(std::memory_order_acquire);
    r.start = start_.load(std::memory_order_acquire);
    r.first_end = first_end_.load(std::memory_order_acquire);
    r.loop_start = loop_start_.load(std::memory_order_acquire);
    r.loop_end = loop_end_.load(std::memory_order_acquire);
    const std::uint64_t shape = shape_.load(std::memory_order_acquire);
    r.channels = static_cast<std::uint32_t>(shape & 0xffffffffu);
    r.looping = (shape >> 32) != 0;
    if (gen_.load(std::memory_order_relaxed) != g) return false;
    gen = g;
    return r.clip != 0;
  }
  // True while generation `gen` is still the one asked for.
  bool still(std::uint32_t gen) const noexcept {
    return gen_.load(std::memory_order_acquire) == gen;
  }
  // The reader's count in generation `gen` (0 until it reads).
  std::uint64_t consumed(std::uint32_t gen) const noexcept {
    const std::uint64_t c = consumed_.load(std::memory_order_acquire);
    return c >> kCountBits == tag_bits(gen) ? (c & kCountMask) : 0;
  }
  // Writes `n` planar frames (in[k][0..n)) at count `at`; n <= capacity - (at - consumed).
  void write_frames(std::uint64_t at, std::uint64_t n, std::uint32_t channels,
                    const float* const* in) noexcept {
    if (n == 0) return;  // nothing to copy (and `in` may hold no buffers)
    const std::uint64_t cap = capacity(channels);
    for (std::uint32_t c = 0; c < channels; ++c) {
      float* ch = data_ + c * cap;
      const std::uint64_t i = at % cap;
      const std::uint64_t first = std::min(n, cap - i);
      std::memcpy(ch + i, in[c], sizeof(float) * first);
      if (first < n) std::memcpy(ch, in[c] + first, sizeof(float) * (n - first));
    }
  }
  // Frames up to count `to` are written (release); `failed`: nothing follows them.
  void publish(std::uint32_t gen, std::uint64_t to, bool failed) noexcept {
    produced_.store(tag(gen) | (to & kCountMask) | (failed ? kFailed : 0),
                    std::memory_order_release);
  }

  // ---- Control thread.

  // The last underrun record; false while the engine is writing it (try again on the next tick).
  bool underrun_report(UnderrunReport& r) const noexcept {
    const std::uint32_t s = report_seq_.load(std::memory_order_acquire);
    if ((s & 1u) != 0) return false;
    r.voice = r_voice_.load(std::memory_order_acquire);
    r.clip = r_clip_.load(std::memory_order_acquire);
    r.frame = r_frame_.load(std::memory_order_acquire);
    r.episodes = r_episodes_.load(std::memory_order_acquire);
    r.missed = r_missed_.load(std::memory_order_acquire);
    return report_seq_.load(std::memory_order_relaxed) == s;
  }

 private:
  static std::uint64_t tag_bits(std::uint32_t gen) noexcept { return (gen >> 1) & 0x7fffffu; }
  static std::uint64_t tag(std::uint32_t gen) noexcept { return tag_bits(gen) << kCountBits; }
  std::uint32_t channels_of_request() const noexcept {
    return static_cast<std::uint32_t>(shape_.load(std::memory_order_relaxed) & 0xffffffffu);
  }

  float* data_ = nullptr;
  std::uint64_t floats_ = 0;

  // The request (written by the engine).
  alignas(64) std::atomic<std::uint32_t> gen_{0};
  std::atomic<std::uint64_t> clip_{0};
  std::atomic<std::uint64_t> voice_{0};
  std::atomic<std::uint64_t> start_{0};
  std::atomic<std::uint64_t> first_end_{0};
  std::atomic<std::uint64_t> loop_start_{0};
  std::atomic<std::uint64_t> loop_end_{0};
  std::atomic<std::uint64_t> shape_{0};  // channels | looping << 32
  std::atomic<std::uint64_t> consumed_{0};
  // Written by the producer.
  alignas(64) std::atomic<std::uint64_t> produced_{0};
  // The underrun record (written by the engine, read by control).
  alignas(64) std::atomic<std::uint32_t> report_seq_{0};
  std::atomic<std::uint64_t> r_voice_{0};
  std::atomic<std::uint64_t> r_clip_{0};
  std::atomic<std::uint64_t> r_frame_{0};
  std::atomic<std::uint64_t> r_episodes_{0};
  std::atomic<std::uint64_t> r_missed_{0};

  static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
  static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
};

}  // namespace clipd::engine
