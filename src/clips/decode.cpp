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
#include <cmath>
#include <cstring>
#include <exception>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clips/sndfile_open.hpp"
#include "clips/stream_load.hpp"

namespace clipd::clips {

namespace {

// Input frames per block: large enough that per-call overhead vanishes, small enough that the
// interleaved scratch (at most 8 channels: 512 KiB) stays far below any clip worth loading.
constexpr sf_count_t block_frames = 16384;

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

std::string log_of(SNDFILE* file) {
  std::vector<char> log(16384);
  sf_command(file, SFC_GET_LOG_INFO, log.data(), static_cast<int>(log.size()));
  return {log.data(), ::strnlen(log.data(), log.size())};
}

// The frame count an AIFF COMM or RF64 ds64 chunk announces ("Frames : N" in libsndfile's
// log); 0 when there is none or it says 0 (unknown). libsndfile takes the count from the data
// chunk's length alone, so a header announcing fewer frames than the chunk holds would otherwise
// play past the end the header gives.
std::uint64_t header_frames(const std::string& log) {
  std::uint64_t smallest = 0;
  std::size_t start = 0;
  while (start < log.size()) {
    std::size_t end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    std::string_view line = std::string_view(log).substr(start, end - start);
    start = end + 1;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
      line.remove_prefix(1);
    if (!line.starts_with("Frames")) continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    if (line.substr(0, colon).find_first_not_of(' ', 6) != std::string_view::npos) continue;
    std::uint64_t value = 0;
    if (!parse_count(line.substr(colon + 1), value) || value == 0) continue;
    smallest = smallest == 0 ? value : std::min(smallest, value);
  }
  return smallest;
}

// What libsndfile's decoders note in the log when a stream is corrupt rather than merely cut
// short. A cut FLAC ends with one lost sync (its last frame is partial), a cut Ogg stream without
// its end-of-stream flag: that is how a crashed recorder leaves them, and they load what they
// hold. Garbage makes libFLAC report unparseable data, bad headers or checksums, lose its sync
// more than once or abort, and libsndfile's Ogg reader skip bytes looking for a page.
bool log_reports_corruption(const std::string& log) {
  for (const char* sign : {"ERROR_STATUS_UNPARSEABLE_STREAM", "ERROR_STATUS_BAD_HEADER",
                           "ERROR_STATUS_FRAME_CRC_MISMATCH", "DECODER_ABORTED",
                           "process_single returned false", "Corrupted bitstream"}) {
    if (log.find(sign) != std::string::npos) return true;
  }
  const std::size_t lost = log.find("ERROR_STATUS_LOST_SYNC");
  return lost != std::string::npos &&
         log.find("ERROR_STATUS_LOST_SYNC", lost + 1) != std::string::npos;
}

// Bytes per sample of the subformats libsndfile can read headerless (SF_FORMAT_RAW); 0 for the
// others (block-coded ones such as ADPCM or GSM).
unsigned raw_sample_bytes(int format) noexcept {
  switch (format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_S8:
    case SF_FORMAT_PCM_U8:
    case SF_FORMAT_ULAW:
    case SF_FORMAT_ALAW:
      return 1;
    case SF_FORMAT_PCM_16:
      return 2;
    case SF_FORMAT_PCM_24:
      return 3;
    case SF_FORMAT_PCM_32:
    case SF_FORMAT_FLOAT:
      return 4;
    case SF_FORMAT_DOUBLE:
      return 8;
    default:
      return 0;
  }
}

std::uint32_t le32(const unsigned char* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

// The offset of a RIFF WAVE file's audio when its data chunk announces 0 bytes: what a writer
// leaves when it never came back to fill in the size (a recorder that crashed, or one writing
// to a pipe). libsndfile reads such a file as empty unless its RIFF size is 8. 0 when the file
// is not like that.
std::uint64_t unsized_wav_data_offset(int fd, std::uint64_t size) {
  unsigned char head[12];
  if (::pread(fd, head, sizeof head, 0) != static_cast<ssize_t>(sizeof head) ||
      std::memcmp(head, "RIFF", 4) != 0 || std::memcmp(head + 8, "WAVE", 4) != 0) {
    return 0;
  }
  std::uint64_t at = 12;
  // A bounded walk: a file of endless tiny chunks is not worth reading through.
  for (int chunks = 0; chunks < 256 && at + 8 <= size; ++chunks) {
    unsigned char chunk[8];
    if (::pread(fd, chunk, sizeof chunk, static_cast<off_t>(at)) !=
        static_cast<ssize_t>(sizeof chunk)) {
      return 0;
    }
    const std::uint32_t length = le32(chunk + 4);
    if (std::memcmp(chunk, "data", 4) == 0) return length == 0 && at + 8 < size ? at + 8 : 0;
    at += 8 + std::uint64_t{length} + (length & 1U);
  }
  return 0;
}

// Replaces NaN and the infinities by 0 (a float file can hold them; played, they would poison
// every mix they reach). Returns how many it replaced.
std::uint64_t replace_non_finite(float* samples, std::size_t count) noexcept {
  std::uint64_t replaced = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (!std::isfinite(samples[i])) {
      samples[i] = 0.0F;
      ++replaced;
    }
  }
  return replaced;
}

// The most frames of `channels` channels whose buffer fits in `bytes` (PcmBuffer::bytes_for).
std::uint64_t frames_fitting(std::size_t bytes, std::uint32_t channels) noexcept {
  static const std::size_t page = [] {
    const long p = ::sysconf(_SC_PAGESIZE);
    return p > 0 ? static_cast<std::size_t>(p) : std::size_t{4096};
  }();
  const std::size_t whole_pages = bytes / page * page;
  return whole_pages / sizeof(float) / channels / 16 * 16;
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
  struct stat st {};
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
  const auto file_size = static_cast<std::uint64_t>(st.st_size);

  SndFile sf;
  SF_INFO info{};
  {
    std::lock_guard lock(sndfile_open_mutex());
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

  // How many input frames to read at most (`limit`), and the first guess of the length
  // (`estimate`). Uncompressed data: libsndfile derives the count from the bytes the file really
  // holds (a data chunk announcing more, up to 4 GiB, is cut to what is there), so that count is
  // exact and is reserved at once. Compressed streams: the header's count is a claim (absent
  // from an Ogg stream cut short, 0 in a FLAC written by a streaming encoder, wrong in a cut or
  // lying one, estimated for MPEG), so the stream is decoded to its end and the buffer grows.
  constexpr auto unlimited = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t limit = unlimited;
  std::uint64_t estimate = 0;
  bool exact = false;
  const bool claimed =
      length_is_a_claim(info.format) || info.frames < 0 || info.frames == SF_COUNT_MAX;
  if (!claimed) {
    limit = static_cast<std::uint64_t>(info.frames);
    const std::uint32_t container = info.format & SF_FORMAT_TYPEMASK;
    const unsigned sample_bytes = raw_sample_bytes(info.format);
    if ((container == SF_FORMAT_AIFF || container == SF_FORMAT_RF64) && sample_bytes != 0) {
      // Never more than the header's own frame count, when it gives one (for sample formats
      // only: a block-coded AIFC such as ima4 counts packets there).
      if (const std::uint64_t announced = header_frames(log_of(sf.file));
          announced != 0 && announced < limit) {
        limit = announced;
      }
    }
    if (limit == 0 && (container == SF_FORMAT_WAV || container == SF_FORMAT_WAVEX) &&
        sample_bytes != 0) {
      // A data chunk of size 0: everything after its header is the audio.
      if (const std::uint64_t offset = unsized_wav_data_offset(fd.fd, file_size); offset != 0) {
        SF_INFO raw{};
        raw.samplerate = info.samplerate;
        raw.channels = info.channels;
        raw.format = SF_FORMAT_RAW | (info.format & SF_FORMAT_SUBMASK) | SF_ENDIAN_LITTLE;
        sf_close(std::exchange(sf.file, nullptr));
        std::lock_guard lock(sndfile_open_mutex());
        auto start = static_cast<sf_count_t>(offset);
        if (::lseek(fd.fd, 0, SEEK_SET) != 0 ||
            (sf.file = sf_open_fd(fd.fd, SFM_READ, &raw, SF_FALSE)) == nullptr ||
            sf_command(sf.file, SFC_SET_RAW_START_OFFSET, &start, sizeof start) != 0 ||
            // The float and double readers keep their old position until told again.
            sf_seek(sf.file, 0, SEEK_SET) != 0) {
          return failure(
              LoadErrorCode::decode_failed,
              "cannot read the audio of " + in_quotes(path) + ": " + sf_strerror(sf.file));
        }
        limit = (file_size - offset) / (std::uint64_t{sample_bytes} * channels);
      }
    }
    estimate = limit;
    exact = true;
  } else {
    // A guess to start from; a wrong one costs a few growth steps, not a failure. Lossy streams
    // at their lowest rates hold about 60 frames per byte, so a claim beyond 32 per byte is not
    // believed up front (a FLAC announcing terabytes over a few kilobytes).
    const std::uint64_t plausible =
        std::max<std::uint64_t>(block_frames, file_size / channels * 32);
    if (info.frames > 0 && info.frames != SF_COUNT_MAX) {
      estimate = std::min(static_cast<std::uint64_t>(info.frames), plausible);
    } else {
      estimate =
          std::clamp<std::uint64_t>(file_size / channels * 4, block_frames, std::uint64_t{1} << 24);
    }
  }
  if (limit == 0) {
    return failure(LoadErrorCode::unsupported_format, in_quotes(path) + " has no audio frames");
  }

  const auto source_rate = static_cast<std::uint32_t>(info.samplerate);
  const std::uint32_t rate = request.target_rate == 0 ? source_rate : request.target_rate;
  const std::uint64_t first_frames =
      std::max<std::uint64_t>(1, resampled_length(estimate, source_rate, rate));

  auto budget_left = [&budget] { return budget.limit() - std::min(budget.used(), budget.limit()); };
  auto over_budget = [&](std::string what) {
    return failure(LoadErrorCode::memory_budget,
                   in_quotes(path) + " " + what + "; the memory budget has " +
                       std::to_string(budget_left()) + " of " + std::to_string(budget.limit()) +
                       " bytes left");
  };

  // The buffer and its reservation; reservation.bytes() == pcm->bytes() from here on.
  std::optional<BudgetReservation> reservation;
  std::uint64_t capacity = first_frames;
  {
    const auto bytes = PcmBuffer::bytes_for(first_frames, channels);
    if (!bytes) {
      return failure(LoadErrorCode::memory_budget, in_quotes(path) + ": its header announces " +
                                                       std::to_string(estimate) +
                                                       " frames, more than memory can address");
    }
    reservation = budget.reserve(*bytes);
    if (!reservation && !exact) {
      // Start with what is left; the stream may well be shorter than its claim.
      capacity = frames_fitting(budget_left(), channels);
      if (capacity > 0) reservation = budget.reserve(*PcmBuffer::bytes_for(capacity, channels));
    }
    if (!reservation) {
      return over_budget(exact ? "needs " + std::to_string(*bytes) + " bytes decoded"
                               : std::string("has audio, and not one page of it fits"));
    }
  }
  if (stop.stop_requested()) return cancelled(path);
  auto pcm = PcmBuffer::allocate(capacity, channels, warn);
  if (!pcm) {
    const int error = errno;
    return failure(LoadErrorCode::memory_budget,
                   "cannot map " + std::to_string(reservation->bytes()) + " bytes for " +
                       in_quotes(path) + ": " + std::strerror(error));
  }

  // Makes room for at least `needed` frames: doubling, or as much as the budget still allows
  // when doubling does not fit. False when not even `needed` fits (or cannot be mapped).
  std::optional<LoadResult> growth_failure;
  auto grow = [&](std::uint64_t needed) -> bool {
    std::uint64_t target = std::max(needed, capacity > unlimited / 2 ? unlimited : capacity * 2);
    auto bytes = PcmBuffer::bytes_for(target, channels);
    if (!bytes || !reservation->resize(*bytes)) {
      target = frames_fitting(reservation->bytes() + budget_left(), channels);
      bytes = PcmBuffer::bytes_for(target, channels);
      if (target < needed || !bytes || !reservation->resize(*bytes)) {
        growth_failure =
            over_budget("holds more than " + std::to_string(capacity) + " frames, which need " +
                        std::to_string(pcm->bytes()) + " bytes decoded");
        return false;
      }
    }
    if (!pcm->resize(target, warn)) {
      const int error = errno;
      reservation->resize(pcm->bytes());
      growth_failure = failure(LoadErrorCode::memory_budget,
                               "cannot map " + std::to_string(*bytes) + " bytes for " +
                                   in_quotes(path) + ": " + std::strerror(error));
      return false;
    }
    capacity = target;
    return true;
  };

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

  std::vector<float> scratch(static_cast<std::size_t>(block_frames) * channels);
  std::vector<float*> outputs(channels);
  std::uint64_t in_done = 0;
  std::uint64_t out_done = 0;
  std::uint64_t non_finite = 0;
  // Runs soxr over `count` interleaved input frames (none: flush, up to `end` frames) into the
  // clip at out_done, growing it when full. False when it cannot grow (growth_failure says why).
  const char* soxr_failure = nullptr;
  auto resample = [&](const float* in, std::size_t count, std::uint64_t end) -> bool {
    do {
      if (out_done == capacity && !grow(out_done + 1)) return false;
      const std::size_t room = std::min(capacity, end) - out_done;
      for (std::uint32_t c = 0; c < channels; ++c)
        outputs[c] = pcm->channel(c) + out_done;
      std::size_t consumed = 0;
      std::size_t produced = 0;
      soxr_failure =
          soxr_process(resampler.soxr, in, count, &consumed, outputs.data(), room, &produced);
      if (soxr_failure != nullptr) return false;
      out_done += produced;
      if (in == nullptr) {
        if (produced == 0) return true;
        continue;
      }
      if (consumed == 0 && produced == 0) return true;
      in += consumed * channels;
      count -= consumed;
    } while ((in == nullptr || count > 0) && out_done < end);
    return true;
  };

  while (in_done < limit) {
    if (stop.stop_requested()) return cancelled(path);
    const auto want = static_cast<sf_count_t>(
        std::min<std::uint64_t>(static_cast<std::uint64_t>(block_frames), limit - in_done));
    const sf_count_t got = sf_readf_float(sf.file, scratch.data(), want);
    if (got <= 0) break;
    const auto count = static_cast<std::uint64_t>(got);
    non_finite += replace_non_finite(scratch.data(), count * channels);
    if (resampler.soxr == nullptr) {
      for (std::uint64_t done = 0; done < count;) {
        if (in_done + done == capacity && !grow(capacity + 1)) return std::move(*growth_failure);
        const std::uint64_t n = std::min(count - done, capacity - (in_done + done));
        deinterleave(scratch.data() + done * channels, n, channels, *pcm, in_done + done);
        done += n;
      }
    } else if (!resample(scratch.data(), count, unlimited)) {
      if (growth_failure) return std::move(*growth_failure);
      return failure(LoadErrorCode::decode_failed,
                     "cannot resample " + in_quotes(path) + ": " + soxr_failure);
    }
    in_done += count;
  }
  if (claimed && log_reports_corruption(log_of(sf.file))) {
    return failure(LoadErrorCode::decode_failed,
                   in_quotes(path) + " is corrupt: its decoder lost its place after frame " +
                       std::to_string(in_done));
  }
  // libFLAC reports the lost sync of a stream cut inside a frame as an error; the stream is
  // merely cut short when that is all that went wrong (log_reports_corruption said no).
  if (const int error = sf_error(sf.file);
      error != SF_ERR_NO_ERROR &&
      !(claimed &&
        std::string_view(sf_error_number(error)).find("lost sync") != std::string_view::npos)) {
    return failure(LoadErrorCode::decode_failed, "cannot decode " + in_quotes(path) +
                                                     " after frame " + std::to_string(in_done) +
                                                     ": " + sf_strerror(sf.file));
  }
  if (in_done == 0) {
    return failure(LoadErrorCode::unsupported_format, in_quotes(path) + " has no audio frames");
  }
  const std::uint64_t out_frames =
      std::max<std::uint64_t>(1, resampled_length(in_done, source_rate, rate));
  if (resampler.soxr != nullptr && out_done < out_frames) {
    if (!resample(nullptr, 0, out_frames)) {
      if (growth_failure) return std::move(*growth_failure);
      return failure(LoadErrorCode::decode_failed,
                     "cannot resample " + in_quotes(path) + ": " + soxr_failure);
    }
    // Whatever soxr left short of the rounded length stays zero (the mapping is zero-filled).
  }
  // The length found: shrink what a generous guess left over (or grow for the zeros soxr may
  // leave short of the rounded length).
  if (out_frames > capacity) {
    if (!grow(out_frames)) return std::move(*growth_failure);
  }
  if (out_frames < capacity) {
    pcm->resize(out_frames, warn);
    reservation->resize(pcm->bytes());
    capacity = out_frames;
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
  clip_info.non_finite_samples = non_finite;

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
    if (auto streamed = load_streamed(request, budget, stop, warn)) return std::move(*streamed);
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
