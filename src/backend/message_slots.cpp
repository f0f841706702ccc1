#include "backend/message_slots.hpp"

#include <algorithm>
#include <string>
#include <utility>

namespace clipd::backend {

MessageSlots::Slot* MessageSlots::claim(bool error) noexcept {
  const std::uint64_t seq = next_seq_.fetch_add(1, std::memory_order_relaxed);
  for (std::size_t i = 0; i < kSlots; ++i) {
    Slot& slot = slots_[(seq + i) % kSlots];
    std::uint32_t expected = kFree;
    if (slot.state.compare_exchange_strong(expected, kWriting, std::memory_order_acquire,
                                           std::memory_order_relaxed)) {
      slot.seq = seq;
      slot.error = error;
      return &slot;
    }
  }
  dropped_.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

void MessageSlots::push(bool error, const char* text) noexcept {
  Slot* slot = claim(error);
  if (slot == nullptr) return;
  std::size_t n = 0;
  if (text != nullptr) {
    for (; n + 1 < kMessageBytes && text[n] != '\0'; ++n)
      slot->text[n] = text[n];
  }
  slot->text[n] = '\0';
  publish(*slot);
}

std::vector<LibraryMessage> MessageSlots::drain(std::uint64_t& dropped) {
  struct Taken {
    std::uint64_t seq;
    LibraryMessage message;
  };
  std::vector<Taken> taken;
  for (Slot& slot : slots_) {
    if (slot.state.load(std::memory_order_acquire) != kReady) continue;
    taken.push_back({slot.seq, LibraryMessage{slot.error, std::string(slot.text)}});
    slot.state.store(kFree, std::memory_order_release);
  }
  std::sort(taken.begin(), taken.end(),
            [](const Taken& a, const Taken& b) { return a.seq < b.seq; });
  std::vector<LibraryMessage> out;
  out.reserve(taken.size());
  for (Taken& t : taken)
    out.push_back(std::move(t.message));
  const std::uint64_t total = dropped_.load(std::memory_order_relaxed);
  dropped += total - dropped_seen_;
  dropped_seen_ = total;
  return out;
}

}  // namespace clipd::backend
