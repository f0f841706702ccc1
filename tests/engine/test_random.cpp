// A million random commands: every node comes back exactly once, every clip exactly once and
// only after its last voice ended (clip memory is freed at once, so ASan sees a late read).
#include <gtest/gtest.h>

#include "churn.hpp"

namespace clipd::engine::test {
namespace {

TEST(EngineRandom, AMillionCommandsReturnEveryNodeAndEveryClipOnce) {
  Churn::Options options;
  options.seed = 20261126;
  Churn churn(options);
  std::uint64_t cycles = 0;
  while (churn.commands_sent() < 1'000'000 && churn.ok()) {
    churn.step();
    ++cycles;
  }
  churn.finish();
  EXPECT_TRUE(churn.ok()) << churn.error() << " (after " << cycles << " cycles)";
  EXPECT_GE(churn.nodes_sent(), 1'000'000u);
}

}  // namespace
}  // namespace clipd::engine::test
