// The PipeWire backend under the RealtimeSanitizer, on a real PipeWire: clipd-pw-probe-rtsan (the
// backend with the stamp target, the runtime linked) runs while the test drives every path of
// the process callback: a recorder linked to the outputs (buffers), MIDI input, forced quanta up
// to 8192 and back, PipeWire killed with SIGKILL while cycles run, then restarted. Any RTSan
// report aborts the probe; the test wants exit 0, no report, and every event seen.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "process.hpp"
#include "servers.hpp"

#ifndef CLIPD_PW_PROBE
#error "CLIPD_PW_PROBE must name the clipd-pw-probe-rtsan executable"
#endif

namespace {

using namespace std::chrono_literals;
using clipd::test::PipewireServer;
using clipd::test::Process;
using clipd::test::TempDir;

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

TEST(RtsanPipewireBackend, EveryProcessPathIsRealtimeSafe) {
  PipewireServer pw;
  TempDir dir("clipd-pw-rtsan");
  // The probe is a native client: only the environment, no pw-jack.
  auto probe = std::make_unique<Process>(
      std::vector<std::string>{CLIPD_PW_PROBE, "--name", "clipd-rt", "--seconds", "60",
                               "--exit-after-reopens", "1"},
      pw.env(), dir.file("probe.log"));
  ASSERT_TRUE(wait_output(*probe, "open ")) << probe->output();

  const auto rec =
      pw.run_client({tool("clipd-record"), "-o", dir.file("rec"), "-f", "24000", "--wait-ports",
                     "5", "--timeout", "20", "clipd-rt:out_1", "clipd-rt:out_2"},
                    30s);
  EXPECT_EQ(rec.status, 0) << rec.output;
  const auto midi =
      pw.run_client({tool("clipd-midi-send"), "-c", "clipd-rt:midi_in", "--relative", "2400",
                     "0:on:1:60", "10:off:1:60", "20:on:2:61:1", "1000:raw:b07b00"},
                    20s);
  EXPECT_EQ(midi.status, 0) << midi.output;
  auto metadata = [&](const char* key, const char* value) {
    const auto r =
        clipd::test::run({"pw-metadata", "-n", "settings", "0", key, value}, pw.env(), 10s);
    ASSERT_EQ(r.status, 0) << r.output;
  };
  ASSERT_NO_FATAL_FAILURE(metadata("clock.max-quantum", "8192"));
  ASSERT_NO_FATAL_FAILURE(metadata("clock.force-quantum", "8192"));
  EXPECT_TRUE(wait_output(*probe, "bufsize 8192")) << probe->output();
  ASSERT_NO_FATAL_FAILURE(metadata("clock.force-quantum", "64"));
  EXPECT_TRUE(wait_output(*probe, "bufsize 64")) << probe->output();
  ASSERT_NO_FATAL_FAILURE(metadata("clock.force-quantum", "0"));

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
  EXPECT_EQ(count(out, "open "), 2u) << out;
  EXPECT_EQ(count(out, "retire retired"), 2u) << out;
  EXPECT_NE(out.find("midi 4"), std::string::npos) << out;
  EXPECT_NE(out.find("discontinuities 0"), std::string::npos) << out;
  EXPECT_EQ(out.find("RealtimeSanitizer"), std::string::npos) << out;
  EXPECT_EQ(out.find("Real-time violation"), std::string::npos) << out;
}

}  // namespace
