// Two threads, two queues, nodes circulating: the producer sends sequence numbers with a payload
// derived from them, the consumer checks both and sends the node back for reuse. Run in the plain,
// ASan+UBSan and TSan builds; CLIPD_STRESS_ITEMS overrides the count (default 10 million).
// A thread that finds its queue empty keeps trying for a while, so that pushes and pops meet on
// the same nodes, then yields (Backoff): on a machine whose cores are busy elsewhere, a thread
// spinning on without end would burn its whole time slice waiting for one that is not running.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <thread>

#include "clipd/node_queue.hpp"

namespace clipd {
namespace {

struct Item {
  std::uint64_t seq = 0;
  std::uint64_t check = 0;
  std::uint32_t bytes[6] = {};
};

constexpr std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

// Counts empty pops in a row; past a few dozen, each one yields the core.
class Backoff {
 public:
  void empty() {
    if (++empty_ > 64) std::this_thread::yield();
  }
  void got() { empty_ = 0; }

 private:
  int empty_ = 0;
};

std::uint64_t item_count() {
  if (const char* s = std::getenv("CLIPD_STRESS_ITEMS")) return std::strtoull(s, nullptr, 10);
  return 10'000'000;
}

TEST(QueueStress, TwoThreadsTenMillionItemsInOrderWithPayload) {
  const std::uint64_t total = item_count();
  constexpr int kNodes = 512;
  Queue<Item> forward, back;
  auto fwd_in = forward.producer();
  auto fwd_out = forward.consumer();
  auto back_in = back.producer();
  auto back_out = back.consumer();

  std::atomic<std::uint64_t> errors{0};
  std::thread consumer([&] {
    std::uint64_t expect = 0;
    Backoff backoff;
    while (expect < total) {
      Node<Item> n = fwd_out.pop();
      if (!n) {
        backoff.empty();
        continue;
      }
      backoff.got();
      if (n->seq != expect || n->check != mix(n->seq) ||
          n->bytes[5] != static_cast<std::uint32_t>(n->seq)) {
        errors.fetch_add(1, std::memory_order_relaxed);
      }
      ++expect;
      back_in.push(std::move(n));
    }
  });

  int allocated = 0;
  std::uint64_t returned = 0;
  for (std::uint64_t seq = 0; seq < total; ++seq) {
    Node<Item> n = back_out.pop();
    if (n) {
      ++returned;
    } else if (allocated < kNodes) {
      n = Node<Item>::make();
      ++allocated;
    } else {
      Backoff backoff;
      while (!(n = back_out.pop()))
        backoff.empty();
      ++returned;
    }
    n->seq = seq;
    n->check = mix(seq);
    n->bytes[5] = static_cast<std::uint32_t>(seq);
    fwd_in.push(std::move(n));
  }
  consumer.join();
  while (back_out.pop())
    ++returned;
  EXPECT_EQ(errors.load(), 0u);
  EXPECT_EQ(returned, total);  // every node came back exactly once per trip
  EXPECT_LE(allocated, kNodes);
}

TEST(QueueStress, FreshNodesEachTimeFreedByTheProducerSide) {
  // The other pattern: the control side makes a node per message and frees what comes back.
  const std::uint64_t total = item_count() / 10;
  Queue<Item> forward, back;
  auto fwd_in = forward.producer();
  auto fwd_out = forward.consumer();
  auto back_in = back.producer();
  auto back_out = back.consumer();
  std::atomic<bool> bad{false};
  std::thread consumer([&] {
    Backoff backoff;
    for (std::uint64_t expect = 0; expect < total;) {
      if (Node<Item> n = fwd_out.pop()) {
        backoff.got();
        if (n->seq != expect++ || n->check != mix(n->seq)) bad = true;
        back_in.push(std::move(n));
      } else {
        backoff.empty();
      }
    }
  });
  std::uint64_t freed = 0;
  for (std::uint64_t seq = 0; seq < total; ++seq) {
    auto n = Node<Item>::make();
    n->seq = seq;
    n->check = mix(seq);
    fwd_in.push(std::move(n));
    if (Node<Item> m = back_out.pop()) ++freed;  // freed at the end of this scope
  }
  consumer.join();
  while (back_out.pop())
    ++freed;
  EXPECT_FALSE(bad.load());
  EXPECT_EQ(freed, total);
}

}  // namespace
}  // namespace clipd
