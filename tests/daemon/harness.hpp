// Integration test harness for the whole daemon: a clipd process on a private server, a protocol
// client, and generated clips.
//
// Thread contract: one test thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "process.hpp"
#include "servers.hpp"

namespace clipd::test {

using json = nlohmann::json;

// The build's clipd (or clipd-rtsan) binary.
std::string clipd_binary(bool rtsan = false);
std::string clipctl_binary();

// A clipd process with its own runtime, state and config folders under `home`.
class Clipd {
 public:
  struct Options {
    bool rtsan = false;
    std::vector<std::string> args;  // extra command-line arguments
  };
  Clipd(const TestServer& server, const TempDir& home, Options options);
  Clipd(const TestServer& server, const TempDir& home) : Clipd(server, home, Options{}) {}
  ~Clipd();

  const std::string& socket_path() const noexcept { return socket_; }
  Process& process() noexcept { return *process_; }
  std::string log() const { return process_ ? process_->output() : log_; }
  // Its log, then where each of its threads is (thread_report()), while it runs.
  std::string report() const;
  // Environment a client of this clipd needs (XDG folders).
  EnvChanges env() const;

  // Starts the process and waits until the socket answers; throws on failure.
  void start();
  // SIGTERM; returns the exit status.
  int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  // SIGKILL, no chance to clean up.
  void kill_hard();

 private:
  const TestServer& server_;
  const TempDir& home_;
  Options options_;
  std::string socket_;
  std::string log_;
  int starts_ = 0;
  std::unique_ptr<Process> process_;
};

// A blocking protocol client. Replies are matched by id; events read meanwhile are kept.
// Every reply read is checked against the requests sent: a second reply to one request id (more
// replies to an id than requests sent with it) fails the running test.
class Client {
 public:
  explicit Client(const std::string& socket_path);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends `request` with a fresh integer id and returns the whole reply object.
  json request(json request, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Like request(), but fails the test unless ok is true; returns `result`.
  json ok(json request, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Raw I/O.
  void send_line(const std::string& line);
  std::optional<json> read_message(std::chrono::milliseconds timeout);
  // Sends `request` again and again, a few milliseconds apart, until `done(result)` holds; returns
  // that result. For state the daemon reports but announces with no event (a voice's `paused`
  // state, the engine's frame). Throws when `timeout` passes first, with the last reply.
  json poll(const json& request, const std::function<bool(const json& result)>& done,
            std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // The next event named `name` (earlier events of other names are kept), or nullopt.
  std::optional<json> wait_event(const std::string& name,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::deque<json>& events() noexcept { return events_; }
  int fd() const noexcept { return fd_; }

 private:
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  int fd_ = -1;
  std::string buffer_;
  std::deque<json> events_;
  std::int64_t next_id_ = 1;
  // Request ids (as JSON text) -> requests sent with that id, and replies read for it.
  std::map<std::string, int> sent_;
  std::map<std::string, int> replied_;
};

// Writes a float32 WAV (exact samples). `samples` is interleaved.
void write_wav(const std::string& path, std::uint32_t rate, std::uint32_t channels,
               const std::vector<float>& samples);
// Deterministic test signal: never zero at frame 0, distinct per channel, within (-0.9, 0.9).
std::vector<float> test_signal(std::uint64_t frames, std::uint32_t channels, std::uint32_t seed);

// Starts clipd-record (an independent JACK client) on `server`, recording `ports` for `frames`
// frames into `prefix` (see tests/support/README.md), and returns once it is armed: it has
// written its ready file. Fails the running test when it is not armed within 15 s.
std::unique_ptr<Process> start_recorder(TestServer& server, const std::string& prefix,
                                        std::uint64_t frames,
                                        const std::vector<std::string>& ports = {"clipd:out_1",
                                                                                 "clipd:out_2"});

// Index of the first frame in which any channel of `samples` (interleaved) is not zero.
std::optional<std::uint64_t> first_sound(const std::vector<float>& samples, std::uint32_t channels);

}  // namespace clipd::test
