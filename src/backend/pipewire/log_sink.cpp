#include "backend/pipewire/log_sink.hpp"

#include <pipewire/pipewire.h>
#include <spa/support/log.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

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

LogSink::Slot* LogSink::claim(bool error) noexcept {
  const std::uint64_t seq = next_seq_.fetch_add(1, std::memory_order_relaxed);
  for (std::size_t i = 0; i < kSlots; ++i) {
    Slot& slot = slots_[(seq + i) % kSlots];
    std::uint32_t expected = kFree;
    if (slot.state.compare_exchange_strong(expected, kWriting, std::memory_order_acquire,
                                           std::memory_order_relaxed)) {
      slot.seq = seq;
      slot.error = error;
      return &slot;
    }
  }
  dropped_.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

void LogSink::push(bool error, const char* fmt, va_list args) noexcept {
  Slot* slot = claim(error);
  if (slot == nullptr) return;
  if (fmt == nullptr || std::vsnprintf(slot->text, kMessageBytes, fmt, args) < 0) {
    slot->text[0] = '\0';
  }
  slot->state.store(kReady, std::memory_order_release);
}

void LogSink::push_text(bool error, const char* text) noexcept {
  Slot* slot = claim(error);
  if (slot == nullptr) return;
  std::size_t n = 0;
  if (text != nullptr) {
    for (; n + 1 < kMessageBytes && text[n] != '\0'; ++n)
      slot->text[n] = text[n];
  }
  slot->text[n] = '\0';
  slot->state.store(kReady, std::memory_order_release);
}

std::vector<LibraryMessage> LogSink::drain(std::uint64_t& dropped) {
  struct Taken {
    std::uint64_t seq;
    LibraryMessage message;
  };
  std::vector<Taken> taken;
  for (Slot& slot : slots_) {
    if (slot.state.load(std::memory_order_acquire) != kReady) continue;
    taken.push_back({slot.seq, LibraryMessage{slot.error, std::string(slot.text)}});
    slot.state.store(kFree, std::memory_order_release);
  }
  std::sort(taken.begin(), taken.end(),
            [](const Taken& a, const Taken& b) { return a.seq < b.seq; });
  std::vector<LibraryMessage> out;
  out.reserve(taken.size());
  for (Taken& t : taken)
    out.push_back(std::move(t.message));
  const std::uint64_t total = dropped_.load(std::memory_order_relaxed);
  dropped += total - dropped_seen_;
  dropped_seen_ = total;
  return out;
}

}  // namespace clipd::backend::pipewire
