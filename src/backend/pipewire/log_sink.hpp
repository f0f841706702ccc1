// clipd/backend/pipewire/log_sink.hpp: PipeWire's log, caught without allocating.
//
// Why: libpipewire logs through one process-wide spa_log, from any of its threads, the data
// thread that runs our process callback included (a buffer it cannot map, a late wake-up). Its
// default logger writes to stderr, which locks. LogSink is a spa_log whose methods format the
// message into one of a fixed set of preallocated slots (truncated to kMessageBytes) and publish
// it with an atomic; when every slot is full the message is dropped and counted. The control
// thread drains the slots from PipewireBackend::poll(), which hands them out as
// Events::library_messages (error: PipeWire's error and warning levels).
//
// Only warnings and errors are logged (pw_log_set_level(SPA_LOG_LEVEL_WARN)), unless
// $PIPEWIRE_DEBUG asks for more: then that level is kept, and what does not fit is counted.
//
// Thread contract: install() and drain() on the control thread (drain() allocates the strings it
// returns); the spa_log methods on any thread, wait-free: a bounded scan of kSlots slots and one
// vsnprintf of at most kMessageBytes bytes (glibc's vsnprintf of the formats libpipewire uses,
// strings and integers, neither allocates nor locks).
#pragma once

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "backend/backend.hpp"
#include "backend/message_slots.hpp"

namespace clipd::backend::pipewire {

class LogSink {
 public:
  static constexpr std::size_t kSlots = MessageSlots::kSlots;
  static constexpr std::size_t kMessageBytes = MessageSlots::kMessageBytes;  // with the NUL

  // Makes the sink libpipewire's logger (pw_log_set) and sets the level, once per process;
  // calls pw_init() first if nobody has. Control thread.
  static void install();
  // The one instance the logger writes to.
  static LogSink& instance() noexcept;

  // What the logger does: formats into a free slot, or counts the message as dropped. Any
  // thread; wait-free, never allocates.
  void push(bool error, const char* fmt, va_list args) noexcept;
  // Same, with a plain string (tests).
  void push_text(bool error, const char* text) noexcept { slots_.push(error, text); }
  // Takes every published message, oldest first, and adds the number dropped since the last
  // drain to `dropped`. Control thread (allocates the strings).
  std::vector<LibraryMessage> drain(std::uint64_t& dropped) { return slots_.drain(dropped); }

 private:
  MessageSlots slots_;
};

}  // namespace clipd::backend::pipewire
