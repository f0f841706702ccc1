// The engine's view of one clip: immutable float32 PCM at the engine rate, planar.
//
// Planar because the mixer scales one channel by one gain at a time: each channel's frames are
// contiguous, so the inner loop is a plain vectorisable multiply-add. Channel c starts at
// data + c * stride; stride >= frames and is a multiple of 16 floats, so every channel starts
// 64-byte aligned.
//
// A streamed clip (stream != 0) holds only its first `head` frames in memory (the layout above,
// with stride >= head); `frames` is its whole length, and a voice reads the frames past the head
// from a ring the disk side fills (engine/stream_ring.hpp). `stream` is the disk side's id of
// the clip; 0 for a clip held whole in memory (then `head` is unused).
//
// Thread contract: the control thread owns the memory and frees it only after the engine has
// handed the clip back; the engine only reads.
#pragma once

#include <cstdint>

namespace clipd::engine {

struct ClipSamples {
  const float* data = nullptr;
  std::uint64_t frames = 0;
  std::uint32_t channels = 0;
  std::uint64_t stride = 0;
  std::uint64_t stream = 0;
  std::uint64_t head = 0;

  const float* channel(std::uint32_t c) const noexcept { return data + c * stride; }
};

}  // namespace clipd::engine
