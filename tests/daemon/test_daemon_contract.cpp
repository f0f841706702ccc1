// What clipd-protocol(7) promises, against the real daemon on a private jackd: clips restored or
// loaded across a change of sample rate end at the engine's rate, a `load` of a name still
// loading waits for that load, a replace announces the old clip's release, `stop` counts only
// voices not already stopping, and `status` counts only loaded clips. Every request gets
// exactly one reply.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <memory>
#include <string>
#include <vector>

#include "harness.hpp"

namespace clipd::test {
namespace {

using namespace std::chrono_literals;

// Five minutes of 44.1 kHz stereo FLAC: its decode, resampled to 48 kHz, takes more than a
// second of CPU time (the loader's threads run niced, so a busy machine only slows it further),
// several times what the daemon needs to see a new server (a reconnection delay of 0.2 s plus
// JACK's own start-up of the client).
constexpr std::uint64_t kLongFrames = 44100 * 300;

class Contract : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    files_ = new TempDir("clipd-contract-files");
    // A file whose load takes a while. Commands pipelined behind its load in one write find it
    // still loading: the daemon takes the lines of one read in a row, before any load can end.
    auto r = run({"sox", "-n", "-r", "44100", "-c", "2", files_->file("slow44.flac"), "synth",
                  "120", "sine", "440", "sine", "660"},
                 {}, 60s);
    ASSERT_EQ(r.status, 0) << r.output;
    r = run({"sox", "-n", "-r", "44100", "-c", "2", files_->file("long44.flac"), "synth", "300",
             "sine", "440", "sine", "660"},
            {}, 120s);
    ASSERT_EQ(r.status, 0) << r.output;
    // The same stream with its last third overwritten by garbage: it opens and decodes for a
    // while, then fails (decode-failed: a stream merely cut short would load what it holds).
    {
      std::ifstream in(files_->file("slow44.flac"), std::ios::binary);
      std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      std::mt19937 rng(9);
      for (std::size_t i = bytes.size() * 2 / 3; i < bytes.size(); ++i)
        bytes[i] = static_cast<char>(rng());
      std::ofstream out(files_->file("corrupt.flac"), std::ios::binary);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    write_wav(files_->file("short.wav"), 48000, 1, test_signal(4800, 1, 21));
    write_wav(files_->file("other.wav"), 48000, 1, test_signal(9600, 1, 22));
    write_wav(files_->file("one44.wav"), 44100, 1, test_signal(44100, 1, 23));
  }
  static void TearDownTestSuite() {
    delete files_;
    files_ = nullptr;
  }
  static std::string file(const std::string& name) { return files_->file(name); }

  // clipd exits cleanly (and, in sanitizer builds, without a report).
  void TearDown() override {
    if (clipd_) {
      EXPECT_EQ(clipd_->stop(), 0) << clipd_->log();
    }
  }

  // Starts clipd with `config` (a clipd.conf(5) JSON object) as its configuration file.
  void start_clipd(const json& config = json::object()) {
    ::mkdir(home_.file("config").c_str(), 0700);
    ::mkdir(home_.file("config/clipd").c_str(), 0700);
    std::ofstream(home_.file("config/clipd/config.json")) << config.dump() << "\n";
    clipd_ = std::make_unique<Clipd>(jackd_, home_);
    clipd_->start();
  }

  // Reads until `n` replies have come (events are kept on the client); returns them in order.
  static std::vector<json> replies(Client& c, std::size_t n,
                                   std::chrono::milliseconds timeout = 30s) {
    std::vector<json> out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      auto m = c.read_message(std::max(left, 1ms));
      if (!m) {
        ADD_FAILURE() << "only " << out.size() << " of " << n << " replies came";
        break;
      }
      if (m->contains("event")) {
        c.events().push_back(std::move(*m));
      } else {
        out.push_back(std::move(*m));
      }
    }
    return out;
  }

  // No reply is still on its way: the next reply is the one to a fresh ping.
  static void expect_no_stray_reply(Client& c) {
    c.send_line(R"({"id":"quiet","cmd":"ping"})");
    const auto next = replies(c, 1, 10s);
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(next[0]["id"], "quiet") << "a reply too many: " << next[0].dump();
  }

  static TempDir* files_;
  JackdServer jackd_;
  TempDir home_{"clipd-contract"};
  std::unique_ptr<Clipd> clipd_;
};
TempDir* Contract::files_ = nullptr;

// A state file names a 44.1 kHz clip; the server runs at 48 kHz. The clip must be decoded at
// 48 kHz and given to the engine: `info` and `play` naming it get their replies.
TEST_F(Contract, AClipRestoredAtAnotherRateIsResampledToTheEngineRate) {
  ::mkdir(home_.file("state").c_str(), 0700);
  ::mkdir(home_.file("state/clipd").c_str(), 0700);
  const json state = {{"version", 1},
                      {"clips", {{{"name", "c44"}, {"path", file("one44.wav")}}}},
                      {"bindings", json::array()}};
  std::ofstream(home_.file("state/clipd/state.json")) << state.dump() << "\n";
  start_clipd();
  Client c(clipd_->socket_path());
  c.ok({{"cmd", "subscribe"}, {"events", {"voice-started"}}});

  const json info = c.ok({{"cmd", "info"}, {"name", "c44"}}, 15s);
  EXPECT_EQ(info["sample_rate"], 48000);
  EXPECT_EQ(info["source_sample_rate"], 44100);
  EXPECT_EQ(info["frames"], 48000);  // one second
  EXPECT_EQ(info["path"], file("one44.wav"));

  const json play = c.ok({{"cmd", "play"}, {"clip", "c44"}, {"gain_db", -60}}, 15s);
  const auto started = c.wait_event("voice-started", 10s);
  ASSERT_TRUE(started);
  EXPECT_EQ((*started)["voice"], play["voice"]);
  EXPECT_EQ((*started)["clip"], "c44");

  const json status = c.ok({{"cmd", "status"}});
  EXPECT_EQ(status["clips"], 1);
  EXPECT_EQ(status["clips_loading"], 0);
  expect_no_stray_reply(c);
}

// The server goes away and comes back at 44.1 kHz while a 44.1 kHz file is being decoded for the
// old 48 kHz engine: the clip must end at 44.1 kHz, and the load gets one reply.
TEST_F(Contract, ALoadRunningAcrossARateChangeEndsAtTheNewRate) {
  start_clipd();
  Client c(clipd_->socket_path());
  c.ok({{"cmd", "subscribe"}, {"events", {"engine-online", "engine-offline"}}});
  // The ping's reply proves the daemon has taken the load and handed it to its loader. Decoded
  // whole (stream false): a streamed load would end at once.
  c.send_line(R"({"id":"load","cmd":"load","name":"long","path":")" + file("long44.flac") +
              R"(","stream":false})" + "\n" + R"({"id":"ping","cmd":"ping"})");
  auto first = replies(c, 1);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(first[0]["id"], "ping") << first[0].dump();
  // Frozen, clipd's decode makes no progress while the server is replaced; the daemon sees the
  // change within a reconnection delay of thawing, long before the decode can end.
  clipd_->process().signal(SIGSTOP);
  jackd_.kill_hard();
  jackd_.start(44100);
  clipd_->process().signal(SIGCONT);

  // Everything up to the load's reply, in order: the reply must follow the new engine's
  // engine-online, so the load was still running when the rate changed (else this test proves
  // nothing). The first engine's engine-online may come first, after the subscribe.
  const auto load = replies(c, 1, 60s);
  ASSERT_EQ(load.size(), 1u);
  bool offline = false;
  bool online = false;
  for (const json& e : c.events()) {
    if (e["event"] == "engine-offline") offline = true;
    if (e["event"] == "engine-online" && offline) {
      EXPECT_EQ(e["sample_rate"], 44100) << e.dump();
      online = true;
    }
  }
  EXPECT_TRUE(offline);
  ASSERT_TRUE(online) << "the load ended before the new server came up";
  EXPECT_EQ(load[0]["id"], "load");
  ASSERT_EQ(load[0]["ok"], true) << load[0].dump();
  EXPECT_EQ(load[0]["result"]["sample_rate"], 44100);
  EXPECT_EQ(load[0]["result"]["source_sample_rate"], 44100);
  EXPECT_EQ(load[0]["result"]["frames"], kLongFrames);

  const json info = c.ok({{"cmd", "info"}, {"name", "long"}}, 15s);
  EXPECT_EQ(info["sample_rate"], 44100);
  EXPECT_EQ(info["frames"], kLongFrames);
  c.ok({{"cmd", "subscribe"}, {"events", {"voice-started"}}});
  const json play = c.ok({{"cmd", "play"}, {"clip", "long"}, {"gain_db", -60}}, 15s);
  const auto started = c.wait_event("voice-started", 10s);
  ASSERT_TRUE(started);
  EXPECT_EQ((*started)["voice"], play["voice"]);
  c.ok({{"cmd", "stop"}, {"all", true}, {"fade_s", 0}});
  expect_no_stray_reply(c);
}

// clipd-protocol(7), ORDERING: a command naming a clip still loading waits for that load, then
// runs; for `load` that is `clip-exists` after a success, a load of its own after a failure or a
// cancellation. Each pair below is sent in one write, so the second `load` arrives while the
// first is still loading.
TEST_F(Contract, ALoadOfANameStillLoadingWaitsForThatLoad) {
  start_clipd();
  Client c(clipd_->socket_path());
  // A load that starts before the engine knows its rate decodes at the file's own rate and is
  // resampled later: the frame counts below are the engine's, so the engine comes first.
  c.poll({{"cmd", "status"}}, [](const json& st) { return st["engine"] == "online"; });
  auto load = [](const std::string& id, const std::string& name, const std::string& path) {
    return json{{"id", id}, {"cmd", "load"}, {"name", name}, {"path", path}}.dump();
  };

  // The first load succeeds: the second is clip-exists, after it.
  c.send_line(load("first", "w", file("slow44.flac")) + "\n" +
              load("second", "w", file("short.wav")));
  auto r = replies(c, 2);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["id"], "first");
  EXPECT_EQ(r[0]["ok"], true) << r[0].dump();
  EXPECT_EQ(r[0]["result"]["frames"], 48000 * 120);
  EXPECT_EQ(r[1]["id"], "second");
  EXPECT_EQ(r[1]["ok"], false);
  EXPECT_EQ(r[1]["error"]["code"], "clip-exists") << r[1].dump();
  EXPECT_EQ(c.ok({{"cmd", "info"}, {"name", "w"}})["path"], file("slow44.flac"));
  c.ok({{"cmd", "unload"}, {"name", "w"}});

  // The first load fails part way: the second loads its own file.
  c.send_line(load("bad", "f", file("corrupt.flac")) + "\n" +
              load("retry", "f", file("short.wav")));
  r = replies(c, 2);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["id"], "bad");
  EXPECT_EQ(r[0]["error"]["code"], "decode-failed") << r[0].dump();
  EXPECT_EQ(r[1]["id"], "retry");
  ASSERT_EQ(r[1]["ok"], true) << r[1].dump();
  EXPECT_EQ(r[1]["result"]["frames"], 4800);
  EXPECT_EQ(r[1]["result"]["path"], file("short.wav"));
  EXPECT_EQ(c.ok({{"cmd", "info"}, {"name", "f"}})["path"], file("short.wav"));

  // The first load is cancelled by an unload: the waiting load then runs and loads.
  c.send_line(load("c1", "c", file("slow44.flac")) + "\n" + load("c2", "c", file("short.wav")) +
              "\n" + R"({"id":"u","cmd":"unload","name":"c"})");
  r = replies(c, 3);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0]["id"], "c1");
  EXPECT_EQ(r[0]["error"]["code"], "cancelled") << r[0].dump();
  EXPECT_EQ(r[1]["id"], "u");
  EXPECT_EQ(r[1]["ok"], true);
  EXPECT_EQ(r[2]["id"], "c2");
  ASSERT_EQ(r[2]["ok"], true) << r[2].dump();
  EXPECT_EQ(r[2]["result"]["frames"], 4800);
  const json list = c.ok({{"cmd", "list"}});
  ASSERT_EQ(list["clips"].size(), 2u) << list.dump();
  EXPECT_EQ(list["clips"][0]["name"], "c");
  EXPECT_EQ(list["clips"][1]["name"], "f");
  expect_no_stray_reply(c);
}

// clip-unloaded: "Sent when the clip's memory has been freed, after unload or a load with
// replace." Once with the engine holding the old clip (freed when it hands it back), once offline
// (freed at once).
TEST_F(Contract, AReplaceAnnouncesTheOldClipsRelease) {
  start_clipd();
  Client c(clipd_->socket_path());
  c.ok({{"cmd", "subscribe"}});
  const json a = c.ok({{"cmd", "load"}, {"name", "r"}, {"path", file("short.wav")}});
  const json play = c.ok({{"cmd", "play"}, {"clip", "r"}, {"loop", true}, {"gain_db", -60}});
  ASSERT_TRUE(c.wait_event("voice-started", 10s));
  ASSERT_TRUE(c.wait_event("clip-loaded", 10s));

  const json b =
      c.ok({{"cmd", "load"}, {"name", "r"}, {"path", file("other.wav")}, {"replace", true}});
  EXPECT_EQ(b["frames"], 9600);
  const auto ended = c.wait_event("voice-ended", 10s);
  ASSERT_TRUE(ended);
  EXPECT_EQ((*ended)["voice"], play["voice"]);
  EXPECT_EQ((*ended)["reason"], "unloaded");
  auto unloaded = c.wait_event("clip-unloaded", 10s);
  ASSERT_TRUE(unloaded) << "no clip-unloaded for the replaced clip";
  EXPECT_EQ(*unloaded, (json{{"event", "clip-unloaded"}, {"name", "r"}}));
  // Freed by then: only the new clip's memory is held.
  EXPECT_EQ(c.ok({{"cmd", "status"}})["memory_bytes"], b["bytes"]);

  jackd_.stop();
  ASSERT_TRUE(c.wait_event("engine-offline", 10s));
  const json again =
      c.ok({{"cmd", "load"}, {"name", "r"}, {"path", file("short.wav")}, {"replace", true}});
  EXPECT_EQ(again["frames"], 4800);
  unloaded = c.wait_event("clip-unloaded", 10s);
  ASSERT_TRUE(unloaded) << "no clip-unloaded for the clip replaced offline";
  EXPECT_EQ(*unloaded, (json{{"event", "clip-unloaded"}, {"name", "r"}}));
  EXPECT_EQ(c.ok({{"cmd", "status"}})["memory_bytes"], a["bytes"]);
  for (const json& e : c.events()) {
    EXPECT_NE(e["event"], "clip-unloaded") << "one clip-unloaded per freed clip";
  }
  expect_no_stray_reply(c);
}

// `stopped` is "the number of voices told to stop that were not already stopping": a choked
// voice, or a voice an earlier stop is fading out, is not counted again. A one-second declick
// keeps the choked voice fading while the stop acts.
TEST_F(Contract, StopCountsOnlyVoicesNotAlreadyStopping) {
  start_clipd({{"declick_ms", 1000}});
  Client c(clipd_->socket_path());
  c.ok({{"cmd", "load"}, {"name", "pad"}, {"path", file("short.wav")}});
  c.ok({{"cmd", "subscribe"}, {"events", {"voice-started", "voice-ended"}}});
  const json first = c.ok({{"cmd", "play"}, {"clip", "pad"}, {"loop", true}, {"group", "g"}});
  ASSERT_TRUE(c.wait_event("voice-started", 10s));
  const json second = c.ok({{"cmd", "play"}, {"clip", "pad"}, {"loop", true}, {"group", "g"}});
  const auto second_started = c.wait_event("voice-started", 10s);
  ASSERT_TRUE(second_started);
  EXPECT_EQ((*second_started)["voice"], second["voice"]);
  // The first voice is fading out (choked) now; only the second is told to stop.
  EXPECT_EQ(c.ok({{"cmd", "stop"}, {"group", "g"}})["stopped"], 1);
  for (int i = 0; i < 2; ++i) {
    const auto ended = c.wait_event("voice-ended", 10s);
    ASSERT_TRUE(ended);
    if ((*ended)["voice"] == first["voice"]) {
      EXPECT_EQ((*ended)["reason"], "choked");
      // Its whole one-second fade ran: the stop did not touch it.
      EXPECT_EQ(
          (*ended)["frame"].get<std::int64_t>() - (*second_started)["frame"].get<std::int64_t>(),
          48000);
    } else {
      EXPECT_EQ((*ended)["voice"], second["voice"]);
      EXPECT_EQ((*ended)["reason"], "stopped");
    }
  }

  // A stop timed half a second ahead, then one at once: the one at once stops the voice; the
  // timed one finds it fading and counts nothing.
  const json third = c.ok({{"cmd", "play"}, {"clip", "pad"}, {"loop", true}});
  ASSERT_TRUE(c.wait_event("voice-started", 10s));
  const std::string voice = third["voice"].dump();
  c.send_line(R"({"id":"later","cmd":"stop","voice":)" + voice + R"(,"in_s":0.5,"fade_s":0.9})" +
              "\n" + R"({"id":"now","cmd":"stop","voice":)" + voice + R"(,"fade_s":0.8})");
  const auto r = replies(c, 2);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["id"], "now");
  EXPECT_EQ(r[0]["result"]["stopped"], 1) << r[0].dump();
  EXPECT_EQ(r[1]["id"], "later");
  EXPECT_EQ(r[1]["result"]["stopped"], 0) << r[1].dump();
  const auto ended = c.wait_event("voice-ended", 10s);
  ASSERT_TRUE(ended);
  EXPECT_EQ((*ended)["reason"], "stopped");
  EXPECT_EQ(c.ok({{"cmd", "stop"}, {"all", true}})["stopped"], 0);
  expect_no_stray_reply(c);
}

// A stop scheduled ahead is answered when it acts, since only then is its count known; if the
// server goes away first, with `stopped: 0` (its voices end with reason offline).
TEST_F(Contract, AScheduledStopIsAnsweredWhenItActsOrWhenTheServerGoes) {
  start_clipd();
  Client c(clipd_->socket_path());
  c.ok({{"cmd", "load"}, {"name", "pad"}, {"path", file("short.wav")}});
  c.ok({{"cmd", "subscribe"}, {"events", {"voice-started", "voice-ended", "engine-offline"}}});
  const json play = c.ok({{"cmd", "play"}, {"clip", "pad"}, {"loop", true}, {"gain_db", -60}});
  ASSERT_TRUE(c.wait_event("voice-started", 10s));
  c.send_line(R"({"id":"timed","cmd":"stop","voice":)" + play["voice"].dump() + R"(,"in_s":600})" +
              "\n" + R"({"id":"ping","cmd":"ping"})");
  auto r = replies(c, 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["id"], "ping") << r[0].dump();

  jackd_.stop();
  r = replies(c, 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["id"], "timed");
  EXPECT_EQ(r[0]["result"]["stopped"], 0) << r[0].dump();
  EXPECT_TRUE(c.wait_event("engine-offline", 10s));
  const auto ended = c.wait_event("voice-ended", 10s);
  ASSERT_TRUE(ended);
  EXPECT_EQ((*ended)["voice"], play["voice"]);
  EXPECT_EQ((*ended)["reason"], "offline");
  expect_no_stray_reply(c);
}

// status.clips counts loaded clips only; a name on its first load is in clips_loading.
TEST_F(Contract, StatusCountsLoadedClipsOnly) {
  start_clipd();
  Client c(clipd_->socket_path());
  c.ok({{"cmd", "load"}, {"name", "s"}, {"path", file("short.wav")}});
  c.send_line(R"({"id":"load","cmd":"load","name":"slow","path":")" + file("slow44.flac") +
              R"("})" + "\n" + R"({"id":"status","cmd":"status"})");
  auto r = replies(c, 2);
  ASSERT_EQ(r.size(), 2u);
  ASSERT_EQ(r[0]["id"], "status") << "the load ended first: " << r[0].dump();
  EXPECT_EQ(r[0]["result"]["clips"], 1);
  EXPECT_EQ(r[0]["result"]["clips_loading"], 1);
  EXPECT_EQ(r[1]["id"], "load");
  EXPECT_EQ(r[1]["ok"], true) << r[1].dump();
  json status = c.ok({{"cmd", "status"}});
  EXPECT_EQ(status["clips"], 2);
  EXPECT_EQ(status["clips_loading"], 0);

  // A replace in progress leaves the clip loaded: still counted in clips.
  c.send_line(R"({"id":"replace","cmd":"load","name":"s","replace":true,"path":")" +
              file("slow44.flac") + R"("})" + "\n" + R"({"id":"status","cmd":"status"})");
  r = replies(c, 2);
  ASSERT_EQ(r.size(), 2u);
  ASSERT_EQ(r[0]["id"], "status") << "the replace ended first: " << r[0].dump();
  EXPECT_EQ(r[0]["result"]["clips"], 2);
  EXPECT_EQ(r[0]["result"]["clips_loading"], 0);
  EXPECT_EQ(r[1]["id"], "replace");
  EXPECT_EQ(r[1]["ok"], true) << r[1].dump();
  expect_no_stray_reply(c);
}

}  // namespace
}  // namespace clipd::test
