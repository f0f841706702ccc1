// Test audio made at test time: a private temporary folder, files written with libsndfile, and
// libsndfile's own float reading of a file (the reference a clip must equal).
#pragma once

#include <sndfile.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace clipd::clips::test {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "clipd-clips-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Sample value of channel c at frame i: a distinct tone per channel, well inside [-1, 1].
inline float test_signal(std::uint64_t i, std::uint32_t c, double rate) {
  const double f = 220.0 * (c + 1) + 37.0;
  return static_cast<float>(0.6 * std::sin(2.0 * M_PI * f * static_cast<double>(i) / rate) +
                            0.05 * std::cos(0.37 * static_cast<double>(i) + c));
}

// Writes `frames` frames of `signal` (or test_signal) with libsndfile; false if libsndfile
// refuses the format.
inline bool write_audio(const std::string& path, int format, int rate, int channels,
                        std::uint64_t frames,
                        const std::function<float(std::uint64_t, std::uint32_t)>& signal = {}) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
  if (file == nullptr) return false;
  std::vector<float> block(4096 * static_cast<std::size_t>(channels));
  std::uint64_t done = 0;
  while (done < frames) {
    const std::uint64_t n = std::min<std::uint64_t>(4096, frames - done);
    for (std::uint64_t i = 0; i < n; ++i) {
      for (int c = 0; c < channels; ++c) {
        const auto ch = static_cast<std::uint32_t>(c);
        block[i * channels + c] = signal ? signal(done + i, ch) : test_signal(done + i, ch, rate);
      }
    }
    if (sf_writef_float(file, block.data(), static_cast<sf_count_t>(n)) !=
        static_cast<sf_count_t>(n)) {
      sf_close(file);
      return false;
    }
    done += n;
  }
  return sf_close(file) == 0;
}

struct Reference {
  std::vector<float> interleaved;
  std::uint64_t frames = 0;
  int channels = 0;
  int rate = 0;
};

// libsndfile's own float reading of the whole file.
inline Reference read_reference(const std::string& path) {
  SF_INFO info{};
  SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
  if (file == nullptr) throw std::runtime_error("reference: cannot open " + path);
  Reference ref;
  ref.channels = info.channels;
  ref.rate = info.samplerate;
  std::vector<float> block(4096 * static_cast<std::size_t>(info.channels));
  for (;;) {
    const sf_count_t got = sf_readf_float(file, block.data(), 4096);
    if (got <= 0) break;
    ref.interleaved.insert(ref.interleaved.end(), block.begin(),
                           block.begin() + got * info.channels);
    ref.frames += static_cast<std::uint64_t>(got);
  }
  sf_close(file);
  return ref;
}

inline std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Sets the 36-bit total-samples field of a FLAC STREAMINFO block (right after "fLaC" and its
// 4-byte block header).
inline void set_flac_total_samples(std::vector<char>& bytes, std::uint64_t total) {
  std::uint64_t field = 0;
  for (int i = 0; i < 8; ++i)
    field = field << 8 | static_cast<unsigned char>(bytes[18 + i]);
  field = (field & ~((std::uint64_t{1} << 36) - 1)) | total;
  for (int i = 7; i >= 0; --i) {
    bytes[18 + i] = static_cast<char>(field & 0xff);
    field >>= 8;
  }
}

}  // namespace clipd::clips::test
