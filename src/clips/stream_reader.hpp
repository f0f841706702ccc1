// Reads a streamed clip's frames at the engine's rate from any position: libsndfile decodes, soxr
// resamples, and the result equals the whole-file decode (clips/decode.hpp) frame for frame.
//
// Equal rates: an exact seek (sf_seek; libFLAC seeks to the sample) and the same samples, bit for
// bit. Resampled: soxr is a linear filter whose phases repeat every second of input, so a run
// started on a whole second of input, at least one second before the frame wanted, meets the
// frame with the same filter history as the whole-file run (only the rounding of its internal
// blocks differs, far below 100 dB); the frames before the one wanted are dropped. The end is
// the whole-file decode's: soxr flushed, then zeros up to resampled_length(). Non-finite samples
// become 0, as in the whole-file decode.
//
// Thread contract: one reader per thread at a time (a disk thread); any thread but the audio
// thread. Note: allocates, blocks on file I/O.
#pragma once

#include <sndfile.h>
#include <soxr.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "clips/stream_file.hpp"

namespace clipd::clips {

class StreamReader {
 public:
  // Opens the file and checks it is the one loaded; null with the reason in `error` otherwise.
  static std::unique_ptr<StreamReader> open(std::shared_ptr<const StreamFile> file,
                                            std::string& error);
  ~StreamReader();
  StreamReader(const StreamReader&) = delete;
  StreamReader& operator=(const StreamReader&) = delete;

  // The next read() starts at engine-rate frame `pos` (< frames). False on a read error.
  bool seek(std::uint64_t pos);
  // Fills out[c][0..n) for every channel with the next n frames (n <= frames - position());
  // false on an error (a short read before the file's end, a decoder error), with the reason
  // in error().
  bool read(float* const* out, std::uint64_t n);

  std::uint64_t position() const noexcept { return out_pos_; }
  const StreamFile& file() const noexcept { return *file_; }
  const std::string& error() const noexcept { return error_; }

 private:
  StreamReader() = default;
  // Reads the next block of input into in_ (in_have frames); false on an error.
  bool fill_input();
  // Produces n frames into out (or, with out null, drops them).
  bool produce(float* const* out, std::uint64_t n);

  std::shared_ptr<const StreamFile> file_;
  SNDFILE* sf_ = nullptr;
  soxr_t soxr_ = nullptr;
  std::vector<float> in_;        // interleaved input block
  std::uint64_t in_have_ = 0;    // frames of in_ not yet taken by soxr
  std::uint64_t in_offset_ = 0;  // first of them
  std::uint64_t in_pos_ = 0;     // source frames read from the file
  bool flushing_ = false;        // the whole input went into soxr
  std::uint64_t out_pos_ = 0;    // engine-rate frame of the next output
  std::vector<float> drop_;      // where dropped frames go
  std::string error_;
};

}  // namespace clipd::clips
