// The node slab: a fixed stock of queue nodes. Exhaustion refuses instead of allocating, nodes
// given back are reused, and nothing after construction allocates.
#include "clipd/node_slab.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <new>
#include <set>
#include <vector>

namespace {

// Counts this thread's calls to the global operator new while `counting` is set.
thread_local bool counting = false;
thread_local std::uint64_t allocations = 0;

}  // namespace

void* operator new(std::size_t size) {
  if (counting) ++allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace clipd {
namespace {

struct Value {
  std::uint64_t a = 0;
  std::uint64_t b = 0;
};

// Counts allocations made by `fn` on this thread.
template <class Fn>
std::uint64_t allocations_in(Fn&& fn) {
  allocations = 0;
  counting = true;
  fn();
  counting = false;
  return allocations;
}

TEST(NodeSlab, HandsOutExactlyItsNodesThenRefuses) {
  NodeSlab<Value> slab(4);
  EXPECT_EQ(slab.size(), 4u);
  EXPECT_EQ(slab.available(), 4u);
  std::vector<Node<Value>> out;
  std::set<const Value*> cells;
  for (std::uint64_t i = 0; i < 4; ++i) {
    Node<Value> n = slab.take(Value{i, i * 10});
    ASSERT_TRUE(n);
    EXPECT_EQ(n->a, i);
    EXPECT_EQ(n->b, i * 10);
    cells.insert(&*n);
    out.push_back(std::move(n));
  }
  EXPECT_EQ(cells.size(), 4u);
  EXPECT_EQ(slab.available(), 0u);
  EXPECT_EQ(slab.out(), 4u);
  // Empty: an empty handle, not a fifth node.
  std::uint64_t made = allocations_in([&] { EXPECT_FALSE(slab.take(Value{9, 9})); });
  EXPECT_EQ(made, 0u);
  EXPECT_EQ(slab.size(), 4u);
  for (auto& n : out)
    slab.give_back(std::move(n));
  EXPECT_EQ(slab.available(), 4u);
}

TEST(NodeSlab, NodesGivenBackAreReusedWithoutAllocating) {
  NodeSlab<Value> slab(8);
  std::set<const Value*> cells;
  {
    std::vector<Node<Value>> out;
    for (int i = 0; i < 8; ++i) {
      out.push_back(slab.take(Value{}));
      cells.insert(&*out.back());
    }
    for (auto& n : out)
      slab.give_back(std::move(n));
  }
  // Take and give back many times more nodes than the slab holds: always the same eight cells,
  // never an allocation or a free.
  std::vector<Node<Value>> held;
  held.reserve(8);
  const std::uint64_t made = allocations_in([&] {
    for (std::uint64_t round = 0; round < 1000; ++round) {
      for (std::uint64_t i = 0; i < 8; ++i) {
        Node<Value> n = slab.take(Value{round, i});
        ASSERT_TRUE(n);
        ASSERT_EQ(n->a, round);
        ASSERT_EQ(n->b, i);
        ASSERT_EQ(cells.count(&*n), 1u);
        held.push_back(std::move(n));
      }
      ASSERT_FALSE(slab.take(Value{}));
      for (auto& n : held)
        slab.give_back(std::move(n));
      held.clear();
    }
  });
  EXPECT_EQ(made, 0u);
  EXPECT_EQ(slab.available(), 8u);
}

TEST(NodeSlab, GrowAddsNodesAndForgetDropsLostOnes) {
  NodeSlab<Value> slab(2);
  Node<Value> a = slab.take(Value{1, 1});
  Node<Value> b = slab.take(Value{2, 2});
  EXPECT_FALSE(slab.take(Value{}));
  slab.grow(3);
  EXPECT_EQ(slab.size(), 5u);
  EXPECT_EQ(slab.available(), 3u);
  // Two nodes out that will never come back (say, leaked with an abandoned engine).
  slab.forget(2);
  EXPECT_EQ(slab.size(), 3u);
  EXPECT_EQ(slab.out(), 0u);
  // Not ours any more: giving them back neither grows the stock past its count nor allocates.
  const std::uint64_t made = allocations_in([&] { slab.give_back(std::move(a)); });
  EXPECT_EQ(made, 0u);
  slab.give_back(std::move(b));
  EXPECT_EQ(slab.available(), 3u);
  EXPECT_EQ(slab.out(), 0u);
}

}  // namespace
}  // namespace clipd
