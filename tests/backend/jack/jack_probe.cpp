// clipd-jack-probe: JackBackend driven the way the daemon drives it, for the integration tests
// (and, linked with the RealtimeSanitizer runtime, for the real-time checks).
//
// Usage: clipd-jack-probe [--name NAME] [--outputs N] [--no-midi] [--connect PORT]...
//                         [--seconds S] [--exit-after-reopens N] [--violate]
// The control loop polls every 5 ms, prints one line per event on stdout and acts like the
// daemon: on "server gone" it retires the client, destroys the target (a fresh one is built for
// each server, as the daemon builds a fresh engine), and calls try_open() every retry_delay().
// Lines: "open RATE SIZE", "rate R", "bufsize N", "xruns TOTAL", "connections N OWN>OTHER...",
// "gone", "retire retired|timed_out", "cycles N discontinuities D midi E", "done".
// Exits 0 after S seconds (default 5) or after the N-th reopening; 3 when the first open fails
// (five times, when no server answers or it refuses).
// --violate: the target allocates in its 10th cycle (the RealtimeSanitizer build must abort).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "clipd/realtime.hpp"
#include "counter_target.hpp"
#include "backend/jack/jack_backend.hpp"

namespace {

using clipd::backend::OpenResult;
using clipd::backend::RetireResult;
using clipd::backend::jack::JackBackend;
using clipd::backend::jack::testing::CounterTarget;

void print(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

// The counter target, plus one allocation in the 10th cycle.
// Thread contract: audio thread; deliberately not real-time safe.
void violating_render(void* ctx, std::uint64_t frame, std::uint32_t nframes, float* const* out,
                      std::span<const clipd::engine::MidiEventView> midi, std::uint64_t usecs,
                      std::uint64_t next_usecs) noexcept {
  auto* target = static_cast<CounterTarget*>(ctx);
  if (target->cycles() == 10) {
    void* volatile p = std::malloc(64);
    std::free(p);
  }
  CounterTarget::render(ctx, frame, nframes, out, midi, usecs, next_usecs);
}

clipd::backend::ProcessTarget make_target(CounterTarget& t, bool violate) {
  clipd::backend::ProcessTarget target = t.target();
  if (violate) target.fn = &violating_render;
  return target;
}

void report_target(const CounterTarget& t) {
  print("cycles " + std::to_string(t.cycles()) + " discontinuities " +
        std::to_string(t.discontinuities()) + " midi " + std::to_string(t.midi_events()));
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
    } else if (a == "--no-midi") {
      options.midi_input = false;
    } else if (a == "--connect" && has_value) {
      options.auto_connect.emplace_back(argv[++i]);
    } else if (a == "--seconds" && has_value) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--violate") {
      violate = true;
    } else if (a == "--exit-after-reopens" && has_value) {
      exit_after_reopens = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "clipd-jack-probe: bad argument %s\n", a.c_str());
      return 2;
    }
  }

  JackBackend client(options);
  auto target = std::make_unique<CounterTarget>(options.outputs);
  // A jackd on a loaded machine can refuse a client for a moment, as the test tools find
  // (open_tool_client() in tests/support/jack_tool.hpp): the first connection is tried up to
  // five times, 200 ms apart, each refusal said on stderr. The daemon itself retries with backoff.
  for (int attempt = 1;; ++attempt) {
    const OpenResult opened = client.open(make_target(*target, violate));
    if (opened == OpenResult::opened) break;
    std::fprintf(stderr, "clipd-jack-probe: %s (attempt %d)\n", client.last_error().c_str(),
                 attempt);
    if (opened != OpenResult::no_server || attempt == 5) return 3;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  print("open " + std::to_string(client.sample_rate()) + " " +
        std::to_string(client.buffer_size()) + " thread_inits " +
        std::to_string(client.thread_inits()));

  int reopens = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  auto next_try = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (!client.is_open()) {
      if (std::chrono::steady_clock::now() < next_try) continue;
      target = std::make_unique<CounterTarget>(options.outputs);
      if (client.try_open(make_target(*target, violate)) == OpenResult::opened) {
        print("open " + std::to_string(client.sample_rate()) + " " +
              std::to_string(client.buffer_size()) + " thread_inits " +
              std::to_string(client.thread_inits()));
        if (++reopens == exit_after_reopens) break;
      } else {
        next_try = std::chrono::steady_clock::now() + client.retry_delay();
      }
      continue;
    }
    const clipd::backend::Events ev = client.poll();
    if (ev.sample_rate_changed) print("rate " + std::to_string(ev.sample_rate));
    if (ev.buffer_size_changed) print("bufsize " + std::to_string(ev.buffer_size));
    if (ev.new_xruns != 0) print("xruns " + std::to_string(client.xruns()));
    if (ev.connections_changed) {
      std::string line = "connections " + std::to_string(client.connections().size());
      for (const auto& c : client.connections())
        line += " " + c.own_port + ">" + c.other_port;
      print(line);
    }
    if (ev.server_gone) {
      print("gone");
      const RetireResult r = client.retire();
      print(std::string("retire ") + (r == RetireResult::retired ? "retired" : "timed_out"));
      report_target(*target);
      print("thread_inits " + std::to_string(client.thread_inits()));
      target.reset();  // the engine's memory goes away only after retire()
      next_try = std::chrono::steady_clock::now();
    }
  }
  if (client.is_open()) {
    // Settle a little so the last cycles ran under the target (and the checks) too.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const RetireResult r = client.retire();
    print(std::string("retire ") + (r == RetireResult::retired ? "retired" : "timed_out"));
    report_target(*target);
  }
  print("done");
  return 0;
}
