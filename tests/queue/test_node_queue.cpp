// Single-threaded behaviour of the node queue: order, emptiness, node reuse, exact lifetimes.
#include "clipd/node_queue.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <vector>

#include "counted.hpp"

namespace clipd {
namespace {

using test::Counted;
using test::g_counts;

class NodeQueue : public ::testing::Test {
 protected:
  void SetUp() override { g_counts = {}; }
  void TearDown() override {
    EXPECT_EQ(g_counts.live(), 0) << "constructed " << g_counts.constructed << ", destroyed "
                                  << g_counts.destroyed;
  }
};

TEST_F(NodeQueue, PopOnEmptyReturnsEmptyHandle) {
  Queue<Counted> q;
  auto c = q.consumer();
  EXPECT_FALSE(c.ready());
  Node<Counted> n = c.pop();
  EXPECT_FALSE(n);
  EXPECT_FALSE(c.pop());
}

TEST_F(NodeQueue, KeepsFifoOrder) {
  Queue<Counted> q;
  auto p = q.producer();
  auto c = q.consumer();
  for (std::uint64_t i = 0; i < 100; ++i)
    p.push(Node<Counted>::make(i));
  for (std::uint64_t i = 0; i < 100; ++i) {
    ASSERT_TRUE(c.ready());
    Node<Counted> n = c.pop();
    ASSERT_TRUE(n);
    EXPECT_EQ(n->value, i);
  }
  EXPECT_FALSE(c.pop());
}

TEST_F(NodeQueue, InterleavedPushAndPopKeepOrder) {
  Queue<Counted> q;
  auto p = q.producer();
  auto c = q.consumer();
  std::uint64_t next_in = 0, next_out = 0;
  for (int round = 0; round < 50; ++round) {
    for (int k = 0; k < round % 7 + 1; ++k)
      p.push(Node<Counted>::make(next_in++));
    for (int k = 0; k < round % 5 + 1; ++k) {
      Node<Counted> n = c.pop();
      if (!n) break;
      EXPECT_EQ(n->value, next_out++);
    }
  }
  while (Node<Counted> n = c.pop())
    EXPECT_EQ(n->value, next_out++);
  EXPECT_EQ(next_in, next_out);
}

TEST_F(NodeQueue, PushingAnEmptyHandleDoesNothing) {
  Queue<Counted> q;
  auto p = q.producer();
  p.push(Node<Counted>());
  EXPECT_FALSE(q.consumer().pop());
}

TEST_F(NodeQueue, PopReturnsTheOldSentinelAndNodesCirculate) {
  // Node identity changes on pop but the count of nodes is conserved: with two queues and a
  // fixed set of nodes, only the original cells (plus the two first sentinels) ever appear.
  Queue<Counted> a, b;
  auto pa = a.producer();
  auto ca = a.consumer();
  auto pb = b.producer();
  auto cb = b.consumer();
  std::set<const void*> seen;
  for (std::uint64_t i = 0; i < 4; ++i) {
    auto n = Node<Counted>::make(i);
    seen.insert(&*n);
    pa.push(std::move(n));
  }
  std::set<const void*> cells;
  for (int round = 0; round < 100; ++round) {
    while (auto n = ca.pop()) {
      cells.insert(&*n);
      pb.push(std::move(n));
    }
    while (auto n = cb.pop()) {
      cells.insert(&*n);
      pa.push(std::move(n));
    }
  }
  EXPECT_LE(cells.size(), 6u);  // 4 nodes + 2 sentinels, nothing new allocated
}

TEST_F(NodeQueue, BouncesOneNodeBetweenTwoQueuesAMillionTimes) {
  Queue<Counted> a, b;
  auto pa = a.producer();
  auto ca = a.consumer();
  auto pb = b.producer();
  auto cb = b.consumer();
  pa.push(Node<Counted>::make(0));
  const auto constructed_before = g_counts.constructed;
  for (std::uint64_t i = 0; i < 1'000'000; ++i) {
    Node<Counted> n = ca.pop();
    ASSERT_TRUE(n);
    ASSERT_EQ(n->value, i);
    n->value = i + 1;
    pb.push(std::move(n));
    Node<Counted> m = cb.pop();
    ASSERT_TRUE(m);
    pa.push(std::move(m));
  }
  // Each pop is one move construction and one destruction of the moved-from value.
  EXPECT_EQ(g_counts.constructed - constructed_before, 2'000'000);
  EXPECT_EQ(g_counts.live(), 1);
  EXPECT_EQ(ca.pop()->value, 1'000'000u);
}

TEST_F(NodeQueue, DestroyingAQueueDestroysWhatIsStillQueued) {
  {
    Queue<Counted> q;
    auto p = q.producer();
    for (std::uint64_t i = 0; i < 10; ++i)
      p.push(Node<Counted>::make(i));
    EXPECT_EQ(g_counts.live(), 10);
  }
  EXPECT_EQ(g_counts.live(), 0);
}

TEST_F(NodeQueue, DestroyingAQueueAfterKPopsForEverySmallK) {
  for (int pushed = 0; pushed <= 8; ++pushed) {
    for (int popped = 0; popped <= pushed; ++popped) {
      g_counts = {};
      std::vector<Node<Counted>> held;
      {
        Queue<Counted> q;
        auto p = q.producer();
        auto c = q.consumer();
        for (int i = 0; i < pushed; ++i)
          p.push(Node<Counted>::make(std::uint64_t(i)));
        for (int i = 0; i < popped; ++i) {
          held.push_back(c.pop());
          ASSERT_TRUE(held.back());
          EXPECT_EQ(held.back()->value, std::uint64_t(i));
        }
        EXPECT_EQ(g_counts.live(), pushed);
      }
      // The queue freed its sentinel and the values it still held; the popped ones live on.
      EXPECT_EQ(g_counts.live(), popped) << pushed << " pushed, " << popped << " popped";
      held.clear();
      EXPECT_EQ(g_counts.live(), 0);
    }
  }
}

TEST_F(NodeQueue, SentinelMigratesAcrossQueuesAndEverythingIsFreedOnce) {
  // Nodes popped from one queue are pushed on another, so each queue ends up holding cells that
  // another queue allocated. Destroying both must free every cell exactly once (ASan checks the
  // frees, the counters check the values).
  {
    Queue<Counted> a;
    {
      Queue<Counted> b;
      auto pa = a.producer();
      auto ca = a.consumer();
      auto pb = b.producer();
      auto cb = b.consumer();
      for (std::uint64_t i = 0; i < 5; ++i)
        pa.push(Node<Counted>::make(i));
      for (int i = 0; i < 3; ++i)
        pb.push(ca.pop());
      pa.push(cb.pop());
      EXPECT_EQ(g_counts.live(), 5);
    }
    EXPECT_EQ(g_counts.live(), 3);  // b held 2
  }
}

TEST_F(NodeQueue, NodeHandleOwnsAndFreesItsValue) {
  {
    auto n = Node<Counted>::make(7);
    EXPECT_TRUE(n);
    EXPECT_EQ((*n).value, 7u);
    Node<Counted> m = std::move(n);
    EXPECT_FALSE(n);  // NOLINT(bugprone-use-after-move): moved-from handles are empty
    EXPECT_TRUE(m);
    m.reset();
    EXPECT_FALSE(m);
    EXPECT_EQ(g_counts.live(), 0);
    m = Node<Counted>::make(8);  // into an empty handle: fine
    EXPECT_EQ(m->value, 8u);
    EXPECT_EQ(g_counts.live(), 1);
    m.reset();
    EXPECT_EQ(g_counts.live(), 0);
  }
}

// Moving a node into a handle that still holds one would free the held node silently, perhaps
// on the audio thread: it terminates instead.
TEST(NodeQueueDeathTest, MovingIntoAHandleThatHoldsANodeTerminates) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        auto held = Node<Counted>::make(1);
        auto other = Node<Counted>::make(2);
        held = std::move(other);
      },
      "");
  // Moving an empty handle into a full one terminates too: the held node would be lost.
  EXPECT_DEATH(
      {
        auto held = Node<Counted>::make(1);
        Node<Counted> empty;
        held = std::move(empty);
      },
      "");
}

struct Throws {
  explicit Throws(bool t) {
    if (t) throw 1;
  }
  Throws(Throws&&) noexcept = default;
};

TEST(NodeQueueMake, AConstructorThatThrowsLeaksNothing) {
  EXPECT_THROW((void)Node<Throws>::make(true), int);
  EXPECT_TRUE(Node<Throws>::make(false));
}

}  // namespace
}  // namespace clipd
