// Logging for journald: one line per message on stderr, prefixed with its syslog priority
// (`<3>` error … `<7>` debug), which journald reads as the priority.
//
// Thread contract: callable from any thread but the audio thread (it makes a system call).
// Each message is one write(2), so lines from several threads never interleave.
#pragma once

#include <string_view>

namespace clipd {

enum class LogLevel : int { error = 3, warning = 4, notice = 5, info = 6, debug = 7 };

void set_log_level(LogLevel level) noexcept;
LogLevel log_level() noexcept;
// Parses "error", "warning", "notice", "info" or "debug"; false when unknown.
bool parse_log_level(std::string_view text, LogLevel& out) noexcept;

void log(LogLevel level, std::string_view message) noexcept;
inline void log_error(std::string_view m) noexcept {
  log(LogLevel::error, m);
}
inline void log_warning(std::string_view m) noexcept {
  log(LogLevel::warning, m);
}
inline void log_notice(std::string_view m) noexcept {
  log(LogLevel::notice, m);
}
inline void log_info(std::string_view m) noexcept {
  log(LogLevel::info, m);
}
inline void log_debug(std::string_view m) noexcept {
  log(LogLevel::debug, m);
}

}  // namespace clipd
