// control/osc/clock.hpp: from an OSC timetag to the engine frame it names.
//
// A timetag is wall-clock time (NTP, so CLOCK_REALTIME). The engine's frames are tied to the
// audio server's microsecond clock (JACK's jack_get_time(), PipeWire's CLOCK_MONOTONIC): each
// cycle publishes its first frame and that clock's time at it. A reading of both clocks taken
// together converts wall-clock time to server time, and the rate turns the distance from the
// last cycle into frames.
//
// Thread contract: pure; any thread.
#pragma once

#include <cstdint>

#include "control/clock_reading.hpp"
#include "control/osc/packet.hpp"

namespace clipd::control::osc {

using control::ClockReading;

// Seconds from 1900 (NTP) to 1970 (Unix).
inline constexpr std::int64_t kNtpToUnixSeconds = 2208988800;

// Microseconds and nanoseconds since 1970 of a timetag.
std::int64_t unix_usecs(Timetag tag) noexcept;
std::int64_t unix_nsecs(Timetag tag) noexcept;
// The timetag of microseconds since 1970.
Timetag timetag_of_unix_usecs(std::int64_t usecs) noexcept;

// The engine frame a timetag names, rounded to the nearest; 0 for times before frame 0.
//
// The immediate timetag is the first frame of the next cycle (last_frame + buffer_size), unless
// that cycle starts within `margin_usecs` of the reading: then the one after. The margin is the
// time the caller needs to hand its messages over; a batch caught by a cycle's start half
// before and half after it would act on two frames.
std::uint64_t frame_of(Timetag tag, const ClockReading& clock,
                       std::uint64_t margin_usecs = 0) noexcept;

// The time of a timetag on the server's clock, in nanoseconds (the clock of ClockReading's
// server_nsecs): server_nsecs_at() for any timetag (may be negative), server_nsecs_of() 0 for
// the immediate timetag and for times before the clock's zero.
std::int64_t server_nsecs_at(Timetag tag, const ClockReading& clock) noexcept;
std::uint64_t server_nsecs_of(Timetag tag, const ClockReading& clock) noexcept;

}  // namespace clipd::control::osc
