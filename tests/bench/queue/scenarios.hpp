// tests/bench/queue/scenarios.hpp: the measured scenarios, one function template each, run on
// every pipe of pipes.hpp. Every scenario checks what it moves: the payload of item `s` is the
// address tags.at(s), and each receiver compares what it gets with the address it expects, so
// loss, duplication and reordering are all counted as errors.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "pipes.hpp"

namespace clipd::bench {

// The addresses that travel as payloads. A power of two larger than any ring, so an item that
// arrives a ring's length too early or too late still has the wrong address.
class Tags {
 public:
  Tags() : tags_(kCount) {
    for (std::size_t i = 0; i < kCount; ++i)
      tags_[i] = i;
  }
  Payload at(std::uint64_t seq) const noexcept { return &tags_[seq & (kCount - 1)]; }

 private:
  static constexpr std::size_t kCount = 4096;
  static_assert((kCount & (kCount - 1)) == 0 && kCount > 2 * kRingSlots);
  std::vector<std::uint64_t> tags_;
};

// Where the two threads of a scenario run: pinned to two CPUs, or free (cpu -1).
struct Cpus {
  int producer = -1;
  int consumer = -1;
};

// Runs `producer` and `consumer` on two threads, pinned, started together.
template <class P, class C>
void run_pair(const Cpus& cpus, P&& producer, C&& consumer) {
  StartGate gate;
  std::thread consumer_thread([&] {
    pin_current_thread(cpus.consumer);
    gate.arrive_and_wait();
    consumer();
  });
  pin_current_thread(cpus.producer);
  gate.arrive_and_wait();
  producer();
  consumer_thread.join();
}

// Spins until `get` returns a non-empty node.
template <class Get>
Node<Payload> spin_for_node(Get&& get) noexcept {
  Node<Payload> node = get();
  while (!node) {
    spin_pause();
    node = get();
  }
  return node;
}

// Puts `count` empty nodes in a pipe before its threads start (setup, allocates).
inline void fill_pool(NodePipe& pipe, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i)
    pipe.in.push(Node<Payload>::make(nullptr));
}

// Pops every node left in a pipe after its threads have ended; returns how many.
inline std::size_t drain_nodes(NodePipe& pipe) {
  std::size_t count = 0;
  while (pipe.out.pop())
    ++count;
  return count;
}

// The consumer times every chunk of this many items; a run's rate is the median chunk rate, so a
// thread preempted by another process costs a few chunks, not the run.
inline constexpr std::uint64_t kStreamChunk = 16384;

struct StreamResult {
  double items_per_s = 0;  // median over chunks (the whole run when shorter than two chunks)
  std::uint64_t errors = 0;
};

// One-way streaming: the producer sends `items` pointers as fast as the queue takes them, the
// consumer takes them as fast as they come. Ours: the producer takes each node from the return
// queue (a pool of kCapacity nodes, as many as the rings hold) and the consumer pushes it back,
// so our figure pays for four queue operations per item where a ring pays for two.
// `returned`: the peers also send each pointer back and the producer keeps at most kCapacity in
// flight, i.e. the same work as ours (what a message that must come back to be freed costs).
template <class Pipe>
StreamResult stream(const Tags& tags, std::uint64_t items, bool returned, const Cpus& cpus) {
  auto fwd = std::make_unique<Pipe>();
  auto back = std::make_unique<Pipe>();
  std::int64_t t_start = 0;
  std::int64_t t_end = 0;
  std::vector<std::int64_t> marks;  // consumer thread: a time stamp after each chunk
  marks.reserve(items / kStreamChunk + 1);
  std::uint64_t errors = 0;
  std::uint64_t return_errors = 0;

  if constexpr (Pipe::kNodes) {
    fill_pool(*back, kCapacity);
    run_pair(
        cpus,
        [&] {
          t_start = now_ns();
          for (std::uint64_t s = 0; s < items; ++s) {
            Node<Payload> node = spin_for_node([&] { return back->out.pop(); });
            *node = tags.at(s);
            fwd->in.push(std::move(node));
          }
        },
        [&] {
          for (std::uint64_t s = 0; s < items; ++s) {
            Node<Payload> node = spin_for_node([&] { return fwd->out.pop(); });
            if (*node != tags.at(s)) ++errors;
            back->in.push(std::move(node));
            if ((s + 1) % kStreamChunk == 0) marks.push_back(now_ns());
          }
          t_end = now_ns();
        });
    if (drain_nodes(*fwd) + drain_nodes(*back) != kCapacity) ++errors;  // nodes conserved
  } else {
    run_pair(
        cpus,
        [&] {
          t_start = now_ns();
          std::size_t in_flight = 0;
          std::uint64_t back_seq = 0;
          Payload r = nullptr;
          for (std::uint64_t s = 0; s < items; ++s) {
            if (returned) {
              if (back->pop(r)) {
                if (r != tags.at(back_seq++)) ++return_errors;
                --in_flight;
              }
              while (in_flight == kCapacity) {
                if (back->pop(r)) {
                  if (r != tags.at(back_seq++)) ++return_errors;
                  --in_flight;
                } else {
                  spin_pause();
                }
              }
              ++in_flight;
            }
            const Payload p = tags.at(s);
            while (!fwd->push(p))
              spin_pause();
          }
        },
        [&] {
          Payload p = nullptr;
          for (std::uint64_t s = 0; s < items; ++s) {
            while (!fwd->pop(p))
              spin_pause();
            if (p != tags.at(s)) ++errors;
            if (returned) {
              while (!back->push(p))
                spin_pause();
            }
          }
          t_end = now_ns();
        });
  }
  const auto rate = [](std::uint64_t n, std::int64_t ns) {
    return static_cast<double>(n) / (static_cast<double>(std::max<std::int64_t>(ns, 1)) * 1e-9);
  };
  if (marks.size() < 3) return {rate(items, t_end - t_start), errors + return_errors};
  // The first chunk includes the start (and fills the pipe): not a sample.
  std::vector<double> rates;
  for (std::size_t i = 1; i < marks.size(); ++i) {
    rates.push_back(rate(kStreamChunk, marks[i] - marks[i - 1]));
  }
  return {median(std::move(rates)), errors + return_errors};
}

struct RoundTripResult {
  std::vector<double> samples_ns;  // one per round trip, warm-up excluded
  std::uint64_t errors = 0;
};

// Round trip: the first thread sends a pointer (ours: a node) over one queue, the second sends
// it straight back over another, and the first times each trip from before its push to after
// its pop. One item is ever in flight, so this is the latency of a push seen by a pop on
// another core, twice.
template <class Pipe>
RoundTripResult round_trip(const Tags& tags, std::uint64_t trips, std::uint64_t warmup,
                           const Cpus& cpus) {
  auto there = std::make_unique<Pipe>();
  auto back = std::make_unique<Pipe>();
  RoundTripResult result;
  result.samples_ns.resize(trips);
  const std::uint64_t total = trips + warmup;
  std::uint64_t errors = 0;

  if constexpr (Pipe::kNodes) {
    Node<Payload> node = Node<Payload>::make(nullptr);
    run_pair(
        cpus,
        [&] {
          for (std::uint64_t i = 0; i < total; ++i) {
            *node = tags.at(i);
            const std::int64_t t0 = now_ns();
            there->in.push(std::move(node));
            node = spin_for_node([&] { return back->out.pop(); });
            const std::int64_t t1 = now_ns();
            if (*node != tags.at(i)) ++errors;
            if (i >= warmup) result.samples_ns[i - warmup] = static_cast<double>(t1 - t0);
          }
        },
        [&] {
          for (std::uint64_t i = 0; i < total; ++i) {
            back->in.push(spin_for_node([&] { return there->out.pop(); }));
          }
        });
    // One node travelled; each queue still holds its sentinel only.
    if (!node || drain_nodes(*there) != 0 || drain_nodes(*back) != 0) ++errors;
  } else {
    run_pair(
        cpus,
        [&] {
          Payload r = nullptr;
          for (std::uint64_t i = 0; i < total; ++i) {
            const Payload p = tags.at(i);
            const std::int64_t t0 = now_ns();
            while (!there->push(p))
              spin_pause();
            while (!back->pop(r))
              spin_pause();
            const std::int64_t t1 = now_ns();
            if (r != p) ++errors;
            if (i >= warmup) result.samples_ns[i - warmup] = static_cast<double>(t1 - t0);
          }
        },
        [&] {
          Payload p = nullptr;
          for (std::uint64_t i = 0; i < total; ++i) {
            while (!there->pop(p))
              spin_pause();
            while (!back->push(p))
              spin_pause();
          }
        });
  }
  result.errors = errors;
  return result;
}

struct AudioLoopResult {
  std::vector<double> cost_ns;       // the consumer's cost, one per period
  std::uint64_t popped = 0;          // items the consumer took within its periods
  std::uint64_t sent = 0;            // items the producer got into the queue
  std::uint64_t failed_pushes = 0;   // producer pushes refused (ring full); the item is dropped
  std::uint64_t failed_returns = 0;  // consumer pushes back refused (return ring full)
  std::uint64_t grown = 0;           // ours: nodes the control side had to add; rwq enqueue: slots
  std::uint64_t errors = 0;
};

// An audio-like loop. The consumer plays the process callback: once per period (it sleeps to
// the next period boundary) it pops everything queued and pushes each item back, and times just
// that. The producer plays the control thread: after each period it takes back what returned
// (checking it) and sends a burst of `burst` items. Ours: the control side takes a node from
// the return queue for each item and makes a new one only when none is there (it may allocate;
// its push never fails). The bounded peers drop what does not fit and count it.
// Before its timed part the consumer waits, untimed, until the burst of the previous period has
// been sent: so every period times the same work however late a busy machine runs the producer.
template <class Pipe>
AudioLoopResult audio_loop(const Tags& tags, std::size_t periods, std::int64_t period_ns,
                           std::size_t burst, const Cpus& cpus) {
  auto fwd = std::make_unique<Pipe>();
  auto back = std::make_unique<Pipe>();
  AudioLoopResult result;
  // The first period finds the queue empty (nothing has been sent yet): not a sample.
  result.cost_ns.resize(periods - 1);
  std::atomic<std::size_t> periods_done{0};
  std::atomic<std::size_t> bursts_sent{0};
  std::uint64_t consumer_seq = 0;       // consumer thread: next item expected
  std::uint64_t producer_seq = 0;       // producer thread: next item to send
  std::uint64_t back_seq = 0;           // producer thread: next item expected back
  std::uint64_t return_gaps = 0;        // producer thread: items that never came back
  std::uint64_t failed_returns = 0;     // consumer thread
  std::uint64_t popped_in_periods = 0;  // consumer thread
  std::uint64_t consumer_errors = 0;
  std::uint64_t producer_errors = 0;
  std::size_t pool = 0;
  std::size_t initial_capacity = 0;

  if constexpr (Pipe::kNodes) {
    pool = kCapacity;
    fill_pool(*back, pool);
  } else {
    initial_capacity = fwd->capacity();
  }

  // Producer side, after period `k`: take back what returned, then send a burst.
  auto control_side = [&] {
    std::size_t seen = 0;
    for (;;) {
      std::size_t done = periods_done.load(std::memory_order_acquire);
      while (done == seen) {
        // Spins rather than yields: on a busy machine a yielding thread can lose its CPU for
        // several periods and the consumer would time empty queues.
        spin_pause();
        done = periods_done.load(std::memory_order_acquire);
      }
      seen = done;
      if (done == periods) break;
      // The consumer waits for this burst before its next period, so no period is skipped.
      if constexpr (Pipe::kNodes) {
        for (std::size_t b = 0; b < burst; ++b) {
          Node<Payload> node = back->out.pop();
          if (!node) {
            node = Node<Payload>::make(nullptr);
            ++pool;
          } else if (*node != nullptr && *node != tags.at(back_seq++)) {
            ++producer_errors;
          }
          *node = tags.at(producer_seq++);
          fwd->in.push(std::move(node));
        }
      } else {
        Payload r = nullptr;
        while (back->pop(r)) {
          // A peer's consumer drops what its full return ring refuses: skip over such gaps
          // here and check after the run that they do not exceed its count.
          std::uint64_t gap = 0;
          while (r != tags.at(back_seq) && gap <= kCapacity) {
            ++back_seq;
            ++gap;
          }
          if (gap > kCapacity) ++producer_errors;
          return_gaps += gap;
          ++back_seq;
        }
        for (std::size_t b = 0; b < burst; ++b) {
          if (fwd->push(tags.at(producer_seq))) {
            ++producer_seq;
          } else {
            ++result.failed_pushes;
          }
        }
      }
      bursts_sent.store(done, std::memory_order_release);
    }
  };

  auto audio_side = [&] {
    std::int64_t next = now_ns() + period_ns;
    for (std::size_t k = 0; k < periods; ++k) {
      std::this_thread::sleep_until(bench_clock::time_point(std::chrono::nanoseconds(next)));
      while (bursts_sent.load(std::memory_order_acquire) < k)
        spin_pause();
      // After a late producer the next period starts a whole period later, not at once.
      next += period_ns;
      if (const std::int64_t now = now_ns(); next < now) next = now + period_ns;
      const std::uint64_t seq_before = consumer_seq;
      const std::int64_t t0 = now_ns();
      if constexpr (Pipe::kNodes) {
        while (Node<Payload> node = fwd->out.pop()) {
          if (*node != tags.at(consumer_seq++)) ++consumer_errors;
          back->in.push(std::move(node));
        }
      } else {
        Payload p = nullptr;
        while (fwd->pop(p)) {
          if (p != tags.at(consumer_seq++)) ++consumer_errors;
          if (!back->push(p)) ++failed_returns;
        }
      }
      const std::int64_t t1 = now_ns();
      popped_in_periods += consumer_seq - seq_before;
      if (k > 0) result.cost_ns[k - 1] = static_cast<double>(t1 - t0);
      periods_done.store(k + 1, std::memory_order_release);
    }
  };

  run_pair(cpus, control_side, audio_side);

  // Both threads have ended: what is left is the last burst, still queued, and its checks.
  result.sent = producer_seq;
  std::uint64_t left = 0;
  if constexpr (Pipe::kNodes) {
    while (Node<Payload> node = fwd->out.pop()) {
      if (*node != tags.at(consumer_seq++)) ++consumer_errors;
      ++left;
    }
    const std::size_t nodes = left + drain_nodes(*back);
    if (nodes != pool) ++producer_errors;  // every node is in one of the queues
    result.grown = pool - kCapacity;
  } else {
    Payload p = nullptr;
    while (fwd->pop(p)) {
      if (p != tags.at(consumer_seq++)) ++consumer_errors;
      ++left;
    }
    result.grown = fwd->capacity() - initial_capacity;
  }
  if (consumer_seq != producer_seq) ++consumer_errors;  // everything sent arrived once
  // Returns still queued at the end are not gaps, so gaps can only fall short of the drops.
  if (return_gaps > failed_returns) ++producer_errors;
  result.failed_returns = failed_returns;
  result.popped = popped_in_periods;
  result.errors = consumer_errors + producer_errors;
  return result;
}

}  // namespace clipd::bench
