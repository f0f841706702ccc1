// Voice management: stealing, choke groups, stops by target, unload/replace/grow of clips, the
// message flood, snapshots and retirement.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "rig.hpp"

namespace clipd::engine::test {
namespace {

constexpr double kTol = 1e-6;
constexpr std::uint64_t kDeclick = 240;  // 5 ms at 48 kHz

TEST(Voices, StealingTakesTheOldestPlayAndFadesItOut) {
  Config config;
  config.max_voices = 3;
  Rig rig(config);
  TestClip clip(48000, 1, 31);
  rig.add_clip(0, clip);
  for (std::uint64_t v = 1; v <= 3; ++v)
    rig.play(v, 0, Rig::kBase + v);
  rig.run(512, 64);
  const std::uint64_t t = rig.frame();
  rig.play(4, 0, t + 30);
  rig.run(1024, 64);
  ASSERT_TRUE(rig.ended(1));
  EXPECT_EQ(rig.ended(1)->reason, EndReason::stolen);
  EXPECT_EQ(rig.ended(1)->frame, t + kDeclick);  // stolen at once, when the play is taken
  EXPECT_FALSE(rig.ended(2));
  EXPECT_FALSE(rig.ended(3));
  EXPECT_EQ(rig.started(4)->frame, t + 30);
  // Output 0 = voices 2 and 3 at full gain + voice 1 fading + voice 4 from t + 30.
  for (std::uint64_t f = t; f < t + kDeclick + 50; ++f) {
    double want = clip.at(0, f - Rig::kBase - 2) + clip.at(0, f - Rig::kBase - 3);
    want +=
        clip.at(0, f - Rig::kBase - 1) * (f < t + kDeclick ? ramp_at(1, 0, f - t, kDeclick) : 0.0);
    if (f >= t + 30) want += clip.at(0, f - t - 30);
    ASSERT_NEAR(rig.out(0, f), want, 4 * kTol) << f - t;
  }
  // A scheduled voice is stolen too, and ends unstarted at once.
  rig.play(5, 0, rig.frame() + 100000);
  rig.play(6, 0, rig.frame() + 100000);
  rig.play(7, 0, rig.frame() + 100000);
  rig.play(8, 0, rig.frame() + 100000);
  const std::uint64_t u = rig.frame();
  rig.run(512, 64);
  ASSERT_TRUE(rig.ended(2) && rig.ended(3) && rig.ended(4) && rig.ended(5));
  EXPECT_FALSE(rig.ended(6) || rig.ended(7) || rig.ended(8));
  EXPECT_EQ(rig.ended(2)->frame, u + kDeclick);
  EXPECT_EQ(rig.ended(2)->reason, EndReason::stolen);
  EXPECT_EQ(rig.ended(3)->reason, EndReason::stolen);
  EXPECT_EQ(rig.ended(4)->reason, EndReason::stolen);
  EXPECT_EQ(rig.ended(5)->reason, EndReason::stolen);
  EXPECT_EQ(rig.ended(5)->frame, u);
  EXPECT_FALSE(rig.started(5)->started);
}

TEST(Voices, ChokeGroupsActOnTheNewVoicesFirstFrame) {
  Rig rig;
  TestClip clip(20000, 1, 32);
  rig.add_clip(0, clip);
  auto grouped = [&](std::uint64_t voice, std::uint64_t at, std::uint32_t group) {
    Message m = Message::play_default(voice, 0);
    m.play.at_frame = at;
    m.play.group = group;
    rig.play(m);
  };
  const std::uint64_t a = Rig::kBase + 10, b = Rig::kBase + 40, c = Rig::kBase + 200;
  grouped(1, a, 5);
  grouped(2, b, 5);  // same cycle: chokes 1 at b
  grouped(3, a, 6);  // another group: untouched
  grouped(4, c, 5);  // next cycles: chokes 2 at c
  rig.run(2048, 128);
  ASSERT_TRUE(rig.ended(1) && rig.ended(2));
  EXPECT_EQ(rig.ended(1)->reason, EndReason::choked);
  EXPECT_EQ(rig.ended(1)->frame, b + kDeclick);
  EXPECT_EQ(rig.ended(2)->reason, EndReason::choked);
  EXPECT_EQ(rig.ended(2)->frame, c + kDeclick);
  EXPECT_FALSE(rig.ended(3));
  EXPECT_FALSE(rig.ended(4));
  for (std::uint64_t f = a; f < c; ++f) {
    double want = clip.at(0, f - a);  // voice 3
    const double e1 = f < b ? 1.0 : f < b + kDeclick ? ramp_at(1, 0, f - b, kDeclick) : 0.0;
    want += clip.at(0, f - a) * e1;
    if (f >= b) want += clip.at(0, f - b);
    ASSERT_NEAR(rig.out(0, f), want, 4 * kTol) << f - a;
  }
}

TEST(Voices, StopByVoiceClipGroupAndAllNowAndAtAFrame) {
  Rig rig;
  TestClip x(100000, 1, 33), y(100000, 2, 34);
  rig.add_clip(0, x);
  rig.add_clip(1, y);
  auto play = [&](std::uint64_t voice, std::uint32_t clip, std::uint32_t group) {
    Message m = Message::play_default(voice, clip);
    m.play.group = group;
    rig.play(m);
  };
  play(1, 0, 0);
  play(2, 0, 7);
  // A group has one sounding voice (each start chokes the others); this one waits to start.
  Message later = Message::play_default(3, 1);
  later.play.group = 7;
  later.play.at_frame = Rig::kBase + 100000;
  rig.play(later);
  play(4, 1, 0);
  play(5, 1, 0);
  play(6, 0, 0);
  rig.cycle(64);
  const std::uint64_t f1 = rig.frame() + 33;
  rig.send(Message::stop_cmd(StopTarget::voice, 1, 0, f1));  // at a frame, cut
  rig.send(Message::stop_cmd(StopTarget::voice, 99, 0));     // unknown: 0
  rig.cycle(64);
  EXPECT_EQ(rig.ended(1)->frame, f1);
  const std::uint64_t f2 = rig.frame();
  rig.send(Message::stop_cmd(StopTarget::group, 7, 100));  // now, with a fade
  rig.send(Message::stop_cmd(StopTarget::group, 8, 100));  // no such group: 0
  rig.cycle(256);
  EXPECT_EQ(rig.ended(2)->frame, f2 + 100);
  EXPECT_EQ(rig.ended(3)->frame, f2);  // not started yet: ends where the stop acts
  EXPECT_FALSE(rig.started(3)->started);
  const std::uint64_t f3 = rig.frame() + 5;
  rig.send(Message::stop_cmd(StopTarget::clip, 1, 0, f3));  // voices 4, 5
  rig.cycle(64);
  EXPECT_EQ(rig.ended(4)->frame, f3);
  EXPECT_EQ(rig.ended(5)->frame, f3);
  const std::uint64_t f4 = rig.frame() + 63;
  rig.send(Message::stop_cmd(StopTarget::all, 0, 0, f4));
  rig.cycle(64);
  EXPECT_EQ(rig.ended(6)->frame, f4);
  EXPECT_EQ(rig.engine().live_voices(), 0u);
  std::vector<std::uint32_t> counts;
  for (const auto& m : rig.events()) {
    if (m.kind == Kind::stop) counts.push_back(m.stop.stopped);
  }
  EXPECT_EQ(counts, (std::vector<std::uint32_t>{0, 1, 2, 0, 2, 1}));
  for (std::uint64_t v = 1; v <= 6; ++v)
    EXPECT_EQ(rig.ended(v)->reason, EndReason::stopped);
  // The cut at f1 is exact: voice 1 contributes up to f1 - 1 only.
  const std::uint64_t s = rig.started(1)->frame;
  const double before = x.at(0, f1 - 1 - s) * 3 + y.at(0, f1 - 1 - s) * 2;
  const double after = x.at(0, f1 - s) * 2 + y.at(0, f1 - s) * 2;
  EXPECT_NEAR(rig.out(0, f1 - 1), before, 8 * kTol);
  EXPECT_NEAR(rig.out(0, f1), after, 8 * kTol);
}

TEST(Voices, AVoiceStoppedBeforeItStartsEndsOnceUnstarted) {
  Rig rig;
  TestClip clip(1000, 1, 35);
  rig.add_clip(0, clip);
  rig.play(1, 0, Rig::kBase + 5000);
  rig.cycle(64);
  const std::uint64_t f = Rig::kBase + 3000;
  rig.send(Message::stop_cmd(StopTarget::voice, 1, 240, f));
  rig.run(8192, 64);
  ASSERT_TRUE(rig.started(1) && rig.ended(1));
  EXPECT_FALSE(rig.started(1)->started);
  EXPECT_EQ(rig.ended(1)->frame, f);
  EXPECT_EQ(rig.count(Kind::voice_started), 1);
  EXPECT_EQ(rig.count(Kind::voice_ended), 1);
  for (std::uint64_t g = Rig::kBase; g < Rig::kBase + 8192; ++g)
    ASSERT_EQ(rig.out(0, g), 0.0f);
}

TEST(Voices, UnloadWhilePlayingFadesVoicesAndHandsTheClipBackAfter) {
  Rig rig;
  TestClip clip(48000, 2, 36);
  rig.add_clip(0, clip, 777);
  rig.play(1, 0);
  rig.play(2, 0, Rig::kBase + 100000);  // scheduled: ends at once
  rig.run(512, 64);
  const std::uint64_t u = rig.frame();
  rig.send(Message::remove_clip(0));
  rig.cycle(64);
  EXPECT_EQ(rig.last(Kind::remove_clip)->remove.found, true);
  EXPECT_EQ(rig.count(Kind::clip_released), 0);  // voice 1 still reads it
  EXPECT_EQ(rig.ended(2)->reason, EndReason::unloaded);
  EXPECT_EQ(rig.ended(2)->frame, u);
  rig.run(512, 64);
  ASSERT_TRUE(rig.ended(1));
  EXPECT_EQ(rig.ended(1)->reason, EndReason::unloaded);
  EXPECT_EQ(rig.ended(1)->frame, u + kDeclick);
  const auto released = rig.last(Kind::clip_released);
  ASSERT_TRUE(released);
  EXPECT_EQ(released->clip.token, 777u);
  EXPECT_EQ(released->clip.samples.data, clip.samples().data);
  // The clip went back after the last voice reading it ended.
  std::size_t end_at = 0, release_at = 0;
  for (std::size_t i = 0; i < rig.events().size(); ++i) {
    if (rig.events()[i].kind == Kind::voice_ended && rig.events()[i].ended.voice == 1) end_at = i;
    if (rig.events()[i].kind == Kind::clip_released) release_at = i;
  }
  EXPECT_LT(end_at, release_at);
  for (std::uint64_t f = u; f < u + kDeclick; ++f) {
    ASSERT_NEAR(rig.out(0, f), clip.at(0, f - Rig::kBase) * ramp_at(1, 0, f - u, kDeclick), kTol);
  }
  // A play of the removed slot ends at once, unstarted.
  rig.play(3, 0);
  rig.cycle(64);
  EXPECT_FALSE(rig.started(3)->started);
  EXPECT_EQ(rig.ended(3)->reason, EndReason::unloaded);
}

TEST(Voices, ReplaceSwapsSamplesAndHandsTheOldClipBack) {
  Rig rig;
  TestClip old_clip(48000, 1, 37), new_clip(1000, 1, 38);
  rig.add_clip(3, old_clip, 1);
  rig.play(1, 3);
  rig.run(256, 64);
  rig.send(Message::replace_clip(3, new_clip.samples(), 2));
  const std::uint64_t r = rig.frame();
  rig.play(2, 3, r + 10);
  rig.run(2048, 64);
  EXPECT_EQ(rig.ended(1)->reason, EndReason::unloaded);
  EXPECT_EQ(rig.ended(1)->frame, r + kDeclick);
  ASSERT_EQ(rig.count(Kind::clip_released), 1);
  EXPECT_EQ(rig.last(Kind::clip_released)->clip.token, 1u);
  EXPECT_EQ(rig.ended(2)->frame - rig.started(2)->frame, new_clip.frames());
  for (std::uint64_t k = kDeclick; k < new_clip.frames(); ++k) {
    ASSERT_EQ(rig.out(0, r + 10 + k), new_clip.at(0, k));
  }
  rig.retire(EndReason::shutdown);
  ASSERT_EQ(rig.count(Kind::clip_released), 2);
  EXPECT_EQ(rig.last(Kind::clip_released)->clip.token, 2u);
}

TEST(Voices, GrowingTheClipTableKeepsClipsAndVoices) {
  Config config;
  config.clip_capacity = 2;
  Rig rig(config);
  TestClip clip(5000, 1, 39);
  rig.add_clip(1, clip, 10);
  rig.play(1, 1, Rig::kBase + 20);
  rig.cycle(64);
  auto* bigger = new ClipSlot[8]();
  rig.send(Message::grow_clip_table(bigger, 8));
  rig.add_clip(6, clip, 60);
  rig.play(2, 6, Rig::kBase + 300);
  rig.run(8192, 64);
  const auto back = rig.last(Kind::table_released);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->table.capacity, 2u);
  EXPECT_NE(back->table.table, bigger);
  delete[] back->table.table;
  for (std::uint64_t k = 0; k < clip.frames(); ++k) {
    ASSERT_NEAR(rig.out(0, Rig::kBase + 20 + k),
                clip.at(0, k) + (k + 20 >= 300 ? clip.at(0, k - 280) : 0.0f), kTol);
  }
  EXPECT_EQ(rig.ended(2)->reason, EndReason::finished);
  rig.retire(EndReason::shutdown);
  std::set<std::uint64_t> tokens;
  for (const auto& m : rig.events()) {
    if (m.kind == Kind::clip_released) tokens.insert(m.clip.token);
  }
  EXPECT_EQ(tokens, (std::set<std::uint64_t>{10, 60}));
}

TEST(Voices, AFloodOfTenThousandMessagesIsSpreadOverCyclesWithoutALateStart) {
  Config config;
  config.max_messages_per_cycle = 128;
  config.max_voices = 4096;
  Rig rig(config);
  TestClip clip(64, 1, 40);
  rig.add_clip(0, clip);
  rig.cycle(64);
  // 2,500 voices (5,000 nodes) with their sets and stops: 10,000 messages in one burst. The
  // engine takes 128 per cycle, so voice v's messages are taken by cycle (4v / 128) + 1; each is
  // asked to start well after that.
  const std::uint64_t t0 = rig.frame();
  std::map<std::uint64_t, std::uint64_t> start_of;
  for (std::uint64_t v = 0; v < 2500; ++v) {
    const std::uint64_t at = t0 + (v * 4 / 128 + 2) * 64 + (v * 7) % 64;
    start_of[v] = at;
    rig.play(v, 0, at);
    rig.send(Message::set_gain(v, 0.5f, 0, at));
    rig.send(Message::stop_cmd(StopTarget::voice, v, 0, at + 32));
  }
  EXPECT_EQ(rig.sent(), 10'001u);
  rig.run(64 * 100, 64);
  for (std::uint64_t v = 0; v < 2500; ++v) {
    const auto s = rig.started(v);
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->started);
    ASSERT_FALSE(s->late) << v;
    ASSERT_EQ(s->frame, start_of[v]);
    ASSERT_EQ(rig.ended(v)->frame, start_of[v] + 32);
  }
  EXPECT_EQ(rig.returned(), rig.sent() - 1);  // all but the clip, still loaded
}

TEST(Voices, TheFloodIsTakenAtMostTheLimitPerCycle) {
  Config config;
  config.max_messages_per_cycle = 100;
  Rig rig(config);
  for (int i = 0; i < 10'000; ++i)
    rig.send(Message::master_cmd(1.0f, 0));
  for (int c = 0; c < 100; ++c) {
    const auto before = rig.returned();
    rig.cycle(32);
    ASSERT_EQ(rig.returned() - before, 100u);
  }
  rig.cycle(32);
  EXPECT_EQ(rig.returned(), 10'000u);
}

TEST(Voices, SnapshotReportsEveryField) {
  Rig rig;
  TestClip clip(10000, 2, 41);
  rig.add_clip(2, clip);
  Message a = Message::play_default(10, 2);
  a.play.group = 4;
  a.play.gain = 0.5f;
  a.play.pan = -0.25f;
  rig.play(a);
  Message b = Message::play_default(11, 2);
  b.play.loops = kLoopForever;
  rig.play(b);
  Message c = Message::play_default(12, 2);
  c.play.at_frame = Rig::kBase + 5000;
  rig.play(c);
  rig.run(1024, 64);
  rig.send(Message::stop_cmd(StopTarget::voice, 11, 1000));
  VoiceInfo info[8] = {};
  rig.send(Message::query_voices(info, 8));
  rig.cycle(64);
  const auto q = rig.last(Kind::query_voices);
  ASSERT_EQ(q->voices.count, 3u);
  EXPECT_EQ(q->voices.frame, Rig::kBase + 1024);
  std::map<std::uint64_t, VoiceInfo> by_id;
  for (int i = 0; i < 3; ++i)
    by_id[info[i].voice] = info[i];
  EXPECT_EQ(by_id[10].state, VoiceState::playing);
  EXPECT_EQ(by_id[10].clip, 2u);
  EXPECT_EQ(by_id[10].group, 4u);
  EXPECT_EQ(by_id[10].gain, 0.5f);
  EXPECT_EQ(by_id[10].pan, -0.25f);
  EXPECT_EQ(by_id[10].position, 1024u);
  EXPECT_EQ(by_id[10].remaining, 10000u - 1024u);
  EXPECT_EQ(by_id[11].state, VoiceState::stopping);
  EXPECT_EQ(by_id[11].remaining, 1000u);
  EXPECT_EQ(by_id[12].state, VoiceState::scheduled);
  EXPECT_EQ(by_id[12].position, 0u);
  EXPECT_EQ(by_id[12].remaining, 5000u - 1024u + 10000u);
  EXPECT_EQ(rig.engine().live_voices(), 3u);
  EXPECT_EQ(rig.engine().last_frame(), Rig::kBase + 1024);
  EXPECT_EQ(rig.engine().last_nframes(), 64u);
  EXPECT_EQ(rig.engine().last_usecs(), (Rig::kBase + 1024) * 10);
}

TEST(Voices, RetireEndsEverythingAndHandsEverythingBack) {
  Rig rig;
  TestClip clip(100000, 1, 42);
  rig.add_clip(0, clip, 5);
  rig.add_clip(1, clip, 6);
  rig.play(1, 0);
  rig.play(2, 1, Rig::kBase + 90000);
  rig.cycle(64);
  rig.send(Message::set_gain(1, 0.1f, 0, Rig::kBase + 80000));  // pending
  rig.send(Message::remove_clip(1));                            // queued, not yet taken
  rig.play(3, 0);                                               // queued
  const std::uint64_t end = rig.frame();
  rig.retire(EndReason::offline);
  EXPECT_EQ(rig.returned(), rig.sent());
  for (std::uint64_t v = 1; v <= 3; ++v) {
    ASSERT_TRUE(rig.ended(v));
    EXPECT_EQ(rig.ended(v)->frame, end);
    EXPECT_EQ(rig.ended(v)->reason, v == 2 ? EndReason::unloaded : EndReason::offline);
  }
  EXPECT_TRUE(rig.started(1)->started);
  EXPECT_FALSE(rig.started(3)->started);
  EXPECT_EQ(rig.count(Kind::clip_released), 2);
  EXPECT_EQ(rig.engine().live_voices(), 0u);
}

TEST(Voices, IdleCyclesWriteSilence) {
  Config config;
  config.outputs = 3;
  Rig rig(config);
  rig.run(1024, 256);
  for (std::uint32_t o = 0; o < 3; ++o) {
    for (std::uint64_t f = Rig::kBase; f < Rig::kBase + 1024; ++f)
      ASSERT_EQ(rig.out(o, f), 0.0f);
  }
}

}  // namespace
}  // namespace clipd::engine::test
