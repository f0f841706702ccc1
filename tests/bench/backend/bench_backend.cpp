// bench_backend: clipd's native PipeWire backend against its JACK backend under pw-jack, in one
// run on one private PipeWire (tests/support's PipewireServer, dummy driver) at a forced quantum,
// each daemon linked in turn to the same independent native recorder (onset_probe.hpp).
//
//   bench_backend [--quick] [--voices N] [--quantum FRAMES] [--seconds S] [--triggers N]
//                 [--rounds N] [--threads]
//
// The backends take turns, N rounds each (default 4), one daemon in the graph at a time: clipd
// starts, is linked to the recorder, loads two clips, and is stopped at the end of its round.
// CPU per cycle: with N looping voices playing (default 64), the CPU time of the clipd process
// (every thread) and of its data thread (its busiest thread but the main one: the one that runs
// the process callback), from /proc/PID/task/*/schedstat, read every 64 graph cycles the recorder
// counts; S seconds per backend in all (default 10). Each backend's figure is its median window;
// the paired figure is the median of the ratios of rounds taken in turn (native round k against
// JACK round k, each round its median window), with a 95% interval from 6 rounds on. Trigger
// latency: from the moment a `play` line is written to the socket to the graph time of the first
// non-zero sample the recorder receives; N triggers per backend in all (default 200), p50 and p99;
// a trigger the recorder does not hear within 2 s is counted as lost. Each trigger is written at a
// set phase of a graph cycle (timed from the cycle starts the recorder sees): per round, phases
// evenly spread over the cycle, in one shuffled order that both backends follow, so that the two
// face the same phases and their figures differ by what the backends do, not by the draw; the
// triggers of one phase of one round make a pair, and the median of the pairs' differences comes
// with a 95% interval. Ratios are native/JACK. --threads adds each thread's CPU per cycle.
// --quick: one short round each, to prove that every step works (exits non-zero when one fails,
// or when a backend's triggers were all lost).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <sndfile.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <map>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <pipewire/pipewire.h>

#include "line_client.hpp"
#include "onset_probe.hpp"
#include "process.hpp"
#include "servers.hpp"
#include "task_cpu.hpp"

namespace {

using namespace std::chrono_literals;
using clipd::test::EnvChanges;
using clipd::test::LineClient;
using clipd::test::Process;
using clipd::test::TempDir;
using json = nlohmann::json;

void write_wav(const std::string& path, int rate, int channels, const std::vector<float>& data) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (f == nullptr) throw std::runtime_error("cannot write " + path);
  sf_writef_float(f, data.data(), static_cast<sf_count_t>(data.size()) / channels);
  sf_close(f);
}

// One backend's figures over its rounds.
struct Backend {
  std::string label;    // "native" or "jack"
  std::string backend;  // clipd --backend
  std::string client;   // node / JACK client name
  std::uint64_t cycles = 0;
  // CPU per cycle in microseconds, window by window (kWindowCycles cycles each), and per round
  // the median of its windows: the process (every thread) and its data thread (its busiest thread
  // but the main one: the process callback's).
  std::vector<double> window_cpu_us, window_data_us;
  std::vector<double> round_cpu_us, round_data_us;
  // Trigger latency, trigger by trigger in the order both backends follow (NaN: lost).
  std::vector<double> latency_us;
  int lost = 0;                                  // triggers the recorder never heard
  std::map<std::string, std::uint64_t> threads;  // "name" -> CPU ns over the windows
};

// CPU is read every kWindowCycles graph cycles (about 0.34 s at 256 frames and 48 kHz): a burst
// of the machine's other tenants spoils a window or two, which the medians leave out, instead of
// a whole round's mean.
constexpr std::uint64_t kWindowCycles = 64;

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

std::vector<double> heard(const std::vector<double>& v) {
  std::vector<double> out;
  for (double x : v)
    if (!std::isnan(x)) out.push_back(x);
  return out;
}

// The median of `v` with a distribution-free confidence interval of at least 95% from its order
// statistics (the sign test's: ranks k and n+1-k where Binomial(n, 1/2) < k has probability at
// most 2.5%); the interval is NaN for fewer than 6 values.
struct MedianCi {
  double median = std::nan("");
  double low = std::nan("");
  double high = std::nan("");
};
MedianCi median_ci(std::vector<double> v) {
  MedianCi r;
  if (v.empty()) return r;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  r.median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  // P(B <= j) for B ~ Binomial(n, 1/2), j = 0, 1, ... (terms from logarithms: 0.5^n underflows
  // for a thousand values): the largest j with P <= 0.025 gives k = j + 1.
  const auto nd = static_cast<double>(n);
  double cumulative = 0;
  std::size_t k = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const auto jd = static_cast<double>(j);
    cumulative += std::exp(std::lgamma(nd + 1) - std::lgamma(jd + 1) - std::lgamma(nd - jd + 1) -
                           nd * std::log(2.0));
    if (cumulative > 0.025) break;
    k = j + 1;
  }
  if (k >= 1 && n >= 6) {
    r.low = v[k - 1];
    r.high = v[n - k];
  }
  return r;
}

template <typename Pred>
bool wait_until(Pred done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(200us);  // polling pace: the recorder's atomics are the state
  }
  return true;
}

int usage() {
  std::fputs(
      "usage: bench_backend [--quick] [--voices N] [--quantum FRAMES] [--seconds S] "
      "[--triggers N] [--rounds N] [--threads]\n",
      stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  bool threads = false;
  int voices = 64;
  std::uint32_t quantum = 256;
  double seconds = 10;
  int triggers = 200;
  int rounds = 4;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      seconds = 0.5;
      triggers = 4;
      rounds = 1;
    } else if (a == "--threads") {
      threads = true;
    } else if (a == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (a == "--voices" && i + 1 < argc) {
      voices = std::atoi(argv[++i]);
    } else if (a == "--quantum" && i + 1 < argc) {
      quantum = static_cast<std::uint32_t>(std::atoi(argv[++i]));
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--triggers" && i + 1 < argc) {
      triggers = std::atoi(argv[++i]);
    } else {
      return usage();
    }
  }
  if (voices < 0 || quantum < 16 || seconds <= 0 || triggers <= 0 || rounds <= 0) return usage();

  try {
    clipd::test::PipewireServer server;
    const EnvChanges server_env = server.env();
    TempDir dir("clipd-bench-backend");
    const auto metadata = [&](const char* key, std::uint32_t value) {
      const auto r = clipd::test::run(
          {"pw-metadata", "-n", "settings", "0", key, std::to_string(value)}, server_env, 10s);
      if (r.status != 0) throw std::runtime_error("pw-metadata: " + r.output);
    };
    metadata("clock.force-quantum", quantum);

    // The recorder is a client in this process: it reaches the private server the same way.
    for (const std::string& e : server_env) {
      const auto eq = e.find('=');
      if (eq == std::string::npos) {
        ::unsetenv(e.c_str());
      } else {
        ::setenv(e.substr(0, eq).c_str(), e.substr(eq + 1).c_str(), 1);
      }
    }
    clipd::bench::OnsetProbe probe("bench-probe", 2);

    // A second of stereo noise to loop, and a mono hit of 20 ms or four cycles, whichever is
    // longer, whose every sample is 0.5: a cycle the recorder misses delays its onset instead of
    // hiding it.
    const std::uint32_t rate = 48000;  // PipewireServer's
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> noise(-0.5f, 0.5f);
    std::vector<float> loop(2 * rate);
    for (float& s : loop)
      s = noise(rng);
    write_wav(dir.file("loop.wav"), static_cast<int>(rate), 2, loop);
    write_wav(dir.file("hit.wav"), static_cast<int>(rate), 1,
              std::vector<float>(std::max(rate / 50, 4 * quantum), 0.5f));

    // One daemon in the graph at a time (two at once would share the CPUs and the graph's
    // wake-ups unevenly), the backends taking turns so that load on the machine falls on both.
    std::vector<Backend> backends(2);
    backends[0].label = "native";
    backends[0].backend = "pipewire";
    backends[0].client = "bench-native";
    backends[1].label = "jack";
    backends[1].backend = "jack";
    backends[1].client = "bench-jack";
    const int per_round = std::max(1, triggers / rounds);
    // The phases of a round's triggers, as fractions of a cycle: evenly spread, one order for all.
    std::vector<double> phases;
    for (int j = 0; j < per_round; ++j)
      phases.push_back((j + 0.5) / per_round);
    std::shuffle(phases.begin(), phases.end(), std::mt19937(11));
    for (int round = 0; round < 2 * rounds; ++round) {
      Backend& b = backends[static_cast<std::size_t>(round % 2)];
      const std::string tag = b.label + "-" + std::to_string(round);
      const std::vector<std::string> argv_clipd{CLIPD_EXE,
                                                "--backend",
                                                b.backend,
                                                "--client-name",
                                                b.client,
                                                "--socket",
                                                dir.file(tag + ".sock"),
                                                "--no-state",
                                                "--no-midi",
                                                "--max-voices",
                                                "1024",
                                                "--log-level",
                                                "warning"};
      // Native: no pw-jack, no pipewire-jack on the library path. JACK: under pw-jack.
      EnvChanges env = server_env;
      env.push_back("XDG_CONFIG_HOME=" + dir.path());
      if (b.backend == "pipewire") env.push_back("LD_LIBRARY_PATH");
      Process clipd(b.backend == "jack" ? server.wrap(argv_clipd) : argv_clipd, env,
                    dir.file(tag + ".log"));
      LineClient control(dir.file(tag + ".sock"));
      const bool online = wait_until(
          [&] {
            const json st = control.ok({{"cmd", "status"}});
            return st["engine"] == "online" && st["backend"] == b.backend;
          },
          15s);
      if (!online) throw std::runtime_error(b.label + " did not come online:\n" + clipd.output());
      for (int ch = 1; ch <= 2; ++ch) {
        const std::string out = b.client + ":out_" + std::to_string(ch);
        const std::string in = "bench-probe:in_" + std::to_string(ch);
        const bool linked = wait_until(
            [&] {
              return clipd::test::run({"pw-link", out, in}, server_env, 10s).status == 0;
            },
            10s);
        if (!linked) throw std::runtime_error("cannot link " + out + " to " + in);
      }
      const std::uint64_t from = probe.cycles();
      if (!wait_until([&] { return probe.cycles() > from + 10 && probe.quantum() == quantum; },
                      10s)) {
        throw std::runtime_error(b.label + ": the recorder counted " +
                                 std::to_string(probe.cycles() - from) + " cycles, of " +
                                 std::to_string(probe.quantum()) + " frames (want " +
                                 std::to_string(quantum) + ")\n" +
                                 clipd::test::run({"pw-link", "-l"}, server_env, 10s).output);
      }
      control.ok({{"cmd", "load"}, {"name", "loop"}, {"path", dir.file("loop.wav")}});
      control.ok({{"cmd", "load"}, {"name", "hit"}, {"path", dir.file("hit.wav")}});

      // CPU per cycle with `voices` looping voices, each from its own place in the loop, evenly
      // spread: where they read does not depend on how fast the plays arrived (voices started
      // together read the same memory and cost less), so both backends mix the same show.
      for (int v = 0; v < voices; ++v) {
        control.ok({{"cmd", "play"},
                    {"clip", "loop"},
                    {"loop", true},
                    {"gain_db", -30.0},
                    {"offset_s", static_cast<double>(v) / voices}});
      }
      if (control.ok({{"cmd", "voices"}})["voices"].size() != static_cast<std::size_t>(voices)) {
        throw std::runtime_error(b.label + " does not play " + std::to_string(voices) + " voices");
      }
      // Readings every kWindowCycles cycles, at least three windows a round.
      const auto round_cycles = static_cast<std::uint64_t>(seconds / rounds * rate / quantum);
      const std::uint64_t windows = std::max<std::uint64_t>(3, round_cycles / kWindowCycles);
      std::vector<std::uint64_t> at_cycles;
      std::vector<clipd::bench::TaskCpu> readings;
      at_cycles.push_back(probe.cycles());
      readings.push_back(clipd::bench::read_task_cpu(clipd.pid()));
      // A window's wait allows ten times its length, and at least 10 s (large quanta).
      const auto window_limit =
          std::max(10000ms, std::chrono::milliseconds(10 * 1000 * kWindowCycles * quantum / rate));
      for (std::uint64_t w = 1; w <= windows; ++w) {
        // Counted from the last reading: a reading taken late (this thread descheduled) makes
        // that window longer, never the next one empty.
        const std::uint64_t until = at_cycles.back() + kWindowCycles;
        if (!wait_until([&] { return probe.cycles() >= until; }, window_limit)) {
          throw std::runtime_error(b.label + ": the graph stopped while measuring CPU");
        }
        at_cycles.push_back(probe.cycles());
        readings.push_back(clipd::bench::read_task_cpu(clipd.pid()));
      }
      // The data thread: the busiest but the main one over the whole round.
      const auto whole = clipd::bench::cpu_delta(readings.front(), readings.back(), clipd.pid());
      std::vector<double> round_cpu, round_data;
      for (std::size_t w = 1; w < readings.size(); ++w) {
        const auto d = clipd::bench::cpu_delta(readings[w - 1], readings[w], clipd.pid());
        const auto n_cycles = static_cast<double>(at_cycles[w] - at_cycles[w - 1]);
        const auto data = d.threads_ns.find(whole.busiest);
        round_cpu.push_back(static_cast<double>(d.process_ns) / 1e3 / n_cycles);
        round_data.push_back(static_cast<double>(data == d.threads_ns.end() ? 0 : data->second) /
                             1e3 / n_cycles);
      }
      b.cycles += at_cycles.back() - at_cycles.front();
      b.window_cpu_us.insert(b.window_cpu_us.end(), round_cpu.begin(), round_cpu.end());
      b.window_data_us.insert(b.window_data_us.end(), round_data.begin(), round_data.end());
      b.round_cpu_us.push_back(median_ci(round_cpu).median);
      b.round_data_us.push_back(median_ci(round_data).median);
      for (const auto& [tid, ns] : whole.threads_ns) {
        b.threads[(tid == clipd.pid() ? "main " : "") +
                  clipd::bench::thread_name(clipd.pid(), tid)] += ns;
      }

      // Trigger latency, from silence.
      control.ok({{"cmd", "stop"}, {"all", true}});
      const auto silent = [&] {
        const std::uint64_t now = probe.cycles();
        return probe.last_sound_cycle(0) + 2 < now && probe.last_sound_cycle(1) + 2 < now;
      };
      const double cycle_ns = 1e9 * quantum / rate;
      for (int t = 0; t < per_round; ++t) {
        if (!wait_until(silent, 5s)) throw std::runtime_error(b.label + " did not go silent");
        // Two cycles after a cycle start the recorder saw, plus the phase.
        const std::uint64_t seen = probe.cycles();
        if (!wait_until([&] { return probe.cycles() > seen; }, 2s)) {
          throw std::runtime_error(b.label + ": the graph stopped");
        }
        auto at = probe.last_cycle_nsec() +
                  std::llround((2.0 + phases[static_cast<std::size_t>(t)]) * cycle_ns);
        // Woken late (a loaded machine, a small quantum): the same phase of a later cycle.
        timespec now{};
        clock_gettime(CLOCK_MONOTONIC, &now);
        const std::int64_t soon = std::int64_t{now.tv_sec} * 1000000000 + now.tv_nsec + 200000;
        while (at < soon)
          at += std::llround(cycle_ns);
        const timespec when{static_cast<time_t>(at / 1000000000),
                            static_cast<long>(at % 1000000000)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &when, nullptr) == EINTR) {
        }
        probe.arm(0);
        std::int64_t written = 0;
        control.ok({{"cmd", "play"}, {"clip", "hit"}}, &written);
        if (!wait_until([&] { return probe.onset(0).has_value(); }, 2s)) {
          // Every cycle of the hit reached the recorder as silence, or not at all.
          ++b.lost;
          b.latency_us.push_back(std::nan(""));
          continue;
        }
        b.latency_us.push_back(static_cast<double>(*probe.onset(0) - written) / 1000.0);
      }
      if (clipd.stop() != 0) throw std::runtime_error(b.label + " failed:\n" + clipd.output());
    }

    const Backend& n = backends[0];
    const Backend& j = backends[1];
    const std::vector<double> n_heard = heard(n.latency_us), j_heard = heard(j.latency_us);
    if (n.cycles == 0 || j.cycles == 0) throw std::runtime_error("no cycles while measuring CPU");
    if (n_heard.empty() || j_heard.empty()) {
      throw std::runtime_error("the recorder heard no trigger of one backend");
    }
    std::printf(
        "PipeWire %s, dummy driver, quantum %u at %u Hz (%.2f ms), %d looping stereo voices, "
        "%d rounds each; cycles measured: native %llu, jack %llu (windows of %llu: %zu, %zu); "
        "triggers heard: native %zu, jack %zu (lost: %d, %d)\n",
        pw_get_library_version(), quantum, rate, 1e3 * quantum / rate, voices, rounds,
        static_cast<unsigned long long>(n.cycles), static_cast<unsigned long long>(j.cycles),
        static_cast<unsigned long long>(kWindowCycles), n.window_cpu_us.size(),
        j.window_cpu_us.size(), n_heard.size(), j_heard.size(), n.lost, j.lost);
    // CPU: each backend's median window, their ratio, and the median of the ratios of rounds
    // taken in turn (native round k against JACK round k, seconds apart), which drift in the
    // machine's load between rounds does not move, with its 95% interval.
    const auto paired_ratio = [](const std::vector<double>& a, const std::vector<double>& b) {
      std::vector<double> r;
      for (std::size_t k = 0; k < a.size() && k < b.size(); ++k)
        r.push_back(a[k] / b[k]);
      return median_ci(r);
    };
    std::printf("%-32s %10s %10s %12s  %s\n", "figure", "native", "jack", "native/jack",
                "paired median [95% interval]");
    const auto row = [](const char* what, double a, double b, const MedianCi& paired) {
      std::printf("%-32s %10.1f %10.1f %11.2fx", what, a, b, a / b);
      if (!std::isnan(paired.median)) std::printf("  %.2fx", paired.median);
      if (!std::isnan(paired.low)) std::printf(" [%.2fx, %.2fx]", paired.low, paired.high);
      std::printf("\n");
    };
    row("CPU per cycle, process (us)", median_ci(n.window_cpu_us).median,
        median_ci(j.window_cpu_us).median, paired_ratio(n.round_cpu_us, j.round_cpu_us));
    row("CPU per cycle, data thread (us)", median_ci(n.window_data_us).median,
        median_ci(j.window_data_us).median, paired_ratio(n.round_data_us, j.round_data_us));
    // Latency: the trigger pairs (the same phase of the same round's cycle for both) give the
    // median difference, in microseconds, with its 95% interval.
    std::vector<double> differences;
    for (std::size_t k = 0; k < n.latency_us.size() && k < j.latency_us.size(); ++k) {
      if (!std::isnan(n.latency_us[k]) && !std::isnan(j.latency_us[k])) {
        differences.push_back(n.latency_us[k] - j.latency_us[k]);
      }
    }
    const MedianCi difference = median_ci(differences);
    row("trigger latency p50 (us)", percentile(n_heard, 0.5), percentile(j_heard, 0.5), {});
    row("trigger latency p99 (us)", percentile(n_heard, 0.99), percentile(j_heard, 0.99), {});
    std::printf("trigger latency, native - jack, same phase (us): ");
    if (std::isnan(difference.median)) {
      std::printf("no phase heard on both\n");
    } else if (std::isnan(difference.low)) {
      std::printf("median %+.1f (too few pairs for an interval)\n", difference.median);
    } else {
      std::printf("median %+.1f [%+.1f, %+.1f]\n", difference.median, difference.low,
                  difference.high);
    }
    // Where the time went, thread by thread (--threads).
    if (threads) {
      for (const Backend& b : backends) {
        for (const auto& [name, ns] : b.threads) {
          std::printf("  %-6s %-24s %8.1f us/cycle\n", b.label.c_str(), name.c_str(),
                      static_cast<double>(ns) / 1e3 / static_cast<double>(b.cycles));
        }
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_backend: %s\n", e.what());
    return 1;
  }
  return 0;
}
