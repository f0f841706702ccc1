// MIDI triggers: notes start clips on their exact frame, bindings by channel and note, velocity,
// gate and toggle modes, choke groups, unloaded slots, the spare pool and the binding table swap.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "rig.hpp"

namespace clipd::engine::test {
namespace {

constexpr std::uint64_t kDeclick = 240;  // 5 ms at 48 kHz
constexpr std::uint64_t kMidiBase = std::uint64_t{1} << 48;

Binding binding(std::uint32_t clip, TriggerMode mode = TriggerMode::oneshot, float gain = 1.0f,
                bool velocity = false, std::uint32_t group = 0) {
  Binding b;
  b.clip = clip;
  b.group = group;
  b.gain = gain;
  b.mode = mode;
  b.used = true;
  b.velocity = velocity;
  return b;
}

// Every output sample in [from, to) equals `want(output, frame)` exactly.
template <class Want>
void expect_exact(const Rig& rig, std::uint32_t outputs, std::uint64_t from, std::uint64_t to,
                  Want want) {
  for (std::uint32_t o = 0; o < outputs; ++o) {
    for (std::uint64_t f = from; f < to; ++f) {
      ASSERT_EQ(rig.out(o, f), want(o, f)) << "output " << o << " frame " << f - from;
    }
  }
}

TEST(Midi, NoteOnStartsTheClipOnItsExactFrameBitForBit) {
  Rig rig;
  TestClip clip(700, 2, 41);
  rig.add_clip(0, clip);
  rig.spares(32);
  BindingTable* table = rig.new_table();
  table->at(0, 60) = binding(0);
  rig.send(Message::set_bindings(table));
  rig.cycle(64);
  struct Case {
    std::uint32_t period, offset;
  };
  const Case cases[] = {{64, 0}, {64, 1}, {64, 37}, {64, 63}, {128, 127}, {256, 200}, {1, 0}};
  std::uint64_t id = kMidiBase;
  for (const Case c : cases) {
    const std::uint64_t cycle_start = rig.frame();
    const std::uint64_t at = cycle_start + c.offset;
    rig.cycle(c.period, {Rig::note_on(c.offset, 1, 60)});
    rig.run(800, c.period);
    expect_exact(rig, 2, cycle_start, at, [](std::uint32_t, std::uint64_t) { return 0.0f; });
    expect_exact(rig, 2, at, at + clip.frames(),
                 [&](std::uint32_t o, std::uint64_t f) { return clip.at(o, f - at); });
    expect_exact(rig, 2, at + clip.frames(), rig.frame(),
                 [](std::uint32_t, std::uint64_t) { return 0.0f; });
    const auto started = rig.started(id);
    ASSERT_TRUE(started) << c.offset;
    EXPECT_EQ(started->frame, at);
    EXPECT_TRUE(started->started);
    EXPECT_FALSE(started->late);
    EXPECT_TRUE(started->midi);
    EXPECT_EQ(started->clip, 0u);
    EXPECT_EQ(started->group, 0u);
    const auto ended = rig.ended(id);
    ASSERT_TRUE(ended);
    EXPECT_EQ(ended->frame, at + clip.frames());
    EXPECT_EQ(ended->reason, EndReason::finished);
    EXPECT_TRUE(ended->midi);
    ++id;
  }
  EXPECT_EQ(rig.midi_starts().size(), std::size(cases));
  EXPECT_EQ(rig.engine().lost_events(), 0u);
  EXPECT_EQ(rig.engine().spare_count(), 32u - 2 * std::size(cases));
}

TEST(Midi, TwoNotesInOnePeriodEachStartOnTheirFrame) {
  Rig rig;
  TestClip a(300, 1, 42), b(300, 1, 43);
  rig.add_clip(0, a);
  rig.add_clip(1, b);
  rig.spares(8);
  BindingTable* table = rig.new_table();
  table->at(0, 36) = binding(0);
  table->at(0, 38) = binding(1);
  rig.send(Message::set_bindings(table));
  rig.cycle(64);
  const std::uint64_t t = rig.frame();
  rig.cycle(128, {Rig::note_on(5, 10, 36), Rig::note_on(90, 10, 38)});
  rig.run(512, 128);
  // Mono clips go to every output; where both play, a's sample is added first (started first).
  expect_exact(rig, 2, t, t + 400, [&](std::uint32_t, std::uint64_t f) {
    float want = 0.0f;
    if (f >= t + 5 && f < t + 305) want += a.at(0, f - t - 5);
    if (f >= t + 90 && f < t + 390) want += b.at(0, f - t - 90);
    return want;
  });
}

TEST(Midi, ChannelBindingWinsOverAnyChannelAndUnboundNotesDoNothing) {
  Rig rig;
  TestClip a(100, 1, 44), b(100, 1, 45);
  rig.add_clip(0, a);
  rig.add_clip(1, b);
  rig.spares(16);
  BindingTable* table = rig.new_table();
  table->at(0, 60) = binding(0);
  table->at(3, 60) = binding(1);
  table->at(5, 61) = binding(1);
  rig.send(Message::set_bindings(table));
  rig.cycle(64);
  rig.cycle(64, {Rig::note_on(3, 3, 60)});   // channel 3: its own binding, clip 1
  rig.cycle(64, {Rig::note_on(4, 9, 60)});   // channel 9: the any-channel binding, clip 0
  rig.cycle(64, {Rig::note_on(5, 16, 60)});  // channel 16: any-channel too
  const std::uint64_t quiet = rig.frame() + 200;
  rig.run(256, 64);
  const auto starts = rig.midi_starts();
  ASSERT_EQ(starts.size(), 3u);
  EXPECT_EQ(starts[0].clip, 1u);
  EXPECT_EQ(starts[1].clip, 0u);
  EXPECT_EQ(starts[2].clip, 0u);
  const std::size_t events = rig.events().size();
  const std::uint32_t spares = rig.engine().spare_count();
  // Unbound: another note, another channel of a channel-only binding, and no table at all.
  rig.cycle(64, {Rig::note_on(0, 1, 61), Rig::note_on(10, 6, 61), Rig::note_on(20, 1, 0),
                 Rig::note_on(30, 1, 127), Rig::note_off(40, 3, 60)});
  rig.send(Message::set_bindings(nullptr));
  rig.cycle(64, {Rig::note_on(1, 3, 60), Rig::note_on(2, 1, 60)});
  rig.run(256, 64);
  EXPECT_EQ(rig.midi_starts().size(), 3u);
  EXPECT_EQ(rig.engine().spare_count(), spares);
  EXPECT_EQ(rig.engine().live_voices(), 0u);
  EXPECT_EQ(rig.events().size(), events + 1);  // only the first table coming back
  EXPECT_EQ(rig.last(Kind::bindings_released)->bindings.table, table);
  expect_exact(rig, 2, quiet, rig.frame(), [](std::uint32_t, std::uint64_t) { return 0.0f; });
}

TEST(Midi, OtherMessagesAndShortEventsAreIgnored) {
  Rig rig;
  TestClip clip(100, 1, 46);
  rig.add_clip(0, clip);
  rig.spares(8);
  BindingTable* table = rig.new_table();
  for (std::uint32_t n = 0; n < kMidiNotes; ++n)
    table->at(0, n) = binding(0);
  rig.send(Message::set_bindings(table));
  rig.cycle(64);
  std::vector<Rig::Midi> junk;
  junk.push_back({0, {0xb0, 60, 100}});  // control change
  junk.push_back({1, {0xa0, 60, 100}});  // poly pressure
  junk.push_back({2, {0x90, 60}});       // truncated note-on
  junk.push_back({3, {}});               // empty
  junk.push_back({4, {0xf8}});           // clock
  junk.push_back({5, {0xe0, 0, 64}});    // pitch bend
  rig.cycle(64, junk);
  rig.run(256, 64);
  EXPECT_TRUE(rig.midi_starts().empty());
  expect_exact(rig, 2, Rig::kBase, rig.frame(), [](std::uint32_t, std::uint64_t) { return 0.0f; });
}

TEST(Midi, VelocityFollowsTheDocumentedCurve) {
  Rig rig;
  TestClip clip(200, 1, 47);
  rig.add_clip(0, clip);
  rig.spares(16);
  BindingTable* table = rig.new_table();
  table->at(0, 40) = binding(0, TriggerMode::oneshot, 0.5f, true);
  table->at(0, 41) = binding(0, TriggerMode::oneshot, 0.5f, false);
  rig.send(Message::set_bindings(table));
  rig.cycle(64);
  for (const std::uint32_t v : {1u, 32u, 64u, 100u, 127u}) {
    for (const std::uint32_t note : {40u, 41u}) {
      const std::uint64_t at = rig.frame() + 7;
      rig.cycle(64, {Rig::note_on(7, 1, note, v)});
      rig.run(256, 64);
      // gain_db + 40 log10(v / 127) dB with gain_db = 20 log10(0.5).
      const double db = 20 * std::log10(0.5) + (note == 40 ? 40 * std::log10(v / 127.0) : 0.0);
      const double gain = std::pow(10.0, db / 20);
      for (std::uint64_t f = at; f < at + clip.frames(); ++f) {
        ASSERT_NEAR(rig.out(0, f), clip.at(0, f - at) * gain, 1e-6) << v << " " << note;
      }
      EXPECT_EQ(rig.out(0, at - 1), 0.0f);
      EXPECT_EQ(rig.out(0, at + clip.frames()), 0.0f);
    }
  }
}

TEST(Midi, GateStopsOnTheMatchingNoteOffWithTheDeclickFade) {
  Rig rig;
  TestClip clip(48000, 1, 48);
  rig.add_clip(0, clip);
  rig.spares(16);
  BindingTable* table = rig.new_table();
  table->at(0, 50) = binding(0, TriggerMode::gate);
  table->at(0, 52) = binding(0, TriggerMode::oneshot);
  rig.send(Message::set_bindings(table));
  rig.cycle(64);
  const std::uint64_t on = rig.frame() + 10;
  rig.cycle(64, {Rig::note_on(10, 2, 50)});
  rig.run(256, 64);
  // Another channel's note-off, another note's note-off: nothing.
  rig.cycle(64, {Rig::note_off(3, 1, 50), Rig::note_off(4, 2, 51)});
  const std::uint64_t off = rig.frame() + 20;
  rig.cycle(64, {Rig::note_off(20, 2, 50)});
  rig.run(512, 64);
  const auto ended = rig.ended(kMidiBase);
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->reason, EndReason::stopped);
  EXPECT_EQ(ended->frame, off + kDeclick);
  for (std::uint64_t f = on; f < off; ++f)
    ASSERT_EQ(rig.out(0, f), clip.at(0, f - on));
  for (std::uint64_t f = off; f < off + kDeclick; ++f) {
    ASSERT_NEAR(rig.out(0, f), clip.at(0, f - on) * ramp_at(1, 0, f - off, kDeclick), 1e-6);
  }
  for (std::uint64_t f = off + kDeclick; f < rig.frame(); ++f)
    ASSERT_EQ(rig.out(0, f), 0.0f);

  // A note-on with velocity 0 is a note-off; a oneshot ignores note-offs.
  const std::uint64_t on2 = rig.frame();
  rig.cycle(64, {Rig::note_on(0, 7, 50), Rig::note_on(0, 7, 52)});
  const std::uint64_t off2 = rig.frame() + 33;
  rig.cycle(64, {Rig::note_on(33, 7, 50, 0), Rig::note_off(40, 7, 52), Rig::note_on(41, 7, 52, 0)});
  rig.run(1024, 64);
  ASSERT_TRUE(rig.ended(kMidiBase + 1));
  EXPECT_EQ(rig.ended(kMidiBase + 1)->frame, off2 + kDeclick);
  EXPECT_FALSE(rig.ended(kMidiBase + 2));
  EXPECT_EQ(rig.started(kMidiBase + 2)->frame, on2);
  EXPECT_EQ(rig.engine().live_voices(), 1u);
}

TEST(Midi, GateNoteOffInTheSameFrameEndsTheVoiceUnstarted) {
  Rig rig;
  TestClip clip(1000, 1, 49);
  rig.add_clip(0, clip);
  rig.spares(4);
  BindingTable* table = rig.new_table();
  table->at(0, 50) = binding(0, TriggerMode::gate);
  rig.send(Message::set_bindings(table));
  rig.cycle(64);
  const std::uint64_t at = rig.frame() + 9;
  rig.cycle(64, {Rig::note_on(9, 1, 50), Rig::note_off(9, 1, 50)});
  rig.run(128, 64);
  ASSERT_TRUE(rig.started(kMidiBase) && rig.ended(kMidiBase));
  EXPECT_FALSE(rig.started(kMidiBase)->started);
  EXPECT_EQ(rig.ended(kMidiBase)->frame, at);
  EXPECT_EQ(rig.engine().spare_count(), 2u);
  expect_exact(rig, 1, Rig::kBase, rig.frame(), [](std::uint32_t, std::uint64_t) { return 0.0f; });
}

TEST(Midi, ToggleStopsItsOwnVoiceAndStartsAgainAfterwards) {
  Rig rig;
  TestClip clip(48000, 1, 50);
  rig.add_clip(0, clip);
  rig.spares(16);
  BindingTable* table = rig.new_table();
  table->at(0, 70) = binding(0, TriggerMode::toggle);
  table->at(0, 71) = binding(0, TriggerMode::toggle);
  rig.send(Message::set_bindings(table));
  rig.cycle(64);
  const std::uint64_t on = rig.frame() + 3;
  rig.cycle(64, {Rig::note_on(3, 1, 70), Rig::note_on(4, 1, 71)});
  rig.cycle(64, {Rig::note_off(5, 1, 70)});  // ignored
  rig.run(256, 64);
  EXPECT_EQ(rig.engine().live_voices(), 2u);
  const std::uint64_t second = rig.frame() + 50;
  rig.cycle(64, {Rig::note_on(50, 2, 70)});  // any-channel binding: the same binding
  rig.run(512, 64);
  ASSERT_TRUE(rig.ended(kMidiBase));
  EXPECT_EQ(rig.ended(kMidiBase)->frame, second + kDeclick);
  EXPECT_EQ(rig.ended(kMidiBase)->reason, EndReason::stopped);
  EXPECT_FALSE(rig.ended(kMidiBase + 1));  // the other binding's voice plays on
  EXPECT_EQ(rig.midi_starts().size(), 2u);
  for (std::uint64_t f = second; f < second + kDeclick; ++f) {
    const double want =
        clip.at(0, f - on) * ramp_at(1, 0, f - second, kDeclick) + clip.at(0, f - on - 1);
    ASSERT_NEAR(rig.out(0, f), want, 4e-6);
  }
  const std::uint64_t third = rig.frame() + 1;
  rig.cycle(64, {Rig::note_on(1, 1, 70)});
  rig.run(128, 64);
  ASSERT_EQ(rig.midi_starts().size(), 3u);
  EXPECT_EQ(rig.started(kMidiBase + 2)->frame, third);
  EXPECT_EQ(rig.engine().live_voices(), 2u);
}

TEST(Midi, NoteChokesItsGroupOnItsFrame) {
  Rig rig;
  TestClip a(48000, 1, 51), b(48000, 1, 52);
  rig.add_clip(0, a);
  rig.add_clip(1, b);
  rig.spares(8);
  BindingTable* table = rig.new_table();
  table->at(0, 42) = binding(1, TriggerMode::oneshot, 1.0f, false, 5);
  rig.send(Message::set_bindings(table));
  Message m = Message::play_default(1, 0);
  m.play.group = 5;
  rig.play(m);
  Message other = Message::play_default(2, 0);
  other.play.group = 6;
  rig.play(other);
  rig.run(256, 64);
  const std::uint64_t note = rig.frame() + 30;
  rig.cycle(64, {Rig::note_on(30, 1, 42)});
  rig.run(512, 64);
  ASSERT_TRUE(rig.ended(1));
  EXPECT_EQ(rig.ended(1)->reason, EndReason::choked);
  EXPECT_EQ(rig.ended(1)->frame, note + kDeclick);
  EXPECT_FALSE(rig.ended(2));
  const auto started = rig.started(kMidiBase);
  ASSERT_TRUE(started);
  EXPECT_EQ(started->frame, note);
  EXPECT_EQ(started->group, 5u);
  EXPECT_EQ(started->clip, 1u);
  const std::uint64_t t0 = Rig::kBase;
  for (std::uint64_t f = note - 10; f < note + kDeclick + 10; ++f) {
    double env = 1.0;  // voice 1, group 5: choked at the note
    if (f >= note) env = f < note + kDeclick ? ramp_at(1, 0, f - note, kDeclick) : 0.0;
    double want = a.at(0, f - t0) * env;
    want += a.at(0, f - t0);  // voice 2, group 6: untouched
    if (f >= note) want += b.at(0, f - note);
    ASSERT_NEAR(rig.out(0, f), want, 4e-6) << static_cast<std::int64_t>(f - note);
  }
  // A second note of the group chokes the first MIDI voice.
  const std::uint64_t again = rig.frame() + 1;
  rig.cycle(64, {Rig::note_on(1, 1, 42)});
  rig.run(512, 64);
  ASSERT_TRUE(rig.ended(kMidiBase));
  EXPECT_EQ(rig.ended(kMidiBase)->reason, EndReason::choked);
  EXPECT_EQ(rig.ended(kMidiBase)->frame, again + kDeclick);
}

TEST(Midi, BindingToAnUnloadedSlotDoesNothing) {
  Rig rig;
  TestClip a(48000, 1, 53), b(100, 1, 54);
  rig.add_clip(0, a);
  rig.add_clip(1, b);
  rig.spares(8);
  BindingTable* table = rig.new_table();
  table->at(0, 1) = binding(0);
  table->at(0, 2) = binding(3);       // never loaded
  table->at(0, 3) = binding(100000);  // beyond the table
  table->at(0, 4) = binding(1);
  rig.send(Message::set_bindings(table));
  rig.cycle(64);
  const std::uint64_t on = rig.frame() + 5;
  rig.cycle(64, {Rig::note_on(5, 1, 1), Rig::note_on(6, 1, 2), Rig::note_on(7, 1, 3)});
  rig.run(256, 64);
  EXPECT_EQ(rig.midi_starts().size(), 1u);
  EXPECT_EQ(rig.engine().spare_count(), 6u);
  // Clip 0 unloaded while its MIDI voice plays; then notes for it and for clip 1 (removed in the
  // same cycle, before the notes act).
  const std::uint64_t cut = rig.frame();
  rig.send(Message::remove_clip(0));
  rig.send(Message::remove_clip(1));
  rig.cycle(64, {Rig::note_on(0, 1, 1), Rig::note_on(30, 1, 4)});
  rig.run(512, 64);
  ASSERT_TRUE(rig.ended(kMidiBase));
  EXPECT_EQ(rig.ended(kMidiBase)->reason, EndReason::unloaded);
  EXPECT_EQ(rig.ended(kMidiBase)->frame, cut + kDeclick);
  EXPECT_EQ(rig.midi_starts().size(), 1u);
  EXPECT_EQ(rig.engine().live_voices(), 0u);
  EXPECT_EQ(rig.count(Kind::clip_released), 2);
  for (std::uint64_t f = on; f < cut; ++f)
    ASSERT_EQ(rig.out(0, f), a.at(0, f - on));
  expect_exact(rig, 2, cut + kDeclick, rig.frame(),
               [](std::uint32_t, std::uint64_t) { return 0.0f; });
  // Loaded again (replaced while bound): notes play the new clip.
  rig.add_clip(1, a);
  rig.send(Message::replace_clip(1, b.samples(), 99));
  const std::uint64_t back = rig.frame() + 2;
  rig.cycle(64, {Rig::note_on(2, 1, 4)});
  rig.run(256, 64);
  ASSERT_EQ(rig.midi_starts().size(), 2u);
  for (std::uint64_t f = back; f < back + b.frames(); ++f)
    ASSERT_EQ(rig.out(0, f), b.at(0, f - back));
}

TEST(Midi, ADryPoolStillPlaysTheNoteAndCountsTheLostEvents) {
  Config config;
  config.spare_nodes = 4;
  Rig rig(config);
  TestClip clip(100, 1, 55);
  rig.add_clip(0, clip);
  rig.spares(6);  // two too many: back at once
  BindingTable* table = rig.new_table();
  table->at(0, 60) = binding(0);
  rig.send(Message::set_bindings(table));
  rig.cycle(64);
  EXPECT_EQ(rig.count(Kind::spare), 2);
  EXPECT_EQ(rig.engine().spare_count(), 4u);
  const std::uint64_t t = rig.frame();
  rig.cycle(512, {Rig::note_on(0, 1, 60), Rig::note_on(100, 1, 60), Rig::note_on(200, 1, 60),
                  Rig::note_on(300, 1, 60)});
  rig.run(512, 64);
  EXPECT_EQ(rig.midi_starts().size(), 2u);
  EXPECT_EQ(rig.engine().spare_count(), 0u);
  EXPECT_EQ(rig.engine().lost_events(), 4u);  // two voices without both their events
  EXPECT_EQ(rig.engine().dropped_notes(), 0u);
  expect_exact(rig, 1, t, t + 400, [&](std::uint32_t, std::uint64_t f) {
    const std::uint64_t k = (f - t) % 100;
    return clip.at(0, k);
  });
  EXPECT_FALSE(rig.started(kMidiBase + 2) || rig.ended(kMidiBase + 2));
  // Topped up: the next note reports again, with the next id.
  rig.spares(2);
  rig.cycle(64, {Rig::note_on(0, 1, 60)});
  rig.run(256, 64);
  ASSERT_TRUE(rig.started(kMidiBase + 4) && rig.ended(kMidiBase + 4));
  EXPECT_EQ(rig.engine().lost_events(), 4u);
}

TEST(Midi, WithDropNotesADryPoolDropsAndCountsTheNote) {
  Config config;
  config.spare_nodes = 5;
  config.drop_notes_when_dry = true;
  Rig rig(config);
  TestClip clip(100, 1, 56);
  rig.add_clip(0, clip);
  rig.spares(5);
  BindingTable* table = rig.new_table();
  table->at(0, 60) = binding(0);
  rig.send(Message::set_bindings(table));
  rig.cycle(64);
  const std::uint64_t t = rig.frame();
  rig.cycle(512, {Rig::note_on(0, 1, 60), Rig::note_on(100, 1, 60), Rig::note_on(200, 1, 60),
                  Rig::note_on(300, 1, 60)});
  rig.run(512, 64);
  EXPECT_EQ(rig.midi_starts().size(), 2u);
  EXPECT_EQ(rig.engine().dropped_notes(), 2u);
  EXPECT_EQ(rig.engine().lost_events(), 0u);
  EXPECT_EQ(rig.engine().spare_count(), 1u);
  expect_exact(rig, 1, t, t + 400, [&](std::uint32_t, std::uint64_t f) {
    return f < t + 200 ? clip.at(0, (f - t) % 100) : 0.0f;
  });
  EXPECT_EQ(rig.engine().live_voices(), 0u);
}

TEST(Midi, BindingTablesSwapWhileNotesArrive) {
  Rig rig;
  TestClip a(100, 1, 57), b(100, 1, 58);
  rig.add_clip(0, a);
  rig.add_clip(1, b);
  rig.spares(128);
  BindingTable* first = rig.new_table();
  first->at(0, 60) = binding(0, TriggerMode::toggle);
  BindingTable* second = rig.new_table();
  second->at(0, 60) = binding(1, TriggerMode::toggle);
  rig.send(Message::set_bindings(first));
  rig.cycle(64, {Rig::note_on(10, 1, 60)});
  EXPECT_EQ(rig.count(Kind::bindings_released), 0);
  // Swapped: the note in the same cycle already reads the new table; the toggle entry is the same
  // binding, so it stops the first voice instead of starting one.
  rig.send(Message::set_bindings(second));
  const std::uint64_t t = rig.frame();
  rig.cycle(64, {Rig::note_on(0, 1, 60), Rig::note_on(40, 1, 60)});
  rig.run(256, 64);
  ASSERT_EQ(rig.count(Kind::bindings_released), 1);
  EXPECT_EQ(rig.last(Kind::bindings_released)->bindings.table, first);
  const auto starts = rig.midi_starts();
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[0].clip, 0u);
  // The clip (100 frames from kBase + 10) ends inside the declick fade: it ends there, stopped.
  EXPECT_EQ(rig.ended(starts[0].voice)->frame, Rig::kBase + 110);
  EXPECT_EQ(rig.ended(starts[0].voice)->reason, EndReason::stopped);
  EXPECT_EQ(starts[1].clip, 1u);
  EXPECT_EQ(starts[1].frame, t + 40);
  // Many swaps, each with notes in its cycle: every table back once, in order.
  std::vector<BindingTable*> sent;
  for (int i = 0; i < 50; ++i) {
    BindingTable* table = rig.new_table();
    table->at(0, 60) = binding(i % 2 == 0 ? 0 : 1);
    rig.send(Message::set_bindings(table));
    sent.push_back(table);
    rig.cycle(32, {Rig::note_on(static_cast<std::uint32_t>(i % 32), 1, 60)});
  }
  rig.run(256, 64);
  std::vector<BindingTable*> back;
  for (const auto& m : rig.events()) {
    if (m.kind == Kind::bindings_released) back.push_back(m.bindings.table);
  }
  ASSERT_EQ(back.size(), 51u);
  EXPECT_EQ(back[1], second);
  for (int i = 0; i < 49; ++i)
    EXPECT_EQ(back[static_cast<std::size_t>(i) + 2], sent[static_cast<std::size_t>(i)]);
  const auto all = rig.midi_starts();
  ASSERT_EQ(all.size(), 52u);
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(all[static_cast<std::size_t>(i) + 2].clip, i % 2 == 0 ? 0u : 1u);
}

TEST(Midi, RetireHandsBackEveryNodeSparesAndTableOnce) {
  Config config;
  config.spare_nodes = 16;
  Rig rig(config);
  TestClip clip(48000, 1, 59);
  rig.add_clip(0, clip);
  rig.spares(20);
  BindingTable* table = rig.new_table();
  table->at(0, 60) = binding(0, TriggerMode::gate);
  rig.send(Message::set_bindings(table));
  rig.cycle(64, {Rig::note_on(1, 1, 60), Rig::note_on(2, 2, 60), Rig::note_on(3, 3, 60)});
  rig.cycle(64, {Rig::note_off(0, 2, 60)});
  rig.run(512, 64);
  rig.spares(3);                             // still queued at retire
  rig.send(Message::set_bindings(nullptr));  // likewise
  rig.retire(EndReason::shutdown);
  EXPECT_EQ(rig.returned(), rig.sent());
  EXPECT_EQ(rig.count(Kind::spare), 4 + 16 - 6 + 3);
  EXPECT_EQ(rig.count(Kind::bindings_released), 2);
  std::set<BindingTable*> tables;
  for (const auto& m : rig.events()) {
    if (m.kind == Kind::bindings_released) tables.insert(m.bindings.table);
  }
  EXPECT_EQ(tables, (std::set<BindingTable*>{table, nullptr}));
  // Each MIDI voice: voice_started, then voice_ended, once each.
  for (std::uint64_t id = kMidiBase; id < kMidiBase + 3; ++id) {
    int started = 0, ended = 0;
    bool order = true;
    for (const auto& m : rig.events()) {
      if (m.kind == Kind::voice_started && m.started.voice == id) ++started;
      if (m.kind == Kind::voice_ended && m.ended.voice == id) {
        ++ended;
        order = order && started == 1;
      }
    }
    EXPECT_EQ(started, 1) << id - kMidiBase;
    EXPECT_EQ(ended, 1) << id - kMidiBase;
    EXPECT_TRUE(order);
  }
  EXPECT_EQ(rig.ended(kMidiBase + 1)->reason, EndReason::stopped);
  EXPECT_EQ(rig.ended(kMidiBase)->reason, EndReason::shutdown);
  EXPECT_EQ(rig.engine().spare_count(), 0u);
}

}  // namespace
}  // namespace clipd::engine::test
