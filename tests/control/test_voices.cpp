// Voices through the command core: a play's reply, the samples its first cycle renders, its
// voice-started and voice-ended events, and the `voices` query's answer.
#include "controller_fixture.hpp"

namespace clipd::control::test {
namespace {

using protocol::Json;

TEST_F(ControllerTest, PlayStartsAVoiceWithItsEventsAndTheVoicesAnswer) {
  const std::string path = write_clip("kick.wav", 4800);
  const clips::test::Reference clip = clips::test::read_reference(path);
  load(1, "kick", path);
  submit(R"({"id":2,"cmd":"play","clip":"kick"})");
  const Reply played = reply(1);
  ASSERT_TRUE(played.ok) << played.message;
  EXPECT_EQ(played.id, id(2));
  EXPECT_EQ(played.result, (Json{{"voice", 1}}));

  // The next cycle starts it on its first frame, at 0 dB and centred: the clip's own samples.
  const std::uint64_t start = backend_->next_frame();
  backend_->cycle();
  for (std::uint32_t c = 0; c < 2; ++c) {
    for (std::uint32_t i = 0; i < kPeriod; ++i) {
      ASSERT_EQ(backend_->output(c)[i], clip.interleaved[i * 2 + c]) << "output " << c << " " << i;
    }
  }
  const auto started = await_event<protocol::VoiceStartedEvent>();
  EXPECT_EQ(started.voice, 1);
  EXPECT_EQ(started.clip, "kick");
  EXPECT_EQ(started.frame, static_cast<std::int64_t>(start));
  EXPECT_FALSE(started.late);
  EXPECT_EQ(started.trigger, protocol::Trigger::command);

  // The query is answered at the end of the next cycle: two periods played.
  submit(R"({"id":3,"cmd":"voices"})");
  const Reply voices = answer(2);
  EXPECT_TRUE(voices.shared);
  const double played_s = 2.0 * kPeriod / kRate;
  EXPECT_EQ(voices.result,
            (Json{{"voices", Json::array({Json{{"voice", 1},
                                               {"clip", "kick"},
                                               {"state", "playing"},
                                               {"position_s", played_s},
                                               {"remaining_s", (4800.0 - 2 * kPeriod) / kRate},
                                               {"gain_db", 0.0},
                                               {"pan", 0.0},
                                               {"group", nullptr}}})}}));

  // It ends on the clip's last frame, by itself.
  const auto ended = await_event<protocol::VoiceEndedEvent>();
  EXPECT_EQ(ended.voice, 1);
  EXPECT_EQ(ended.clip, "kick");
  EXPECT_EQ(ended.frame, static_cast<std::int64_t>(start + 4800));
  EXPECT_EQ(ended.reason, protocol::EndReason::finished);
  submit(R"({"id":4,"cmd":"voices"})");
  EXPECT_EQ(answer(3).result, (Json{{"voices", Json::array()}}));
}

TEST_F(ControllerTest, PlayOfAnUnknownClipOrStopOfAnUnknownVoiceIsRefused) {
  submit(R"({"id":1,"cmd":"play","clip":"nothing"})");
  const Reply play = reply(0);
  EXPECT_FALSE(play.ok);
  EXPECT_EQ(play.code, protocol::ErrorCode::clip_not_found);
  EXPECT_EQ(play.message, "no clip named 'nothing'");
  submit(R"({"id":2,"cmd":"stop","voice":7})");
  const Reply stop = reply(1);
  EXPECT_FALSE(stop.ok);
  EXPECT_EQ(stop.code, protocol::ErrorCode::voice_not_found);
  EXPECT_EQ(stop.message, "no voice 7");
}

TEST_F(ControllerTest, StopIsAnsweredWithTheEnginesCount) {
  const std::string path = write_clip("kick.wav", 48000);
  load(1, "kick", path);
  submit(R"({"id":2,"cmd":"play","clip":"kick"})");
  ASSERT_TRUE(reply(1).ok);
  backend_->cycle();
  await_event<protocol::VoiceStartedEvent>();
  submit(R"({"id":3,"cmd":"stop","clip":"kick"})");
  const Reply stopped = answer(2);
  EXPECT_TRUE(stopped.ok);
  EXPECT_EQ(stopped.id, id(3));
  EXPECT_EQ(stopped.result, (Json{{"stopped", 1}}));
  const auto ended = await_event<protocol::VoiceEndedEvent>();
  EXPECT_EQ(ended.voice, 1);
  EXPECT_EQ(ended.reason, protocol::EndReason::stopped);
}

}  // namespace
}  // namespace clipd::control::test
