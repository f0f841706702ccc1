#include "clips/pcm_buffer.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

namespace clipd::clips {

namespace {

constexpr std::uint64_t stride_align = 16;  // floats: 64 bytes, what ClipSamples promises
static_assert(stride_align * sizeof(float) == 64);

std::size_t page_size() noexcept {
  static const std::size_t size = [] {
    const long p = ::sysconf(_SC_PAGESIZE);
    return p > 0 ? static_cast<std::size_t>(p) : std::size_t{4096};
  }();
  return size;
}

// One warning per process: a daemon with a low RLIMIT_MEMLOCK would otherwise log once per clip.
std::atomic<bool> mlock_warned{false};

void warn_mlock_failed(const WarnFn& warn, int error, std::size_t bytes) {
  if (mlock_warned.exchange(true, std::memory_order_acq_rel)) return;
  std::string text = "cannot lock clip memory (mlock of " + std::to_string(bytes) +
                     " bytes: " + std::strerror(error) +
                     "); clips stay loaded but may page-fault on the audio thread. Raise "
                     "RLIMIT_MEMLOCK (LimitMEMLOCK=) or grant CAP_IPC_LOCK.";
  if (warn) {
    warn(text);
  } else {
    text += '\n';
    std::fputs(text.c_str(), stderr);
  }
}

}  // namespace

std::uint64_t PcmBuffer::stride_for(std::uint64_t frames) noexcept {
  if (frames == 0) return stride_align;
  if (frames > std::numeric_limits<std::uint64_t>::max() - stride_align) return 0;
  return (frames + stride_align - 1) / stride_align * stride_align;
}

std::optional<std::size_t> PcmBuffer::bytes_for(std::uint64_t frames,
                                                std::uint32_t channels) noexcept {
  const std::uint64_t stride = stride_for(frames);
  if (stride == 0 || channels == 0) return std::nullopt;
  constexpr std::uint64_t max = std::numeric_limits<std::size_t>::max();
  if (stride > max / sizeof(float) / channels) return std::nullopt;
  const std::uint64_t raw = stride * channels * sizeof(float);
  const std::size_t page = page_size();
  if (raw > max - page) return std::nullopt;
  return static_cast<std::size_t>((raw + page - 1) / page * page);
}

std::optional<PcmBuffer> PcmBuffer::allocate(std::uint64_t frames, std::uint32_t channels,
                                             const WarnFn& warn) {
  const auto bytes = bytes_for(frames, channels);
  if (!bytes) return std::nullopt;
  void* memory =
      ::mmap(nullptr, *bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return std::nullopt;
  // No MADV_HUGEPAGE: compacting or splitting huge pages migrates them and can stall the reader.
  PcmBuffer buffer;
  buffer.data_ = static_cast<float*>(memory);
  buffer.frames_ = frames;
  buffer.channels_ = channels;
  buffer.stride_ = stride_for(frames);
  buffer.bytes_ = *bytes;
  // The system call itself: sanitizer runtimes intercept mlock() as a no-op that reports
  // success, which would hide a failing lock in those builds.
  if (::syscall(SYS_mlock, memory, *bytes) == 0) {
    buffer.locked_ = true;
  } else {
    warn_mlock_failed(warn, errno, *bytes);
  }
  return buffer;
}

bool PcmBuffer::resize(std::uint64_t frames, const WarnFn& warn) {
  if (data_ == nullptr || frames == 0) return false;
  if (frames == frames_) return true;
  const auto bytes = bytes_for(frames, channels_);
  if (!bytes) return false;
  const std::uint64_t old_stride = stride_;
  const std::uint64_t stride = stride_for(frames);
  const std::uint64_t kept = std::min(frames, frames_);

  if (frames < frames_) {
    // Channels move down (channel c from c * old_stride to c * stride, lowest first, so no
    // source is overwritten before it moved), then the mapping shrinks in place.
    for (std::uint32_t c = 0; c < channels_; ++c) {
      float* to = data_ + c * stride;
      if (c > 0) std::memmove(to, data_ + c * old_stride, kept * sizeof(float));
      std::fill(to + kept, to + stride, 0.0F);
    }
    const std::size_t used = static_cast<std::size_t>(stride * channels_);
    std::fill(data_ + used, data_ + *bytes / sizeof(float), 0.0F);
    if (*bytes != bytes_) {
      void* moved = ::mremap(data_, bytes_, *bytes, 0);
      if (moved == MAP_FAILED) {
        // The layout has already changed; keep it in the larger mapping (still correct).
        frames_ = frames;
        stride_ = stride;
        return true;
      }
      bytes_ = *bytes;
    }
    frames_ = frames;
    stride_ = stride;
    return true;
  }

  if (*bytes != bytes_) {
    void* moved = ::mremap(data_, bytes_, *bytes, MREMAP_MAYMOVE);
    if (moved == MAP_FAILED && errno == EAGAIN && locked_) {
      // A locked mapping may not grow past RLIMIT_MEMLOCK: grow it unlocked and try to lock
      // the whole of it again below.
      ::syscall(SYS_munlock, data_, bytes_);  // not munlock(): see allocate()
      locked_ = false;
      moved = ::mremap(data_, bytes_, *bytes, MREMAP_MAYMOVE);
      // Out of memory after all: the buffer as it was, locked again (it fitted before).
      if (moved == MAP_FAILED && ::syscall(SYS_mlock, data_, bytes_) == 0) locked_ = true;
    }
    if (moved == MAP_FAILED) return false;
    data_ = static_cast<float*>(moved);
    bytes_ = *bytes;
    if (!locked_) {
      if (::syscall(SYS_mlock, data_, bytes_) == 0) {
        locked_ = true;
      } else {
        warn_mlock_failed(warn, errno, bytes_);
      }
    }
  }
  // Channels move up (highest first, so no source is overwritten before it moved); the room
  // each gains reads zero. The added part of the mapping is zero already.
  for (std::uint32_t c = channels_; c-- > 0;) {
    float* to = data_ + c * stride;
    if (c > 0) std::memmove(to, data_ + c * old_stride, old_stride * sizeof(float));
    std::fill(to + old_stride, to + stride, 0.0F);
  }
  frames_ = frames;
  stride_ = stride;
  return true;
}

PcmBuffer::PcmBuffer(PcmBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      frames_(std::exchange(other.frames_, 0)),
      channels_(std::exchange(other.channels_, 0)),
      stride_(std::exchange(other.stride_, 0)),
      bytes_(std::exchange(other.bytes_, 0)),
      locked_(std::exchange(other.locked_, false)) {}

PcmBuffer& PcmBuffer::operator=(PcmBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    frames_ = std::exchange(other.frames_, 0);
    channels_ = std::exchange(other.channels_, 0);
    stride_ = std::exchange(other.stride_, 0);
    bytes_ = std::exchange(other.bytes_, 0);
    locked_ = std::exchange(other.locked_, false);
  }
  return *this;
}

PcmBuffer::~PcmBuffer() {
  release();
}

void PcmBuffer::release() noexcept {
  // munmap also drops the lock; no munlock needed.
  if (data_ != nullptr) ::munmap(data_, bytes_);
  data_ = nullptr;
  frames_ = 0;
  channels_ = 0;
  stride_ = 0;
  bytes_ = 0;
  locked_ = false;
}

}  // namespace clipd::clips
