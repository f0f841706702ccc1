// A decoded clip: its samples, the budget it holds, what the protocol's clip info reports, and
// the request that made it (to decode again at a new engine rate).
//
// Thread contract: made on a loader worker, then owned by the control thread. The engine reads
// samples() only while the control thread keeps the clip alive; destroying it (munmap, budget
// release) happens on the control thread after the engine has handed the clip back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "clips/load_error.hpp"
#include "clips/load_request.hpp"
#include "clips/memory_budget.hpp"
#include "clips/pcm_buffer.hpp"
#include "clips/stream_file.hpp"
#include "engine/clip_samples.hpp"

namespace clipd::clips {

// The protocol's clip info, less `name` (which belongs to the registry).
struct ClipInfo {
  std::string path;  // absolute
  std::uint64_t frames = 0;
  std::uint32_t channels = 0;
  std::uint32_t sample_rate = 0;         // of the samples held (the engine's, after resampling)
  std::uint32_t source_sample_rate = 0;  // of the file
  double duration_s = 0.0;
  std::size_t bytes = 0;  // memory held, page-rounded
  bool locked = false;    // memory locked against paging
  // NaN and infinite samples in the file, each replaced by 0 at load (counted in the file's own
  // samples, before resampling): none ever reaches the engine.
  std::uint64_t non_finite_samples = 0;
  // Streamed from disk (clips/stream_load.hpp): only the first head_frames frames are held in
  // memory (`bytes` counts them); the rest is read as voices play.
  bool streamed = false;
  std::uint64_t head_frames = 0;
};

class LoadedClip {
 public:
  LoadedClip(BudgetReservation reservation, PcmBuffer pcm, ClipInfo info,
             LoadRequest request) noexcept
      : reservation_(std::move(reservation)),
        pcm_(std::move(pcm)),
        info_(std::move(info)),
        request_(std::move(request)) {}

  // A streamed clip: `pcm` holds its head; `file` is where the rest is read from.
  LoadedClip(BudgetReservation reservation, PcmBuffer pcm, ClipInfo info, LoadRequest request,
             std::shared_ptr<const StreamFile> file) noexcept
      : reservation_(std::move(reservation)),
        pcm_(std::move(pcm)),
        info_(std::move(info)),
        request_(std::move(request)),
        file_(std::move(file)) {}

  LoadedClip(LoadedClip&&) noexcept = default;
  LoadedClip& operator=(LoadedClip&&) noexcept = default;

  const ClipInfo& info() const noexcept { return info_; }
  // The engine's view: the whole clip, or a streamed clip's head with its length and its disk
  // id (set_stream_id). Non-blocking guarantees: wait-free.
  engine::ClipSamples samples() const noexcept {
    engine::ClipSamples s = pcm_.samples();
    if (file_ != nullptr) {
      s.head = s.frames;
      s.frames = info_.frames;
      s.stream = stream_id_;
    }
    return s;
  }
  const std::shared_ptr<const StreamFile>& stream_file() const noexcept { return file_; }
  // The disk side's id for this clip (clips/disk_streamer.hpp) and what keeps it known there
  // (released with the clip); control thread.
  void set_stream(std::uint64_t id, std::shared_ptr<void> hold) noexcept {
    stream_id_ = id;
    stream_hold_ = std::move(hold);
  }
  std::uint64_t stream_id() const noexcept { return stream_id_; }
  const PcmBuffer& pcm() const noexcept { return pcm_; }
  // The request as decoded, path made absolute: submit it with another target_rate to decode
  // the same source again.
  const LoadRequest& request() const noexcept { return request_; }
  std::size_t reserved_bytes() const noexcept { return reservation_.bytes(); }

 private:
  // Declared first so it is released last, after the memory it accounts for is unmapped.
  BudgetReservation reservation_;
  PcmBuffer pcm_;
  ClipInfo info_;
  LoadRequest request_;
  std::shared_ptr<const StreamFile> file_;
  std::uint64_t stream_id_ = 0;
  std::shared_ptr<void> stream_hold_;
};

static_assert(std::is_nothrow_move_constructible_v<LoadedClip>);

// Exactly one of `clip` and `error` is set.
struct LoadResult {
  std::unique_ptr<LoadedClip> clip;
  std::optional<LoadError> error;

  bool ok() const noexcept { return clip != nullptr; }
};

}  // namespace clipd::clips
