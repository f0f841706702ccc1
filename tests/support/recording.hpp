// clipd test support: reads what clipd-record wrote.
//
// PREFIX.f32      interleaved float32, native byte order (little-endian on every supported
//                 machine), channels in the order the ports were given; frame i of the file is
//                 the server's frame first_frame + i.
// PREFIX.periods  text, one "key value" per line:
//                   clipd-record 1
//                   rate 48000
//                   channels 2
//                   first_frame 3072
//                   frames 48000
//                   gaps 0                  (periods that did not start where the last ended)
//                   period FRAME NFRAMES    (one line per period holding recorded samples)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace clipd::test {

struct RecordedPeriod {
  std::uint64_t frame = 0;
  std::uint32_t nframes = 0;
};

struct Recording {
  std::uint32_t rate = 0;
  std::uint32_t channels = 0;
  std::uint64_t first_frame = 0;
  std::uint64_t frames = 0;
  std::uint64_t gaps = 0;
  std::vector<float> samples;  // interleaved
  std::vector<RecordedPeriod> periods;

  float at(std::uint64_t frame_index, std::uint32_t channel) const {
    return samples[frame_index * channels + channel];
  }
};

// Throws std::runtime_error on a missing or malformed file.
Recording read_recording(const std::string& prefix);

}  // namespace clipd::test
