// Bit-exact playback, exact start frames, loops and lengths, rendered offline sample by sample.
#include <gtest/gtest.h>

#include <vector>

#include "rig.hpp"

namespace clipd::engine::test {
namespace {

// Checks that [start, start + frames) of each output carries the clip bit for bit (mono clip on
// every output, stereo one to one) and that the frames around it are silent.
void expect_clip_at(const Rig& rig, const TestClip& clip, std::uint64_t start,
                    std::uint32_t outputs) {
  for (std::uint32_t o = 0; o < outputs; ++o) {
    const std::uint32_t c = clip.samples().channels == 1 ? 0 : o;
    for (std::uint64_t k = 0; k < clip.frames(); ++k) {
      ASSERT_EQ(rig.out(o, start + k), clip.at(c, k)) << "output " << o << " frame " << k;
    }
    if (start > Rig::kBase) {
      ASSERT_EQ(rig.out(o, start - 1), 0.0f);
    }
    ASSERT_EQ(rig.out(o, start + clip.frames()), 0.0f);
  }
}

struct BitExactCase {
  std::uint32_t period;
  std::uint32_t channels;
};

class BitExact : public ::testing::TestWithParam<BitExactCase> {};

TEST_P(BitExact, DefaultPlayReproducesTheClipAtTheRequestedFrame) {
  const auto [period, channels] = GetParam();
  // Starts just before, on and just after a period boundary, and one inside a period.
  const std::int64_t deltas[] = {-1, 0, 1, static_cast<std::int64_t>(period / 2) + 3};
  for (std::int64_t delta : deltas) {
    Rig rig;
    TestClip clip(3 * period + 77, channels, period + channels);
    rig.add_clip(0, clip);
    const std::uint64_t at = Rig::kBase + 2 * period + delta;
    rig.play(7, 0, at);
    rig.run(std::uint64_t{period} * 7 + clip.frames(), period);
    ASSERT_NO_FATAL_FAILURE(expect_clip_at(rig, clip, at, 2));
    const auto started = rig.started(7);
    const auto ended = rig.ended(7);
    ASSERT_TRUE(started && ended);
    EXPECT_TRUE(started->started);
    EXPECT_FALSE(started->late);
    EXPECT_EQ(started->frame, at);
    EXPECT_EQ(ended->frame, at + clip.frames());
    EXPECT_EQ(ended->reason, EndReason::finished);
  }
}

INSTANTIATE_TEST_SUITE_P(Periods, BitExact,
                         ::testing::Values(BitExactCase{32, 1}, BitExactCase{32, 2},
                                           BitExactCase{64, 1}, BitExactCase{64, 2},
                                           BitExactCase{256, 1}, BitExactCase{256, 2},
                                           BitExactCase{1024, 1}, BitExactCase{1024, 2},
                                           BitExactCase{4096, 1}, BitExactCase{4096, 2},
                                           BitExactCase{8192, 1}, BitExactCase{8192, 2}));

TEST(Playback, BitExactAcrossBufferSizeChanges) {
  Rig rig;
  TestClip mono(30000, 1, 3), stereo(30000, 2, 4);
  rig.add_clip(0, mono);
  rig.add_clip(1, stereo, 99);
  rig.cycle(64);
  const std::uint64_t at = rig.frame() + 100;
  rig.play(1, 0, at);
  rig.play(2, 1, at + 50000);
  const std::uint32_t periods[] = {64, 256, 32, 8192, 1024, 4096, 128, 8192, 32, 2048};
  for (int round = 0; round < 4; ++round) {
    for (std::uint32_t p : periods)
      rig.cycle(p);
  }
  ASSERT_NO_FATAL_FAILURE(expect_clip_at(rig, mono, at, 2));
  ASSERT_NO_FATAL_FAILURE(expect_clip_at(rig, stereo, at + 50000, 2));
  EXPECT_EQ(rig.ended(2)->frame - rig.started(2)->frame, stereo.frames());
}

TEST(Playback, PlayWithoutFrameStartsAtTheCycleAndIsNotLate) {
  Rig rig;
  TestClip clip(500, 2, 5);
  rig.add_clip(0, clip);
  rig.cycle(64);
  const std::uint64_t cycle_start = rig.frame();
  rig.play(3, 0);
  rig.run(1024, 64);
  EXPECT_EQ(rig.started(3)->frame, cycle_start);
  EXPECT_FALSE(rig.started(3)->late);
  ASSERT_NO_FATAL_FAILURE(expect_clip_at(rig, clip, cycle_start, 2));
}

TEST(Playback, LateStartPlaysAtTheCycleStartAndSaysSo) {
  Rig rig;
  TestClip clip(300, 1, 6);
  rig.add_clip(0, clip);
  rig.run(256, 64);
  const std::uint64_t cycle_start = rig.frame();
  rig.play(4, 0, cycle_start - 10);
  rig.run(512, 64);
  EXPECT_EQ(rig.started(4)->frame, cycle_start);
  EXPECT_TRUE(rig.started(4)->late);
  ASSERT_NO_FATAL_FAILURE(expect_clip_at(rig, clip, cycle_start, 2));
  EXPECT_EQ(rig.ended(4)->frame, cycle_start + clip.frames());
}

// The expected sequence of clip frames for a play region.
std::vector<std::uint64_t> play_order(std::uint64_t frames, std::uint64_t offset,
                                      std::uint64_t loop_start, std::uint64_t loop_end,
                                      std::uint32_t loops, std::uint64_t length,
                                      std::uint64_t limit) {
  std::vector<std::uint64_t> seq;
  if (loop_end - loop_start < kMinLoopFrames) loops = 0;  // too short: played as no loop
  const std::uint64_t first_end = loops == 0 ? frames : loop_end;
  for (std::uint64_t f = offset; f < first_end; ++f)
    seq.push_back(f);
  for (std::uint32_t pass = 1; loops != 0 && (loops == kLoopForever || pass < loops); ++pass) {
    if (seq.size() >= limit) break;
    for (std::uint64_t f = loop_start; f < loop_end; ++f)
      seq.push_back(f);
  }
  if (seq.size() > length) seq.resize(length);
  if (seq.size() > limit) seq.resize(limit);
  return seq;
}

struct LoopCase {
  std::uint64_t offset, loop_start, loop_end;
  std::uint32_t loops;
  std::uint64_t length;
  std::uint32_t period;
};

class Loops : public ::testing::TestWithParam<LoopCase> {};

TEST_P(Loops, SeamlessAndEndingOnTheLastSample) {
  const LoopCase c = GetParam();
  Rig rig;
  TestClip clip(1000, 2, 8);
  rig.add_clip(0, clip);
  Message m = Message::play_default(11, 0);
  m.play.offset = c.offset;
  m.play.loop_start = c.loop_start;
  m.play.loop_end = c.loop_end;
  m.play.loops = c.loops;
  m.play.length = c.length;
  const std::uint64_t at = Rig::kBase + 37;
  m.play.at_frame = at;
  rig.play(m);
  const std::uint64_t render = 40000;
  rig.run(render, c.period);
  const auto seq = play_order(clip.frames(), c.offset, c.loop_start, c.loop_end, c.loops, c.length,
                              render - 200);
  for (std::uint32_t o = 0; o < 2; ++o) {
    for (std::uint64_t k = 0; k < seq.size(); ++k) {
      ASSERT_EQ(rig.out(o, at + k), clip.at(o, seq[k])) << "output " << o << " sample " << k;
    }
  }
  const auto ended = rig.ended(11);
  const bool looping = c.loop_end - c.loop_start >= kMinLoopFrames;
  if (looping && c.loops == kLoopForever && c.length == kUnlimited) {
    EXPECT_FALSE(ended.has_value());
    rig.send(Message::stop_cmd(StopTarget::voice, 11, 0));
    rig.cycle(c.period);
    ASSERT_TRUE(rig.ended(11));
    EXPECT_EQ(rig.ended(11)->reason, EndReason::stopped);
  } else {
    ASSERT_TRUE(ended);
    EXPECT_EQ(ended->reason, EndReason::finished);
    EXPECT_EQ(ended->frame - rig.started(11)->frame, seq.size());
    EXPECT_EQ(rig.out(0, at + seq.size()), 0.0f);
    EXPECT_EQ(rig.out(1, at + seq.size()), 0.0f);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Regions, Loops,
    ::testing::Values(LoopCase{0, 0, 1000, kLoopForever, kUnlimited, 64},  // whole clip, endless
                      LoopCase{0, 0, 1000, 5, kUnlimited, 256},            // whole clip, 5 passes
                      LoopCase{100, 200, 700, 4, kUnlimited, 64},          // region, counted
                      LoopCase{0, 200, 264, kLoopForever, kUnlimited, 1024},  // shortest region
                      LoopCase{0, 200, 264, 40, kUnlimited, 2048},            // shortest, 40 passes
                      LoopCase{70, 0, 64, 9, kUnlimited, 8192},  // from past the region's end
                      LoopCase{0, 200, 263, kLoopForever, kUnlimited, 256},  // too short: no loop
                      LoopCase{650, 200, 700, 3, kUnlimited, 32},            // offset in region
                      LoopCase{10, 100, 300, kLoopForever, 2345, 64},        // length cap
                      LoopCase{0, 0, 1000, 0, 500, 128},                     // length, no loop
                      LoopCase{300, 0, 400, 0, kUnlimited, 64},              // no loop: to the end
                      LoopCase{0, 5, 6, 100, kUnlimited, 32},                // 1-frame: no loop
                      LoopCase{0, 5, 6, kLoopForever, kUnlimited, 2048}));

}  // namespace
}  // namespace clipd::engine::test
