// clipd-latency-sink: a JACK client whose input port reports a fixed playback latency, so that a
// test can check what a client upstream of it is told.
//
// Usage: clipd-latency-sink [-s SERVER] [-n NAME] FRAMES
// Registers NAME:in (default name "latency-sink"), activates, reports FRAMES as the playback
// latency of `in` (from its latency callback, whenever the server asks), prints "ready" and runs
// until SIGINT/SIGTERM. Exit status: 0 stopped by a signal; 2 usage; 3 JACK error.
#include <jack/jack.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "jack_tool.hpp"

namespace {

struct Sink {
  jack_port_t* in = nullptr;
  jack_nframes_t frames = 0;
};

int process(jack_nframes_t, void*) {
  return 0;
}

// JACK's latency callback: the playback latency of `in` is ours alone (nothing follows it).
void latency(jack_latency_callback_mode_t mode, void* arg) {
  auto* sink = static_cast<Sink*>(arg);
  if (mode != JackPlaybackLatency) return;
  jack_latency_range_t range{sink->frames, sink->frames};
  jack_port_set_latency_range(sink->in, JackPlaybackLatency, &range);
}

}  // namespace

int main(int argc, char** argv) {
  std::string server;
  std::string name = "latency-sink";
  std::uint64_t frames = 0;
  bool have_frames = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "-s" || a == "--server") && i + 1 < argc) {
      server = argv[++i];
    } else if ((a == "-n" || a == "--name") && i + 1 < argc) {
      name = argv[++i];
    } else if (!a.empty() && a[0] != '-' && !have_frames) {
      frames = clipd::test::parse_u64(argv[i], "frames");
      have_frames = true;
    } else {
      std::fputs("usage: clipd-latency-sink [-s SERVER] [-n NAME] FRAMES\n", stderr);
      return 2;
    }
  }
  if (!have_frames || frames > 1u << 20) {
    std::fputs("usage: clipd-latency-sink [-s SERVER] [-n NAME] FRAMES\n", stderr);
    return 2;
  }
  clipd::test::install_stop_signals();
  jack_client_t* client = clipd::test::open_tool_client(name, server);
  if (client == nullptr) return 3;
  Sink sink;
  sink.frames = static_cast<jack_nframes_t>(frames);
  sink.in = jack_port_register(client, "in", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
  if (sink.in == nullptr) {
    std::fputs("clipd-latency-sink: cannot register in\n", stderr);
    jack_client_close(client);
    return 3;
  }
  jack_set_process_callback(client, process, nullptr);
  jack_set_latency_callback(client, latency, &sink);
  if (jack_activate(client) != 0) {
    std::fputs("clipd-latency-sink: cannot activate\n", stderr);
    jack_client_close(client);
    return 3;
  }
  latency(JackPlaybackLatency, &sink);
  jack_recompute_total_latencies(client);
  std::puts("ready");
  std::fflush(stdout);
  while (clipd::test::g_stop_requested == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  jack_client_close(client);
  return 0;
}
