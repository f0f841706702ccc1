// Under the RealtimeSanitizer: a MIDI storm. Every cycle carries up to eight MIDI events (tens of
// thousands of notes per second of audio at these periods) on random bound and unbound keys, while
// control swaps random binding tables every few cycles, sends random commands and tops the small
// spare pool up only now and then, so it runs dry too. Any allocation, free, lock or system call
// inside process() aborts the process with a report; the checks of the random test apply to what
// comes back.
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
  options.seed = 11;
  options.midi = true;
  options.max_midi_per_cycle = 8;
  options.max_commands_per_cycle = 2;
  options.min_period = 8;
  options.max_period = 32;
  clipd::engine::test::Churn churn(options);
  constexpr int kCycles = 400'000;
  std::uint64_t frames = 0;
  for (int i = 0; i < kCycles && churn.ok(); ++i)
    churn.step();
  frames = churn.engine().last_frame() + churn.engine().last_nframes();
  churn.finish();
  if (!churn.ok()) {
    std::fprintf(stderr, "MIDI storm failed: %s\n", churn.error().c_str());
    return 1;
  }
  const double seconds = static_cast<double>(frames - 5000) / 48000.0;
  std::printf(
      "%d cycles (%.1f s of audio), %llu note events (%.0f per second), %llu MIDI voices, %llu "
      "binding tables swapped, %llu events lost to a dry pool, no report\n",
      kCycles, seconds, static_cast<unsigned long long>(churn.notes_sent()),
      static_cast<double>(churn.notes_sent()) / seconds,
      static_cast<unsigned long long>(churn.midi_voices()),
      static_cast<unsigned long long>(churn.tables_sent()),
      static_cast<unsigned long long>(churn.engine().lost_events()));
  return 0;
}
