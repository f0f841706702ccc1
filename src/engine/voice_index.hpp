// Voice id → voice slot, for commands that name a voice (stop, pause, resume, set); the engine
// also maps choke group ids to group records with one.
//
// Open addressing with linear probing and backward-shift deletion: no tombstones, so lookups stay
// short however long the engine runs. The table has a power-of-two size at least twice the voice
// pool, fixed at construction, so it never fills and never rehashes.
//
// Thread contract: built on the control thread (allocates); find/insert/erase on the audio thread.
// Non-blocking guarantees: find/insert/erase are wait-free (bounded by the table size), no
// allocation. Cost, with at most N = `voices` entries in a table of 2N..4N: O(1) expected, O(N)
// at worst (one cluster). Voice and group ids come from control's counters, not from clients.
#pragma once

#include <cstdint>
#include <memory>

namespace clipd::engine {

class VoiceIndex {
 public:
  static constexpr std::uint32_t kNone = 0xffffffffu;

  // Note: allocates. `voices` is the most entries ever held at once.
  explicit VoiceIndex(std::uint32_t voices) {
    std::uint32_t size = 16;
    while (size < 2 * voices)
      size *= 2;
    mask_ = size - 1;
    keys_ = std::make_unique<std::uint64_t[]>(size);
    values_ = std::make_unique<std::uint32_t[]>(size);
    for (std::uint32_t i = 0; i < size; ++i)
      values_[i] = kNone;
  }

  std::uint32_t find(std::uint64_t id) const noexcept {
    for (std::uint32_t i = home(id);; i = (i + 1) & mask_) {
      if (values_[i] == kNone) return kNone;
      if (keys_[i] == id) return values_[i];
    }
  }

  // Inserts or overwrites.
  void insert(std::uint64_t id, std::uint32_t value) noexcept {
    for (std::uint32_t i = home(id);; i = (i + 1) & mask_) {
      if (values_[i] == kNone || keys_[i] == id) {
        keys_[i] = id;
        values_[i] = value;
        return;
      }
    }
  }

  // Removes `id` if present and mapped to `value` (so a duplicate id sent by a faulty control
  // side cannot unmap the other voice).
  void erase(std::uint64_t id, std::uint32_t value) noexcept {
    std::uint32_t i = home(id);
    for (;; i = (i + 1) & mask_) {
      if (values_[i] == kNone) return;
      if (keys_[i] == id) break;
    }
    if (values_[i] != value) return;
    // Backward shift: pull later entries of the cluster into the hole when their home allows.
    for (std::uint32_t j = (i + 1) & mask_;; j = (j + 1) & mask_) {
      if (values_[j] == kNone) break;
      const std::uint32_t h = home(keys_[j]);
      // Entry j may move to i when i lies cyclically in [h, j).
      if (((j - h) & mask_) >= ((j - i) & mask_)) {
        keys_[i] = keys_[j];
        values_[i] = values_[j];
        i = j;
      }
    }
    values_[i] = kNone;
  }

 private:
  std::uint32_t home(std::uint64_t id) const noexcept {
    std::uint64_t x = id * 0x9E3779B97F4A7C15ull;
    return static_cast<std::uint32_t>(x >> 32) & mask_;
  }

  std::uint32_t mask_ = 0;
  std::unique_ptr<std::uint64_t[]> keys_;
  std::unique_ptr<std::uint32_t[]> values_;
};

}  // namespace clipd::engine
