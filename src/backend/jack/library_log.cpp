#include "backend/jack/library_log.hpp"

#include <jack/jack.h>

#include <algorithm>
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

void LibraryLog::push(bool error, const char* text) noexcept {
  const std::uint64_t seq = next_seq_.fetch_add(1, std::memory_order_relaxed);
  for (std::size_t i = 0; i < kSlots; ++i) {
    Slot& slot = slots_[(seq + i) % kSlots];
    std::uint32_t expected = kFree;
    if (!slot.state.compare_exchange_strong(expected, kWriting, std::memory_order_acquire,
                                            std::memory_order_relaxed)) {
      continue;
    }
    slot.seq = seq;
    slot.error = error;
    std::size_t n = 0;
    if (text != nullptr) {
      for (; n + 1 < kMessageBytes && text[n] != '\0'; ++n)
        slot.text[n] = text[n];
    }
    slot.text[n] = '\0';
    slot.state.store(kReady, std::memory_order_release);
    return;
  }
  dropped_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<LibraryMessage> LibraryLog::drain(std::uint64_t& dropped) {
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

}  // namespace clipd::backend::jack
