// tests/support/line_client.hpp: a blocking client of a daemon's JSON-lines control socket for
// benchmarks, which time each request themselves (tests use the harness's Client, with events).
// It never subscribes, so every line it reads is a reply.
// Thread contract: one thread at a time. Failures throw std::runtime_error.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace clipd::test {

class LineClient {
 public:
  // Connects, retrying for up to 15 s while the daemon starts.
  explicit LineClient(const std::string& socket);
  ~LineClient();
  LineClient(const LineClient&) = delete;
  LineClient& operator=(const LineClient&) = delete;

  // Writes `line` (with its newline), whole.
  void write(const std::string& line);
  // The next line, without its newline.
  std::string read_line();
  // Writes the request with the next id and returns its `result`; throws unless ok. `written`
  // gets the CLOCK_MONOTONIC time in nanoseconds just before the write.
  nlohmann::json ok(nlohmann::json request, std::int64_t* written = nullptr);

 private:
  int fd_ = -1;
  std::int64_t id_ = 0;
  std::string buffer_;
};

}  // namespace clipd::test
