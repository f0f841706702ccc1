// clipctl against a running daemon on a private jackd: every subcommand, its output and its exit
// code, checked against what the daemon then reports over the protocol.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace clipd::test {
namespace {

using namespace std::chrono_literals;

class Clipctl : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    home_ = new TempDir("clipd-clipctl");
    jackd_ = new JackdServer();
    clipd_ = new Clipd(*jackd_, *home_);
    clipd_->start();
    write_wav(home_->file("kick.wav"), 48000, 1, test_signal(2400, 1, 1));
    write_wav(home_->file("pad.wav"), 48000, 2, test_signal(48000, 2, 2));
  }
  static void TearDownTestSuite() {
    delete clipd_;
    delete jackd_;
    delete home_;
  }
  // Runs clipctl with the test's socket; stdout and stderr together in `output`.
  static RunResult ctl(std::vector<std::string> args) {
    std::vector<std::string> argv{clipctl_binary(), "--socket", clipd_->socket_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, {}, 20s);
  }
  static TempDir* home_;
  static JackdServer* jackd_;
  static Clipd* clipd_;
};
TempDir* Clipctl::home_ = nullptr;
JackdServer* Clipctl::jackd_ = nullptr;
Clipd* Clipctl::clipd_ = nullptr;

bool contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

TEST_F(Clipctl, HelloPingStatusAndJson) {
  auto r = ctl({"hello"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "clipd")) << r.output;
  EXPECT_TRUE(contains(r.output, "48000")) << r.output;
  EXPECT_EQ(ctl({"ping"}).status, 0);
  r = ctl({"status"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(contains(r.output, "online")) << r.output;
  r = ctl({"--json", "status"});
  ASSERT_EQ(r.status, 0);
  const json reply = json::parse(r.output);
  EXPECT_EQ(reply["ok"], true);
  EXPECT_EQ(reply["result"]["engine"], "online");
  r = ctl({"raw", R"({"cmd":"ping","id":"r1"})"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(json::parse(r.output)["id"], "r1");
}

TEST_F(Clipctl, LoadMakesThePathAbsoluteAndListInfoUnload) {
  // A relative path is taken from clipctl's folder, not the daemon's.
  auto r = run({"sh", "-c",
                "cd '" + home_->path() + "' && '" + clipctl_binary() + "' --socket '" +
                    clipd_->socket_path() + "' load kick kick.wav"},
               {}, 20s);
  ASSERT_EQ(r.status, 0) << r.output;
  Client c(clipd_->socket_path());
  EXPECT_EQ(c.ok({{"cmd", "info"}, {"name", "kick"}})["path"], home_->file("kick.wav"));
  r = ctl({"list"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(contains(r.output, "kick")) << r.output;
  EXPECT_TRUE(contains(r.output, "2400")) << r.output;
  r = ctl({"info", "kick"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(contains(r.output, home_->file("kick.wav"))) << r.output;
  // Error replies: exit 1, the message on stderr.
  r = ctl({"load", "kick", home_->file("kick.wav")});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "kick")) << r.output;
  r = ctl({"info", "missing"});
  EXPECT_EQ(r.status, 1);
  r = ctl({"load", "--replace", "kick", home_->file("pad.wav")});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(c.ok({{"cmd", "info"}, {"name", "kick"}})["channels"], 2);
  EXPECT_EQ(ctl({"unload", "kick"}).status, 0);
  EXPECT_EQ(c.request({{"cmd", "info"}, {"name", "kick"}})["error"]["code"], "clip-not-found");
}

// The next `name` event about `voice` on `c` (events about other voices are dropped).
std::optional<json> voice_event(Client& c, const std::string& name, std::int64_t voice) {
  while (auto e = c.wait_event(name, 10s)) {
    if ((*e)["voice"] == voice) return e;
  }
  return std::nullopt;
}

// The voice id clipctl printed for a play ("voice 7").
std::int64_t printed_voice(const RunResult& r) {
  EXPECT_EQ(r.output.rfind("voice ", 0), 0u) << r.output;
  return r.output.rfind("voice ", 0) == 0 ? std::stoll(r.output.substr(6)) : -1;
}

TEST_F(Clipctl, PlayStopPauseResumeSetMasterVoicesMeters) {
  ASSERT_EQ(ctl({"load", "pad", home_->file("pad.wav")}).status, 0);
  Client c(clipd_->socket_path());
  c.ok({{"cmd", "subscribe"}, {"events", {"voice-started", "voice-ended"}}});
  auto r = ctl({"play", "pad", "--loop", "--gain", "-6", "--pan", "0.25", "--group", "g"});
  ASSERT_EQ(r.status, 0) << r.output;
  const std::int64_t voice = printed_voice(r);
  ASSERT_TRUE(voice_event(c, "voice-started", voice));
  r = ctl({"voices"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(contains(r.output, std::to_string(voice))) << r.output;
  EXPECT_TRUE(contains(r.output, "pad")) << r.output;
  EXPECT_EQ(ctl({"set", std::to_string(voice), "--gain", "-12", "--ramp", "0.01"}).status, 0);
  EXPECT_EQ(ctl({"pause", std::to_string(voice)}).status, 0);
  // `paused` from the moment the engine takes the pause, which no event announces.
  const json paused = c.poll({{"cmd", "voices"}}, [](const json& v) {
    return v["voices"].size() == 1 && v["voices"][0]["state"] == "paused";
  });
  EXPECT_EQ(paused["voices"][0]["voice"], voice);
  EXPECT_EQ(ctl({"resume", std::to_string(voice)}).status, 0);
  EXPECT_EQ(ctl({"master", "-3", "--ramp", "0.01"}).status, 0);
  EXPECT_DOUBLE_EQ(c.ok({{"cmd", "status"}})["master_gain_db"].get<double>(), -3.0);
  EXPECT_EQ(ctl({"master", "0"}).status, 0);
  r = ctl({"meters"});
  EXPECT_EQ(r.status, 0) << r.output;
  r = ctl({"stop", "--group", "g"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(contains(r.output, "1")) << r.output;
  // Once its voice-ended is sent, the id is unknown (clipd-protocol(7), stop).
  const auto ended = voice_event(c, "voice-ended", voice);
  ASSERT_TRUE(ended);
  EXPECT_EQ((*ended)["reason"], "stopped");
  EXPECT_EQ(ctl({"stop", std::to_string(voice)}).status, 1) << "the voice has ended";

  // stop --clip and --all, with a fade and a scheduled frame.
  r = ctl({"play", "pad", "--loop"});
  ASSERT_EQ(r.status, 0) << r.output;
  const std::int64_t looping = printed_voice(r);
  const std::int64_t now = c.ok({{"cmd", "hello"}})["frame"].get<std::int64_t>();
  r = ctl({"stop", "--clip", "pad", "--fade", "0.01", "--at", std::to_string(now + 4800)});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "1")) << r.output;
  r = ctl({"play", "pad", "--loop", "--in", "0.05"});
  ASSERT_EQ(r.status, 0) << r.output;
  const std::int64_t later = printed_voice(r);
  EXPECT_EQ(ctl({"stop", "--all"}).status, 0);
  std::set<std::int64_t> ending{looping, later};
  while (!ending.empty()) {
    const auto e = c.wait_event("voice-ended", 10s);
    ASSERT_TRUE(e) << ending.size() << " voices still playing";
    if (ending.erase((*e)["voice"].get<std::int64_t>()) == 1) {
      EXPECT_EQ((*e)["reason"], "stopped");
    }
  }
  // The stop scheduled at now + 4800 would stop any voice of the clip playing at that frame:
  // wait until the engine has run past it.
  c.poll({{"cmd", "status"}},
         [&](const json& s) { return s["frame"].get<std::int64_t>() > now + 4800; });

  // --wait returns once the voice has ended: by then the daemon no longer lists it, and it
  // played its whole 0.3 s.
  r = ctl({"play", "pad", "--length", "0.3", "--wait"});
  EXPECT_EQ(r.status, 0) << r.output;
  const std::int64_t waited = printed_voice(r);
  EXPECT_EQ(c.ok({{"cmd", "voices"}})["voices"].size(), 0u);
  const auto started = voice_event(c, "voice-started", waited);
  const auto finished = voice_event(c, "voice-ended", waited);
  ASSERT_TRUE(started && finished);
  EXPECT_EQ((*finished)["reason"], "finished");
  EXPECT_EQ((*finished)["frame"].get<std::int64_t>() - (*started)["frame"].get<std::int64_t>(),
            48000 * 3 / 10);
  EXPECT_EQ(ctl({"unload", "pad"}).status, 0);
}

TEST_F(Clipctl, WatchPrintsEventsUntilInterrupted) {
  Process watch({clipctl_binary(), "--socket", clipd_->socket_path(), "watch"}, {},
                home_->file("watch.log"));
  // watch prints nothing when its subscription takes effect: load probe clips until one of their
  // clip-loaded events shows up in its output (a load before the subscription is never shown).
  auto shown = [&](const std::string& what, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!contains(watch.output(), what)) {
      if (std::chrono::steady_clock::now() > deadline || !watch.running()) return false;
      std::this_thread::sleep_for(10ms);  // polling pace: the output file is the state
    }
    return true;
  };
  int probes = 0;
  bool subscribed = false;
  while (!subscribed && probes < 20) {
    const std::string name = "probe" + std::to_string(probes++);
    ASSERT_EQ(ctl({"load", name, home_->file("kick.wav")}).status, 0);
    subscribed = shown(name, 1s);
  }
  ASSERT_TRUE(subscribed) << watch.output();
  for (int i = 0; i < probes; ++i)
    EXPECT_EQ(ctl({"unload", "probe" + std::to_string(i)}).status, 0);
  ASSERT_EQ(ctl({"load", "w", home_->file("kick.wav")}).status, 0);
  auto r = ctl({"play", "w"});
  ASSERT_EQ(r.status, 0) << r.output;
  // The 50 ms clip ends on its own; its voice-ended is the last event this test waits for.
  EXPECT_TRUE(shown("voice-ended", 10s)) << watch.output();
  watch.signal(SIGINT);
  watch.wait_for(5s);
  const std::string out = watch.output();
  EXPECT_TRUE(contains(out, "clip-loaded")) << out;
  EXPECT_TRUE(contains(out, "voice-started")) << out;
  EXPECT_TRUE(contains(out, "voice-ended")) << out;
  EXPECT_EQ(ctl({"unload", "w"}).status, 0);
}

TEST_F(Clipctl, BindUnbindAndBindings) {
  Client c(clipd_->socket_path());
  auto r = ctl({"bind", "36", "kick", "--channel", "10", "--mode", "gate", "--velocity", "--gain",
                "-3", "--group", "drums"});
  ASSERT_EQ(r.status, 0) << r.output;
  const json list = c.ok({{"cmd", "bindings"}});
  ASSERT_EQ(list["bindings"].size(), 1u) << list.dump();
  const json& b = list["bindings"][0];
  EXPECT_EQ(b["note"], 36);
  EXPECT_EQ(b["channel"], 10);
  EXPECT_EQ(b["clip"], "kick");
  EXPECT_EQ(b["mode"], "gate");
  EXPECT_EQ(b["velocity"], true);
  EXPECT_DOUBLE_EQ(b["gain_db"].get<double>(), -3.0);
  EXPECT_EQ(b["group"], "drums");
  r = ctl({"bindings"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(contains(r.output, "kick")) << r.output;
  EXPECT_TRUE(contains(r.output, "gate")) << r.output;
  EXPECT_EQ(ctl({"bind", "200", "kick"}).status, 2);
  EXPECT_EQ(ctl({"unbind", "36"}).status, 1) << "no any-channel binding for 36";
  EXPECT_EQ(ctl({"unbind", "36", "--channel", "10"}).status, 0);
  EXPECT_EQ(c.ok({{"cmd", "bindings"}})["bindings"].size(), 0u);
}

TEST_F(Clipctl, ExitCodesForUsageAndAMissingDaemon) {
  EXPECT_EQ(ctl({"play"}).status, 2);
  EXPECT_EQ(ctl({"stop"}).status, 2);
  EXPECT_EQ(ctl({"frobnicate"}).status, 2);
  EXPECT_EQ(run({clipctl_binary(), "--socket", home_->file("none.sock"), "ping"}).status, 3);
}

}  // namespace
}  // namespace clipd::test
