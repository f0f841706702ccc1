// Loading a clip to stream (load's `stream`, clipd-protocol(7)): the file is opened and checked
// as for a whole decode, its length at the engine's rate taken from its header, and only its
// head (LoadRequest::head_s seconds) decoded into locked memory, through the same StreamReader
// the disk threads use, so the head equals the whole-file decode's first frames. Disk threads
// (clips/disk_streamer.hpp) read the rest as voices play.
//
// A streamed clip needs its length up front: a compressed stream whose header gives none (an
// Ogg stream cut short, a FLAC from a streaming encoder) cannot stream. Such a file, and any
// file whose decoded size is at most LoadRequest::stream_threshold, is decoded whole under
// StreamMode::automatic; StreamMode::always refuses the first (unsupported-format).
//
// Thread contract: a loader worker. Note: allocates, blocks on file I/O.
#pragma once

#include <optional>
#include <stop_token>

#include "clips/load_request.hpp"
#include "clips/loaded_clip.hpp"
#include "clips/memory_budget.hpp"
#include "clips/pcm_buffer.hpp"

namespace clipd::clips {

// The streamed clip, an error, or nullopt when the request's mode says to decode it whole.
std::optional<LoadResult> load_streamed(const LoadRequest& request, MemoryBudget& budget,
                                        const std::stop_token& stop, const WarnFn& warn);

}  // namespace clipd::clips
