// clipd-pw-probe: the PipeWire backend driven the way the daemon drives a backend, in a process of
// its own (one the tests can stop), and for the RealtimeSanitizer tests (linked with its runtime
// as clipd-pw-probe-rtsan).
//
// Usage: clipd-pw-probe [--name NAME] [--outputs N] [--seconds S] [--exit-after-reopens N]
//                       [--violate]
// The control loop polls every 5 ms, prints one line per event on stdout and acts like the
// daemon: on "server gone" it retires the backend, destroys the target (a fresh one is built for
// each server, as the daemon builds a fresh engine), and calls try_open() every retry_delay().
// Lines: "open RATE SIZE", "bufsize N", "xruns TOTAL", "connections N", "gone", "retire
// retired|timed_out", "cycles N discontinuities D midi E", "library ERROR TEXT", "done". Exits 0
// after S seconds (default 5) or after the N-th reopening; 3 when the first open fails.
// --violate: the target allocates in its 10th cycle (the RealtimeSanitizer build must abort).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "backend/pipewire/pipewire_backend.hpp"
#include "clipd/realtime.hpp"
#include "stamp_target.hpp"

namespace {

using clipd::backend::OpenResult;
using clipd::backend::RetireResult;
using clipd::backend::testing::StampTarget;

void print(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

std::unique_ptr<StampTarget> make_target(std::uint32_t outputs, bool violate) {
  auto t = std::make_unique<StampTarget>(outputs);
  if (violate) t->allocate_in_cycle(10);
  return t;
}

void report_target(const StampTarget& t) {
  print("cycles " + std::to_string(t.cycles()) + " discontinuities " +
        std::to_string(t.discontinuities()) + " midi " + std::to_string(t.midi_count()));
}

}  // namespace

int main(int argc, char** argv) {
  clipd::rtsan_init();
  clipd::backend::Options options;
  options.client_name = "clipd";
  double seconds = 5;
  int exit_after_reopens = -1;
  bool violate = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--name" && has_value) {
      options.client_name = argv[++i];
    } else if (a == "--outputs" && has_value) {
      options.outputs = static_cast<std::uint32_t>(std::atoi(argv[++i]));
    } else if (a == "--seconds" && has_value) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--violate") {
      violate = true;
    } else if (a == "--exit-after-reopens" && has_value) {
      exit_after_reopens = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "clipd-pw-probe: bad argument %s\n", a.c_str());
      return 2;
    }
  }

  auto backend = clipd::backend::make_pipewire_backend(options);
  auto target = make_target(options.outputs, violate);
  if (backend->open(target->target()) != OpenResult::opened) {
    std::fprintf(stderr, "clipd-pw-probe: %s\n", backend->last_error().c_str());
    return 3;
  }
  print("open " + std::to_string(backend->sample_rate()) + " " +
        std::to_string(backend->buffer_size()));

  int reopens = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  auto next_try = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (!backend->is_open()) {
      if (std::chrono::steady_clock::now() < next_try) continue;
      target = make_target(options.outputs, violate);
      if (backend->try_open(target->target()) == OpenResult::opened) {
        print("open " + std::to_string(backend->sample_rate()) + " " +
              std::to_string(backend->buffer_size()));
        if (++reopens == exit_after_reopens) break;
      } else {
        next_try = std::chrono::steady_clock::now() + backend->retry_delay();
      }
      continue;
    }
    const clipd::backend::Events ev = backend->poll();
    for (const auto& m : ev.library_messages)
      print(std::string("library ") + (m.error ? "1 " : "0 ") + m.text);
    if (ev.buffer_size_changed) print("bufsize " + std::to_string(ev.buffer_size));
    if (ev.new_xruns != 0) print("xruns " + std::to_string(backend->xruns()));
    if (ev.connections_changed) {
      print("connections " + std::to_string(backend->connections().size()));
    }
    if (ev.server_gone) {
      print("gone");
      const RetireResult r = backend->retire();
      print(std::string("retire ") + (r == RetireResult::retired ? "retired" : "timed_out"));
      report_target(*target);
      target.reset();  // the engine's memory goes away only after retire()
      next_try = std::chrono::steady_clock::now();
    }
  }
  if (backend->is_open()) {
    // Settle a little so the last cycles ran under the target (and the checks) too.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const RetireResult r = backend->retire();
    print(std::string("retire ") + (r == RetireResult::retired ? "retired" : "timed_out"));
    report_target(*target);
  }
  print("done");
  return 0;
}
