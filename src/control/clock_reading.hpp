// control/clock_reading.hpp: the engine's clocks as one reading (Controller::clock_reading()),
// for front ends that turn wall-clock times into engine frames (OSC bundles' timetags).
//
// Thread contract: a plain value.
#pragma once

#include <cstdint>

namespace clipd::control {

struct ClockReading {
  std::uint64_t last_frame = 0;  // the first frame of the engine's last cycle
  std::uint64_t last_usecs = 0;  // the server's microsecond clock at that frame
  // The server's estimate of the next cycle's start on that clock (0: none): with last_usecs,
  // the server's own map from time to frames (jack_time_to_frames), which follows the rate the
  // cycles really run at rather than the nominal one.
  std::uint64_t next_usecs = 0;
  // The server's clock and CLOCK_REALTIME (since 1970) at one moment, in nanoseconds.
  std::uint64_t server_nsecs = 0;
  std::int64_t realtime_nsecs = 0;
  std::uint32_t sample_rate = 0;
  std::uint32_t buffer_size = 0;  // the frames of the engine's last cycle
};

}  // namespace clipd::control
