// Under the RealtimeSanitizer: a real-time thread pops and pushes back a million nodes. Any
// allocation, free, lock or system call inside its real-time context aborts the process.
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <thread>

#include "clipd/node_queue.hpp"
#include "clipd/realtime.hpp"

int main() {
  clipd::rtsan_init();
  if (!clipd::rtsan_linked()) {
    std::fprintf(stderr, "RealtimeSanitizer runtime not linked\n");
    return 1;
  }
  constexpr std::uint64_t kTrips = 1'000'000;
  clipd::Queue<std::uint64_t> to_rt, from_rt;
  auto to_rt_in = to_rt.producer();
  auto to_rt_out = to_rt.consumer();
  auto from_rt_in = from_rt.producer();
  auto from_rt_out = from_rt.consumer();
  for (int i = 0; i < 64; ++i) to_rt_in.push(clipd::Node<std::uint64_t>::make(0));

  std::atomic<bool> done{false};
  std::thread rt([&] {
    clipd::RealtimeScope realtime;
    std::uint64_t moved = 0;
    while (moved < kTrips) {
      if (auto n = to_rt_out.pop()) {
        *n += 1;
        from_rt_in.push(std::move(n));
        ++moved;
      }
    }
    done.store(true, std::memory_order_release);
  });

  std::uint64_t back = 0, sum = 0;
  while (back < kTrips) {
    if (auto n = from_rt_out.pop()) {
      sum += 1;
      ++back;
      if (back + 64 <= kTrips) to_rt_in.push(std::move(n));
    }
  }
  rt.join();
  std::printf("%llu nodes bounced through a real-time context, no report\n",
              static_cast<unsigned long long>(sum));
  return done.load() && sum == kTrips ? 0 : 1;
}
