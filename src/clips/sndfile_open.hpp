// What every part of the daemon that opens audio files with libsndfile must share: the whole
// decode (decode.cpp), the streamed load's probe (stream_load.cpp) and the disk threads' readers
// (stream_reader.cpp) run on different threads at once.
// Thread contract: any thread but the audio thread.
#pragma once

#include <mutex>

namespace clipd::clips {

// libsndfile reports a failed open through one process-wide slot (sf_strerror(NULL)): an open
// and the reading of its reason happen under this one lock, whichever thread opens, or a loader
// worker and a disk thread could read each other's reasons.
std::mutex& sndfile_open_mutex() noexcept;

// Containers whose length is a header field of a compressed stream (or no field at all): the
// frame count libsndfile reports is a claim, not derived from the file's size. `format` is
// SF_INFO::format.
bool length_is_a_claim(int format) noexcept;

}  // namespace clipd::clips
