// The loader: a pool of worker threads that decode clips (decode_clip) and post each result
// back to the control thread through the executor the owner gives it.
//
// Thread contract: construct, submit() and destroy on the control thread (submit is also safe
// from other threads). Each submitted load gets exactly one completion, run through `post` (so on
// the control thread): a clip, or an error, `cancelled` included. The destructor cancels every
// load not yet finished and joins the workers; completions of the loads it cancels are still
// posted, so `post` (the control thread's executor) must stay usable until the destructor has
// returned, and the MemoryBudget must outlive every clip.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

#include "clips/load_request.hpp"
#include "clips/loaded_clip.hpp"
#include "clips/memory_budget.hpp"
#include "clips/pcm_buffer.hpp"

namespace clipd::clips {

// Runs a function on the control thread (for example wrapping asio::post on its io_context).
using Executor = std::function<void(std::function<void()>)>;
// Receives a load's result on the control thread.
using Completion = std::function<void(LoadResult)>;

// Cancels one load. Copyable; a default-constructed handle does nothing.
// Thread contract: any thread. Non-blocking guarantees: lock-free.
class LoadHandle {
 public:
  LoadHandle() noexcept = default;
  explicit LoadHandle(std::stop_source source) noexcept : source_(std::move(source)) {}

  // The load ends with `cancelled` unless it has already finished (then this does nothing).
  void cancel() noexcept { source_.request_stop(); }
  bool cancel_requested() const noexcept { return source_.stop_requested(); }

 private:
  std::stop_source source_{std::nostopstate};
};

struct LoaderOptions {
  // Worker threads; 0 sizes the pool to the machine (hardware threads, at least 2).
  unsigned workers = 0;
  // Where the one mlock warning goes (empty: stderr).
  WarnFn warn;
};

class Loader {
 public:
  // Hardware threads, at least 2.
  static unsigned default_workers() noexcept;

  // Note: starts the worker threads.
  Loader(Executor post, MemoryBudget& budget, LoaderOptions options = {});
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;
  ~Loader();

  // Queues a load; loads start in submission order, as many at once as there are workers.
  // Note: allocates, locks a mutex.
  LoadHandle submit(LoadRequest request, Completion completion);

  unsigned workers() const noexcept { return static_cast<unsigned>(threads_.size()); }
  MemoryBudget& budget() const noexcept { return budget_; }

 private:
  struct Job {
    LoadRequest request;
    Completion completion;
    std::stop_source stop;
  };

  void work() noexcept;
  void finish(Job& job, LoadResult result) noexcept;

  Executor post_;
  MemoryBudget& budget_;
  WarnFn warn_;
  std::stop_source shutdown_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;  // guarded by mutex_
  bool stopping_ = false;  // guarded by mutex_
  std::vector<std::thread> threads_;
};

}  // namespace clipd::clips
