// Every supported format decodes to exactly libsndfile's own float reading when no resampling
// is asked for; resampling with libsoxr is exact in length and clean (>= 100 dB SER).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "clips/decode.hpp"
#include "test_files.hpp"

namespace clipd::clips {
namespace {

using test::TempDir;

struct Format {
  const char* name;
  const char* ext;
  int format;
  std::vector<int> rates;
  std::vector<int> channel_counts = {1, 2, 6};
};

const std::vector<int> pcm_rates = {8000,  11025, 16000, 22050,  32000, 44100,
                                    48000, 88200, 96000, 176400, 192000};

std::vector<Format> formats() {
  return {
      {"wav-u8", "wav", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, pcm_rates},
      {"wav-16", "wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, pcm_rates},
      {"wav-24", "wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24, pcm_rates},
      {"wav-32", "wav", SF_FORMAT_WAV | SF_FORMAT_PCM_32, pcm_rates},
      {"wav-float", "wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, pcm_rates},
      {"wavex-16", "wav", SF_FORMAT_WAVEX | SF_FORMAT_PCM_16, pcm_rates},
      {"wavex-24", "wav", SF_FORMAT_WAVEX | SF_FORMAT_PCM_24, pcm_rates},
      {"wavex-float", "wav", SF_FORMAT_WAVEX | SF_FORMAT_FLOAT, pcm_rates},
      {"aiff-s8", "aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_S8, pcm_rates},
      {"aiff-16", "aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_16, pcm_rates},
      {"aiff-24", "aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_24, pcm_rates},
      {"aiff-32", "aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_32, pcm_rates},
      {"aiff-float", "aiff", SF_FORMAT_AIFF | SF_FORMAT_FLOAT, pcm_rates},
      {"flac-8", "flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_S8, pcm_rates},
      {"flac-16", "flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, pcm_rates},
      {"flac-24", "flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, pcm_rates},
      {"vorbis", "ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, {8000, 22050, 44100, 48000, 96000}},
      {"opus", "opus", SF_FORMAT_OGG | SF_FORMAT_OPUS, {8000, 12000, 16000, 24000, 48000}},
      {"mp3",
       "mp3",
       SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III,
       {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000},
       {1, 2}},  // MPEG audio carries at most two channels
  };
}

// Compares a loaded clip with the reference sample by sample; reports the first difference.
void expect_equal(const LoadedClip& clip, const test::Reference& ref, const std::string& what) {
  const engine::ClipSamples s = clip.samples();
  ASSERT_EQ(s.frames, ref.frames) << what;
  ASSERT_EQ(s.channels, static_cast<std::uint32_t>(ref.channels)) << what;
  ASSERT_GE(s.stride, s.frames) << what;
  ASSERT_EQ(s.stride % 16, 0U) << what;
  for (std::uint32_t c = 0; c < s.channels; ++c) {
    const float* ch = s.channel(c);
    for (std::uint64_t i = 0; i < s.frames; ++i) {
      const float expected = ref.interleaved[i * s.channels + c];
      if (ch[i] != expected) {
        FAIL() << what << ": channel " << c << " frame " << i << ": " << ch[i]
               << " != " << expected;
      }
    }
  }
}

TEST(ClipDecode, EveryFormatRateAndLayoutEqualsLibsndfileReading) {
  TempDir dir;
  MemoryBudget budget;
  int loaded = 0;
  for (const Format& format : formats()) {
    for (const int rate : format.rates) {
      for (const int channels : format.channel_counts) {
        // Every rate in stereo; the other layouts at the lowest and highest rate.
        if (channels != 2 && rate != format.rates.front() && rate != format.rates.back()) continue;
        const std::string what = std::string(format.name) + " " + std::to_string(rate) + " Hz " +
                                 std::to_string(channels) + " ch";
        const std::string path = dir.file(std::string(format.name) + "-" + std::to_string(rate) +
                                          "-" + std::to_string(channels) + "." + format.ext);
        // 30 ms: short enough for a fast suite; the long-clip test covers many blocks.
        ASSERT_TRUE(test::write_audio(path, format.format, rate, channels,
                                      static_cast<std::uint64_t>(rate) * 3 / 100))
            << what << ": " << sf_strerror(nullptr);
        const test::Reference ref = test::read_reference(path);
        const LoadResult result = decode_clip({path, 0, 8}, budget);
        ASSERT_TRUE(result.ok()) << what << ": " << result.error->message;
        expect_equal(*result.clip, ref, what);
        const ClipInfo& info = result.clip->info();
        EXPECT_EQ(info.path, path) << what;
        EXPECT_EQ(info.frames, ref.frames) << what;
        EXPECT_EQ(info.channels, static_cast<std::uint32_t>(channels)) << what;
        EXPECT_EQ(info.sample_rate, static_cast<std::uint32_t>(rate)) << what;
        EXPECT_EQ(info.source_sample_rate, static_cast<std::uint32_t>(rate)) << what;
        EXPECT_DOUBLE_EQ(info.duration_s, static_cast<double>(ref.frames) / rate) << what;
        EXPECT_EQ(info.bytes, *PcmBuffer::bytes_for(ref.frames, channels)) << what;
        EXPECT_EQ(info.bytes, result.clip->reserved_bytes()) << what;
        EXPECT_EQ(info.locked, result.clip->pcm().locked()) << what;
        EXPECT_EQ(info.non_finite_samples, 0U) << what;
        ++loaded;
        if (HasFatalFailure()) return;
      }
    }
  }
  EXPECT_GT(loaded, 190);
  EXPECT_EQ(budget.used(), 0U);
}

TEST(ClipDecode, LongClipSpanningManyBlocks) {
  TempDir dir;
  MemoryBudget budget;
  for (const int format : {SF_FORMAT_WAV | SF_FORMAT_PCM_24, SF_FORMAT_FLAC | SF_FORMAT_PCM_16}) {
    const std::string path =
        dir.file(format == (SF_FORMAT_WAV | SF_FORMAT_PCM_24) ? "long.wav" : "long.flac");
    ASSERT_TRUE(test::write_audio(path, format, 48000, 3, 100003));
    const test::Reference ref = test::read_reference(path);
    const LoadResult result = decode_clip({path, 0, 8}, budget);
    ASSERT_TRUE(result.ok()) << result.error->message;
    expect_equal(*result.clip, ref, path);
  }
}

TEST(ClipDecode, RelativePathIsRecordedAbsoluteWithItsOptions) {
  TempDir dir;
  MemoryBudget budget;
  ASSERT_TRUE(
      test::write_audio(dir.file("rel.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, 441));
  const auto previous = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  const LoadResult result = decode_clip({"./rel.wav", 48000, 4}, budget);
  std::filesystem::current_path(previous);
  ASSERT_TRUE(result.ok()) << result.error->message;
  EXPECT_EQ(result.clip->info().path, dir.file("rel.wav"));
  EXPECT_EQ(result.clip->request().path, dir.file("rel.wav"));
  EXPECT_EQ(result.clip->request().target_rate, 48000U);
  EXPECT_EQ(result.clip->request().max_channels, 4U);
  EXPECT_EQ(result.clip->info().sample_rate, 48000U);
  EXPECT_EQ(result.clip->info().source_sample_rate, 44100U);
  EXPECT_EQ(result.clip->info().frames, 480U);

  // Decoding the kept request again at another rate gives the clip at that rate.
  LoadRequest again = result.clip->request();
  again.target_rate = 96000;
  const LoadResult second = decode_clip(again, budget);
  ASSERT_TRUE(second.ok()) << second.error->message;
  EXPECT_EQ(second.clip->info().frames, 960U);
  EXPECT_EQ(second.clip->info().sample_rate, 96000U);
}

TEST(ClipDecode, ResampledLengthRoundsLikeSoxr) {
  EXPECT_EQ(resampled_length(44100, 44100, 48000), 48000U);
  EXPECT_EQ(resampled_length(12345, 44100, 48000), 13437U);  // 13436.73
  EXPECT_EQ(resampled_length(777, 192000, 8000), 32U);       // 32.375
  EXPECT_EQ(resampled_length(3, 22050, 48000), 7U);          // 6.53
  EXPECT_EQ(resampled_length(1000, 48000, 48000), 1000U);
  EXPECT_EQ(resampled_length(~std::uint64_t{0}, 8000, 192000), ~std::uint64_t{0});
}

// The error of a resampled 1 kHz sine against the ideal sine at the new rate, over the middle
// 80 % (the ends carry the filter's edge effects).
double sine_ser_db(int from, int to, int format) {
  TempDir dir;
  MemoryBudget budget;
  const std::string path = dir.file("sine.wav");
  const double amplitude = 0.5;
  const std::uint64_t frames = static_cast<std::uint64_t>(from);  // one second
  EXPECT_TRUE(test::write_audio(path, format, from, 2, frames, [&](std::uint64_t i, std::uint32_t) {
    return static_cast<float>(amplitude * std::sin(2.0 * M_PI * 1000.0 * i / from));
  }));
  const LoadResult result = decode_clip({path, static_cast<std::uint32_t>(to), 8}, budget);
  EXPECT_TRUE(result.ok());
  if (!result.ok()) return 0.0;
  const engine::ClipSamples s = result.clip->samples();
  EXPECT_EQ(s.frames, resampled_length(frames, from, to));
  EXPECT_EQ(s.frames, static_cast<std::uint64_t>(to));
  EXPECT_EQ(result.clip->info().sample_rate, static_cast<std::uint32_t>(to));
  double signal = 0.0;
  double error = 0.0;
  for (std::uint32_t c = 0; c < s.channels; ++c) {
    for (std::uint64_t i = s.frames / 10; i < s.frames * 9 / 10; ++i) {
      const double ideal = amplitude * std::sin(2.0 * M_PI * 1000.0 * i / to);
      signal += ideal * ideal;
      error += (s.channel(c)[i] - ideal) * (s.channel(c)[i] - ideal);
    }
  }
  return 10.0 * std::log10(signal / error);
}

TEST(ClipResample, Sine44100To48000) {
  const double ser = sine_ser_db(44100, 48000, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  EXPECT_GE(ser, 100.0);
  RecordProperty("ser_db", std::to_string(ser));
}

TEST(ClipResample, Sine96000To48000) {
  const double ser = sine_ser_db(96000, 48000, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  EXPECT_GE(ser, 100.0);
}

TEST(ClipResample, Sine48000To44100FromFlac24) {
  // 24-bit quantisation bounds this one near 140 dB; the resampler must not be the limit.
  EXPECT_GE(sine_ser_db(48000, 44100, SF_FORMAT_FLAC | SF_FORMAT_PCM_24), 100.0);
}

TEST(ClipResample, ChannelsAreResampledIndependently) {
  // A 6-channel file resampled equals each of its channels resampled alone, to the last bit.
  TempDir dir;
  MemoryBudget budget;
  const std::string multi = dir.file("six.wav");
  ASSERT_TRUE(test::write_audio(multi, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 44100, 6, 20000));
  const LoadResult all = decode_clip({multi, 48000, 8}, budget);
  ASSERT_TRUE(all.ok()) << all.error->message;
  for (std::uint32_t c = 0; c < 6; ++c) {
    const std::string mono = dir.file("mono" + std::to_string(c) + ".wav");
    ASSERT_TRUE(test::write_audio(
        mono, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 44100, 1, 20000,
        [c](std::uint64_t i, std::uint32_t) { return test::test_signal(i, c, 44100); }));
    const LoadResult one = decode_clip({mono, 48000, 8}, budget);
    ASSERT_TRUE(one.ok()) << one.error->message;
    ASSERT_EQ(one.clip->samples().frames, all.clip->samples().frames);
    for (std::uint64_t i = 0; i < one.clip->samples().frames; ++i) {
      ASSERT_EQ(one.clip->samples().channel(0)[i], all.clip->samples().channel(c)[i])
          << "channel " << c << " frame " << i;
    }
  }
}

}  // namespace
}  // namespace clipd::clips
