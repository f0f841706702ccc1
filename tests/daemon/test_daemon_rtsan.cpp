// The daemon built with the RealtimeSanitizer runtime (clipd-rtsan), under a real server: a churn
// of commands (load, unload, replace, play, stop, set, pause, resume, master; 16 voices at once)
// must leave it running, with no report. Any allocation, free, lock or system call inside the
// process callback would abort it.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "harness.hpp"

namespace clipd::test {
namespace {

using namespace std::chrono_literals;

TEST(RtsanDaemon, ChurnOfTenThousandCommandsWithoutAReport) {
  std::unique_ptr<TestServer> server = external_server();
  if (!server) server = std::make_unique<JackdServer>();
  TempDir home("clipd-rtsan");
  Clipd clipd(*server, home, Clipd::Options{true, {}});
  clipd.start();
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
  ASSERT_TRUE(clipd.process().running()) << clipd.log();
  EXPECT_EQ(clipd.stop(), 0) << clipd.log();
  EXPECT_EQ(clipd.log().find("Real-time violation"), std::string::npos) << clipd.log();
}

}  // namespace
}  // namespace clipd::test
