// EngineLink's node slab: client commands are refused once their share of nodes is out, control's
// own messages keep theirs, nodes coming back make room again, and an abandoned engine's nodes
// are written off and replaced by the next build.
#include "backend/engine_link.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CLIPD_TEST_LSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CLIPD_TEST_LSAN 1
#endif
#ifdef CLIPD_TEST_LSAN
#include <sanitizer/lsan_interface.h>
#endif

namespace clipd::backend {
namespace {

// The engine abandon() leaks on purpose is allocated inside this scope, so LeakSanitizer
// (ASan builds) does not report it.
struct IntendedLeak {
#ifdef CLIPD_TEST_LSAN
  IntendedLeak() {
    __lsan_disable();
  }
  ~IntendedLeak() {
    __lsan_enable();
  }
#endif
};

engine::Config small_config() {
  engine::Config c;
  c.sample_rate = 48000;
  c.outputs = 2;
  c.max_voices = 2;
  c.max_pending = 4;
  c.clip_capacity = 2;
  c.retired_capacity = 1;
  c.spare_nodes = 2;
  return c;
}

// Runs one engine cycle of 64 frames on this thread, the way a backend's process callback does.
void run_cycle(EngineLink& link, std::uint64_t frame) {
  std::vector<float> left(64), right(64);
  float* outputs[] = {left.data(), right.data()};
  const ProcessTarget t = link.target();
  t.fn(t.ctx, frame, 64, outputs, {}, 0, 0);
}

TEST(EngineLink, TheSlabIsSizedFromTheConfig) {
  const engine::Config c = small_config();
  // pool = max_voices + fade_voices (= max_voices): 4; two nodes per voice slot.
  EXPECT_EQ(EngineLink::client_share_for(c), 2 * 4 + 4 + 2 + EngineLink::kClientTransit);
  EXPECT_EQ(EngineLink::own_share_for(c), 2 * 2 + 1 + 2 + EngineLink::kOwnTransit);
  EngineLink link(2);
  link.build(c);
  EXPECT_EQ(link.slab_size(), EngineLink::client_share_for(c) + EngineLink::own_share_for(c));
  EXPECT_EQ(link.slab_available(), link.slab_size());
  EXPECT_EQ(link.client_room(), link.client_share());
}

TEST(EngineLink, ClientCommandsBeyondTheirShareAreRefusedUntilNodesComeBack) {
  EngineLink link(2);
  link.build(small_config());
  const std::uint32_t share = link.client_share();
  for (std::uint32_t i = 0; i < share; ++i) {
    ASSERT_TRUE(link.send(engine::Message::master_cmd(1.0f, 0))) << i;
  }
  EXPECT_EQ(link.client_room(), 0u);
  EXPECT_FALSE(link.send(engine::Message::master_cmd(1.0f, 0)));
  // Control's own messages still have their nodes.
  EXPECT_TRUE(link.send(engine::Message::spare()));
  // One cycle takes Config::max_messages_per_cycle messages (256) and sends them back.
  run_cycle(link, 0);
  std::uint32_t masters = 0;
  link.drain([&](const engine::Message& m) {
    if (m.kind == engine::Kind::master) ++masters;
  });
  EXPECT_EQ(masters, 256u);
  EXPECT_EQ(link.client_room(), 256u);
  EXPECT_TRUE(link.send(engine::Message::master_cmd(1.0f, 0)));
  // Every node comes back in the end; none is lost or made.
  std::uint64_t frame = 64;
  for (int i = 0; i < 10; ++i, frame += 64)
    run_cycle(link, frame);
  link.drain([](const engine::Message&) {});
  link.retire(frame, engine::EndReason::shutdown);
  link.drain([](const engine::Message&) {});
  EXPECT_EQ(link.slab_available(), link.slab_size());
  EXPECT_EQ(link.client_room(), share);
}

TEST(EngineLink, AnAbandonedEnginesNodesAreWrittenOffAndReplacedByTheNextBuild) {
  EngineLink link(2);
  const engine::Config c = small_config();
  {
    [[maybe_unused]] const IntendedLeak leak;
    link.build(c);
  }
  const std::size_t total = link.slab_size();
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(link.send(engine::Message::master_cmd(1.0f, 0)));
  link.abandon();
  EXPECT_FALSE(link.online());
  EXPECT_EQ(link.slab_size(), total - 10);
  EXPECT_EQ(link.slab_available(), total - 10);
  link.build(c);
  EXPECT_EQ(link.slab_size(), total);
  EXPECT_EQ(link.client_room(), link.client_share());
  EXPECT_TRUE(link.send(engine::Message::master_cmd(1.0f, 0)));
  run_cycle(link, 0);
  std::uint32_t back = 0;
  link.drain([&](const engine::Message&) { ++back; });
  EXPECT_EQ(back, 1u);
}

}  // namespace
}  // namespace clipd::backend
