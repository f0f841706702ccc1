#include "clips/disk_streamer.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "clips/stream_reader.hpp"

namespace clipd::clips {

namespace {

// Frames read into a ring at most per visit: ~85 ms at 48 kHz, so one round over every ring
// stays short and a hungry ring is soon visited again.
constexpr std::uint64_t kFill = 4096;
// A ring with less room than this waits for more (fewer, larger reads), unless what is left of
// its playing order is smaller.
constexpr std::uint64_t kMinFill = 1024;
// How long idle disk threads sleep between looks at the rings when no voice streams.
constexpr std::chrono::milliseconds kIdlePoll{50};
// How long after a wake() the threads poll at the short interval.
constexpr std::chrono::milliseconds kHot{250};
// Nice value of the disk threads: below the control thread (0), above the loader workers (10).
constexpr int kDiskNice = 5;

}  // namespace

struct DiskStreamer::RingState {
  std::uint32_t index = 0;
  std::uint32_t gen = 0;  // the request being served
  engine::StreamRequest req;
  std::shared_ptr<Clip> clip;
  std::unique_ptr<StreamReader> reader;
  std::uint64_t produced = 0;
  bool failed = false;
  bool seek = true;
  std::chrono::steady_clock::time_point checked{};
  std::vector<float> block;
};

std::unique_ptr<DiskStreamer> DiskStreamer::create(const DiskStreamerOptions& options,
                                                   MemoryBudget& budget, StreamFailure on_failure,
                                                   std::string& error) {
  const std::uint64_t floats = std::uint64_t{options.rings} * options.ring_floats;
  const auto bytes = PcmBuffer::bytes_for(std::max<std::uint64_t>(floats, 1), 1);
  std::optional<BudgetReservation> reservation;
  if (bytes) reservation = budget.reserve(*bytes);
  if (!reservation) {
    error = "the stream rings need " + std::to_string(bytes.value_or(0)) +
            " bytes; the memory budget has " +
            std::to_string(budget.limit() - std::min(budget.used(), budget.limit())) + " left";
    return nullptr;
  }
  auto memory = PcmBuffer::allocate(std::max<std::uint64_t>(floats, 1), 1, options.warn);
  if (!memory) {
    error = "cannot map " + std::to_string(*bytes) + " bytes for the stream rings";
    return nullptr;
  }
  return std::unique_ptr<DiskStreamer>(new DiskStreamer(options, std::move(*reservation),
                                                        std::move(*memory), std::move(on_failure)));
}

DiskStreamer::DiskStreamer(const DiskStreamerOptions& options, BudgetReservation reservation,
                           PcmBuffer memory, StreamFailure on_failure)
    : options_(options),
      reservation_(std::move(reservation)),
      memory_(std::move(memory)),
      rings_(std::make_unique<engine::StreamRing[]>(std::max<std::uint32_t>(options.rings, 1))),
      on_failure_(std::move(on_failure)) {
  for (std::uint32_t i = 0; i < options_.rings; ++i)
    rings_[i].attach(memory_.channel(0) + i * options_.ring_floats, options_.ring_floats);
  block_delay_us_.store(options_.block_delay.count(), std::memory_order_relaxed);
  const unsigned count = std::max(1U, options_.threads);
  threads_.reserve(count);
  for (unsigned t = 0; t < count; ++t) {
    threads_.emplace_back([this, t] { run(t); });
    ::pthread_setname_np(threads_.back().native_handle(), "clipd-disk");
  }
}

DiskStreamer::~DiskStreamer() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& thread : threads_)
    thread.join();
}

std::uint64_t DiskStreamer::add(std::shared_ptr<const StreamFile> file) {
  auto clip = std::make_shared<Clip>();
  clip->file = std::move(file);
  std::lock_guard lock(mutex_);
  const std::uint64_t id = next_id_++;
  clips_.emplace(id, std::move(clip));
  return id;
}

void DiskStreamer::remove(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  clips_.erase(id);
}

void DiskStreamer::wake() {
  {
    std::lock_guard lock(mutex_);
    ++kicked_;
  }
  wake_.notify_all();
}

std::shared_ptr<DiskStreamer::Clip> DiskStreamer::find(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  const auto it = clips_.find(id);
  return it == clips_.end() ? nullptr : it->second;
}

void DiskStreamer::fail(Clip& clip, const std::string& why) {
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    if (clip.failed.load(std::memory_order_relaxed)) return;
    clip.why = why;
    clip.failed.store(true, std::memory_order_release);
    for (const auto& [key, value] : clips_) {
      if (value.get() == &clip) id = key;
    }
  }
  if (on_failure_ && id != 0) on_failure_(id, why);
}

void DiskStreamer::run(unsigned index) noexcept {
  // Reading ahead is background work next to answering clients, but more urgent than loading.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), kDiskNice);
  const unsigned count = std::max(1U, options_.threads);
  std::vector<RingState> states;
  for (std::uint32_t i = index; i < options_.rings; i += count) {
    states.emplace_back();
    states.back().index = i;
  }
  std::uint64_t seen = 0;
  // After a wake(), the engine asks its ring within a period or two: look often meanwhile.
  auto hot_until = std::chrono::steady_clock::time_point{};
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
      if (kicked_ != seen) hot_until = std::chrono::steady_clock::now() + kHot;
      seen = kicked_;
    }
    bool busy = false;
    bool streaming = false;
    const auto now = std::chrono::steady_clock::now();
    for (RingState& s : states) {
      try {
        busy = service(s.index, s) || busy;
      } catch (const std::exception& e) {
        // Out of memory for a reader: the ring fails like a read error.
        if (s.clip) fail(*s.clip, e.what());
        rings_[s.index].publish(s.gen, s.produced, true);
        s.failed = true;
      }
      streaming = streaming || (s.clip != nullptr && !s.failed);
      if (s.clip && !s.failed && now - s.checked >= options_.check) {
        s.checked = now;
        std::string why;
        if (!s.clip->failed.load(std::memory_order_acquire) && !still_there(*s.clip->file, why)) {
          fail(*s.clip, why);
        }
      }
    }
    if (!busy) {
      // With no voice streaming, a longer sleep: a play wakes the threads (wake()), and a voice
      // a MIDI note starts plays its head first, far longer than kIdlePoll.
      std::unique_lock lock(mutex_);
      const bool hot = streaming || std::chrono::steady_clock::now() < hot_until;
      wake_.wait_for(lock, hot ? options_.poll : kIdlePoll,
                     [&] { return stop_ || kicked_ != seen; });
    }
  }
}

bool DiskStreamer::service(std::uint32_t i, RingState& s) {
  engine::StreamRing& ring = rings_[i];
  std::uint32_t gen = 0;
  engine::StreamRequest r;
  if (!ring.current(gen, r)) {
    if (gen != 0 && gen != s.gen) {
      // Idle: close the file (the next request may be for another clip).
      s = RingState{i, gen, r, nullptr, nullptr, 0, true, true, {}, std::move(s.block)};
    }
    return false;
  }
  if (gen != s.gen) {
    std::shared_ptr<Clip> clip = find(r.clip);
    const bool same = clip != nullptr && clip == s.clip && s.reader != nullptr;
    s.gen = gen;
    s.req = r;
    s.produced = 0;
    s.failed = false;
    s.seek = true;
    if (!same) {
      s.reader.reset();
      s.clip = clip;
      if (clip == nullptr || clip->failed.load(std::memory_order_acquire)) {
        ring.publish(gen, 0, true);
        s.failed = true;
        return false;
      }
      std::string error;
      s.reader = StreamReader::open(clip->file, error);
      if (s.reader == nullptr) {
        fail(*clip, error);
        ring.publish(gen, 0, true);
        s.failed = true;
        return true;
      }
    }
  }
  if (s.failed) return false;
  if (s.clip->failed.load(std::memory_order_acquire)) {
    ring.publish(gen, s.produced, true);
    s.failed = true;
    return false;
  }
  const std::uint32_t channels = std::min(r.channels, s.clip->file->channels);
  const std::uint64_t cap = ring.capacity(r.channels);
  const std::uint64_t consumed = ring.consumed(gen);
  if (consumed > s.produced) {
    // The voice went past frames that never came (an underrun): go on from where it is.
    s.produced = consumed;
    s.seek = true;
  }
  const std::uint64_t first = r.first_end > r.start ? r.first_end - r.start : 0;
  const std::uint64_t loop = r.loop_end > r.loop_start ? r.loop_end - r.loop_start : 0;
  const bool looping = r.looping && loop > 0;
  if (!looping && s.produced >= first) return false;  // all of it is in the ring
  const std::uint64_t room = consumed + cap - s.produced;
  std::uint64_t pos = 0;
  std::uint64_t segment_end = 0;
  if (s.produced < first) {
    pos = r.start + s.produced;
    segment_end = r.first_end;
  } else {
    pos = r.loop_start + (s.produced - first) % loop;
    segment_end = r.loop_end;
  }
  const std::uint64_t left = looping ? kMinFill : first - s.produced;
  if (room < std::min(kMinFill, left) || room == 0) return false;
  const std::uint64_t n = std::min({room, kFill, segment_end - pos});
  const std::uint32_t file_channels = s.clip->file->channels;
  s.block.resize(kFill * file_channels);
  float* planes[64];
  for (std::uint32_t c = 0; c < file_channels; ++c)
    planes[c] = s.block.data() + c * kFill;
  if ((s.seek || s.reader->position() != pos) && !s.reader->seek(pos)) {
    fail(*s.clip, s.reader->error());
    ring.publish(gen, s.produced, true);
    s.failed = true;
    return true;
  }
  s.seek = false;
  if (!s.reader->read(planes, n)) {
    fail(*s.clip, s.reader->error());
    ring.publish(gen, s.produced, true);
    s.failed = true;
    return true;
  }
  const std::int64_t delay = block_delay_us_.load(std::memory_order_relaxed);
  if (delay > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay));
  ring.write_frames(s.produced, n, channels, planes);
  s.produced += n;
  ring.publish(gen, s.produced, false);
  return true;
}

}  // namespace clipd::clips
