// libjack's message hooks: copied into fixed slots without allocating, drained in order, dropped
// and counted when the slots are full, never lost or torn under concurrent writers.
#include "backend/jack/library_log.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

// Counts this thread's calls to the global operator new while `counting` is set.
thread_local bool counting = false;
thread_local std::uint64_t allocations = 0;

}  // namespace

// noinline: g++ would otherwise see malloc paired with a sized delete and warn.
[[gnu::noinline]] void* operator new(std::size_t size) {
  if (counting) ++allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace clipd::backend::jack {
namespace {

// A fresh log per test (the process-wide instance is for the hooks).
std::unique_ptr<LibraryLog> fresh() {
  return std::make_unique<LibraryLog>();
}

TEST(LibraryLog, PushNeverAllocatesAndDrainReturnsMessagesInOrder) {
  auto log = fresh();
  allocations = 0;
  counting = true;
  log->push(true, "first error");
  log->push(false, "an info");
  log->push(true, nullptr);
  counting = false;
  EXPECT_EQ(allocations, 0u);
  std::uint64_t dropped = 0;
  const auto messages = log->drain(dropped);
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_TRUE(messages[0].error);
  EXPECT_EQ(messages[0].text, "first error");
  EXPECT_FALSE(messages[1].error);
  EXPECT_EQ(messages[1].text, "an info");
  EXPECT_EQ(messages[2].text, "");
  EXPECT_EQ(dropped, 0u);
  EXPECT_TRUE(log->drain(dropped).empty());
}

TEST(LibraryLog, LongMessagesAreTruncatedToTheSlot) {
  auto log = fresh();
  const std::string longer(LibraryLog::kMessageBytes * 2, 'x');
  log->push(true, longer.c_str());
  std::uint64_t dropped = 0;
  const auto messages = log->drain(dropped);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].text, std::string(LibraryLog::kMessageBytes - 1, 'x'));
}

TEST(LibraryLog, WhenEverySlotIsFullMessagesAreDroppedAndCounted) {
  auto log = fresh();
  for (std::size_t i = 0; i < LibraryLog::kSlots + 5; ++i)
    log->push(false, ("m" + std::to_string(i)).c_str());
  std::uint64_t dropped = 0;
  const auto messages = log->drain(dropped);
  ASSERT_EQ(messages.size(), LibraryLog::kSlots);
  for (std::size_t i = 0; i < LibraryLog::kSlots; ++i)
    EXPECT_EQ(messages[i].text, "m" + std::to_string(i));
  EXPECT_EQ(dropped, 5u);
  // Drained: room again, and the count is reported once.
  log->push(false, "again");
  std::uint64_t more = 0;
  const auto after = log->drain(more);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].text, "again");
  EXPECT_EQ(more, 0u);
}

TEST(LibraryLog, ConcurrentWritersLoseNothingUncountedAndTearNothing) {
  auto log = fresh();
  constexpr int kThreads = 4;
  constexpr int kEach = 20000;
  std::atomic<bool> go{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      while (!go.load()) {
      }
      char text[32];
      for (int i = 0; i < kEach; ++i) {
        std::snprintf(text, sizeof text, "t%d-%d", t, i);
        log->push(t % 2 == 0, text);
      }
    });
  }
  go.store(true);
  std::set<std::string> seen;
  std::uint64_t dropped = 0;
  std::atomic<bool> done{false};
  std::thread joiner([&] {
    for (auto& w : writers)
      w.join();
    done.store(true);
  });
  auto take = [&] {
    for (const auto& m : log->drain(dropped)) {
      // Each message whole: "t<thread>-<i>", its hook's error flag, seen once.
      ASSERT_EQ(m.text[0], 't') << m.text;
      const int t = m.text[1] - '0';
      EXPECT_EQ(m.error, t % 2 == 0) << m.text;
      EXPECT_TRUE(seen.insert(m.text).second) << m.text;
    }
  };
  while (!done.load())
    take();
  joiner.join();
  take();
  EXPECT_EQ(seen.size() + dropped, std::uint64_t{kThreads} * kEach);
}

}  // namespace
}  // namespace clipd::backend::jack
