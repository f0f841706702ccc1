// Intrusive doubly linked lists of voice slots: the engine threads its voices through several
// at once (play order, a clip slot's readers, a choke group, a MIDI binding key), each with its
// own pair of links inside the Voice, so that a command touches only the voices it concerns.
//
// Thread contract: audio thread only (or Engine::retire once it has stopped).
// Cost: push_back and remove O(1); no allocation, wait-free.
#pragma once

#include <cstdint>

namespace clipd::engine {

inline constexpr std::uint32_t kNoIndex = 0xffffffffu;

struct VoiceList {
  std::uint32_t head = kNoIndex;
  std::uint32_t tail = kNoIndex;
  std::uint32_t size = 0;

  bool empty() const noexcept { return head == kNoIndex; }
};

// `nodes` is the voice pool; Prev and Next the pair of links of this kind of list.
template <class T, std::uint32_t T::*Prev, std::uint32_t T::*Next>
void list_push_back(T* nodes, VoiceList& list, std::uint32_t i) noexcept {
  T& x = nodes[i];
  x.*Prev = list.tail;
  x.*Next = kNoIndex;
  if (list.tail != kNoIndex) {
    nodes[list.tail].*Next = i;
  } else {
    list.head = i;
  }
  list.tail = i;
  ++list.size;
}

template <class T, std::uint32_t T::*Prev, std::uint32_t T::*Next>
void list_remove(T* nodes, VoiceList& list, std::uint32_t i) noexcept {
  T& x = nodes[i];
  if (x.*Prev != kNoIndex) {
    nodes[x.*Prev].*Next = x.*Next;
  } else {
    list.head = x.*Next;
  }
  if (x.*Next != kNoIndex) {
    nodes[x.*Next].*Prev = x.*Prev;
  } else {
    list.tail = x.*Prev;
  }
  x.*Prev = x.*Next = kNoIndex;
  --list.size;
}

// True when the list's links agree both ways, its tail is its last node and it holds `size`
// nodes; `fn(i)` is called on each node and must hold too. O(size). For assertions.
template <class T, std::uint32_t T::*Prev, std::uint32_t T::*Next, class Fn>
bool list_valid(const T* nodes, std::uint32_t capacity, const VoiceList& list, Fn fn) noexcept {
  std::uint32_t count = 0;
  std::uint32_t prev = kNoIndex;
  for (std::uint32_t i = list.head; i != kNoIndex; i = nodes[i].*Next) {
    if (i >= capacity || count == capacity || nodes[i].*Prev != prev || !fn(i)) return false;
    prev = i;
    ++count;
  }
  return prev == list.tail && count == list.size;
}

}  // namespace clipd::engine
