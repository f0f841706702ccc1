// clipd/realtime.hpp: marks the real-time context for LLVM's RealtimeSanitizer.
//
// The RTSan runtime is linked, or not, when an executable is linked; code compiled once works
// both ways. Its entry points are declared weak here: in an executable without the runtime they
// resolve to null and every call below is skipped, so the same engine library serves the plain
// daemon and `clipd-rtsan`. With the runtime linked, any allocation, free, lock or system call
// made inside a RealtimeScope aborts the process with a report.
#pragma once

extern "C" {
void __rtsan_init() __attribute__((weak));
void __rtsan_realtime_enter() __attribute__((weak));
void __rtsan_realtime_exit() __attribute__((weak));
}

namespace clipd {

// True when the RealtimeSanitizer runtime is linked into this executable.
inline bool rtsan_linked() noexcept { return __rtsan_realtime_enter != nullptr; }

// Initialises the runtime when it is linked. Call once, first thing in main().
inline void rtsan_init() noexcept {
  if (__rtsan_init != nullptr) __rtsan_init();
}

// Everything between construction and destruction is real-time context.
// Non-blocking guarantees: wait-free; one predictable branch when the runtime is absent.
class RealtimeScope {
 public:
  RealtimeScope() noexcept {
    if (__rtsan_realtime_enter != nullptr) __rtsan_realtime_enter();
  }
  ~RealtimeScope() {
    if (__rtsan_realtime_exit != nullptr) __rtsan_realtime_exit();
  }
  RealtimeScope(const RealtimeScope&) = delete;
  RealtimeScope& operator=(const RealtimeScope&) = delete;
};

}  // namespace clipd
