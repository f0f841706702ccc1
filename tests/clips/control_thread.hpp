// The test's main thread playing the control thread: the loader posts completions into this
// queue and the test runs them, so results arrive on the thread that owns the clips.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>

#include "clips/loader.hpp"

namespace clipd::clips::test {

class ControlThread {
 public:
  Executor executor() {
    return [this](std::function<void()> f) {
      {
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(f));
      }
      wake_.notify_one();
    };
  }

  // Runs what was posted until `done()` holds or `timeout` passes; false on timeout. Calls
  // `idle()` between waits of at most 1 ms, like a control loop's other work.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                 const std::function<void()>& idle = {}) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      std::function<void()> f;
      {
        std::unique_lock lock(mutex_);
        if (!wake_.wait_for(lock, std::chrono::milliseconds(1), [&] { return !queue_.empty(); })) {
          lock.unlock();
          if (idle) idle();
          if (std::chrono::steady_clock::now() > deadline) return false;
          continue;
        }
        f = std::move(queue_.front());
        queue_.pop_front();
      }
      f();
      if (idle) idle();
    }
    return true;
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
};

}  // namespace clipd::clips::test
