// The floor and the layout comparison for the engine benchmark: plain loops over the same clip
// data as the engine, built with the engine kernels' flags (see meson.build).
#pragma once

#include <cstddef>
#include <cstdint>

namespace clipd::engine::bench {

struct FloorVoice {
  const float* left;   // channel 0 at the voice's position
  const float* right;  // channel 1
  float gain;
};

// The floor: out_c[i] += gain * in_c[i] for every voice and both channels, plain loops, no SIMD
// dispatch (whatever the compiler makes of it with the engine's flags).
void floor_mix(const FloorVoice* voices, std::size_t count, float* left, float* right,
               std::size_t n);

// Layout comparison, both with the engine's AVX2/baseline dispatch:
// planar clips (two channel arrays) and interleaved clips (L R L R ...).
void planar_mix(const FloorVoice* voices, std::size_t count, float* left, float* right,
                std::size_t n);
struct InterleavedVoice {
  const float* frames;  // interleaved stereo at the voice's position
  float gain;
};
void interleaved_mix(const InterleavedVoice* voices, std::size_t count, float* left, float* right,
                     std::size_t n);

}  // namespace clipd::engine::bench
