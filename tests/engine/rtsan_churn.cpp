// Under the RealtimeSanitizer: a million cycles of random plays, stops, sets, pauses, clip adds,
// removals, replacements and table growth. Any allocation, free, lock or system call inside
// process() aborts the process with a report; the control side runs between cycles, outside the
// real-time context. The same checks as the random test apply to what comes back.
#include <cstdio>

#include "churn.hpp"
#include "clipd/realtime.hpp"

int main() {
  clipd::rtsan_init();
  if (!clipd::rtsan_linked()) {
    std::fprintf(stderr, "RealtimeSanitizer runtime not linked\n");
    return 1;
  }
  clipd::engine::test::Churn::Options options;
  options.seed = 7;
  options.max_commands_per_cycle = 2;
  options.min_period = 8;
  options.max_period = 32;
  clipd::engine::test::Churn churn(options);
  constexpr int kCycles = 1'000'000;
  for (int i = 0; i < kCycles && churn.ok(); ++i)
    churn.step();
  churn.finish();
  if (!churn.ok()) {
    std::fprintf(stderr, "churn failed: %s\n", churn.error().c_str());
    return 1;
  }
  std::printf("%d cycles, %llu commands through process() under RTSan, no report\n", kCycles,
              static_cast<unsigned long long>(churn.commands_sent()));
  return 0;
}
