// FrameClock: jack_last_frame_time() extended to 64 bits across the 32-bit wrap.
#include <gtest/gtest.h>

#include <cstdint>

#include "backend/jack/frame_clock.hpp"

namespace {

using clipd::backend::jack::FrameClock;

TEST(FrameClock, FollowsTheServerBeforeAnyWrap) {
  FrameClock clock;
  EXPECT_EQ(clock.extend(0), 0u);
  EXPECT_EQ(clock.extend(1024), 1024u);
  EXPECT_EQ(clock.extend(3000000000u), 3000000000u);
}

TEST(FrameClock, CarriesIntoTheHighWordAtEachWrap) {
  FrameClock clock;
  const std::uint32_t period = 1024;
  std::uint32_t now = 0xffffffffu - 3 * period + 1;
  std::uint64_t expected = now;
  for (int i = 0; i < 8; ++i) {  // crosses 2^32 once
    EXPECT_EQ(clock.extend(now), expected) << "cycle " << i;
    now += period;  // wraps as uint32_t
    expected += period;
  }
  EXPECT_GT(expected, std::uint64_t{1} << 32);
  // A second wrap, a long time later.
  EXPECT_EQ(clock.extend(0xfffff000u), (std::uint64_t{1} << 32) + 0xfffff000u);
  EXPECT_EQ(clock.extend(0x00000400u), (std::uint64_t{2} << 32) + 0x400u);
}

TEST(FrameClock, PassesASmallStepBackThrough) {
  FrameClock clock;
  EXPECT_EQ(clock.extend(500000), 500000u);
  EXPECT_EQ(clock.extend(3072), 3072u);  // a counter restart, not a wrap
  EXPECT_EQ(clock.extend(4096), 4096u);
}

TEST(FrameClock, ResetForgetsTheHistory) {
  FrameClock clock;
  clock.extend(0xfffffc00u);
  EXPECT_EQ(clock.extend(0), std::uint64_t{1} << 32);
  clock.reset();
  EXPECT_EQ(clock.extend(0), 0u);
}

}  // namespace
