#include "clips/stream_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <mutex>

#include "clips/sndfile_open.hpp"

namespace clipd::clips {

namespace {

// Input frames per read: a few milliseconds of work, so a ring is topped up in small steps.
constexpr std::uint64_t kBlock = 4096;

}  // namespace

bool still_there(const StreamFile& file, std::string& why) {
  struct stat st {};
  if (::stat(file.path.c_str(), &st) != 0) {
    why = "'" + file.path + "' is gone: " + std::strerror(errno);
    return false;
  }
  const std::int64_t mtime = std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  if (static_cast<std::uint64_t>(st.st_dev) != file.device ||
      static_cast<std::uint64_t>(st.st_ino) != file.inode) {
    why = "'" + file.path + "' was replaced since it was loaded";
    return false;
  }
  if (static_cast<std::uint64_t>(st.st_size) != file.size || mtime != file.mtime_ns) {
    why = "'" + file.path + "' changed since it was loaded (now " + std::to_string(st.st_size) +
          " bytes, was " + std::to_string(file.size) + ")";
    return false;
  }
  return true;
}

std::unique_ptr<StreamReader> StreamReader::open(std::shared_ptr<const StreamFile> file,
                                                 std::string& error) {
  std::unique_ptr<StreamReader> r(new StreamReader);
  r->file_ = std::move(file);
  const StreamFile& f = *r->file_;
  const int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    error = "cannot open '" + f.path + "': " + std::strerror(errno);
    return nullptr;
  }
  struct stat st {};
  const bool same = ::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_dev) == f.device &&
                    static_cast<std::uint64_t>(st.st_ino) == f.inode &&
                    static_cast<std::uint64_t>(st.st_size) == f.size;
  const int flags = ::fcntl(fd, F_GETFL);
  if (!same || flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    ::close(fd);
    error = "'" + f.path + "' is not the file that was loaded any more";
    return nullptr;
  }
  SF_INFO info{};
  {
    std::lock_guard lock(sndfile_open_mutex());
    r->sf_ = sf_open_fd(fd, SFM_READ, &info, SF_TRUE);
    if (r->sf_ == nullptr) {
      ::close(fd);
      error = "cannot open '" + f.path + "' as audio: " + sf_strerror(nullptr);
      return nullptr;
    }
  }
  if (static_cast<std::uint32_t>(info.channels) != f.channels ||
      static_cast<std::uint32_t>(info.samplerate) != f.source_rate) {
    error = "'" + f.path + "' is not the file that was loaded any more";
    return nullptr;
  }
  if (f.rate != f.source_rate) {
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_S);
    // The whole-file decode's quality (clips/decode.cpp), so both give the same samples.
    const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
    const soxr_runtime_spec_t runtime = soxr_runtime_spec(1);
    soxr_error_t e = nullptr;
    r->soxr_ = soxr_create(f.source_rate, f.rate, f.channels, &e, &io, &quality, &runtime);
    if (r->soxr_ == nullptr || e != nullptr) {
      error = "cannot resample '" + f.path + "': " + (e != nullptr ? e : "soxr failed");
      return nullptr;
    }
  }
  r->in_.resize(kBlock * f.channels);
  r->drop_.resize(kBlock * f.channels);
  return r;
}

StreamReader::~StreamReader() {
  if (soxr_ != nullptr) soxr_delete(soxr_);
  if (sf_ != nullptr) sf_close(sf_);
}

bool StreamReader::seek(std::uint64_t pos) {
  const StreamFile& f = *file_;
  pos = std::min(pos, f.frames);
  std::uint64_t in_start = pos;
  std::uint64_t out_start = pos;
  if (soxr_ != nullptr) {
    // A whole second of input at least one second before the frame: the filter's history is
    // then the whole-file run's.
    const std::uint64_t seconds = pos / f.rate;
    const std::uint64_t start_s = seconds >= 1 ? seconds - 1 : 0;
    in_start = start_s * f.source_rate;
    out_start = start_s * f.rate;
    soxr_clear(soxr_);
  }
  if (sf_seek(sf_, static_cast<sf_count_t>(in_start), SEEK_SET) < 0) {
    error_ = "cannot seek in '" + f.path + "': " + sf_strerror(sf_);
    return false;
  }
  in_pos_ = in_start;
  in_have_ = in_offset_ = 0;
  flushing_ = false;
  out_pos_ = out_start;
  return produce(nullptr, pos - out_start);
}

bool StreamReader::read(float* const* out, std::uint64_t n) {
  return produce(out, n);
}

bool StreamReader::fill_input() {
  const StreamFile& f = *file_;
  const std::uint64_t want = std::min(kBlock, f.source_frames - in_pos_);
  const sf_count_t got = sf_readf_float(sf_, in_.data(), static_cast<sf_count_t>(want));
  if (got <= 0 || static_cast<std::uint64_t>(got) < want) {
    error_ = "'" + f.path + "' ended at frame " +
             std::to_string(in_pos_ + static_cast<std::uint64_t>(std::max<sf_count_t>(got, 0))) +
             " of " + std::to_string(f.source_frames) + " (truncated?)";
    if (sf_error(sf_) != SF_ERR_NO_ERROR) error_ += std::string(": ") + sf_strerror(sf_);
    return false;
  }
  for (std::uint64_t i = 0; i < want * f.channels; ++i) {
    if (!std::isfinite(in_[i])) in_[i] = 0.0f;
  }
  in_pos_ += want;
  in_have_ = want;
  in_offset_ = 0;
  return true;
}

bool StreamReader::produce(float* const* out, std::uint64_t n) {
  const StreamFile& f = *file_;
  const std::uint32_t channels = f.channels;
  float* outs[64];
  std::uint64_t done = 0;
  while (done < n) {
    if (!flushing_ && in_have_ == 0) {
      if (in_pos_ >= f.source_frames) {
        flushing_ = true;
      } else if (!fill_input()) {
        return false;
      }
    }
    const std::uint64_t room = out != nullptr ? n - done : std::min(n - done, kBlock);
    for (std::uint32_t c = 0; c < channels; ++c)
      outs[c] = out != nullptr ? out[c] + done : drop_.data() + c * kBlock;
    if (soxr_ == nullptr) {
      if (flushing_) {
        error_ = "'" + f.path + "' has no frame " + std::to_string(out_pos_);
        return false;
      }
      const std::uint64_t k = std::min(room, in_have_);
      const float* in = in_.data() + in_offset_ * channels;
      for (std::uint32_t c = 0; c < channels; ++c) {
        for (std::uint64_t i = 0; i < k; ++i)
          outs[c][i] = in[i * channels + c];
      }
      in_offset_ += k;
      in_have_ -= k;
      done += k;
      out_pos_ += k;
      continue;
    }
    std::size_t consumed = 0;
    std::size_t produced = 0;
    const soxr_error_t e =
        soxr_process(soxr_, flushing_ ? nullptr : in_.data() + in_offset_ * channels,
                     flushing_ ? 0 : in_have_, &consumed, outs, room, &produced);
    if (e != nullptr) {
      error_ = "cannot resample '" + f.path + "': " + e;
      return false;
    }
    in_offset_ += consumed;
    in_have_ -= consumed;
    done += produced;
    out_pos_ += produced;
    if (flushing_ && produced == 0) {
      // The whole-file decode leaves whatever soxr gives short of the rounded length as zeros.
      for (std::uint32_t c = 0; c < channels; ++c) {
        if (out != nullptr) std::fill_n(out[c] + done, n - done, 0.0f);
      }
      out_pos_ += n - done;
      done = n;
    }
  }
  return true;
}

}  // namespace clipd::clips
