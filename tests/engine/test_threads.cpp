// The engine driven from two threads, as in the daemon: an audio thread calls process() in a
// loop while the control thread sends plays, stops and sets, drains the return queue and reads
// the published counters. Run in the TSan build too (suite concurrency).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <set>
#include <thread>
#include <vector>

#include "engine/engine.hpp"

namespace clipd::engine {
namespace {

TEST(EngineThreads, ControlAndAudioThreadsShareOnlyTheQueuesAndCounters) {
  MessageQueue to_engine, to_control;
  Config config;
  config.max_voices = 32;
  Engine engine(config, to_engine.consumer(), to_control.producer());
  auto tx = to_engine.producer();
  auto rx = to_control.consumer();

  std::vector<float> clip(256 * 2);
  for (std::size_t i = 0; i < clip.size(); ++i)
    clip[i] = static_cast<float>(i % 7) * 0.1f;
  tx.push(MessageNode::make(Message::add_clip(0, ClipSamples{clip.data(), 256, 2, 256}, 42)));

  std::atomic<bool> stop{false};
  std::thread audio([&] {
    std::vector<float> l(64), r(64);
    float* outs[] = {l.data(), r.data()};
    std::uint64_t frame = 0;
    while (!stop.load(std::memory_order_acquire)) {
      engine.process(frame, 64, outs, frame);
      frame += 64;
    }
  });

  constexpr std::uint64_t kVoices = 20'000;
  std::uint64_t sent = 1, back = 0;
  std::set<std::uint64_t> ended;
  std::uint64_t last_seen_frame = 0;
  bool frames_monotonic = true;
  for (std::uint64_t v = 0; v < kVoices; ++v) {
    tx.push(MessageNode::make(Message::voice_end(v)));
    Message m = Message::play_default(v, 0);
    m.play.at_frame = engine.last_frame() + 64 + v % 100;
    tx.push(MessageNode::make(m));
    tx.push(MessageNode::make(Message::set_gain(v, 0.5f, 32)));
    if (v % 3 == 0) tx.push(MessageNode::make(Message::stop_cmd(StopTarget::voice, v, 16)));
    sent += v % 3 == 0 ? 4 : 3;
    while (MessageNode n = rx.pop()) {
      ++back;
      if (n->kind == Kind::voice_ended) ended.insert(n->ended.voice);
    }
    const std::uint64_t f = engine.last_frame();
    frames_monotonic = frames_monotonic && f >= last_seen_frame;
    last_seen_frame = f;
  }
  // Let every voice finish (256-frame clip), then stop the audio thread.
  while (ended.size() < kVoices) {
    while (MessageNode n = rx.pop()) {
      ++back;
      if (n->kind == Kind::voice_ended) ended.insert(n->ended.voice);
    }
    std::this_thread::yield();
  }
  stop.store(true, std::memory_order_release);
  audio.join();
  engine.retire(engine.last_frame() + 64, EndReason::shutdown);
  bool released = false;
  while (MessageNode n = rx.pop()) {
    ++back;
    released = released || (n->kind == Kind::clip_released && n->clip.token == 42);
  }
  EXPECT_TRUE(released);
  EXPECT_EQ(back, sent);
  EXPECT_TRUE(frames_monotonic);
  EXPECT_EQ(engine.lost_events(), 0u);
}

}  // namespace
}  // namespace clipd::engine
