// The disk threads of streamed clips: they keep every ring of a streamed voice
// (engine/stream_ring.hpp) filled ahead of the voice, reading, decoding and resampling its
// clip's file (clips/stream_reader.hpp) in playing order, loops included. clipd-protocol(7)
// describes streaming; clipd.conf(5) its keys.
//
// The audio thread never wakes them (that would be a system call): each thread polls its share
// of the rings every `poll` while a voice streams, every 50 ms otherwise (a voice a MIDI note
// starts plays its head meanwhile), and at once when control calls wake() after a play; it
// tops up every ring that has room, one block per ring per round, so a hungry ring never waits
// behind a full one. A file that is truncated, replaced or removed while it streams (a short
// read, or its path no longer naming the file loaded, checked every `check` while it streams)
// fails: its rings publish what they have and fail (the engine ends the voices with
// read_error), every later request for the clip fails at once, and `on_failure` is called once
// for the clip.
//
// Memory: one locked mapping holds every ring (rings * ring_floats floats), reserved from the
// memory budget for the streamer's life.
//
// Thread contract: construct, add(), remove(), wake() and destroy on the control thread;
// on_failure runs on a disk thread. The rings must outlive every engine given them: destroy the
// streamer after the engine.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "clips/memory_budget.hpp"
#include "clips/pcm_buffer.hpp"
#include "clips/stream_file.hpp"
#include "engine/stream_ring.hpp"

namespace clipd::clips {

struct DiskStreamerOptions {
  std::uint32_t rings = 0;
  std::uint64_t ring_floats = 0;  // per ring: a clip of c channels gets ring_floats / c frames
  unsigned threads = 1;
  std::chrono::microseconds poll{2000};
  std::chrono::milliseconds check{250};
  // Test hook: each block a disk thread reads takes at least this long (a slow disk).
  std::chrono::microseconds block_delay{0};
  WarnFn warn;
};

// Called on a disk thread, once per clip, when its file fails: the clip's id and why.
using StreamFailure = std::function<void(std::uint64_t clip, const std::string& why)>;

class DiskStreamer {
 public:
  // Maps, locks and reserves the rings; nullopt-like null with `error` set when the budget or
  // the kernel refuses. Note: allocates, starts the threads.
  static std::unique_ptr<DiskStreamer> create(const DiskStreamerOptions& options,
                                              MemoryBudget& budget, StreamFailure on_failure,
                                              std::string& error);
  ~DiskStreamer();
  DiskStreamer(const DiskStreamer&) = delete;
  DiskStreamer& operator=(const DiskStreamer&) = delete;

  engine::StreamRing* rings() noexcept { return rings_.get(); }
  std::uint32_t ring_count() const noexcept { return options_.rings; }
  std::uint64_t ring_floats() const noexcept { return options_.ring_floats; }
  // The rings' memory, page-rounded (what the budget holds for them).
  std::size_t bytes() const noexcept { return memory_.bytes(); }
  bool locked() const noexcept { return memory_.locked(); }

  // Makes a streamed clip's file known to the disk threads; returns its id (never 0), to go
  // into the engine's ClipSamples::stream. Control thread.
  std::uint64_t add(std::shared_ptr<const StreamFile> file);
  // Forgets a clip once the engine has handed it back (no ring asks for it any more). Control
  // thread.
  void remove(std::uint64_t id);
  // Looks at the rings now (a play was just sent). Control thread; takes a lock.
  void wake();
  // Test hook, any thread: see DiskStreamerOptions::block_delay.
  void set_block_delay(std::chrono::microseconds delay) noexcept {
    block_delay_us_.store(delay.count(), std::memory_order_relaxed);
  }

 private:
  struct Clip {
    std::shared_ptr<const StreamFile> file;
    std::atomic<bool> failed{false};
    std::string why;  // set before `failed` (release)
    std::chrono::steady_clock::time_point checked{};
  };
  struct RingState;

  DiskStreamer(const DiskStreamerOptions& options, BudgetReservation reservation, PcmBuffer memory,
               StreamFailure on_failure);
  void run(unsigned index) noexcept;
  // Tops up ring i by one block; true when it did work.
  bool service(std::uint32_t i, RingState& s);
  std::shared_ptr<Clip> find(std::uint64_t id);
  void fail(Clip& clip, const std::string& why);

  DiskStreamerOptions options_;
  BudgetReservation reservation_;
  PcmBuffer memory_;
  std::unique_ptr<engine::StreamRing[]> rings_;
  StreamFailure on_failure_;
  std::atomic<std::int64_t> block_delay_us_{0};

  std::mutex mutex_;  // guards clips_, next_id_, stop_, kicked_
  std::condition_variable wake_;
  std::map<std::uint64_t, std::shared_ptr<Clip>> clips_;
  std::uint64_t next_id_ = 1;
  bool stop_ = false;
  std::uint64_t kicked_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace clipd::clips
