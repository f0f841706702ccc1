#include "floor.hpp"

#if defined(__x86_64__) && defined(__ELF__)
#define CLIPD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CLIPD_CLONES
#endif

namespace clipd::engine::bench {

void floor_mix(const FloorVoice* voices, std::size_t count, float* __restrict left,
               float* __restrict right, std::size_t n) {
  for (std::size_t v = 0; v < count; ++v) {
    const float* __restrict l = voices[v].left;
    const float* __restrict r = voices[v].right;
    const float g = voices[v].gain;
    for (std::size_t i = 0; i < n; ++i)
      left[i] += g * l[i];
    for (std::size_t i = 0; i < n; ++i)
      right[i] += g * r[i];
  }
}

namespace {

CLIPD_CLONES
void planar_one(float* __restrict left, float* __restrict right, const float* __restrict l,
                const float* __restrict r, float g, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    left[i] += l[i] * g;
    right[i] += r[i] * g;
  }
}

CLIPD_CLONES
void interleaved_one(float* __restrict left, float* __restrict right,
                     const float* __restrict frames, float g, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    left[i] += frames[2 * i] * g;
    right[i] += frames[2 * i + 1] * g;
  }
}

}  // namespace

void planar_mix(const FloorVoice* voices, std::size_t count, float* left, float* right,
                std::size_t n) {
  for (std::size_t v = 0; v < count; ++v) {
    planar_one(left, right, voices[v].left, voices[v].right, voices[v].gain, n);
  }
}

void interleaved_mix(const InterleavedVoice* voices, std::size_t count, float* left, float* right,
                     std::size_t n) {
  for (std::size_t v = 0; v < count; ++v) {
    interleaved_one(left, right, voices[v].frames, voices[v].gain, n);
  }
}

}  // namespace clipd::engine::bench
