// Decoding one file into a clip: open without blocking, reserve the budget, decode and resample
// in blocks straight into the clip's final planar buffer.
//
// Error mapping (the error codes of clipd-protocol(7)):
//   file-not-found      open() says the path does not exist (ENOENT, ENOTDIR, ELOOP,
//                       ENAMETOOLONG)
//   permission-denied   open() says EACCES or EPERM
//   unsupported-format  not a regular file (folder, FIFO, socket, device); libsndfile cannot open
//                       it (unknown container, garbage, text, a header cut short or malformed,
//                       zero channels); zero frames; more channels than max_channels
//   decode-failed       it opened, but its audio cannot be read in full: a read error, or the
//                       stream ends before the frame count libsndfile announced (FLAC,
//                       Vorbis, Opus), or its length is unknown (an Ogg stream cut short),
//                       or a WAV/AIFF/RF64/W64 data chunk is shorter than its header says
//                       (libsndfile shortens the count silently and notes it in its log; clipd
//                       reads that note, so a file cut short never loads as a shorter clip)
//   memory-budget       the decoded size (frames x channels x 4 bytes at the target rate,
//                       page-rounded) does not fit in what is left of the budget; a header that
//                       announces more than the whole budget (terabytes) is refused this way
//                       before anything big is allocated, also when the file holds less
//   cancelled           the stop token was set; checked before opening and between blocks
// MPEG audio has no reliable length field (libsndfile's count is an estimate unless a Xing/LAME
// header gives it), so an MP3 is decoded once to count its frames before the reservation; a cut
// MP3 therefore loads the frames it still holds, as players play it, unless the decoder reports
// an error.
// The message names the file and gives the reason (libsndfile's where it has one).
#pragma once

#include <cstdint>
#include <stop_token>

#include "clips/load_request.hpp"
#include "clips/loaded_clip.hpp"
#include "clips/memory_budget.hpp"
#include "clips/pcm_buffer.hpp"

namespace clipd::clips {

// Frames libsoxr yields for `frames` input frames at in_rate -> out_rate once flushed: the
// exact length rounded to nearest (half up). Equals `frames` when the rates are equal.
std::uint64_t resampled_length(std::uint64_t frames, std::uint32_t in_rate,
                               std::uint32_t out_rate) noexcept;

// Decodes `request` on the calling thread (MP3: twice, see above). Resamples with libsoxr (high
// quality) when the source rate differs from request.target_rate (0 keeps the source rate). The
// result's clip holds a reservation of budget for its size. Peak memory: the clip itself plus one
// block of interleaved input and the resampler's state (well under a megabyte). Thread contract:
// any thread but the audio thread; several may run at once. Note: allocates, blocks on file I/O.
LoadResult decode_clip(const LoadRequest& request, MemoryBudget& budget, std::stop_token stop = {},
                       const WarnFn& warn = {});

}  // namespace clipd::clips
