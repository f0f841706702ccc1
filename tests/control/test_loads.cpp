// Loads through the command core: the result's fields, load errors and their codes, cancellation
// by unload and by replace, and a replace's clip-unloaded once the engine hands the old clip back.
#include <fstream>

#include "clips/pcm_buffer.hpp"
#include "controller_fixture.hpp"

namespace clipd::control::test {
namespace {

using protocol::ErrorCode;
using protocol::Json;

// The clip info of a stereo clip of `frames` frames at 48 kHz, as load, info and list give it.
// `locked` is what the process may lock (RLIMIT_MEMLOCK), so it is taken from the reply.
Json clip_info(const std::string& name, const std::string& path, std::int64_t frames, bool locked) {
  const double seconds = static_cast<double>(frames) / 48000.0;
  return Json{{"name", name},
              {"path", path},
              {"frames", frames},
              {"channels", 2},
              {"sample_rate", 48000},
              {"source_sample_rate", 48000},
              {"duration_s", seconds},
              {"bytes", *clips::PcmBuffer::bytes_for(static_cast<std::uint64_t>(frames), 2)},
              {"locked", locked},
              {"non_finite_samples", 0},
              {"streamed", false},
              {"head_frames", frames},
              {"head_s", seconds}};
}

// The clip events in order, as "loaded NAME" / "unloaded NAME".
std::vector<std::string> clip_events(const RecordingSink& sink) {
  std::vector<std::string> out;
  for (const protocol::Event& e : sink.events) {
    if (const auto* l = std::get_if<protocol::ClipLoadedEvent>(&e))
      out.push_back("loaded " + l->name);
    if (const auto* u = std::get_if<protocol::ClipUnloadedEvent>(&e)) {
      out.push_back("unloaded " + u->name);
    }
  }
  return out;
}

TEST_F(ControllerTest, LoadAnswersWithTheClipsInfo) {
  const std::string path = write_clip("kick.wav", 4800);
  submit(R"({"id":1,"cmd":"load","name":"kick","path":")" + path + R"("})");
  const Reply loaded = reply(0);
  ASSERT_TRUE(loaded.ok) << loaded.message;
  EXPECT_EQ(loaded.id, id(1));
  ASSERT_TRUE(loaded.result["locked"].is_boolean());
  const Json expected = clip_info("kick", path, 4800, loaded.result["locked"].get<bool>());
  EXPECT_EQ(loaded.result, expected);
  ASSERT_EQ(sink_.of<protocol::ClipLoadedEvent>().size(), 1u);
  EXPECT_EQ(sink_.of<protocol::ClipLoadedEvent>()[0].name, "kick");

  submit(R"({"id":2,"cmd":"info","name":"kick"})");
  EXPECT_EQ(reply(1).result, expected);
  submit(R"({"id":3,"cmd":"list"})");
  EXPECT_EQ(reply(2).result, (Json{{"clips", Json::array({expected})}}));
}

TEST_F(ControllerTest, LoadErrorsCarryTheirCodes) {
  const std::string missing = dir_.file("missing.wav");
  const std::string text = dir_.file("notes.wav");
  std::ofstream(text) << "these are not samples\n";
  submit(R"({"id":1,"cmd":"load","name":"a","path":")" + missing + R"("})");
  const Reply not_found = reply(0);
  EXPECT_FALSE(not_found.ok);
  EXPECT_EQ(not_found.id, id(1));
  EXPECT_EQ(not_found.code, ErrorCode::file_not_found);
  EXPECT_NE(not_found.message.find(missing), std::string::npos) << not_found.message;

  submit(R"({"id":2,"cmd":"load","name":"b","path":")" + text + R"("})");
  const Reply unsupported = reply(1);
  EXPECT_FALSE(unsupported.ok);
  EXPECT_EQ(unsupported.id, id(2));
  EXPECT_EQ(unsupported.code, ErrorCode::unsupported_format);
  EXPECT_FALSE(unsupported.message.empty());

  // A client's failed load is its reply only: no event, no clip.
  EXPECT_TRUE(sink_.of<protocol::ClipLoadedEvent>().empty());
  EXPECT_TRUE(sink_.of<protocol::ClipFailedEvent>().empty());
  submit(R"({"id":3,"cmd":"info","name":"a"})");
  const Reply info = reply(2);
  EXPECT_FALSE(info.ok);
  EXPECT_EQ(info.code, ErrorCode::clip_not_found);
  EXPECT_EQ(info.message, "no clip named 'a'");
  submit(R"({"id":4,"cmd":"list"})");
  EXPECT_EQ(reply(3).result, (Json{{"clips", Json::array()}}));
}

TEST_F(ControllerTest, UnloadCancelsARunningLoad) {
  const std::string kick = write_clip("kick.wav", 4800);
  const std::string snare = write_clip("snare.wav", 2400);
  // Nothing runs between the two: the load is still running when the unload comes.
  submit(R"({"id":1,"cmd":"load","name":"kick","path":")" + kick + R"("})");
  submit(R"({"id":2,"cmd":"unload","name":"kick"})");
  ASSERT_EQ(client_->replies.size(), 2u);
  const Reply cancelled = client_->replies[0];
  EXPECT_FALSE(cancelled.ok);
  EXPECT_EQ(cancelled.id, id(1));
  EXPECT_EQ(cancelled.code, ErrorCode::cancelled);
  EXPECT_EQ(cancelled.message, "load of 'kick' cancelled");
  const Reply unloaded = client_->replies[1];
  EXPECT_TRUE(unloaded.ok);
  EXPECT_EQ(unloaded.id, id(2));
  EXPECT_EQ(unloaded.result, Json::object());

  // The cancelled load's end, whenever it comes, is dropped: the name stays free, and only the
  // next load's clip is there.
  load(3, "snare", snare);
  submit(R"({"id":4,"cmd":"list"})");
  const Json list = reply(3).result;
  ASSERT_EQ(list["clips"].size(), 1u);
  EXPECT_EQ(list["clips"][0]["name"], "snare");
  const auto loaded = sink_.of<protocol::ClipLoadedEvent>();
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].name, "snare");
  EXPECT_TRUE(sink_.of<protocol::ClipUnloadedEvent>().empty());
}

TEST_F(ControllerTest, ReplaceCancelsARunningLoad) {
  const std::string first = write_clip("first.wav", 4800);
  const std::string second = write_clip("second.wav", 2400);
  submit(R"({"id":1,"cmd":"load","name":"kick","path":")" + first + R"("})");
  submit(R"({"id":2,"cmd":"load","name":"kick","replace":true,"path":")" + second + R"("})");
  const Reply cancelled = reply(0);
  EXPECT_FALSE(cancelled.ok);
  EXPECT_EQ(cancelled.id, id(1));
  EXPECT_EQ(cancelled.code, ErrorCode::cancelled);
  EXPECT_EQ(cancelled.message, "load of 'kick' cancelled");
  const Reply loaded = reply(1);
  ASSERT_TRUE(loaded.ok) << loaded.message;
  EXPECT_EQ(loaded.id, id(2));
  EXPECT_EQ(loaded.result, clip_info("kick", second, 2400, loaded.result["locked"].get<bool>()));
  ASSERT_EQ(sink_.of<protocol::ClipLoadedEvent>().size(), 1u);
  EXPECT_TRUE(sink_.of<protocol::ClipUnloadedEvent>().empty());
}

TEST_F(ControllerTest, ReplaceUnloadsTheOldClipOnceTheEngineHandsItBack) {
  const std::string first = write_clip("first.wav", 4800);
  const std::string second = write_clip("second.wav", 2400);
  load(1, "kick", first);
  backend_->cycle();  // the engine takes the clip
  submit(R"({"id":2,"cmd":"load","name":"kick","replace":true,"path":")" + second + R"("})");
  const Reply replaced = reply(1);
  ASSERT_TRUE(replaced.ok) << replaced.message;
  EXPECT_EQ(replaced.result["frames"], 2400);
  EXPECT_EQ(sink_.of<protocol::ClipLoadedEvent>().size(), 2u);
  // The engine still holds the first clip until its next cycle swaps the new one in.
  EXPECT_TRUE(sink_.of<protocol::ClipUnloadedEvent>().empty());

  EXPECT_EQ(await_event<protocol::ClipUnloadedEvent>().name, "kick");
  EXPECT_EQ(clip_events(sink_),
            (std::vector<std::string>{"loaded kick", "loaded kick", "unloaded kick"}));
  submit(R"({"id":3,"cmd":"info","name":"kick"})");
  EXPECT_EQ(reply(2).result["path"], second);
}

}  // namespace
}  // namespace clipd::control::test
