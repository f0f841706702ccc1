// Under the RealtimeSanitizer: a real-time thread pops and pushes back a million nodes. Any
// allocation, free, lock or system call inside its real-time context aborts the process.
//
// The real-time thread works in cycles, as an audio callback does: each cycle is one real-time
// scope that moves whatever has arrived. Between cycles with nothing to move it yields (outside
// the scope), and so does the other thread: two threads spinning on an empty queue while the
// machine's cores are busy elsewhere would each burn their time slice waiting for a thread that
// is not running, and a run that takes a second on a quiet machine would take minutes.
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
  for (int i = 0; i < 64; ++i)
    to_rt_in.push(clipd::Node<std::uint64_t>::make(0));

  std::atomic<bool> done{false};
  std::thread rt([&] {
    std::uint64_t moved = 0;
    while (moved < kTrips) {
      const std::uint64_t before = moved;
      {
        clipd::RealtimeScope cycle;
        while (auto n = to_rt_out.pop()) {
          *n += 1;
          from_rt_in.push(std::move(n));
          ++moved;
        }
      }
      if (moved == before) std::this_thread::yield();
    }
    done.store(true, std::memory_order_release);
  });

  std::uint64_t back = 0, sum = 0;
  while (back < kTrips) {
    if (auto n = from_rt_out.pop()) {
      sum += 1;
      ++back;
      if (back + 64 <= kTrips) to_rt_in.push(std::move(n));
    } else {
      std::this_thread::yield();
    }
  }
  rt.join();
  std::printf("%llu nodes bounced through a real-time context, no report\n",
              static_cast<unsigned long long>(sum));
  return done.load() && sum == kTrips ? 0 : 1;
}
