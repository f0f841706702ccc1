// MIDI filtered first: only events that act reach the cycle's event list; a storm of other
// messages changes nothing and is not counted; acting events are capped per cycle with note-offs
// of live gate voices first, and what the cap drops is counted.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "rig.hpp"

namespace clipd::engine::test {
namespace {

constexpr std::uint64_t kDeclick = 240;  // 5 ms at 48 kHz
constexpr std::uint64_t kMidiBase = std::uint64_t{1} << 48;

Binding binding(std::uint32_t clip, TriggerMode mode) {
  Binding b;
  b.clip = clip;
  b.mode = mode;
  b.used = true;
  return b;
}

// A rig with a gate binding on note 50 and a oneshot on note 60 (any channel), both of clip 0.
struct MidiRig {
  explicit MidiRig(Config config = {}, std::uint32_t spares = 64)
      : rig(with_spares(config, spares)), clip(48000, 2, 61) {
    rig.add_clip(0, clip);
    rig.spares(spares);
    BindingTable* table = rig.new_table();
    table->at(0, 50) = binding(0, TriggerMode::gate);
    table->at(0, 60) = binding(0, TriggerMode::oneshot);
    rig.send(Message::set_bindings(table));
    rig.play(1, 0);  // a command voice under it all
    // max_messages_per_cycle (256) a cycle: the spares, the table and the play are all taken.
    for (std::uint32_t i = 0; i < spares / 256 + 2; ++i)
      rig.cycle(64);
  }
  static Config with_spares(Config config, std::uint32_t spares) {
    config.spare_nodes = spares;
    return config;
  }
  Rig rig;
  TestClip clip;
};

TEST(MidiFilter, AStormOfOtherMessagesChangesNothingAndIsNotCounted) {
  MidiRig plain, storm;
  const std::vector<Rig::Midi> notes = {Rig::note_on(100, 1, 50), Rig::note_on(300, 2, 60),
                                        Rig::note_off(700, 1, 50)};
  std::vector<Rig::Midi> noisy;
  for (std::uint32_t i = 0; i < 1000; ++i) {
    const auto offset = i * 1024 / 1000;
    // Controllers, pitch bend, unbound notes, note-offs with no voice, running junk.
    switch (i % 5) {
      case 0:
        noisy.push_back({offset, {0xb0, 7, static_cast<std::uint8_t>(i % 128)}});
        break;
      case 1:
        noisy.push_back({offset, {0xe3, 0, 64}});
        break;
      case 2:
        noisy.push_back(Rig::note_on(offset, 1, 61));
        break;
      case 3:
        noisy.push_back(Rig::note_off(offset, 1, 60));
        break;
      default:
        noisy.push_back({offset, {0xf8}});
        break;
    }
  }
  // Put the three acting notes in at their frames, in order.
  std::vector<Rig::Midi> merged;
  std::size_t k = 0;
  for (const auto& e : noisy) {
    while (k < notes.size() && notes[k].offset <= e.offset)
      merged.push_back(notes[k++]);
    merged.push_back(e);
  }
  while (k < notes.size())
    merged.push_back(notes[k++]);
  const std::uint64_t start = plain.rig.frame();
  plain.rig.cycle(1024, notes);
  storm.rig.cycle(1024, merged);
  plain.rig.run(2048, 1024);
  storm.rig.run(2048, 1024);
  for (std::uint32_t o = 0; o < 2; ++o) {
    for (std::uint64_t f = start; f < plain.rig.frame(); ++f)
      ASSERT_EQ(storm.rig.out(o, f), plain.rig.out(o, f)) << o << " " << f - start;
  }
  // The gate voice ran from 100 to 700 and faded; the oneshot started on 300.
  ASSERT_TRUE(storm.rig.ended(kMidiBase));
  EXPECT_EQ(storm.rig.started(kMidiBase)->frame, start + 100);
  EXPECT_EQ(storm.rig.ended(kMidiBase)->frame, start + 700 + kDeclick);
  EXPECT_EQ(storm.rig.started(kMidiBase + 1)->frame, start + 300);
  EXPECT_EQ(storm.rig.midi_starts().size(), 2u);
  EXPECT_EQ(storm.rig.engine().midi_dropped(), 0u);
  EXPECT_EQ(plain.rig.engine().midi_dropped(), 0u);
}

TEST(MidiFilter, AThousandNoteOnsAreCappedWithNoteOffsOfLiveGateVoicesFirst) {
  Config config;
  config.max_voices = 600;
  MidiRig m(config, 1200);
  Rig& rig = m.rig;
  // Ten gate voices, channels 1..10 of note 50.
  std::vector<Rig::Midi> gates;
  for (std::uint32_t c = 1; c <= 10; ++c)
    gates.push_back(Rig::note_on(5, c, 50));
  rig.cycle(64, gates);
  ASSERT_EQ(rig.midi_starts().size(), 10u);
  // 1,000 note-ons of the oneshot note, two per frame, then the ten note-offs last.
  std::vector<Rig::Midi> burst;
  for (std::uint32_t i = 0; i < 1000; ++i)
    burst.push_back(Rig::note_on(i / 2, 1 + i % 16, 60));
  for (std::uint32_t c = 1; c <= 10; ++c)
    burst.push_back(Rig::note_off(600, c, 50));
  const std::uint64_t start = rig.frame();
  rig.cycle(1024, burst);
  rig.run(1024, 1024);
  // 256 act: the ten note-offs and the first 246 note-ons; 754 dropped and counted.
  EXPECT_EQ(rig.engine().midi_dropped(), 754u);
  auto starts = rig.midi_starts();
  ASSERT_EQ(starts.size(), 10u + 246u);
  // Events of one cycle come back in no particular order: sort by voice id (the note order).
  std::sort(starts.begin(), starts.end(),
            [](const StartedPayload& a, const StartedPayload& b) { return a.voice < b.voice; });
  for (std::uint32_t i = 0; i < 246; ++i) {
    EXPECT_EQ(starts[10 + i].voice, kMidiBase + 10 + i);
    EXPECT_EQ(starts[10 + i].frame, start + i / 2) << i;
  }
  for (std::uint64_t id = kMidiBase; id < kMidiBase + 10; ++id) {
    ASSERT_TRUE(rig.ended(id));
    EXPECT_EQ(rig.ended(id)->reason, EndReason::stopped);
    EXPECT_EQ(rig.ended(id)->frame, start + 600 + kDeclick);
  }
  rig.retire(EndReason::shutdown);
  EXPECT_EQ(rig.returned(), rig.sent());
}

// A gate note-on and its note-off in the same cycle as a burst over the cap: the note-off is kept
// with the note-offs of live gate voices, so the gate voice does not sound on.
TEST(MidiFilter, ANoteOffOfAGateStartedInTheSameCycleIsKeptFirst) {
  Config config;
  config.max_voices = 64;
  config.max_midi_events = 4;
  MidiRig m(config, 64);
  Rig& rig = m.rig;
  std::vector<Rig::Midi> burst{Rig::note_on(10, 1, 50)};
  for (std::uint32_t i = 0; i < 10; ++i)
    burst.push_back(Rig::note_on(20 + i, 1, 60));
  burst.push_back(Rig::note_off(100, 1, 50));
  const std::uint64_t start = rig.frame();
  rig.cycle(256, burst);
  rig.run(1024, 256);
  // Kept: the note-off, then the gate note-on and two oneshots in order; 8 oneshots dropped.
  EXPECT_EQ(rig.engine().midi_dropped(), 8u);
  const std::uint64_t gate = kMidiBase;  // the first voice a note started
  ASSERT_TRUE(rig.ended(gate));
  EXPECT_EQ(rig.ended(gate)->reason, EndReason::stopped);
  EXPECT_EQ(rig.ended(gate)->frame, start + 100 + kDeclick);
  rig.retire(EndReason::shutdown);
  EXPECT_EQ(rig.returned(), rig.sent());
}

TEST(MidiFilter, UnderTheCapNothingIsDropped) {
  Config config;
  config.max_voices = 600;
  config.max_midi_events = 300;
  MidiRig m(config, 700);
  std::vector<Rig::Midi> burst;
  for (std::uint32_t i = 0; i < 300; ++i)
    burst.push_back(Rig::note_on(i, 1, 60));
  m.rig.cycle(512, burst);
  EXPECT_EQ(m.rig.engine().midi_dropped(), 0u);
  EXPECT_EQ(m.rig.midi_starts().size(), 300u);
}

TEST(MidiFilter, EventsPastTheBufferCapacityAreCounted) {
  MidiRig m;
  std::vector<Rig::Midi> burst;
  for (std::uint32_t i = 0; i < kMidiBufferCapacity; ++i)
    burst.push_back({i / 8, {0xb0, 1, 2}});
  burst.push_back(Rig::note_on(200, 1, 60));  // past the capacity: never looked at
  for (std::uint32_t i = 0; i < 75; ++i)
    burst.push_back({200, {0xb0, 1, 2}});
  m.rig.cycle(256, burst);
  EXPECT_EQ(m.rig.engine().midi_dropped(), 76u);
  EXPECT_TRUE(m.rig.midi_starts().empty());
}

}  // namespace
}  // namespace clipd::engine::test
