#include "daemon/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>

namespace clipd {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
}

void set_log_level(LogLevel level) noexcept {
  g_level.store(static_cast<int>(level));
}
LogLevel log_level() noexcept {
  return static_cast<LogLevel>(g_level.load());
}

bool parse_log_level(std::string_view text, LogLevel& out) noexcept {
  static constexpr struct {
    std::string_view name;
    LogLevel level;
  } kNames[] = {{"error", LogLevel::error},
                {"warning", LogLevel::warning},
                {"notice", LogLevel::notice},
                {"info", LogLevel::info},
                {"debug", LogLevel::debug}};
  for (const auto& n : kNames) {
    if (n.name == text) {
      out = n.level;
      return true;
    }
  }
  return false;
}

void log(LogLevel level, std::string_view message) noexcept {
  if (static_cast<int>(level) > g_level.load(std::memory_order_relaxed)) return;
  try {
    std::string line;
    line.reserve(message.size() + 5);
    line += '<';
    line += static_cast<char>('0' + static_cast<int>(level));
    line += '>';
    line += message;
    line += '\n';
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
      ssize_t n = ::write(STDERR_FILENO, p, left);
      if (n <= 0) break;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  } catch (...) {
    // Out of memory while logging: nothing sensible left to do.
  }
}

}  // namespace clipd
