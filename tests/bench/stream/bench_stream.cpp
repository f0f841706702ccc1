// Streaming from disk, on a private jackd (48 kHz, 256-frame periods) with the plain clipd:
//
// - voices: the most streamed voices of a 44.1 kHz FLAC (so every one is decoded and resampled
//   to 48 kHz) that play for a while at random offsets with zero underruns: 16, 32, 48, ...
//   voices in turn, each step `hold` seconds, until a step underruns or the top is reached;
// - first sound: from the request to the first sample at the outputs, for clipd (a streamed
//   `load` and then a `play` of the file) and for mpv (`loadfile` of the same file through its
//   JSON IPC, mpv already running idle and playing into the same JACK server), both recorded by
//   clipd-record and timed in server frames from the frame of the request;
// - load to ready: clipd's streamed `load` and its whole `load` (stream false), against `sox`
//   converting the whole file to 48 kHz float;
// - soak: 32 looping voices at random offsets for ten minutes while another process writes a
//   large file and reads it back: the underruns counted.
//
// bench_stream [--quick] [--soak-only]: --quick holds each step 3 s instead of 20, stops at 32
// voices and soaks 5 s; --soak-only skips the voice ramp and mpv. Prints
// one table. Always exits 0 unless something it needs fails to start: a measurement.
#include <sndfile.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "recording.hpp"

namespace clipd::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kFileRate = 44100;
constexpr std::uint32_t kRate = 48000;

float music(std::uint64_t i, std::uint32_t c) {
  const double t = static_cast<double>(i) / kFileRate;
  std::uint32_t x = static_cast<std::uint32_t>(i * 2654435761u + c * 40503u);
  x ^= x >> 13;
  x *= 0x5bd1e995u;
  x ^= x >> 15;
  const double noise = static_cast<double>(x % 2001) / 1000.0 - 1.0;
  return static_cast<float>(0.4 * std::sin(2 * M_PI * (220.0 + 110.0 * c + t * 0.5) * t) +
                            0.2 * std::sin(2 * M_PI * 3001.0 * t + c) + 0.05 * noise);
}

bool write_flac(const std::string& path, std::uint64_t frames) {
  SF_INFO info{};
  info.samplerate = kFileRate;
  info.channels = 2;
  info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
  SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
  if (file == nullptr) return false;
  std::vector<float> block(2 * 65536);
  for (std::uint64_t done = 0; done < frames;) {
    const std::uint64_t n = std::min<std::uint64_t>(65536, frames - done);
    for (std::uint64_t i = 0; i < n; ++i) {
      block[2 * i] = music(done + i, 0);
      block[2 * i + 1] = music(done + i, 1);
    }
    sf_writef_float(file, block.data(), static_cast<sf_count_t>(n));
    done += n;
  }
  return sf_close(file) == 0;
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// First frame (server frame) at which the recording is not silent.
std::optional<std::uint64_t> first_sound_frame(const Recording& r) {
  for (std::uint64_t i = 0; i < r.frames; ++i) {
    for (std::uint32_t c = 0; c < r.channels; ++c) {
      if (r.at(i, c) != 0.0f) return r.first_frame + i;
    }
  }
  return std::nullopt;
}

// A JSON IPC connection to mpv.
int connect_unix(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int bench(bool quick, bool soak_only) {
  TempDir home("clipd-bench-stream");
  const std::string song = home.file("song.flac");
  const std::uint64_t file_frames = 600ull * kFileRate;  // ten minutes
  if (!write_flac(song, file_frames)) {
    std::fprintf(stderr, "cannot write %s\n", song.c_str());
    return 1;
  }
  const std::string config = home.file("clipd.json");
  std::ofstream(config) << R"({"max_streamed_voices": 256, "stream_threads": 2})";
  JackdServer::Options jo;
  jo.rate = kRate;
  jo.period = 256;
  JackdServer jackd(jo);
  Clipd clipd(jackd, home, Clipd::Options{false, {"--config", config}});
  clipd.start();
  Client c(clipd.socket_path());
  c.ok({{"cmd", "subscribe"}, {"events", {"underrun", "voice-started"}}});

  // Load to ready.
  auto t0 = Clock::now();
  c.ok({{"cmd", "load"}, {"name", "song"}, {"path", song}, {"stream", true}});
  const double load_streamed_ms = ms_since(t0);
  t0 = Clock::now();
  c.ok({{"cmd", "load"}, {"name", "whole"}, {"path", song}, {"stream", false}});
  const double load_whole_ms = ms_since(t0);
  c.ok({{"cmd", "unload"}, {"name", "whole"}});
  t0 = Clock::now();
  const RunResult sox =
      clipd::test::run({"sox", song, "-t", "f32", "-r", "48000", "/dev/null"}, {}, 300s);
  const double sox_ms = ms_since(t0);

  // Time to first sound, clipd: a streamed load of the file, then a play, as one client would.
  double clipd_first_ms = -1;
  {
    const std::string prefix = home.file("rec-clipd");
    auto rec = start_recorder(jackd, prefix, 3 * kRate);
    const auto frame = c.ok({{"cmd", "hello"}})["frame"].get<std::uint64_t>();
    c.ok({{"cmd", "load"}, {"name", "cold"}, {"path", song}, {"stream", true}});
    c.ok({{"cmd", "play"}, {"clip", "cold"}, {"offset_s", 0.0}});
    rec->wait_for(20s);
    const Recording r = read_recording(prefix);
    if (auto f = first_sound_frame(r)) clipd_first_ms = (*f - frame) * 1000.0 / kRate;
    c.ok({{"cmd", "stop"}, {"all", true}});
    c.ok({{"cmd", "unload"}, {"name", "cold"}});
  }

  // Soak: 32 looping voices at random offsets for ten minutes while another process writes a
  // large file and reads it back, again and again.
  const double soak_s = quick ? 5.0 : 600.0;
  std::uint64_t soak_underruns = 0;
  {
    const std::string big = home.file("big");
    Process io({"sh", "-c",
                "while :; do dd if=/dev/zero of='" + big +
                    "' bs=1M count=512 conv=fsync 2>/dev/null; dd if='" + big +
                    "' of=/dev/null bs=1M 2>/dev/null; done"});
    const auto before = c.ok({{"cmd", "status"}})["underruns"].get<std::uint64_t>();
    std::uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int v = 0; v < 32; ++v) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      c.ok({{"cmd", "play"},
            {"clip", "song"},
            {"offset_s", static_cast<double>(x % 590000) / 1000.0},
            {"loop", true},
            {"gain_db", -40.0},
            {"in_s", 0.5}});
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(soak_s + 0.5));
    soak_underruns = c.ok({{"cmd", "status"}})["underruns"].get<std::uint64_t>() - before;
    c.ok({{"cmd", "stop"}, {"all", true}, {"fade_s", 0.0}});
    io.stop();
    std::printf("  32 voices for %.0f s under disk load: %llu underruns\n", soak_s,
                static_cast<unsigned long long>(soak_underruns));
    std::this_thread::sleep_for(1s);
  }

  double mpv_first_ms = -1;
  // The most voices with zero underruns.
  const double hold = quick ? 3.0 : 20.0;
  const std::uint32_t top = quick ? 32 : 256;
  std::uint32_t sustained = 0;
  std::uint32_t failed_at = 0;
  std::uint64_t seed = 88172645463325252ull;
  for (std::uint32_t voices = 16; voices <= top && !soak_only; voices += 16) {
    const auto before = c.ok({{"cmd", "status"}})["underruns"].get<std::uint64_t>();
    for (std::uint32_t v = 0; v < voices; ++v) {
      seed ^= seed << 13;
      seed ^= seed >> 7;
      seed ^= seed << 17;
      c.ok({{"cmd", "play"},
            {"clip", "song"},
            {"offset_s", static_cast<double>(seed % 560000) / 1000.0},
            {"gain_db", -40.0},
            {"in_s", 0.5}});
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(hold + 0.5));
    const json status = c.ok({{"cmd", "status"}});
    const auto under = status["underruns"].get<std::uint64_t>() - before;
    c.ok({{"cmd", "stop"}, {"all", true}, {"fade_s", 0.0}});
    std::printf("  %3u voices for %.0f s: %llu underruns, %u live\n", voices, hold,
                static_cast<unsigned long long>(under), status["voices"].get<std::uint32_t>());
    std::fflush(stdout);
    if (under != 0) {
      failed_at = voices;
      break;
    }
    sustained = voices;
    std::this_thread::sleep_for(1s);  // every ring idle again
  }
  // Time to first sound, mpv: idle, its outputs going to the recorder's inputs.
  if (!soak_only) {
    const std::string prefix = home.file("rec-mpv");
    auto rec = start_recorder(jackd, prefix, 4 * kRate, {"clipd:out_1", "clipd:out_2"});
    const std::string ipc = home.file("mpv.sock");
    auto mpv = jackd.spawn(
        {"mpv", "--no-config", "--idle=yes", "--no-video", "--no-terminal", "--ao=jack",
         "--jack-name=mpv", "--jack-port=clipd-record:in_", "--input-ipc-server=" + ipc},
        home.file("mpv.log"));
    int fd = -1;
    for (int i = 0; i < 500 && fd < 0; ++i) {
      fd = connect_unix(ipc);
      if (fd < 0) std::this_thread::sleep_for(10ms);  // mpv creates its socket once it runs
    }
    if (fd >= 0) {
      const auto frame = c.ok({{"cmd", "hello"}})["frame"].get<std::uint64_t>();
      const std::string line = R"({"command": ["loadfile", ")" + song + "\"]}\n";
      [[maybe_unused]] const auto sent = ::write(fd, line.data(), line.size());
      rec->wait_for(20s);
      const Recording r = read_recording(prefix);
      if (auto f = first_sound_frame(r)) mpv_first_ms = (*f - frame) * 1000.0 / kRate;
      // jackd in sync mode wedges when a client is killed: mpv quits on its own.
      const std::string quit = "{\"command\": [\"quit\"]}\n";
      [[maybe_unused]] const auto q = ::write(fd, quit.data(), quit.size());
      mpv->wait_for(10s);
      ::close(fd);
    } else {
      std::fprintf(stderr, "mpv did not start: %s\n", mpv->output().c_str());
    }
    mpv->stop();
  }

  clipd.stop();

  std::printf(
      "\nclipd streaming: 10 min stereo FLAC 16-bit 44.1 kHz, jackd 48 kHz / 256 frames, "
      "2 disk threads, %s\n",
      quick ? "quick" : "20 s per step");
  std::printf("%-44s %12s %12s %8s\n", "figure", "clipd", "peer", "ratio");
  std::printf("%-44s %12u %12s %8s\n", "streamed voices, zero underruns (44.1k->48k)", sustained,
              failed_at ? ("fails at " + std::to_string(failed_at)).c_str() : "-", "-");
  std::printf("%-44s %12llu %12s %8s\n", "underruns, 32 voices 10 min under disk load",
              static_cast<unsigned long long>(soak_underruns), "-", "-");
  std::printf("%-44s %12.1f %12.1f %8.2f\n", "first sound ms (clipd load+play | mpv)",
              clipd_first_ms, mpv_first_ms, mpv_first_ms > 0 ? clipd_first_ms / mpv_first_ms : 0.0);
  std::printf("%-44s %12.1f %12.1f %8.4f\n", "load to ready ms (stream | sox whole file)",
              load_streamed_ms, sox_ms, load_streamed_ms / sox_ms);
  std::printf("%-44s %12.1f %12.1f %8.2f\n", "load to ready ms (whole | sox whole file)",
              load_whole_ms, sox_ms, load_whole_ms / sox_ms);
  if (sox.status != 0) std::printf("(sox failed: %s)\n", sox.output.c_str());
  return 0;
}

}  // namespace
}  // namespace clipd::test

int main(int argc, char** argv) {
  bool quick = false, soak_only = false;
  for (int i = 1; i < argc; ++i) {
    quick = quick || std::strcmp(argv[i], "--quick") == 0;
    soak_only = soak_only || std::strcmp(argv[i], "--soak-only") == 0;
  }
  return clipd::test::bench(quick, soak_only);
}
