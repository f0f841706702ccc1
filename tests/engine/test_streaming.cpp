// Streamed clips in the engine: a voice plays the head from memory and the rest from its ring,
// which a test producer fills in playing order as the disk threads do. Every play is compared
// sample by sample with the same play of the whole clip held in memory; underruns play as
// silence, keep time and are counted; a failed ring ends its voice with read_error.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <vector>

#include "rig.hpp"

namespace clipd::engine::test {
namespace {

constexpr std::uint64_t kStreamId = 77;

// The first `head` frames of a clip in memory of their own (a read past them would not find the
// clip's samples).
class Head {
 public:
  Head(const TestClip& clip, std::uint64_t head) {
    const ClipSamples& s = clip.samples();
    const std::uint64_t stride = (head + 15) / 16 * 16;
    data_.assign(stride * s.channels, 9.0f);
    for (std::uint32_t c = 0; c < s.channels; ++c)
      std::memcpy(data_.data() + c * stride, s.channel(c), sizeof(float) * head);
    samples_ = ClipSamples{data_.data(), s.frames, s.channels, stride, kStreamId, head};
  }
  const ClipSamples& samples() const { return samples_; }

 private:
  std::vector<float> data_;
  ClipSamples samples_{};
};

// Plays the disk side for every ring: follows each ring's request, writes the clip's frames in
// playing order as far as the ring has room (or `budget` frames per fill), publishes them.
class TestProducer {
 public:
  TestProducer(std::vector<StreamRing>& rings, const TestClip& clip) : rings_(rings), clip_(clip) {
    state_.resize(rings.size());
  }

  void fill(std::uint64_t budget = std::numeric_limits<std::uint64_t>::max()) {
    for (std::size_t i = 0; i < rings_.size(); ++i)
      fill_one(i, budget);
  }
  // The ring of `index` fails after the frames it has published.
  void fail(std::size_t index) {
    State& s = state_[index];
    rings_[index].publish(s.gen, s.produced, true);
    s.failed = true;
  }

 private:
  struct State {
    std::uint32_t gen = 0;
    StreamRequest req;
    std::uint64_t produced = 0;
    bool failed = false;
  };

  void fill_one(std::size_t index, std::uint64_t budget) {
    StreamRing& ring = rings_[index];
    State& s = state_[index];
    std::uint32_t gen = 0;
    StreamRequest r;
    if (!ring.current(gen, r)) return;
    if (gen != s.gen) s = State{gen, r, 0, false};
    if (s.failed) return;
    const std::uint64_t consumed = ring.consumed(gen);
    if (consumed > s.produced) s.produced = consumed;  // the reader skipped missing frames
    const std::uint64_t cap = ring.capacity(r.channels);
    const std::uint64_t first = r.first_end > r.start ? r.first_end - r.start : 0;
    std::uint64_t n = std::min(consumed + cap - s.produced, budget);
    if (!r.looping) n = std::min(n, first > s.produced ? first - s.produced : 0);
    std::vector<std::vector<float>> planar(r.channels, std::vector<float>(n));
    for (std::uint64_t k = 0; k < n; ++k) {
      const std::uint64_t count = s.produced + k;
      const std::uint64_t pos = count < first
                                    ? r.start + count
                                    : r.loop_start + (count - first) % (r.loop_end - r.loop_start);
      for (std::uint32_t c = 0; c < r.channels; ++c)
        planar[c][k] = clip_.at(c, pos);
    }
    std::vector<const float*> ptrs;
    for (auto& p : planar)
      ptrs.push_back(p.data());
    ring.write_frames(s.produced, n, r.channels, ptrs.data());
    s.produced += n;
    ring.publish(gen, s.produced, false);
  }

  std::vector<StreamRing>& rings_;
  const TestClip& clip_;
  std::vector<State> state_;
};

// A rig whose engine has `count` rings of `frames` stereo frames.
struct StreamRig {
  explicit StreamRig(std::uint32_t count = 4, std::uint64_t frames = 8192,
                     std::uint32_t max_streamed = 0)
      : memory(count * frames * 2), rings(count) {
    for (std::uint32_t i = 0; i < count; ++i)
      rings[i].attach(memory.data() + i * frames * 2, frames * 2);
    Config c;
    c.streams = rings.data();
    c.stream_rings = count;
    c.max_streamed_voices = max_streamed;
    c.stream_channels = 2;
    rig = std::make_unique<Rig>(c);
  }
  std::vector<float> memory;
  std::vector<StreamRing> rings;
  std::unique_ptr<Rig> rig;
};

// What a test does to a voice over time: called before each cycle with the cycle's index.
using Script = std::function<void(Rig&, std::uint32_t cycle)>;

// Plays `m` on the whole clip in memory and on the streamed clip (head `head`), running
// `cycles` cycles of `period` frames with the producer filling before every cycle; expects the
// two recordings and the two voices' events to be equal.
void expect_same(const TestClip& clip, std::uint64_t head, const Message& m, std::uint32_t cycles,
                 std::uint32_t period, const Script& script = {}) {
  Rig memory;
  memory.add_clip(0, clip);
  memory.play(m);
  StreamRig streamed;
  Head h(clip, head);
  streamed.rig->send(Message::add_clip(0, h.samples(), 1));
  streamed.rig->play(m);
  TestProducer producer(streamed.rings, clip);
  for (std::uint32_t i = 0; i < cycles; ++i) {
    if (script) {
      script(memory, i);
      script(*streamed.rig, i);
    }
    producer.fill();
    memory.cycle(period);
    streamed.rig->cycle(period);
  }
  const std::uint64_t end = memory.frame();
  for (std::uint64_t f = Rig::kBase; f < end; ++f) {
    for (std::uint32_t o = 0; o < 2; ++o)
      ASSERT_EQ(streamed.rig->out(o, f), memory.out(o, f)) << "frame " << f - Rig::kBase;
  }
  const auto a = memory.started(m.play.voice), b = streamed.rig->started(m.play.voice);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->frame, b->frame);
  EXPECT_EQ(a->late, b->late);
  const auto ea = memory.ended(m.play.voice), eb = streamed.rig->ended(m.play.voice);
  ASSERT_EQ(ea.has_value(), eb.has_value());
  if (ea) {
    EXPECT_EQ(ea->frame, eb->frame);
    EXPECT_EQ(ea->reason, eb->reason);
  }
  EXPECT_EQ(streamed.rig->engine().underruns(), 0u);
}

Message play_of(std::uint64_t voice) {
  return Message::play_default(voice, 0);
}

TEST(Streaming, AWholePlayFromTheStartEqualsTheClipInMemory) {
  TestClip clip(60000, 2, 11);
  for (const std::uint32_t period : {256u, 100u, 8192u})
    expect_same(clip, 10000, play_of(1), 70000 / period + 2, period);
}

TEST(Streaming, OffsetsInsideAndBeyondTheHead) {
  TestClip clip(60000, 2, 12);
  for (const std::uint64_t offset : {0ull, 5000ull, 9999ull, 10000ull, 10001ull, 45000ull}) {
    Message m = play_of(1);
    m.play.offset = offset;
    m.play.at_frame = Rig::kBase + 512;  // ahead: the ring is primed by then
    expect_same(clip, 10000, m, 300, 256);
  }
}

TEST(Streaming, LoopsAcrossTheHeadsEndAndDeepInTheClip) {
  TestClip clip(60000, 2, 13);
  struct Case {
    std::uint64_t offset, start, end;
    std::uint32_t loops;
  };
  for (const Case c :
       {Case{0, 5000, 20000, 3}, Case{0, 0, 12000, kLoopForever}, Case{2000, 40000, 41000, 9},
        Case{30000, 35000, 36000, kLoopForever}, Case{50000, 100, 20000, 2}}) {
    Message m = play_of(1);
    m.play.offset = c.offset;
    m.play.at_frame = Rig::kBase + 256;
    m.play.loop_start = c.start;
    m.play.loop_end = c.end;
    m.play.loops = c.loops;
    expect_same(clip, 10000, m, 400, 256);
  }
}

TEST(Streaming, ALoopInsideTheHeadNeedsNoRing) {
  StreamRig s;
  TestClip clip(60000, 2, 14);
  Head h(clip, 10000);
  s.rig->send(Message::add_clip(0, h.samples(), 1));
  Message m = play_of(1);
  m.play.loop_start = 1000;
  m.play.loop_end = 3000;
  m.play.loops = kLoopForever;
  s.rig->play(m);
  s.rig->run(40000, 256);  // no producer at all
  const std::uint64_t at = s.rig->started(1)->frame;
  for (std::uint64_t k = 0; at + k < s.rig->frame(); ++k) {
    const std::uint64_t src = k < 3000 ? k : 1000 + (k - 3000) % 2000;
    ASSERT_EQ(s.rig->out(0, at + k), clip.at(0, src)) << k;
  }
  EXPECT_EQ(s.rig->engine().underruns(), 0u);
}

TEST(Streaming, FadesLengthSetPauseResumeAndStopActAsInMemory) {
  TestClip clip(80000, 2, 15);
  Message m = play_of(1);
  m.play.offset = 8000;
  m.play.fade_in = 3000;
  m.play.length = 60000;
  m.play.gain = 0.5f;
  m.play.pan = 0.25f;
  const Script script = [](Rig& rig, std::uint32_t cycle) {
    if (cycle == 20) rig.send(Message::set_gain(1, 0.9f, 1000));
    if (cycle == 40) rig.send(Message::pause_cmd(1, 500));
    if (cycle == 60) rig.send(Message::resume_cmd(1, 500));
    if (cycle == 120) rig.send(Message::stop_cmd(StopTarget::voice, 1, 4000));
  };
  expect_same(clip, 10000, m, 200, 256, script);
}

TEST(Streaming, RampsAcrossLoopWrapsAndTheHeadsEndActAsInMemory) {
  TestClip clip(60000, 2, 22);
  Message m = play_of(1);
  m.play.offset = 9000;
  m.play.at_frame = Rig::kBase + 4096;  // the producer fills before the head's end
  m.play.loop_start = 9500;
  m.play.loop_end = 9500 + 700;  // crosses the head's end at 10,000
  m.play.loops = kLoopForever;
  m.play.fade_in = 20000;  // runs across many wraps
  const Script script = [](Rig& rig, std::uint32_t cycle) {
    if (cycle == 3) rig.send(Message::set_pan(1, -0.5f, 9000));
  };
  for (const std::uint32_t period : {256u, 4096u})
    expect_same(clip, 10000, m, 100000 / period, period, script);
}

TEST(Streaming, ASeekStartsWhenItsDataIsThereAndSaysLate) {
  StreamRig s;
  TestClip clip(60000, 2, 16);
  Head h(clip, 10000);
  s.rig->send(Message::add_clip(0, h.samples(), 1));
  Message m = play_of(1);
  m.play.offset = 30000;
  s.rig->play(m);
  TestProducer producer(s.rings, clip);
  s.rig->run(1024, 256);  // nothing arrives: the voice waits, silent
  EXPECT_FALSE(s.rig->started(1));
  producer.fill();
  s.rig->cycle(256);
  ASSERT_TRUE(s.rig->started(1));
  EXPECT_TRUE(s.rig->started(1)->late);
  EXPECT_EQ(s.rig->started(1)->frame, Rig::kBase + 1024);
  for (std::uint64_t k = 0; k < 256; ++k)
    ASSERT_EQ(s.rig->out(0, Rig::kBase + 1024 + k), clip.at(0, 30000 + k));
  for (std::uint64_t f = Rig::kBase; f < Rig::kBase + 1024; ++f)
    ASSERT_EQ(s.rig->out(0, f), 0.0f);
  EXPECT_EQ(s.rig->engine().underruns(), 0u);
}

TEST(Streaming, MissingFramesPlayAsSilenceKeepTimeAndAreCounted) {
  StreamRig s;
  TestClip clip(60000, 2, 17);
  Head h(clip, 4096);
  s.rig->send(Message::add_clip(0, h.samples(), 1));
  s.rig->play(1, 0);
  TestProducer producer(s.rings, clip);
  s.rig->cycle(256);    // the engine takes the play and asks its ring for the frames
  producer.fill(1000);  // the ring holds 1,000 frames past the head, then nothing for a while
  s.rig->run(4096 + 2048 - 256, 256);
  producer.fill();
  s.rig->run(2048, 256);
  const std::uint64_t at = s.rig->started(1)->frame;
  for (std::uint64_t k = 0; at + k < s.rig->frame(); ++k) {
    const bool missing = k >= 5096 && k < 4096 + 2048;
    ASSERT_EQ(s.rig->out(1, at + k), missing ? 0.0f : clip.at(1, k)) << k;
  }
  EXPECT_EQ(s.rig->engine().underruns(), 1u);  // one run of short cycles
  UnderrunReport r;
  ASSERT_TRUE(s.rings[0].underrun_report(r));
  EXPECT_EQ(r.voice, 1u);
  EXPECT_EQ(r.clip, 0u);
  EXPECT_EQ(r.episodes, 1u);
  EXPECT_EQ(r.missed, 2048u - 1000u);
  EXPECT_EQ(r.frame, at + 5096);
  // A second run counts again.
  s.rig->run(8192, 256);
  EXPECT_EQ(s.rig->engine().underruns(), 2u);
}

TEST(Streaming, AFailedRingEndsItsVoiceWithReadErrorAfterWhatArrived) {
  StreamRig s;
  TestClip clip(60000, 2, 18);
  Head h(clip, 4096);
  s.rig->send(Message::add_clip(0, h.samples(), 1));
  s.rig->play(1, 0);
  TestProducer producer(s.rings, clip);
  s.rig->cycle(256);
  producer.fill(3000);
  producer.fail(0);
  s.rig->run(16384, 256);
  const auto ended = s.rig->ended(1);
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->reason, EndReason::read_error);
  EXPECT_EQ(ended->frame - s.rig->started(1)->frame, 4096u + 3000u);
  EXPECT_EQ(s.rig->engine().underruns(), 0u);
  EXPECT_EQ(s.rig->engine().live_voices(), 0u);
}

TEST(Streaming, AVoicePastTheStreamedLimitStealsTheOldestStreamedVoice) {
  StreamRig s(4, 8192, 2);
  TestClip clip(60000, 2, 19);
  Head h(clip, 4096);
  TestClip small(1000, 2, 20);
  s.rig->send(Message::add_clip(0, h.samples(), 1));
  s.rig->add_clip(1, small);
  s.rig->play(1, 0);
  s.rig->play(2, 1);  // in memory: not counted
  s.rig->play(3, 0);
  s.rig->cycle(256);
  s.rig->play(4, 0);
  s.rig->run(2048, 256);
  ASSERT_TRUE(s.rig->ended(1));
  EXPECT_EQ(s.rig->ended(1)->reason, EndReason::stolen);
  EXPECT_FALSE(s.rig->ended(3));
  EXPECT_FALSE(s.rig->ended(4));
  EXPECT_TRUE(s.rig->engine().invariants_hold());
}

TEST(Streaming, AMidiNoteStartsAStreamedClipFromItsHeadOnItsFrame) {
  StreamRig s;
  TestClip clip(40000, 2, 23);
  Head h(clip, 4096);
  s.rig->send(Message::add_clip(0, h.samples(), 1));
  s.rig->spares(8);
  BindingTable* table = s.rig->new_table();
  table->at(0, 60) = Binding{0, 0, 1.0f, TriggerMode::oneshot, true, false};
  s.rig->send(Message::set_bindings(table));
  TestProducer producer(s.rings, clip);
  s.rig->cycle(256);
  s.rig->cycle(256, {Rig::note_on(100, 1, 60)});
  for (int i = 0; i < 200; ++i) {
    producer.fill();
    s.rig->cycle(256);
  }
  const auto starts = s.rig->midi_starts();
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].frame, Rig::kBase + 256 + 100);
  for (std::uint64_t k = 0; k < 40000; ++k)
    ASSERT_EQ(s.rig->out(0, starts[0].frame + k), clip.at(0, k)) << k;
  EXPECT_EQ(s.rig->engine().underruns(), 0u);
}

TEST(Streaming, AGroupedStartBeyondTheHeadWaitsForItsDataThenChokes) {
  StreamRig s;
  TestClip clip(60000, 2, 24);
  Head h(clip, 4096);
  TestClip other(100000, 2, 25);
  s.rig->send(Message::add_clip(0, h.samples(), 1));
  s.rig->add_clip(1, other);
  Message first = Message::play_default(1, 1);
  first.play.group = 5;
  s.rig->play(first);
  s.rig->cycle(256);
  Message seek = play_of(2);
  seek.play.group = 5;
  seek.play.offset = 30000;
  s.rig->play(seek);
  TestProducer producer(s.rings, clip);
  s.rig->run(512, 256);  // no data yet: voice 2 waits, voice 1 plays on
  EXPECT_FALSE(s.rig->started(2));
  EXPECT_FALSE(s.rig->ended(1));
  producer.fill();
  s.rig->cycle(256);
  ASSERT_TRUE(s.rig->started(2));
  EXPECT_TRUE(s.rig->started(2)->late);
  const std::uint64_t at = s.rig->started(2)->frame;
  EXPECT_EQ(at, Rig::kBase + 768);
  s.rig->run(2048, 256);
  ASSERT_TRUE(s.rig->ended(1));
  EXPECT_EQ(s.rig->ended(1)->reason, EndReason::choked);
  EXPECT_TRUE(s.rig->engine().invariants_hold());
}

TEST(Streaming, EveryRingGoesIdleWhenItsVoiceEnds) {
  StreamRig s;
  TestClip clip(20000, 2, 21);
  Head h(clip, 4096);
  s.rig->send(Message::add_clip(0, h.samples(), 1));
  TestProducer producer(s.rings, clip);
  for (std::uint64_t v = 1; v <= 4; ++v)
    s.rig->play(v, 0);
  for (int i = 0; i < 100; ++i) {
    producer.fill();
    s.rig->cycle(256);
  }
  for (std::uint64_t v = 1; v <= 4; ++v)
    ASSERT_EQ(s.rig->ended(v)->reason, EndReason::finished);
  for (auto& ring : s.rings) {
    std::uint32_t gen = 0;
    StreamRequest r;
    EXPECT_FALSE(ring.current(gen, r));
    EXPECT_EQ(r.clip, 0u);
  }
}

}  // namespace
}  // namespace clipd::engine::test
