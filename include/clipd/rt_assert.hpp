// clipd/rt_assert.hpp: an assertion the audio thread may run.
//
// CLIPD_RT_ASSERT(cond) checks `cond` when the build defines CLIPD_RT_ASSERTS=1 (the top
// meson.build does so in sanitizer builds) and compiles to nothing otherwise (the condition is
// not evaluated, so checks may be expensive). On failure it writes one fixed message (file, line
// and the condition's text, all string literals) to standard error with a single write(2) and
// aborts: no allocation, no formatting, no lock, so it is safe inside process().
#pragma once

#if defined(CLIPD_RT_ASSERTS) && CLIPD_RT_ASSERTS

#include <unistd.h>

#include <cstdlib>

namespace clipd::detail {

[[noreturn]] inline void rt_assert_fail(const char* message, unsigned long length) noexcept {
  // The process is about to abort: the write's result cannot change anything.
  [[maybe_unused]] const auto written = ::write(2, message, length);
  std::abort();
}

}  // namespace clipd::detail

#define CLIPD_RT_ASSERT_STR2(x) #x
#define CLIPD_RT_ASSERT_STR(x) CLIPD_RT_ASSERT_STR2(x)
#define CLIPD_RT_ASSERT(cond)                                                                     \
  do {                                                                                            \
    if (!(cond)) {                                                                                \
      static constexpr char clipd_rt_assert_message[] =                                           \
          __FILE__ ":" CLIPD_RT_ASSERT_STR(__LINE__) ": real-time assertion failed: " #cond "\n"; \
      ::clipd::detail::rt_assert_fail(clipd_rt_assert_message,                                    \
                                      sizeof(clipd_rt_assert_message) - 1);                       \
    }                                                                                             \
  } while (false)
#define CLIPD_RT_ASSERTS_ON 1

#else

// sizeof keeps the names in `cond` used without evaluating anything.
#define CLIPD_RT_ASSERT(cond)                  \
  do {                                         \
    static_cast<void>(sizeof((cond) ? 1 : 0)); \
  } while (false)
#define CLIPD_RT_ASSERTS_ON 0

#endif
