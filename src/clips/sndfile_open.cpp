#include "clips/sndfile_open.hpp"

#include <sndfile.h>

namespace clipd::clips {

std::mutex& sndfile_open_mutex() noexcept {
  static std::mutex mutex;
  return mutex;
}

bool length_is_a_claim(int format) noexcept {
  switch (format & SF_FORMAT_TYPEMASK) {
    case SF_FORMAT_FLAC:
    case SF_FORMAT_OGG:
    case SF_FORMAT_MPEG:
      return true;
    default:
      return false;
  }
}

}  // namespace clipd::clips
