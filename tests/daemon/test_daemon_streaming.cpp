// Clips streamed from disk (load's `stream`, clipd-protocol(7)), heard at clipd's outputs on a
// private jackd and recorded by clipd-record. Every streamed play is compared with the same play
// of the same file loaded whole into memory, in one recording: bit for bit where the server runs
// at the file's rate, at least 100 dB signal-to-error where the daemon resamples. A slow disk
// (clipd-rtsan's test hook) gives counted and reported underruns without a RealtimeSanitizer
// report; a file truncated while it streams ends its voice with read-error and sends
// clip-failed; the daemon goes on.
#include <gtest/gtest.h>
#include <sndfile.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "harness.hpp"
#include "recording.hpp"

namespace clipd::test {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t kFileRate = 44100;

// Writes a 16-bit stereo FLAC at 44.1 kHz of `frames` frames of signal(frame, channel), at
// libFLAC's fastest setting.
void write_flac(const std::string& path, std::uint64_t frames,
                const std::function<float(std::uint64_t, std::uint32_t)>& signal) {
  SF_INFO info{};
  info.samplerate = kFileRate;
  info.channels = 2;
  info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
  SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(file, nullptr) << sf_strerror(nullptr);
  double level = 0.0;
  sf_command(file, SFC_SET_COMPRESSION_LEVEL, &level, sizeof level);
  std::vector<float> block(2 * 65536);
  for (std::uint64_t done = 0; done < frames;) {
    const std::uint64_t n = std::min<std::uint64_t>(65536, frames - done);
    for (std::uint64_t i = 0; i < n; ++i) {
      block[2 * i] = signal(done + i, 0);
      block[2 * i + 1] = signal(done + i, 1);
    }
    ASSERT_EQ(sf_writef_float(file, block.data(), static_cast<sf_count_t>(n)),
              static_cast<sf_count_t>(n));
    done += n;
  }
  ASSERT_EQ(sf_close(file), 0);
}

// Music-like material: two tones and a little noise per channel, varying over the whole file.
float music(std::uint64_t i, std::uint32_t c) {
  const double t = static_cast<double>(i) / kFileRate;
  std::uint32_t x = static_cast<std::uint32_t>(i * 2654435761u + c * 40503u);
  x ^= x >> 13;
  x *= 0x5bd1e995u;
  x ^= x >> 15;
  const double noise = static_cast<double>(x % 2001) / 1000.0 - 1.0;
  return static_cast<float>(0.4 * std::sin(2 * M_PI * (220.0 + 110.0 * c + t * 0.5) * t) +
                            0.2 * std::sin(2 * M_PI * 3001.0 * t + c) + 0.05 * noise);
}

// Signal-to-error ratio in dB of recording window b against window a (both `n` stereo frames).
// Signal to error of the stereo pair at channels 2, 3 against the one at channels 0, 1.
double snr_db(const Recording& r, std::uint64_t a, std::uint64_t n) {
  double signal = 0, error = 0;
  for (std::uint64_t k = 0; k < n; ++k) {
    for (std::uint32_t c = 0; c < 2; ++c) {
      const double want = r.at(a + k, c), got = r.at(a + k, c + 2);
      signal += want * want;
      error += (want - got) * (want - got);
    }
  }
  return error == 0 ? 1000.0 : 10.0 * std::log10(signal / error);
}

class Streaming : public ::testing::TestWithParam<std::uint32_t> {
 protected:
  static JackdServer::Options at_rate(std::uint32_t rate) {
    JackdServer::Options o;
    o.rate = rate;
    return o;
  }
  Streaming() : jackd_(at_rate(GetParam())) {}

  JackdServer jackd_;
  TempDir home_{"clipd-streaming"};
};

// A play's arguments besides clip and at_frame, and how long to record it.
struct Play {
  std::string what;
  json args;
  double seconds;
};

TEST_P(Streaming, StreamedPlaysEqualTheClipInMemory) {
  const std::string path = home_.file("song.flac");
  const std::uint64_t file_frames = 200ull * kFileRate;  // 3 min 20 s
  write_flac(path, file_frames, music);
  // Four outputs: the clip in memory plays on out_1 and out_2, the streamed one on out_3 and
  // out_4, on the same frames.
  Clipd clipd(jackd_, home_, Clipd::Options{true, {"--outputs", "4"}});
  clipd.start();
  Client c(clipd.socket_path());
  c.ok({{"cmd", "subscribe"}});
  const json hello = c.ok({{"cmd", "hello"}});
  const auto rate = hello["sample_rate"].get<std::uint32_t>();
  const auto period = hello["buffer_size"].get<std::uint64_t>();
  ASSERT_EQ(rate, GetParam());
  const json mem = c.ok({{"cmd", "load"}, {"name", "mem"}, {"path", path}, {"stream", false}});
  const json str = c.ok({{"cmd", "load"}, {"name", "str"}, {"path", path}, {"stream", true}});
  EXPECT_EQ(mem["streamed"], false);
  EXPECT_EQ(str["streamed"], true);
  EXPECT_EQ(str["frames"], mem["frames"]);
  EXPECT_EQ(str["head_frames"], 2 * rate);
  EXPECT_DOUBLE_EQ(str["head_s"].get<double>(), 2.0);
  EXPECT_LT(str["bytes"].get<std::uint64_t>(), mem["bytes"].get<std::uint64_t>() / 50);
  const double duration = str["duration_s"].get<double>();

  const std::vector<Play> plays = {
      {"from the start", json::object(), 3.0},
      {"from inside the head", {{"offset_s", 1.5}}, 1.5},
      {"in the last minute", {{"offset_s", duration - 40.0}}, 1.0},
      {"to the last sample", {{"offset_s", duration - 0.5}}, 0.6},
      {"a loop across the head's end",
       {{"offset_s", 1.0},
        {"loop_start_s", 1.5},
        {"loop_end_s", 2.7},
        {"loop", true},
        {"length_s", 4.0}},
       4.1},
      {"a loop region deep in the file",
       {{"offset_s", 120.0}, {"loop_start_s", 120.25}, {"loop_end_s", 120.6}, {"loop", 4}},
       1.5},
      {"a fade in and a gain", {{"offset_s", 60.0}, {"fade_in_s", 0.3}, {"gain_db", -6.0}}, 1.0},
  };
  // Each play: the clip in memory and the streamed one together, on a frame chosen ahead (more
  // than the prefetch time), one play after the other, all in one recording.
  const double gap = 0.25;
  double total = 1.0;
  for (const Play& p : plays)
    total += p.seconds + gap + 2.0 * 1024 / rate;
  const auto frames_of = [rate](double s) { return static_cast<std::uint64_t>(s * rate); };
  const std::string prefix = home_.file("rec");
  auto rec = start_recorder(jackd_, prefix, frames_of(total) + 2 * rate,
                            {"clipd:out_1", "clipd:out_2", "clipd:out_3", "clipd:out_4"});
  const auto now = c.ok({{"cmd", "hello"}})["frame"].get<std::uint64_t>();
  std::uint64_t at = now + rate / 2;
  struct Window {
    std::uint64_t at, frames;
    std::string what;
  };
  std::vector<Window> windows;
  for (const Play& p : plays) {
    const std::uint64_t n = frames_of(p.seconds);
    const std::uint64_t apart = (n + frames_of(gap) + period - 1) / period * period;
    Window w{at, n, p.what};
    for (const auto& [clip, outs] :
         {std::pair{"mem", json::array({1, 2})}, std::pair{"str", json::array({3, 4})}}) {
      json play = p.args;
      play["cmd"] = "play";
      play["clip"] = clip;
      play["at_frame"] = w.at;
      play["outputs"] = outs;
      if (!play.contains("length_s")) play["length_s"] = p.seconds;
      c.ok(play);
    }
    windows.push_back(w);
    at = w.at + apart + 7;
  }
  for (std::size_t i = 0; i < 2 * plays.size(); ++i) {
    const auto started = c.wait_event("voice-started", 30s);
    ASSERT_TRUE(started);
    EXPECT_EQ((*started)["late"], false) << started->dump();
  }
  ASSERT_EQ(rec->wait_for(60s), std::optional<int>(0)) << rec->output();
  const Recording r = read_recording(prefix);
  ASSERT_EQ(r.gaps, 0U);
  for (const Window& w : windows) {
    SCOPED_TRACE(w.what);
    ASSERT_GE(w.at, r.first_frame);
    const std::uint64_t a = w.at - r.first_frame;
    ASSERT_LE(a + w.frames, r.frames);
    if (rate == kFileRate) {
      std::uint64_t mismatches = 0;
      for (std::uint64_t k = 0; k < w.frames; ++k) {
        for (std::uint32_t ch = 0; ch < 2; ++ch) {
          if (r.at(a + k, ch) != r.at(a + k, ch + 2) && mismatches++ < 5) {
            ADD_FAILURE() << "frame " << k << " channel " << ch << ": " << r.at(a + k, ch + 2)
                          << " != " << r.at(a + k, ch);
          }
        }
      }
      EXPECT_EQ(mismatches, 0U);
    } else {
      EXPECT_GE(snr_db(r, a, w.frames), 100.0);
    }
    // Not silence: the comparison compared sound.
    double energy = 0;
    for (std::uint64_t k = 0; k < w.frames; ++k)
      energy += std::abs(r.at(a + k, 0));
    EXPECT_GT(energy, 0.01 * static_cast<double>(w.frames));
  }
  EXPECT_EQ(c.ok({{"cmd", "status"}})["underruns"], 0);
  for (const json& e : c.events())
    EXPECT_NE(e["event"], "underrun") << e.dump();
  ASSERT_TRUE(clipd.process().running()) << clipd.log();
  EXPECT_EQ(clipd.stop(), 0) << clipd.log();
  EXPECT_EQ(clipd.log().find("Real-time violation"), std::string::npos) << clipd.log();
}

INSTANTIATE_TEST_SUITE_P(Rates, Streaming, ::testing::Values(44100u, 48000u),
                         [](const auto& info) { return std::to_string(info.param); });

class StreamingTrouble : public ::testing::Test {
 protected:
  JackdServer jackd_;
  TempDir home_{"clipd-stream-trouble"};
};

TEST_F(StreamingTrouble, ASlowDiskGivesCountedUnderrunsAndNoRealtimeViolation) {
  const std::string path = home_.file("long.flac");
  write_flac(path, 60ull * kFileRate, music);
  Clipd clipd(jackd_, home_, Clipd::Options{true, {}});
  clipd.start();
  Client c(clipd.socket_path());
  c.ok({{"cmd", "subscribe"}});
  c.ok({{"cmd", "load"}, {"name", "long"}, {"path", path}, {"stream", true}});
  c.ok({{"cmd", "debug-slow-disk"}});
  const json play = c.ok({{"cmd", "play"}, {"clip", "long"}, {"offset_s", 10.0}});
  const auto underrun = c.wait_event("underrun", 20s);
  ASSERT_TRUE(underrun) << clipd.log();
  EXPECT_EQ((*underrun)["voice"], play["voice"]);
  EXPECT_EQ((*underrun)["clip"], "long");
  EXPECT_GT((*underrun)["frames_missed"].get<std::uint64_t>(), 0U);
  EXPECT_GT((*underrun)["frame"].get<std::uint64_t>(), 0U);
  const json status = c.ok({{"cmd", "status"}});
  EXPECT_GE(status["underruns"].get<std::uint64_t>(), 1U) << status.dump();
  // The voice kept time through it, and plays on once the disk is fast again.
  c.ok({{"cmd", "debug-fast-disk"}});
  const json voices = c.ok({{"cmd", "voices"}});
  ASSERT_EQ(voices["voices"].size(), 1U) << voices.dump();
  c.ok({{"cmd", "stop"}, {"voice", play["voice"]}});
  const auto ended = c.wait_event("voice-ended", 10s);
  ASSERT_TRUE(ended);
  EXPECT_EQ((*ended)["reason"], "stopped");
  ASSERT_TRUE(clipd.process().running()) << clipd.log();
  EXPECT_EQ(clipd.stop(), 0) << clipd.log();
  EXPECT_EQ(clipd.log().find("Real-time violation"), std::string::npos) << clipd.log();
}

TEST_F(StreamingTrouble, AFileTruncatedWhileItStreamsEndsItsVoiceWithReadError) {
  const std::string path = home_.file("cut.flac");
  write_flac(path, 60ull * kFileRate, music);
  Clipd clipd(jackd_, home_, Clipd::Options{true, {}});
  clipd.start();
  Client c(clipd.socket_path());
  c.ok({{"cmd", "subscribe"}});
  c.ok({{"cmd", "load"}, {"name", "cut"}, {"path", path}, {"stream", true}});
  const json play = c.ok({{"cmd", "play"}, {"clip", "cut"}, {"offset_s", 5.0}});
  ASSERT_TRUE(c.wait_event("voice-started", 10s));
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 4);
  const auto failed = c.wait_event("clip-failed", 10s);
  ASSERT_TRUE(failed) << clipd.log();
  EXPECT_EQ((*failed)["name"], "cut");
  EXPECT_EQ((*failed)["error"].get<std::string>().rfind("read-error", 0), 0U) << failed->dump();
  const auto ended = c.wait_event("voice-ended", 10s);
  ASSERT_TRUE(ended);
  EXPECT_EQ((*ended)["voice"], play["voice"]);
  EXPECT_EQ((*ended)["reason"], "read-error");
  // The daemon goes on: it answers, and plays other clips.
  c.ok({{"cmd", "ping"}});
  const auto rate = c.ok({{"cmd", "hello"}})["sample_rate"].get<std::uint32_t>();
  write_wav(home_.file("short.wav"), rate, 2, test_signal(rate / 10, 2, 3));
  c.ok({{"cmd", "load"}, {"name", "short"}, {"path", home_.file("short.wav")}});
  c.ok({{"cmd", "play"}, {"clip", "short"}});
  const auto short_end = c.wait_event("voice-ended", 10s);
  ASSERT_TRUE(short_end);
  EXPECT_EQ((*short_end)["reason"], "finished");
  ASSERT_TRUE(clipd.process().running()) << clipd.log();
  EXPECT_EQ(clipd.stop(), 0) << clipd.log();
  EXPECT_EQ(clipd.log().find("Real-time violation"), std::string::npos) << clipd.log();
}

// An hour and a minute of FLAC at 44.1 kHz, made once for the tests below: a compressible
// signal (each 4,096-frame block holds one level per channel, never 0), so libFLAC writes it in
// seconds and it takes a few megabytes.
float blocks(std::uint64_t i, std::uint32_t c) {
  const std::uint64_t b = i / 4096;
  return static_cast<float>(static_cast<double>((b * 37 + c * 11) % 200 + 1) / 400.0 - 0.25);
}

class LongFile : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("clipd-stream-hour");
    write_flac(dir_->file("hour.flac"), 3660ull * kFileRate, blocks);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string hour() { return dir_->file("hour.flac"); }

  static TempDir* dir_;
  JackdServer jackd_;
  TempDir home_{"clipd-stream-long"};
};
TempDir* LongFile::dir_ = nullptr;

TEST_F(LongFile, AnHourLoadsAtOnceHoldsItsHeadAndPlaysFromTheNextPeriod) {
  Clipd clipd(jackd_, home_);  // the plain build: its times mean something
  clipd.start();
  Client c(clipd.socket_path());
  c.ok({{"cmd", "subscribe"}});
  const json hello = c.ok({{"cmd", "hello"}});
  const auto rate = hello["sample_rate"].get<std::uint64_t>();
  const auto period = hello["buffer_size"].get<std::uint64_t>();
  const auto before = c.ok({{"cmd", "status"}})["memory_bytes"].get<std::uint64_t>();
  const auto sent = std::chrono::steady_clock::now();
  const json loaded = c.ok({{"cmd", "load"}, {"name", "hour"}, {"path", hour()}, {"stream", true}});
  const auto took = std::chrono::steady_clock::now() - sent;
  EXPECT_LT(took, 300ms) << std::chrono::duration<double>(took).count() << " s";
  EXPECT_EQ(loaded["streamed"], true);
  EXPECT_EQ(loaded["frames"], (3660ull * kFileRate * rate + kFileRate / 2) / kFileRate);
  const std::uint64_t head_bytes = 2 * rate * 2 * sizeof(float);
  EXPECT_LE(loaded["bytes"].get<std::uint64_t>(), head_bytes + 4096);
  const json status = c.ok({{"cmd", "status"}});
  const auto after = status["memory_bytes"].get<std::uint64_t>();
  // The rings (32 + 8 + 2 of 2 s of stereo at 48 kHz) are counted on their own.
  EXPECT_EQ(status["stream_bytes"], 42u * 2 * 96000 * sizeof(float));
  EXPECT_LE(after - before, head_bytes + (16u << 20)) << after << " - " << before;
  const json listed = c.ok({{"cmd", "list"}})["clips"][0];
  EXPECT_EQ(listed["streamed"], true);
  EXPECT_EQ(listed["head_frames"], 2 * rate);
  // A play from the start sounds on the next period: the head is in memory.
  const auto frame = c.ok({{"cmd", "status"}})["frame"].get<std::uint64_t>();
  c.ok({{"cmd", "play"}, {"clip", "hour"}});
  const auto started = c.wait_event("voice-started", 10s);
  ASSERT_TRUE(started);
  EXPECT_EQ((*started)["late"], false);
  EXPECT_LE((*started)["frame"].get<std::uint64_t>(), frame + 3 * period);
  // And at an offset in the last minute, with the prefetch time ahead: exactly on its frame.
  const auto now = c.ok({{"cmd", "hello"}})["frame"].get<std::uint64_t>();
  c.ok({{"cmd", "play"},
        {"clip", "hour"},
        {"offset_s", 3630.0},
        {"at_frame", now + rate / 2},
        {"length_s", 1.0}});
  const auto deep = c.wait_event("voice-started", 10s);
  ASSERT_TRUE(deep);
  EXPECT_EQ((*deep)["frame"], now + rate / 2);
  EXPECT_EQ((*deep)["late"], false);
  EXPECT_EQ(clipd.stop(), 0) << clipd.log();
}

TEST_F(LongFile, ThirtyTwoVoicesAtRandomOffsetsForTwoMinutesUnderDiskLoadNeverUnderrun) {
  Clipd clipd(jackd_, home_, Clipd::Options{true, {}});
  clipd.start();
  Client c(clipd.socket_path());
  c.ok({{"cmd", "subscribe"}});
  c.ok({{"cmd", "load"}, {"name", "hour"}, {"path", hour()}, {"stream", true}});
  // Another process writes a large file and reads it back, again and again.
  const std::string big = home_.file("big");
  Process load({"sh", "-c",
                "while :; do dd if=/dev/zero of='" + big +
                    "' bs=1M count=256 conv=fsync 2>/dev/null; dd if='" + big +
                    "' of=/dev/null bs=1M 2>/dev/null; done"});
  std::uint64_t x = 88172645463325252ull;
  for (int v = 0; v < 32; ++v) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const double offset = static_cast<double>(x % 3400000) / 1000.0;
    c.ok({{"cmd", "play"},
          {"clip", "hour"},
          {"offset_s", offset},
          {"gain_db", -30.0},
          {"in_s", 0.5}});
  }
  const auto until = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_FALSE(c.wait_event("underrun", 1s)) << "an underrun";
    ASSERT_TRUE(clipd.process().running()) << clipd.log();
  }
  load.stop();
  const json status = c.ok({{"cmd", "status"}});
  EXPECT_EQ(status["underruns"], 0) << status.dump();
  EXPECT_EQ(status["voices"], 32) << status.dump();
  for (const json& e : c.events())
    EXPECT_NE(e["event"], "voice-ended") << e.dump();
  EXPECT_EQ(clipd.stop(), 0) << clipd.log();
  EXPECT_EQ(clipd.log().find("Real-time violation"), std::string::npos) << clipd.log();
}

}  // namespace
}  // namespace clipd::test
