// Gains, fades, ramps, pause/resume, pan, output selection, master gain and meters, checked
// sample by sample against the contract's formulas.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "rig.hpp"

namespace clipd::engine::test {
namespace {

constexpr double kTol = 1e-6;

// Checks output `o` over [from, to) against clip channel `c` read from clip frame `pos0`, scaled by
// gain(k) (k counted from `from`).
void expect_shaped(const Rig& rig, std::uint32_t o, const TestClip& clip, std::uint32_t c,
                   std::uint64_t from, std::uint64_t to, std::uint64_t pos0,
                   const std::function<double(std::uint64_t)>& gain) {
  for (std::uint64_t f = from; f < to; ++f) {
    const std::uint64_t k = f - from;
    const double want = static_cast<double>(clip.at(c, pos0 + k)) * gain(k);
    ASSERT_NEAR(rig.out(o, f), want, kTol) << "output " << o << " frame offset " << k;
  }
}

TEST(Shaping, FadeInFollowsTheFormula) {
  Rig rig;
  TestClip clip(3000, 1, 21);
  rig.add_clip(0, clip);
  Message m = Message::play_default(1, 0);
  const std::uint64_t at = Rig::kBase + 100;
  m.play.at_frame = at;
  m.play.fade_in = 300;
  rig.play(m);
  rig.run(4096, 64);
  for (std::uint32_t o = 0; o < 2; ++o) {
    ASSERT_NO_FATAL_FAILURE(expect_shaped(rig, o, clip, 0, at, at + 300, 0,
                                          [](std::uint64_t k) { return ramp_at(0, 1, k, 300); }));
    for (std::uint64_t k = 300; k < clip.frames(); ++k)
      ASSERT_EQ(rig.out(o, at + k), clip.at(0, k));
  }
  EXPECT_EQ(rig.started(1)->frame, at);  // the offset sample, even when fading in
}

TEST(Shaping, GainAndPanRampsAtAFrameFollowTheFormula) {
  Rig rig;
  TestClip clip(5000, 2, 22);
  rig.add_clip(0, clip);
  const std::uint64_t at = Rig::kBase + 10;
  rig.play(1, 0, at);
  const std::uint64_t s = Rig::kBase + 1000 + 17;  // inside a period
  rig.send(Message::set_gain(1, 0.25f, 500, s));
  const std::uint64_t p = s + 700;
  rig.send(Message::set_pan(1, 1.0f, 128, p));
  rig.run(8192, 256);
  auto g = [&](std::uint64_t f) {
    return f < s ? 1.0 : f < s + 500 ? ramp_at(1, 0.25, f - s, 500) : 0.25;
  };
  auto pan = [&](std::uint64_t f) {
    return f < p ? 0.0 : f < p + 128 ? ramp_at(0, 1, f - p, 128) : 1.0;
  };
  for (std::uint64_t f = at; f < at + clip.frames(); ++f) {
    const double l = g(f) * std::min(1.0, 1.0 - pan(f));
    const double r = g(f) * std::min(1.0, 1.0 + pan(f));
    ASSERT_NEAR(rig.out(0, f), clip.at(0, f - at) * l, kTol) << f - at;
    ASSERT_NEAR(rig.out(1, f), clip.at(1, f - at) * r, kTol) << f - at;
  }
  // Before the set the play is still bit-exact.
  EXPECT_EQ(rig.out(0, s - 1), clip.at(0, s - 1 - at));
  const auto acks = std::count_if(rig.events().begin(), rig.events().end(), [](const Message& m) {
    return m.kind == Kind::set && m.set.found;
  });
  EXPECT_EQ(acks, 2);
}

TEST(Shaping, StopFadeWithASetDuringItAndASecondStop) {
  Rig rig;
  TestClip clip(20000, 1, 23);
  rig.add_clip(0, clip);
  const std::uint64_t at = Rig::kBase;
  rig.play(1, 0, at);
  const std::uint64_t s1 = Rig::kBase + 2000 + 5;
  rig.send(Message::stop_cmd(StopTarget::voice, 1, 1000, s1));
  const std::uint64_t s2 = s1 + 50;
  rig.send(Message::set_gain(1, 0.5f, 100, s2));
  const std::uint64_t s3 = s1 + 300;
  rig.send(Message::stop_cmd(StopTarget::voice, 1, 200, s3));
  rig.send(Message::stop_cmd(StopTarget::voice, 1, 5000, s3 + 10));  // cannot lengthen
  rig.run(8192, 64);
  const double e3 = ramp_at(1, 0, s3 - s1 - 1, 1000);  // envelope when the second stop acts
  auto env = [&](std::uint64_t f) {
    if (f < s1) return 1.0;
    if (f < s3) return ramp_at(1, 0, f - s1, 1000);
    return ramp_at(e3, 0, f - s3, 200);
  };
  auto gain = [&](std::uint64_t f) {
    return f < s2 ? 1.0 : f < s2 + 100 ? ramp_at(1, 0.5, f - s2, 100) : 0.5;
  };
  for (std::uint64_t f = at; f < s3 + 200; ++f) {
    ASSERT_NEAR(rig.out(0, f), clip.at(0, f - at) * env(f) * gain(f), kTol) << f - at;
  }
  EXPECT_EQ(rig.out(0, s3 + 200), 0.0f);
  ASSERT_TRUE(rig.ended(1));
  EXPECT_EQ(rig.ended(1)->frame, s3 + 200);
  EXPECT_EQ(rig.ended(1)->reason, EndReason::stopped);
  std::vector<std::uint32_t> stopped;
  for (const auto& m : rig.events()) {
    if (m.kind == Kind::stop) stopped.push_back(m.stop.stopped);
  }
  EXPECT_EQ(stopped, (std::vector<std::uint32_t>{1, 0, 0}));
}

TEST(Shaping, PauseHoldsThePositionAndResumeFadesIn) {
  Rig rig;
  TestClip clip(20000, 2, 24);
  rig.add_clip(0, clip);
  const std::uint64_t at = Rig::kBase;
  rig.play(1, 0, at);
  rig.run(640, 64);
  const std::uint64_t p = rig.frame();
  rig.send(Message::pause_cmd(1, 100));
  rig.run(256, 64);
  VoiceInfo info[4];
  rig.send(Message::query_voices(info, 4));
  rig.run(1024, 64);
  ASSERT_EQ(rig.last(Kind::query_voices)->voices.count, 1u);
  EXPECT_EQ(info[0].state, VoiceState::paused);
  EXPECT_EQ(info[0].remaining, kUnlimited);
  const std::uint64_t held = p - at + 100;
  EXPECT_EQ(info[0].position, held);
  const std::uint64_t r = rig.frame();
  rig.send(Message::resume_cmd(1, 50));
  rig.run(1024, 64);
  for (std::uint32_t o = 0; o < 2; ++o) {
    ASSERT_NO_FATAL_FAILURE(
        expect_shaped(rig, o, clip, o, at, p, 0, [](std::uint64_t) { return 1.0; }));
    ASSERT_NO_FATAL_FAILURE(expect_shaped(rig, o, clip, o, p, p + 100, p - at,
                                          [](std::uint64_t k) { return ramp_at(1, 0, k, 100); }));
    for (std::uint64_t f = p + 100; f < r; ++f)
      ASSERT_EQ(rig.out(o, f), 0.0f);
    ASSERT_NO_FATAL_FAILURE(expect_shaped(rig, o, clip, o, r, r + 50, held,
                                          [](std::uint64_t k) { return ramp_at(0, 1, k, 50); }));
    for (std::uint64_t k = 50; k < 500; ++k)
      ASSERT_EQ(rig.out(o, r + k), clip.at(o, held + k));
  }
  // Stop of a paused voice ends it at once, whatever the fade.
  rig.send(Message::pause_cmd(1, 0));
  rig.cycle(64);
  const std::uint64_t s = rig.frame();
  rig.send(Message::stop_cmd(StopTarget::voice, 1, 500));
  rig.cycle(64);
  ASSERT_TRUE(rig.ended(1));
  EXPECT_EQ(rig.ended(1)->frame, s);
  EXPECT_EQ(rig.ended(1)->reason, EndReason::stopped);
  EXPECT_EQ(rig.last(Kind::stop)->stop.stopped, 1u);
}

TEST(Shaping, PauseOfAVoiceNotStartedOrStoppingAndResumeOfAPlayingOneChangeNothing) {
  Rig rig;
  TestClip clip(20000, 2, 27);
  rig.add_clip(0, clip);
  // Scheduled 200 frames ahead: the pause is taken in the cycle that takes the play.
  const std::uint64_t at = Rig::kBase + 200;
  rig.play(1, 0, at);
  rig.send(Message::pause_cmd(1, 100));
  rig.cycle(64);
  ASSERT_TRUE(rig.last(Kind::pause));
  EXPECT_TRUE(rig.last(Kind::pause)->pause.found);
  rig.run(512, 64);
  // A resume of the playing voice: no fade-in from silence, nothing changes.
  rig.send(Message::resume_cmd(1, 100));
  rig.run(512, 64);
  ASSERT_TRUE(rig.last(Kind::resume));
  EXPECT_TRUE(rig.last(Kind::resume)->pause.found);
  // Stopping with a fade of 300 frames; a pause taken during that fade does not hold it.
  const std::uint64_t s = rig.frame();
  rig.send(Message::stop_cmd(StopTarget::voice, 1, 300));
  rig.cycle(64);
  rig.send(Message::pause_cmd(1, 10));
  rig.run(512, 64);
  ASSERT_TRUE(rig.started(1));
  EXPECT_EQ(rig.started(1)->frame, at);
  ASSERT_TRUE(rig.ended(1));
  EXPECT_EQ(rig.ended(1)->frame, s + 300);
  EXPECT_EQ(rig.ended(1)->reason, EndReason::stopped);
  for (std::uint32_t o = 0; o < 2; ++o) {
    for (std::uint64_t f = Rig::kBase; f < at; ++f)
      ASSERT_EQ(rig.out(o, f), 0.0f) << "frame " << f;
    ASSERT_NO_FATAL_FAILURE(
        expect_shaped(rig, o, clip, o, at, s, 0, [](std::uint64_t) { return 1.0; }));
    ASSERT_NO_FATAL_FAILURE(expect_shaped(rig, o, clip, o, s, s + 300, s - at,
                                          [](std::uint64_t k) { return ramp_at(1, 0, k, 300); }));
    for (std::uint64_t f = s + 300; f < rig.frame(); ++f)
      ASSERT_EQ(rig.out(o, f), 0.0f) << "frame " << f;
  }
}

TEST(Shaping, BalancePanLawOnTheFirstTwoOutputsOnly) {
  Config config;
  config.outputs = 4;
  const float pans[] = {-1.0f, -0.5f, 0.0f, 0.25f, 1.0f};
  for (float pan : pans) {
    Rig rig(config);
    TestClip mono(700, 1, 25), stereo(700, 2, 26);
    rig.add_clip(0, mono);
    rig.add_clip(1, stereo);
    Message m = Message::play_default(1, 0);
    m.play.pan = pan;
    m.play.at_frame = Rig::kBase + 3;
    rig.play(m);
    Message s = Message::play_default(2, 1);
    s.play.pan = pan;
    s.play.gain = 0.5f;
    s.play.at_frame = Rig::kBase + 1000;
    rig.play(s);
    rig.run(2048, 128);
    const double l = std::min(1.0, 1.0 - pan), r = std::min(1.0, 1.0 + pan);
    for (std::uint64_t k = 0; k < 700; ++k) {
      ASSERT_NEAR(rig.out(0, Rig::kBase + 3 + k), mono.at(0, k) * l, kTol);
      ASSERT_NEAR(rig.out(1, Rig::kBase + 3 + k), mono.at(0, k) * r, kTol);
      ASSERT_EQ(rig.out(2, Rig::kBase + 3 + k), mono.at(0, k));  // unity beyond the first two
      ASSERT_EQ(rig.out(3, Rig::kBase + 3 + k), mono.at(0, k));
      ASSERT_NEAR(rig.out(0, Rig::kBase + 1000 + k), stereo.at(0, k) * 0.5 * l, kTol);
      ASSERT_NEAR(rig.out(1, Rig::kBase + 1000 + k), stereo.at(1, k) * 0.5 * r, kTol);
      ASSERT_EQ(rig.out(2, Rig::kBase + 1000 + k), 0.0f);  // two channels feed two outputs
    }
  }
}

TEST(Shaping, OutputsSelectWhereTheVoiceGoes) {
  Config config;
  config.outputs = 4;
  Rig rig(config);
  TestClip mono(500, 1, 27), stereo(500, 2, 28);
  rig.add_clip(0, mono);
  rig.add_clip(1, stereo);
  Message m = Message::play_default(1, 0);
  m.play.outputs = 0b1010;  // outputs 2 and 4 (1-based)
  m.play.pan = 0.5f;        // acts on them as left and right
  m.play.at_frame = Rig::kBase + 1;
  rig.play(m);
  Message s = Message::play_default(2, 1);
  s.play.outputs = 0b1100;  // outputs 3 and 4: channel 0 → 3, channel 1 → 4
  s.play.at_frame = Rig::kBase + 600;
  rig.play(s);
  rig.run(2048, 64);
  for (std::uint64_t k = 0; k < 500; ++k) {
    const std::uint64_t f = Rig::kBase + 1 + k, g = Rig::kBase + 600 + k;
    ASSERT_EQ(rig.out(0, f), 0.0f);
    ASSERT_NEAR(rig.out(1, f), mono.at(0, k) * 0.5, kTol);
    ASSERT_EQ(rig.out(2, f), 0.0f);
    ASSERT_EQ(rig.out(3, f), mono.at(0, k));
    ASSERT_EQ(rig.out(0, g), 0.0f);
    ASSERT_EQ(rig.out(1, g), 0.0f);
    ASSERT_EQ(rig.out(2, g), stereo.at(0, k));
    ASSERT_EQ(rig.out(3, g), stereo.at(1, k));
  }
}

TEST(Shaping, MasterGainRamps) {
  Rig rig;
  TestClip clip(4000, 2, 29);
  rig.add_clip(0, clip);
  rig.play(1, 0, Rig::kBase);
  rig.run(256, 64);
  const std::uint64_t m = rig.frame();
  rig.send(Message::master_cmd(0.5f, 200));
  rig.run(1024, 64);
  for (std::uint32_t o = 0; o < 2; ++o) {
    ASSERT_NO_FATAL_FAILURE(
        expect_shaped(rig, o, clip, o, m, m + 1000, m - Rig::kBase,
                      [](std::uint64_t k) { return k < 200 ? ramp_at(1, 0.5, k, 200) : 0.5; }));
  }
  EXPECT_FLOAT_EQ(rig.engine().master_gain(), 0.5f);
}

TEST(Shaping, MetersReportPeakAndRmsOverTheLast100ms) {
  Rig rig;  // 48 kHz: ten bins of 480 frames
  TestClip clip(48000, 2, 30);
  rig.add_clip(0, clip);
  Message m = Message::play_default(1, 0);
  m.play.gain = 0.5f;
  m.play.at_frame = Rig::kBase + 1234;
  rig.play(m);
  rig.run(9600, 64);  // a whole number of bins
  float peak[2] = {-1, -1}, rms[2] = {-1, -1};
  rig.send(Message::query_meters(peak, rms, 2));
  rig.cycle(64);
  ASSERT_EQ(rig.last(Kind::query_meters)->meters.count, 2u);
  for (std::uint32_t o = 0; o < 2; ++o) {
    double want_peak = 0, sum = 0;
    for (std::uint64_t f = Rig::kBase + 4800; f < Rig::kBase + 9600; ++f) {
      want_peak = std::max(want_peak, std::fabs(static_cast<double>(rig.out(o, f))));
      sum += static_cast<double>(rig.out(o, f)) * rig.out(o, f);
    }
    EXPECT_FLOAT_EQ(peak[o], static_cast<float>(want_peak));
    EXPECT_NEAR(rms[o], std::sqrt(sum / 4800), 1e-4);
    EXPECT_GT(rms[o], 0.1f);
  }
}

// The same voices, gains, pans, fades and stops rendered in cycles of one size and in cycles whose
// size changes all the time give the same samples, bit for bit: each sample's gain depends on
// its frame, never on where a cycle starts. Each voice has outputs of its own: where voices mix,
// the order of the sum may differ by cycle split (at float rounding level).
TEST(Shaping, TheSamplesDoNotDependOnTheCycleSizes) {
  constexpr std::uint32_t kOutputs = 12;
  TestClip mono(6000, 1, 31);
  TestClip stereo(6000, 2, 32);
  auto render = [&](const std::vector<std::uint32_t>& periods) {
    Config config;
    config.outputs = kOutputs;
    Rig rig(config);
    rig.add_clip(0, mono);
    rig.add_clip(1, stereo);
    for (std::uint64_t v = 1; v <= 6; ++v) {
      const std::uint64_t at = Rig::kBase + 500 * v + 37 * v;
      Message m = Message::play_default(v, v % 2);
      m.play.at_frame = at;
      m.play.fade_in = 100 * (v % 3);
      m.play.outputs = std::uint64_t{3} << (2 * (v - 1));
      if (v == 3) m.play.loops = kLoopForever;
      rig.play(m);
      // One ramp at a time (gain, then pan, then the stop's fade), and all at once.
      rig.send(Message::set_gain(v, 0.125f * static_cast<float>(v), 700 + v, at + 900));
      rig.send(Message::set_pan(v, v % 2 == 0 ? -0.5f : 0.75f, 300, at + 2000 + 13 * v));
      rig.send(Message::stop_cmd(StopTarget::voice, v, 400 + v, at + 3000 + 7 * v));
    }
    rig.send(Message::set_gain(4, 2.0f, 900, Rig::kBase + 4 * 537 + 2950));  // during its fade
    std::size_t i = 0;
    while (rig.frame() < Rig::kBase + 12000)
      rig.cycle(periods[i++ % periods.size()]);
    std::vector<float> out;
    for (std::uint32_t o = 0; o < kOutputs; ++o) {
      for (std::uint64_t f = Rig::kBase; f < Rig::kBase + 12000; ++f)
        out.push_back(rig.out(o, f));
    }
    return out;
  };
  const std::vector<float> fixed = render({256});
  const std::vector<float> changing = render({32, 1024, 128, 8192, 64, 17, 512, 1, 2048, 96});
  ASSERT_EQ(fixed.size(), changing.size());
  std::size_t mismatches = 0;
  std::size_t sounding = 0;
  for (std::size_t i = 0; i < fixed.size(); ++i) {
    sounding += fixed[i] != 0.0f;
    if (fixed[i] != changing[i] && mismatches++ < 5) {
      ADD_FAILURE() << "output " << i / 12000 << " frame " << i % 12000 << ": " << changing[i]
                    << " != " << fixed[i];
    }
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(sounding, fixed.size() / 4);  // each output sounds for a part of the time
}

}  // namespace
}  // namespace clipd::engine::test
