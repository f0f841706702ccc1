#include "control/osc/clock.hpp"

#include <cmath>

namespace clipd::control::osc {

std::int64_t unix_usecs(Timetag tag) noexcept {
  const std::int64_t seconds = static_cast<std::int64_t>(tag.seconds) - kNtpToUnixSeconds;
  const std::int64_t micros =
      static_cast<std::int64_t>((std::uint64_t{tag.fraction} * 1000000 + (1u << 31)) >> 32);
  return seconds * 1000000 + micros;
}

std::int64_t unix_nsecs(Timetag tag) noexcept {
  const std::int64_t seconds = static_cast<std::int64_t>(tag.seconds) - kNtpToUnixSeconds;
  const std::int64_t nanos =
      static_cast<std::int64_t>((std::uint64_t{tag.fraction} * 1000000000 + (1u << 31)) >> 32);
  return seconds * 1000000000 + nanos;
}

Timetag timetag_of_unix_usecs(std::int64_t usecs) noexcept {
  const std::int64_t seconds = usecs >= 0 ? usecs / 1000000 : (usecs - 999999) / 1000000;
  const std::int64_t micros = usecs - seconds * 1000000;
  Timetag tag;
  tag.seconds = static_cast<std::uint32_t>(seconds + kNtpToUnixSeconds);
  tag.fraction = static_cast<std::uint32_t>((static_cast<std::uint64_t>(micros) << 32) / 1000000);
  if (tag.immediate()) tag.fraction = 2;  // never the immediate tag by accident
  return tag;
}

namespace {

// The microseconds the last cycle lasts by the server's clock: the server's own estimate when it
// gave one that is plausible (within half and twice the nominal length), else the nominal length.
long double cycle_usecs(const ClockReading& clock) noexcept {
  const long double nominal = clock.sample_rate != 0 ? static_cast<long double>(clock.buffer_size) *
                                                           1e6L / clock.sample_rate
                                                     : 0.0L;
  if (clock.next_usecs > clock.last_usecs) {
    const auto estimate = static_cast<long double>(clock.next_usecs - clock.last_usecs);
    if (nominal == 0 || (estimate > nominal / 2 && estimate < nominal * 2)) return estimate;
  }
  return nominal;
}

}  // namespace

std::uint64_t frame_of(Timetag tag, const ClockReading& clock,
                       std::uint64_t margin_usecs) noexcept {
  const long double period = cycle_usecs(clock);
  const auto now_usecs = static_cast<std::int64_t>(clock.server_nsecs / 1000);
  const auto last = static_cast<std::int64_t>(clock.last_usecs);
  if (tag.immediate()) {
    std::uint64_t frame = clock.last_frame + clock.buffer_size;
    if (period > 0) {
      const std::int64_t elapsed = now_usecs > last ? now_usecs - last : 0;
      if (static_cast<long double>(elapsed) + static_cast<long double>(margin_usecs) >= period) {
        frame += clock.buffer_size;
      }
    }
    return frame;
  }
  if (period <= 0) return clock.last_frame;
  // Server time of the tag, then its distance from the last cycle's first frame in cycles of
  // `period`, each `buffer_size` frames long: the server's own map from time to frames (JACK's
  // jack_time_to_frames), rounded to the nearest frame the way it rounds.
  const std::int64_t from_last_ns =
      static_cast<std::int64_t>(server_nsecs_at(tag, clock)) - last * 1000;
  const long double frames = std::rint(static_cast<double>(from_last_ns) / 1000.0 /
                                       static_cast<double>(period) * clock.buffer_size);
  const long double frame = static_cast<long double>(clock.last_frame) + frames;
  if (frame < 0) return 0;
  if (frame > 1.8e19L) return ~std::uint64_t{0} >> 1;
  return static_cast<std::uint64_t>(frame);
}

std::int64_t server_nsecs_at(Timetag tag, const ClockReading& clock) noexcept {
  return static_cast<std::int64_t>(clock.server_nsecs) + (unix_nsecs(tag) - clock.realtime_nsecs);
}

std::uint64_t server_nsecs_of(Timetag tag, const ClockReading& clock) noexcept {
  if (tag.immediate()) return 0;
  const std::int64_t nsecs = server_nsecs_at(tag, clock);
  return nsecs > 0 ? static_cast<std::uint64_t>(nsecs) : 0;
}

}  // namespace clipd::control::osc
