// clipd-pw-record: records PipeWire output ports with a native client (a pw_filter, no
// pipewire-jack), sample by sample, with each cycle's position.
//
// Usage: clipd-pw-record -o PREFIX [-n NAME] [--max-frames N] [--timeout S] NODE:PORT...
// Makes a node NAME (default "clipd-pw-record") with inputs in_1..in_C, links NODE:PORT (node.name
// and port.name, as pw-link names them) to them through the link factory, prints "recording"
// once the first cycle with every input linked is stored, and records until SIGINT/SIGTERM or N
// frames (default 4,800,000). Writes PREFIX.f32 and PREFIX.periods in clipd-record's format
// (recording.hpp): first_frame is the position of the first recorded cycle, a period line per
// cycle (position, duration), gaps counts cycles that did not start where the previous ended.
// Exit status: 0 done; 2 usage; 3 PipeWire error, time-out or stopped before anything was
// recorded; 4 gaps (the files are written anyway).
#include <pipewire/filter.h>
#include <pipewire/pipewire.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

struct Period {
  std::uint64_t frame = 0;
  std::uint32_t nframes = 0;
};

struct Recorder {
  std::vector<void*> ports;
  std::uint32_t channels = 0;
  std::uint64_t max_frames = 0;
  std::uint32_t rate = 0;
  // Data thread writes, main thread reads once `recorded` (release) says so.
  std::vector<float> samples;
  std::vector<Period> periods;
  std::atomic<std::uint64_t> recorded{0};
  std::atomic<std::size_t> period_count{0};
  std::atomic<bool> full{false};
  std::atomic<std::uint32_t> node_id{SPA_ID_INVALID};
  std::atomic<bool> failed{false};
};

// Data thread: copies one cycle of every input, interleaved, once all of them have buffers.
void on_process(void* data, spa_io_position* position) {
  auto* r = static_cast<Recorder*>(data);
  if (position == nullptr || r->full.load(std::memory_order_relaxed)) return;
  const auto n = static_cast<std::uint32_t>(position->clock.duration);
  const float* in[64];
  for (std::uint32_t c = 0; c < r->channels; ++c) {
    in[c] = static_cast<const float*>(pw_filter_get_dsp_buffer(r->ports[c], n));
    if (in[c] == nullptr) return;  // not linked (yet)
  }
  const std::uint64_t at = r->recorded.load(std::memory_order_relaxed);
  const std::size_t pc = r->period_count.load(std::memory_order_relaxed);
  if (at + n > r->max_frames || pc == r->periods.size()) {
    r->full.store(true, std::memory_order_relaxed);
    return;
  }
  for (std::uint32_t i = 0; i < n; ++i) {
    for (std::uint32_t c = 0; c < r->channels; ++c)
      r->samples[(at + i) * r->channels + c] = in[c][i];
  }
  r->periods[pc] = {position->clock.position, n};
  r->rate = position->clock.rate.denom;
  r->period_count.store(pc + 1, std::memory_order_release);
  r->recorded.store(at + n, std::memory_order_release);
}

void on_state(void* data, pw_filter_state, pw_filter_state state, const char*) {
  auto* r = static_cast<Recorder*>(data);
  if (state == PW_FILTER_STATE_ERROR || state == PW_FILTER_STATE_UNCONNECTED) {
    r->failed.store(true);
  }
}

int usage() {
  std::fputs(
      "usage: clipd-pw-record -o PREFIX [-n NAME] [--max-frames N] [--timeout S] NODE:PORT...\n",
      stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string prefix;
  std::string name = "clipd-pw-record";
  std::uint64_t max_frames = 4800000;
  double timeout = 60;
  std::vector<std::string> sources;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-o" && i + 1 < argc) {
      prefix = argv[++i];
    } else if (a == "-n" && i + 1 < argc) {
      name = argv[++i];
    } else if (a == "--max-frames" && i + 1 < argc) {
      max_frames = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--timeout" && i + 1 < argc) {
      timeout = std::atof(argv[++i]);
    } else if (!a.empty() && a[0] != '-' && a.find(':') != std::string::npos) {
      sources.push_back(a);
    } else {
      return usage();
    }
  }
  if (prefix.empty() || sources.empty() || sources.size() > 64 || max_frames == 0) return usage();
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  Recorder r;
  r.channels = static_cast<std::uint32_t>(sources.size());
  r.max_frames = max_frames;
  r.samples.assign(max_frames * r.channels, 0.0f);
  r.periods.resize(max_frames / 16 + 1);

  pw_init(&argc, &argv);
  pw_thread_loop* loop = pw_thread_loop_new("clipd-pw-record", nullptr);
  // client-rt.conf: real-time priority for the data thread where the limits allow.
  pw_context* context =
      pw_context_new(pw_thread_loop_get_loop(loop),
                     pw_properties_new(PW_KEY_CONFIG_NAME, "client-rt.conf", nullptr), 0);
  pw_thread_loop_start(loop);
  pw_thread_loop_lock(loop);
  pw_core* core = pw_context_connect(context, nullptr, 0);
  if (core == nullptr) {
    pw_thread_loop_unlock(loop);
    std::fprintf(stderr, "clipd-pw-record: cannot connect to PipeWire: %s\n", std::strerror(errno));
    return 3;
  }
  static pw_filter_events events{};
  events.version = PW_VERSION_FILTER_EVENTS;
  events.process = &on_process;
  events.state_changed = &on_state;
  pw_filter* filter =
      pw_filter_new(core, name.c_str(),
                    pw_properties_new(PW_KEY_NODE_NAME, name.c_str(), PW_KEY_MEDIA_TYPE, "Audio",
                                      PW_KEY_MEDIA_CATEGORY, "Capture", PW_KEY_MEDIA_ROLE, "DSP",
                                      PW_KEY_NODE_AUTOCONNECT, "false", nullptr));
  spa_hook listener{};
  pw_filter_add_listener(filter, &listener, &events, &r);
  for (std::uint32_t c = 0; c < r.channels; ++c) {
    const std::string port = "in_" + std::to_string(c + 1);
    r.ports.push_back(
        pw_filter_add_port(filter, PW_DIRECTION_INPUT, PW_FILTER_PORT_FLAG_MAP_BUFFERS, 0,
                           pw_properties_new(PW_KEY_FORMAT_DSP, "32 bit float mono audio",
                                             PW_KEY_PORT_NAME, port.c_str(), nullptr),
                           nullptr, 0));
  }
  pw_filter_connect(filter, PW_FILTER_FLAG_RT_PROCESS, nullptr, 0);
  pw_thread_loop_unlock(loop);

  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
  // Bound: link each source to its input, by node and port name.
  std::vector<pw_proxy*> links;
  while (g_stop == 0 && std::chrono::steady_clock::now() < deadline) {
    pw_thread_loop_lock(loop);
    const std::uint32_t id = pw_filter_get_node_id(filter);
    if (id != SPA_ID_INVALID) {
      for (std::uint32_t c = 0; c < r.channels; ++c) {
        const std::string& s = sources[c];
        const std::size_t colon = s.rfind(':');
        const std::string node = s.substr(0, colon);
        const std::string port = s.substr(colon + 1);
        const std::string own = std::to_string(id);
        const std::string in = "in_" + std::to_string(c + 1);
        pw_properties* props = pw_properties_new(
            PW_KEY_LINK_OUTPUT_NODE, node.c_str(), PW_KEY_LINK_OUTPUT_PORT, port.c_str(),
            PW_KEY_LINK_INPUT_NODE, own.c_str(), PW_KEY_LINK_INPUT_PORT, in.c_str(), nullptr);
        links.push_back(static_cast<pw_proxy*>(pw_core_create_object(
            core, "link-factory", PW_TYPE_INTERFACE_Link, PW_VERSION_LINK, &props->dict, 0)));
        pw_properties_free(props);
      }
    }
    pw_thread_loop_unlock(loop);
    if (!links.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  bool announced = false;
  while (g_stop == 0 && !r.full.load()) {
    if (!announced && r.recorded.load(std::memory_order_acquire) != 0) {
      std::puts("recording");
      std::fflush(stdout);
      announced = true;
    }
    if (r.failed.load() || (!announced && std::chrono::steady_clock::now() >= deadline)) {
      std::fputs("clipd-pw-record: PipeWire error or time-out\n", stderr);
      status = 3;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  pw_thread_loop_lock(loop);
  for (pw_proxy* link : links)
    pw_proxy_destroy(link);
  spa_hook_remove(&listener);
  pw_filter_destroy(filter);
  pw_core_disconnect(core);
  pw_thread_loop_unlock(loop);
  pw_thread_loop_stop(loop);
  pw_context_destroy(context);
  pw_thread_loop_destroy(loop);

  const std::uint64_t recorded = r.recorded.load(std::memory_order_acquire);
  const std::size_t pc = r.period_count.load(std::memory_order_acquire);
  if (recorded == 0) {
    std::fputs("clipd-pw-record: nothing recorded\n", stderr);
    return 3;
  }
  std::size_t gaps = 0;
  for (std::size_t i = 1; i < pc; ++i) {
    const Period& a = r.periods[i - 1];
    const Period& b = r.periods[i];
    if (b.frame != a.frame + a.nframes) {
      if (gaps++ == 0) {
        std::fprintf(stderr,
                     "clipd-pw-record: periods not contiguous: frame %" PRIu64 " + %" PRIu32
                     " then frame %" PRIu64 "\n",
                     a.frame, a.nframes, b.frame);
      }
    }
  }
  FILE* raw = std::fopen((prefix + ".f32").c_str(), "wb");
  FILE* per = std::fopen((prefix + ".periods").c_str(), "w");
  if (raw == nullptr || per == nullptr) {
    std::fprintf(stderr, "clipd-pw-record: cannot write %s\n", prefix.c_str());
    return 3;
  }
  std::fwrite(r.samples.data(), sizeof(float), recorded * r.channels, raw);
  std::fclose(raw);
  std::fprintf(per,
               "clipd-record 1\nrate %" PRIu32 "\nchannels %" PRIu32 "\nfirst_frame %" PRIu64
               "\nframes %" PRIu64 "\ngaps %zu\n",
               r.rate, r.channels, r.periods[0].frame, recorded, gaps);
  for (std::size_t i = 0; i < pc; ++i)
    std::fprintf(per, "period %" PRIu64 " %" PRIu32 "\n", r.periods[i].frame, r.periods[i].nframes);
  std::fclose(per);
  std::printf("clipd-pw-record: %" PRIu64 " frames from frame %" PRIu64 ", %zu periods\n", recorded,
              r.periods[0].frame, pc);
  if (status != 0) return status;
  return gaps != 0 ? 4 : 0;
}
