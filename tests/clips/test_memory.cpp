// MemoryBudget reservations and the PcmBuffer's layout, mapping and lock.
#include <sys/mman.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "clips/memory_budget.hpp"
#include "clips/pcm_buffer.hpp"

namespace clipd::clips {
namespace {

TEST(MemoryBudget, DefaultLimitIsAQuarterOfPhysicalMemory) {
  const auto physical = static_cast<std::size_t>(::sysconf(_SC_PHYS_PAGES)) *
                        static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const MemoryBudget budget;
  EXPECT_EQ(budget.limit(), MemoryBudget::default_limit());
  EXPECT_LE(budget.limit(), physical / 4);
  EXPECT_GT(budget.limit(), physical / 4 - static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)));
  EXPECT_EQ(budget.used(), 0U);
}

TEST(MemoryBudget, ReservesUpToTheLimitAndNoFurther) {
  MemoryBudget budget(1000);
  EXPECT_TRUE(budget.try_reserve(600));
  EXPECT_FALSE(budget.try_reserve(401));
  EXPECT_EQ(budget.used(), 600U);
  EXPECT_TRUE(budget.try_reserve(400));
  EXPECT_EQ(budget.used(), 1000U);
  EXPECT_FALSE(budget.try_reserve(1));
  budget.release(1000);
  EXPECT_EQ(budget.used(), 0U);
  EXPECT_FALSE(budget.try_reserve(~std::size_t{0}));
  EXPECT_EQ(budget.used(), 0U);
}

TEST(MemoryBudget, ReservationReleasesWhenDestroyedOrMovedOver) {
  MemoryBudget budget(1000);
  {
    auto a = budget.reserve(300);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->bytes(), 300U);
    EXPECT_EQ(budget.used(), 300U);
    BudgetReservation moved = std::move(*a);
    EXPECT_EQ(a->bytes(), 0U);
    EXPECT_EQ(budget.used(), 300U);
    auto b = budget.reserve(700);
    ASSERT_TRUE(b.has_value());
    EXPECT_FALSE(budget.reserve(1).has_value());
    moved = std::move(*b);  // releases the 300 it held
    EXPECT_EQ(budget.used(), 700U);
  }
  EXPECT_EQ(budget.used(), 0U);
}

TEST(MemoryBudget, LowerLimitKeepsWhatIsReserved) {
  MemoryBudget budget(1000);
  auto a = budget.reserve(800);
  budget.set_limit(500);
  EXPECT_EQ(budget.used(), 800U);
  EXPECT_FALSE(budget.try_reserve(1));
  a.reset();
  EXPECT_EQ(budget.used(), 0U);
  EXPECT_TRUE(budget.try_reserve(500));
}

TEST(MemoryBudget, ReservationResizesWithinTheLimit) {
  MemoryBudget budget(1000);
  auto a = budget.reserve(300);
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->resize(900));
  EXPECT_EQ(a->bytes(), 900U);
  EXPECT_EQ(budget.used(), 900U);
  EXPECT_FALSE(a->resize(1001));  // passes the limit: nothing changes
  EXPECT_EQ(a->bytes(), 900U);
  EXPECT_EQ(budget.used(), 900U);
  EXPECT_TRUE(a->resize(1000));
  EXPECT_EQ(budget.used(), 1000U);
  EXPECT_TRUE(a->resize(100));  // a shrink gives the rest back
  EXPECT_EQ(budget.used(), 100U);
  EXPECT_TRUE(budget.try_reserve(900));
  EXPECT_FALSE(a->resize(101));
  budget.release(900);
  a.reset();
  EXPECT_EQ(budget.used(), 0U);
  BudgetReservation empty;
  EXPECT_TRUE(empty.resize(0));
  EXPECT_FALSE(empty.resize(1));  // holds no budget to take from
}

TEST(MemoryBudgetConcurrency, ParallelReservationsNeverPassTheLimit) {
  constexpr std::size_t limit = 10000;
  MemoryBudget budget(limit);
  std::atomic<std::size_t> granted{0};
  std::atomic<bool> passed{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        if (budget.try_reserve(7)) {
          granted.fetch_add(7);
          if (budget.used() > limit) passed.store(true);
          budget.release(7);
          granted.fetch_sub(7);
        }
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_FALSE(passed.load());
  EXPECT_EQ(budget.used(), 0U);
  // And holding: exactly limit / 7 reservations of 7 fit, whichever threads win them.
  std::atomic<int> held{0};
  threads.clear();
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (budget.try_reserve(7))
        held.fetch_add(1);
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(held.load(), static_cast<int>(limit / 7));
  EXPECT_EQ(budget.used(), limit / 7 * 7);
}

TEST(PcmBuffer, StrideAndBytes) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  EXPECT_EQ(PcmBuffer::stride_for(1), 16U);
  EXPECT_EQ(PcmBuffer::stride_for(16), 16U);
  EXPECT_EQ(PcmBuffer::stride_for(17), 32U);
  EXPECT_EQ(PcmBuffer::stride_for(48000), 48000U);
  EXPECT_EQ(PcmBuffer::stride_for(44101), 44112U);
  EXPECT_EQ(*PcmBuffer::bytes_for(1, 1), page);
  EXPECT_EQ(*PcmBuffer::bytes_for(44101, 2), (44112 * 2 * 4 + page - 1) / page * page);
  EXPECT_FALSE(PcmBuffer::bytes_for(~std::uint64_t{0} / 2, 8).has_value());
  EXPECT_FALSE(PcmBuffer::bytes_for(100, 0).has_value());
}

TEST(PcmBuffer, PageAlignedZeroedPlanarAndLocked) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  auto buffer = PcmBuffer::allocate(1001, 3);
  ASSERT_TRUE(buffer.has_value());
  const engine::ClipSamples s = buffer->samples();
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(s.data) % page, 0U);
  EXPECT_EQ(s.frames, 1001U);
  EXPECT_EQ(s.channels, 3U);
  EXPECT_EQ(s.stride, 1008U);
  EXPECT_EQ(buffer->bytes() % page, 0U);
  EXPECT_GE(buffer->bytes(), 1008U * 3 * sizeof(float));
  for (std::uint32_t c = 0; c < 3; ++c) {
    EXPECT_EQ(s.channel(c), buffer->channel(c));
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(s.channel(c)) % 64, 0U);
    for (std::uint64_t i = 0; i < s.stride; ++i)
      ASSERT_EQ(s.channel(c)[i], 0.0f);
  }
  // Run as root (or with CAP_IPC_LOCK / a big RLIMIT_MEMLOCK) the lock holds: every page
  // resident. The unlocked path is tested in clips_unprivileged.
  std::vector<unsigned char> resident((buffer->bytes() + page - 1) / page);
  ASSERT_EQ(::mincore(const_cast<float*>(s.data), buffer->bytes(), resident.data()), 0);
  if (buffer->locked()) {
    for (unsigned char r : resident)
      EXPECT_TRUE(r & 1);
  }
  PcmBuffer moved = std::move(*buffer);
  EXPECT_TRUE(buffer->empty());
  EXPECT_EQ(buffer->bytes(), 0U);
  EXPECT_EQ(moved.samples().data, s.data);
}

// Channel c, frame i of the resize tests: distinct everywhere.
float resize_sample(std::uint32_t c, std::uint64_t i) {
  return static_cast<float>(c + 1) * 1000.0F + static_cast<float>(i % 997);
}

void expect_layout(const PcmBuffer& buffer, std::uint64_t frames, std::uint64_t filled) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const engine::ClipSamples s = buffer.samples();
  ASSERT_EQ(s.frames, frames);
  ASSERT_EQ(s.stride, PcmBuffer::stride_for(frames));
  ASSERT_EQ(buffer.bytes(), *PcmBuffer::bytes_for(frames, s.channels));
  ASSERT_EQ(reinterpret_cast<std::uintptr_t>(s.data) % page, 0U);
  for (std::uint32_t c = 0; c < s.channels; ++c) {
    for (std::uint64_t i = 0; i < s.stride; ++i) {
      const float expected = i < filled ? resize_sample(c, i) : 0.0F;
      ASSERT_EQ(s.channel(c)[i], expected) << "channel " << c << " frame " << i;
    }
  }
}

TEST(PcmBuffer, ResizeKeepsEachChannelsSamplesAndZeroFillsTheRest) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  auto buffer = PcmBuffer::allocate(1001, 3);
  ASSERT_TRUE(buffer.has_value());
  for (std::uint32_t c = 0; c < 3; ++c) {
    for (std::uint64_t i = 0; i < 1001; ++i)
      buffer->channel(c)[i] = resize_sample(c, i);
  }
  const bool locked = buffer->locked();
  // Growing within the same pages, then across many (the mapping may move), then shrinking
  // to fewer pages and to a single one.
  ASSERT_TRUE(buffer->resize(1010));
  expect_layout(*buffer, 1010, 1001);
  ASSERT_TRUE(buffer->resize(300000));
  expect_layout(*buffer, 300000, 1001);
  EXPECT_EQ(buffer->locked(), locked);
  if (buffer->locked()) {
    std::vector<unsigned char> resident(buffer->bytes() / page);
    ASSERT_EQ(::mincore(buffer->channel(0), buffer->bytes(), resident.data()), 0);
    for (unsigned char r : resident)
      ASSERT_TRUE(r & 1);  // the grown part is locked (and so resident) too
  }
  for (std::uint32_t c = 0; c < 3; ++c) {
    for (std::uint64_t i = 1001; i < 300000; ++i)
      buffer->channel(c)[i] = resize_sample(c, i);
  }
  ASSERT_TRUE(buffer->resize(5000));
  expect_layout(*buffer, 5000, 5000);
  ASSERT_TRUE(buffer->resize(7));
  expect_layout(*buffer, 7, 7);
  EXPECT_FALSE(buffer->resize(0));
  expect_layout(*buffer, 7, 7);
  PcmBuffer empty;
  EXPECT_FALSE(empty.resize(10));
}

TEST(PcmBuffer, FreedMemoryIsUnmapped) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  void* address = nullptr;
  std::size_t bytes = 0;
  {
    auto buffer = PcmBuffer::allocate(100000, 2);
    ASSERT_TRUE(buffer.has_value());
    address = buffer->channel(0);
    bytes = buffer->bytes();
  }
  std::vector<unsigned char> resident(bytes / page);
  EXPECT_EQ(::mincore(address, bytes, resident.data()), -1);
  EXPECT_EQ(errno, ENOMEM);  // no longer mapped
}

}  // namespace
}  // namespace clipd::clips
