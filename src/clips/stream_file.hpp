// A file a streamed clip plays from: where it is, what it was when the clip was loaded (so a
// file replaced, truncated or removed since is noticed), and its shape at the source and at the
// engine's rate.
//
// Thread contract: immutable once made (on a loader worker); shared read-only by the control
// thread and the disk threads through shared_ptr<const StreamFile>.
#pragma once

#include <cstdint>
#include <string>

namespace clipd::clips {

struct StreamFile {
  std::string path;  // absolute
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::uint32_t channels = 0;
  std::uint32_t source_rate = 0;
  std::uint32_t rate = 0;  // the engine's (frames are counted at this rate)
  std::uint64_t source_frames = 0;
  std::uint64_t frames = 0;  // resampled_length(source_frames, source_rate, rate)
};

// True when `path` still names the file as it was loaded (same device, inode, size and
// modification time); otherwise false with the reason in `why`. Note: a system call (stat).
bool still_there(const StreamFile& file, std::string& why);

}  // namespace clipd::clips
