// Files whose header misstates their length load what they really hold (src/clips/decode.hpp):
// uncompressed data by the bytes present (never more than a header's own frame count, unless
// the header says "unknown"), compressed streams decoded to their end in a buffer that grows
// under the memory budget; `memory-budget` only when the real audio does not fit.
#include <sys/mman.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "clips/decode.hpp"
#include "test_files.hpp"

namespace clipd::clips {
namespace {

using test::TempDir;

std::size_t page_size() {
  return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// Sample (i, c) of the float files: distinct, exact in 32-bit float.
float written(std::uint64_t i, std::uint32_t c) {
  return static_cast<float>(static_cast<int>((i * 37 + c * 1001) % 4001) - 2000) / 2048.0F;
}

// A signal FLAC compresses to almost nothing: each channel holds one value per 4096-frame
// block (FLAC's block size), so every subframe is a constant. Its file is far smaller than any
// guess of its length from the file's size, so loading it with an unknown length grows the
// buffer several times.
float steps(std::uint64_t i, std::uint32_t c) {
  return static_cast<float>(static_cast<int>((i / 4096 + c * 3) % 11) - 5) / 8.0F;
}

void put_le32(std::vector<char>& bytes, std::size_t at, std::uint32_t value) {
  for (int i = 0; i < 4; ++i)
    bytes[at + i] = static_cast<char>(value >> (8 * i) & 0xff);
}

void put_be32(std::vector<char>& bytes, std::size_t at, std::uint32_t value) {
  for (int i = 0; i < 4; ++i)
    bytes[at + i] = static_cast<char>(value >> (24 - 8 * i) & 0xff);
}

std::uint32_t get_le32(const std::vector<char>& bytes, std::size_t at) {
  std::uint32_t value = 0;
  for (int i = 3; i >= 0; --i)
    value = value << 8 | static_cast<unsigned char>(bytes[at + i]);
  return value;
}

// Offset of a RIFF chunk's header (walking the chunk list of a WAV or RF64 file).
std::size_t riff_chunk(const std::vector<char>& bytes, const char* id) {
  std::size_t at = 12;
  while (at + 8 <= bytes.size()) {
    if (std::memcmp(bytes.data() + at, id, 4) == 0) return at;
    const std::uint32_t length = get_le32(bytes, at + 4);
    at += 8 + length + (length & 1U);
  }
  ADD_FAILURE() << "no " << id << " chunk";
  return 0;
}

// Offset of an IFF chunk's header in an AIFF file (its ids are unique in these test files).
std::size_t iff_chunk(const std::vector<char>& bytes, const char* id) {
  for (std::size_t at = 12; at + 4 <= bytes.size(); ++at) {
    if (std::memcmp(bytes.data() + at, id, 4) == 0) return at;
  }
  ADD_FAILURE() << "no " << id << " chunk";
  return 0;
}

std::vector<char> prefix(const std::vector<char>& bytes, std::size_t keep) {
  return {bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(keep)};
}

// Every sample of `clip` equals expected(i, c) for its first `frames` frames.
template <typename Expected>
void expect_samples(const LoadedClip& clip, std::uint64_t frames, std::uint32_t channels,
                    Expected expected, const std::string& what) {
  const engine::ClipSamples s = clip.samples();
  ASSERT_EQ(s.frames, frames) << what;
  ASSERT_EQ(s.channels, channels) << what;
  ASSERT_EQ(clip.info().frames, frames) << what;
  for (std::uint32_t c = 0; c < channels; ++c) {
    for (std::uint64_t i = 0; i < frames; ++i) {
      ASSERT_EQ(s.channel(c)[i], expected(i, c)) << what << ": channel " << c << " frame " << i;
    }
  }
  // The memory held is exactly what the frames need, and exactly what is reserved.
  EXPECT_EQ(clip.info().bytes, *PcmBuffer::bytes_for(frames, channels)) << what;
  EXPECT_EQ(clip.reserved_bytes(), clip.info().bytes) << what;
  EXPECT_EQ(clip.pcm().bytes(), clip.info().bytes) << what;
}

void expect_reference(const LoadedClip& clip, const test::Reference& ref, const std::string& what) {
  expect_samples(
      clip, ref.frames, static_cast<std::uint32_t>(ref.channels),
      [&](std::uint64_t i, std::uint32_t c) { return ref.interleaved[i * ref.channels + c]; },
      what);
}

TEST(LyingHeaders, WavAnnouncingGigabytesLoadsWhatTheFileHolds) {
  TempDir dir;
  // 19 KB: 2400 stereo float frames.
  const std::string path = dir.file("take.wav");
  ASSERT_TRUE(test::write_audio(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, 2, 2400, written));
  const std::vector<char> original = test::read_bytes(path);
  const std::size_t data = riff_chunk(original, "data");
  ASSERT_EQ(get_le32(original, data + 4), 2400U * 2 * 4);

  struct Header {
    const char* what;
    std::uint32_t riff;
    std::uint32_t data;
  };
  // The sizes a writer leaves when it never came back to fill them in: all ones (4 GiB),
  // 2 GiB (a streaming writer's "as large as can be"), or zero.
  const std::vector<Header> headers = {
      {"4 GiB", 0xffffffffU, 0xffffffffU},
      {"4 GiB less 16", 0xfffffff8U, 0xfffffff0U},
      {"2 GiB", 0x7fffffffU, 0x7fffffffU},
      {"zero sizes", 0, 0},
      {"zero data size, RIFF size of an empty file", 36, 0},
  };
  MemoryBudget budget(std::size_t{1} << 30);  // less than the 4 GiB announced
  for (const Header& header : headers) {
    std::vector<char> bytes = original;
    put_le32(bytes, 4, header.riff);
    put_le32(bytes, data + 4, header.data);
    const std::string lying = dir.file("lying.wav");
    test::write_bytes(lying, bytes);
    const LoadResult result = decode_clip({lying, 0, 8}, budget);
    ASSERT_TRUE(result.ok()) << header.what << ": " << result.error->message;
    expect_samples(*result.clip, 2400, 2, written, header.what);
    EXPECT_EQ(result.clip->info().non_finite_samples, 0U);
  }
  EXPECT_EQ(budget.used(), 0U);
}

TEST(LyingHeaders, UnsizedWavOfEachSampleFormatLoadsItsAudio) {
  // A data chunk of size 0 in PCM files of each width, plain and WAVE_FORMAT_EXTENSIBLE: read
  // headerless from the chunk's start to the end of the file.
  TempDir dir;
  MemoryBudget budget;
  for (const int format : {SF_FORMAT_WAV | SF_FORMAT_PCM_U8, SF_FORMAT_WAV | SF_FORMAT_PCM_16,
                           SF_FORMAT_WAV | SF_FORMAT_PCM_24, SF_FORMAT_WAV | SF_FORMAT_PCM_32,
                           SF_FORMAT_WAV | SF_FORMAT_DOUBLE, SF_FORMAT_WAVEX | SF_FORMAT_PCM_24,
                           SF_FORMAT_WAVEX | SF_FORMAT_FLOAT, SF_FORMAT_WAV | SF_FORMAT_ULAW}) {
    const std::string what = "format " + std::to_string(format);
    const std::string path = dir.file("good.wav");
    ASSERT_TRUE(test::write_audio(path, format, 44100, 3, 1234)) << what;
    const test::Reference ref = test::read_reference(path);
    ASSERT_EQ(ref.frames, 1234U);
    std::vector<char> bytes = test::read_bytes(path);
    put_le32(bytes, 4, 0);
    put_le32(bytes, riff_chunk(bytes, "data") + 4, 0);
    test::write_bytes(dir.file("unsized.wav"), bytes);
    const LoadResult result = decode_clip({dir.file("unsized.wav"), 0, 8}, budget);
    ASSERT_TRUE(result.ok()) << what << ": " << result.error->message;
    expect_reference(*result.clip, ref, what);
    EXPECT_EQ(result.clip->info().source_sample_rate, 44100U) << what;
  }
}

TEST(LyingHeaders, WavCutShortLoadsTheWholeFramesItHolds) {
  // What a recorder that wrote its header first and then crashed leaves: the header announces
  // the full length, the file holds less (and may end inside a frame).
  TempDir dir;
  MemoryBudget budget;
  const std::string path = dir.file("whole.wav");
  ASSERT_TRUE(test::write_audio(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, 2, 2400, written));
  const std::vector<char> bytes = test::read_bytes(path);
  const std::size_t audio = riff_chunk(bytes, "data") + 8;
  for (const std::size_t keep_bytes : {std::size_t{1000} * 8, std::size_t{1000} * 8 + 5,
                                       std::size_t{2399} * 8 + 7, std::size_t{8}}) {
    test::write_bytes(dir.file("cut.wav"), prefix(bytes, audio + keep_bytes));
    const LoadResult result = decode_clip({dir.file("cut.wav"), 0, 8}, budget);
    ASSERT_TRUE(result.ok()) << keep_bytes << ": " << result.error->message;
    expect_samples(*result.clip, keep_bytes / 8, 2, written, std::to_string(keep_bytes));
  }
}

TEST(LyingHeaders, HeaderAnnouncingFewerFramesThanPresentIsObeyed) {
  TempDir dir;
  MemoryBudget budget;
  {
    // WAV: a data chunk announcing 800 of the 1000 frames that follow it.
    const std::string path = dir.file("long.wav");
    ASSERT_TRUE(test::write_audio(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, 2, 1000, written));
    std::vector<char> bytes = test::read_bytes(path);
    put_le32(bytes, riff_chunk(bytes, "data") + 4, 800 * 8);
    test::write_bytes(dir.file("short.wav"), bytes);
    const LoadResult result = decode_clip({dir.file("short.wav"), 0, 8}, budget);
    ASSERT_TRUE(result.ok()) << result.error->message;
    expect_samples(*result.clip, 800, 2, written, "WAV");
  }
  {
    // AIFF: a COMM chunk announcing 800 frames over an SSND chunk of 1000. libsndfile alone
    // counts by the SSND chunk; the COMM count is the file's own statement of its length.
    const std::string path = dir.file("long.aiff");
    ASSERT_TRUE(test::write_audio(path, SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 48000, 2, 1000));
    const test::Reference ref = test::read_reference(path);
    std::vector<char> bytes = test::read_bytes(path);
    put_be32(bytes, iff_chunk(bytes, "COMM") + 10, 800);
    test::write_bytes(dir.file("short.aiff"), bytes);
    const LoadResult result = decode_clip({dir.file("short.aiff"), 0, 8}, budget);
    ASSERT_TRUE(result.ok()) << result.error->message;
    expect_samples(
        *result.clip, 800, 2,
        [&](std::uint64_t i, std::uint32_t c) { return ref.interleaved[i * 2 + c]; }, "AIFF");
  }
}

TEST(LyingHeaders, AiffAndRf64AnnouncingMoreLoadWhatTheyHold) {
  TempDir dir;
  MemoryBudget budget(std::size_t{1} << 30);
  const std::string aiff = dir.file("good.aiff");
  ASSERT_TRUE(test::write_audio(aiff, SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 48000, 2, 1000));
  const test::Reference aiff_ref = test::read_reference(aiff);
  const std::vector<char> aiff_bytes = test::read_bytes(aiff);
  const std::size_t comm = iff_chunk(aiff_bytes, "COMM");
  const std::size_t ssnd = iff_chunk(aiff_bytes, "SSND");
  for (const std::uint32_t size : {0xffffffffU, 0U}) {
    std::vector<char> bytes = aiff_bytes;
    put_be32(bytes, 4, size);                                 // FORM
    put_be32(bytes, comm + 10, size == 0 ? 0 : 0x7fffffffU);  // COMM frames
    put_be32(bytes, ssnd + 4, size);                          // SSND
    test::write_bytes(dir.file("lying.aiff"), bytes);
    const LoadResult result = decode_clip({dir.file("lying.aiff"), 0, 8}, budget);
    ASSERT_TRUE(result.ok()) << size << ": " << result.error->message;
    expect_reference(*result.clip, aiff_ref, "AIFF sizes " + std::to_string(size));
  }

  // An RF64 ds64 chunk announcing 2^40 frames (4 TiB) over 1000.
  const std::string rf64 = dir.file("good.rf64");
  ASSERT_TRUE(test::write_audio(rf64, SF_FORMAT_RF64 | SF_FORMAT_PCM_16, 48000, 2, 1000));
  const test::Reference rf64_ref = test::read_reference(rf64);
  std::vector<char> bytes = test::read_bytes(rf64);
  ASSERT_EQ(std::string(bytes.data() + 12, 4), "ds64");
  const std::uint64_t data_size = std::uint64_t{1} << 42;
  const std::uint64_t frames = std::uint64_t{1} << 40;
  std::memcpy(bytes.data() + 28, &data_size, 8);
  std::memcpy(bytes.data() + 36, &frames, 8);
  test::write_bytes(dir.file("lying.rf64"), bytes);
  {
    const LoadResult result = decode_clip({dir.file("lying.rf64"), 0, 8}, budget);
    ASSERT_TRUE(result.ok()) << result.error->message;
    expect_reference(*result.clip, rf64_ref, "RF64");
  }
  EXPECT_EQ(budget.used(), 0U);
}

TEST(LyingHeaders, CompressedStreamsDecodeToTheirEnd) {
  TempDir dir;
  MemoryBudget budget(std::size_t{1} << 30);
  const std::string flac = dir.file("good.flac");
  ASSERT_TRUE(test::write_audio(flac, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, 44100));
  const test::Reference flac_ref = test::read_reference(flac);
  ASSERT_EQ(flac_ref.frames, 44100U);
  // A FLAC announcing 2^36 - 1 frames (a terabyte decoded), twice its length, or 0 (unknown,
  // as a streaming encoder writes it): all of it loads.
  for (const std::uint64_t total :
       {(std::uint64_t{1} << 36) - 1, std::uint64_t{88200}, std::uint64_t{0}}) {
    std::vector<char> bytes = test::read_bytes(flac);
    test::set_flac_total_samples(bytes, total);
    test::write_bytes(dir.file("lying.flac"), bytes);
    const LoadResult result = decode_clip({dir.file("lying.flac"), 0, 8}, budget);
    ASSERT_TRUE(result.ok()) << total << ": " << result.error->message;
    expect_reference(*result.clip, flac_ref, "FLAC announcing " + std::to_string(total));
  }

  // Streams cut short (the length unknown or wrong): what decodes, exactly as libsndfile reads
  // the cut file.
  const std::string ogg = dir.file("good.ogg");
  ASSERT_TRUE(test::write_audio(ogg, SF_FORMAT_OGG | SF_FORMAT_VORBIS, 44100, 2, 441000));
  const std::string opus = dir.file("good.opus");
  ASSERT_TRUE(test::write_audio(opus, SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000, 2, 480000));
  for (const std::string& whole : {flac, ogg, opus}) {
    const std::vector<char> bytes = test::read_bytes(whole);
    const std::string cut = dir.file("cut-" + std::filesystem::path(whole).filename().string());
    test::write_bytes(cut, prefix(bytes, bytes.size() / 2));
    const test::Reference ref = test::read_reference(cut);
    ASSERT_GT(ref.frames, 10000U) << whole;
    ASSERT_LT(ref.frames, test::read_reference(whole).frames) << whole;
    const LoadResult result = decode_clip({cut, 0, 8}, budget);
    ASSERT_TRUE(result.ok()) << whole << ": " << result.error->message;
    expect_reference(*result.clip, ref, cut);
  }
  EXPECT_EQ(budget.used(), 0U);
}

TEST(LyingHeaders, FlacCutAnywhereLoadsWhatDecodes) {
  // Wherever the cut falls (inside a frame, its header, or between frames), a cut FLAC is not
  // mistaken for a corrupt one.
  TempDir dir;
  MemoryBudget budget;
  const std::string flac = dir.file("good.flac");
  ASSERT_TRUE(test::write_audio(flac, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, 44100));
  const std::vector<char> bytes = test::read_bytes(flac);
  for (std::size_t keep = bytes.size() / 4; keep < bytes.size(); keep += bytes.size() / 23) {
    const std::string cut = dir.file("cut" + std::to_string(keep) + ".flac");
    test::write_bytes(cut, prefix(bytes, keep));
    const test::Reference ref = test::read_reference(cut);
    const LoadResult result = decode_clip({cut, 0, 8}, budget);
    ASSERT_TRUE(result.ok()) << keep << ": " << result.error->message;
    expect_reference(*result.clip, ref, cut);
  }
}

TEST(LyingHeaders, GrowingBufferHoldsExactlyWhatAKnownLengthWould) {
  // A FLAC of 300000 frames of steps compresses to a few kilobytes: with its length unknown the
  // buffer starts far too small and grows several times, with and without resampling. The
  // result equals loading the same stream with its length known, bit for bit.
  TempDir dir;
  MemoryBudget budget;
  const std::string known = dir.file("known.flac");
  ASSERT_TRUE(test::write_audio(known, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 3, 300000, steps));
  std::vector<char> bytes = test::read_bytes(known);
  ASSERT_LT(bytes.size() / 3 * 32, 300000U);  // even the most generous guess is short
  test::set_flac_total_samples(bytes, 0);
  const std::string unknown = dir.file("unknown.flac");
  test::write_bytes(unknown, bytes);
  for (const std::uint32_t rate : {0U, 48000U, 32000U}) {
    const std::string what = "target rate " + std::to_string(rate);
    const LoadResult a = decode_clip({known, rate, 8}, budget);
    const LoadResult b = decode_clip({unknown, rate, 8}, budget);
    ASSERT_TRUE(a.ok()) << what << ": " << a.error->message;
    ASSERT_TRUE(b.ok()) << what << ": " << b.error->message;
    const engine::ClipSamples s = a.clip->samples();
    EXPECT_EQ(s.frames, resampled_length(300000, 44100, rate == 0 ? 44100 : rate)) << what;
    expect_samples(
        *b.clip, s.frames, 3, [&](std::uint64_t i, std::uint32_t c) { return s.channel(c)[i]; },
        what);
    EXPECT_EQ(b.clip->info().bytes, a.clip->info().bytes) << what;
  }
  const test::Reference ref = test::read_reference(known);
  const LoadResult plain = decode_clip({unknown, 0, 8}, budget);
  ASSERT_TRUE(plain.ok());
  expect_reference(*plain.clip, ref, "unknown length, no resampling");
}

TEST(LyingHeaders, MemoryBudgetOnlyWhenTheRealAudioDoesNotFit) {
  TempDir dir;
  struct Case {
    std::string what;
    std::string path;
    test::Reference ref;
  };
  std::vector<Case> cases;
  const std::string flac = dir.file("real.flac");
  ASSERT_TRUE(test::write_audio(flac, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 48000, 2, 131072));
  const std::string steps_flac = dir.file("steps.flac");
  ASSERT_TRUE(
      test::write_audio(steps_flac, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 48000, 2, 131072, steps));
  for (const std::string& source : {flac, steps_flac}) {
    for (const std::uint64_t total :
         {std::uint64_t{131072}, std::uint64_t{0}, (std::uint64_t{1} << 36) - 1}) {
      std::vector<char> bytes = test::read_bytes(source);
      test::set_flac_total_samples(bytes, total);
      const std::string path = source + "." + std::to_string(total) + ".flac";
      test::write_bytes(path, bytes);
      cases.push_back(
          {source + " announcing " + std::to_string(total), path, test::read_reference(source)});
    }
  }
  const std::string wav = dir.file("real.wav");
  ASSERT_TRUE(test::write_audio(wav, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, 2, 131072, written));
  std::vector<char> bytes = test::read_bytes(wav);
  put_le32(bytes, 4, 0xffffffffU);
  put_le32(bytes, riff_chunk(bytes, "data") + 4, 0xffffffffU);
  test::write_bytes(dir.file("lying.wav"), bytes);
  cases.push_back({"WAV announcing 4 GiB", dir.file("lying.wav"), test::read_reference(wav)});

  const std::size_t needed = *PcmBuffer::bytes_for(131072, 2);  // 1 MiB
  for (const Case& c : cases) {
    // Exactly the real size: loads, the whole budget used.
    MemoryBudget exact(needed);
    {
      const LoadResult result = decode_clip({c.path, 0, 8}, exact);
      ASSERT_TRUE(result.ok()) << c.what << ": " << result.error->message;
      expect_reference(*result.clip, c.ref, c.what);
      EXPECT_EQ(exact.used(), needed) << c.what;
    }
    EXPECT_EQ(exact.used(), 0U) << c.what;
    // One page less: memory-budget, and nothing kept.
    MemoryBudget short_one_page(needed - page_size());
    const LoadResult result = decode_clip({c.path, 0, 8}, short_one_page);
    ASSERT_FALSE(result.ok()) << c.what;
    EXPECT_EQ(result.error->code, LoadErrorCode::memory_budget) << c.what;
    EXPECT_NE(result.error->message.find(c.path), std::string::npos) << result.error->message;
    EXPECT_EQ(short_one_page.used(), 0U) << c.what;
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

TEST(LyingHeaders, ClaimOfAGigabyteIsNotReservedUpFront) {
  // A FLAC announcing 2^27 stereo frames (1 GiB decoded) over 44100: the claim is not believed
  // (far beyond what the file's size makes plausible), so the load neither maps nor reserves
  // anything near it, and gives back all but what the real audio needs.
  TempDir dir;
  const std::string path = dir.file("src.flac");
  ASSERT_TRUE(test::write_audio(path, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, 44100));
  const test::Reference ref = test::read_reference(path);
  std::vector<char> bytes = test::read_bytes(path);
  test::set_flac_total_samples(bytes, std::uint64_t{1} << 27);
  test::write_bytes(dir.file("gib.flac"), bytes);
  MemoryBudget budget(std::size_t{512} << 20);
  const std::uint64_t peak_before = vm_peak_kb();
  const LoadResult result = decode_clip({dir.file("gib.flac"), 0, 8}, budget);
  const std::uint64_t peak_after = vm_peak_kb();
  ASSERT_TRUE(result.ok()) << result.error->message;
  expect_reference(*result.clip, ref, "gib.flac");
  EXPECT_EQ(budget.used(), *PcmBuffer::bytes_for(44100, 2));
  EXPECT_LT(peak_after - peak_before, std::uint64_t{256} << 10);  // far under 1 GiB
}

}  // namespace
}  // namespace clipd::clips
