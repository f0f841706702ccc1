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

// Random commands and a MIDI storm together: notes of random bound and unbound keys, random
// binding tables swapped every few cycles, a small spare pool topped up only now and then.
void midi_storm(bool drop_notes_when_dry) {
  Churn::Options options;
  options.seed = drop_notes_when_dry ? 8128 : 496;
  options.midi = true;
  options.drop_notes_when_dry = drop_notes_when_dry;
  options.max_commands_per_cycle = 4;
  options.min_period = 8;
  options.max_period = 64;
  Churn churn(options);
  std::uint64_t cycles = 0;
  while (cycles < 150'000 && churn.ok()) {
    churn.step();
    ++cycles;
  }
  const std::uint64_t dropped = churn.engine().dropped_notes();
  churn.finish();
  EXPECT_TRUE(churn.ok()) << churn.error() << " (after " << cycles << " cycles)";
  EXPECT_GE(churn.notes_sent(), 150'000u);
  EXPECT_GE(churn.midi_voices(), 10'000u);
  EXPECT_GE(churn.tables_sent(), 1'000u);
  if (drop_notes_when_dry) {
    EXPECT_GT(dropped, 0u);
  } else {
    EXPECT_GT(churn.engine().lost_events(), 0u);  // the pool ran dry, notes played on
  }
}

TEST(EngineRandom, MidiStormReturnsEveryNodeTableAndSpareOnce) {
  midi_storm(false);
}

TEST(EngineRandom, MidiStormDroppingNotesWhenDry) {
  midi_storm(true);
}

}  // namespace
}  // namespace clipd::engine::test
