// Flush-to-zero and denormals-are-zero for the duration of a scope (the audio callback), so
// fading tails never fall into slow denormal arithmetic. The previous MXCSR is restored on exit:
// the thread belongs to the audio server, not to us.
//
// Thread contract: any thread; affects only the calling thread.
// Non-blocking guarantees: wait-free (two register moves).
#pragma once

namespace clipd::engine {

class DenormalScope {
 public:
#if defined(__SSE__)
  DenormalScope() noexcept : saved_(__builtin_ia32_stmxcsr()) {
    __builtin_ia32_ldmxcsr(saved_ | kFtz | kDaz);
  }
  ~DenormalScope() { __builtin_ia32_ldmxcsr(saved_); }
#else
  DenormalScope() noexcept = default;
#endif
  DenormalScope(const DenormalScope&) = delete;
  DenormalScope& operator=(const DenormalScope&) = delete;

 private:
#if defined(__SSE__)
  static constexpr unsigned kFtz = 0x8000;  // MXCSR bit 15
  static constexpr unsigned kDaz = 0x0040;  // MXCSR bit 6
  unsigned saved_;
#endif
};

}  // namespace clipd::engine
