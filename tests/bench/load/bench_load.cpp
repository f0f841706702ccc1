// Clip loading throughput: megabytes per second of output PCM (float32 at 48 kHz) for a
// minute-long stereo WAV at 48 kHz (no resampling), FLAC at 44.1 kHz and Ogg Vorbis at 44.1 kHz
// (both resampled to 48 kHz), one load at a time and four at once, against
// `sox IN -t f32 -r 48000 OUT` of the same file in the same run.
//
//   bench_load            one-minute files, best of 3 runs
//   bench_load --quick    two-second files, one run (proves it works; figures mean little)
#include <sndfile.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "clips/decode.hpp"
#include "clips/loader.hpp"

extern char** environ;

namespace {

using clipd::clips::LoadResult;
using Clock = std::chrono::steady_clock;

constexpr std::uint32_t engine_rate = 48000;

struct Case {
  const char* name;
  const char* ext;
  int format;
  int rate;
};

// Music-like material: a few partials with a slow envelope plus a little noise, so the lossy
// codecs do real work.
bool write_source(const std::string& path, const Case& c, double seconds) {
  SF_INFO info{};
  info.samplerate = c.rate;
  info.channels = 2;
  info.format = c.format;
  SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
  if (file == nullptr) return false;
  const auto frames = static_cast<std::uint64_t>(seconds * c.rate);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> noise(-0.01f, 0.01f);
  std::vector<float> block(2 * 4096);
  for (std::uint64_t done = 0; done < frames;) {
    const std::uint64_t n = std::min<std::uint64_t>(4096, frames - done);
    for (std::uint64_t i = 0; i < n; ++i) {
      const double t = static_cast<double>(done + i) / c.rate;
      const double env = 0.5 + 0.4 * std::sin(2 * M_PI * 0.5 * t);
      for (int ch = 0; ch < 2; ++ch) {
        const double f = ch == 0 ? 220.0 : 330.0;
        const double v =
            env * (0.4 * std::sin(2 * M_PI * f * t) + 0.2 * std::sin(2 * M_PI * 2.01 * f * t) +
                   0.1 * std::sin(2 * M_PI * 3.99 * f * t));
        block[i * 2 + ch] = static_cast<float>(v) + noise(rng);
      }
    }
    sf_writef_float(file, block.data(), static_cast<sf_count_t>(n));
    done += n;
  }
  return sf_close(file) == 0;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// `count` clipd loads at once through a Loader with `count` workers; wall time in seconds.
double time_clipd(const std::string& path, int count, std::size_t& bytes_out) {
  std::mutex mutex;
  std::condition_variable done_cv;
  std::vector<std::function<void()>> posted;
  clipd::clips::MemoryBudget budget;
  int done = 0;
  bytes_out = 0;
  const auto start = Clock::now();
  {
    clipd::clips::Loader loader(
        [&](std::function<void()> f) {
          std::lock_guard lock(mutex);
          posted.push_back(std::move(f));
          done_cv.notify_one();
        },
        budget, {static_cast<unsigned>(count), {}});
    for (int i = 0; i < count; ++i) {
      loader.submit({path, engine_rate, 8}, [&](LoadResult r) {
        if (!r.ok()) {
          std::fprintf(stderr, "load failed: %s\n", r.error->message.c_str());
          std::exit(1);
        }
        const auto s = r.clip->samples();
        bytes_out += s.frames * s.channels * sizeof(float);
        ++done;
      });
    }
    while (done < count) {
      std::vector<std::function<void()>> batch;
      {
        std::unique_lock lock(mutex);
        done_cv.wait(lock, [&] { return !posted.empty(); });
        batch.swap(posted);
      }
      for (auto& f : batch)
        f();  // completes (and frees) on this "control" thread
    }
  }
  return seconds_since(start);
}

// `count` sox processes at once; wall time in seconds.
double time_sox(const std::string& path, int count) {
  const auto start = Clock::now();
  std::vector<pid_t> pids;
  for (int i = 0; i < count; ++i) {
    std::vector<std::string> args = {"sox", path, "-t", "f32", "-r", "48000", "/dev/null"};
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (::posix_spawnp(&pid, "sox", nullptr, nullptr, argv.data(), environ) != 0) {
      std::perror("posix_spawnp sox");
      std::exit(1);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "sox failed on %s\n", path.c_str());
      std::exit(1);
    }
  }
  return seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const double seconds = quick ? 2.0 : 60.0;
  const int runs = quick ? 1 : 3;

  std::string dir_template =
      (std::filesystem::temp_directory_path() / "clipd-bench-load-XXXXXX").string();
  if (::mkdtemp(dir_template.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::filesystem::path dir = dir_template;

  const Case cases[] = {
      {"WAV 16-bit 48k", "wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000},
      {"FLAC 16-bit 44.1k->48k", "flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100},
      {"Ogg Vorbis 44.1k->48k", "ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 44100},
  };

  std::printf(
      "clip loading, %.0f s stereo, output float32 at 48 kHz; MB/s of output PCM "
      "(best of %d, 4x = aggregate of four at once); %u hardware threads\n",
      seconds, runs, std::thread::hardware_concurrency());
  std::printf("%-24s %9s %9s %7s %10s %10s %7s %9s\n", "file", "clipd 1x", "sox 1x", "ratio",
              "clipd 4x", "sox 4x", "ratio", "4x/1x");
  int status = 0;
  for (const Case& c : cases) {
    const std::string path = (dir / (std::string("source.") + c.ext)).string();
    if (!write_source(path, c, seconds)) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      status = 1;
      continue;
    }
    std::size_t bytes = 0;
    double clipd1 = 1e9, sox1 = 1e9, clipd4 = 1e9, sox4 = 1e9;
    for (int r = 0; r < runs; ++r) {
      clipd1 = std::min(clipd1, time_clipd(path, 1, bytes));
      sox1 = std::min(sox1, time_sox(path, 1));
      std::size_t bytes4 = 0;
      clipd4 = std::min(clipd4, time_clipd(path, 4, bytes4));
      sox4 = std::min(sox4, time_sox(path, 4));
    }
    const double mb = static_cast<double>(bytes) / 1e6;
    std::printf("%-24s %9.0f %9.0f %7.2f %10.0f %10.0f %7.2f %9.2f\n", c.name, mb / clipd1,
                mb / sox1, sox1 / clipd1, 4 * mb / clipd4, 4 * mb / sox4, sox4 / clipd4,
                clipd1 * 4 / clipd4);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return status;
}
