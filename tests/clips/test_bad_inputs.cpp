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

// Sets the 36-bit total-samples field of a FLAC STREAMINFO block (right after "fLaC" and its
// 4-byte block header).
void set_flac_total_samples(std::vector<char>& bytes, std::uint64_t total) {
  std::uint64_t field = 0;
  for (int i = 0; i < 8; ++i)
    field = field << 8 | static_cast<unsigned char>(bytes[18 + i]);
  field = (field & ~((std::uint64_t{1} << 36) - 1)) | total;
  for (int i = 7; i >= 0; --i) {
    bytes[18 + i] = static_cast<char>(field & 0xff);
    field >>= 8;
  }
}

// Peak virtual size of this process, from /proc (kB).
std::uint64_t vm_peak_kb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmPeak:", 0) == 0) return std::stoull(line.substr(7));
  }
  return 0;
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
  const std::size_t wav_size = test::read_bytes(wav).size();

  test::write_bytes(dir_.file("empty.wav"), {});
  add("empty file", dir_.file("empty.wav"), unsupported_format);
  test::write_bytes(dir_.file("short-header.wav"), truncated(wav, 20));
  add("WAV header cut short", dir_.file("short-header.wav"), unsupported_format);
  test::write_bytes(dir_.file("short-header.aiff"), truncated(aiff, 30));
  add("AIFF header cut short", dir_.file("short-header.aiff"), unsupported_format);
  test::write_bytes(dir_.file("short-header.flac"), truncated(flac, 20));
  add("FLAC header cut short", dir_.file("short-header.flac"), unsupported_format);
  test::write_bytes(dir_.file("cut.wav"), truncated(wav, wav_size / 2));
  add("WAV data cut short", dir_.file("cut.wav"), decode_failed);
  test::write_bytes(dir_.file("cut-odd.wav"), truncated(wav, wav_size - 3));
  add("WAV data cut mid-frame", dir_.file("cut-odd.wav"), decode_failed);
  test::write_bytes(dir_.file("cut.aiff"), truncated(aiff, test::read_bytes(aiff).size() / 2));
  add("AIFF data cut short", dir_.file("cut.aiff"), decode_failed);
  test::write_bytes(dir_.file("cut.flac"), truncated(flac, test::read_bytes(flac).size() / 2));
  add("FLAC stream cut short", dir_.file("cut.flac"), decode_failed);
  test::write_bytes(dir_.file("cut.opus"), truncated(opus, test::read_bytes(opus).size() / 2));
  add("Opus stream cut short (length unknown)", dir_.file("cut.opus"), decode_failed);
  test::write_bytes(dir_.file("cut.ogg"), truncated(ogg, test::read_bytes(ogg).size() / 2));
  add("Vorbis stream cut short (length unknown)", dir_.file("cut.ogg"), decode_failed);
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
  {
    std::vector<char> flac_bytes = test::read_bytes(flac);
    std::mt19937 rng(5);
    for (std::size_t i = flac_bytes.size() / 3; i < flac_bytes.size(); ++i) {
      flac_bytes[i] = static_cast<char>(rng());
    }
    test::write_bytes(dir_.file("corrupt.flac"), flac_bytes);
    add("FLAC frames overwritten with garbage", dir_.file("corrupt.flac"), decode_failed);
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
    // A FLAC STREAMINFO announcing 2^36 - 1 frames (~2 TB decoded): refused by the budget.
    std::vector<char> bytes = test::read_bytes(flac);
    set_flac_total_samples(bytes, (std::uint64_t{1} << 36) - 1);
    test::write_bytes(dir_.file("terabytes.flac"), bytes);
    add("FLAC header claiming terabytes", dir_.file("terabytes.flac"), memory_budget);
  }
  {
    // An RF64 ds64 chunk announcing 2^40 frames over a few bytes of audio.
    const std::string rf64 = good("big.rf64", SF_FORMAT_RF64 | SF_FORMAT_PCM_16, 48000, 2, 1000);
    std::vector<char> bytes = test::read_bytes(rf64);
    ASSERT_EQ(std::string(bytes.data() + 12, 4), "ds64");
    poke_le<std::uint64_t>(bytes, 28, std::uint64_t{1} << 42);  // data size
    poke_le<std::uint64_t>(bytes, 36, std::uint64_t{1} << 40);  // sample count
    test::write_bytes(dir_.file("terabytes.rf64"), bytes);
    add("RF64 header claiming terabytes", dir_.file("terabytes.rf64"), memory_budget);
  }
  {
    // A WAV data chunk claiming 4 GiB: more than a 1 GiB budget could hold.
    std::vector<char> bytes = test::read_bytes(wav);
    ASSERT_EQ(std::string(bytes.data() + 36, 4), "data");
    poke_le<std::uint32_t>(bytes, 40, 0xfffffff0U);
    test::write_bytes(dir_.file("gigabytes.wav"), bytes);
    corpus.push_back({"WAV header claiming 4 GiB (1 GiB budget)", dir_.file("gigabytes.wav"),
                      memory_budget, 8, std::size_t{1} << 30});
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

TEST_F(BadInputs, OverBudgetFailsBeforeAllocatingTheClip) {
  // A FLAC announcing 2^27 stereo frames (1 GiB decoded) against a 512 MiB budget: refused
  // before the mapping, so the process never even reserves that much address space.
  std::vector<char> bytes = test::read_bytes(good("src.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16));
  set_flac_total_samples(bytes, std::uint64_t{1} << 27);
  test::write_bytes(dir_.file("gib.flac"), bytes);
  MemoryBudget budget(std::size_t{512} << 20);
  const std::uint64_t peak_before = vm_peak_kb();
  const LoadResult result = decode_clip({dir_.file("gib.flac"), 0, 8}, budget);
  const std::uint64_t peak_after = vm_peak_kb();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->code, LoadErrorCode::memory_budget) << result.error->message;
  EXPECT_EQ(budget.used(), 0U);
  EXPECT_LT(peak_after - peak_before, std::uint64_t{256} << 10);  // far under 1 GiB

  // With room in the budget a header announcing more than the file holds passes the
  // reservation, then fails as truncated (the file holds 44100 frames) and gives it back.
  set_flac_total_samples(bytes, std::uint64_t{1} << 20);
  test::write_bytes(dir_.file("mib.flac"), bytes);
  MemoryBudget roomy(std::size_t{64} << 20);
  const LoadResult second = decode_clip({dir_.file("mib.flac"), 0, 8}, roomy);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error->code, LoadErrorCode::decode_failed) << second.error->message;
  EXPECT_EQ(roomy.used(), 0U);
}

}  // namespace
}  // namespace clipd::clips
