// tests/support/sanitizer.hpp: whether this test program was built with a sanitizer.
//
// ASan, UBSan and TSan slow every process they instrument by a factor that depends on the code
// path, so a duration measured under them says nothing about clipd. Tests assert wall-clock bounds
// only when `sanitized_build` is false; what they prove by events and replies holds in every build.
// The build defines CLIPD_TEST_SANITIZED when b_sanitize is set (tests/support/meson.build); the
// compiler's own macros cover a test compiled outside meson.
#pragma once

namespace clipd::test {

#if defined(CLIPD_TEST_SANITIZED) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool sanitized_build = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool sanitized_build = true;
#else
inline constexpr bool sanitized_build = false;
#endif
#else
inline constexpr bool sanitized_build = false;
#endif

}  // namespace clipd::test
