// The control protocol against the real daemon on a private jackd: ordering around slow loads,
// cancellation, errors that leave the connection usable, and clip bookkeeping.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>

#include "harness.hpp"

namespace clipd::test {
namespace {

using namespace std::chrono_literals;

class Control : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    home_ = new TempDir("clipd-control");
    jackd_ = new JackdServer();
    clipd_ = new Clipd(*jackd_, *home_);
    clipd_->start();
    // A file whose decode takes a while: two minutes of 96 kHz stereo FLAC, resampled to 48 kHz.
    const auto r = run({"sox", "-n", "-r", "96000", "-c", "2", home_->file("slow.flac"), "synth",
                        "120", "sine", "440", "sine", "660"},
                       {}, 60s);
    ASSERT_EQ(r.status, 0) << r.output;
    write_wav(home_->file("short.wav"), 48000, 1, test_signal(4800, 1, 9));
  }
  static void TearDownTestSuite() {
    delete clipd_;
    delete jackd_;
    delete home_;
  }
  static TempDir* home_;
  static JackdServer* jackd_;
  static Clipd* clipd_;
};
TempDir* Control::home_ = nullptr;
JackdServer* Control::jackd_ = nullptr;
Clipd* Control::clipd_ = nullptr;

TEST_F(Control, APingAfterASlowLoadIsAnsweredFirstAndAPlayOfThatClipWaitsForIt) {
  Client c(clipd_->socket_path());
  c.ok({{"cmd", "subscribe"}, {"events", {"clip-loaded", "voice-started"}}});
  c.send_line(R"({"id":"load","cmd":"load","name":"slow","path":")" + home_->file("slow.flac") +
              R"("})");
  c.send_line(R"({"id":"play","cmd":"play","clip":"slow","gain_db":-60})");
  c.send_line(R"({"id":"ping","cmd":"ping"})");
  std::vector<std::string> order;
  while (order.size() < 3) {
    auto m = c.read_message(30s);
    ASSERT_TRUE(m) << "missing replies after " << order.size();
    if (m->contains("event")) {
      order.push_back("event:" + (*m)["event"].get<std::string>());
      continue;
    }
    ASSERT_EQ((*m)["ok"], true) << m->dump();
    order.push_back((*m)["id"].get<std::string>());
    if ((*m)["id"] == "load") {
      EXPECT_EQ((*m)["result"]["sample_rate"], 48000);
      EXPECT_EQ((*m)["result"]["source_sample_rate"], 96000);
      EXPECT_EQ((*m)["result"]["frames"], 48000 * 120);
    }
  }
  // The ping overtakes the load; the play waits for the load and is answered after it.
  ASSERT_EQ(order[0], "ping");
  EXPECT_EQ(order[1], "load");
  auto play_at = std::find(order.begin(), order.end(), "play");
  if (play_at == order.end()) {
    auto m = c.read_message(10s);
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["id"], "play");
  }
  c.ok({{"cmd", "stop"}, {"clip", "slow"}, {"fade_s", 0}});
  c.ok({{"cmd", "unload"}, {"name", "slow"}});
}

TEST_F(Control, UnloadDuringALoadCancelsIt) {
  Client a(clipd_->socket_path());
  Client b(clipd_->socket_path());
  // Commands on one connection run in the order they arrive, and a load is under way before the
  // next line is read: the ping's reply proves the daemon has started the load.
  a.send_line(R"({"id":1,"cmd":"load","name":"big","path":")" + home_->file("slow.flac") + R"("})");
  a.send_line(R"({"id":"p1","cmd":"ping"})");
  auto reply = a.read_message(20s);
  ASSERT_TRUE(reply);
  ASSERT_EQ((*reply)["id"], "p1") << "the ping overtakes the slow load: " << reply->dump();
  b.ok({{"cmd", "unload"}, {"name", "big"}});
  reply = a.read_message(20s);
  ASSERT_TRUE(reply);
  EXPECT_EQ((*reply)["id"], 1);
  EXPECT_EQ((*reply)["ok"], false);
  EXPECT_EQ((*reply)["error"]["code"], "cancelled");
  EXPECT_EQ(b.request({{"cmd", "info"}, {"name", "big"}})["error"]["code"], "clip-not-found");
  // A replace cancels the load in progress the same way.
  a.send_line(R"({"id":2,"cmd":"load","name":"r","path":")" + home_->file("slow.flac") + R"("})");
  a.send_line(R"({"id":"p2","cmd":"ping"})");
  reply = a.read_message(20s);
  ASSERT_TRUE(reply);
  ASSERT_EQ((*reply)["id"], "p2") << reply->dump();
  const json info =
      b.ok({{"cmd", "load"}, {"name", "r"}, {"path", home_->file("short.wav")}, {"replace", true}});
  EXPECT_EQ(info["frames"], 4800);
  reply = a.read_message(20s);
  ASSERT_TRUE(reply);
  EXPECT_EQ((*reply)["id"], 2);
  EXPECT_EQ((*reply)["error"]["code"], "cancelled");
  b.ok({{"cmd", "unload"}, {"name", "r"}});
}

TEST_F(Control, BadLinesGetErrorsAndTheConnectionStaysUsable) {
  Client c(clipd_->socket_path());
  struct Case {
    std::string line;
    std::string code;
    json id;
  } cases[] = {
      {"{not json", "bad-json", nullptr},
      {R"({"id":5,"cmd":"play"})", "bad-request", 5},
      {R"({"id":"x","cmd":"play","clip":"a","gain_db":99})", "bad-request", "x"},
      {R"({"id":1.0,"cmd":"ping"})", "bad-request", 1.0},
      {R"({"id":6,"cmd":"frobnicate"})", "unknown-command", 6},
      {R"({"id":7,"cmd":"ping","extra":1})", "bad-request", 7},
      {R"({"id":8,"cmd":"play","clip":"nope"})", "clip-not-found", 8},
      {R"({"id":9,"cmd":"stop","voice":123456})", "voice-not-found", 9},
      {R"({"id":10,"cmd":"set","voice":0,"gain_db":-3})", "voice-not-found", 10},
      {R"({"id":11,"cmd":"unload","name":"nope"})", "clip-not-found", 11},
      {R"({"id":12,"cmd":"load","name":"m","path":"/nonexistent/x.wav"})", "file-not-found", 12},
      {R"({"id":13,"cmd":"load","name":"m","path":"/"})", "unsupported-format", 13},
      // Only clipd-rtsan knows this one (tests/daemon/test_daemon_rtsan.cpp).
      {R"({"id":14,"cmd":"debug-rt-alloc"})", "unknown-command", 14},
  };
  for (const auto& tc : cases) {
    c.send_line(tc.line);
    auto reply = c.read_message(10s);
    ASSERT_TRUE(reply) << tc.line;
    EXPECT_EQ((*reply)["ok"], false) << tc.line;
    EXPECT_EQ((*reply)["error"]["code"], tc.code) << tc.line << " -> " << reply->dump();
    EXPECT_EQ((*reply)["id"], tc.id) << tc.line;
    EXPECT_FALSE((*reply)["error"]["message"].get<std::string>().empty());
  }
  EXPECT_EQ(c.request({{"cmd", "ping"}})["ok"], true);
  // The failed loads left nothing behind.
  EXPECT_EQ(c.request({{"cmd", "info"}, {"name", "m"}})["error"]["code"], "clip-not-found");
}

TEST_F(Control, ClipBookkeepingAndPositionsPastTheEnd) {
  Client c(clipd_->socket_path());
  const json info = c.ok({{"cmd", "load"}, {"name", "s"}, {"path", home_->file("short.wav")}});
  EXPECT_EQ(info["name"], "s");
  EXPECT_EQ(info["path"], home_->file("short.wav"));
  EXPECT_EQ(info["channels"], 1);
  EXPECT_DOUBLE_EQ(info["duration_s"].get<double>(), 0.1);
  EXPECT_EQ(info["locked"], true);
  EXPECT_GE(info["bytes"].get<std::int64_t>(), 4800 * 4);
  EXPECT_EQ(
      c.request(
          {{"cmd", "load"}, {"name", "s"}, {"path", home_->file("short.wav")}})["error"]["code"],
      "clip-exists");
  EXPECT_EQ(c.ok({{"cmd", "info"}, {"name", "s"}}), info);
  for (const json& bad : {json{{"cmd", "play"}, {"clip", "s"}, {"offset_s", 0.2}},
                          json{{"cmd", "play"}, {"clip", "s"}, {"loop_start_s", 0.5}},
                          json{{"cmd", "play"}, {"clip", "s"}, {"loop_end_s", 0.2}}}) {
    const json reply = c.request(bad);
    EXPECT_EQ(reply["error"]["code"], "bad-request") << bad.dump();
  }
  const json status = c.ok({{"cmd", "status"}});
  EXPECT_EQ(status["engine"], "online");
  EXPECT_EQ(status["sample_rate"], 48000);
  EXPECT_GE(status["memory_bytes"].get<std::int64_t>(), info["bytes"].get<std::int64_t>());
  EXPECT_EQ(status["max_voices"], 256);
  // stop by clip, group and all count the voices told to stop.
  c.ok({{"cmd", "subscribe"}});
  const json v1 = c.ok({{"cmd", "play"}, {"clip", "s"}, {"loop", true}, {"group", "g"}});
  c.ok({{"cmd", "play"}, {"clip", "s"}, {"loop", true}});
  EXPECT_EQ(c.ok({{"cmd", "stop"}, {"group", "g"}})["stopped"], 1);
  EXPECT_EQ(c.ok({{"cmd", "stop"}, {"group", "none"}})["stopped"], 0);
  EXPECT_EQ(c.ok({{"cmd", "stop"}, {"all", true}})["stopped"], 1);
  int ended = 0;
  while (ended < 2) {
    auto e = c.wait_event("voice-ended", 5s);
    ASSERT_TRUE(e);
    EXPECT_EQ((*e)["reason"], "stopped");
    ++ended;
  }
  EXPECT_EQ(c.request({{"cmd", "stop"}, {"voice", v1["voice"]}})["error"]["code"],
            "voice-not-found");
  c.ok({{"cmd", "unload"}, {"name", "s"}});
  EXPECT_TRUE(c.wait_event("clip-unloaded", 5s));
  EXPECT_EQ(c.ok({{"cmd", "list"}})["clips"].size(), 0u);
}

TEST_F(Control, VoicesAndMetersReportWhatPlays) {
  Client c(clipd_->socket_path());
  write_wav(home_->file("dc.wav"), 48000, 1, std::vector<float>(48000, 0.5f));
  c.ok({{"cmd", "load"}, {"name", "dc"}, {"path", home_->file("dc.wav")}});
  c.ok({{"cmd", "subscribe"}, {"events", {"voice-started"}}});
  const json v = c.ok({{"cmd", "play"},
                       {"clip", "dc"},
                       {"loop", true},
                       {"group", "pads"},
                       {"gain_db", -6},
                       {"pan", 0.5}});
  const auto started = c.wait_event("voice-started", 5s);
  ASSERT_TRUE(started);
  // The meters cover the last 100 ms: wait until the engine has played 200 ms of the voice.
  const std::int64_t full = (*started)["frame"].get<std::int64_t>() + 48000 / 5;
  c.poll({{"cmd", "status"}}, [&](const json& s) { return s["frame"].get<std::int64_t>() > full; });
  const json voices = c.ok({{"cmd", "voices"}});
  ASSERT_EQ(voices["voices"].size(), 1u) << voices.dump();
  const json& one = voices["voices"][0];
  EXPECT_EQ(one["voice"], v["voice"]);
  EXPECT_EQ(one["clip"], "dc");
  EXPECT_EQ(one["state"], "playing");
  EXPECT_EQ(one["group"], "pads");
  EXPECT_TRUE(one["remaining_s"].is_null());  // loops forever
  EXPECT_NEAR(one["gain_db"].get<double>(), -6.0, 1e-3);
  EXPECT_DOUBLE_EQ(one["pan"].get<double>(), 0.5);
  const json meters = c.ok({{"cmd", "meters"}});
  ASSERT_EQ(meters["peak_db"].size(), 2u);
  // 0.5 at -6 dB: left gets min(1, 1 - 0.5) = 0.5 of it, right unity.
  const double gain = std::pow(10.0, -6.0 / 20.0);
  EXPECT_NEAR(meters["peak_db"][0].get<double>(), 20 * std::log10(0.5 * 0.5 * gain), 0.05);
  EXPECT_NEAR(meters["peak_db"][1].get<double>(), 20 * std::log10(0.5 * gain), 0.05);
  EXPECT_NEAR(meters["rms_db"][1].get<double>(), 20 * std::log10(0.5 * gain), 0.05);
  c.ok({{"cmd", "pause"}, {"voice", v["voice"]}});
  // `paused` from the moment the engine takes the pause, which no event announces.
  const json paused = c.poll({{"cmd", "voices"}}, [](const json& r) {
    return r["voices"].size() == 1 && r["voices"][0]["state"] == "paused";
  });
  EXPECT_EQ(paused["voices"][0]["voice"], v["voice"]);
  c.ok({{"cmd", "resume"}, {"voice", v["voice"]}});
  c.ok({{"cmd", "master"}, {"gain_db", -20}});
  EXPECT_DOUBLE_EQ(c.ok({{"cmd", "status"}})["master_gain_db"].get<double>(), -20.0);
  c.ok({{"cmd", "master"}, {"gain_db", 0}});
  c.ok({{"cmd", "stop"}, {"all", true}, {"fade_s", 0}});
  c.ok({{"cmd", "unload"}, {"name", "dc"}});
}

}  // namespace
}  // namespace clipd::test
