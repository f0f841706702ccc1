// clipd/node_slab.hpp: a fixed stock of queue nodes (clipd/node_queue.hpp), allocated up front
// and reused forever, so that sending a message never allocates.
//
// Why: every node the control thread sends comes back from the real-time side exactly once.
// Drawing nodes from a stock sized from the engine's capacities bounds the memory the audio
// thread touches (it is all allocated, and locked with the rest of the process, before the
// engine runs) and turns a client that floods commands into refusals instead of growth: when
// the stock is empty, take() returns an empty handle and the caller refuses the command.
//
// Thread contract: control thread only. grow() allocates; nothing else does. take() and
// give_back() are O(1) and never allocate or free (the free list has room for every node).
//
// Standard library only, header-only.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

#include "clipd/node_queue.hpp"

namespace clipd {

template <class T>
class NodeSlab {
 public:
  NodeSlab() = default;
  // Allocates `count` nodes at once.
  explicit NodeSlab(std::size_t count) { grow(count); }
  NodeSlab(const NodeSlab&) = delete;
  NodeSlab& operator=(const NodeSlab&) = delete;

  // Allocates `count` more nodes, each holding a default-constructed T. Control thread; the
  // only member that allocates.
  void grow(std::size_t count) {
    free_.reserve(size_ + count);
    for (std::size_t i = 0; i < count; ++i)
      free_.push_back(Node<T>::make());
    size_ += count;
  }

  // A node from the stock holding `value`, or an empty handle when the stock is empty.
  // O(1); never allocates.
  [[nodiscard]] Node<T> take(const T& value) noexcept(std::is_nothrow_copy_assignable_v<T>) {
    if (free_.empty()) return Node<T>();
    Node<T> node = std::move(free_.back());
    free_.pop_back();
    *node = value;
    return node;
  }

  // Puts a node taken from this slab back in the stock. O(1); never allocates: the free list
  // was reserved for every node. An empty handle is ignored.
  void give_back(Node<T>&& node) noexcept {
    if (!node) return;
    if (free_.size() >= size_) {
      // Not one of ours (more came back than are counted out, say after forget()): free it
      // rather than grow.
      node.reset();
      return;
    }
    free_.push_back(std::move(node));
  }

  // Stops counting `count` nodes that are out and will never come back (they belong to an engine
  // that was abandoned on purpose); grow() can replace them.
  void forget(std::size_t count) noexcept { size_ -= count < out() ? count : out(); }

  // Nodes owned in all (in stock or out), in stock, and out.
  std::size_t size() const noexcept { return size_; }
  std::size_t available() const noexcept { return free_.size(); }
  std::size_t out() const noexcept { return size_ - free_.size(); }

 private:
  std::vector<Node<T>> free_;
  std::size_t size_ = 0;
};

}  // namespace clipd
