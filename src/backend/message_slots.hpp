// clipd/backend/message_slots.hpp: a server library's log messages, caught without allocating.
//
// Why: libjack's error and info hooks and libpipewire's spa_log are process-wide and run on any
// of the library's threads, the audio thread included. Their default writers lock (stderr), and a
// writer that builds a std::string allocates. MessageSlots holds a fixed set of preallocated
// slots: a writer claims a free one, fills its text (truncated to kMessageBytes) and publishes it
// with an atomic; when every slot is taken the message is dropped and counted. The control
// thread drains the published slots from the backend's poll(). Each backend's hook
// (backend/jack/library_log.hpp, backend/pipewire/log_sink.hpp) owns one instance.
//
// Thread contract: claim(), publish() and push() on any thread, wait-free: a bounded scan of
// kSlots slots and a copy of at most kMessageBytes bytes. drain() on the control thread (it
// allocates the strings it returns).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "backend/backend.hpp"

namespace clipd::backend {

class MessageSlots {
 public:
  static constexpr std::size_t kSlots = 32;
  static constexpr std::size_t kMessageBytes = 256;  // with the terminating NUL

  enum : std::uint32_t { kFree = 0, kWriting = 1, kReady = 2 };
  struct Slot {
    std::atomic<std::uint32_t> state{kFree};
    std::uint64_t seq = 0;
    bool error = false;
    char text[kMessageBytes] = {};
  };

  // A free slot, marked as being written, whose `text` the caller fills (NUL-terminated) and
  // then hands to publish(); or null, and the message is counted as dropped.
  Slot* claim(bool error) noexcept;
  // Makes a claimed slot's message visible to drain().
  static void publish(Slot& slot) noexcept { slot.state.store(kReady, std::memory_order_release); }
  // claim(), a copy of `text` (null: an empty message), publish().
  void push(bool error, const char* text) noexcept;

  // Takes every published message, oldest first, and adds the number dropped since the last
  // drain to `dropped`.
  std::vector<LibraryMessage> drain(std::uint64_t& dropped);

 private:
  Slot slots_[kSlots];
  std::atomic<std::uint64_t> next_seq_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::uint64_t dropped_seen_ = 0;  // control thread
};

}  // namespace clipd::backend
