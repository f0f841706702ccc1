#include "engine/mix.hpp"

#include <algorithm>
#include <cstdint>

// target_clones needs ifunc support (glibc, x86-64); elsewhere the baseline build is used. Not
// under ThreadSanitizer either: the loader runs ifunc resolvers before the TSan runtime is up, and
// the instrumented resolver crashes.
#if defined(__SANITIZE_THREAD__)
#define CLIPD_NO_CLONES 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CLIPD_NO_CLONES 1
#endif
#endif
#if defined(__x86_64__) && defined(__ELF__) && !defined(CLIPD_NO_CLONES)
#define CLIPD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CLIPD_CLONES
#endif

namespace clipd::engine::mix {

CLIPD_CLONES
void add_const(float* __restrict out, const float* __restrict in, float g, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    out[i] += in[i] * g;
}

CLIPD_CLONES
void add_const_loop(float* __restrict out, const float* __restrict ch, float g, std::size_t n,
                    std::uint64_t pos, std::uint64_t start, std::uint64_t end) noexcept {
  while (n > 0) {
    if (pos >= end) pos = start;
    const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(n, end - pos));
    const float* in = ch + pos;
    for (std::size_t i = 0; i < len; ++i)
      out[i] += in[i] * g;
    out += len;
    n -= len;
    pos += len;
  }
}

CLIPD_CLONES
void add2_const_loop(float* __restrict out0, float* __restrict out1, const float* ch0,
                     const float* ch1, float g0, float g1, std::size_t n, std::uint64_t pos,
                     std::uint64_t start, std::uint64_t end) noexcept {
  while (n > 0) {
    if (pos >= end) pos = start;
    const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(n, end - pos));
    const float* in0 = ch0 + pos;
    const float* in1 = ch1 + pos;
    for (std::size_t i = 0; i < len; ++i) {
      out0[i] += in0[i] * g0;
      out1[i] += in1[i] * g1;
    }
    out0 += len;
    out1 += len;
    n -= len;
    pos += len;
  }
}

CLIPD_CLONES
void add_gain(float* __restrict out, const float* __restrict in, const float* __restrict g,
              std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    out[i] += in[i] * g[i];
}

CLIPD_CLONES
void add2_const(float* __restrict out0, float* __restrict out1, const float* in0, const float* in1,
                float g0, float g1, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    out0[i] += in0[i] * g0;
    out1[i] += in1[i] * g1;
  }
}

CLIPD_CLONES
void add2_gain(float* __restrict out0, float* __restrict out1, const float* in0, const float* in1,
               const float* __restrict g0, const float* __restrict g1, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    out0[i] += in0[i] * g0[i];
    out1[i] += in1[i] * g1[i];
  }
}

CLIPD_CLONES
void add_linear(float* __restrict out, const float* __restrict in, Sweep r, float s,
                std::size_t n) noexcept {
  // An int index: int32 → float conversions vectorise; 64-bit ones do not before AVX-512.
  const auto count = static_cast<std::int32_t>(n);
  for (std::int32_t i = 0; i < count; ++i) {
    const float g = r.base + r.delta * ((r.first + static_cast<float>(i)) * r.inv);
    out[i] += in[i] * (g * s);
  }
}

CLIPD_CLONES
void add2_linear(float* __restrict out0, float* __restrict out1, const float* in0, const float* in1,
                 Sweep r, float s0, float s1, std::size_t n) noexcept {
  const auto count = static_cast<std::int32_t>(n);
  for (std::int32_t i = 0; i < count; ++i) {
    const float g = r.base + r.delta * ((r.first + static_cast<float>(i)) * r.inv);
    out0[i] += in0[i] * (g * s0);
    out1[i] += in1[i] * (g * s1);
  }
}

CLIPD_CLONES
void fill_gains(Sweep g, Sweep e, Sweep p, float* __restrict gain, float* __restrict left,
                float* __restrict right, std::size_t n) noexcept {
  const auto count = static_cast<std::int32_t>(n);
  for (std::int32_t i = 0; i < count; ++i) {
    const float fi = static_cast<float>(i);
    const float gv = g.base + g.delta * ((g.first + fi) * g.inv);
    const float ev = e.base + e.delta * ((e.first + fi) * e.inv);
    const float pv = p.base + p.delta * ((p.first + fi) * p.inv);
    const float u = gv * ev;
    gain[i] = u;
    left[i] = u * std::min(1.0f, 1.0f - pv);
    right[i] = u * std::min(1.0f, 1.0f + pv);
  }
}

CLIPD_CLONES
void scale_const(float* __restrict out, float g, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    out[i] *= g;
}

CLIPD_CLONES
void scale_sweep(float* __restrict out, Sweep s, std::size_t n) noexcept {
  const auto count = static_cast<std::int32_t>(n);
  for (std::int32_t i = 0; i < count; ++i) {
    out[i] *= s.base + s.delta * ((s.first + static_cast<float>(i)) * s.inv);
  }
}

CLIPD_CLONES
void measure(const float* __restrict x, std::size_t n, float& peak, float& sum) noexcept {
  float p = peak, s = 0.0f;
  for (std::size_t i = 0; i < n; ++i) {
    p = std::max(p, x[i] < 0.0f ? -x[i] : x[i]);
    s += x[i] * x[i];
  }
  peak = p;
  sum += s;
}

}  // namespace clipd::engine::mix
