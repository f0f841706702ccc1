// The memory budget for decoded clips (config `memory_budget`, reported in `status` as
// `memory_bytes` / `memory_budget_bytes`).
//
// A load reserves its clip's full size as soon as the size is known, before anything big is
// allocated, so parallel loads can never pass the limit together. A stream whose length is not
// known in advance reserves in steps as it decodes (BudgetReservation::resize) and gives back
// what it did not use. The reservation travels with the clip and is released when the clip's
// memory has been freed.
//
// Thread contract: every member is thread-safe (loader workers reserve, the control thread
// releases and reads). Non-blocking guarantees: lock-free (a compare-exchange loop).
// The budget must outlive every reservation taken from it.
#pragma once

#include <atomic>
#include <cstddef>
#include <optional>

namespace clipd::clips {

class MemoryBudget;

// Move-only ownership of bytes reserved from a MemoryBudget; releases them when destroyed.
class BudgetReservation {
 public:
  BudgetReservation() noexcept = default;
  BudgetReservation(BudgetReservation&& other) noexcept;
  BudgetReservation& operator=(BudgetReservation&& other) noexcept;
  BudgetReservation(const BudgetReservation&) = delete;
  BudgetReservation& operator=(const BudgetReservation&) = delete;
  ~BudgetReservation();

  std::size_t bytes() const noexcept { return bytes_; }
  // Makes the reservation `bytes`: a shrink always succeeds (the difference goes back to the
  // budget); a growth takes the difference from the budget, or returns false and changes nothing
  // when that would pass the limit. A reservation that holds no budget can only resize to 0.
  bool resize(std::size_t bytes) noexcept;
  // Gives the bytes back now (idempotent).
  void reset() noexcept;

 private:
  friend class MemoryBudget;
  BudgetReservation(MemoryBudget* budget, std::size_t bytes) noexcept
      : budget_(budget), bytes_(bytes) {}

  MemoryBudget* budget_ = nullptr;
  std::size_t bytes_ = 0;
};

class MemoryBudget {
 public:
  // A quarter of the machine's physical memory.
  static std::size_t default_limit() noexcept;

  explicit MemoryBudget(std::size_t limit = default_limit()) noexcept : limit_(limit) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Adds `bytes` to the use unless that would pass the limit; false (and nothing changed) then.
  bool try_reserve(std::size_t bytes) noexcept;
  void release(std::size_t bytes) noexcept;
  // try_reserve as an owning handle; nullopt when it would pass the limit.
  std::optional<BudgetReservation> reserve(std::size_t bytes) noexcept;

  std::size_t used() const noexcept { return used_.load(std::memory_order_acquire); }
  std::size_t limit() const noexcept { return limit_.load(std::memory_order_acquire); }
  // A new limit applies to later reservations; what is already reserved stays.
  void set_limit(std::size_t limit) noexcept { limit_.store(limit, std::memory_order_release); }

 private:
  std::atomic<std::size_t> used_{0};
  std::atomic<std::size_t> limit_;
};

static_assert(std::atomic<std::size_t>::is_always_lock_free);

}  // namespace clipd::clips
