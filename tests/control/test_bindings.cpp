// MIDI bindings through the command core: bind, bindings, unbind, and a note in a cycle's MIDI
// starting the bound clip on its exact frame.
#include <cmath>

#include "controller_fixture.hpp"

namespace clipd::control::test {
namespace {

using protocol::Json;

TEST_F(ControllerTest, ABoundNoteStartsItsClipUntilUnbound) {
  const std::string path = write_clip("kick.wav", 48000);
  load(1, "kick", path);
  submit(R"({"id":2,"cmd":"bind","note":60,"clip":"kick","gain_db":-6})");
  const Reply bound = reply(1);
  ASSERT_TRUE(bound.ok) << bound.message;
  EXPECT_EQ(bound.result, Json::object());
  submit(R"({"id":3,"cmd":"bindings"})");
  const Json binding{{"note", 60},        {"channel", nullptr}, {"clip", "kick"},
                     {"mode", "oneshot"}, {"velocity", false},  {"gain_db", -6.0},
                     {"group", nullptr}};
  EXPECT_EQ(reply(2).result, (Json{{"bindings", Json::array({binding})}}));

  // The engine takes the binding table (the load's table swap took the free one: the bind's
  // waits for the engine to hand one back, and goes out on the tick that drains it).
  settle();
  const std::uint64_t cycle = backend_->next_frame();
  backend_->cycle({FakeBackend::note_on(10, 60)});
  const std::vector<float> outputs[] = {backend_->output(0), backend_->output(1)};
  const auto started = await_event<protocol::VoiceStartedEvent>();
  EXPECT_EQ(started.clip, "kick");
  EXPECT_EQ(started.frame, static_cast<std::int64_t>(cycle + 10));
  EXPECT_FALSE(started.late);
  EXPECT_EQ(started.trigger, protocol::Trigger::midi);
  // Before the note, silence; from it, the clip at -6 dB.
  const clips::test::Reference clip = clips::test::read_reference(path);
  const auto gain = static_cast<float>(std::pow(10.0, -6.0 / 20.0));
  for (std::uint32_t c = 0; c < 2; ++c) {
    for (std::uint32_t i = 0; i < kPeriod; ++i) {
      const float expected = i < 10 ? 0.0f : clip.interleaved[(i - 10) * 2 + c] * gain;
      ASSERT_EQ(outputs[c][i], expected) << "output " << c << " " << i;
    }
  }

  submit(R"({"id":4,"cmd":"voices"})");
  const Json voices = answer(3).result;
  ASSERT_EQ(voices["voices"].size(), 1u);
  EXPECT_EQ(voices["voices"][0]["voice"], started.voice);
  EXPECT_EQ(voices["voices"][0]["clip"], "kick");

  submit(R"({"id":5,"cmd":"unbind","note":60})");
  const Reply unbound = reply(4);
  EXPECT_TRUE(unbound.ok);
  EXPECT_EQ(unbound.result, Json::object());
  submit(R"({"id":6,"cmd":"bindings"})");
  EXPECT_EQ(reply(5).result, (Json{{"bindings", Json::array()}}));
  submit(R"({"id":7,"cmd":"unbind","note":60})");
  const Reply again = reply(6);
  EXPECT_FALSE(again.ok);
  EXPECT_EQ(again.code, protocol::ErrorCode::bad_request);
  EXPECT_EQ(again.message, "note: no binding for note 60 on any channel");

  // The note does nothing now: the engine still plays the one voice.
  settle();
  backend_->cycle({FakeBackend::note_on(0, 60)});
  submit(R"({"id":8,"cmd":"voices"})");
  const Json after = answer(7).result;
  ASSERT_EQ(after["voices"].size(), 1u);
  EXPECT_EQ(after["voices"][0]["voice"], started.voice);
  EXPECT_EQ(sink_.of<protocol::VoiceStartedEvent>().size(), 1u);
}

}  // namespace
}  // namespace clipd::control::test
