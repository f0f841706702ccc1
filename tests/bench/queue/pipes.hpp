// tests/bench/queue/pipes.hpp: one direction of each queue under test, behind one small shape
// so that every scenario runs the same code on every queue.
//
// The payload is a pointer everywhere. The peers are rings of pointers: a push copies the
// pointer into a slot. clipd::Queue moves nodes: the pointer rides in a node that the consumer
// gets and must hand back over a second queue for the producer to reuse (that is how clipd uses
// it: nothing is allocated or freed after start-up). The scenarios do that return trip for our
// queue, which is why `kNodes` is visible to them.
#pragma once

#include <readerwriterqueue.h>

#include <boost/lockfree/spsc_queue.hpp>
#include <cstddef>
#include <cstdint>

#include "clipd/node_queue.hpp"

namespace clipd::bench {

using Payload = const std::uint64_t*;

// Ring capacity of the bounded peers, and the node pool our queue gets for the same runs.
// boost's capacity<N> holds N - 1 items; ReaderWriterQueue(N - 1) holds N - 1 in one block.
inline constexpr std::size_t kRingSlots = 1024;
inline constexpr std::size_t kCapacity = kRingSlots - 1;

// Ours: a clipd::Queue with its two ends. The scenarios use the ends directly.
struct NodePipe {
  static constexpr const char* kName = "clipd::Queue";
  static constexpr bool kNodes = true;
  static constexpr bool kBounded = false;

  Queue<Payload> queue;
  Producer<Payload> in = queue.producer();
  Consumer<Payload> out = queue.consumer();
};

struct BoostPipe {
  static constexpr const char* kName = "boost spsc_queue";
  static constexpr bool kNodes = false;
  static constexpr bool kBounded = true;

  // Producer thread. Fails when the ring is full.
  bool push(Payload p) noexcept { return ring_.push(p); }
  // Consumer thread. Fails when the ring is empty.
  bool pop(Payload& p) noexcept { return ring_.pop(p); }
  // Items it holds now, without growing (it never grows).
  std::size_t capacity() const noexcept { return kCapacity; }

 private:
  boost::lockfree::spsc_queue<Payload, boost::lockfree::capacity<kRingSlots>> ring_;
};

// moodycamel::ReaderWriterQueue with try_enqueue: bounded, fails when full.
struct RwqTryPipe {
  static constexpr const char* kName = "rwq try_enqueue";
  static constexpr bool kNodes = false;
  static constexpr bool kBounded = true;

  bool push(Payload p) noexcept { return ring_.try_enqueue(p); }
  bool pop(Payload& p) noexcept { return ring_.try_dequeue(p); }
  std::size_t capacity() const noexcept { return ring_.max_capacity(); }

 private:
  moodycamel::ReaderWriterQueue<Payload> ring_{kCapacity};
};

// moodycamel::ReaderWriterQueue with enqueue: never reports full, allocates a new block instead
// (so it is no candidate for the audio thread, and not a bounded peer).
struct RwqEnqueuePipe {
  static constexpr const char* kName = "rwq enqueue";
  static constexpr bool kNodes = false;
  static constexpr bool kBounded = false;

  bool push(Payload p) { return ring_.enqueue(p); }
  bool pop(Payload& p) noexcept { return ring_.try_dequeue(p); }
  std::size_t capacity() const noexcept { return ring_.max_capacity(); }

 private:
  moodycamel::ReaderWriterQueue<Payload> ring_{kCapacity};
};

}  // namespace clipd::bench
