// The bad-input corpus: each file gives its documented code (src/clips/decode.hpp), names the
// file in its message, holds no budget afterwards, and leaves a clip loaded before untouched.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "clips/decode.hpp"
#include "test_files.hpp"

namespace clipd::clips {
namespace {

using test::TempDir;

struct BadInput {
  std::string name;
  std::string path;
  LoadErrorCode expected;
  std::uint32_t max_channels = 8;
  std::size_t budget = MemoryBudget::default_limit();
};

void write_random(const std::string& path, std::size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<char> bytes(size);
  for (char& b : bytes)
    b = static_cast<char>(rng());
  test::write_bytes(path, bytes);
}

std::vector<char> truncated(const std::string& path, std::size_t keep) {
  std::vector<char> bytes = test::read_bytes(path);
  bytes.resize(std::min(keep, bytes.size()));
  return bytes;
}

template <typename T>
void poke_le(std::vector<char>& bytes, std::size_t at, T value) {
  std::memcpy(bytes.data() + at, &value, sizeof value);
}

class BadInputs : public ::testing::Test {
 protected:
  TempDir dir_;
  std::string good(const std::string& name, int format, int rate = 44100, int channels = 2,
                   std::uint64_t frames = 44100) {
    const std::string path = dir_.file(name);
    EXPECT_TRUE(test::write_audio(path, format, rate, channels, frames)) << name;
    return path;
  }
};

TEST_F(BadInputs, EachGivesItsCodeAndLeavesOtherClipsUntouched) {
  using enum LoadErrorCode;
  std::vector<BadInput> corpus;
  auto add = [&](std::string name, std::string path, LoadErrorCode code) {
    corpus.push_back({std::move(name), std::move(path), code});
  };

  const std::string wav = good("good.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  const std::string aiff = good("good.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_16);
  const std::string flac = good("good.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
  const std::string ogg = good("good.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS);
  const std::string opus = good("good.opus", SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000);

  test::write_bytes(dir_.file("empty.wav"), {});
  add("empty file", dir_.file("empty.wav"), unsupported_format);
  test::write_bytes(dir_.file("short-header.wav"), truncated(wav, 20));
  add("WAV header cut short", dir_.file("short-header.wav"), unsupported_format);
  test::write_bytes(dir_.file("short-header.aiff"), truncated(aiff, 30));
  add("AIFF header cut short", dir_.file("short-header.aiff"), unsupported_format);
  test::write_bytes(dir_.file("short-header.flac"), truncated(flac, 20));
  add("FLAC header cut short", dir_.file("short-header.flac"), unsupported_format);
  write_random(dir_.file("random.wav"), 65536, 1);
  add("random bytes .wav", dir_.file("random.wav"), unsupported_format);
  write_random(dir_.file("random.flac"), 65536, 2);
  add("random bytes .flac", dir_.file("random.flac"), unsupported_format);
  write_random(dir_.file("random.ogg"), 65536, 3);
  add("random bytes .ogg", dir_.file("random.ogg"), unsupported_format);
  {
    std::vector<char> riff = test::read_bytes(wav);
    std::mt19937 rng(4);
    for (std::size_t i = 12; i < riff.size(); ++i)
      riff[i] = static_cast<char>(rng());
    test::write_bytes(dir_.file("riff-garbage.wav"), riff);
    add("RIFF/WAVE magic then garbage", dir_.file("riff-garbage.wav"), unsupported_format);
  }
  // Unlike a stream cut short (which loads what it holds, tests/clips/test_lying_headers.cpp),
  // a stream whose decoder loses its place in garbage is corrupt.
  for (const unsigned seed : {5U, 6U, 7U, 8U}) {
    for (const std::string& source : {flac, ogg}) {
      std::vector<char> bytes = test::read_bytes(source);
      std::mt19937 rng(seed);
      for (std::size_t i = bytes.size() / 2; i < bytes.size(); ++i)
        bytes[i] = static_cast<char>(rng());
      const std::string ext = std::filesystem::path(source).extension().string();
      const std::string path = dir_.file("corrupt" + std::to_string(seed) + ext);
      test::write_bytes(path, bytes);
      add(ext + " frames overwritten with garbage, seed " + std::to_string(seed), path,
          decode_failed);
    }
  }
  test::write_bytes(dir_.file("text.wav"), {'h', 'e', 'l', 'l', 'o', '\n'});
  {
    const std::string text = "This is a text file, not audio.\nIt has two lines.\n";
    test::write_bytes(dir_.file("notes.txt"), std::vector<char>(text.begin(), text.end()));
  }
  add("text named .wav", dir_.file("text.wav"), unsupported_format);
  add("text file", dir_.file("notes.txt"), unsupported_format);
  std::filesystem::create_directory(dir_.file("folder.wav"));
  add("folder", dir_.file("folder.wav"), unsupported_format);
  ASSERT_EQ(::mkfifo(dir_.file("fifo.wav").c_str(), 0600), 0);
  add("FIFO without writer", dir_.file("fifo.wav"), unsupported_format);
  add("character device", "/dev/zero", unsupported_format);
  add("missing file", dir_.file("missing.wav"), file_not_found);
  add("file used as folder", wav + "/x.wav", file_not_found);
  std::filesystem::create_symlink(dir_.file("loop-b"), dir_.file("loop-a"));
  std::filesystem::create_symlink(dir_.file("loop-a"), dir_.file("loop-b"));
  add("symlink loop", dir_.file("loop-a"), file_not_found);
  {
    std::vector<char> bytes = test::read_bytes(wav);
    poke_le<std::uint16_t>(bytes, 22, 0);  // fmt channels
    test::write_bytes(dir_.file("zero-channels.wav"), bytes);
    add("zero channels", dir_.file("zero-channels.wav"), unsupported_format);
  }
  good("header-only.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, 0);
  add("zero frames", dir_.file("header-only.wav"), unsupported_format);
  good("nine.wav", SF_FORMAT_WAVEX | SF_FORMAT_PCM_16, 48000, 9, 100);
  add("nine channels (max 8)", dir_.file("nine.wav"), unsupported_format);
  good("three.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 3, 100);
  corpus.push_back({"three channels (max 2)", dir_.file("three.wav"), unsupported_format, 2});
  {
    // Real audio past the budget: a FLAC of unknown length (0 in its STREAMINFO, decoded to its
    // end in a growing buffer) and an Opus stream, 44100 stereo frames each against 64 KiB.
    std::vector<char> bytes = test::read_bytes(flac);
    test::set_flac_total_samples(bytes, 0);
    test::write_bytes(dir_.file("unknown-length.flac"), bytes);
    corpus.push_back({"FLAC of unknown length past the budget", dir_.file("unknown-length.flac"),
                      memory_budget, 8, std::size_t{64} << 10});
    corpus.push_back({"Opus past the budget", opus, memory_budget, 8, std::size_t{64} << 10});
  }
  ASSERT_GE(corpus.size(), 20U);

  // A clip loaded before the corpus, to check that nothing touches it.
  MemoryBudget budget;
  const LoadResult kept = decode_clip({flac, 0, 8}, budget);
  ASSERT_TRUE(kept.ok()) << kept.error->message;
  const test::Reference kept_ref = test::read_reference(flac);
  const std::size_t kept_bytes = budget.used();

  for (const BadInput& input : corpus) {
    budget.set_limit(input.budget);
    const LoadResult result = decode_clip({input.path, 48000, input.max_channels}, budget);
    ASSERT_FALSE(result.ok()) << input.name;
    ASSERT_TRUE(result.error.has_value()) << input.name;
    EXPECT_EQ(result.error->code_string(), to_string(input.expected))
        << input.name << ": " << result.error->message;
    EXPECT_NE(result.error->message.find(input.path), std::string::npos)
        << input.name << ": " << result.error->message;
    EXPECT_EQ(budget.used(), kept_bytes) << input.name;
  }

  const engine::ClipSamples s = kept.clip->samples();
  ASSERT_EQ(s.frames, kept_ref.frames);
  for (std::uint32_t c = 0; c < s.channels; ++c) {
    for (std::uint64_t i = 0; i < s.frames; ++i) {
      ASSERT_EQ(s.channel(c)[i], kept_ref.interleaved[i * s.channels + c]);
    }
  }
}

TEST_F(BadInputs, CutMp3LoadsTheFramesItHolds) {
  // MPEG has no reliable length field: the frames are counted by decoding, so an MP3 cut short
  // (or one whose header misstates its length) loads exactly what the decoder yields.
  const std::string mp3 = good("whole.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III);
  test::write_bytes(dir_.file("cut.mp3"), truncated(mp3, test::read_bytes(mp3).size() / 2));
  MemoryBudget budget;
  for (const std::string& path : {mp3, dir_.file("cut.mp3")}) {
    const test::Reference ref = test::read_reference(path);
    const LoadResult result = decode_clip({path, 0, 8}, budget);
    ASSERT_TRUE(result.ok()) << result.error->message;
    const engine::ClipSamples s = result.clip->samples();
    ASSERT_EQ(s.frames, ref.frames) << path;
    for (std::uint32_t c = 0; c < s.channels; ++c) {
      for (std::uint64_t i = 0; i < s.frames; ++i) {
        ASSERT_EQ(s.channel(c)[i], ref.interleaved[i * s.channels + c]) << path;
      }
    }
    if (path != mp3) {
      EXPECT_LT(ref.frames, 30000U);  // about half of the 44100
    }
  }
}

TEST_F(BadInputs, ReasonFromLibsndfileIsInTheMessage) {
  write_random(dir_.file("noise.wav"), 4096, 9);
  MemoryBudget budget;
  const LoadResult result = decode_clip({dir_.file("noise.wav"), 0, 8}, budget);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->code, LoadErrorCode::unsupported_format);
  EXPECT_NE(result.error->message.find("noise.wav"), std::string::npos);
  // sf_strerror's text for an unknown container.
  EXPECT_NE(result.error->message.find("Format not recognised"), std::string::npos)
      << result.error->message;
}

}  // namespace
}  // namespace clipd::clips
