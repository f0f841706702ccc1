// The engine's lifecycle through the command core: xruns as events, a server that goes away
// (engine-offline, then every voice ended with reason offline at the engine's last frame), and a
// server that comes back (engine-online once its first cycle ran, the clips in the new engine).
#include <algorithm>
#include <cstddef>
#include <variant>

#include "controller_fixture.hpp"

namespace clipd::control::test {
namespace {

// Where the first event of type E is in the sink's events (events.size() when none came).
template <class E>
std::size_t position(const RecordingSink& sink) {
  const auto it =
      std::find_if(sink.events.begin(), sink.events.end(),
                   [](const protocol::Event& e) { return std::holds_alternative<E>(e); });
  return static_cast<std::size_t>(it - sink.events.begin());
}

TEST_F(ControllerTest, ServerLossEndsTheVoicesAndTheClipsComeBackWithTheServer) {
  EXPECT_EQ(sink_.of<protocol::EngineOnlineEvent>().size(), 1U);
  const std::string path = write_clip("kick.wav", 48000);
  load(1, "kick", path);
  submit(R"({"id":2,"cmd":"play","clip":"kick"})");
  ASSERT_TRUE(reply(1).ok);
  await_event<protocol::VoiceStartedEvent>();

  // Xruns become events with the server's total.
  backend_->add_xruns(2);
  EXPECT_EQ(await_event<protocol::XrunEvent>().count, 2U);

  // The server goes: engine-offline first, then the voice ends where the engine stopped.
  backend_->lose_server();
  run_until([&] { return !sink_.of<protocol::EngineOfflineEvent>().empty(); });
  run_until([&] { return !sink_.of<protocol::VoiceEndedEvent>().empty(); });
  EXPECT_LT(position<protocol::EngineOfflineEvent>(sink_),
            position<protocol::VoiceEndedEvent>(sink_));
  const auto ended = sink_.of<protocol::VoiceEndedEvent>().front();
  EXPECT_EQ(ended.voice, 1);
  EXPECT_EQ(ended.clip, "kick");
  EXPECT_EQ(ended.frame, static_cast<std::int64_t>(backend_->next_frame()));
  EXPECT_EQ(ended.reason, protocol::EndReason::offline);
  submit(R"({"id":3,"cmd":"status"})");
  const Reply offline = reply(2);
  ASSERT_TRUE(offline.ok) << offline.message;
  EXPECT_EQ(offline.result.at("engine"), "offline");
  EXPECT_EQ(offline.result.at("xruns"), 2);

  // The server is back: engine-online once the new engine ran a cycle, and the clip plays again.
  backend_->set_server(true);
  const auto online = await_event<protocol::EngineOnlineEvent>(2);
  EXPECT_EQ(online.sample_rate, kRate);
  EXPECT_EQ(online.buffer_size, kPeriod);
  EXPECT_GT(online.frame, ended.frame);
  submit(R"({"id":4,"cmd":"play","clip":"kick"})");
  const Reply played = reply(3);
  ASSERT_TRUE(played.ok) << played.message;
  EXPECT_EQ(played.result, (protocol::Json{{"voice", 2}}));
  const auto started = await_event<protocol::VoiceStartedEvent>(2);
  EXPECT_EQ(started.voice, 2);
  EXPECT_EQ(started.clip, "kick");
}

}  // namespace
}  // namespace clipd::control::test
