// What `load` makes of awkward files, heard at clipd's outputs on a private jackd: NaN and
// infinities never reach a port, and a WAV whose header announces 4 GiB plays what it holds.
// Each clip is played at a chosen frame and recorded by clipd-record; the recording is compared
// with the expected clip sample by sample.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "recording.hpp"

namespace clipd::test {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t channels = 2;

class Loading : public ::testing::Test {
 protected:
  std::unique_ptr<Process> record(const std::string& prefix, std::uint64_t frames) {
    return start_recorder(jackd_, prefix, frames);
  }

  // Plays clip `name` (of `expected.size() / 2` stereo frames) at a frame half a second ahead,
  // records the outputs until well after it ended, and checks every recorded sample: finite,
  // the expected clip sample while it plays, silence before and after.
  void play_and_compare(Client& c, const std::string& name, const std::vector<float>& expected) {
    const std::uint64_t n = expected.size() / channels;
    const auto rate = c.ok({{"cmd", "hello"}})["sample_rate"].get<std::uint32_t>();
    auto rec = record(home_.file(name + "-rec"), rate + n);
    const std::int64_t now = c.ok({{"cmd", "hello"}})["frame"].get<std::int64_t>();
    const std::int64_t at = now + rate / 2 + 3;
    const json play = c.ok({{"cmd", "play"}, {"clip", name}, {"at_frame", at}});
    const auto started = c.wait_event("voice-started", 10s);
    ASSERT_TRUE(started);
    EXPECT_EQ((*started)["voice"], play["voice"]);
    EXPECT_EQ((*started)["frame"], at);
    const auto ended = c.wait_event("voice-ended", 10s);
    ASSERT_TRUE(ended);
    EXPECT_EQ((*ended)["reason"], "finished");
    ASSERT_EQ(rec->wait_for(30s), std::optional<int>(0)) << rec->output();

    const Recording r = read_recording(home_.file(name + "-rec"));
    EXPECT_EQ(r.gaps, 0U);
    ASSERT_GE(static_cast<std::uint64_t>(at), r.first_frame);
    const std::uint64_t base = static_cast<std::uint64_t>(at) - r.first_frame;
    ASSERT_LE(base + n, r.frames);
    std::uint64_t mismatches = 0;
    for (std::uint64_t i = 0; i < r.frames; ++i) {
      for (std::uint32_t ch = 0; ch < channels; ++ch) {
        const float got = r.at(i, ch);
        const float want = i >= base && i < base + n ? expected[(i - base) * channels + ch] : 0.0F;
        if (!std::isfinite(got) || got != want) {
          if (mismatches++ < 5) {
            ADD_FAILURE() << name << ": recorded frame " << i << " (clip frame "
                          << static_cast<std::int64_t>(i - base) << ") channel " << ch << ": "
                          << got << " != " << want;
          }
        }
      }
    }
    EXPECT_EQ(mismatches, 0U) << "of " << r.frames * channels << " samples";
  }

  JackdServer jackd_;
  TempDir home_{"clipd-loading"};
};

TEST_F(Loading, NonFiniteSamplesNeverReachAPort) {
  Clipd clipd(jackd_, home_);
  clipd.start();
  Client c(clipd.socket_path());
  c.ok({{"cmd", "subscribe"}});
  const auto rate = c.ok({{"cmd", "hello"}})["sample_rate"].get<std::uint32_t>();

  // 4800 stereo frames at the server's rate; of every ten samples a NaN, +inf and -inf, the
  // rest the test signal (denormals are left out here: the engine flushes them to zero, and
  // the loader's keeping them is tested in tests/clips/test_non_finite.cpp).
  const std::uint64_t n = 4800;
  std::vector<float> samples = test_signal(n, channels, 11);
  std::vector<float> expected = samples;
  std::uint64_t non_finite = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    for (std::uint32_t ch = 0; ch < channels; ++ch) {
      const std::uint64_t k = (i + 3 * ch) % 10;
      if (k > 2) continue;
      samples[i * channels + ch] = k == 0   ? std::numeric_limits<float>::quiet_NaN()
                                   : k == 1 ? std::numeric_limits<float>::infinity()
                                            : -std::numeric_limits<float>::infinity();
      expected[i * channels + ch] = 0.0F;
      ++non_finite;
    }
  }
  ASSERT_EQ(non_finite, 2880U);
  write_wav(home_.file("nan.wav"), rate, channels, samples);

  const json loaded = c.ok({{"cmd", "load"}, {"name", "nan"}, {"path", home_.file("nan.wav")}});
  EXPECT_EQ(loaded["frames"], n);
  EXPECT_EQ(loaded["non_finite_samples"], non_finite) << loaded.dump();
  EXPECT_EQ(c.ok({{"cmd", "info"}, {"name", "nan"}})["non_finite_samples"], non_finite);
  const json list = c.ok({{"cmd", "list"}});
  ASSERT_EQ(list["clips"].size(), 1U) << list.dump();
  EXPECT_EQ(list["clips"][0]["non_finite_samples"], non_finite);

  play_and_compare(c, "nan", expected);
  EXPECT_EQ(clipd.stop(), 0) << clipd.log();
}

TEST_F(Loading, WavAnnouncingFourGigabytesPlaysWhatItHolds) {
  // The daemon's budget is below the 4 GiB the header announces.
  Clipd clipd(jackd_, home_, {false, {"--memory-budget", "256M"}});
  clipd.start();
  Client c(clipd.socket_path());
  c.ok({{"cmd", "subscribe"}});
  const auto rate = c.ok({{"cmd", "hello"}})["sample_rate"].get<std::uint32_t>();
  EXPECT_EQ(c.ok({{"cmd", "status"}})["memory_budget_bytes"], std::uint64_t{256} << 20);

  // 19 KB of float WAV (2400 stereo frames), then its RIFF and data sizes set to 0xffffffff,
  // as a recorder that never came back to fill them in leaves them.
  const std::uint64_t n = 2400;
  const std::vector<float> samples = test_signal(n, channels, 12);
  const std::string path = home_.file("take.wav");
  write_wav(path, rate, channels, samples);
  std::vector<char> bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::size_t data = 12;
  while (data + 8 <= bytes.size() && std::memcmp(bytes.data() + data, "data", 4) != 0) {
    std::uint32_t length = 0;
    std::memcpy(&length, bytes.data() + data + 4, 4);
    data += 8 + length + (length & 1U);
  }
  ASSERT_LT(data + 8, bytes.size());
  const std::uint32_t unknown = 0xffffffffU;
  std::memcpy(bytes.data() + 4, &unknown, 4);
  std::memcpy(bytes.data() + data + 4, &unknown, 4);
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));

  const json loaded = c.ok({{"cmd", "load"}, {"name", "take"}, {"path", path}});
  EXPECT_EQ(loaded["frames"], n) << loaded.dump();
  EXPECT_EQ(loaded["non_finite_samples"], 0);
  play_and_compare(c, "take", samples);
  EXPECT_EQ(clipd.stop(), 0) << clipd.log();
}

}  // namespace
}  // namespace clipd::test
