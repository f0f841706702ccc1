// tests/bench/control/harness.hpp: client-side measurements of a JSON-lines server on a UNIX
// socket. A target is only a socket path and a way to make request lines, so any server that
// answers each line with one line can be measured: the echo floor, the control server with a
// ping handler, or the daemon itself (`play`).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace clipd::bench {

struct Target {
  std::string name;
  std::filesystem::path socket;
  // The request line for `id`, without "\n". Each gets exactly one reply line.
  std::function<std::string(std::uint64_t id)> request;
  // Whether a reply line reports success. Empty: it holds `"ok":true` (clipd-protocol(7)). Only
  // successful replies count in the figures: a server that answers every request with an error
  // is fast at nothing.
  std::function<bool(std::string_view line)> succeeded;
};

struct Options {
  std::size_t round_trips = 20000;       // timed one at a time, after a warm-up of a tenth
  std::size_t pipelined_total = 200000;  // requests per pipelined run, split over connections
  std::size_t window = 256;              // requests in flight per connection
};

struct Figures {
  double p50_us = 0;  // round trips of successful replies (NaN when none succeeded)
  double p99_us = 0;
  double rps_one = 0;        // pipelined successful replies/s on one connection
  double rps_eight = 0;      // pipelined successful replies/s on eight connections together
  std::uint64_t failed = 0;  // replies that were not successful, over every run
};

// Runs the round-trip and pipelined measurements against `target`. Throws std::runtime_error on
// a connection failure or a missing reply.
Figures measure(const Target& target, const Options& options);

// One row per target; ratios are against the first row (the floor).
void print_table(const std::vector<std::pair<std::string, Figures>>& rows);

}  // namespace clipd::bench
