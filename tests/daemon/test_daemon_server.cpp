// The whole daemon on a real server, recorded by an independent JACK client.
//
// AnyServer.*: against the server clipd-with-server started (PipeWire under pw-jack), or a
// private jackd. Jackd.*: private jackd servers only (they kill, restart or change the server).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <thread>

#include "harness.hpp"
#include "recording.hpp"
#include "sanitizer.hpp"

namespace clipd::test {
namespace {

using namespace std::chrono_literals;

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    external_ = external_server();
    if (!external_) jackd_ = std::make_unique<JackdServer>();
  }
  TestServer& server() { return external_ ? *external_ : *jackd_; }

  std::unique_ptr<Process> record(const std::string& prefix, std::uint64_t frames) {
    return start_recorder(server(), prefix, frames);
  }

  std::unique_ptr<TestServer> external_;
  std::unique_ptr<JackdServer> jackd_;
  TempDir home_{"clipd-daemon"};
};

using AnyServer = DaemonTest;
using Jackd = DaemonTest;

TEST_F(AnyServer, PlaysClipsBitExactOnTheFrameAsked) {
  Clipd clipd(server(), home_);
  clipd.start();
  Client c(clipd.socket_path());
  const json hello = c.ok({{"cmd", "hello"}});
  ASSERT_TRUE(hello["sample_rate"].is_number()) << hello.dump();
  const auto rate = hello["sample_rate"].get<std::uint32_t>();

  // Stereo and mono clips at the engine's rate, float WAV: the engine must reproduce them exactly.
  const std::uint64_t n = rate / 4;
  const auto stereo = test_signal(n, 2, 1);
  const auto mono = test_signal(n / 2, 1, 2);
  write_wav(home_.file("stereo.wav"), rate, 2, stereo);
  write_wav(home_.file("mono.wav"), rate, 1, mono);
  c.ok({{"cmd", "subscribe"}});
  const json info = c.ok({{"cmd", "load"}, {"name", "st"}, {"path", home_.file("stereo.wav")}});
  EXPECT_EQ(info["frames"], n);
  EXPECT_EQ(info["channels"], 2);
  EXPECT_EQ(info["sample_rate"], rate);
  c.ok({{"cmd", "load"}, {"name", "mo"}, {"path", home_.file("mono.wav")}});

  auto rec = record(home_.file("rec"), rate * 3);
  const std::int64_t now = c.ok({{"cmd", "hello"}})["frame"].get<std::int64_t>();
  const std::int64_t at = now + rate / 2 + 7;  // not on a period boundary
  const std::int64_t at2 = at + static_cast<std::int64_t>(n) + rate / 4;
  const json play = c.ok({{"cmd", "play"}, {"clip", "st"}, {"at_frame", at}});
  c.ok({{"cmd", "play"}, {"clip", "mo"}, {"at_frame", at2}});

  auto started = c.wait_event("voice-started", 10s);
  ASSERT_TRUE(started);
  EXPECT_EQ((*started)["voice"], play["voice"]);
  EXPECT_EQ((*started)["frame"], at);
  EXPECT_EQ((*started)["late"], false);
  auto ended = c.wait_event("voice-ended", 10s);
  ASSERT_TRUE(ended);
  EXPECT_EQ((*ended)["reason"], "finished");
  EXPECT_EQ((*ended)["frame"].get<std::int64_t>() - at, static_cast<std::int64_t>(n));

  ASSERT_EQ(rec->wait_for(30s), std::optional<int>(0)) << rec->output();
  const Recording r = read_recording(home_.file("rec"));
  EXPECT_EQ(r.gaps, 0u);
  const auto first = first_sound(r.samples, 2);
  ASSERT_TRUE(first);
  EXPECT_EQ(static_cast<std::int64_t>(r.first_frame + *first), at);
  const std::uint64_t base = static_cast<std::uint64_t>(at) - r.first_frame;
  ASSERT_LE(base + n, r.frames);
  std::uint64_t mismatches = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    for (std::uint32_t ch = 0; ch < 2; ++ch) {
      if (r.at(base + i, ch) != stereo[i * 2 + ch] && mismatches++ < 5) {
        ADD_FAILURE() << "stereo frame " << i << " channel " << ch << ": " << r.at(base + i, ch)
                      << " != " << stereo[i * 2 + ch];
      }
    }
  }
  // Silence between the two, then the mono clip on both outputs.
  const std::uint64_t base2 = static_cast<std::uint64_t>(at2) - r.first_frame;
  for (std::uint64_t i = base + n; i < base2; ++i) {
    ASSERT_EQ(r.at(i, 0), 0.0f) << i;
    ASSERT_EQ(r.at(i, 1), 0.0f) << i;
  }
  for (std::uint64_t i = 0; i < n / 2; ++i) {
    for (std::uint32_t ch = 0; ch < 2; ++ch) {
      if (r.at(base2 + i, ch) != mono[i] && mismatches++ < 10) {
        ADD_FAILURE() << "mono frame " << i << " channel " << ch;
      }
    }
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_EQ(r.at(base2 + n / 2, 0), 0.0f);
  EXPECT_EQ(clipd.stop(), 0) << clipd.log();
}

TEST_F(Jackd, SigtermExitsCleanlyWithinASecondAndRemovesTheSocket) {
  Clipd clipd(server(), home_);
  clipd.start();
  {
    Client c(clipd.socket_path());
    c.ok({{"cmd", "subscribe"}});
    write_wav(home_.file("long.wav"), 48000, 1, test_signal(48000 * 5, 1, 3));
    c.ok({{"cmd", "load"}, {"name", "long"}, {"path", home_.file("long.wav")}});
    c.ok({{"cmd", "play"}, {"clip", "long"}});
    ASSERT_TRUE(c.wait_event("voice-started", 5s));
    const auto t0 = std::chrono::steady_clock::now();
    clipd.process().signal(SIGTERM);
    auto ended = c.wait_event("voice-ended", 2s);
    ASSERT_TRUE(ended);
    EXPECT_EQ((*ended)["reason"], "shutdown");
    auto status = clipd.process().wait_for(2s);
    const auto elapsed = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(status) << clipd.log();
    EXPECT_EQ(*status, 0) << clipd.log();
    if (!sanitized_build) {  // see sanitizer.hpp
      EXPECT_LT(elapsed, 1s);
    }
  }
  struct stat st {};
  EXPECT_NE(::stat(clipd.socket_path().c_str(), &st), 0) << "socket left behind";
}

TEST_F(Jackd, ClipsComeBackFromTheStateFileAfterACrash) {
  write_wav(home_.file("a.wav"), 48000, 2, test_signal(4800, 2, 4));
  write_wav(home_.file("b.wav"), 48000, 1, test_signal(9600, 1, 5));
  {
    Clipd clipd(server(), home_);
    clipd.start();
    Client c(clipd.socket_path());
    c.ok({{"cmd", "load"}, {"name", "a"}, {"path", home_.file("a.wav")}});
    c.ok({{"cmd", "load"}, {"name", "b"}, {"path", home_.file("b.wav")}});
    c.ok({{"cmd", "load"}, {"name", "gone"}, {"path", home_.file("b.wav")}});
    c.ok({{"cmd", "unload"}, {"name", "gone"}});
    clipd.kill_hard();
  }
  // A SIGKILLed client wedges jackd 1.9.21 in sync mode: start a fresh server.
  jackd_->restart();
  // A file that went missing meanwhile is skipped; the others load.
  write_wav(home_.file("c.wav"), 48000, 1, test_signal(100, 1, 6));
  ::unlink(home_.file("b.wav").c_str());
  Clipd again(server(), home_);
  again.start();
  Client c(again.socket_path());
  // The state file's clips load after the socket answers; `info` fails until "a" is there.
  const json info = c.poll(
      {{"cmd", "info"}, {"name", "a"}}, [](const json&) { return true; }, 15s);
  EXPECT_EQ(info["frames"], 4800);
  EXPECT_EQ(info["path"], home_.file("a.wav"));
  const json list = c.ok({{"cmd", "list"}});
  ASSERT_EQ(list["clips"].size(), 1u) << list.dump();
  EXPECT_EQ(list["clips"][0]["name"], "a");
  EXPECT_EQ(c.request({{"cmd", "info"}, {"name", "b"}})["error"]["code"], "clip-not-found");
  EXPECT_NE(again.log().find("b.wav"), std::string::npos) << "the missing file is logged";
}

TEST_F(Jackd, SurvivesTheServerDyingFiveTimesAndRestoresConnections) {
  Clipd clipd(server(), home_);
  clipd.start();
  Client c(clipd.socket_path());
  c.ok({{"cmd", "subscribe"}});
  write_wav(home_.file("t.wav"), 48000, 2, test_signal(2400, 2, 7));
  c.ok({{"cmd", "load"}, {"name", "t"}, {"path", home_.file("t.wav")}});
  ASSERT_EQ(server().run_client({"jack_connect", "clipd:out_1", "system:playback_1"}).status, 0);
  ASSERT_EQ(server().run_client({"jack_connect", "clipd:out_2", "system:playback_2"}).status, 0);
  // clipd remembers its ports' connections a poll after JACK reports them, and logs them then.
  const std::string both =
      "port connections remembered: out_1 -> system:playback_1, out_2 -> system:playback_2";
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (clipd.log().find(both) == std::string::npos) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << clipd.log();
    std::this_thread::sleep_for(10ms);  // polling pace: the log is the state
  }

  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    c.ok({{"cmd", "play"}, {"clip", "t"}, {"loop", true}});
    ASSERT_TRUE(c.wait_event("voice-started", 5s));
    jackd_->kill_hard();
    ASSERT_TRUE(c.wait_event("engine-offline", 5s)) << clipd.report();
    c.events().clear();  // what came before going offline, the first engine-online included
    auto ended = c.wait_event("voice-ended", 5s);
    ASSERT_TRUE(ended);
    EXPECT_EQ((*ended)["reason"], "offline");
    EXPECT_EQ(c.ok({{"cmd", "status"}})["engine"], "offline");
    EXPECT_EQ(c.request({{"cmd", "play"}, {"clip", "t"}})["error"]["code"], "engine-offline");
    const auto back = std::chrono::steady_clock::now();
    jackd_->start();
    auto online = c.wait_event("engine-online", 5s);
    ASSERT_TRUE(online) << clipd.report();
    EXPECT_EQ((*online)["sample_rate"], 48000);
    const json play = c.ok({{"cmd", "play"}, {"clip", "t"}});
    auto started = c.wait_event("voice-started", 5s);
    ASSERT_TRUE(started);
    EXPECT_EQ((*started)["voice"], play["voice"]);
    if (!sanitized_build) {                                         // see sanitizer.hpp
      EXPECT_LT(std::chrono::steady_clock::now() - back, 2s + 1s);  // 2 s, plus server start-up
    }
    ASSERT_TRUE(c.wait_event("voice-ended", 5s));
    const auto connections = server().connections();
    auto has = [&](const std::string& a, const std::string& b) {
      for (const auto& l : connections) {
        if (l == a + " -> " + b) return true;
      }
      return false;
    };
    EXPECT_TRUE(has("clipd:out_1", "system:playback_1"));
    EXPECT_TRUE(has("clipd:out_2", "system:playback_2"));
    EXPECT_EQ(c.ok({{"cmd", "list"}})["clips"].size(), 1u);
  }
}

TEST_F(Jackd, ClipsAreResampledWhenTheServerComesBackAtAnotherRate) {
  Clipd clipd(server(), home_);
  clipd.start();
  Client c(clipd.socket_path());
  c.ok({{"cmd", "subscribe"}});
  // One second of a 1 kHz sine at 48 kHz.
  std::vector<float> sine(48000);
  for (std::size_t i = 0; i < sine.size(); ++i) {
    sine[i] =
        0.5f * static_cast<float>(std::sin(2 * M_PI * 1000.0 * static_cast<double>(i) / 48000));
  }
  write_wav(home_.file("sine.wav"), 48000, 1, sine);
  // The first connection may still be retrying on a slow machine: the server goes only once
  // clipd is on it, or no engine-offline would follow.
  c.poll({{"cmd", "status"}}, [](const json& r) { return r["engine"] == "online"; });
  EXPECT_EQ(c.ok({{"cmd", "load"}, {"name", "s"}, {"path", home_.file("sine.wav")}})["sample_rate"],
            48000);
  jackd_->stop();
  ASSERT_TRUE(c.wait_event("engine-offline", 5s)) << clipd.report();
  c.events().clear();  // what came before going offline, the first engine-online included
  jackd_->start(44100);
  auto online = c.wait_event("engine-online", 5s);
  ASSERT_TRUE(online) << clipd.report();
  EXPECT_EQ((*online)["sample_rate"], 44100) << online->dump();
  // `info` waits for the new decode.
  const json info = c.ok({{"cmd", "info"}, {"name", "s"}});
  EXPECT_EQ(info["sample_rate"], 44100);
  EXPECT_EQ(info["source_sample_rate"], 48000);
  EXPECT_EQ(info["frames"], 44100);

  auto rec = record(home_.file("rec"), 44100 * 2);
  const std::int64_t at = c.ok({{"cmd", "hello"}})["frame"].get<std::int64_t>() + 22050;
  c.ok({{"cmd", "play"}, {"clip", "s"}, {"at_frame", at}});
  ASSERT_EQ(rec->wait_for(30s), std::optional<int>(0)) << rec->output();
  const Recording r = read_recording(home_.file("rec"));
  // Count rising zero crossings over the middle half second: 1 kHz means 500 of them at any rate.
  const std::uint64_t from = static_cast<std::uint64_t>(at) - r.first_frame + 11025;
  int crossings = 0;
  for (std::uint64_t i = from; i < from + 22050; ++i) {
    if (r.at(i, 0) < 0 && r.at(i + 1, 0) >= 0) ++crossings;
  }
  EXPECT_NEAR(crossings, 500, 1);
}

}  // namespace
}  // namespace clipd::test
