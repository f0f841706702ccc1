// tests/bench/queue/harness.hpp: the small timing harness of the queue benchmark: one clock,
// thread pinning, a start gate, a polite spin, and order statistics.
//
// Google Benchmark times one function per thread; these figures need two threads with different
// roles (producer and consumer) started together, per-operation samples for percentiles, and the
// peers interleaved repetition by repetition so that load from other processes on a shared
// machine falls on every peer alike.
#pragma once

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace clipd::bench {

using bench_clock = std::chrono::steady_clock;
static_assert(bench_clock::is_steady);

inline std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(bench_clock::now().time_since_epoch())
      .count();
}

// Set (before any scenario thread starts) when both threads must share one CPU: a busy wait
// would then burn its whole time slice before the other thread could make progress.
inline bool g_one_cpu = false;

// One iteration of a busy wait: tells the core it is spinning (frees the sibling hyperthread,
// avoids a memory-order machine clear on exit) without giving up the time slice.
inline void spin_pause() noexcept {
  if (g_one_cpu) {
    sched_yield();
    return;
  }
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// The CPUs this process may run on, in order.
inline std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
  }
  return cpus;
}

// Pins the calling thread to one CPU; a negative cpu leaves it free. Returns false on failure.
inline bool pin_current_thread(int cpu) noexcept {
  if (cpu < 0) return true;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

// Two threads wait here until both have arrived (and are pinned), then start together.
class StartGate {
 public:
  void arrive_and_wait() noexcept {
    arrived_.fetch_add(1, std::memory_order_acq_rel);
    while (arrived_.load(std::memory_order_acquire) < 2)
      spin_pause();
  }

 private:
  std::atomic<int> arrived_{0};
};

// Nearest-rank percentile of a sample set (p in [0, 100]); sorts its argument.
inline double percentile(std::vector<double>& samples, double p) {
  if (samples.empty()) return 0.0;
  std::sort(samples.begin(), samples.end());
  auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(samples.size()) + 0.5);
  rank = std::clamp<std::size_t>(rank, 1, samples.size());
  return samples[rank - 1];
}

inline double median(std::vector<double> samples) {
  return percentile(samples, 50.0);
}

}  // namespace clipd::bench
