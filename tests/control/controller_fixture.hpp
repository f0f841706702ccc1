// A Controller on a FakeBackend, driven from the test thread: requests go in through submit(),
// the io_context runs the controller's timers and the loader's completions, and the engine's
// cycles run only when the test calls cycle(). Clip files are written at test time.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "../clips/test_files.hpp"
#include "control/controller.hpp"
#include "control/protocol/parse.hpp"
#include "fake_backend.hpp"
#include "recording.hpp"

namespace clipd::control::test {

class ControllerTest : public ::testing::Test {
 protected:
  static constexpr std::uint32_t kRate = 48000;
  static constexpr std::uint32_t kPeriod = 256;

  void SetUp() override {
    ControllerOptions options;
    options.version = "test";
    options.outputs = 2;
    options.max_voices = 16;
    options.memory_budget = 256ull << 20;
    // Streaming is not under test: one small ring.
    options.max_streamed_voices = 1;
    options.stream_buffer_s = 0.1;
    options.stream_threads = 1;
    auto backend = std::make_unique<FakeBackend>(options.outputs, kRate, kPeriod);
    backend_ = backend.get();
    core_ = std::make_unique<Controller>(io_, std::move(options), std::move(backend));
    core_->add_event_sink(sink_);
    core_->start({});
    settle();
  }

  // Runs cycles until the engine has taken every message sent so far (at go_online, a pool of
  // spare nodes more than one cycle takes): a `voices` query is answered only after them.
  void settle() {
    auto probe = std::make_shared<RecordingRequester>();
    submit(probe, R"({"cmd":"voices"})");
    run_until([&] { return !probe->replies.empty(); }, /*cycles=*/true);
  }

  void TearDown() override {
    bool stopped = false;
    core_->stop([&] { stopped = true; });
    // The shutdown fades the voices out: cycles let it finish.
    run_until([&] { return stopped; }, /*cycles=*/true);
    core_.reset();
  }

  // Writes a stereo 32-bit float WAV of `frames` frames at kRate (clips::test::test_signal).
  std::string write_clip(const std::string& name, std::uint64_t frames) {
    const std::string path = dir_.file(name);
    EXPECT_TRUE(clips::test::write_audio(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, kRate, 2, frames));
    return path;
  }

  // Parses `line` and submits it as `client`'s request.
  void submit(const std::shared_ptr<RecordingRequester>& client, const std::string& line) {
    protocol::ParseLimits limits;
    limits.max_outputs = 2;
    auto parsed = protocol::parse_request(line, limits);
    auto* request = std::get_if<protocol::ParsedRequest>(&parsed);
    ASSERT_NE(request, nullptr) << line;
    core_->submit(client, std::move(*request));
  }
  void submit(const std::string& line) { submit(client_, line); }

  // Runs the io_context (and, when `cycles`, one engine cycle per step) until `done` holds.
  // Bounded: a test that waits for something that never comes fails instead of hanging.
  void run_until(const std::function<bool()>& done, bool cycles = false) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "timed out";
      if (cycles) backend_->cycle();
      io_.run_one_for(std::chrono::milliseconds(5));
    }
  }

  // The `n`th reply (from 0) of `client`, once it has come.
  Reply reply(std::size_t n, const std::shared_ptr<RecordingRequester>& client) {
    run_until([&] { return client->replies.size() > n; });
    return client->replies.size() > n ? client->replies[n] : Reply{};
  }
  Reply reply(std::size_t n) { return reply(n, client_); }
  // The same for a request the engine answers (a query, a stop): one cycle runs first.
  Reply answer(std::size_t n) {
    backend_->cycle();
    return reply(n);
  }

  // Runs cycles until an event of type E has come `count` times; the last of them.
  template <class E>
  E await_event(std::size_t count = 1) {
    run_until([&] { return sink_.of<E>().size() >= count; }, /*cycles=*/true);
    const auto all = sink_.of<E>();
    return all.size() >= count ? all[count - 1] : E{};
  }

  // Loads `name` from `path` with request id `id` and checks that it loaded.
  void load(std::int64_t id, const std::string& name, const std::string& path) {
    const std::size_t before = client_->replies.size();
    submit(R"({"id":)" + std::to_string(id) + R"(,"cmd":"load","name":")" + name + R"(","path":")" +
           path + R"("})");
    const Reply r = reply(before);
    ASSERT_TRUE(r.ok) << r.message;
  }

  clips::test::TempDir dir_;
  boost::asio::io_context io_;
  FakeBackend* backend_ = nullptr;
  RecordingSink sink_;
  std::unique_ptr<Controller> core_;
  std::shared_ptr<RecordingRequester> client_ = std::make_shared<RecordingRequester>();
};

inline protocol::RequestId id(std::int64_t n) {
  return protocol::RequestId{n};
}

}  // namespace clipd::control::test
