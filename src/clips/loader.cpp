#include "clips/loader.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <memory>
#include <utility>

#include "clips/decode.hpp"

namespace clipd::clips {

unsigned Loader::default_workers() noexcept {
  return std::max(2U, std::thread::hardware_concurrency());
}

Loader::Loader(Executor post, MemoryBudget& budget, LoaderOptions options)
    : post_(std::move(post)), budget_(budget), warn_(std::move(options.warn)) {
  const unsigned count = options.workers == 0 ? default_workers() : options.workers;
  threads_.reserve(count);
  try {
    for (unsigned i = 0; i < count; ++i) {
      threads_.emplace_back([this] { work(); });
      ::pthread_setname_np(threads_.back().native_handle(), "clipd-load");
    }
  } catch (...) {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& thread : threads_)
      thread.join();
    throw;
  }
}

Loader::~Loader() {
  // Cancels the running loads (through the stop callbacks in work()) and the queued ones (they
  // see the stop request before opening their file); the workers drain the queue, posting a
  // `cancelled` completion for each, then exit.
  shutdown_.request_stop();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& thread : threads_)
    thread.join();
}

LoadHandle Loader::submit(LoadRequest request, Completion completion) {
  Job job{std::move(request), std::move(completion), std::stop_source{}};
  LoadHandle handle(job.stop);
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
  return handle;
}

namespace {
// The loader workers' nice value (0 is the control thread's).
constexpr int kWorkerNice = 10;
}  // namespace

void Loader::work() noexcept {
  // Decoding is background work: at a lower priority than the control thread, which must keep
  // answering (a `ping` within a millisecond) while every core decodes. Best effort: a nice value
  // of a thread (its own tid) can only be raised without privileges, which is what this does.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), kWorkerNice);
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    LoadResult result;
    {
      // The loader's shutdown stops this job too.
      std::stop_callback forward(shutdown_.get_token(), [&job] { job.stop.request_stop(); });
      result = decode_clip(job.request, budget_, job.stop.get_token(), warn_);
    }
    finish(job, std::move(result));
  }
}

void Loader::finish(Job& job, LoadResult result) noexcept {
  try {
    // std::function needs a copyable callable, so the move-only result rides in a shared_ptr.
    auto shared = std::make_shared<LoadResult>(std::move(result));
    post_([completion = std::move(job.completion), shared]() mutable {
      completion(std::move(*shared));
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "clipd: cannot post the result of loading '%s': %s\n",
                 job.request.path.c_str(), e.what());
  }
}

}  // namespace clipd::clips
