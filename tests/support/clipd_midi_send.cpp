// clipd-midi-send: an independent JACK client with one MIDI output that sends events at given
// server frames, for integration tests.
//
// Usage: clipd-midi-send -c PORT [options] EVENT...
//   -c, --connect PORT    connect midi_out to PORT (repeatable)
//   -s, --server NAME     server name (default: $JACK_DEFAULT_SERVER, else the library's default)
//   -n, --name NAME       client name (default clipd-midi-send)
//   --relative LEAD       EVENT frames count from BASE = the first period starting after the
//                         connections are made, plus LEAD frames; prints "base BASE"
//   --wait-ports SECONDS  wait up to SECONDS for the destination ports to exist (default 0)
//   --timeout SECONDS     exit 3 when not done after SECONDS (default 30)
//   --cc-storm N          instead of EVENTs: N control changes in every period, spread over its
//                         frames, for --storm-periods periods; prints "storm PERIODS WRITTEN
//                         FAILED" (FAILED: events the port's buffer had no room for)
//   --storm-periods P     periods of the storm (default 100)
//   --ready-file PATH     created once the connections are made and sending has begun
//   --send-late           an event whose frame has passed before its period (the graph skipped
//                         frames: an overloaded machine) is sent at the period's first frame
//                         instead of being dropped; prints "late N" and does not exit 4
// EVENT: FRAME:on:CHANNEL:NOTE[:VELOCITY]   note-on  (channel 1-16, velocity default 100)
//        FRAME:off:CHANNEL:NOTE[:VELOCITY]  note-off (velocity default 0)
//        FRAME:raw:HEX                      any message, e.g. 0:raw:b07b00
// FRAME is an absolute server frame (jack_last_frame_time() domain, 64-bit) unless --relative.
// Prints "sent FRAME HEX" for every event sent, in order (FRAME: the one asked for). Exit status:
// 0 all sent; 2 usage; 3 JACK error, time-out or the server went away; 4 an event's frame had
// passed before its period (it is not sent, unless --send-late); 6 ports missing.
#include <jack/jack.h>
#include <jack/midiport.h>

#include <algorithm>
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

struct Event {
  std::uint64_t frame = 0;
  std::uint8_t data[16] = {};
  std::uint32_t size = 0;
  std::size_t order = 0;  // position on the command line: equal frames keep it
  bool dropped = false;   // late and not sent; written by the audio thread before `next` passes it
};

struct Sender {
  jack_client_t* client = nullptr;
  jack_port_t* port = nullptr;
  std::vector<Event> events;  // sorted by frame
  bool relative = false;
  bool send_late = false;
  std::uint64_t lead = 0;
  clipd::test::FrameExtender extender;
  std::atomic<bool> armed{false};
  std::atomic<bool> shutdown{false};
  std::atomic<std::uint64_t> base{0};
  std::atomic<bool> based{false};
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> late{0};
  std::atomic<std::uint64_t> cycles_after_done{0};
  // --cc-storm: events per period, periods wanted; the counters are written by the audio thread.
  std::uint32_t storm = 0;
  std::uint64_t storm_periods = 100;
  std::atomic<std::uint64_t> storm_done{0};
  std::atomic<std::uint64_t> storm_written{0};
  std::atomic<std::uint64_t> storm_failed{0};
};

// One period of a CC storm: control change i % 120 on channel 1 + i % 16, at frame i * n / N.
void storm_period(Sender* s, void* buffer, jack_nframes_t nframes) {
  const std::uint64_t done = s->storm_done.load(std::memory_order_relaxed);
  if (done == s->storm_periods) {
    s->cycles_after_done.fetch_add(1, std::memory_order_release);
    return;
  }
  std::uint64_t written = 0, failed = 0;
  for (std::uint32_t i = 0; i < s->storm; ++i) {
    const std::uint8_t cc[3] = {static_cast<std::uint8_t>(0xb0 | (i % 16)),
                                static_cast<std::uint8_t>(i % 120),
                                static_cast<std::uint8_t>(i % 128)};
    const auto at = static_cast<jack_nframes_t>(std::uint64_t{i} * nframes / s->storm);
    if (jack_midi_event_write(buffer, at, cc, sizeof cc) == 0) {
      ++written;
    } else {
      ++failed;
    }
  }
  s->storm_written.fetch_add(written, std::memory_order_relaxed);
  s->storm_failed.fetch_add(failed, std::memory_order_relaxed);
  s->storm_done.store(done + 1, std::memory_order_release);
}

int process(jack_nframes_t nframes, void* arg) {
  auto* s = static_cast<Sender*>(arg);
  void* buffer = jack_port_get_buffer(s->port, nframes);
  jack_midi_clear_buffer(buffer);
  const std::uint64_t frame = s->extender.extend(jack_last_frame_time(s->client));
  if (!s->armed.load(std::memory_order_acquire)) return 0;
  if (s->storm > 0) {
    storm_period(s, buffer, nframes);
    return 0;
  }
  if (!s->based.load(std::memory_order_relaxed)) {
    s->base.store(s->relative ? frame + s->lead : 0, std::memory_order_relaxed);
    s->based.store(true, std::memory_order_release);
  }
  const std::uint64_t base = s->base.load(std::memory_order_relaxed);
  std::size_t i = s->next.load(std::memory_order_relaxed);
  if (i == s->events.size()) {
    s->cycles_after_done.fetch_add(1, std::memory_order_release);
    return 0;
  }
  while (i < s->events.size()) {
    const Event& e = s->events[i];
    const std::uint64_t at = base + e.frame;
    if (at >= frame + nframes) break;
    if (at < frame) {
      s->late.fetch_add(1, std::memory_order_relaxed);
      if (s->send_late) {
        jack_midi_event_write(buffer, 0, e.data, e.size);
      } else {
        s->events[i].dropped = true;
      }
    } else {
      jack_midi_event_write(buffer, static_cast<jack_nframes_t>(at - frame), e.data, e.size);
    }
    ++i;
  }
  s->next.store(i, std::memory_order_release);
  return 0;
}

void on_shutdown(jack_status_t, const char*, void* arg) {
  static_cast<Sender*>(arg)->shutdown.store(true, std::memory_order_release);
}

// pipewire-jack 0.3.65 calls only this one when the server's connection breaks.
void on_plain_shutdown(void* arg) {
  on_shutdown(JackFailure, nullptr, arg);
}

bool parse_event(const std::string& text, Event& e) {
  std::vector<std::string> f;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t colon = text.find(':', pos);
    f.push_back(text.substr(pos, colon - pos));
    if (colon == std::string::npos) break;
    pos = colon + 1;
  }
  if (f.size() < 3) return false;
  auto number = [](const std::string& s, unsigned long max, unsigned long& out) {
    char* end = nullptr;
    if (s.empty() || s[0] == '-') return false;
    out = std::strtoul(s.c_str(), &end, 10);
    return *end == '\0' && out <= max;
  };
  char* end = nullptr;
  if (f[0].empty() || f[0][0] == '-') return false;
  e.frame = std::strtoull(f[0].c_str(), &end, 10);
  if (*end != '\0') return false;
  if (f[1] == "on" || f[1] == "off") {
    unsigned long channel = 0, note = 0, velocity = f[1] == "on" ? 100 : 0;
    if (f.size() < 4 || f.size() > 5) return false;
    if (!number(f[2], 16, channel) || channel == 0 || !number(f[3], 127, note)) return false;
    if (f.size() == 5 && !number(f[4], 127, velocity)) return false;
    e.data[0] = static_cast<std::uint8_t>((f[1] == "on" ? 0x90 : 0x80) | (channel - 1));
    e.data[1] = static_cast<std::uint8_t>(note);
    e.data[2] = static_cast<std::uint8_t>(velocity);
    e.size = 3;
    return true;
  }
  if (f[1] == "raw" && f.size() == 3) {
    const std::string& hex = f[2];
    if (hex.empty() || hex.size() % 2 != 0 || hex.size() / 2 > sizeof e.data) return false;
    for (std::size_t i = 0; i < hex.size(); i += 2) {
      const std::string digits = hex.substr(i, 2);
      const unsigned long byte = std::strtoul(digits.c_str(), &end, 16);
      if (*end != '\0') return false;
      e.data[i / 2] = static_cast<std::uint8_t>(byte);
    }
    e.size = static_cast<std::uint32_t>(hex.size() / 2);
    return true;
  }
  return false;
}

void usage() {
  std::fputs(
      "usage: clipd-midi-send -c PORT [-s SERVER] [-n NAME] [--relative LEAD]\n"
      "       [--wait-ports S] [--timeout S] [--ready-file PATH] [--send-late]\n"
      "       FRAME:on|off:CHANNEL:NOTE[:VEL] | FRAME:raw:HEX ... | --cc-storm N [--storm-periods "
      "P]\n",
      stderr);
}

}  // namespace

int main(int argc, char** argv) {
  using clipd::test::parse_seconds;
  using clipd::test::parse_u64;
  std::string server, name = "clipd-midi-send", ready_file;
  std::vector<const char*> destinations;
  double wait_ports = 0, timeout = 30;
  Sender s;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* what) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "clipd-midi-send: %s needs a value\n", what);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "-c" || a == "--connect") {
      destinations.push_back(value("--connect"));
    } else if (a == "-s" || a == "--server") {
      server = value("--server");
    } else if (a == "-n" || a == "--name") {
      name = value("--name");
    } else if (a == "--relative") {
      s.relative = true;
      s.lead = parse_u64(value("--relative"), "lead");
    } else if (a == "--wait-ports") {
      wait_ports = parse_seconds(value("--wait-ports"), "seconds");
    } else if (a == "--timeout") {
      timeout = parse_seconds(value("--timeout"), "seconds");
    } else if (a == "--cc-storm") {
      s.storm = static_cast<std::uint32_t>(parse_u64(value("--cc-storm"), "events per period"));
    } else if (a == "--storm-periods") {
      s.storm_periods = parse_u64(value("--storm-periods"), "periods");
    } else if (a == "--send-late") {
      s.send_late = true;
    } else if (a == "--ready-file") {
      ready_file = value("--ready-file");
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      usage();
      return 2;
    } else {
      Event e;
      if (!parse_event(a, e)) {
        std::fprintf(stderr, "clipd-midi-send: bad event '%s'\n", a.c_str());
        return 2;
      }
      e.order = s.events.size();
      s.events.push_back(e);
    }
  }
  if (destinations.empty() || s.events.empty() == (s.storm == 0)) {
    usage();
    return 2;
  }
  std::sort(s.events.begin(), s.events.end(), [](const Event& a, const Event& b) {
    return a.frame != b.frame ? a.frame < b.frame : a.order < b.order;
  });
  clipd::test::install_stop_signals();

  s.client = clipd::test::open_tool_client(name, server);
  if (s.client == nullptr) return 3;
  s.port = jack_port_register(s.client, "midi_out", JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, 0);
  if (s.port == nullptr) {
    std::fprintf(stderr, "clipd-midi-send: cannot register midi_out\n");
    jack_client_close(s.client);
    return 3;
  }
  jack_set_process_callback(s.client, process, &s);
  jack_on_shutdown(s.client, on_plain_shutdown, &s);
  jack_on_info_shutdown(s.client, on_shutdown, &s);
  if (jack_activate(s.client) != 0) {
    std::fprintf(stderr, "clipd-midi-send: cannot activate\n");
    jack_client_close(s.client);
    return 3;
  }
  const std::string missing = clipd::test::wait_for_ports(
      s.client, destinations.data(), static_cast<int>(destinations.size()), wait_ports);
  if (!missing.empty()) {
    std::fprintf(stderr, "clipd-midi-send: no port %s\n", missing.c_str());
    jack_client_close(s.client);
    return 6;
  }
  for (const char* d : destinations) {
    const int rc = jack_connect(s.client, jack_port_name(s.port), d);
    if (rc != 0 && rc != EEXIST) {
      std::fprintf(stderr, "clipd-midi-send: cannot connect to %s\n", d);
      jack_client_close(s.client);
      return 3;
    }
  }
  s.armed.store(true, std::memory_order_release);
  if (!ready_file.empty()) {
    if (std::FILE* f = std::fopen(ready_file.c_str(), "w")) std::fclose(f);
  }

  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
  bool printed_base = false;
  // Done once every event is written and one more cycle has delivered the last of them.
  while (s.cycles_after_done.load(std::memory_order_acquire) < 2) {
    if (!printed_base && s.relative && s.based.load(std::memory_order_acquire)) {
      std::printf("base %" PRIu64 "\n", s.base.load(std::memory_order_relaxed));
      std::fflush(stdout);
      printed_base = true;
    }
    if (s.shutdown.load(std::memory_order_acquire)) {
      std::fprintf(stderr, "clipd-midi-send: the server went away\n");
      status = 3;
      break;
    }
    if (clipd::test::g_stop_requested != 0 || std::chrono::steady_clock::now() >= deadline) {
      std::fprintf(stderr, "clipd-midi-send: stopped before all events were sent\n");
      status = 3;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!s.shutdown.load(std::memory_order_acquire)) jack_deactivate(s.client);
  jack_client_close(s.client);

  if (!printed_base && s.relative && s.based.load()) {
    std::printf("base %" PRIu64 "\n", s.base.load());
  }
  if (s.storm > 0) {
    std::printf("storm %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", s.storm_done.load(),
                s.storm_written.load(), s.storm_failed.load());
  }
  const std::uint64_t base = s.base.load();
  const std::size_t sent = s.next.load();
  for (std::size_t i = 0; i < sent; ++i) {
    if (s.events[i].dropped) continue;
    std::printf("sent %" PRIu64 " ", base + s.events[i].frame);
    for (std::uint32_t b = 0; b < s.events[i].size; ++b)
      std::printf("%02x", s.events[i].data[b]);
    std::printf("\n");
  }
  if (s.send_late) std::printf("late %zu\n", s.late.load());
  // Whole lines on stdout before anything on stderr: a caller may read both from one pipe.
  std::fflush(stdout);
  if (s.late.load() != 0 && !s.send_late) {
    std::fprintf(stderr, "clipd-midi-send: %zu events were late\n", s.late.load());
    return 4;
  }
  return status;
}
