#include "clips/memory_budget.hpp"

#include <unistd.h>

#include <utility>

namespace clipd::clips {

BudgetReservation::BudgetReservation(BudgetReservation&& other) noexcept
    : budget_(std::exchange(other.budget_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

BudgetReservation& BudgetReservation::operator=(BudgetReservation&& other) noexcept {
  if (this != &other) {
    reset();
    budget_ = std::exchange(other.budget_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

BudgetReservation::~BudgetReservation() {
  reset();
}

void BudgetReservation::reset() noexcept {
  if (budget_ != nullptr) budget_->release(bytes_);
  budget_ = nullptr;
  bytes_ = 0;
}

bool BudgetReservation::resize(std::size_t bytes) noexcept {
  if (bytes == bytes_) return true;
  if (budget_ == nullptr) return false;
  if (bytes < bytes_) {
    budget_->release(bytes_ - bytes);
  } else if (!budget_->try_reserve(bytes - bytes_)) {
    return false;
  }
  bytes_ = bytes;
  return true;
}

std::size_t MemoryBudget::default_limit() noexcept {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return std::size_t{1} << 30;
  return static_cast<std::size_t>(pages) / 4 * static_cast<std::size_t>(page_size);
}

bool MemoryBudget::try_reserve(std::size_t bytes) noexcept {
  std::size_t used = used_.load(std::memory_order_relaxed);
  for (;;) {
    const std::size_t limit = limit_.load(std::memory_order_acquire);
    if (used > limit || bytes > limit - used) return false;
    if (used_.compare_exchange_weak(used, used + bytes, std::memory_order_acq_rel,
                                    std::memory_order_relaxed)) {
      return true;
    }
  }
}

void MemoryBudget::release(std::size_t bytes) noexcept {
  used_.fetch_sub(bytes, std::memory_order_acq_rel);
}

std::optional<BudgetReservation> MemoryBudget::reserve(std::size_t bytes) noexcept {
  if (!try_reserve(bytes)) return std::nullopt;
  return BudgetReservation(this, bytes);
}

}  // namespace clipd::clips
