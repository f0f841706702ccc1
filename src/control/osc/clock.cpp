#include "control/osc/clock.hpp"

#include <cmath>

namespace clipd::control::osc {

std::int64_t unix_usecs(Timetag tag) noexcept {
  const std::int64_t seconds = static_cast<std::int64_t>(tag.seconds) - kNtpToUnixSeconds;
  const std::int64_t micros =
      static_cast<std::int64_t>((std::uint64_t{tag.fraction} * 1000000 + (1u << 31)) >> 32);
  return seconds * 1000000 + micros;
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

std::uint64_t frame_of(Timetag tag, const ClockReading& clock,
                       std::uint64_t margin_usecs) noexcept {
  if (tag.immediate()) {
    std::uint64_t frame = clock.last_frame + clock.buffer_size;
    if (clock.sample_rate != 0) {
      const std::uint64_t period = std::uint64_t{clock.buffer_size} * 1000000 / clock.sample_rate;
      const std::uint64_t elapsed =
          clock.server_usecs > clock.last_usecs ? clock.server_usecs - clock.last_usecs : 0;
      if (elapsed + margin_usecs >= period) frame += clock.buffer_size;
    }
    return frame;
  }
  // Server time of the tag, then its distance from the last cycle's first frame.
  const long double server = static_cast<long double>(clock.server_usecs) +
                             static_cast<long double>(unix_usecs(tag) - clock.realtime_usecs);
  const long double frames =
      (server - static_cast<long double>(clock.last_usecs)) * clock.sample_rate / 1e6L;
  const long double frame = static_cast<long double>(clock.last_frame) + std::round(frames);
  if (frame < 0) return 0;
  if (frame > 1.8e19L) return ~std::uint64_t{0} >> 1;
  return static_cast<std::uint64_t>(frame);
}

}  // namespace clipd::control::osc
