#include "clips/decode.hpp"

#include <fcntl.h>
#include <sndfile.h>
#include <soxr.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <filesystem>
#include <limits>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace clipd::clips {

namespace {

// Input frames per block: large enough that per-call overhead vanishes, small enough that the
// interleaved scratch (at most 8 channels: 512 KiB) stays far below any clip worth loading.
constexpr sf_count_t block_frames = 16384;

// libsndfile reports a failed open through one process-wide error slot (sf_error(NULL)), so an
// open and the reading of its reason happen under one lock; parallel loads would otherwise read
// each other's reasons.
std::mutex sf_open_mutex;

struct FileDescriptor {
  int fd = -1;
  FileDescriptor() = default;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

struct SndFile {
  SNDFILE* file = nullptr;
  SndFile() = default;
  SndFile(const SndFile&) = delete;
  SndFile& operator=(const SndFile&) = delete;
  ~SndFile() {
    if (file != nullptr) sf_close(file);
  }
};

struct Resampler {
  soxr_t soxr = nullptr;
  Resampler() = default;
  Resampler(const Resampler&) = delete;
  Resampler& operator=(const Resampler&) = delete;
  ~Resampler() {
    if (soxr != nullptr) soxr_delete(soxr);
  }
};

std::string in_quotes(std::string_view path) {
  std::string text;
  text.reserve(path.size() + 2);
  text += '\'';
  text += path;
  text += '\'';
  return text;
}

LoadResult failure(LoadErrorCode code, std::string message) {
  LoadResult result;
  result.error = LoadError{code, std::move(message)};
  return result;
}

LoadResult cancelled(std::string_view path) {
  return failure(LoadErrorCode::cancelled, "loading " + in_quotes(path) + " was cancelled");
}

LoadErrorCode open_error_code(int error) noexcept {
  switch (error) {
    case ENOENT:
    case ENOTDIR:
    case ELOOP:
    case ENAMETOOLONG:
      return LoadErrorCode::file_not_found;
    case EACCES:
    case EPERM:
      return LoadErrorCode::permission_denied;
    case ENXIO:
    case ENODEV:
    case EISDIR:
    case EOPNOTSUPP:
      return LoadErrorCode::unsupported_format;
    default:
      return LoadErrorCode::decode_failed;
  }
}

const char* file_type(mode_t mode) noexcept {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

bool parse_count(std::string_view text, std::uint64_t& out) noexcept {
  while (!text.empty() && text.front() == ' ')
    text.remove_prefix(1);
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end != text.data();
}

// The frame count a WAV/AIFF/RF64/W64 header announces when libsndfile found less audio in the
// file and shortened it: libsndfile notes the header's value in its log ("data : N (should be
// M)" in bytes, or "Frames : N" from an AIFF COMM or RF64 ds64 chunk). 0 when nothing says more
// than `frames`.
std::uint64_t announced_frames(SNDFILE* file, std::uint64_t frames) {
  std::vector<char> log(16384);
  sf_command(file, SFC_GET_LOG_INFO, log.data(), static_cast<int>(log.size()));
  const std::string_view text(log.data(), ::strnlen(log.data(), log.size()));
  std::uint64_t announced = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
      line.remove_prefix(1);
    if (line.starts_with("data") || line.starts_with("Frames")) {
      const bool is_data = line.starts_with("data");
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      const std::string_view key = line.substr(0, colon);
      if (key.find_first_not_of(' ', is_data ? 4 : 6) != std::string_view::npos) continue;
      std::uint64_t value = 0;
      if (!parse_count(line.substr(colon + 1), value)) continue;
      if (is_data) {
        const std::size_t should = line.find("(should be ");
        std::uint64_t actual = 0;
        if (should == std::string_view::npos || !parse_count(line.substr(should + 11), actual) ||
            actual == 0 || value <= actual) {
          continue;
        }
        // Bytes to frames by the file's own proportion; saturate rather than overflow.
        const long double scaled = static_cast<long double>(frames) *
                                   static_cast<long double>(value) /
                                   static_cast<long double>(actual);
        // A chunk short by less than a frame still counts as cut short.
        value = scaled >= 1.8e19L ? std::numeric_limits<std::uint64_t>::max()
                                  : std::max(frames + 1, static_cast<std::uint64_t>(scaled));
      }
      announced = std::max(announced, value);
    }
  }
  return announced > frames ? announced : 0;
}

bool header_may_shorten(int format) noexcept {
  switch (format & SF_FORMAT_TYPEMASK) {
    case SF_FORMAT_WAV:
    case SF_FORMAT_WAVEX:
    case SF_FORMAT_RF64:
    case SF_FORMAT_W64:
    case SF_FORMAT_AIFF:
      return true;
    default:
      return false;
  }
}

void deinterleave(const float* in, std::uint64_t frames, std::uint32_t channels, PcmBuffer& pcm,
                  std::uint64_t at) noexcept {
  if (channels == 1) {
    std::copy_n(in, frames, pcm.channel(0) + at);
    return;
  }
  for (std::uint32_t c = 0; c < channels; ++c) {
    float* out = pcm.channel(c) + at;
    const float* src = in + c;
    for (std::uint64_t i = 0; i < frames; ++i)
      out[i] = src[i * channels];
  }
}

LoadResult decode(const LoadRequest& request, MemoryBudget& budget, const std::stop_token& stop,
                  const WarnFn& warn) {
  const std::string& path = request.path;
  if (stop.stop_requested()) return cancelled(path);

  // Non-blocking open: a FIFO without a writer would block open() (and sf_open) forever.
  FileDescriptor fd;
  fd.fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd.fd < 0) {
    const int error = errno;
    return failure(open_error_code(error),
                   "cannot open " + in_quotes(path) + ": " + std::strerror(error));
  }
  struct stat st{};
  if (::fstat(fd.fd, &st) != 0) {
    const int error = errno;
    return failure(LoadErrorCode::decode_failed,
                   "cannot stat " + in_quotes(path) + ": " + std::strerror(error));
  }
  if (!S_ISREG(st.st_mode)) {
    return failure(LoadErrorCode::unsupported_format,
                   in_quotes(path) + " is " + file_type(st.st_mode) + ", not an audio file");
  }
  const int flags = ::fcntl(fd.fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd.fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    const int error = errno;
    return failure(LoadErrorCode::decode_failed,
                   "cannot read " + in_quotes(path) + ": " + std::strerror(error));
  }

  SndFile sf;
  SF_INFO info{};
  {
    std::lock_guard lock(sf_open_mutex);
    sf.file = sf_open_fd(fd.fd, SFM_READ, &info, SF_FALSE);
    if (sf.file == nullptr) {
      return failure(LoadErrorCode::unsupported_format,
                     "cannot open " + in_quotes(path) + " as audio: " + sf_strerror(nullptr));
    }
  }

  if (info.channels < 1) {
    return failure(LoadErrorCode::unsupported_format, in_quotes(path) + " has no channels");
  }
  const auto channels = static_cast<std::uint32_t>(info.channels);
  if (channels > request.max_channels) {
    return failure(LoadErrorCode::unsupported_format,
                   in_quotes(path) + " has " + std::to_string(channels) + " channels; at most " +
                       std::to_string(request.max_channels) + " are supported");
  }
  if (info.samplerate < 1) {
    return failure(LoadErrorCode::unsupported_format, in_quotes(path) + " has no sample rate");
  }
  std::vector<float> scratch(static_cast<std::size_t>(block_frames) * channels);
  if ((info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_MPEG) {
    // libsndfile's MPEG length is an estimate (a Xing/LAME header when there is one, otherwise
    // bitrate x size), off by up to a fifth for VBR files without a header. The size must be
    // exact before reserving, so count the frames by decoding once, then start again.
    std::uint64_t counted = 0;
    for (;;) {
      if (stop.stop_requested()) return cancelled(path);
      const sf_count_t got = sf_readf_float(sf.file, scratch.data(), block_frames);
      if (got <= 0) break;
      counted += static_cast<std::uint64_t>(got);
    }
    if (sf_error(sf.file) != SF_ERR_NO_ERROR) {
      return failure(LoadErrorCode::decode_failed, "cannot decode " + in_quotes(path) +
                                                       " after frame " + std::to_string(counted) +
                                                       ": " + sf_strerror(sf.file));
    }
    sf_close(std::exchange(sf.file, nullptr));
    std::lock_guard lock(sf_open_mutex);
    if (::lseek(fd.fd, 0, SEEK_SET) != 0 ||
        (sf.file = sf_open_fd(fd.fd, SFM_READ, &info, SF_FALSE)) == nullptr) {
      return failure(LoadErrorCode::decode_failed,
                     "cannot reopen " + in_quotes(path) + ": " + sf_strerror(nullptr));
    }
    info.frames = static_cast<sf_count_t>(counted);
  }
  if (info.frames == SF_COUNT_MAX || info.frames < 0) {
    return failure(LoadErrorCode::decode_failed,
                   in_quotes(path) +
                       ": the length of its stream cannot be read (truncated or "
                       "corrupt)");
  }
  if (info.frames == 0) {
    return failure(LoadErrorCode::unsupported_format, in_quotes(path) + " has no audio frames");
  }
  const auto source_rate = static_cast<std::uint32_t>(info.samplerate);
  const std::uint32_t rate = request.target_rate == 0 ? source_rate : request.target_rate;
  const auto frames = static_cast<std::uint64_t>(info.frames);
  const std::uint64_t out_frames =
      std::max<std::uint64_t>(1, resampled_length(frames, source_rate, rate));

  if (header_may_shorten(info.format)) {
    if (const std::uint64_t announced = announced_frames(sf.file, frames); announced != 0) {
      const auto announced_bytes =
          PcmBuffer::bytes_for(resampled_length(announced, source_rate, rate), channels);
      if (!announced_bytes || *announced_bytes > budget.limit()) {
        return failure(LoadErrorCode::memory_budget,
                       in_quotes(path) + ": its header announces " + std::to_string(announced) +
                           " frames, more than the memory budget of " +
                           std::to_string(budget.limit()) + " bytes can hold");
      }
      return failure(LoadErrorCode::decode_failed,
                     in_quotes(path) + " is truncated: its header announces " +
                         std::to_string(announced) + " frames, the file holds " +
                         std::to_string(frames));
    }
  }

  const auto bytes = PcmBuffer::bytes_for(out_frames, channels);
  if (!bytes) {
    return failure(LoadErrorCode::memory_budget, in_quotes(path) + ": its header announces " +
                                                     std::to_string(frames) +
                                                     " frames, more than memory can address");
  }
  auto reservation = budget.reserve(*bytes);
  if (!reservation) {
    return failure(LoadErrorCode::memory_budget,
                   in_quotes(path) + " needs " + std::to_string(*bytes) +
                       " bytes decoded; the memory budget has " +
                       std::to_string(budget.limit() - std::min(budget.used(), budget.limit())) +
                       " of " + std::to_string(budget.limit()) + " bytes left");
  }
  if (stop.stop_requested()) return cancelled(path);
  auto pcm = PcmBuffer::allocate(out_frames, channels, warn);
  if (!pcm) {
    const int error = errno;
    return failure(LoadErrorCode::memory_budget, "cannot map " + std::to_string(*bytes) +
                                                     " bytes for " + in_quotes(path) + ": " +
                                                     std::strerror(error));
  }

  Resampler resampler;
  if (rate != source_rate) {
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_S);
    const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
    // One thread per resampler: parallelism comes from loading several clips at once.
    const soxr_runtime_spec_t runtime = soxr_runtime_spec(1);
    soxr_error_t error = nullptr;
    resampler.soxr = soxr_create(source_rate, rate, channels, &error, &io, &quality, &runtime);
    if (resampler.soxr == nullptr || error != nullptr) {
      return failure(LoadErrorCode::decode_failed,
                     "cannot resample " + in_quotes(path) + ": " + (error ? error : "soxr failed"));
    }
  }

  std::vector<float*> outputs(channels);
  std::uint64_t in_done = 0;
  std::uint64_t out_done = 0;
  // Runs soxr over `frames` interleaved input frames (none: flush) into the clip at out_done.
  auto resample = [&](const float* in, std::size_t count) -> soxr_error_t {
    do {
      const std::size_t room = out_frames - out_done;
      for (std::uint32_t c = 0; c < channels; ++c)
        outputs[c] = pcm->channel(c) + out_done;
      std::size_t consumed = 0;
      std::size_t produced = 0;
      const soxr_error_t error =
          soxr_process(resampler.soxr, in, count, &consumed, outputs.data(), room, &produced);
      if (error != nullptr) return error;
      out_done += produced;
      if (in == nullptr) {
        if (produced == 0) return nullptr;
        continue;
      }
      if (consumed == 0 && produced == 0) return nullptr;  // full: the rest is past the end
      in += consumed * channels;
      count -= consumed;
    } while ((in == nullptr || count > 0) && out_done < out_frames);
    return nullptr;
  };

  while (in_done < frames) {
    if (stop.stop_requested()) return cancelled(path);
    const auto want = static_cast<sf_count_t>(
        std::min<std::uint64_t>(static_cast<std::uint64_t>(block_frames), frames - in_done));
    const sf_count_t got = sf_readf_float(sf.file, scratch.data(), want);
    if (got <= 0) {
      const int error = sf_error(sf.file);
      if (error != SF_ERR_NO_ERROR) {
        return failure(LoadErrorCode::decode_failed, "cannot decode " + in_quotes(path) +
                                                         " after frame " + std::to_string(in_done) +
                                                         ": " + sf_strerror(sf.file));
      }
      return failure(LoadErrorCode::decode_failed,
                     in_quotes(path) + " is truncated or corrupt: its stream ends after " +
                         std::to_string(in_done) + " of the " + std::to_string(frames) +
                         " frames its header announces");
    }
    const auto count = static_cast<std::uint64_t>(got);
    if (resampler.soxr == nullptr) {
      deinterleave(scratch.data(), count, channels, *pcm, in_done);
    } else if (const soxr_error_t error = resample(scratch.data(), count); error != nullptr) {
      return failure(LoadErrorCode::decode_failed,
                     "cannot resample " + in_quotes(path) + ": " + error);
    }
    in_done += count;
  }
  if (resampler.soxr != nullptr && out_done < out_frames) {
    if (const soxr_error_t error = resample(nullptr, 0); error != nullptr) {
      return failure(LoadErrorCode::decode_failed,
                     "cannot resample " + in_quotes(path) + ": " + error);
    }
    // Whatever soxr left short of the rounded length stays zero (the mapping is zero-filled).
  }

  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  LoadRequest kept = request;
  if (!ec) kept.path = absolute.lexically_normal().string();

  ClipInfo clip_info;
  clip_info.path = kept.path;
  clip_info.frames = out_frames;
  clip_info.channels = channels;
  clip_info.sample_rate = rate;
  clip_info.source_sample_rate = source_rate;
  clip_info.duration_s = static_cast<double>(out_frames) / static_cast<double>(rate);
  clip_info.bytes = pcm->bytes();
  clip_info.locked = pcm->locked();

  LoadResult result;
  result.clip = std::make_unique<LoadedClip>(std::move(*reservation), std::move(*pcm),
                                             std::move(clip_info), std::move(kept));
  return result;
}

}  // namespace

std::uint64_t resampled_length(std::uint64_t frames, std::uint32_t in_rate,
                               std::uint32_t out_rate) noexcept {
  if (in_rate == out_rate || in_rate == 0) return frames;
  // frames * out_rate / in_rate rounded half up, without a 128-bit product.
  constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t whole = frames / in_rate;
  const std::uint64_t rest = frames % in_rate;  // rest * out_rate < 2^64
  if (whole > (max - out_rate) / out_rate) return max;
  return whole * out_rate + (rest * out_rate + in_rate / 2) / in_rate;
}

LoadResult decode_clip(const LoadRequest& request, MemoryBudget& budget, std::stop_token stop,
                       const WarnFn& warn) {
  try {
    return decode(request, budget, stop, warn);
  } catch (const std::bad_alloc&) {
    return failure(LoadErrorCode::memory_budget,
                   "out of memory while loading " + in_quotes(request.path));
  } catch (const std::exception& e) {
    return failure(LoadErrorCode::decode_failed,
                   "cannot load " + in_quotes(request.path) + ": " + e.what());
  }
}

}  // namespace clipd::clips
