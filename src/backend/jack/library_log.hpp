// clipd/backend/jack/library_log.hpp: libjack's error and info messages, caught without allocating.
//
// Why: libjack reports through jack_set_error_function / jack_set_info_function hooks that are
// process-wide and may be called from any thread, JACK2's process thread included (a server
// error found inside a cycle). The default hooks write to stderr, which locks; a hook that
// builds a std::string allocates. These hooks copy the message into one of a fixed set of
// preallocated slots (backend/message_slots.hpp, truncated to kMessageBytes) and publish it with
// an atomic; when every slot is full the message is dropped and counted. The control thread drains
// the slots from JackBackend::poll() and logs them.
//
// Thread contract: install() and drain() on the control thread (drain() allocates the strings it
// returns); the hooks on any thread, wait-free: a bounded scan of MessageSlots::kSlots slots and a
// copy of at most kMessageBytes bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "backend/backend.hpp"
#include "backend/message_slots.hpp"

namespace clipd::backend::jack {

// backend::LibraryMessage: `error` is true from the error hook, false from the info hook.

class LibraryLog {
 public:
  static constexpr std::size_t kSlots = MessageSlots::kSlots;
  static constexpr std::size_t kMessageBytes = MessageSlots::kMessageBytes;  // with the NUL

  // Installs the hooks in libjack, once per process. Control thread.
  static void install();
  // The one instance the hooks write to.
  static LibraryLog& instance() noexcept;

  // What a hook does: copies `text` into a free slot, or counts it as dropped. Any thread;
  // wait-free, never allocates.
  void push(bool error, const char* text) noexcept { slots_.push(error, text); }
  // Takes every published message, oldest first, and adds the number dropped since the last
  // drain to `dropped`. Control thread (allocates the strings).
  std::vector<LibraryMessage> drain(std::uint64_t& dropped) { return slots_.drain(dropped); }

 private:
  MessageSlots slots_;
};

}  // namespace clipd::backend::jack
