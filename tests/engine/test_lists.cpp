// The engine's per-clip, per-group and per-note voice lists: a stop by clip or group, a choke, an
// unload and a note-off touch exactly the voices they concern, whatever else plays; the voices
// query reports every live voice as before.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <vector>

#include "rig.hpp"

namespace clipd::engine::test {
namespace {

constexpr std::uint64_t kDeclick = 240;  // 5 ms at 48 kHz

void play(Rig& rig, std::uint64_t voice, std::uint32_t clip, std::uint32_t group = 0,
          std::uint64_t at = kNow) {
  Message m = Message::play_default(voice, clip);
  m.play.group = group;
  m.play.at_frame = at;
  rig.play(m);
}

std::vector<std::uint32_t> stop_counts(const Rig& rig) {
  std::vector<std::uint32_t> out;
  for (const auto& m : rig.events()) {
    if (m.kind == Kind::stop) out.push_back(m.stop.stopped);
  }
  return out;
}

// Voices 1..n over three clips (voice v on clip v % 3) and four groups (v % 4, 0 = none).
TEST(Lists, StopsByClipAndGroupTouchExactlyTheirVoices) {
  Config config;
  config.max_voices = 300;
  Rig rig(config);
  TestClip a(48000, 1, 71), b(48000, 1, 72), c(48000, 1, 73);
  rig.add_clip(0, a);
  rig.add_clip(1, b);
  rig.add_clip(2, c);
  // Groups are any uint32: 0xfffffffe is as good as 1.
  const std::uint32_t groups[] = {0, 1, 0xfffffffeu, 7};
  for (std::uint64_t v = 1; v <= 240; ++v) {
    play(rig, v, static_cast<std::uint32_t>(v % 3), 0);  // no group: no choke among them
  }
  rig.run(128, 64);  // 483 messages: two cycles to take them all
  // Stop clip 1 with a fade, then again (already stopping: 0), then group-less stops.
  rig.send(Message::stop_cmd(StopTarget::clip, 1, 100));
  rig.send(Message::stop_cmd(StopTarget::clip, 1, 50));
  rig.send(Message::stop_cmd(StopTarget::clip, 9, 0));  // beyond the table: 0
  rig.cycle(256);
  std::set<std::uint64_t> ended;
  for (const auto& m : rig.events()) {
    if (m.kind == Kind::voice_ended) ended.insert(m.ended.voice);
  }
  std::set<std::uint64_t> want;
  for (std::uint64_t v = 1; v <= 240; ++v) {
    if (v % 3 == 1) want.insert(v);
  }
  EXPECT_EQ(ended, want);
  for (const std::uint64_t v : want)
    EXPECT_EQ(rig.ended(v)->frame, rig.frame() - 256 + 50);  // the second stop shortened it
  EXPECT_EQ(stop_counts(rig), (std::vector<std::uint32_t>{80, 0, 0}));

  // Grouped voices: each group's voices, one of them sounding at a time, the rest scheduled.
  const std::uint64_t later = rig.frame() + 100000;
  for (std::uint64_t v = 1001; v <= 1040; ++v) {
    const std::uint32_t g = groups[v % 4];
    play(rig, v, 0, g, v <= 1004 ? kNow : later);
  }
  rig.cycle(64);
  rig.send(Message::stop_cmd(StopTarget::group, 0xfffffffeu, 0));
  rig.send(Message::stop_cmd(StopTarget::group, (std::uint64_t{1} << 32) + 0xfffffffeu, 0));
  rig.send(Message::stop_cmd(StopTarget::group, 0, 0));  // 0 is "no group": nothing
  rig.cycle(64);
  const auto counts = stop_counts(rig);
  ASSERT_EQ(counts.size(), 6u);
  EXPECT_EQ(counts[3], 10u);  // voices 1002, 1006, ..., 1038
  EXPECT_EQ(counts[4], 0u);
  EXPECT_EQ(counts[5], 0u);
  for (std::uint64_t v = 1001; v <= 1040; ++v) {
    EXPECT_EQ(rig.ended(v).has_value(), v % 4 == 2) << v;
  }
  EXPECT_EQ(rig.engine().live_voices(), 160u + 30u);
  EXPECT_TRUE(rig.engine().invariants_hold());
}

TEST(Lists, AChokeStopsTheSoundingVoicesOnlyAndLeavesLongFadesAlone) {
  Rig rig;
  TestClip clip(48000, 1, 74);
  rig.add_clip(0, clip);
  play(rig, 1, 0);  // no group: never choked
  play(rig, 10, 0, 5);
  rig.cycle(64);
  rig.send(Message::pause_cmd(10, 0));
  rig.cycle(64);
  // 11 starts: 10 is paused, so the choke ends it at once.
  const std::uint64_t t11 = rig.frame();
  play(rig, 11, 0, 5);
  rig.cycle(64);
  ASSERT_TRUE(rig.ended(10));
  EXPECT_EQ(rig.ended(10)->reason, EndReason::choked);
  EXPECT_EQ(rig.ended(10)->frame, t11);
  // 11 stops on a long fade, 12 waits far ahead, 14 sounds; then 13 starts on t13 and chokes
  // only 14: a stopping voice keeps its own fade and a scheduled one is not sounding.
  const std::uint64_t t_stop = rig.frame();
  rig.send(Message::stop_cmd(StopTarget::voice, 11, 5000));
  play(rig, 12, 0, 5, rig.frame() + 1000000);
  play(rig, 14, 0, 5);
  rig.cycle(64);
  const std::uint64_t t13 = rig.frame() + 7;
  play(rig, 13, 0, 5, t13);
  rig.run(1024, 64);
  ASSERT_TRUE(rig.ended(14));
  EXPECT_EQ(rig.ended(14)->reason, EndReason::choked);
  EXPECT_EQ(rig.ended(14)->frame, t13 + kDeclick);
  EXPECT_FALSE(rig.ended(11));
  EXPECT_FALSE(rig.ended(12));
  EXPECT_FALSE(rig.ended(13));
  EXPECT_FALSE(rig.ended(1));
  rig.run(5000, 64);
  ASSERT_TRUE(rig.ended(11));
  EXPECT_EQ(rig.ended(11)->frame, t_stop + 5000);
  EXPECT_EQ(rig.ended(11)->reason, EndReason::stopped);
  EXPECT_TRUE(rig.engine().invariants_hold());
}

TEST(Lists, UnloadTakesTheSlotsVoicesAlongAndANewClipStartsAFreshList) {
  Rig rig;
  TestClip a(48000, 1, 75), b(48000, 1, 76);
  rig.add_clip(0, a);
  for (std::uint64_t v = 1; v <= 5; ++v)
    play(rig, v, 0);
  play(rig, 6, 0, 0, Rig::kBase + 1000000);  // scheduled: ends at once, unstarted
  rig.cycle(64);
  const std::uint64_t t = rig.frame();
  rig.send(Message::replace_clip(0, b.samples(), 99));
  play(rig, 7, 0);  // plays the new clip
  rig.cycle(64);
  // Stop by clip 0 now reaches only the new clip's voice: the old ones belong to the record.
  rig.send(Message::stop_cmd(StopTarget::clip, 0, 0));
  rig.cycle(512);
  EXPECT_EQ(stop_counts(rig), (std::vector<std::uint32_t>{1}));
  for (std::uint64_t v = 1; v <= 5; ++v) {
    ASSERT_TRUE(rig.ended(v));
    EXPECT_EQ(rig.ended(v)->reason, EndReason::unloaded);
    EXPECT_EQ(rig.ended(v)->frame, t + kDeclick);
  }
  EXPECT_EQ(rig.ended(6)->frame, t);
  EXPECT_EQ(rig.ended(7)->frame, t + 64);
  EXPECT_EQ(rig.count(Kind::clip_released), 1);  // the old clip, after its last voice
  EXPECT_TRUE(rig.engine().invariants_hold());
}

TEST(Lists, TheVoicesQueryReportsEveryLiveVoiceInEveryState) {
  Config config;
  config.max_voices = 64;
  Rig rig(config);
  TestClip clip(48000, 2, 77);
  rig.add_clip(0, clip);
  rig.add_clip(1, clip);
  for (std::uint64_t v = 1; v <= 40; ++v)
    play(rig, v, static_cast<std::uint32_t>(v % 2), v > 30 ? 9 : 0,
         v > 20 && v <= 30 ? Rig::kBase + 100000 : kNow);
  rig.cycle(64);
  rig.send(Message::pause_cmd(3, 0));
  rig.send(Message::stop_cmd(StopTarget::voice, 4, 10000));
  rig.send(Message::stop_cmd(StopTarget::clip, 1, 0));  // the odd ones end
  rig.cycle(64);
  std::vector<VoiceInfo> info(64);
  rig.send(Message::query_voices(info.data(), 64));
  rig.cycle(64);
  const auto q = rig.last(Kind::query_voices);
  ASSERT_TRUE(q);
  std::map<std::uint64_t, VoiceState> got;
  for (std::uint32_t i = 0; i < q->voices.count; ++i)
    got[info[i].voice] = info[i].state;
  std::map<std::uint64_t, VoiceState> want;
  for (std::uint64_t v = 2; v <= 40; v += 2) {
    VoiceState s = v > 20 && v <= 30 ? VoiceState::scheduled : VoiceState::playing;
    if (v == 4) s = VoiceState::stopping;
    // Group 9: each start choked the one before; the last (40) sounds, the others stop.
    if (v > 30) s = v == 40 ? VoiceState::playing : VoiceState::stopping;
    want[v] = s;
  }
  // 31..40 started on one frame, each choking the one before: 32..38 still fade (declick)
  // when the query is answered, 128 frames later.
  EXPECT_EQ(got, want);
  EXPECT_EQ(q->voices.count, rig.engine().live_voices());
}

TEST(Lists, OneVoicesQueryIsAnsweredPerCycleAndEveryOneComesBack) {
  Rig rig;
  TestClip clip(48000, 1, 78);
  rig.add_clip(0, clip);
  play(rig, 1, 0);
  rig.cycle(64);
  std::vector<VoiceInfo> info(4);
  for (int i = 0; i < 3; ++i)
    rig.send(Message::query_voices(info.data(), 4));
  rig.send(Message::master_cmd(0.5f, 0));  // behind the queries: waits with them
  rig.cycle(64);
  EXPECT_EQ(rig.count(Kind::query_voices), 1);
  EXPECT_EQ(rig.count(Kind::master), 0);
  rig.cycle(64);
  EXPECT_EQ(rig.count(Kind::query_voices), 2);
  rig.cycle(64);
  EXPECT_EQ(rig.count(Kind::query_voices), 3);
  EXPECT_EQ(rig.count(Kind::master), 1);
  EXPECT_EQ(rig.last(Kind::query_voices)->voices.count, 1u);
  // One still waiting when the engine retires comes back too.
  rig.send(Message::query_voices(info.data(), 4));
  rig.send(Message::query_voices(info.data(), 4));
  rig.cycle(64);
  rig.retire(EndReason::shutdown);
  EXPECT_EQ(rig.count(Kind::query_voices), 5);
  EXPECT_EQ(rig.returned(), rig.sent());
}

}  // namespace
}  // namespace clipd::engine::test
