// clipd/node_queue.hpp: a wait-free single-producer single-consumer linked-list queue whose
// nodes are owned one by one and reused forever.
//
// Why a linked list and not a ring: a node is allocated once, on the control thread, and then
// circulates. The real-time side pops a node from one queue and pushes the same node (with a new
// value written into it) onto another, so it never allocates, never frees and a push can never
// fail for lack of room. Node count is conserved between the queues; only the control thread
// creates or destroys nodes.
//
// The queue keeps a sentinel: the consumer's head always points at a node without a value. A pop
// moves the value of the node after the sentinel into the old sentinel and hands the old sentinel
// out; the node it came from becomes the new sentinel. So node identity changes on every pop,
// which is what lets the producer keep writing into its tail while the consumer returns nodes.
//
// Standard library only, header-only.
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <new>
#include <type_traits>
#include <utility>

namespace clipd {

// Keeps the producer's and the consumer's state on separate cache lines so they do not bounce
// one line between two cores on every operation.
inline constexpr std::size_t kCacheLine = 64;

template <class T>
class Queue;
template <class T>
class Producer;
template <class T>
class Consumer;

namespace detail {

// One heap cell. `storage` holds a live T exactly when the cell is owned by a non-empty Node<T>
// handle or sits in a queue after the sentinel; the sentinel's storage is empty.
template <class T>
struct QueueCell {
  std::atomic<QueueCell*> next{nullptr};
  alignas(T) unsigned char storage[sizeof(T)];

  T* value() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
};

}  // namespace detail

// A move-only owning handle to one queue node holding a T.
//
// Thread contract: a handle belongs to whichever thread holds it. make() allocates and the
// destructor of a non-empty handle frees, so both belong on the control thread only; moving a
// handle, reading or writing its value are wait-free and safe anywhere.
//
// No hidden frees: moving a node into a handle that still holds one would free the held node
// on whatever thread does it, the audio thread included. That is always a bug, so it calls
// std::terminate() instead. Empty the handle first: hand its node on (push, or a move into an
// empty handle), or reset() it on the control thread.
template <class T>
class Node {
 public:
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "values move on the real-time thread: moves must not throw");
  static_assert(std::is_nothrow_destructible_v<T>);

  Node() noexcept = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  Node(Node&& other) noexcept : cell_(std::exchange(other.cell_, nullptr)) {}
  // Terminates when this handle still holds a node (see above). Wait-free otherwise.
  Node& operator=(Node&& other) noexcept {
    if (this != &other) {
      if (cell_ != nullptr) std::terminate();
      cell_ = std::exchange(other.cell_, nullptr);
    }
    return *this;
  }
  // Note: frees memory when non-empty. Control thread only.
  ~Node() { reset(); }

  // Allocates one node and constructs its value. Control thread only (allocates memory).
  template <class... Args>
  [[nodiscard]] static Node make(Args&&... args) {
    auto* cell = new detail::QueueCell<T>;
    try {
      ::new (static_cast<void*>(cell->storage)) T(std::forward<Args>(args)...);
    } catch (...) {
      delete cell;
      throw;
    }
    return Node(cell);
  }

  T& operator*() const noexcept { return *cell_->value(); }
  T* operator->() const noexcept { return cell_->value(); }
  explicit operator bool() const noexcept { return cell_ != nullptr; }

  // Destroys the value and frees the node; the handle becomes empty. Control thread only.
  void reset() noexcept {
    if (cell_ != nullptr) {
      cell_->value()->~T();
      delete cell_;
      cell_ = nullptr;
    }
  }

 private:
  friend class Queue<T>;
  friend class Producer<T>;
  friend class Consumer<T>;

  explicit Node(detail::QueueCell<T>* cell) noexcept : cell_(cell) {}
  detail::QueueCell<T>* release() noexcept { return std::exchange(cell_, nullptr); }

  detail::QueueCell<T>* cell_ = nullptr;
};

// The queue itself: owns the current sentinel and every node still queued.
//
// Thread contract: construct and destroy on the control thread, when neither end is in use any
// more (for the engine's queues: after jack_client_close has returned). The queue does not move:
// its Producer and Consumer handles point into it.
template <class T>
class Queue {
  using Cell = detail::QueueCell<T>;
  static_assert(std::atomic<Cell*>::is_always_lock_free, "the queue needs lock-free pointers");

 public:
  // Note: allocates the first sentinel.
  Queue() : head_(new Cell), tail_(head_) {}
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  // Note: frees the sentinel and destroys and frees every value still queued.
  ~Queue() {
    Cell* cell = head_;
    Cell* next = cell->next.load(std::memory_order_acquire);
    delete cell;  // the sentinel holds no value
    while (next != nullptr) {
      cell = next;
      next = cell->next.load(std::memory_order_acquire);
      cell->value()->~T();
      delete cell;
    }
  }

  // The producing end. Take it once and give it to the one thread that pushes.
  Producer<T> producer() noexcept { return Producer<T>(this); }
  // The consuming end. Take it once and give it to the one thread that pops.
  Consumer<T> consumer() noexcept { return Consumer<T>(this); }

 private:
  friend class Producer<T>;
  friend class Consumer<T>;

  // Consumer state: the sentinel.
  alignas(kCacheLine) Cell* head_;
  // Producer state: the last node linked in. The alignment also rounds the object up to whole
  // lines, so nothing that follows it shares the producer's line.
  alignas(kCacheLine) Cell* tail_;
};

// The producing end of a Queue<T>. One thread at a time.
template <class T>
class Producer {
 public:
  Producer() noexcept = default;

  // Appends a node; the handle becomes empty. Pushing an empty handle does nothing.
  // Non-blocking guarantees: wait-free, one release store; never fails, never allocates.
  // Safe on the real-time thread.
  void push(Node<T>&& node) noexcept {
    auto* cell = node.release();
    if (cell == nullptr) return;
    cell->next.store(nullptr, std::memory_order_relaxed);
    queue_->tail_->next.store(cell, std::memory_order_release);
    queue_->tail_ = cell;
  }

  explicit operator bool() const noexcept { return queue_ != nullptr; }

 private:
  friend class Queue<T>;
  explicit Producer(Queue<T>* queue) noexcept : queue_(queue) {}
  Queue<T>* queue_ = nullptr;
};

// The consuming end of a Queue<T>. One thread at a time.
template <class T>
class Consumer {
 public:
  Consumer() noexcept = default;

  // Takes the oldest value, or returns an empty handle when nothing is queued.
  // The value moves into the old sentinel, which is returned; the moved-from value is destroyed
  // here (so T must own nothing once moved from when this runs on the real-time thread).
  // Non-blocking guarantees: wait-free, one acquire load; never allocates or frees.
  // Safe on the real-time thread.
  [[nodiscard]] Node<T> pop() noexcept {
    auto* sentinel = queue_->head_;
    auto* next = sentinel->next.load(std::memory_order_acquire);
    if (next == nullptr) return Node<T>();
    T* from = next->value();
    ::new (static_cast<void*>(sentinel->storage)) T(std::move(*from));
    from->~T();
    queue_->head_ = next;
    // The old sentinel is ours alone now: the producer's tail is at `next` or beyond.
    sentinel->next.store(nullptr, std::memory_order_relaxed);
    return Node<T>(sentinel);
  }

  // True when a pop would return a value. Wait-free.
  [[nodiscard]] bool ready() const noexcept {
    return queue_->head_->next.load(std::memory_order_acquire) != nullptr;
  }

  explicit operator bool() const noexcept { return queue_ != nullptr; }

 private:
  friend class Queue<T>;
  explicit Consumer(Queue<T>* queue) noexcept : queue_(queue) {}
  Queue<T>* queue_ = nullptr;
};

}  // namespace clipd
