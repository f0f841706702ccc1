// Plays, stops and sets that name a time on the server's clock (at_nsecs): they wait unbound and
// take their frame in the cycle whose span [usecs, next_usecs) holds the time, through that
// cycle's own map (frame + rint(du / dp * nframes)), whatever control estimated.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "rig.hpp"

namespace clipd::engine::test {
namespace {

constexpr std::uint32_t kPeriod = 256;

// Cycles whose lengths on the server's clock vary (a filtered period that moves): cycle k
// starts at start(k) and lasts lengths[k % 4] microseconds.
struct Clock {
  static constexpr std::uint64_t kZero = 5'000'000;
  static constexpr std::uint64_t kLengths[4] = {5333, 5290, 5371, 5400};
  static std::uint64_t start(std::uint64_t k) {
    std::uint64_t t = kZero;
    for (std::uint64_t i = 0; i < k; ++i)
      t += kLengths[i % 4];
    return t;
  }
  // The frame server time `usecs` maps to, by the cycle that holds it.
  static std::uint64_t frame_of(std::uint64_t usecs) {
    std::uint64_t k = 0;
    while (start(k + 1) <= usecs)
      ++k;
    const double du = static_cast<double>(usecs - start(k));
    const double dp = static_cast<double>(start(k + 1) - start(k));
    return Rig::kBase + k * kPeriod + static_cast<std::uint64_t>(std::rint(du / dp * kPeriod));
  }
};

// Runs cycles k = first .. first + count - 1 on Clock.
void run(Rig& rig, std::uint64_t first, std::uint64_t count) {
  for (std::uint64_t k = first; k < first + count; ++k) {
    ASSERT_EQ(rig.frame(), Rig::kBase + k * kPeriod);
    rig.cycle_timed(kPeriod, Clock::start(k), Clock::start(k + 1));
    ASSERT_TRUE(rig.engine().invariants_hold()) << "cycle " << k;
  }
}

Message timed_play(std::uint64_t voice, std::uint32_t clip, std::uint64_t usecs,
                   std::uint64_t estimate) {
  Message m = Message::play_default(voice, clip);
  m.play.at_frame = estimate;
  m.play.at_nsecs = usecs * 1000;
  return m;
}

TEST(ServerTime, APlayStartsOnTheFrameOfTheCycleThatHoldsItsTime) {
  Rig rig;
  TestClip clip(4800, 1, 7);
  rig.add_clip(0, clip);
  run(rig, 0, 1);
  // Times in cycles 3, 5 and 6, each at a sub-period offset; control's estimates are the
  // nominal-rate ones, a few frames off (and one wrongly in the cycle before).
  const std::vector<std::uint64_t> times = {Clock::start(3) + 1234, Clock::start(5) + 17,
                                            Clock::start(6) + 5300};
  for (std::uint64_t i = 0; i < times.size(); ++i) {
    const auto estimate = Rig::kBase + (times[i] - Clock::kZero) * 48 / 1000;
    rig.play(timed_play(10 + i, 0, times[i], estimate));
  }
  run(rig, 1, 10);
  for (std::uint64_t i = 0; i < times.size(); ++i) {
    const auto started = rig.started(10 + i);
    ASSERT_TRUE(started) << i;
    EXPECT_TRUE(started->started);
    EXPECT_FALSE(started->late);
    EXPECT_EQ(started->frame, Clock::frame_of(times[i])) << i;
  }
  // Sample by sample: the first voice's first sample on its frame, up to the second's.
  const std::uint64_t a = Clock::frame_of(times[0]);
  const std::uint64_t b = Clock::frame_of(times[1]);
  ASSERT_GT(b, a + 100);
  for (std::uint64_t f = Rig::kBase; f < b; ++f) {
    const float expected = f < a ? 0.0f : clip.at(0, f - a);
    ASSERT_EQ(rig.out(0, f), expected) << "frame " << f;
  }
}

// Nanoseconds count: two times 2 ns apart on either side of a frame's middle take the two frames.
TEST(ServerTime, NanosecondsDecideBetweenTwoFrames) {
  Rig rig;
  TestClip clip(4800, 1, 5);
  rig.add_clip(0, clip);
  run(rig, 0, 1);
  // Cycle 2 lasts 5371 us for 256 frames: frame 100.5 lies at 100.5 * 5371 / 256 us.
  const double middle_ns = 100.5 * 5371.0 / 256.0 * 1000.0;
  const std::uint64_t base = Clock::start(2) * 1000;
  Message before = Message::play_default(1, 0);
  before.play.at_frame = Rig::kBase + 2 * kPeriod + 100;
  before.play.at_nsecs = base + static_cast<std::uint64_t>(middle_ns) - 1;
  rig.play(before);
  Message after = Message::play_default(2, 0);
  after.play.at_frame = Rig::kBase + 2 * kPeriod + 100;
  after.play.at_nsecs = base + static_cast<std::uint64_t>(middle_ns) + 2;
  rig.play(after);
  run(rig, 1, 3);
  ASSERT_TRUE(rig.started(1) && rig.started(2));
  EXPECT_EQ(rig.started(1)->frame, Rig::kBase + 2 * kPeriod + 100);
  EXPECT_EQ(rig.started(2)->frame, Rig::kBase + 2 * kPeriod + 101);
}

// A time within half a frame of the next cycle's start maps to that cycle's first frame.
TEST(ServerTime, ATimeThatRoundsToTheNextCycleStartsOnItsFirstFrame) {
  Rig rig;
  TestClip clip(4800, 1, 9);
  rig.add_clip(0, clip);
  run(rig, 0, 1);
  const std::uint64_t t = Clock::start(3) - 5;  // 5 us before cycle 3: 0.24 frame
  rig.play(timed_play(1, 0, t, Rig::kBase + 3 * kPeriod - 1));
  run(rig, 1, 5);
  const auto started = rig.started(1);
  ASSERT_TRUE(started);
  EXPECT_FALSE(started->late);
  EXPECT_EQ(started->frame, Rig::kBase + 3 * kPeriod);
  EXPECT_EQ(Clock::frame_of(t), Rig::kBase + 3 * kPeriod);
}

// A time already past when the engine takes the play: the cycle's first frame, late.
TEST(ServerTime, APastTimeStartsAtOnceAndIsLate) {
  Rig rig;
  TestClip clip(4800, 1, 11);
  rig.add_clip(0, clip);
  run(rig, 0, 4);
  rig.play(timed_play(1, 0, Clock::start(2) + 100, Rig::kBase + 2 * kPeriod + 5));
  run(rig, 4, 1);
  const auto started = rig.started(1);
  ASSERT_TRUE(started);
  EXPECT_TRUE(started->late);
  EXPECT_EQ(started->frame, Rig::kBase + 4 * kPeriod);
}

// A server whose cycles do not start where it estimated (PipeWire's next_nsec is an estimate): a
// time between one cycle's estimated end and the next cycle's start is the next cycle's first
// frame, and on time.
TEST(ServerTime, ATimeInAGapBetweenCyclesStartsTheNextCycleOnTime) {
  Rig rig;
  TestClip clip(4800, 1, 23);
  rig.add_clip(0, clip);
  rig.cycle_timed(kPeriod, 1'000'000, 1'005'000);
  rig.play(timed_play(1, 0, 1'010'050, Rig::kBase + 2 * kPeriod));
  rig.cycle_timed(kPeriod, 1'005'000, 1'010'000);  // estimated to end at 1,010,000 us
  rig.cycle_timed(kPeriod, 1'010'100, 1'015'100);  // starts 100 us later
  ASSERT_TRUE(rig.engine().invariants_hold());
  const auto started = rig.started(1);
  ASSERT_TRUE(started);
  EXPECT_FALSE(started->late);
  EXPECT_EQ(started->frame, Rig::kBase + 2 * kPeriod);
}

// A bundle's play and set of one time act on one frame: the set's gain from the first sample.
// A stop of the same time in another voice ends it there.
TEST(ServerTime, PlaysStopsAndSetsOfOneTimeActOnOneFrame) {
  Rig rig;
  TestClip clip(48000, 1, 13);
  rig.add_clip(0, clip);
  rig.play(2, 0);  // sounding from the first cycle, stopped by time below
  run(rig, 0, 1);
  const std::uint64_t t = Clock::start(4) + 2222;
  const std::uint64_t frame = Clock::frame_of(t);
  rig.play(timed_play(1, 0, t, frame + 3));
  Message set = Message::set_gain(1, 0.25f, 0, frame + 3);
  set.set.at_nsecs = t * 1000;
  rig.send(set);
  Message stop = Message::stop_cmd(StopTarget::voice, 2, 0, frame - 4);
  stop.stop.at_nsecs = t * 1000;
  rig.send(stop);
  run(rig, 1, 8);
  const auto started = rig.started(1);
  ASSERT_TRUE(started);
  EXPECT_EQ(started->frame, frame);
  const auto ended = rig.ended(2);
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->frame, frame);
  for (std::uint64_t f = frame - 300; f < frame + 300; ++f) {
    const float expected = f < frame ? clip.at(0, f - Rig::kBase) : clip.at(0, f - frame) * 0.25f;
    ASSERT_EQ(rig.out(0, f), expected) << "frame " << f;
  }
  for (const auto& m : rig.events()) {
    if (m.kind == Kind::set) {
      EXPECT_TRUE(m.set.found);
    }
    if (m.kind == Kind::stop) {
      EXPECT_EQ(m.stop.stopped, 1u);
    }
  }
}

// A voice with a choke group starts on its bound frame and chokes its group there.
TEST(ServerTime, AGroupedPlayChokesItsGroupOnItsBoundFrame) {
  Rig rig;
  TestClip clip(48000, 1, 17);
  rig.add_clip(0, clip);
  Message first = Message::play_default(1, 0);
  first.play.group = 3;
  rig.play(first);
  run(rig, 0, 1);
  const std::uint64_t t = Clock::start(2) + 4000;
  Message second = timed_play(2, 0, t, Rig::kBase);  // an estimate already past: ignored
  second.play.group = 3;
  rig.play(second);
  run(rig, 1, 6);
  const auto started = rig.started(2);
  ASSERT_TRUE(started);
  EXPECT_FALSE(started->late);
  EXPECT_EQ(started->frame, Clock::frame_of(t));
  const auto ended = rig.ended(1);
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->reason, EndReason::choked);
  EXPECT_GE(ended->frame, Clock::frame_of(t));
}

// What waits unbound leaves with its voice: a stop before the time ends the voice unstarted and
// sends its waiting set back unacted; a retire hands back every unbound play and command.
TEST(ServerTime, UnboundWaitsEndWithTheirVoiceAndWithTheEngine) {
  Rig rig;
  TestClip clip(4800, 1, 19);
  rig.add_clip(0, clip);
  run(rig, 0, 1);
  const std::uint64_t t = Clock::start(20);
  rig.play(timed_play(1, 0, t, Rig::kBase + 20 * kPeriod));
  Message set = Message::set_gain(1, 0.5f, 0, Rig::kBase + 20 * kPeriod);
  set.set.at_nsecs = t * 1000;
  rig.send(set);
  run(rig, 1, 1);
  rig.send(Message::stop_cmd(StopTarget::voice, 1, 0));
  run(rig, 2, 1);
  const auto started = rig.started(1);
  ASSERT_TRUE(started);
  EXPECT_FALSE(started->started);
  ASSERT_TRUE(rig.ended(1));
  bool set_back = false;
  for (const auto& m : rig.events()) {
    if (m.kind == Kind::set) {
      set_back = true;
      EXPECT_FALSE(m.set.found);
    }
  }
  EXPECT_TRUE(set_back);

  rig.play(timed_play(2, 0, t, Rig::kBase + 20 * kPeriod));
  Message stop = Message::stop_cmd(StopTarget::all, 0, 0, Rig::kBase + 20 * kPeriod);
  stop.stop.at_nsecs = t * 1000;
  rig.send(stop);
  run(rig, 3, 1);
  rig.retire(EndReason::shutdown);
  EXPECT_TRUE(rig.engine().holds_nothing());
  EXPECT_EQ(rig.returned(), rig.sent());
}

}  // namespace
}  // namespace clipd::engine::test
