#include "backend/pipewire/log_sink.hpp"

#include <pipewire/pipewire.h>
#include <spa/support/log.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "clipd/realtime.hpp"

namespace clipd::backend::pipewire {
namespace {

bool is_error(spa_log_level level) {
  return level <= SPA_LOG_LEVEL_WARN;
}

// The spa_log methods. They may run on the data thread: LogSink::push only.
void sink_logtv(void*, spa_log_level level, const spa_log_topic*, const char*, int, const char*,
                const char* fmt, va_list args) noexcept {
  RealtimeScope realtime;
  LogSink::instance().push(is_error(level), fmt, args);
}

void sink_logv(void*, spa_log_level level, const char*, int, const char*, const char* fmt,
               va_list args) noexcept {
  RealtimeScope realtime;
  LogSink::instance().push(is_error(level), fmt, args);
}

[[gnu::format(printf, 6, 7)]] void sink_log(void*, spa_log_level level, const char*, int,
                                            const char*, const char* fmt, ...) noexcept {
  RealtimeScope realtime;
  va_list args;
  va_start(args, fmt);
  LogSink::instance().push(is_error(level), fmt, args);
  va_end(args);
}

[[gnu::format(printf, 7, 8)]] void sink_logt(void*, spa_log_level level, const spa_log_topic*,
                                             const char*, int, const char*, const char* fmt,
                                             ...) noexcept {
  RealtimeScope realtime;
  va_list args;
  va_start(args, fmt);
  LogSink::instance().push(is_error(level), fmt, args);
  va_end(args);
}

spa_log_methods make_methods() {
  spa_log_methods m{};
  m.version = SPA_VERSION_LOG_METHODS;
  m.log = &sink_log;
  m.logv = &sink_logv;
  m.logt = &sink_logt;
  m.logtv = &sink_logtv;
  return m;
}

}  // namespace

LogSink& LogSink::instance() noexcept {
  // Constant-initialized storage: the logger never runs a guarded static initialization.
  static constinit LogSink sink;
  return sink;
}

void LogSink::install() {
  static std::once_flag once;
  std::call_once(once, [] {
    pw_init(nullptr, nullptr);
    static const spa_log_methods methods = make_methods();
    static spa_log log{};
    log.iface.type = SPA_TYPE_INTERFACE_Log;
    log.iface.version = SPA_VERSION_LOG;
    log.iface.cb.funcs = &methods;
    log.iface.cb.data = nullptr;
    const char* debug = std::getenv("PIPEWIRE_DEBUG");
    const bool asked = debug != nullptr && *debug != '\0';
    // pw_init() read $PIPEWIRE_DEBUG into the level of the logger it made.
    log.level = asked ? pw_log_level : SPA_LOG_LEVEL_WARN;
    pw_log_set(&log);
    if (!asked) pw_log_set_level(SPA_LOG_LEVEL_WARN);
  });
}

void LogSink::push(bool error, const char* fmt, va_list args) noexcept {
  MessageSlots::Slot* slot = slots_.claim(error);
  if (slot == nullptr) return;
  if (fmt == nullptr || std::vsnprintf(slot->text, kMessageBytes, fmt, args) < 0) {
    slot->text[0] = '\0';
  }
  MessageSlots::publish(*slot);
}

}  // namespace clipd::backend::pipewire
