// tests/bench/backend/onset_probe.hpp: an independent native PipeWire client that watches other
// nodes' outputs: a pw_filter node with DSP float inputs in_1..in_N that counts the graph's
// cycles and, once armed on an input, notes the graph time of the first non-zero sample it
// receives there. Its inputs are linked from outside (pw-link), by node and port name.
//
// Threads: one main thread calls every member function; a pw_thread_loop runs PipeWire's control
// side and the context's data thread runs the process callback, which reads its inputs and
// stores atomics only.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace clipd::bench {

class OnsetProbe {
 public:
  static constexpr std::size_t kMaxInputs = 8;

  // Connects to the PipeWire of $PIPEWIRE_RUNTIME_DIR as node `name`; returns once its node is in
  // the graph. Throws std::runtime_error on failure.
  OnsetProbe(const std::string& name, std::size_t inputs);
  ~OnsetProbe();
  OnsetProbe(const OnsetProbe&) = delete;
  OnsetProbe& operator=(const OnsetProbe&) = delete;

  // Cycles in which every input had a buffer (all linked).
  std::uint64_t cycles() const noexcept;
  // The current quantum and rate (0 before the first cycle).
  std::uint32_t quantum() const noexcept;
  std::uint32_t rate() const noexcept;
  // CLOCK_MONOTONIC nanoseconds at which the driver started the last cycle cycles() counted (its
  // clock.nsec): with the quantum and rate, where the graph's next cycles begin.
  std::int64_t last_cycle_nsec() const noexcept;

  // Forgets any earlier onset on `input` (0-based) and watches it for the next non-zero sample.
  void arm(std::size_t input) noexcept;
  // CLOCK_MONOTONIC nanoseconds of the first non-zero sample on `input` since arm(): the cycle's
  // clock.nsec (when the driver started the cycle) plus the sample's offset at clock.rate.
  std::optional<std::int64_t> onset(std::size_t input) const noexcept;
  // The value of cycles() in the last cycle with a non-zero sample on `input` (0: none yet).
  std::uint64_t last_sound_cycle(std::size_t input) const noexcept;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace clipd::bench
