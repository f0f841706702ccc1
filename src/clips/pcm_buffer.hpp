// The memory that holds one clip's decoded samples: planar float32 at the engine rate, in the
// layout engine::ClipSamples describes (channel c at data + c * stride, stride a multiple of 16
// floats and >= frames).
//
// The memory is its own anonymous mapping (page-aligned, no page shared with anything else, so
// unlocking one clip never unlocks another's page) and is mlock()ed, which also pre-faults it, so
// the audio thread never takes a page fault reading it. When locking fails (RLIMIT_MEMLOCK
// without CAP_IPC_LOCK) the buffer is kept unlocked, locked() reports false, and one warning per
// process goes to the warning sink. A loader that does not know the length in advance grows the
// buffer while decoding and shrinks it to the length found (resize()), all before the engine
// ever sees it.
//
// Thread contract: allocated on a loader worker or the control thread; freed (munmap) on the
// control thread only, after the engine has handed the clip back. The engine only reads
// samples(). Note: allocate() and the destructor make system calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <type_traits>

#include "engine/clip_samples.hpp"

namespace clipd::clips {

// Receives warnings (one line, no newline). An empty function means stderr.
using WarnFn = std::function<void(std::string_view)>;

class PcmBuffer {
 public:
  // Floats per channel: frames rounded up to a multiple of 16 (64 bytes), at least 16.
  static std::uint64_t stride_for(std::uint64_t frames) noexcept;
  // The bytes a buffer of this shape holds (page-rounded); nullopt when it overflows size_t.
  static std::optional<std::size_t> bytes_for(std::uint64_t frames,
                                              std::uint32_t channels) noexcept;

  // Maps and locks a zero-filled buffer; nullopt when the mapping fails (out of memory).
  // Note: allocates (mmap) and locks (mlock) memory.
  static std::optional<PcmBuffer> allocate(std::uint64_t frames, std::uint32_t channels,
                                           const WarnFn& warn = {});

  // Changes the frame count to `frames` (>= 1) in place: each channel keeps its first
  // min(old, new) frames, frames added read zero, and the layout becomes that of a buffer
  // allocated at the new size (stride_for(frames), bytes_for(frames, channels)). The mapping
  // grows and shrinks with mremap (it may move: samples() changes), so the kernel moves pages
  // instead of copying them; moving the channels apart or together costs one memmove pass over
  // the samples. A locked buffer stays locked when RLIMIT_MEMLOCK allows the new size;
  // otherwise it goes on unlocked and warns as allocate() does. False, and nothing changed,
  // when the kernel cannot map the new size. Note: system calls (mremap, mlock), like
  // allocate().
  bool resize(std::uint64_t frames, const WarnFn& warn = {});

  PcmBuffer() noexcept = default;
  PcmBuffer(PcmBuffer&& other) noexcept;
  PcmBuffer& operator=(PcmBuffer&& other) noexcept;
  PcmBuffer(const PcmBuffer&) = delete;
  PcmBuffer& operator=(const PcmBuffer&) = delete;
  ~PcmBuffer();

  // Non-blocking guarantees: wait-free.
  engine::ClipSamples samples() const noexcept { return {data_, frames_, channels_, stride_}; }
  float* channel(std::uint32_t c) noexcept { return data_ + c * stride_; }
  const float* channel(std::uint32_t c) const noexcept { return data_ + c * stride_; }

  std::uint64_t frames() const noexcept { return frames_; }
  std::uint32_t channels() const noexcept { return channels_; }
  std::uint64_t stride() const noexcept { return stride_; }
  // What the buffer holds, page-rounded (the mapping's length).
  std::size_t bytes() const noexcept { return bytes_; }
  bool locked() const noexcept { return locked_; }
  bool empty() const noexcept { return data_ == nullptr; }

 private:
  void release() noexcept;

  float* data_ = nullptr;
  std::uint64_t frames_ = 0;
  std::uint32_t channels_ = 0;
  std::uint64_t stride_ = 0;
  std::size_t bytes_ = 0;
  bool locked_ = false;
};

static_assert(std::is_nothrow_move_constructible_v<PcmBuffer>);
static_assert(std::is_nothrow_move_assignable_v<PcmBuffer>);

}  // namespace clipd::clips
