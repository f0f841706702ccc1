// Timed stop and set: kept by frame and arrival order, never blocking the queue, bounded by
// Config::max_pending, and released when the voice they name ends.
#include <gtest/gtest.h>

#include <vector>

#include "rig.hpp"

namespace clipd::engine::test {
namespace {

// Every returned set, in the order it came back.
std::vector<SetPayload> returned_sets(const Rig& rig) {
  std::vector<SetPayload> out;
  for (const auto& m : rig.events()) {
    if (m.kind == Kind::set) out.push_back(m.set);
  }
  return out;
}

TEST(Timed, ActInFrameOrderAndTiesInArrivalOrder) {
  Rig rig;
  TestClip clip(48000, 1, 41);
  rig.add_clip(0, clip);
  rig.play(1, 0);
  rig.cycle(128);
  const std::uint64_t t = rig.frame();
  // Sent out of frame order; two on the frame t + 300 (0.5 first, then 0.9).
  rig.send(Message::set_gain(1, 0.3f, 0, t + 777));
  rig.send(Message::set_gain(1, 0.7f, 0, t + 101));
  rig.send(Message::set_gain(1, 0.5f, 0, t + 300));
  rig.send(Message::set_gain(1, 0.9f, 0, t + 300));
  rig.run(1024, 128);
  for (std::uint64_t f = t; f < t + 1024; ++f) {
    const float g = f < t + 101 ? 1.0f : f < t + 300 ? 0.7f : f < t + 777 ? 0.9f : 0.3f;
    ASSERT_EQ(rig.out(0, f), clip.at(0, f - Rig::kBase) * g) << "frame t + " << f - t;
    ASSERT_EQ(rig.out(1, f), clip.at(0, f - Rig::kBase) * g) << "frame t + " << f - t;
  }
  const auto sets = returned_sets(rig);
  ASSERT_EQ(sets.size(), 4u);
  const float order[] = {0.7f, 0.5f, 0.9f, 0.3f};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(sets[i].gain, order[i]);
    EXPECT_TRUE(sets[i].found);
  }
}

// A set that waited for frame F and one that arrives in the cycle starting at F (for F, or for
// now): the one sent first acts first, so the later gain stays.
TEST(Timed, ACommandArrivingOnItsFrameActsAfterTheOnesWaitingForIt) {
  Rig rig;
  TestClip clip(48000, 1, 44);
  rig.add_clip(0, clip);
  Message one = Message::play_default(1, 0);
  one.play.outputs = 0b01;
  Message two = Message::play_default(2, 0);
  two.play.outputs = 0b10;
  rig.play(one);
  rig.play(two);
  rig.cycle(128);
  const std::uint64_t t = rig.frame() + 128;  // the first frame of the cycle after the next
  rig.send(Message::set_gain(1, 0.5f, 0, t));
  rig.send(Message::set_gain(2, 0.5f, 0, t));
  rig.cycle(128);  // they wait
  ASSERT_EQ(rig.frame(), t);
  rig.send(Message::set_gain(1, 0.25f, 0, t));  // taken in the cycle that starts at t
  rig.send(Message::set_gain(2, 0.25f, 0));
  rig.cycle(128);
  for (std::uint64_t f = t; f < t + 128; ++f) {
    ASSERT_EQ(rig.out(0, f), clip.at(0, f - Rig::kBase) * 0.25f) << "frame t + " << f - t;
    ASSERT_EQ(rig.out(1, f), clip.at(0, f - Rig::kBase) * 0.25f) << "frame t + " << f - t;
  }
}

TEST(Timed, AStopAndASetOnOneFrameActInArrivalOrder) {
  Rig rig;
  TestClip clip(48000, 1, 42);
  rig.add_clip(0, clip);
  rig.play(1, 0);
  rig.play(2, 0);
  rig.cycle(64);
  const std::uint64_t t = rig.frame();
  rig.send(Message::stop_cmd(StopTarget::voice, 1, 0, t + 50));  // then a set: finds nothing
  rig.send(Message::set_gain(1, 0.5f, 0, t + 50));
  rig.send(Message::set_gain(2, 0.5f, 0, t + 50));  // a set, then the stop: found
  rig.send(Message::stop_cmd(StopTarget::voice, 2, 0, t + 50));
  rig.cycle(128);
  ASSERT_TRUE(rig.ended(1) && rig.ended(2));
  EXPECT_EQ(rig.ended(1)->frame, t + 50);
  EXPECT_EQ(rig.ended(2)->frame, t + 50);
  // Voice 1's set came after its stop: nothing to act on. Voice 2's came before: it acted.
  const auto sets = returned_sets(rig);
  ASSERT_EQ(sets.size(), 2u);
  for (const auto& set : sets)
    EXPECT_EQ(set.found, set.voice == 2) << set.voice;
  for (std::uint64_t f = t; f < t + 128; ++f) {
    const float want = f < t + 50 ? clip.at(0, f - Rig::kBase) * 2.0f : 0.0f;
    ASSERT_EQ(rig.out(0, f), want) << f - t;
  }
}

TEST(Timed, AFullStoreSendsTheRestBackAndThePlayAfterItStartsOnTime) {
  Config config;
  config.max_pending = 1024;
  Rig rig(config);
  TestClip clip(4800, 2, 43);
  rig.add_clip(0, clip);
  Message loop = Message::play_default(1, 0);
  loop.play.loops = kLoopForever;
  rig.play(loop);
  rig.cycle(256);
  const std::uint64_t hour = rig.frame() + 3600ull * 48000;
  for (int i = 0; i < 3000; ++i)
    rig.send(Message::set_gain(1, 0.5f, 0, hour + static_cast<std::uint64_t>(i)));
  // 3,002 more messages at 256 a cycle: all taken within 12 cycles; the play is due after that.
  const std::uint64_t start = rig.frame() + 14 * 256 + 17;
  rig.play(2, 0, start);
  rig.run(16 * 256, 256);
  ASSERT_TRUE(rig.started(2));
  EXPECT_TRUE(rig.started(2)->started);
  EXPECT_EQ(rig.started(2)->frame, start);
  EXPECT_FALSE(rig.started(2)->late);
  // 1,024 wait; the other 1,976 came back at once, unacted.
  auto sets = returned_sets(rig);
  EXPECT_EQ(sets.size(), 3000u - 1024u);
  for (const auto& s : sets)
    ASSERT_FALSE(s.found);
  // Voice 2 plays from its frame, beside voice 1 (untouched by the waiting sets).
  for (std::uint64_t f = start; f < start + 256; ++f) {
    const float v1 = clip.at(0, (f - Rig::kBase) % clip.frames());
    ASSERT_EQ(rig.out(0, f), v1 + clip.at(0, f - start)) << f - start;
  }
  // Stopping voice 1 releases the 1,024 that wait for it, at once.
  rig.send(Message::stop_cmd(StopTarget::voice, 1, 0));
  rig.cycle(256);
  ASSERT_TRUE(rig.ended(1));
  sets = returned_sets(rig);
  EXPECT_EQ(sets.size(), 3000u);
  for (const auto& s : sets)
    ASSERT_FALSE(s.found);
  rig.retire(EndReason::shutdown);
  EXPECT_EQ(rig.returned(), rig.sent());
}

TEST(Timed, AVoiceThatEndsReleasesWhatWaitsForIt) {
  Rig rig;
  TestClip clip(1000, 1, 44);
  rig.add_clip(0, clip);
  rig.play(1, 0);
  rig.cycle(64);
  const std::uint64_t far = rig.frame() + 100000;
  rig.send(Message::stop_cmd(StopTarget::voice, 1, 0, far));
  rig.send(Message::set_pan(1, 0.5f, 0, far));
  rig.send(Message::stop_cmd(StopTarget::clip, 0, 0, far));  // names no voice: keeps waiting
  rig.cycle(64);
  EXPECT_FALSE(rig.last(Kind::stop));
  EXPECT_FALSE(rig.last(Kind::set));
  rig.run(1024, 64);  // the clip ends (1,000 frames)
  ASSERT_TRUE(rig.ended(1));
  EXPECT_EQ(rig.ended(1)->reason, EndReason::finished);
  EXPECT_EQ(rig.count(Kind::stop), 1);
  ASSERT_TRUE(rig.last(Kind::stop));
  EXPECT_EQ(rig.last(Kind::stop)->stop.target, StopTarget::voice);
  EXPECT_EQ(rig.last(Kind::stop)->stop.stopped, 0u);
  ASSERT_TRUE(rig.last(Kind::set));
  EXPECT_FALSE(rig.last(Kind::set)->set.found);
  // A timed command naming no live voice comes back at once.
  rig.send(Message::set_gain(77, 0.5f, 0, far));
  rig.send(Message::stop_cmd(StopTarget::voice, 78, 0, far));
  rig.cycle(64);
  EXPECT_EQ(rig.count(Kind::set), 2);
  EXPECT_EQ(rig.count(Kind::stop), 2);
  rig.retire(EndReason::shutdown);  // the clip stop comes back now
  EXPECT_EQ(rig.count(Kind::stop), 3);
  EXPECT_EQ(rig.returned(), rig.sent());
}

}  // namespace
}  // namespace clipd::engine::test
