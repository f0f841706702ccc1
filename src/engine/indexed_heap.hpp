// A binary min-heap of ids ordered by (frame, seq), with each id's position kept so that any id
// can be taken out, not only the top. The engine keeps its timed commands (ids = slots of its
// timed-command store) and its scheduled voices with a choke group (ids = voice slots) in two of
// these: the earliest is read in O(1), and ties on a frame keep the order of `seq` (arrival or
// play order).
//
// Storage is allocated once, at construction, for `capacity` ids in [0, capacity); no id is ever
// held twice.
//
// Thread contract: built on the control thread (allocates); every other member runs on the audio
// thread (or in Engine::retire once it has stopped).
// Cost, with C = capacity: top/contains/size O(1); push, pop, erase, rekey O(log C); no allocation, no
// system call, wait-free.
#pragma once

#include <cstdint>
#include <memory>

#include "clipd/rt_assert.hpp"

namespace clipd::engine {

class IndexedHeap {
 public:
  static constexpr std::uint32_t kAbsent = 0xffffffffu;

  struct Entry {
    std::uint64_t frame;
    std::uint64_t seq;
    std::uint32_t id;
  };

  // Note: allocates. Control thread.
  explicit IndexedHeap(std::uint32_t capacity)
      : capacity_(capacity),
        heap_(std::make_unique<Entry[]>(capacity)),
        pos_(std::make_unique<std::uint32_t[]>(capacity)) {
    for (std::uint32_t i = 0; i < capacity; ++i)
      pos_[i] = kAbsent;
  }

  std::uint32_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  bool full() const noexcept { return size_ == capacity_; }
  bool contains(std::uint32_t id) const noexcept { return pos_[id] != kAbsent; }
  // The earliest entry; the heap must not be empty. O(1).
  const Entry& top() const noexcept { return heap_[0]; }

  // Adds `id` (< capacity, not held). O(log C).
  void push(std::uint32_t id, std::uint64_t frame, std::uint64_t seq) noexcept {
    CLIPD_RT_ASSERT(id < capacity_ && pos_[id] == kAbsent && size_ < capacity_);
    const std::uint32_t i = size_++;
    heap_[i] = Entry{frame, seq, id};
    pos_[id] = i;
    up(i);
  }
  // Takes the top out and returns its id. O(log C).
  std::uint32_t pop() noexcept {
    const std::uint32_t id = heap_[0].id;
    erase(id);
    return id;
  }
  // Takes `id` out when held. O(log C).
  void erase(std::uint32_t id) noexcept {
    const std::uint32_t i = pos_[id];
    if (i == kAbsent) return;
    pos_[id] = kAbsent;
    const std::uint32_t last = --size_;
    if (i == last) return;
    heap_[i] = heap_[last];
    pos_[heap_[i].id] = i;
    if (i > 0 && less(heap_[i], heap_[(i - 1) / 2])) {
      up(i);
    } else {
      down(i);
    }
  }

  // Gives held `id` a new frame; its seq stays. O(log C).
  void rekey(std::uint32_t id, std::uint64_t frame) noexcept {
    const std::uint32_t i = pos_[id];
    CLIPD_RT_ASSERT(i != kAbsent);
    heap_[i].frame = frame;
    if (i > 0 && less(heap_[i], heap_[(i - 1) / 2])) {
      up(i);
    } else {
      down(i);
    }
  }

  // Checks the heap order and the positions; O(C). For assertions only.
  bool valid() const noexcept {
    for (std::uint32_t i = 0; i < size_; ++i) {
      if (pos_[heap_[i].id] != i) return false;
      if (i > 0 && less(heap_[i], heap_[(i - 1) / 2])) return false;
    }
    std::uint32_t held = 0;
    for (std::uint32_t id = 0; id < capacity_; ++id)
      held += pos_[id] != kAbsent ? 1 : 0;
    return held == size_;
  }

 private:
  static bool less(const Entry& a, const Entry& b) noexcept {
    return a.frame < b.frame || (a.frame == b.frame && a.seq < b.seq);
  }
  void place(std::uint32_t i, const Entry& e) noexcept {
    heap_[i] = e;
    pos_[e.id] = i;
  }
  void up(std::uint32_t i) noexcept {
    const Entry e = heap_[i];
    while (i > 0) {
      const std::uint32_t parent = (i - 1) / 2;
      if (!less(e, heap_[parent])) break;
      place(i, heap_[parent]);
      i = parent;
    }
    place(i, e);
  }
  void down(std::uint32_t i) noexcept {
    const Entry e = heap_[i];
    for (;;) {
      std::uint32_t child = 2 * i + 1;
      if (child >= size_) break;
      if (child + 1 < size_ && less(heap_[child + 1], heap_[child])) ++child;
      if (!less(heap_[child], e)) break;
      place(i, heap_[child]);
      i = child;
    }
    place(i, e);
  }

  std::uint32_t capacity_;
  std::uint32_t size_ = 0;
  std::unique_ptr<Entry[]> heap_;
  std::unique_ptr<std::uint32_t[]> pos_;
};

}  // namespace clipd::engine
