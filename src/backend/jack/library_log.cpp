#include "backend/jack/library_log.hpp"

#include <jack/jack.h>

#include <mutex>

#include "clipd/realtime.hpp"

namespace clipd::backend::jack {
namespace {

// libjack's hooks. They may run on the audio thread: LibraryLog::push only.
void error_hook(const char* text) {
  RealtimeScope realtime;
  LibraryLog::instance().push(true, text);
}

void info_hook(const char* text) {
  RealtimeScope realtime;
  LibraryLog::instance().push(false, text);
}

}  // namespace

LibraryLog& LibraryLog::instance() noexcept {
  // Constant-initialized storage: the hooks never run a guarded static initialization.
  static constinit LibraryLog log;
  return log;
}

void LibraryLog::install() {
  static std::once_flag once;
  std::call_once(once, [] {
    jack_set_error_function(&error_hook);
    jack_set_info_function(&info_hook);
  });
}

}  // namespace clipd::backend::jack
