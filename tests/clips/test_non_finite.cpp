// NaN and infinite samples in a float file are replaced by 0 at load and counted
// (ClipInfo::non_finite_samples); every other sample, denormals included, is kept exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "clips/decode.hpp"
#include "test_files.hpp"

namespace clipd::clips {
namespace {

using test::TempDir;

constexpr std::uint64_t frames = 4800;
constexpr std::uint32_t channels = 2;

// Of every 10 samples: a NaN, +inf, -inf, two denormals, and five normal values.
float source(std::uint64_t i, std::uint32_t c) {
  switch ((i + 3 * c) % 10) {
    case 0:
      return std::numeric_limits<float>::quiet_NaN();
    case 1:
      return std::numeric_limits<float>::infinity();
    case 2:
      return -std::numeric_limits<float>::infinity();
    case 3:
      return std::numeric_limits<float>::denorm_min() * static_cast<float>(i + 1);
    case 4:
      return -1.0e-40F;
    default:
      return static_cast<float>(static_cast<int>(i % 2001) - 1000) / 1024.0F;
  }
}

constexpr std::uint64_t non_finite_count = frames * channels * 3 / 10;

TEST(NonFiniteSamples, ReplacedByZeroAndCountedEverythingElseKept) {
  TempDir dir;
  MemoryBudget budget;
  for (const int format : {SF_FORMAT_WAV | SF_FORMAT_FLOAT, SF_FORMAT_WAV | SF_FORMAT_DOUBLE,
                           SF_FORMAT_AIFF | SF_FORMAT_FLOAT}) {
    const std::string what = "format " + std::to_string(format);
    const std::string path = dir.file("nan.wav");
    ASSERT_TRUE(test::write_audio(path, format, 48000, channels, frames, source)) << what;
    // The file really holds them (libsndfile reads them back as written).
    const test::Reference ref = test::read_reference(path);
    ASSERT_TRUE(std::isnan(ref.interleaved[0])) << what;
    ASSERT_EQ(ref.interleaved[4], -std::numeric_limits<float>::infinity()) << what;

    const LoadResult result = decode_clip({path, 0, 8}, budget);
    ASSERT_TRUE(result.ok()) << what << ": " << result.error->message;
    EXPECT_EQ(result.clip->info().non_finite_samples, non_finite_count) << what;
    const engine::ClipSamples s = result.clip->samples();
    ASSERT_EQ(s.frames, frames) << what;
    std::uint64_t zeroed = 0;
    std::uint64_t denormals = 0;
    for (std::uint32_t c = 0; c < channels; ++c) {
      for (std::uint64_t i = 0; i < frames; ++i) {
        const float written = source(i, c);
        const float loaded = s.channel(c)[i];
        ASSERT_TRUE(std::isfinite(loaded)) << what << ": channel " << c << " frame " << i;
        if (std::isfinite(written)) {
          ASSERT_EQ(loaded, written) << what << ": channel " << c << " frame " << i;
          if (std::fpclassify(written) == FP_SUBNORMAL) ++denormals;
        } else {
          ASSERT_EQ(loaded, 0.0F) << what << ": channel " << c << " frame " << i;
          ++zeroed;
        }
      }
    }
    EXPECT_EQ(zeroed, non_finite_count) << what;
    EXPECT_EQ(denormals, frames * channels * 2 / 10) << what;
  }
}

TEST(NonFiniteSamples, NoneReachesTheResampler) {
  // One NaN fed to the resampler's filter would spread over every output sample it touches;
  // replaced before resampling, the output is finite throughout and matches the same file with
  // zeros written where the NaN and infinities were.
  TempDir dir;
  MemoryBudget budget;
  const std::string nan = dir.file("nan.wav");
  ASSERT_TRUE(
      test::write_audio(nan, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 44100, channels, frames, source));
  const std::string zeros = dir.file("zeros.wav");
  ASSERT_TRUE(test::write_audio(zeros, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 44100, channels, frames,
                                [](std::uint64_t i, std::uint32_t c) {
                                  const float v = source(i, c);
                                  return std::isfinite(v) ? v : 0.0F;
                                }));
  const LoadResult a = decode_clip({nan, 48000, 8}, budget);
  const LoadResult b = decode_clip({zeros, 48000, 8}, budget);
  ASSERT_TRUE(a.ok()) << a.error->message;
  ASSERT_TRUE(b.ok()) << b.error->message;
  EXPECT_EQ(a.clip->info().non_finite_samples, non_finite_count);
  EXPECT_EQ(b.clip->info().non_finite_samples, 0U);
  const engine::ClipSamples sa = a.clip->samples();
  const engine::ClipSamples sb = b.clip->samples();
  ASSERT_EQ(sa.frames, resampled_length(frames, 44100, 48000));
  ASSERT_EQ(sa.frames, sb.frames);
  for (std::uint32_t c = 0; c < channels; ++c) {
    for (std::uint64_t i = 0; i < sa.frames; ++i) {
      ASSERT_TRUE(std::isfinite(sa.channel(c)[i])) << "channel " << c << " frame " << i;
      ASSERT_EQ(sa.channel(c)[i], sb.channel(c)[i]) << "channel " << c << " frame " << i;
    }
  }
}

}  // namespace
}  // namespace clipd::clips
