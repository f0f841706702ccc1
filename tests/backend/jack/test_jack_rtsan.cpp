// The JACK layer under the RealtimeSanitizer, on real servers: clipd-jack-probe-rtsan (JackBackend
// with the counter target, the runtime linked) runs while the test drives every callback path:
// recording connections, MIDI input, a buffer-size change to 8192 and back, xruns (jackd), and the
// server killed with SIGKILL while cycles run, then restarted. Any RTSan report aborts the probe;
// the test wants exit 0, no report, and every event seen.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "process.hpp"
#include "servers.hpp"

#ifndef CLIPD_JACK_PROBE
#error "CLIPD_JACK_PROBE must name the clipd-jack-probe-rtsan executable"
#endif

namespace {

using namespace std::chrono_literals;
using clipd::test::JackdServer;
using clipd::test::PipewireServer;
using clipd::test::Process;
using clipd::test::TempDir;
using clipd::test::TestServer;

std::string tool(const char* name) {
  return clipd::test::support_dir() + "/" + name;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// Lines of `text` that begin with `what` (the probe's event lines; a refusal it reports on
// stderr names jack_client_open and must not count as an "open ").
std::size_t count_lines(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    if (at == 0 || text[at - 1] == '\n') ++n;
  }
  return n;
}

// Waits until the probe's output holds `what` at least `times` times.
bool wait_output(const Process& p, const std::string& what, std::size_t times = 1,
                 std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (count(p.output(), what) >= times) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

void expect_clean(const std::string& out) {
  EXPECT_EQ(out.find("RealtimeSanitizer"), std::string::npos) << out;
  EXPECT_EQ(out.find("Real-time violation"), std::string::npos) << out;
}

// Recording, MIDI and the buffer-size change, common to both servers.
void drive_common_paths(TestServer& server, Process& probe, const TempDir& dir) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (count_lines(probe.output(), "open ") == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(count_lines(probe.output(), "open "), 1u) << probe.output();
  const auto rec =
      server.run_client({tool("clipd-record"), "-o", dir.file("rec"), "-f", "24000", "--wait-ports",
                         "5", "--timeout", "20", "clipd:out_1", "clipd:out_2"},
                        30s);
  // Here the recorder only drives connections and cycles; a gap (4: PipeWire skipped a late
  // client under load) does not matter, the bit-exact tests are in test_jack_client.cpp.
  EXPECT_TRUE(rec.status == 0 || rec.status == 4) << rec.output;
  const auto midi =
      server.run_client({tool("clipd-midi-send"), "-c", "clipd:midi_in", "--relative", "2400",
                         "0:on:1:60", "10:off:1:60", "20:on:2:61:1", "1000:raw:b07b00"},
                        20s);
  EXPECT_EQ(midi.status, 0) << midi.output;
  ASSERT_EQ(server.run_client({tool("clipd-bufsize"), "8192"}).status, 0);
  EXPECT_TRUE(wait_output(probe, "bufsize 8192")) << probe.output();
  // A few 8192-frame cycles under the sanitizer.
  std::this_thread::sleep_for(600ms);
  ASSERT_EQ(server.run_client({tool("clipd-bufsize"), "1024"}).status, 0);
  EXPECT_TRUE(wait_output(probe, "bufsize 1024")) << probe.output();
}

TEST(RtsanJackd, EveryCallbackPathIsRealtimeSafe) {
  // Sync mode (-S): no cycle is skipped under load, so MIDI events are never late; a stalled
  // client still makes the server report an xrun to everyone.
  JackdServer srv;
  TempDir dir("clipd-rtsan");
  auto probe = srv.spawn({CLIPD_JACK_PROBE, "--seconds", "60", "--exit-after-reopens", "1",
                          "--connect", "system:playback_1"},
                         dir.file("probe.log"));
  ASSERT_NO_FATAL_FAILURE(drive_common_paths(srv, *probe, dir));

  // xruns: a client stopped mid-graph.
  auto stall = srv.spawn({tool("clipd-record"), "-o", dir.file("stall"), "--max-frames", "480000",
                          "-n", "stall", "--wait-ports", "5", "clipd:out_1"},
                         dir.file("stall.log"));
  ASSERT_TRUE(clipd::test::read_file(dir.file("stall.log")).empty());
  std::this_thread::sleep_for(300ms);
  stall->signal(SIGSTOP);
  std::this_thread::sleep_for(150ms);
  stall->signal(SIGCONT);
  EXPECT_TRUE(wait_output(*probe, "xruns ")) << probe->output();
  stall->stop();

  // The server dies while cycles run, comes back, the probe reconnects and exits.
  srv.kill_hard();
  EXPECT_TRUE(wait_output(*probe, "gone")) << probe->output();
  EXPECT_TRUE(wait_output(*probe, "retire retired")) << probe->output();
  srv.start();
  const auto status = probe->wait_for(20s);
  const std::string out = probe->output();
  ASSERT_TRUE(status.has_value()) << out;
  EXPECT_EQ(*status, 0) << out;
  EXPECT_EQ(count_lines(out, "open "), 2u) << out;
  EXPECT_EQ(count(out, "retire retired"), 2u) << out;
  EXPECT_NE(out.find("midi 4"), std::string::npos) << out;
  EXPECT_NE(out.find("done"), std::string::npos) << out;
  expect_clean(out);
}

TEST(RtsanPipewire, EveryCallbackPathIsRealtimeSafe) {
  PipewireServer pw;
  TempDir dir("clipd-rtsan");
  auto probe = pw.spawn({CLIPD_JACK_PROBE, "--seconds", "60", "--exit-after-reopens", "1"},
                        dir.file("probe.log"));
  ASSERT_NO_FATAL_FAILURE(drive_common_paths(pw, *probe, dir));

  // PipeWire dies while cycles run (SIGKILL, by pid), its session is restarted in the same
  // runtime directory, the probe reconnects and exits.
  const pid_t pipewire = pw.pipewire_pid();
  ASSERT_GT(pipewire, 0);
  ASSERT_EQ(::kill(pipewire, SIGKILL), 0);
  EXPECT_TRUE(wait_output(*probe, "gone")) << probe->output();
  EXPECT_TRUE(wait_output(*probe, "retire retired")) << probe->output();
  pw.restart();
  const auto status = probe->wait_for(20s);
  const std::string out = probe->output();
  ASSERT_TRUE(status.has_value()) << out;
  EXPECT_EQ(*status, 0) << out;
  EXPECT_EQ(count_lines(out, "open "), 2u) << out;
  EXPECT_EQ(count(out, "retire retired"), 2u) << out;
  EXPECT_NE(out.find("midi 4"), std::string::npos) << out;
  expect_clean(out);
}

}  // namespace
