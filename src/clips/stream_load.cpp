#include "clips/stream_load.hpp"

#include <fcntl.h>
#include <sndfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "clips/decode.hpp"
#include "clips/sndfile_open.hpp"
#include "clips/stream_reader.hpp"

namespace clipd::clips {

namespace {

LoadResult failure(LoadErrorCode code, std::string message) {
  LoadResult result;
  result.error = LoadError{code, std::move(message)};
  return result;
}

}  // namespace

std::optional<LoadResult> load_streamed(const LoadRequest& request, MemoryBudget& budget,
                                        const std::stop_token& stop, const WarnFn& warn) {
  if (request.stream == StreamMode::never) return std::nullopt;
  const std::string quoted = "'" + request.path + "'";
  if (stop.stop_requested())
    return failure(LoadErrorCode::cancelled, "loading " + quoted + " was cancelled");
  // The whole decode's checks and messages for files that cannot open: let it give them.
  const int fd = ::open(request.path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return std::nullopt;
  }
  SF_INFO info{};
  SNDFILE* sf = nullptr;
  {
    std::lock_guard lock(sndfile_open_mutex());
    sf = sf_open_fd(fd, SFM_READ, &info, SF_TRUE);
  }
  if (sf == nullptr) {
    ::close(fd);
    return std::nullopt;
  }
  sf_close(sf);
  if (info.channels < 1 || static_cast<std::uint32_t>(info.channels) > request.max_channels ||
      info.samplerate < 1 || info.frames < 0) {
    return std::nullopt;
  }
  const bool known = info.frames > 0 && info.frames != SF_COUNT_MAX;
  const auto channels = static_cast<std::uint32_t>(info.channels);
  const auto source_rate = static_cast<std::uint32_t>(info.samplerate);
  const std::uint32_t rate = request.target_rate == 0 ? source_rate : request.target_rate;
  const std::uint64_t frames =
      known ? resampled_length(static_cast<std::uint64_t>(info.frames), source_rate, rate) : 0;
  if (request.stream == StreamMode::automatic) {
    const auto bytes = PcmBuffer::bytes_for(frames, channels);
    if (!known || (bytes && *bytes <= request.stream_threshold)) return std::nullopt;
  } else if (!known) {
    return failure(LoadErrorCode::unsupported_format,
                   quoted + " does not state its length" +
                       (length_is_a_claim(info.format) ? " (a compressed stream)" : "") +
                       ", so it cannot stream; load it with stream false");
  }

  auto file = std::make_shared<StreamFile>();
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(request.path, ec);
  file->path = ec ? request.path : absolute.lexically_normal().string();
  file->device = static_cast<std::uint64_t>(st.st_dev);
  file->inode = static_cast<std::uint64_t>(st.st_ino);
  file->size = static_cast<std::uint64_t>(st.st_size);
  file->mtime_ns = std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  file->channels = channels;
  file->source_rate = source_rate;
  file->rate = rate;
  file->source_frames = static_cast<std::uint64_t>(info.frames);
  file->frames = frames;

  const double wanted = std::ceil(std::max(request.head_s, 0.0) * rate);
  const std::uint64_t head = std::clamp<std::uint64_t>(
      wanted >= static_cast<double>(frames) ? frames : static_cast<std::uint64_t>(wanted), 1,
      frames);
  const auto bytes = PcmBuffer::bytes_for(head, channels);
  std::optional<BudgetReservation> reservation;
  if (bytes) reservation = budget.reserve(*bytes);
  if (!reservation) {
    return failure(LoadErrorCode::memory_budget,
                   quoted + "'s head needs " + std::to_string(bytes.value_or(0)) +
                       " bytes; the memory budget has " +
                       std::to_string(budget.limit() - std::min(budget.used(), budget.limit())) +
                       " of " + std::to_string(budget.limit()) + " bytes left");
  }
  auto pcm = PcmBuffer::allocate(head, channels, warn);
  if (!pcm) {
    return failure(LoadErrorCode::memory_budget,
                   "cannot map " + std::to_string(*bytes) + " bytes for " + quoted);
  }
  std::string error;
  auto reader = StreamReader::open(file, error);
  if (reader == nullptr) return failure(LoadErrorCode::decode_failed, error);
  std::vector<float*> out(channels);
  for (std::uint32_t c = 0; c < channels; ++c)
    out[c] = pcm->channel(c);
  if (!reader->seek(0) || !reader->read(out.data(), head)) {
    return failure(LoadErrorCode::decode_failed, reader->error());
  }
  if (stop.stop_requested())
    return failure(LoadErrorCode::cancelled, "loading " + quoted + " was cancelled");

  LoadRequest kept = request;
  kept.path = file->path;
  ClipInfo clip_info;
  clip_info.path = file->path;
  clip_info.frames = frames;
  clip_info.channels = channels;
  clip_info.sample_rate = rate;
  clip_info.source_sample_rate = source_rate;
  clip_info.duration_s = static_cast<double>(frames) / static_cast<double>(rate);
  clip_info.bytes = pcm->bytes();
  clip_info.locked = pcm->locked();
  clip_info.streamed = true;
  clip_info.head_frames = head;
  LoadResult result;
  result.clip =
      std::make_unique<LoadedClip>(std::move(*reservation), std::move(*pcm), std::move(clip_info),
                                   std::move(kept), std::move(file));
  return result;
}

}  // namespace clipd::clips
