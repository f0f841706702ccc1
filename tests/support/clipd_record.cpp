// clipd-record: an independent JACK client that records ports sample by sample, with the server's
// frame time of every period, for integration tests.
//
// Usage: clipd-record -o PREFIX [options] PORT...
//   -o, --output PREFIX   write PREFIX.f32 and PREFIX.periods (see recording.hpp for the format)
//   -s, --server NAME     server name (default: $JACK_DEFAULT_SERVER, else the library's default)
//   -n, --name NAME       client name (default clipd-record)
//   -f, --frames N        stop after N frames (default: at SIGINT/SIGTERM, or when full)
//   --max-frames N        capacity when --frames is not given (default 2880000, 60 s at 48 kHz)
//   --start-frame F       the first recorded frame is F (default: the first period that starts
//                         after the connections are made)
//   --wait-ports SECONDS  wait up to SECONDS for the ports to exist (default 0)
//   --timeout SECONDS     exit 3 when not done after SECONDS (default 30)
//   --ready-file PATH     created once the ports are connected and the recording is armed
// Exit status: 0 done; 2 usage; 3 JACK error, time-out, interrupted before N frames, or the
// server went away; 4 periods not contiguous (the files are written anyway); 5 the start frame
// had already passed; 6 ports missing.
//
// Threads: main (setup, waiting, writing files) and JACK's process thread, which only copies into
// memory allocated and touched before activation and publishes progress through atomics.
#include <jack/jack.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "jack_tool.hpp"

namespace {

using clipd::test::FrameExtender;

struct Period {
  std::uint64_t frame;
  std::uint32_t nframes;
};

struct Recorder {
  jack_client_t* client = nullptr;
  std::vector<jack_port_t*> ports;
  std::uint32_t channels = 0;
  std::vector<float> samples;  // interleaved, capacity frames
  std::uint64_t capacity = 0;
  std::vector<Period> periods;  // preallocated
  std::uint64_t start_frame = 0;
  bool has_start_frame = false;

  FrameExtender extender;
  std::atomic<bool> armed{false};
  std::atomic<bool> done{false};
  std::atomic<bool> start_missed{false};
  std::atomic<bool> shutdown{false};
  std::atomic<std::uint64_t> recorded{0};
  std::atomic<std::uint64_t> first_frame{0};
  std::atomic<std::size_t> period_count{0};
  bool started = false;  // audio thread only
};

int process(jack_nframes_t nframes, void* arg) {
  auto* r = static_cast<Recorder*>(arg);
  if (r->done.load(std::memory_order_relaxed)) return 0;
  const std::uint64_t frame = r->extender.extend(jack_last_frame_time(r->client));

  if (!r->started) {
    if (!r->armed.load(std::memory_order_acquire)) return 0;
    if (!r->has_start_frame) {
      r->start_frame = frame;
      r->has_start_frame = true;
    }
    if (r->start_frame >= frame + nframes) return 0;  // not yet
    if (r->start_frame < frame) {
      r->start_missed.store(true, std::memory_order_relaxed);
      r->done.store(true, std::memory_order_release);
      return 0;
    }
    r->started = true;
    r->first_frame.store(r->start_frame, std::memory_order_relaxed);
  }

  // The periods that hold recorded samples (what happened before the start does not matter).
  const std::size_t pc = r->period_count.load(std::memory_order_relaxed);
  if (pc == r->periods.size()) {
    r->done.store(true, std::memory_order_release);
    return 0;
  }
  r->periods[pc] = {frame, nframes};
  r->period_count.store(pc + 1, std::memory_order_release);

  const std::uint64_t done_frames = r->recorded.load(std::memory_order_relaxed);
  const std::uint64_t offset = r->start_frame > frame ? r->start_frame - frame : 0;
  std::uint64_t n = nframes - offset;
  if (n > r->capacity - done_frames) n = r->capacity - done_frames;
  float* dst = r->samples.data() + done_frames * r->channels;
  for (std::uint32_t c = 0; c < r->channels; ++c) {
    const auto* src = static_cast<const float*>(jack_port_get_buffer(r->ports[c], nframes));
    for (std::uint64_t i = 0; i < n; ++i)
      dst[i * r->channels + c] = src[offset + i];
  }
  r->recorded.store(done_frames + n, std::memory_order_release);
  if (done_frames + n == r->capacity) r->done.store(true, std::memory_order_release);
  return 0;
}

void on_shutdown(jack_status_t, const char*, void* arg) {
  auto* r = static_cast<Recorder*>(arg);
  r->shutdown.store(true, std::memory_order_release);
}

// pipewire-jack 0.3.65 calls only this one when the server's connection breaks.
void on_plain_shutdown(void* arg) {
  on_shutdown(JackFailure, nullptr, arg);
}

void usage() {
  std::fputs(
      "usage: clipd-record -o PREFIX [-s SERVER] [-n NAME] [-f FRAMES] [--max-frames N]\n"
      "       [--start-frame F] [--wait-ports S] [--timeout S] [--ready-file PATH] PORT...\n",
      stderr);
}

}  // namespace

int main(int argc, char** argv) {
  using clipd::test::parse_seconds;
  using clipd::test::parse_u64;
  std::string prefix, server, name = "clipd-record", ready_file;
  std::uint64_t frames = 0, max_frames = 2880000;
  bool has_frames = false;
  Recorder r;
  double wait_ports = 0, timeout = 30;
  std::vector<const char*> sources;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* what) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "clipd-record: %s needs a value\n", what);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "-o" || a == "--output") {
      prefix = value("--output");
    } else if (a == "-s" || a == "--server") {
      server = value("--server");
    } else if (a == "-n" || a == "--name") {
      name = value("--name");
    } else if (a == "-f" || a == "--frames") {
      frames = parse_u64(value("--frames"), "frame count");
      has_frames = true;
    } else if (a == "--max-frames") {
      max_frames = parse_u64(value("--max-frames"), "frame count");
    } else if (a == "--start-frame") {
      r.start_frame = parse_u64(value("--start-frame"), "start frame");
      r.has_start_frame = true;
    } else if (a == "--wait-ports") {
      wait_ports = parse_seconds(value("--wait-ports"), "seconds");
    } else if (a == "--timeout") {
      timeout = parse_seconds(value("--timeout"), "seconds");
    } else if (a == "--ready-file") {
      ready_file = value("--ready-file");
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      usage();
      return 2;
    } else {
      sources.push_back(argv[i]);
    }
  }
  if (prefix.empty() || sources.empty() || (has_frames && frames == 0)) {
    usage();
    return 2;
  }
  clipd::test::install_stop_signals();

  r.channels = static_cast<std::uint32_t>(sources.size());
  r.capacity = has_frames ? frames : max_frames;
  // Allocated and zeroed (so touched) before the audio thread can see it.
  r.samples.assign(r.capacity * r.channels, 0.0f);
  r.periods.assign(r.capacity / 16 + 1024, Period{0, 0});

  r.client = clipd::test::open_tool_client(name, server);
  if (r.client == nullptr) return 3;
  for (std::uint32_t c = 0; c < r.channels; ++c) {
    const std::string port = "in_" + std::to_string(c + 1);
    jack_port_t* p =
        jack_port_register(r.client, port.c_str(), JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
    if (p == nullptr) {
      std::fprintf(stderr, "clipd-record: cannot register %s\n", port.c_str());
      jack_client_close(r.client);
      return 3;
    }
    r.ports.push_back(p);
  }
  jack_set_process_callback(r.client, process, &r);
  jack_on_shutdown(r.client, on_plain_shutdown, &r);
  jack_on_info_shutdown(r.client, on_shutdown, &r);
  if (jack_activate(r.client) != 0) {
    std::fprintf(stderr, "clipd-record: cannot activate\n");
    jack_client_close(r.client);
    return 3;
  }
  const std::uint32_t rate = jack_get_sample_rate(r.client);

  const std::string missing = clipd::test::wait_for_ports(
      r.client, sources.data(), static_cast<int>(sources.size()), wait_ports);
  if (!missing.empty()) {
    std::fprintf(stderr, "clipd-record: no port %s\n", missing.c_str());
    jack_client_close(r.client);
    return 6;
  }
  for (std::uint32_t c = 0; c < r.channels; ++c) {
    const int rc = jack_connect(r.client, sources[c], jack_port_name(r.ports[c]));
    if (rc != 0 && rc != EEXIST) {
      std::fprintf(stderr, "clipd-record: cannot connect %s\n", sources[c]);
      jack_client_close(r.client);
      return 3;
    }
  }
  r.armed.store(true, std::memory_order_release);
  if (!ready_file.empty()) {
    if (FILE* f = std::fopen(ready_file.c_str(), "w")) std::fclose(f);
  }

  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
  while (!r.done.load(std::memory_order_acquire)) {
    if (r.shutdown.load(std::memory_order_acquire)) {
      std::fprintf(stderr, "clipd-record: the server went away\n");
      status = 3;
      break;
    }
    if (clipd::test::g_stop_requested != 0) {
      if (has_frames) {
        std::fprintf(stderr, "clipd-record: interrupted before %" PRIu64 " frames\n", frames);
        status = 3;
      }
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::fprintf(stderr, "clipd-record: timed out\n");
      status = 3;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Closing stops the process thread; its data is then ours to read.
  if (!r.shutdown.load(std::memory_order_acquire)) jack_deactivate(r.client);
  jack_client_close(r.client);

  if (r.start_missed.load()) {
    std::fprintf(stderr, "clipd-record: start frame %" PRIu64 " had already passed\n",
                 r.start_frame);
    return 5;
  }
  const std::uint64_t recorded = r.recorded.load(std::memory_order_acquire);
  const std::size_t pc = r.period_count.load(std::memory_order_acquire);

  // Contiguity: every period starts where the previous one ended.
  std::size_t gaps = 0;
  for (std::size_t i = 1; i < pc; ++i) {
    const Period& a = r.periods[i - 1];
    const Period& b = r.periods[i];
    if (b.frame != a.frame + a.nframes) {
      if (gaps == 0) {
        std::fprintf(stderr,
                     "clipd-record: periods not contiguous: frame %" PRIu64 " + %" PRIu32
                     " then frame %" PRIu64 "\n",
                     a.frame, a.nframes, b.frame);
      }
      ++gaps;
    }
  }

  const std::string raw_path = prefix + ".f32";
  const std::string periods_path = prefix + ".periods";
  FILE* raw = std::fopen(raw_path.c_str(), "wb");
  FILE* per = std::fopen(periods_path.c_str(), "w");
  if (raw == nullptr || per == nullptr) {
    std::fprintf(stderr, "clipd-record: cannot write %s\n", prefix.c_str());
    return 3;
  }
  std::fwrite(r.samples.data(), sizeof(float), recorded * r.channels, raw);
  std::fclose(raw);
  std::fprintf(per,
               "clipd-record 1\nrate %" PRIu32 "\nchannels %" PRIu32 "\nfirst_frame %" PRIu64
               "\nframes %" PRIu64 "\ngaps %zu\n",
               rate, r.channels, r.first_frame.load(), recorded, gaps);
  for (std::size_t i = 0; i < pc; ++i) {
    std::fprintf(per, "period %" PRIu64 " %" PRIu32 "\n", r.periods[i].frame, r.periods[i].nframes);
  }
  std::fclose(per);
  std::printf("clipd-record: %" PRIu64 " frames from frame %" PRIu64 ", %zu periods, rate %" PRIu32
              "\n",
              recorded, r.first_frame.load(), pc, rate);
  if (gaps != 0) return 4;
  if (status == 0 && has_frames && recorded < frames) status = 3;
  return status;
}
