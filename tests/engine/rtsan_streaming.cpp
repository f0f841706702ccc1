// Under the RealtimeSanitizer: streamed voices read their rings while a producer thread fills
// them, starves them (underruns) and fails them (read_error), with seeks, loops, stops and
// steals in between. Any allocation, free, lock, wait or system call inside process() aborts
// the process with a report. The producer runs as the disk threads do: on its own thread,
// outside the real-time context, touching the rings only through StreamRing.
#include <atomic>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "clipd/realtime.hpp"
#include "engine/engine.hpp"

namespace {

using namespace clipd::engine;

constexpr std::uint64_t kFrames = 200000;
constexpr std::uint64_t kHead = 3000;
constexpr std::uint32_t kRings = 6;
constexpr std::uint64_t kRingFrames = 4096;

float source(std::uint32_t c, std::uint64_t pos) {
  return static_cast<float>((pos * 7 + c * 13) % 1000) / 1000.0f - 0.5f;
}

// Fills every ring in playing order; every so often leaves one hungry, or fails it.
void produce(std::vector<StreamRing>& rings, const std::atomic<bool>& stop) {
  struct State {
    std::uint32_t gen = 0;
    std::uint64_t produced = 0;
    bool failed = false;
  };
  std::vector<State> state(rings.size());
  std::vector<float> block(2 * 512);
  std::uint64_t round = 0;
  while (!stop.load(std::memory_order_acquire)) {
    ++round;
    for (std::size_t i = 0; i < rings.size(); ++i) {
      StreamRing& ring = rings[i];
      State& s = state[i];
      std::uint32_t gen = 0;
      StreamRequest r;
      if (!ring.current(gen, r)) continue;
      if (gen != s.gen) s = State{gen, 0, false};
      if (s.failed || (round + i) % 97 == 0) continue;  // hungry this round
      if ((round * 31 + i) % 5003 == 0) {
        ring.publish(gen, s.produced, true);
        s.failed = true;
        continue;
      }
      const std::uint64_t consumed = ring.consumed(gen);
      if (consumed > s.produced) s.produced = consumed;
      const std::uint64_t cap = ring.capacity(r.channels);
      const std::uint64_t first = r.first_end > r.start ? r.first_end - r.start : 0;
      std::uint64_t n = std::min<std::uint64_t>(consumed + cap - s.produced, 512);
      if (!r.looping) n = std::min(n, first > s.produced ? first - s.produced : 0);
      const float* planes[2] = {block.data(), block.data() + 512};
      for (std::uint64_t k = 0; k < n; ++k) {
        const std::uint64_t count = s.produced + k;
        const std::uint64_t pos =
            count < first ? r.start + count
                          : r.loop_start + (count - first) % (r.loop_end - r.loop_start);
        for (std::uint32_t c = 0; c < r.channels; ++c)
          block[c * 512 + k] = source(c, pos);
      }
      ring.write_frames(s.produced, n, r.channels, planes);
      s.produced += n;
      ring.publish(gen, s.produced, false);
    }
    std::this_thread::yield();
  }
}

}  // namespace

int main() {
  clipd::rtsan_init();
  if (!clipd::rtsan_linked()) {
    std::fprintf(stderr, "RealtimeSanitizer runtime not linked\n");
    return 1;
  }
  std::vector<float> head(2 * kHead);
  for (std::uint32_t c = 0; c < 2; ++c) {
    for (std::uint64_t f = 0; f < kHead; ++f)
      head[c * kHead + f] = source(c, f);
  }
  std::vector<float> memory(kRings * kRingFrames * 2);
  std::vector<StreamRing> rings(kRings);
  for (std::uint32_t i = 0; i < kRings; ++i)
    rings[i].attach(memory.data() + i * kRingFrames * 2, kRingFrames * 2);
  Config config;
  config.streams = rings.data();
  config.stream_rings = kRings;
  config.max_streamed_voices = 4;
  config.stream_channels = 2;
  MessageQueue to_engine, to_control;
  Engine engine(config, to_engine.consumer(), to_control.producer());
  auto tx = to_engine.producer();
  auto rx = to_control.consumer();
  tx.push(MessageNode::make(
      Message::add_clip(0, ClipSamples{head.data(), kFrames, 2, kHead, 1, kHead}, 1)));

  std::atomic<bool> stop{false};
  std::thread producer([&] { produce(rings, stop); });
  std::vector<float> left(256), right(256);
  float* outs[2] = {left.data(), right.data()};
  std::uint64_t frame = 0, voice = 0, x = 12345;
  constexpr int kCycles = 200000;
  for (int i = 0; i < kCycles; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const std::uint32_t pick = static_cast<std::uint32_t>(x >> 33) % 64;
    if (pick < 3) {
      Message m = Message::play_default(++voice, 0);
      m.play.offset = (x >> 7) % kFrames;
      if (pick == 1) {
        m.play.loop_start = (x >> 11) % (kFrames - 1000);
        m.play.loop_end = m.play.loop_start + 64 + (x >> 17) % 5000;
        m.play.loops = kLoopForever;
      }
      if (pick == 2) m.play.at_frame = frame + (x >> 21) % 4096;
      tx.push(MessageNode::make(Message::voice_end(voice)));
      tx.push(MessageNode::make(m));
    } else if (pick == 3 && voice > 0) {
      tx.push(MessageNode::make(Message::stop_cmd(StopTarget::voice, voice - (x >> 40) % 4, 64)));
    }
    engine.process(frame, 256, outs, frame);
    frame += 256;
    while (rx.pop()) {
    }
  }
  stop.store(true, std::memory_order_release);
  producer.join();
  engine.retire(frame, EndReason::shutdown);
  while (rx.pop()) {
  }
  std::printf("%d cycles with streamed voices under RTSan, %llu underruns, no report\n", kCycles,
              static_cast<unsigned long long>(engine.underruns()));
  return engine.underruns() > 0 ? 0 : 1;
}
