// bench_queue: clipd::Queue against boost::lockfree::spsc_queue and moodycamel's
// ReaderWriterQueue (try_enqueue and enqueue), same payload (a pointer), same run.
//
//   bench_queue            the full run (about a minute), prints one table
//   bench_queue --quick    a few thousand items per scenario: checks only, figures meaningless
//
// Options: --reps N (repetitions, default 7), --no-pin (do not pin the two threads),
// --period-us U (audio loop period, default 1333), --burst N (items per period, default 128).
// The exit status is 1 when any scenario saw a lost, duplicated or reordered item.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "harness.hpp"
#include "pipes.hpp"
#include "scenarios.hpp"

namespace clipd::bench {
namespace {

struct Config {
  bool quick = false;
  bool pin = true;
  int reps = 7;
  int audio_reps = 5;
  std::uint64_t stream_items = 4'000'000;
  std::uint64_t trips = 200'000;
  std::uint64_t warmup_trips = 2'000;
  std::size_t periods = 1'000;
  std::size_t overflow_periods = 200;
  std::int64_t period_ns = 1'333'000;
  std::size_t burst = 128;
};

// The figures, in table order.
enum Figure : std::size_t {
  kStream,
  kStreamReturned,
  kTripP50,
  kTripP99,
  kAudioP50,
  kAudioP99,
  kAudioMax,
  kAudioItems,
  kOverflowFailed,
  kOverflowGrown,
  kFigureCount,
};

struct FigureInfo {
  const char* name;
  const char* unit;
  bool higher_is_better;
  double limit;  // acceptance limit on our ratio to the best bounded peer, 0 when none
};

constexpr std::array<FigureInfo, kFigureCount> kFigures{{
    {"stream one-way (ours: nodes return)", "M items/s", true, 1.10},
    {"stream, every peer returns items", "M items/s", true, 0},
    {"round trip p50", "ns", false, 1.05},
    {"round trip p99", "ns", false, 0},
    {"audio loop cost/period p50", "us", false, 1.05},
    {"audio loop cost/period p99", "us", false, 0},
    {"audio loop cost/period max", "us", false, 0},
    {"audio loop items/period (mean)", "items", true, 0},
    {"overflow: failed pushes", "items", false, 0},
    {"overflow: grown (nodes/slots)", "count", false, 0},
}};

constexpr std::size_t kPeers = 4;
constexpr std::array<const char*, kPeers> kPeerNames{NodePipe::kName, BoostPipe::kName,
                                                     RwqTryPipe::kName, RwqEnqueuePipe::kName};
constexpr std::array<bool, kPeers> kBoundedPeer{false, BoostPipe::kBounded, RwqTryPipe::kBounded,
                                                RwqEnqueuePipe::kBounded};

// samples[figure][peer]: one value per repetition (counts: one per run).
using Samples = std::array<std::array<std::vector<double>, kPeers>, kFigureCount>;

struct Checks {
  std::uint64_t errors = 0;
  std::uint64_t our_failed_pushes = 0;
};

template <class Pipe>
void run_stream(const Config& config, const Tags& tags, const Cpus& cpus, std::size_t peer,
                Samples& samples, Checks& checks) {
  for (const bool returned : {false, true}) {
    const StreamResult r = stream<Pipe>(tags, config.stream_items, returned, cpus);
    checks.errors += r.errors;
    samples[returned ? kStreamReturned : kStream][peer].push_back(r.items_per_s * 1e-6);
  }
}

template <class Pipe>
void run_round_trip(const Config& config, const Tags& tags, const Cpus& cpus, std::size_t peer,
                    Samples& samples, Checks& checks) {
  RoundTripResult r = round_trip<Pipe>(tags, config.trips, config.warmup_trips, cpus);
  checks.errors += r.errors;
  samples[kTripP50][peer].push_back(percentile(r.samples_ns, 50));
  samples[kTripP99][peer].push_back(percentile(r.samples_ns, 99));
}

template <class Pipe>
void run_audio(const Config& config, const Tags& tags, const Cpus& cpus, std::size_t peer,
               Samples& samples, Checks& checks) {
  AudioLoopResult r = audio_loop<Pipe>(tags, config.periods, config.period_ns, config.burst, cpus);
  checks.errors += r.errors;
  samples[kAudioP50][peer].push_back(percentile(r.cost_ns, 50) * 1e-3);
  samples[kAudioP99][peer].push_back(percentile(r.cost_ns, 99) * 1e-3);
  samples[kAudioMax][peer].push_back(percentile(r.cost_ns, 100) * 1e-3);
  samples[kAudioItems][peer].push_back(static_cast<double>(r.popped) /
                                       static_cast<double>(r.cost_ns.size()));
  if (Pipe::kNodes) checks.our_failed_pushes += r.failed_pushes + r.failed_returns;
}

// The burst is twice what a ring holds: the consumer empties the queue once per period, so a
// bounded peer must refuse about half of every burst. Ours takes them all.
template <class Pipe>
void run_overflow(const Config& config, const Tags& tags, const Cpus& cpus, std::size_t peer,
                  Samples& samples, Checks& checks) {
  AudioLoopResult r =
      audio_loop<Pipe>(tags, config.overflow_periods, config.period_ns, 2 * kCapacity, cpus);
  checks.errors += r.errors;
  samples[kOverflowFailed][peer].push_back(static_cast<double>(r.failed_pushes + r.failed_returns));
  samples[kOverflowGrown][peer].push_back(static_cast<double>(r.grown));
  if (Pipe::kNodes) checks.our_failed_pushes += r.failed_pushes + r.failed_returns;
}

// Runs one scenario on every peer, `reps` times, starting each repetition with another peer so
// that slow spells of a shared machine do not fall on one peer only.
template <template <class> class Run>
void run_all(int reps, const Config& config, const Tags& tags, const Cpus& cpus, Samples& samples,
             Checks& checks) {
  for (int rep = 0; rep < reps; ++rep) {
    for (std::size_t i = 0; i < kPeers; ++i) {
      switch (const std::size_t peer = (static_cast<std::size_t>(rep) + i) % kPeers) {
        case 0:
          Run<NodePipe>{}(config, tags, cpus, peer, samples, checks);
          break;
        case 1:
          Run<BoostPipe>{}(config, tags, cpus, peer, samples, checks);
          break;
        case 2:
          Run<RwqTryPipe>{}(config, tags, cpus, peer, samples, checks);
          break;
        default:
          Run<RwqEnqueuePipe>{}(config, tags, cpus, peer, samples, checks);
          break;
      }
    }
  }
}

template <class Pipe>
struct StreamRun {
  void operator()(const Config& c, const Tags& t, const Cpus& p, std::size_t i, Samples& s,
                  Checks& k) const {
    run_stream<Pipe>(c, t, p, i, s, k);
  }
};
template <class Pipe>
struct RoundTripRun {
  void operator()(const Config& c, const Tags& t, const Cpus& p, std::size_t i, Samples& s,
                  Checks& k) const {
    run_round_trip<Pipe>(c, t, p, i, s, k);
  }
};
template <class Pipe>
struct AudioRun {
  void operator()(const Config& c, const Tags& t, const Cpus& p, std::size_t i, Samples& s,
                  Checks& k) const {
    run_audio<Pipe>(c, t, p, i, s, k);
  }
};
template <class Pipe>
struct OverflowRun {
  void operator()(const Config& c, const Tags& t, const Cpus& p, std::size_t i, Samples& s,
                  Checks& k) const {
    run_overflow<Pipe>(c, t, p, i, s, k);
  }
};

void print_table(const Config& config, const Samples& samples, const Cpus& cpus) {
  std::printf(
      "\nclipd queue benchmark: payload a pointer; rings of %zu slots (%zu items), our pool "
      "%zu nodes\n",
      kRingSlots, kCapacity, kCapacity);
  std::printf(
      "threads: producer on cpu %d, consumer on cpu %d (-1: not pinned); %d reps "
      "(audio %d), median of the reps\n",
      cpus.producer, cpus.consumer, config.reps, config.audio_reps);
  std::printf("audio loop: period %.0f us, burst %zu; overflow: burst %zu, %zu periods\n",
              static_cast<double>(config.period_ns) * 1e-3, config.burst, 2 * kCapacity,
              config.overflow_periods);
  if (config.quick) std::printf("QUICK MODE: checks only, the figures mean nothing\n");
  if (g_one_cpu) std::printf("ONE CPU: the threads take turns, the figures mean nothing\n");
  std::printf("\n%-38s %-9s", "figure", "unit");
  for (const char* name : kPeerNames)
    std::printf(" %16s", name);
  std::printf(" %8s %6s %5s\n", "ratio*", "limit", "ok");

  for (std::size_t f = 0; f < kFigureCount; ++f) {
    const FigureInfo& info = kFigures[f];
    std::array<double, kPeers> value{};
    for (std::size_t p = 0; p < kPeers; ++p)
      value[p] = median(samples[f][p]);
    std::printf("%-38s %-9s", info.name, info.unit);
    for (std::size_t p = 0; p < kPeers; ++p) {
      std::printf(" %16.*f", value[p] >= 100 ? 0 : 2, value[p]);
    }
    // Our cost relative to the best bounded peer's: above 1 means slower (or more failures).
    double best = 0;
    bool have_best = false;
    for (std::size_t p = 1; p < kPeers; ++p) {
      if (!kBoundedPeer[p]) continue;
      if (!have_best || (info.higher_is_better ? value[p] > best : value[p] < best))
        best = value[p];
      have_best = true;
    }
    if (f == kAudioItems || f == kOverflowFailed || f == kOverflowGrown) {
      std::printf(" %8s %6s %5s\n", "-", "-", "");
      continue;
    }
    const double ratio = info.higher_is_better ? best / value[0] : value[0] / best;
    std::printf(" %8.3f", ratio);
    if (info.limit > 0) {
      std::printf(" %6.2f %5s\n", info.limit, ratio <= info.limit ? "yes" : "NO");
    } else {
      std::printf(" %6s %5s\n", "-", "");
    }
  }
  std::printf(
      "\n* ratio: our cost over the best bounded peer's (boost spsc_queue, rwq try_enqueue); "
      "above 1 is slower.\n"
      "  For a rate that is best/ours, for a time ours/best. rwq enqueue is listed but not a "
      "bounded peer: it\n"
      "  allocates a new block when full, which the audio thread must never do.\n"
      "stream one-way: the peers copy a pointer into a ring and the consumer keeps it; ours sends "
      "the pointer in\n"
      "  a node and the consumer returns the node over a second queue for the producer to reuse "
      "(no allocation\n"
      "  after start-up, as clipd uses it), so ours does four queue operations per item to their "
      "two.\n"
      "stream, every peer returns items: the peers also send each pointer back and keep at most "
      "%zu in flight:\n"
      "  the same work as ours, what a message that must come back to be freed costs.\n"
      "round trip: one item in flight, pushed to the other thread and straight back; ours bounces "
      "a node.\n"
      "audio loop: the consumer wakes once per period, pops everything queued, pushes each item "
      "back, and times\n"
      "  that; the producer sends the next burst after each period. Times include one clock "
      "read.\n"
      "overflow: bursts of %zu into rings of %zu: failed pushes (dropped items) of the bounded "
      "peers; ours never\n"
      "  fails, its control side adds nodes instead (grown), rwq enqueue allocates slots "
      "(grown).\n",
      kCapacity, 2 * kCapacity, kCapacity);
}

int usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s [--quick] [--reps N] [--no-pin] [--period-us U] [--burst N]\n",
               argv0);
  return 2;
}

}  // namespace
}  // namespace clipd::bench

int main(int argc, char** argv) {
  using namespace clipd::bench;
  Config config;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--quick") {
      config.quick = true;
    } else if (arg == "--no-pin") {
      config.pin = false;
    } else if (arg == "--reps" && has_value) {
      config.reps = std::max(1, std::atoi(argv[++i]));
      config.audio_reps = std::max(1, (config.reps * 2 + 2) / 3);
    } else if (arg == "--period-us" && has_value) {
      config.period_ns = std::max<std::int64_t>(1, std::atoll(argv[++i])) * 1000;
    } else if (arg == "--burst" && has_value) {
      config.burst = static_cast<std::size_t>(std::max(1, std::atoi(argv[++i])));
    } else {
      return usage(argv[0]);
    }
  }
  if (config.quick) {
    config.reps = 1;
    config.audio_reps = 1;
    config.stream_items = 5'000;
    config.trips = 2'000;
    config.warmup_trips = 100;
    config.periods = 30;
    config.overflow_periods = 10;
    config.period_ns = 200'000;
  }

  Cpus cpus;
  const std::vector<int> allowed = allowed_cpus();
  if (config.pin && allowed.size() >= 2) cpus = {allowed[0], allowed[1]};
  g_one_cpu = allowed.size() < 2;

  const Tags tags;
  Samples samples;
  Checks checks;
  run_all<StreamRun>(config.reps, config, tags, cpus, samples, checks);
  run_all<RoundTripRun>(config.reps, config, tags, cpus, samples, checks);
  run_all<AudioRun>(config.audio_reps, config, tags, cpus, samples, checks);
  run_all<OverflowRun>(1, config, tags, cpus, samples, checks);
  print_table(config, samples, cpus);

  std::printf("\nchecks: %llu item errors, %llu failed pushes of ours\n",
              static_cast<unsigned long long>(checks.errors),
              static_cast<unsigned long long>(checks.our_failed_pushes));
  return checks.errors == 0 && checks.our_failed_pushes == 0 ? 0 : 1;
}
