// clipctl against a running daemon on a private jackd: every subcommand, its output and its exit
// code, checked against what the daemon then reports over the protocol.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
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

TEST_F(Clipctl, PlayStopPauseResumeSetMasterVoicesMeters) {
  ASSERT_EQ(ctl({"load", "pad", home_->file("pad.wav")}).status, 0);
  Client c(clipd_->socket_path());
  auto r = ctl({"play", "pad", "--loop", "--gain", "-6", "--pan", "0.25", "--group", "g"});
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_EQ(r.output.rfind("voice ", 0), 0u) << r.output;  // "voice 7"
  const std::int64_t voice = std::stoll(r.output.substr(6));
  std::this_thread::sleep_for(100ms);
  r = ctl({"voices"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(contains(r.output, std::to_string(voice))) << r.output;
  EXPECT_TRUE(contains(r.output, "pad")) << r.output;
  EXPECT_EQ(ctl({"set", std::to_string(voice), "--gain", "-12", "--ramp", "0.01"}).status, 0);
  EXPECT_EQ(ctl({"pause", std::to_string(voice)}).status, 0);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(c.ok({{"cmd", "voices"}})["voices"][0]["state"], "paused");
  EXPECT_EQ(ctl({"resume", std::to_string(voice)}).status, 0);
  EXPECT_EQ(ctl({"master", "-3", "--ramp", "0.01"}).status, 0);
  EXPECT_DOUBLE_EQ(c.ok({{"cmd", "status"}})["master_gain_db"].get<double>(), -3.0);
  EXPECT_EQ(ctl({"master", "0"}).status, 0);
  r = ctl({"meters"});
  EXPECT_EQ(r.status, 0) << r.output;
  r = ctl({"stop", "--group", "g"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(contains(r.output, "1")) << r.output;
  EXPECT_EQ(ctl({"stop", std::to_string(voice)}).status, 1) << "the voice has ended by now";
  // stop --clip and --all, with a fade and a scheduled frame.
  ASSERT_EQ(ctl({"play", "pad", "--loop"}).status, 0);
  const std::int64_t now = c.ok({{"cmd", "hello"}})["frame"].get<std::int64_t>();
  EXPECT_EQ(
      ctl({"stop", "--clip", "pad", "--fade", "0.01", "--at", std::to_string(now + 4800)}).status,
      0);
  ASSERT_EQ(ctl({"play", "pad", "--loop", "--in", "0.05"}).status, 0);
  EXPECT_EQ(ctl({"stop", "--all"}).status, 0);
  // --wait returns once the voice has ended (after the stop scheduled above has acted: it would
  // stop any voice of the clip playing at its frame).
  std::this_thread::sleep_for(300ms);
  const auto t0 = std::chrono::steady_clock::now();
  r = ctl({"play", "pad", "--length", "0.3", "--wait"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
  EXPECT_EQ(ctl({"unload", "pad"}).status, 0);
}

TEST_F(Clipctl, WatchPrintsEventsUntilInterrupted) {
  Process watch({clipctl_binary(), "--socket", clipd_->socket_path(), "watch"}, {},
                home_->file("watch.log"));
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(ctl({"load", "w", home_->file("kick.wav")}).status, 0);
  ASSERT_EQ(ctl({"play", "w"}).status, 0);
  std::this_thread::sleep_for(500ms);
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
