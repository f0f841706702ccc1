// The mixing kernels: the only loops that run per sample per voice.
//
// Each is compiled twice (AVX2 and baseline x86-64) with target_clones and picked once per
// process by the loader (an ifunc), so one binary runs everywhere and uses AVX2 where present.
// Pointers do not alias unless stated; n < 2^31 (the engine passes at most kMaxBlock).
//
// Thread contract: pure functions on caller-owned buffers, any thread.
// Non-blocking guarantees: wait-free, no allocation, no system call. Cost: O(n) each.
#pragma once

#include <cstddef>
#include <cstdint>

namespace clipd::engine::mix {

// Per-sample gain parameters of one chunk: the value of sample i of each ramped quantity is
// base + delta * ((first + i) * inv) (a constant has delta == 0).
struct Sweep {
  float base, delta, first, inv;
};

// out[i] += in[i] * g
void add_const(float* out, const float* in, float g, std::size_t n) noexcept;
// The same over a looping source: n frames of channel `ch` from frame pos (<= end), wrapping from
// end back to start (end - start >= 1); the same sums as add_const per segment, without a call
// per wrap. O(n + n / (end - start)).
void add_const_loop(float* out, const float* ch, float g, std::size_t n, std::uint64_t pos,
                    std::uint64_t start, std::uint64_t end) noexcept;
// out[i] += in[i] * g[i]
void add_gain(float* out, const float* in, const float* g, std::size_t n) noexcept;
// Two outputs at once (a stereo voice, or a mono one on two outputs: in0 may equal in1).
void add2_const(float* out0, float* out1, const float* in0, const float* in1, float g0, float g1,
                std::size_t n) noexcept;
// add2_const over a looping source, as add_const_loop.
void add2_const_loop(float* out0, float* out1, const float* ch0, const float* ch1, float g0,
                     float g1, std::size_t n, std::uint64_t pos, std::uint64_t start,
                     std::uint64_t end) noexcept;
void add2_gain(float* out0, float* out1, const float* in0, const float* in1, const float* g0,
               const float* g1, std::size_t n) noexcept;
// out[i] += in[i] * (r(i) * s), r(i) = r.base + r.delta * ((r.first + i) * r.inv): one ramp over
// the chunk, the gain computed in registers. Each sample's gain depends on its index in the ramp
// only, not on where the chunk starts, so any split of a ramp into chunks (cycles of any size)
// gives the same samples.
void add_linear(float* out, const float* in, Sweep r, float s, std::size_t n) noexcept;
void add2_linear(float* out0, float* out1, const float* in0, const float* in1, Sweep r, float s0,
                 float s1, std::size_t n) noexcept;
// gain[i] = g(i) * e(i); left[i] = gain[i] * min(1, 1 - p(i)); right[i] = gain[i] * min(1, 1 +
// p(i))
void fill_gains(Sweep g, Sweep e, Sweep p, float* gain, float* left, float* right,
                std::size_t n) noexcept;
// out[i] *= g
void scale_const(float* out, float g, std::size_t n) noexcept;
// out[i] *= base + delta * ((first + i) * inv)
void scale_sweep(float* out, Sweep s, std::size_t n) noexcept;
// peak = max(peak, |x[i]|); sum += x[i]^2
void measure(const float* x, std::size_t n, float& peak, float& sum) noexcept;

}  // namespace clipd::engine::mix
