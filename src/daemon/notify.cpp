#include "daemon/notify.hpp"

#include <systemd/sd-daemon.h>

#include <cstdint>

namespace clipd {

Notifier::Notifier() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_period_ = std::chrono::microseconds(usec / 2);
  }
}

void Notifier::ready(const std::string& status) {
  last_status_ = status;
  const std::string msg = "READY=1\nSTATUS=" + status;
  sd_notify(0, msg.c_str());
}

void Notifier::status(const std::string& status) {
  if (status == last_status_) return;
  last_status_ = status;
  const std::string msg = "STATUS=" + status;
  sd_notify(0, msg.c_str());
}

void Notifier::stopping() {
  sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

void Notifier::watchdog() {
  sd_notify(0, "WATCHDOG=1");
}

}  // namespace clipd
