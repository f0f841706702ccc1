// systemd's notification protocol: READY=1 once the socket listens, STATUS= with the engine
// state, WATCHDOG=1 when the unit asks for it, STOPPING=1 on the way out. Without
// NOTIFY_SOCKET every call does nothing.
//
// Thread contract: control thread (each call is a system call).
#pragma once

#include <chrono>
#include <string>

namespace clipd {

class Notifier {
 public:
  Notifier();

  void ready(const std::string& status);
  void status(const std::string& status);
  void stopping();
  // Half the watchdog interval systemd asked for, or zero when there is no watchdog.
  std::chrono::microseconds watchdog_period() const noexcept { return watchdog_period_; }
  void watchdog();

 private:
  std::chrono::microseconds watchdog_period_{0};
  std::string last_status_;
};

}  // namespace clipd
