// Decoding one file into a clip: open without blocking, reserve the budget, decode and resample
// in blocks straight into the clip's final planar buffer.
//
// Length: what the file really holds, whatever its header says.
//   Uncompressed data (PCM or float in WAV, AIFF, RF64, W64, AU, ...): the frames the file's size
//   gives (libsndfile cuts a data chunk announcing more, up to 4 GiB, to the bytes present;
//   an incomplete last frame is dropped), never more than a frame count the header states (AIFF
//   COMM, RF64 ds64) or a data chunk's own size. A WAV data chunk of size 0 (a writer that never
//   came back to fill it in) means "to the end of the file". These sizes are exact, so the clip
//   is reserved in one step.
//   Compressed streams (FLAC, Ogg Vorbis, Opus, MPEG): the header's count is a claim (absent in
//   an Ogg stream cut short, 0 from a streaming FLAC encoder, too large in a cut or lying file,
//   estimated for MPEG), so the stream is decoded to its end into a buffer that starts at a
//   guess and grows in steps under the budget, then shrinks to the length found. (libsndfile
//   stops a FLAC at its STREAMINFO count when that is smaller than the stream.)
// A file cut short therefore loads what it holds, as players play it.
//
// Samples: NaN and infinities (a float file can hold them) are replaced by 0 before anything
// else sees them (the resampler included) and counted in ClipInfo::non_finite_samples.
//
// Error mapping (codes of clipd-protocol(7)):
//   file-not-found      open() says the path does not exist (ENOENT, ENOTDIR, ELOOP,
//                       ENAMETOOLONG)
//   permission-denied   open() says EACCES or EPERM
//   unsupported-format  not a regular file (folder, FIFO, socket, device); libsndfile cannot open
//                       it (unknown container, garbage, text, a header cut short or malformed,
//                       zero channels); zero frames; more channels than max_channels
//   decode-failed       it opened, but its audio cannot be read: a read error, or a compressed
//                       stream whose decoder finds garbage (libFLAC reporting bad headers,
//                       checksums or unparseable data, the Ogg reader skipping bytes to find a
//                       page), as opposed to a stream that merely ends early
//   memory-budget       the decoded audio (frames x channels x 4 bytes at the target rate,
//                       page-rounded) does not fit in what is left of the budget: for
//                       uncompressed data known before anything big is allocated; for a
//                       compressed stream once the decoded part has filled all the budget left
//                       and more follows. A claim in a header alone never causes it.
//   cancelled           the stop token was set; checked before opening and between blocks
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

// Decodes `request` on the calling thread. A request with a StreamMode other than never may
// instead give a streamed clip, only its head decoded (clips/stream_load.hpp). Resamples with
// libsoxr (high quality) when the source rate differs from request.target_rate (0 keeps the source
// rate). The result's clip holds a reservation of budget for exactly its size. Peak memory: the
// clip itself (while a compressed stream grows, up to twice what it has decoded so far, within the
// budget) plus one block of interleaved input and the resampler's state (well under a megabyte).
// Thread contract: any thread but the audio thread; several may run at once. Note: allocates,
// blocks on file I/O.
LoadResult decode_clip(const LoadRequest& request, MemoryBudget& budget, std::stop_token stop = {},
                       const WarnFn& warn = {});

}  // namespace clipd::clips
