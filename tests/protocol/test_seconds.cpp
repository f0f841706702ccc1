// Seconds to frames as the dispatcher converts them: rounded, and never wrapping whatever the
// value (the old conversion overflowed llround and gave 0 for 1e15 s).
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "control/protocol/seconds.hpp"

namespace clipd::protocol {
namespace {

TEST(ProtocolSeconds, ConversionRoundsAndSaturates) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  struct Case {
    double seconds;
    double rate;
    std::uint64_t frames;
  };
  const std::vector<Case> cases = {
      {0, 48000, 0},
      {1.5, 48000, 72000},
      {0.25, 44100, 11025},
      {1.0 / 48000, 48000, 1},
      {0.4 / 48000, 48000, 0},
      {0.6 / 48000, 48000, 1},
      {-1, 48000, 0},
      {-1e300, 48000, 0},
      {-inf, 48000, 0},
      {nan, 48000, 0},
      {max_seconds, max_sample_rate, 768000000000000000},
      {1e15, 48000, max_frames},
      {1e300, 48000, max_frames},
      {inf, 48000, max_frames},
      {max_seconds, 1e300, max_frames},
      {1, 0, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << c.seconds << " s at " << c.rate << " Hz");
    EXPECT_EQ(seconds_to_frames(c.seconds, c.rate), c.frames);
  }
}

}  // namespace
}  // namespace clipd::protocol
