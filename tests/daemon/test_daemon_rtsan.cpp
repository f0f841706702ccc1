// The daemon built with the RealtimeSanitizer runtime (clipd-rtsan), under a real server: a churn
// of commands (load, unload, replace, play, stop, set, pause, resume, master; 16 voices at once)
// must leave it running, with no report. Any allocation, free, lock or system call inside the
// process callback would abort it.
//
// With CLIPD_TEST_BACKEND=pipewire (the test daemon_rtsan_native_pipewire, run by
// clipd-with-server pipewire) clipd-rtsan runs its native PipeWire backend (--backend pipewire,
// outside pw-jack), so the callback watched is the pw_filter's; the JACK tools the tests start
// still reach the same PipeWire through pw-jack.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace clipd::test {
namespace {

using namespace std::chrono_literals;

bool native_backend() {
  const char* backend = std::getenv("CLIPD_TEST_BACKEND");
  return backend != nullptr && std::string(backend) == "pipewire";
}

// How a native client reaches the PipeWire of clipd-with-server: no wrapper, and without the
// library path of pw-jack that this test inherits (so clipd loads no pipewire-jack).
class NativePipewire final : public TestServer {
 public:
  const char* kind() const noexcept override { return "pipewire"; }
  EnvChanges env() const override { return {"LD_LIBRARY_PATH"}; }
  std::vector<std::string> wrap(std::vector<std::string> argv) const override { return argv; }
};

// Polls `text()` until it holds `needle`; false at the deadline.
bool wait_for_text(const std::function<std::string()>& text, const std::string& needle) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (text().find(needle) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);  // polling pace: the graph is the state
  }
  return true;
}

// Starts clipd-rtsan and returns once its engine is online. Natively, WirePlumber 0.4 links no
// pw_filter node (backend/pipewire/pipewire_backend.hpp): clipd links out_1 and out_2 itself
// (--connect) to a null sink named `sink` made for it, so its cycles dequeue and queue real
// buffers; this returns once both links are in the graph.
std::unique_ptr<Clipd> start_clipd(const TestServer& server, const TempDir& home,
                                   const std::string& sink) {
  static const NativePipewire native;
  std::unique_ptr<Clipd> clipd;
  if (native_backend()) {
    const RunResult made =
        run({"pw-cli", "create-node", "adapter",
             "{ factory.name=support.null-audio-sink node.name=" + sink +
                 " media.class=Audio/Sink object.linger=true audio.position=[ FL FR ] }"},
            {}, 10s);
    EXPECT_EQ(made.status, 0) << made.output;
    const auto inputs = [] { return run({"pw-link", "-i"}, {}, 10s).output; };
    EXPECT_TRUE(wait_for_text(inputs, sink + ":playback_FR")) << inputs();
    clipd = std::make_unique<Clipd>(
        native, home,
        Clipd::Options{true,
                       {"--backend", "pipewire", "--connect", sink + ":playback_FL", "--connect",
                        sink + ":playback_FR"}});
  } else {
    clipd = std::make_unique<Clipd>(server, home, Clipd::Options{true, {}});
  }
  clipd->start();
  Client c(clipd->socket_path());
  const json online =
      c.poll({{"cmd", "status"}}, [](const json& st) { return st["engine"] == "online"; });
  EXPECT_EQ(online["backend"], native_backend() ? "pipewire" : "jack") << online.dump();
  if (native_backend()) {
    const auto links = [] { return run({"pw-link", "-l", "-o"}, {}, 10s).output; };
    EXPECT_TRUE(wait_for_text(links, "clipd:out_1\n  |-> " + sink + ":playback_FL")) << links();
    EXPECT_TRUE(wait_for_text(links, "clipd:out_2\n  |-> " + sink + ":playback_FR")) << links();
  }
  return clipd;
}

TEST(RtsanDaemon, ChurnOfTenThousandCommandsWithoutAReport) {
  std::unique_ptr<TestServer> server = external_server();
  if (!server) server = std::make_unique<JackdServer>();
  TempDir home("clipd-rtsan");
  const std::unique_ptr<Clipd> owned = start_clipd(*server, home, "rtsan-churn-sink");
  Clipd& clipd = *owned;
  Client c(clipd.socket_path());
  const json hello = c.ok({{"cmd", "hello"}});
  ASSERT_TRUE(hello["sample_rate"].is_number()) << hello.dump();
  const auto rate = hello["sample_rate"].get<std::uint32_t>();
  for (int i = 0; i < 4; ++i) {
    write_wav(home.file("c" + std::to_string(i) + ".wav"), rate, 1 + i % 2,
              test_signal(rate / 10 * (i + 1), 1 + i % 2, static_cast<std::uint32_t>(i)));
  }
  auto path = [&](int i) { return home.file("c" + std::to_string(i % 4) + ".wav"); };
  for (int i = 0; i < 4; ++i) {
    c.ok({{"cmd", "load"}, {"name", "clip" + std::to_string(i)}, {"path", path(i)}});
  }

  std::mt19937 rng(12345);
  std::vector<std::int64_t> live;
  int commands = 0;
  int failures = 0;
  while (commands < 10000) {
    const int what = static_cast<int>(rng() % 100);
    const std::string clip = "clip" + std::to_string(rng() % 4);
    json reply;
    if (what < 40 || live.empty()) {
      if (live.size() >= 16) {
        reply = c.request({{"cmd", "stop"}, {"voice", live.front()}, {"fade_s", 0.002}});
        live.erase(live.begin());
      } else {
        reply = c.request({{"cmd", "play"},
                           {"clip", clip},
                           {"gain_db", -6.0},
                           {"pan", static_cast<double>(rng() % 200) / 100.0 - 1.0},
                           {"loop", true},
                           {"fade_in_s", 0.001}});
        if (reply["ok"] == true) live.push_back(reply["result"]["voice"].get<std::int64_t>());
      }
    } else if (what < 60) {
      const std::int64_t v = live[rng() % live.size()];
      reply = c.request({{"cmd", "set"}, {"voice", v}, {"gain_db", -12.0}, {"ramp_s", 0.003}});
    } else if (what < 70) {
      const std::size_t k = rng() % live.size();
      reply = c.request({{"cmd", "stop"}, {"voice", live[k]}});
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(k));
    } else if (what < 75) {
      const std::int64_t v = live[rng() % live.size()];
      reply = c.request({{"cmd", rng() % 2 ? "pause" : "resume"}, {"voice", v}});
    } else if (what < 80) {
      reply = c.request({{"cmd", "master"}, {"gain_db", -static_cast<double>(rng() % 6)}});
    } else if (what < 88) {
      reply = c.request({{"cmd", "load"},
                         {"name", clip},
                         {"path", path(static_cast<int>(rng() % 4))},
                         {"replace", true}});
    } else if (what < 93) {
      reply = c.request({{"cmd", "unload"}, {"name", clip}});
      c.request({{"cmd", "load"}, {"name", clip}, {"path", path(static_cast<int>(rng() % 4))}});
      ++commands;
    } else if (what < 97) {
      reply = c.request({{"cmd", "voices"}});
    } else {
      reply = c.request({{"cmd", "stop"}, {"all", true}, {"fade_s", 0.001}});
      live.clear();
    }
    // Voices end on their own (stolen, unloaded): errors like voice-not-found are expected.
    if (reply["ok"] != true) {
      ++failures;
      const std::string code = reply["error"]["code"];
      EXPECT_TRUE(code == "voice-not-found" || code == "clip-not-found" || code == "cancelled")
          << reply.dump();
    }
    ++commands;
  }
  EXPECT_LT(failures, commands / 2);
  const json status = c.ok({{"cmd", "status"}});
  EXPECT_EQ(status["engine"], "online");

  // JACK's other callback paths with voices playing: a buffer-size change to 8192 and back.
  c.ok({{"cmd", "subscribe"}});
  for (int i = 0; i < 8; ++i)
    c.ok({{"cmd", "play"}, {"clip", "clip0"}, {"loop", true}});
  const std::string bufsize = support_dir() + "/clipd-bufsize";
  const auto original = hello["buffer_size"].get<std::uint32_t>();
  // clipd reads the new size on its next poll of the JACK client.
  const auto buffer_size_is = [&](std::uint32_t frames) {
    return [frames](const json& st) { return st["buffer_size"] == frames; };
  };
  EXPECT_EQ(server->run_client({bufsize, "8192"}, 20s).status, 0);
  EXPECT_EQ(c.poll({{"cmd", "status"}}, buffer_size_is(8192))["buffer_size"], 8192);
  EXPECT_EQ(server->run_client({bufsize, std::to_string(original)}, 20s).status, 0);
  EXPECT_EQ(c.poll({{"cmd", "status"}}, buffer_size_is(original))["buffer_size"], original);
  if (auto* jackd = dynamic_cast<JackdServer*>(server.get())) {
    // An xrun: a client of the graph stopped for a moment (jackd reports it; PipeWire skips
    // the late client silently).
    const std::string ready = home.file("stall.ready");
    auto stall = server->spawn(
        {support_dir() + "/clipd-record", "-o", home.file("stall"), "--max-frames", "480000", "-n",
         "stall", "--wait-ports", "5", "--ready-file", ready, "clipd:out_1"},
        home.file("stall.log"));
    // The recorder is in the graph once it has written its ready file.
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (::access(ready.c_str(), F_OK) != 0) {
      ASSERT_TRUE(stall->running()) << stall->output();
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << stall->output();
      std::this_thread::sleep_for(10ms);  // polling pace: the file is the state
    }
    stall->signal(SIGSTOP);
    // Not a wait for a state: the stall itself, long enough for several 256-frame periods.
    std::this_thread::sleep_for(150ms);
    stall->signal(SIGCONT);
    EXPECT_TRUE(c.wait_event("xrun", 5s));
    stall->stop();
    // The server dies while cycles run: the shutdown callback, the retire handshake, and a
    // fresh engine on the next server.
    jackd->kill_hard();
    EXPECT_TRUE(c.wait_event("engine-offline", 5s));
    jackd->start();
    EXPECT_TRUE(c.wait_event("engine-online", 10s));
    c.ok({{"cmd", "play"}, {"clip", "clip1"}});
    EXPECT_TRUE(c.wait_event("voice-started", 5s));
  }
  ASSERT_TRUE(clipd.process().running()) << clipd.log();
  EXPECT_EQ(clipd.stop(), 0) << clipd.log();
  EXPECT_EQ(clipd.log().find("Real-time violation"), std::string::npos) << clipd.log();
}

// Negative control for the two tests here: clipd-rtsan's test-only command `debug-rt-alloc` makes
// its process callback allocate once. The RealtimeSanitizer must stop the daemon with its report;
// a runtime that is missing or not watching the real callback would let the tests above pass
// whatever the callback does. (The installed clipd answers unknown-command: test_daemon_control.)
TEST(RtsanDaemon, AnAllocationInTheProcessCallbackAbortsWithAReport) {
  std::unique_ptr<TestServer> server = external_server();
  if (!server) server = std::make_unique<JackdServer>();
  TempDir home("clipd-rtsan-alloc");
  const std::unique_ptr<Clipd> owned = start_clipd(*server, home, "rtsan-alloc-sink");
  Clipd& clipd = *owned;
  Client c(clipd.socket_path());
  // Online, so cycles run; nothing has violated anything yet.
  ASSERT_TRUE(c.ok({{"cmd", "hello"}})["sample_rate"].is_number());
  ASSERT_TRUE(clipd.process().running()) << clipd.log();
  // The reply may or may not get out before the next cycle aborts the process.
  c.send_line(R"({"id":"alloc","cmd":"debug-rt-alloc"})");
  const auto status = clipd.process().wait_for(20s);
  ASSERT_TRUE(status) << "clipd-rtsan survived an allocation in its process callback:\n"
                      << clipd.log();
  EXPECT_NE(*status, 0);
  const std::string log = clipd.log();
  EXPECT_NE(log.find("Real-time violation"), std::string::npos) << log;
  EXPECT_NE(log.find("malloc"), std::string::npos) << log;
  if (native_backend()) {
    // The report's stack runs through the pw_filter's data loop, not through any libjack.
    EXPECT_NE(log.find("libpipewire-0.3.so"), std::string::npos) << log;
    EXPECT_EQ(log.find("libjack"), std::string::npos) << log;
  }
}

TEST(RtsanDaemon, MidiStormWithBindingsSwappedMeanwhile) {
  std::unique_ptr<TestServer> server = external_server();
  if (!server) server = std::make_unique<JackdServer>();
  TempDir home("clipd-rtsan-midi");
  const std::unique_ptr<Clipd> owned = start_clipd(*server, home, "rtsan-midi-sink");
  Clipd& clipd = *owned;
  Client c(clipd.socket_path());
  Client events(clipd.socket_path());
  events.ok({{"cmd", "subscribe"}, {"events", {"voice-started"}}});
  const auto rate = c.ok({{"cmd", "hello"}})["sample_rate"].get<std::uint32_t>();
  write_wav(home.file("hit.wav"), rate, 1, test_signal(rate / 50, 1, 21));
  write_wav(home.file("tone.wav"), rate, 2, test_signal(rate / 5, 2, 22));
  c.ok({{"cmd", "load"}, {"name", "hit"}, {"path", home.file("hit.wav")}});
  c.ok({{"cmd", "load"}, {"name", "tone"}, {"path", home.file("tone.wav")}});
  const char* modes[] = {"oneshot", "gate", "toggle"};
  for (int note = 36; note < 48; ++note) {
    c.ok({{"cmd", "bind"},
          {"note", note},
          {"clip", note % 2 ? "hit" : "tone"},
          {"mode", modes[note % 3]},
          {"velocity", note % 4 == 0},
          {"group", note % 5 == 0 ? "g" : "h"}});
  }
  // Four thousand notes in two seconds: a note-on and a note-off every 24 frames, from a tenth of
  // a second after the tool is connected (however long it takes to start). Every note is sent:
  // one whose frame a loaded machine let pass (the graph skipped frames) goes at the start of the
  // next period, since this test is about what clipd does with the storm, not about timing.
  std::vector<std::string> argv{support_dir() + "/clipd-midi-send",
                                "-c",
                                "clipd:midi_in",
                                "--wait-ports",
                                "5",
                                "--timeout",
                                "60",
                                "--send-late",
                                "--relative",
                                std::to_string(rate / 10)};
  for (int i = 0; i < 4000; ++i) {
    const std::int64_t f = static_cast<std::int64_t>(i) * rate / 2000;
    const int note = 36 + i % 14;  // 46 and 47 stay bound; 48 and 49 never are
    argv.push_back(std::to_string(f) + ":on:" + std::to_string(1 + i % 16) + ":" +
                   std::to_string(note) + ":" + std::to_string(1 + i % 127));
    argv.push_back(std::to_string(f + 12) + ":off:" + std::to_string(1 + i % 16) + ":" +
                   std::to_string(note));
  }
  auto storm = server->spawn(argv, home.file("storm.log"));
  // Meanwhile: bindings swapped, a clip unloaded and loaded again, voices stopped.
  int swaps = 0;
  while (storm->running() && swaps < 400) {
    const int note = 36 + swaps % 10;
    c.ok({{"cmd", "bind"},
          {"note", note},
          {"clip", swaps % 3 ? "hit" : "tone"},
          {"mode", modes[swaps % 3]}});
    if (swaps % 25 == 0) {
      c.ok({{"cmd", "unload"}, {"name", "tone"}});
      c.ok({{"cmd", "load"}, {"name", "tone"}, {"path", home.file("tone.wav")}});
    }
    if (swaps % 40 == 0) c.ok({{"cmd", "stop"}, {"all", true}, {"fade_s", 0.001}});
    ++swaps;
  }
  const auto status = storm->wait_for(std::chrono::seconds(60));
  EXPECT_EQ(status, std::optional<int>(0)) << storm->output();
  const std::string sent = storm->output();
  std::size_t notes = 0;
  std::istringstream lines(sent);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("sent ", 0) == 0) ++notes;
  }
  EXPECT_EQ(notes, 8000u);
  const json st = c.ok({{"cmd", "status"}});
  EXPECT_EQ(st["engine"], "online");
  int midi_voices = 0;
  while (auto e = events.wait_event("voice-started", std::chrono::milliseconds(500))) {
    if ((*e)["trigger"] == "midi") ++midi_voices;
  }
  EXPECT_GT(midi_voices, 1000);
  ASSERT_TRUE(clipd.process().running()) << clipd.log();
  EXPECT_EQ(clipd.stop(), 0) << clipd.log();
  EXPECT_EQ(clipd.log().find("Real-time violation"), std::string::npos) << clipd.log();
  EXPECT_GT(swaps, 10);
}

}  // namespace
}  // namespace clipd::test
