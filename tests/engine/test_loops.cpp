// Loops wrap inside the mixing of a chunk: the shortest region (kMinLoopFrames) plays seamlessly
// at any period, ramps run on across the wraps, and shorter regions play as no loop.
#include <gtest/gtest.h>

#include "rig.hpp"

namespace clipd::engine::test {
namespace {

constexpr double kTol = 1e-6;

TEST(LoopWraps, TheShortestRegionPlaysExactlyAtEveryPeriod) {
  for (const std::uint32_t period : {1u, 63u, 64u, 65u, 2048u, 8192u}) {
    Rig rig;
    TestClip clip(500, 2, 81);
    rig.add_clip(0, clip);
    Message m = Message::play_default(1, 0);
    m.play.offset = 10;
    m.play.loop_start = 100;
    m.play.loop_end = 100 + kMinLoopFrames;
    m.play.loops = kLoopForever;
    rig.play(m);
    rig.run(3 * 8192, period);
    const std::uint64_t at = rig.started(1)->frame;
    for (std::uint64_t k = 0; at + k < rig.frame(); ++k) {
      const std::uint64_t src = k < 90 ? 10 + k : 100 + (k - 90) % kMinLoopFrames;
      for (std::uint32_t o = 0; o < 2; ++o)
        ASSERT_EQ(rig.out(o, at + k), clip.at(o, src)) << period << " " << k;
    }
    EXPECT_FALSE(rig.ended(1));
  }
}

TEST(LoopWraps, ACountedShortLoopEndsOnItsLastSampleInsideAChunk) {
  Rig rig;
  TestClip clip(300, 1, 82);
  rig.add_clip(0, clip);
  Message m = Message::play_default(1, 0);
  m.play.loop_start = 0;
  m.play.loop_end = 64;
  m.play.loops = 100;  // 6,400 frames, inside one 8,192-frame chunk
  rig.play(m);
  rig.cycle(8192);
  ASSERT_TRUE(rig.ended(1));
  EXPECT_EQ(rig.ended(1)->frame - rig.started(1)->frame, 6400u);
  EXPECT_EQ(rig.ended(1)->reason, EndReason::finished);
  const std::uint64_t at = rig.started(1)->frame;
  for (std::uint64_t k = 0; k < 8192; ++k)
    ASSERT_EQ(rig.out(0, at + k), k < 6400 ? clip.at(0, k % 64) : 0.0f) << k;
}

TEST(LoopWraps, RampsRunOnAcrossTheWraps) {
  Rig rig;
  TestClip clip(200, 2, 83);
  rig.add_clip(0, clip);
  Message m = Message::play_default(1, 0);
  m.play.loop_start = 0;
  m.play.loop_end = 64;
  m.play.loops = kLoopForever;
  m.play.fade_in = 1000;  // a fade alone: the linear kernel
  m.play.pan = 0.25f;
  rig.play(m);
  rig.cycle(2048);
  const std::uint64_t at = rig.started(1)->frame;
  for (std::uint64_t k = 0; k < 2048; ++k) {
    const double env = k < 1000 ? ramp_at(0, 1, k, 1000) : 1.0;
    ASSERT_NEAR(rig.out(0, at + k), clip.at(0, k % 64) * env * 0.75, kTol) << k;
    ASSERT_NEAR(rig.out(1, at + k), clip.at(1, k % 64) * env, kTol) << k;
  }
  // A gain ramp and a pan ramp together (per-sample gains), across wraps.
  const std::uint64_t t = rig.frame();
  rig.send(Message::set_gain(1, 0.5f, 700));
  rig.send(Message::set_pan(1, -1.0f, 900));
  rig.cycle(2048);
  for (std::uint64_t k = 0; k < 2048; ++k) {
    const double gain = k < 700 ? ramp_at(1, 0.5, k, 700) : 0.5;
    const double pan = k < 900 ? ramp_at(0.25, -1, k, 900) : -1.0;
    const std::uint64_t src = (t + k - at) % 64;
    ASSERT_NEAR(rig.out(0, t + k), clip.at(0, src) * gain * std::min(1.0, 1.0 - pan), kTol) << k;
    ASSERT_NEAR(rig.out(1, t + k), clip.at(1, src) * gain * std::min(1.0, 1.0 + pan), kTol) << k;
  }
}

TEST(LoopWraps, RegionsShorterThanTheMinimumPlayAsNoLoop) {
  for (const std::uint64_t length : {std::uint64_t{1}, kMinLoopFrames - 1}) {
    Rig rig;
    TestClip clip(400, 1, 84);
    rig.add_clip(0, clip);
    Message m = Message::play_default(1, 0);
    m.play.loop_start = 5;
    m.play.loop_end = 5 + length;
    m.play.loops = kLoopForever;
    rig.play(m);
    rig.run(1024, 2048);
    ASSERT_TRUE(rig.ended(1));
    EXPECT_EQ(rig.ended(1)->frame - rig.started(1)->frame, 400u);
    const std::uint64_t at = rig.started(1)->frame;
    for (std::uint64_t k = 0; k < 400; ++k)
      ASSERT_EQ(rig.out(0, at + k), clip.at(0, k)) << k;
  }
}

}  // namespace
}  // namespace clipd::engine::test
