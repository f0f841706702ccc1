// bench_osc: the round trip of one `play`, on this machine, in one run against one private jackd
// (tests/support's JackdServer, dummy driver): clipd over JSON lines (its UNIX stream socket),
// clipd over OSC (UDP on loopback, and its UNIX datagram socket), and SuperCollider's scsynth,
// a JACK client of the same server, over UDP.
//
//   bench_osc [--quick] [--round-trips N] [--rounds N] [--period FRAMES]
//
// What is timed, per request, with CLOCK_MONOTONIC (steady_clock): from just before the request
// is written to the socket to the return of the read that completes its answer; the request's
// bytes are built before the clock starts and the answer is checked after it stops.
//   clipd JSON     {"id":N,"cmd":"play","clip":"kick","gain_db":-60}  ->  {"id":N,"ok":true,...}
//   clipd OSC      /clipd/play ,ssdsi kick gain_db -60 id N           ->  /clipd/reply N voice V
//   scsynth        /s_new ,siii bench NODE 0 0                        ->  /n_go NODE ...
// scsynth is started with no synthdefs (-D 0); the bench sends it, with /d_recv, a synthdef it
// builds itself (one FreeSelf UGen: each node frees itself in its first cycle) and /notify 1,
// which makes scsynth announce each new node with /n_go. Both daemons play into the same graph
// (jackd -d dummy -r 48000 -p PERIOD, default 256 frames); the clip is 10 ms of mono.
//
// N round trips per target (default 10,000), after a warm-up of a tenth, are taken in R rounds
// (default 10) with the targets in turn, so that load on the shared machine falls on every
// target alike; each timed request is sent after a random pause of up to one period, at a
// random phase of the graph's cycle. p50 and p99 of each, and their ratios against clipd JSON.
// --quick: 200 round trips each in 2 rounds, to prove that every step works (exits non-zero when
// one fails).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <sndfile.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "control/osc/packet.hpp"
#include "line_client.hpp"
#include "osc_socket.hpp"
#include "process.hpp"
#include "servers.hpp"

namespace {

using namespace std::chrono_literals;
using clipd::test::EnvChanges;
using clipd::test::free_udp_port;
using clipd::test::LineClient;
using clipd::test::OscSocket;
using clipd::test::Process;
using clipd::test::TempDir;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace osc = clipd::control::osc;

void write_wav(const std::string& path, int rate, const std::vector<float>& data) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (f == nullptr) throw std::runtime_error("cannot write " + path);
  sf_writef_float(f, data.data(), static_cast<sf_count_t>(data.size()));
  sf_close(f);
}

// The one message of a datagram (the daemons answer with messages, never bundles).
osc::Message single_message(const std::vector<std::byte>& datagram) {
  auto decoded = osc::decode_packet(datagram);
  auto* messages = std::get_if<std::vector<osc::Message>>(&decoded);
  if (messages == nullptr || messages->size() != 1) {
    throw std::runtime_error("an answer that is not one OSC message");
  }
  return std::move(messages->front());
}

std::string describe(const osc::Message& m) {
  std::string out = m.address;
  for (const osc::Arg& a : m.args) {
    if (const auto* i = std::get_if<std::int64_t>(&a)) out += " " + std::to_string(*i);
    if (const auto* s = std::get_if<std::string>(&a)) out += " " + *s;
  }
  return out;
}

// A target: one timed round trip with the given sequence number (throws when the answer is
// missing or wrong), returning its duration in microseconds.
struct Target {
  std::string name;
  std::function<double(std::int64_t n)> round_trip;
  std::vector<double> us;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

double micros(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::micro>(to - from).count();
}

// clipd's `play` over OSC: /clipd/play kick gain_db -60 id N, answered /clipd/reply N voice V.
double clipd_osc_play(OscSocket& socket, std::int64_t n) {
  const std::vector<osc::Arg> args{std::string("kick"), std::string("gain_db"), -60.0,
                                   std::string("id"), n};
  const std::vector<std::byte> request = osc::encode_message("/clipd/play", args);
  const auto start = Clock::now();
  socket.send(request);
  const std::vector<std::byte> answer = socket.receive(5000ms);
  const auto end = Clock::now();
  if (answer.empty()) throw std::runtime_error("clipd OSC: no answer to play " + std::to_string(n));
  const osc::Message m = single_message(answer);
  if (m.address != "/clipd/reply" || m.args.size() != 3 || m.args[0] != osc::Arg{n} ||
      m.args[1] != osc::Arg{std::string("voice")} ||
      !std::holds_alternative<std::int64_t>(m.args[2])) {
    throw std::runtime_error("clipd OSC: play " + std::to_string(n) + " answered " + describe(m));
  }
  return micros(start, end);
}

// scsynth's /s_new of the bench's synthdef as node `node`, answered /n_go node ... (the /n_end
// of earlier nodes may come first, and is skipped).
double scsynth_s_new(OscSocket& socket, std::int32_t node) {
  const std::vector<osc::Arg> args{std::string("bench"), std::int64_t{node}, std::int64_t{0},
                                   std::int64_t{0}};
  const std::vector<std::byte> request = osc::encode_message("/s_new", args);
  const auto start = Clock::now();
  socket.send(request);
  for (;;) {
    const std::vector<std::byte> answer = socket.receive(5000ms);
    const auto end = Clock::now();
    if (answer.empty()) {
      throw std::runtime_error("scsynth: no /n_go for node " + std::to_string(node));
    }
    const osc::Message m = single_message(answer);
    if (m.address == "/n_go" && !m.args.empty() && m.args[0] == osc::Arg{std::int64_t{node}}) {
      return micros(start, end);
    }
    if (m.address == "/fail") throw std::runtime_error("scsynth: " + describe(m));
  }
}

// The synthdef the bench sends scsynth (SCgf version 2, one def named "bench"): one constant
// (1.0) and one control-rate FreeSelf UGen on it, so each node frees itself in its first cycle
// and none pile up.
std::vector<std::byte> bench_synthdef() {
  std::vector<std::byte> out;
  const auto u8 = [&](std::uint8_t v) { out.push_back(static_cast<std::byte>(v)); };
  const auto u16 = [&](std::uint16_t v) {
    u8(static_cast<std::uint8_t>(v >> 8));
    u8(static_cast<std::uint8_t>(v));
  };
  const auto u32 = [&](std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v >> 16));
    u16(static_cast<std::uint16_t>(v));
  };
  const auto pstring = [&](const std::string& s) {
    u8(static_cast<std::uint8_t>(s.size()));
    for (char c : s)
      u8(static_cast<std::uint8_t>(c));
  };
  for (char c : std::string("SCgf"))
    u8(static_cast<std::uint8_t>(c));
  u32(2);  // file version
  u16(1);  // definitions
  pstring("bench");
  u32(1);           // constants
  u32(0x3f800000);  // 1.0f
  u32(0);           // parameters
  u32(0);           // parameter names
  u32(1);           // UGens
  pstring("FreeSelf");
  u8(1);            // control rate
  u32(1);           // inputs
  u32(1);           // outputs
  u16(0);           // special index
  u32(0xffffffff);  // input 0: a constant (-1) ...
  u32(0);           // ... the first one
  u8(1);            // output 0: control rate
  u16(0);           // variants
  return out;
}

// Sends `request` until `want` answers it (a daemon's socket may be open before it answers).
osc::Message await(OscSocket& socket, const std::vector<std::byte>& request,
                   const std::function<bool(const osc::Message&)>& want, const std::string& what) {
  const auto deadline = Clock::now() + 15s;
  while (Clock::now() < deadline) {
    socket.send(request);
    const auto until = Clock::now() + 500ms;
    while (Clock::now() < until) {
      const std::vector<std::byte> answer = socket.receive(100ms);
      if (answer.empty()) continue;
      osc::Message m = single_message(answer);
      if (want(m)) return m;
    }
  }
  throw std::runtime_error(what + ": no answer");
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t round_trips = 10000;
  std::size_t rounds = 10;
  std::uint32_t period = 256;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> unsigned long {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return std::stoul(argv[++i]);
    };
    try {
      if (arg == "--quick") {
        round_trips = 200;
        rounds = 2;
      } else if (arg == "--round-trips") {
        round_trips = value();
      } else if (arg == "--rounds") {
        rounds = std::max(1ul, value());
      } else if (arg == "--period") {
        period = static_cast<std::uint32_t>(value());
      } else {
        throw std::invalid_argument("unknown argument " + arg);
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr,
                   "bench_osc: %s\nusage: bench_osc [--quick] [--round-trips N] [--rounds N] "
                   "[--period FRAMES]\n",
                   e.what());
      return 2;
    }
  }

  try {
    TempDir dir("clipd-bench-osc");
    clipd::test::JackdServer::Options jack_options;
    jack_options.period = period;
    jack_options.log_file = dir.file("jackd.log");
    clipd::test::JackdServer server(jack_options);
    const std::uint32_t rate = jack_options.rate;
    write_wav(dir.file("kick.wav"), static_cast<int>(rate), std::vector<float>(rate / 100, 0.5f));

    // clipd: the JSON socket, OSC on UDP and on its UNIX datagram socket.
    const std::uint16_t clipd_port = free_udp_port();
    EnvChanges env = server.env();
    env.push_back("XDG_CONFIG_HOME=" + dir.path());
    env.push_back("XDG_RUNTIME_DIR=" + dir.path());
    Process clipd({CLIPD_EXE, "--socket", dir.file("clipd.sock"), "--osc-port",
                   std::to_string(clipd_port), "--osc-socket", dir.file("osc.sock"), "--no-state",
                   "--no-midi", "--max-voices", "4096", "--log-level", "warning"},
                  env, dir.file("clipd.log"));
    LineClient control(dir.file("clipd.sock"));
    const auto online_deadline = Clock::now() + 15s;
    while (control.ok({{"cmd", "status"}})["engine"] != "online") {
      if (Clock::now() > online_deadline) {
        throw std::runtime_error("clipd did not come online:\n" + clipd.output());
      }
      std::this_thread::sleep_for(20ms);  // polling pace: status is the state
    }
    control.ok({{"cmd", "load"}, {"name", "kick"}, {"path", dir.file("kick.wav")}});
    auto clipd_udp = OscSocket::udp(clipd_port);
    auto clipd_unix = OscSocket::unix_socket(dir.file("bench-osc.sock"), dir.file("osc.sock"));
    for (OscSocket* d : {clipd_udp.get(), clipd_unix.get()}) {
      await(
          *d, osc::encode_message("/clipd/ping", std::vector<osc::Arg>{}),
          [](const osc::Message& m) { return m.address == "/clipd/reply"; }, "clipd OSC ping");
    }

    // scsynth on the same server: no synthdefs of its own, no Zeroconf, one login.
    const std::uint16_t sc_port = free_udp_port();
    Process scsynth(
        std::vector<std::string>{"scsynth", "-u", std::to_string(sc_port), "-B", "127.0.0.1", "-i",
                                 "0", "-o", "2", "-R", "0", "-D", "0", "-l", "1"},
        server.env(), dir.file("scsynth.log"));
    auto sc = OscSocket::udp(sc_port);
    try {
      await(
          *sc, osc::encode_message("/notify", std::vector<osc::Arg>{std::int64_t{1}}),
          [](const osc::Message& m) {
            return m.address == "/done" && !m.args.empty() &&
                   m.args[0] == osc::Arg{std::string("/notify")};
          },
          "scsynth /notify");
    } catch (const std::exception&) {
      throw std::runtime_error("scsynth did not answer:\n" + scsynth.output() + "\njackd:\n" +
                               server.log());
    }
    // /d_recv takes the synthdef as a blob, which osc::encode_message does not write: the
    // message is laid out here (address, ",b", size, bytes padded to 4).
    {
      std::vector<std::byte> d_recv;
      const auto put_string = [&](const std::string& s) {
        for (char c : s)
          d_recv.push_back(static_cast<std::byte>(c));
        d_recv.push_back(std::byte{0});
        while (d_recv.size() % 4 != 0)
          d_recv.push_back(std::byte{0});
      };
      put_string("/d_recv");
      put_string(",b");
      const std::vector<std::byte> def = bench_synthdef();
      const auto size = static_cast<std::uint32_t>(def.size());
      for (int shift = 24; shift >= 0; shift -= 8)
        d_recv.push_back(static_cast<std::byte>(size >> shift));
      d_recv.insert(d_recv.end(), def.begin(), def.end());
      while (d_recv.size() % 4 != 0)
        d_recv.push_back(std::byte{0});
      sc->send(d_recv);
      const auto deadline = Clock::now() + 10s;
      for (;;) {
        const std::vector<std::byte> answer = sc->receive(1000ms);
        if (!answer.empty()) {
          const osc::Message m = single_message(answer);
          if (m.address == "/done") break;
          if (m.address == "/fail") throw std::runtime_error("scsynth: " + describe(m));
        }
        if (Clock::now() > deadline) {
          throw std::runtime_error("scsynth did not take the synthdef:\n" + scsynth.output());
        }
      }
    }

    std::vector<Target> targets;
    const auto add = [&](std::string name, std::function<double(std::int64_t)> round_trip) {
      targets.push_back({std::move(name), std::move(round_trip), {}});
    };
    add("clipd JSON lines (UNIX stream)", [&](std::int64_t n) {
      const std::string line =
          R"({"id":)" + std::to_string(n) + R"(,"cmd":"play","clip":"kick","gain_db":-60})" + "\n";
      const auto start = Clock::now();
      control.write(line);
      const std::string reply = control.read_line();
      const auto end = Clock::now();
      const json r = json::parse(reply);
      if (r.value("id", json()) != n || r.value("ok", false) != true ||
          !r["result"]["voice"].is_number_integer()) {
        throw std::runtime_error("clipd JSON: play answered " + reply);
      }
      return micros(start, end);
    });
    add("clipd OSC (UDP)", [&](std::int64_t n) { return clipd_osc_play(*clipd_udp, n); });
    add("clipd OSC (UNIX datagram)",
        [&](std::int64_t n) { return clipd_osc_play(*clipd_unix, n); });
    add("scsynth /s_new -> /n_go (UDP)", [&](std::int64_t n) {
      // Ids of the bench's own, far above the default group (1).
      return scsynth_s_new(*sc, static_cast<std::int32_t>(1000 + n));
    });

    // Warm-up (a tenth), then the rounds, the targets in turn.
    std::int64_t n = 1'000'000;
    const std::size_t warm = std::max<std::size_t>(1, round_trips / 10);
    for (Target& t : targets) {
      for (std::size_t i = 0; i < warm; ++i)
        t.round_trip(++n);
    }
    // Each timed request waits a random time of up to one period first, so that it reaches
    // the daemon at a random phase of the graph's cycle: back to back, a request to scsynth
    // would always follow the cycle whose answer it waited for, and wait a whole period.
    std::mt19937 rng(20261202);
    std::uniform_real_distribution<double> phase_us(0.0, 1e6 * period / rate);
    const std::size_t per_round = std::max<std::size_t>(1, round_trips / rounds);
    for (std::size_t r = 0; r < rounds; ++r) {
      for (Target& t : targets) {
        for (std::size_t i = 0; i < per_round; ++i) {
          std::this_thread::sleep_for(std::chrono::duration<double, std::micro>(phase_us(rng)));
          t.us.push_back(t.round_trip(++n));
        }
      }
    }

    const json status = control.ok({{"cmd", "status"}});
    if (status.value("osc_dropped", -1) != 0 || status.value("osc_malformed", -1) != 0) {
      throw std::runtime_error("clipd counted dropped or malformed datagrams: " + status.dump());
    }
    std::printf(
        "jackd, dummy driver, %u frames at %u Hz (%.2f ms); %zu round trips per target in %zu "
        "rounds; play of a 10 ms clip\n",
        period, rate, 1e3 * period / rate, per_round * rounds, rounds);
    std::printf("%-34s %10s %10s   %s\n", "target", "p50 us", "p99 us", "vs JSON (p50, p99)");
    const double json_p50 = percentile(targets[0].us, 0.5);
    const double json_p99 = percentile(targets[0].us, 0.99);
    for (const Target& t : targets) {
      const double p50 = percentile(t.us, 0.5);
      const double p99 = percentile(t.us, 0.99);
      std::printf("%-34s %10.1f %10.1f   %.2fx %.2fx\n", t.name.c_str(), p50, p99, p50 / json_p50,
                  p99 / json_p99);
    }
    std::fflush(stdout);
    // clipd first, then scsynth told to /quit, so that each leaves the graph as a client should:
    // jackd in sync mode (-S) wedges when a client dies without closing (servers.hpp).
    if (const int status = clipd.stop(std::chrono::milliseconds(10000)); status != 0) {
      throw std::runtime_error("clipd exited with " + std::to_string(status) + ":\n" +
                               clipd.output());
    }
    sc->send(osc::encode_message("/quit", std::vector<osc::Arg>{}));
    if (!scsynth.wait_for(std::chrono::milliseconds(10000))) {
      throw std::runtime_error("scsynth did not quit:\n" + scsynth.output());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_osc: %s\n", e.what());
    return 1;
  }
  return 0;
}
