// A value that counts its constructions and destructions, to prove the queue neither leaks nor
// destroys twice.
#pragma once

#include <cstdint>

namespace clipd::test {

struct Counts {
  std::int64_t constructed = 0;
  std::int64_t destroyed = 0;
  std::int64_t live() const { return constructed - destroyed; }
};

inline Counts g_counts;

struct Counted {
  explicit Counted(std::uint64_t v) noexcept : value(v) { ++g_counts.constructed; }
  Counted(Counted&& other) noexcept : value(other.value) {
    other.value = kMovedFrom;
    ++g_counts.constructed;
  }
  Counted& operator=(Counted&& other) noexcept {
    value = other.value;
    other.value = kMovedFrom;
    return *this;
  }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  ~Counted() { ++g_counts.destroyed; }

  static constexpr std::uint64_t kMovedFrom = ~std::uint64_t{0};
  std::uint64_t value;
};

}  // namespace clipd::test
