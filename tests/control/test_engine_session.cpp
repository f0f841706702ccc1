// The engine session on a fake backend: connecting while no server answers, the engine built on
// going online, the first cycle and the clocks, xruns, the server going away (the engine retired,
// its nodes handed back, then a retry) and a shutdown, each reported to the listener in order.
#include "control/engine_session.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fake_backend.hpp"

namespace clipd::control::test {
namespace {

constexpr std::uint32_t kRate = 48000;
constexpr std::uint32_t kPeriod = 256;

std::string reason_name(engine::EndReason reason) {
  switch (reason) {
    case engine::EndReason::offline:
      return "offline";
    case engine::EndReason::shutdown:
      return "shutdown";
    default:
      return "other";
  }
}

// Keeps every report as a line, in order. Like the controller, it gives each new engine a spare
// node, which the engine keeps until it is retired.
class RecordingListener final : public EngineSession::Listener {
 public:
  std::vector<std::string> calls;
  EngineSession* session = nullptr;

  std::uint32_t engine_clip_capacity() override {
    calls.push_back("capacity");
    return 512;
  }
  void on_online() override {
    calls.push_back("online");
    EXPECT_TRUE(session->online());
    EXPECT_TRUE(session->link().send(engine::Message::spare()));
  }
  void on_first_cycle(std::uint64_t frame) override {
    calls.push_back("first-cycle " + std::to_string(frame));
  }
  void on_xruns(std::uint64_t total) override { calls.push_back("xruns " + std::to_string(total)); }
  void on_connections_changed(const std::vector<backend::PortConnection>& connections) override {
    calls.push_back("connections " + std::to_string(connections.size()));
  }
  void on_leaving(engine::EndReason reason) override {
    calls.push_back("leaving " + reason_name(reason));
    EXPECT_FALSE(session->online());
    EXPECT_EQ(session->buffer_size(), 0U);
  }
  void on_engine_message(const engine::Message& m) override {
    calls.push_back(m.kind == engine::Kind::spare
                        ? std::string("message spare")
                        : "message " + std::to_string(static_cast<int>(m.kind)));
  }
  void on_abandoned(engine::EndReason reason, std::uint64_t end_frame) override {
    calls.push_back("abandoned " + reason_name(reason) + " " + std::to_string(end_frame));
  }
  void on_offline(engine::EndReason reason) override {
    calls.push_back("offline " + reason_name(reason));
    EXPECT_FALSE(session->link().online());
  }
};

class EngineSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EngineSessionOptions options;
    options.engine.outputs = 2;
    options.engine.max_voices = 4;
    options.engine.spare_nodes = 4;
    options.declick_s = 0.005;
    options.on_status = [this](const std::string& line) { statuses_.push_back(line); };
    options.on_warning = [this](const std::string& line) { warnings_.push_back(line); };
    auto backend = std::make_unique<FakeBackend>(2, kRate, kPeriod);
    backend_ = backend.get();
    session_ =
        std::make_unique<EngineSession>(io_, std::move(options), std::move(backend), listener_);
    listener_.session = session_.get();
  }

  // Runs the io_context (the retry timer) until `done` holds; bounded, so a report that never
  // comes fails the test instead of hanging it.
  void run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    // The io_context stops whenever it ran out of work (no retry timer waiting): start it again.
    io_.restart();
    while (!done()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "timed out";
      io_.run_one_for(std::chrono::milliseconds(5));
    }
  }

  // One cycle of the fake server, then the session's poll (the controller's tick).
  void cycle_and_poll() {
    backend_->cycle();
    session_->poll();
  }

  boost::asio::io_context io_;
  FakeBackend* backend_ = nullptr;
  RecordingListener listener_;
  std::vector<std::string> statuses_;
  std::vector<std::string> warnings_;
  std::unique_ptr<EngineSession> session_;
};

using Calls = std::vector<std::string>;

TEST_F(EngineSessionTest, OfflineOnlineServerGoneOfflineRetryShutdown) {
  // No server: the session stays offline and tries again on its timer.
  backend_->set_server(false);
  session_->try_connect();
  EXPECT_FALSE(session_->online());
  EXPECT_EQ(backend_->open_calls(), 1U);
  EXPECT_EQ(session_->rate(), 0U);
  EXPECT_EQ(session_->buffer_size(), 0U);
  EXPECT_EQ(session_->now_frame(), 0U);
  EXPECT_FALSE(session_->clock_reading().has_value());
  EXPECT_EQ(listener_.calls, Calls{});

  // The server comes: the next retry builds an engine at its rate.
  backend_->set_server(true);
  run_until([&] { return session_->online(); });
  EXPECT_EQ(backend_->open_calls(), 2U);
  EXPECT_EQ(listener_.calls, (Calls{"capacity", "online"}));
  EXPECT_EQ(session_->rate(), kRate);
  EXPECT_EQ(session_->buffer_size(), kPeriod);
  ASSERT_NE(session_->link().engine(), nullptr);
  const engine::Config& config = session_->link().engine()->config();
  EXPECT_EQ(config.sample_rate, kRate);
  EXPECT_EQ(config.clip_capacity, 512U);
  EXPECT_EQ(config.declick_frames, 240U);  // 5 ms at 48 kHz
  EXPECT_EQ(config.max_voices, 4U);
  EXPECT_EQ(session_->frames(1.0), std::uint64_t{kRate});
  EXPECT_EQ(session_->declick_frames(), 240U);
  // No cycle yet: no clock, no first cycle.
  EXPECT_FALSE(session_->clock_reading().has_value());
  session_->poll();
  EXPECT_EQ(listener_.calls.size(), 2U);
  ASSERT_EQ(statuses_.size(), 1U);
  EXPECT_EQ(statuses_[0], "online: 48000 Hz, 256 frames, jack client clipd");

  // The first cycle is reported once, with its first frame; the clocks are the cycle's.
  cycle_and_poll();
  const std::uint64_t first = FakeBackend::kFirstFrame;
  EXPECT_EQ(listener_.calls.back(), "first-cycle " + std::to_string(first));
  EXPECT_EQ(session_->now_frame(), first);
  const std::optional<ClockReading> clock = session_->clock_reading();
  ASSERT_TRUE(clock.has_value());
  EXPECT_EQ(clock->last_frame, first);
  EXPECT_EQ(clock->last_usecs, first * 20);
  EXPECT_EQ(clock->server_nsecs, backend_->next_frame() * 20000);
  EXPECT_GT(clock->realtime_nsecs, 0);
  EXPECT_EQ(clock->sample_rate, kRate);
  EXPECT_EQ(clock->buffer_size, kPeriod);
  cycle_and_poll();
  EXPECT_EQ(listener_.calls.size(), 3U);
  EXPECT_EQ(session_->now_frame(), first + kPeriod);

  // Xruns: the backend's total.
  backend_->add_xruns(3);
  session_->poll();
  EXPECT_EQ(listener_.calls.back(), "xruns 3");

  // The server goes: offline (the spare comes back with the retire), then a retry that fails
  // while no server answers.
  backend_->lose_server();
  session_->poll();
  EXPECT_EQ(listener_.calls,
            (Calls{"capacity", "online", "first-cycle " + std::to_string(first), "xruns 3",
                   "leaving offline", "message spare", "offline offline"}));
  EXPECT_FALSE(session_->online());
  EXPECT_FALSE(session_->link().online());
  EXPECT_EQ(backend_->retire_calls(), 1U);
  EXPECT_EQ(session_->rate(), kRate);  // the last known rate
  EXPECT_EQ(session_->buffer_size(), 0U);
  EXPECT_FALSE(session_->clock_reading().has_value());
  ASSERT_EQ(statuses_.size(), 2U);
  EXPECT_EQ(statuses_[1], "offline: waiting for an audio server");
  run_until([&] { return backend_->open_calls() == 3; });
  EXPECT_FALSE(session_->online());

  // The server is back: a fresh engine, whose first cycle is reported again.
  backend_->set_server(true);
  run_until([&] { return session_->online(); });
  cycle_and_poll();
  const std::uint64_t second = backend_->next_frame() - kPeriod;
  ASSERT_EQ(listener_.calls.size(), 10U);
  EXPECT_EQ((Calls(listener_.calls.begin() + 7, listener_.calls.end())),
            (Calls{"capacity", "online", "first-cycle " + std::to_string(second)}));

  // Shutdown: the same retire, with its own reason, and no retry.
  session_->stop_connecting();
  session_->go_offline(engine::EndReason::shutdown);
  ASSERT_EQ(listener_.calls.size(), 13U);
  EXPECT_EQ((Calls(listener_.calls.begin() + 10, listener_.calls.end())),
            (Calls{"leaving shutdown", "message spare", "offline shutdown"}));
  EXPECT_EQ(backend_->retire_calls(), 2U);
  session_->go_offline(engine::EndReason::shutdown);  // offline already: nothing
  session_->try_connect();                            // no more connections
  EXPECT_EQ(listener_.calls.size(), 13U);
  EXPECT_EQ(backend_->open_calls(), 4U);
  EXPECT_TRUE(warnings_.empty() || warnings_.front().find("mlockall") != std::string::npos);
}

TEST_F(EngineSessionTest, CloseRetiresWithoutReports) {
  session_->try_connect();
  ASSERT_TRUE(session_->online());
  cycle_and_poll();
  const std::size_t reported = listener_.calls.size();
  ASSERT_EQ(reported, 3U);
  // The owner is going: the engine is retired and freed, the listener hears nothing.
  session_->close();
  EXPECT_FALSE(session_->online());
  EXPECT_FALSE(session_->link().online());
  EXPECT_FALSE(backend_->is_open());
  EXPECT_EQ(backend_->retire_calls(), 1U);
  EXPECT_EQ(listener_.calls.size(), reported);
}

}  // namespace
}  // namespace clipd::control::test
