// Engine mixing speed: nanoseconds per stereo voice-frame and voices per core at 48 kHz, for 1 to
// 4096 stereo voices and periods of 64, 256 and 1024 frames, against the floor (a plain
// multiply-add loop over the same clip data, same run, same compiler flags), with gain ramps and
// pan active in half the voices. Also compares planar clips with interleaved ones on the bare
// kernel. Prints a table; `--quick` measures less.
//
// Each figure is the best of several repeats, in thread CPU time (the machine is shared: wall time
// would count other processes' slices), over whole process() calls, message handling and meters
// included.
#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <sys/mman.h>
#include <vector>

#include "engine/engine.hpp"
#include "floor.hpp"

namespace {

using namespace clipd::engine;

constexpr std::uint32_t kRate = 48000;
constexpr std::uint64_t kClipFrames = 10 * kRate;
constexpr int kClips = 8;

struct Free {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float, Free>;

bool g_huge = false;  // --huge: clips on transparent huge pages

Buffer allocate(std::size_t floats) {
  const std::size_t align = g_huge ? std::size_t{2} << 20 : 4096;
  const std::size_t bytes = (floats * sizeof(float) + align - 1) / align * align;
  auto* p = static_cast<float*>(std::aligned_alloc(align, bytes));
  if (g_huge) madvise(p, bytes, MADV_HUGEPAGE);  // a hint: fewer TLB misses across voices
  return Buffer(p);
}

struct Clips {
  std::vector<Buffer> planar, interleaved;
  std::vector<ClipSamples> samples;
  Clips() {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (int c = 0; c < kClips; ++c) {
      planar.push_back(allocate(2 * kClipFrames));
      interleaved.push_back(allocate(2 * kClipFrames));
      float* p = planar.back().get();
      float* q = interleaved.back().get();
      for (std::uint64_t i = 0; i < kClipFrames; ++i) {
        p[i] = dist(rng);
        p[kClipFrames + i] = dist(rng);
        q[2 * i] = p[i];
        q[2 * i + 1] = p[kClipFrames + i];
      }
      samples.push_back(ClipSamples{p, kClipFrames, 2, kClipFrames});
    }
  }
};

struct Placement {
  int clip;
  std::uint64_t offset;
};

std::vector<Placement> place(std::uint32_t voices) {
  std::mt19937 rng(voices);
  std::vector<Placement> out;
  for (std::uint32_t v = 0; v < voices; ++v) {
    out.push_back({static_cast<int>(rng() % kClips), rng() % (kClipFrames - 8192)});
  }
  return out;
}

double thread_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// Best time per cycle of `fn` over `cycles` cycles, `repeats` times.
template <class Fn>
double best_ns_per_cycle(int repeats, std::uint64_t cycles, Fn&& fn) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = thread_ns();
    for (std::uint64_t c = 0; c < cycles; ++c)
      fn();
    best = std::min(best, (thread_ns() - t0) / static_cast<double>(cycles));
  }
  return best;
}

double engine_ns(const Clips& clips, std::uint32_t voices, std::uint32_t period, int repeats,
                 std::uint64_t cycles) {
  MessageQueue to_engine, to_control;
  Config config;
  config.sample_rate = kRate;
  config.max_voices = voices;
  config.clip_capacity = kClips;
  config.max_messages_per_cycle = 3 * voices + kClips + 1;
  auto engine = std::make_unique<Engine>(config, to_engine.consumer(), to_control.producer());
  auto tx = to_engine.producer();
  auto rx = to_control.consumer();
  for (int c = 0; c < kClips; ++c) {
    tx.push(MessageNode::make(Message::add_clip(c, clips.samples[c], c + 1)));
  }
  const auto placement = place(voices);
  for (std::uint32_t v = 0; v < voices; ++v) {
    Message m = Message::play_default(v, placement[v].clip);
    m.play.offset = placement[v].offset;
    m.play.loops = kLoopForever;
    if (v % 2 == 1) m.play.pan = -0.3f;  // pan and a long gain ramp in half the voices
    tx.push(MessageNode::make(Message::voice_end(v)));
    tx.push(MessageNode::make(m));
    if (v % 2 == 1) tx.push(MessageNode::make(Message::set_gain(v, 0.1f, 100'000'000)));
  }
  std::vector<float> left(period), right(period);
  float* outputs[] = {left.data(), right.data()};
  std::uint64_t frame = 0;
  auto cycle = [&] {
    engine->process(frame, period, outputs, 0);
    frame += period;
  };
  cycle();
  while (MessageNode n = rx.pop()) {
  }
  if (engine->live_voices() != voices) {
    std::fprintf(stderr, "expected %u voices, engine has %u\n", voices, engine->live_voices());
    std::exit(1);
  }
  const double ns = best_ns_per_cycle(repeats, cycles, cycle);
  engine->retire(frame, EndReason::shutdown);
  while (MessageNode n = rx.pop()) {
  }
  return ns;
}

struct KernelResult {
  double floor, planar, interleaved;
};

KernelResult kernel_ns(const Clips& clips, std::uint32_t voices, std::uint32_t period, int repeats,
                       std::uint64_t cycles) {
  const auto placement = place(voices);
  std::vector<std::uint64_t> pos(voices);
  for (std::uint32_t v = 0; v < voices; ++v)
    pos[v] = placement[v].offset;
  std::vector<bench::FloorVoice> planar(voices);
  std::vector<bench::InterleavedVoice> inter(voices);
  std::vector<float> left(period), right(period);
  auto advance = [&] {
    for (std::uint32_t v = 0; v < voices; ++v) {
      pos[v] += period;
      if (pos[v] + period > kClipFrames) pos[v] = 0;
      const float* p = clips.planar[placement[v].clip].get();
      planar[v] = bench::FloorVoice{p + pos[v], p + kClipFrames + pos[v], 0.5f};
      inter[v] =
          bench::InterleavedVoice{clips.interleaved[placement[v].clip].get() + 2 * pos[v], 0.5f};
    }
  };
  KernelResult r{};
  // The per-cycle bookkeeping (advance) is timed with each loop, as the engine times its own.
  r.floor = best_ns_per_cycle(repeats, cycles, [&] {
    advance();
    std::memset(left.data(), 0, period * sizeof(float));
    std::memset(right.data(), 0, period * sizeof(float));
    bench::floor_mix(planar.data(), voices, left.data(), right.data(), period);
  });
  r.planar = best_ns_per_cycle(repeats, cycles, [&] {
    advance();
    std::memset(left.data(), 0, period * sizeof(float));
    std::memset(right.data(), 0, period * sizeof(float));
    bench::planar_mix(planar.data(), voices, left.data(), right.data(), period);
  });
  r.interleaved = best_ns_per_cycle(repeats, cycles, [&] {
    advance();
    std::memset(left.data(), 0, period * sizeof(float));
    std::memset(right.data(), 0, period * sizeof(float));
    bench::interleaved_mix(inter.data(), voices, left.data(), right.data(), period);
  });
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  // bench_engine [--quick] [--huge] [VOICES PERIOD]
  int rest = 1;
  bool quick = false;
  for (; rest < argc && argv[rest][0] == '-'; ++rest) {
    if (std::strcmp(argv[rest], "--quick") == 0) quick = true;
    if (std::strcmp(argv[rest], "--huge") == 0) g_huge = true;
  }
  std::uint32_t only_voices = 0, only_period = 0;
  if (argc >= rest + 2) {
    only_voices = static_cast<std::uint32_t>(std::atoi(argv[rest]));
    only_period = static_cast<std::uint32_t>(std::atoi(argv[rest + 1]));
  }
  const int repeats = quick ? 2 : 5;
  const double target_voice_frames = quick ? 2e6 : 2e7;
  const Clips clips;
  const std::uint32_t voice_counts[] = {1, 16, 64, 256, 1024, 4096};
  const std::uint32_t periods[] = {64, 256, 1024};
  std::printf(
      "clipd engine mixing benchmark: stereo clips, 2 outputs, %u Hz, half the voices "
      "with pan and a gain ramp; ns per stereo voice-frame, best of %d%s\n",
      kRate, repeats, g_huge ? "; clips on huge pages" : "");
  std::printf("%7s %6s | %9s %9s %6s | %9s %11s | %12s %9s\n", "voices", "period", "engine",
              "floor", "ratio", "planar", "interleaved", "voices/core", "core %");
  for (std::uint32_t voices : voice_counts) {
    for (std::uint32_t period : periods) {
      if (only_voices != 0 && (voices != only_voices || period != only_period)) continue;
      const double vf = static_cast<double>(voices) * period;
      const auto cycles = static_cast<std::uint64_t>(std::max(20.0, target_voice_frames / vf));
      const double e = engine_ns(clips, voices, period, repeats, cycles) / vf;
      const KernelResult k = kernel_ns(clips, voices, period, repeats, cycles);
      const double f = k.floor / vf;
      const double per_core = 1e9 / (e * kRate);
      const double core = 100.0 * voices * kRate * e / 1e9;
      std::printf("%7u %6u | %9.3f %9.3f %6.2f | %9.3f %11.3f | %12.0f %8.1f%%\n", voices, period,
                  e, f, e / f, k.planar / vf, k.interleaved / vf, per_core, core);
      std::fflush(stdout);
    }
  }
  std::printf(
      "engine: whole process() calls; floor: plain multiply-add loop, engine flags, no "
      "dispatch; planar/interleaved: bare kernel with AVX2 dispatch on each layout\n");
  return 0;
}
