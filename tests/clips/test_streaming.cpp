// Streamed clips on the clips side: the head and every frame a StreamReader or the disk threads
// deliver, from any position, equal the whole-file decode (bit for bit at equal rates, at least
// 100 dB signal-to-error when resampled); a file truncated or removed while it streams fails its
// rings and is reported once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "clips/decode.hpp"
#include "clips/disk_streamer.hpp"
#include "clips/stream_reader.hpp"
#include "test_files.hpp"

namespace clipd::clips::test {
namespace {

constexpr int kRate = 44100;
constexpr std::uint64_t kFrames = 20 * kRate;

class StreamingClips : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    path_ = dir_->file("long.flac");
    ASSERT_TRUE(write_audio(path_, SF_FORMAT_FLAC | SF_FORMAT_PCM_24, kRate, 2, kFrames));
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static LoadRequest request(std::uint32_t rate, StreamMode mode) {
    LoadRequest r;
    r.path = path_;
    r.target_rate = rate;
    r.stream = mode;
    return r;
  }
  static std::unique_ptr<LoadedClip> load(std::uint32_t rate, StreamMode mode) {
    LoadResult result = decode_clip(request(rate, mode), budget_);
    EXPECT_TRUE(result.ok()) << (result.error ? result.error->message : "");
    return std::move(result.clip);
  }

  static TempDir* dir_;
  static std::string path_;
  static MemoryBudget budget_;
};
TempDir* StreamingClips::dir_ = nullptr;
std::string StreamingClips::path_;
MemoryBudget StreamingClips::budget_{std::size_t{1} << 32};

// Signal-to-error ratio in dB of `got` against `want`.
double snr_db(const std::vector<float>& want, const std::vector<float>& got) {
  double signal = 0, error = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    signal += double{want[i]} * want[i];
    error += (double{want[i]} - got[i]) * (double{want[i]} - got[i]);
  }
  return error == 0 ? 1000.0 : 10.0 * std::log10(signal / error);
}

// Frames [from, from + n) of channel c of a whole clip.
std::vector<float> slice(const LoadedClip& clip, std::uint32_t c, std::uint64_t from,
                         std::uint64_t n) {
  const float* ch = clip.pcm().channel(c) + from;
  return {ch, ch + n};
}

TEST_F(StreamingClips, AStreamedLoadHoldsOnlyItsHeadWhichEqualsTheWholeDecode) {
  for (const std::uint32_t rate : {44100u, 48000u}) {
    const auto whole = load(rate, StreamMode::never);
    const auto streamed = load(rate, StreamMode::always);
    ASSERT_TRUE(whole && streamed);
    const ClipInfo& info = streamed->info();
    EXPECT_TRUE(info.streamed);
    EXPECT_FALSE(whole->info().streamed);
    EXPECT_EQ(info.frames, whole->info().frames);
    EXPECT_EQ(info.head_frames, 2u * rate);
    EXPECT_EQ(info.bytes, *PcmBuffer::bytes_for(2u * rate, 2));
    EXPECT_EQ(info.source_sample_rate, 44100u);
    const engine::ClipSamples s = streamed->samples();
    EXPECT_EQ(s.frames, whole->info().frames);
    EXPECT_EQ(s.head, info.head_frames);
    for (std::uint32_t c = 0; c < 2; ++c) {
      const std::vector<float> want = slice(*whole, c, 0, info.head_frames);
      const std::vector<float> got(s.channel(c), s.channel(c) + info.head_frames);
      if (rate == 44100) {
        ASSERT_EQ(got, want) << c;
      } else {
        EXPECT_GE(snr_db(want, got), 100.0) << c;
      }
    }
  }
}

TEST_F(StreamingClips, AutomaticStreamsPastTheThreshold) {
  LoadRequest r = request(48000, StreamMode::automatic);
  r.stream_threshold = 1 << 20;
  LoadResult small = decode_clip(r, budget_);
  ASSERT_TRUE(small.ok());
  EXPECT_TRUE(small.clip->info().streamed);
  r.stream_threshold = std::size_t{1} << 30;
  LoadResult large = decode_clip(r, budget_);
  ASSERT_TRUE(large.ok());
  EXPECT_FALSE(large.clip->info().streamed);
}

TEST_F(StreamingClips, AReaderFromAnyPositionEqualsTheWholeDecode) {
  for (const std::uint32_t rate : {44100u, 48000u}) {
    const auto whole = load(rate, StreamMode::never);
    const auto streamed = load(rate, StreamMode::always);
    ASSERT_TRUE(whole && streamed);
    const std::uint64_t frames = whole->info().frames;
    std::string error;
    auto reader = StreamReader::open(streamed->stream_file(), error);
    ASSERT_TRUE(reader) << error;
    for (const std::uint64_t pos :
         {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{rate} - 1, std::uint64_t{2} * rate,
          std::uint64_t{7} * rate + 12345, frames - 30000, frames - 100}) {
      const std::uint64_t n = std::min<std::uint64_t>(20000, frames - pos);
      std::vector<float> left(n), right(n);
      float* out[2] = {left.data(), right.data()};
      ASSERT_TRUE(reader->seek(pos)) << reader->error();
      ASSERT_TRUE(reader->read(out, n)) << reader->error();
      EXPECT_EQ(reader->position(), pos + n);
      if (rate == 44100) {
        ASSERT_EQ(left, slice(*whole, 0, pos, n)) << pos;
        ASSERT_EQ(right, slice(*whole, 1, pos, n)) << pos;
      } else {
        EXPECT_GE(snr_db(slice(*whole, 0, pos, n), left), 100.0) << pos;
        EXPECT_GE(snr_db(slice(*whole, 1, pos, n), right), 100.0) << pos;
      }
    }
  }
}

// Plays the engine's part against a DiskStreamer: asks a ring for a playing order and takes
// frames as they come.
struct Consumer {
  engine::StreamRing& ring;
  std::uint32_t gen = 0;
  std::uint64_t read = 0;

  // Takes n frames (waiting for them, up to a deadline); false when the ring failed first.
  bool take(std::uint64_t n, std::vector<float>& left, std::vector<float>& right) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (n > 0) {
      bool failed = false;
      const std::uint64_t have = std::min(ring.available(gen, read, failed), n);
      if (have == 0) {
        if (failed) return false;
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polls the ring's state
        continue;
      }
      const std::size_t at = left.size();
      left.resize(at + have);
      right.resize(at + have);
      ring.read(read, have, 2, 0, left.data() + at);
      ring.read(read, have, 2, 1, right.data() + at);
      read += have;
      n -= have;
      ring.consume(gen, read);
    }
    return true;
  }
};

struct Failures {
  std::mutex mutex;
  std::vector<std::pair<std::uint64_t, std::string>> seen;
};

std::unique_ptr<DiskStreamer> streamer(MemoryBudget& budget, Failures& failures) {
  DiskStreamerOptions options;
  options.rings = 2;
  options.ring_floats = 2 * 16384;
  options.check = std::chrono::milliseconds(20);
  std::string error;
  auto s = DiskStreamer::create(
      options, budget,
      [&failures](std::uint64_t id, const std::string& why) {
        std::lock_guard lock(failures.mutex);
        failures.seen.emplace_back(id, why);
      },
      error);
  EXPECT_TRUE(s) << error;
  return s;
}

TEST_F(StreamingClips, DiskThreadsDeliverThePlayingOrderLoopsIncluded) {
  for (const std::uint32_t rate : {44100u, 48000u}) {
    const auto whole = load(rate, StreamMode::never);
    const auto streamed = load(rate, StreamMode::always);
    ASSERT_TRUE(whole && streamed);
    Failures failures;
    auto disk = streamer(budget_, failures);
    const std::uint64_t id = disk->add(streamed->stream_file());
    const std::uint64_t frames = whole->info().frames;
    // From the head's end to a loop region deep in the clip, wrapping across it three times.
    engine::StreamRequest r;
    r.clip = id;
    r.voice = 1;
    r.start = streamed->info().head_frames;
    r.first_end = frames - 1000;
    r.loop_start = frames - 50000;
    r.loop_end = frames - 1000;
    r.channels = 2;
    r.looping = true;
    Consumer consumer{disk->rings()[0]};
    consumer.gen = consumer.ring.request(r);
    disk->wake();
    const std::uint64_t first = r.first_end - r.start;
    const std::uint64_t total = first + 3 * 49000 + 77;
    std::vector<float> left, right;
    ASSERT_TRUE(consumer.take(total, left, right));
    std::vector<float> want_l, want_r;
    for (std::uint64_t k = 0; k < total; ++k) {
      const std::uint64_t pos = k < first ? r.start + k : r.loop_start + (k - first) % 49000;
      want_l.push_back(whole->pcm().channel(0)[pos]);
      want_r.push_back(whole->pcm().channel(1)[pos]);
    }
    if (rate == 44100) {
      ASSERT_EQ(left, want_l);
      ASSERT_EQ(right, want_r);
    } else {
      EXPECT_GE(snr_db(want_l, left), 100.0);
      EXPECT_GE(snr_db(want_r, right), 100.0);
    }
    consumer.ring.release();
    disk.reset();
    EXPECT_TRUE(failures.seen.empty());
  }
}

TEST_F(StreamingClips, AFileTruncatedWhileItStreamsFailsItsRingsOnce) {
  TempDir dir;
  const std::string path = dir.file("cut.wav");
  ASSERT_TRUE(write_audio(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, kRate, 2, 10 * kRate));
  LoadRequest req;
  req.path = path;
  req.stream = StreamMode::always;
  LoadResult loaded = decode_clip(req, budget_);
  ASSERT_TRUE(loaded.ok());
  Failures failures;
  auto disk = streamer(budget_, failures);
  const std::uint64_t id = disk->add(loaded.clip->stream_file());
  engine::StreamRequest r;
  r.clip = id;
  r.start = loaded.clip->info().head_frames;
  r.first_end = 10 * kRate;
  r.channels = 2;
  Consumer consumer{disk->rings()[0]};
  consumer.gen = consumer.ring.request(r);
  disk->wake();
  std::vector<float> left, right;
  ASSERT_TRUE(consumer.take(kRate, left, right));
  std::filesystem::resize_file(path, 100000);
  // The ring fails once the frames read before the cut are taken.
  EXPECT_FALSE(consumer.take(9 * kRate, left, right));
  EXPECT_LT(left.size(), std::size_t{8} * kRate);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    {
      std::lock_guard lock(failures.mutex);
      if (!failures.seen.empty()) break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polls the reported state
  }
  // A later request for the clip fails at once.
  engine::StreamRing& other = disk->rings()[1];
  const std::uint32_t gen = other.request(r);
  disk->wake();
  bool failed = false;
  for (int i = 0; i < 10000 && !failed; ++i) {
    other.available(gen, 0, failed);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polls the ring's state
  }
  EXPECT_TRUE(failed);
  consumer.ring.release();
  other.release();
  disk.reset();
  ASSERT_EQ(failures.seen.size(), 1u);
  EXPECT_EQ(failures.seen[0].first, id);
  EXPECT_NE(failures.seen[0].second.find("cut.wav"), std::string::npos);
}

TEST_F(StreamingClips, AFileRemovedOrReplacedWhileItStreamsFails) {
  for (const bool replace : {false, true}) {
    TempDir dir;
    const std::string path = dir.file("gone.wav");
    ASSERT_TRUE(write_audio(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, kRate, 2, 10 * kRate));
    LoadRequest req;
    req.path = path;
    req.stream = StreamMode::always;
    LoadResult loaded = decode_clip(req, budget_);
    ASSERT_TRUE(loaded.ok());
    Failures failures;
    auto disk = streamer(budget_, failures);
    const std::uint64_t id = disk->add(loaded.clip->stream_file());
    engine::StreamRequest r;
    r.clip = id;
    r.start = loaded.clip->info().head_frames;
    r.first_end = 10 * kRate;
    r.channels = 2;
    Consumer consumer{disk->rings()[0]};
    consumer.gen = consumer.ring.request(r);
    disk->wake();
    std::vector<float> left, right;
    ASSERT_TRUE(consumer.take(kRate / 2, left, right));
    if (replace) {
      // Another file moved into its place, as a sync tool or an editor saving does.
      const std::string other = dir.file("other.wav");
      ASSERT_TRUE(write_audio(other, SF_FORMAT_WAV | SF_FORMAT_PCM_16, kRate, 2, 10 * kRate));
      std::filesystem::rename(other, path);
    } else {
      std::filesystem::remove(path);
    }
    EXPECT_FALSE(consumer.take(9 * kRate, left, right)) << replace;
    consumer.ring.release();
    disk.reset();
    ASSERT_EQ(failures.seen.size(), 1u) << replace;
    EXPECT_EQ(failures.seen[0].first, id);
    EXPECT_NE(failures.seen[0].second.find(replace ? "replaced" : "gone"), std::string::npos)
        << failures.seen[0].second;
  }
}

}  // namespace
}  // namespace clipd::clips::test
