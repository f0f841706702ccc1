// The whole daemon on its native PipeWire backend (--backend pipewire, no pw-jack), against a
// private PipeWire and WirePlumber per test: what pw-dump and pw-link show of its node and links,
// what a native recorder in the same graph (clipd-pw-record) captures sample by sample, and how
// the daemon rides quantum storms, forced rates and the server's death. The last two tests check
// that `--backend auto` picks JACK when a jackd answers and PipeWire when none does.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "recording.hpp"
#include "sanitizer.hpp"

namespace clipd::test {
namespace {

using namespace std::chrono_literals;

// The private PipeWire reached natively: its environment, and programs run as they are (no
// pw-jack), so a JACK program would find no server.
class NativePipewire final : public TestServer {
 public:
  explicit NativePipewire(const PipewireServer& pw) : pw_(pw) {}
  const char* kind() const noexcept override { return "pipewire"; }
  EnvChanges env() const override { return pw_.env(); }
  std::vector<std::string> wrap(std::vector<std::string> argv) const override { return argv; }

 private:
  const PipewireServer& pw_;
};

bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);  // polling pace: pred reads the real state
  }
  return pred();
}

// A property's value as text (pw-dump prints numbers and booleans unquoted).
std::string prop(const json& props, const char* key) {
  if (!props.contains(key)) return "<absent>";
  const json& v = props.at(key);
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// clipd:out_1 .. clipd:out_N.
std::vector<std::string> clipd_outputs(std::uint32_t n) {
  std::vector<std::string> out;
  for (std::uint32_t i = 1; i <= n; ++i)
    out.push_back("clipd:out_" + std::to_string(i));
  return out;
}

std::vector<std::string> recorder_argv(const std::string& prefix, std::uint64_t max_frames,
                                       const std::vector<std::string>& ports) {
  std::vector<std::string> argv{
      support_dir() + "/clipd-pw-record", "-o",        prefix, "--max-frames",
      std::to_string(max_frames),         "--timeout", "20"};
  argv.insert(argv.end(), ports.begin(), ports.end());
  return argv;
}

// A native recording (clipd-pw-record) of clipd's outputs (out_1 and out_2 unless told).
class PwRecorder {
 public:
  PwRecorder(const TestServer& server, const std::string& prefix, std::uint64_t max_frames,
             const std::vector<std::string>& ports = clipd_outputs(2))
      : prefix_(prefix),
        process_(recorder_argv(prefix, max_frames, ports), server.env(), prefix + ".log") {}
  // Waits until it has stored its first cycle.
  bool started() {
    return wait_for([&] { return process_.output().find("recording") != std::string::npos; }, 15s);
  }
  // Stops it and reads what it recorded; fails the test unless it exits 0 (contiguous).
  Recording finish() {
    process_.signal(SIGTERM);
    const auto status = process_.wait_for(20s);
    EXPECT_EQ(status, std::optional<int>(0)) << process_.output();
    return read_recording(prefix_);
  }
  // Stops it and returns its exit status: 0, or 4 when the graph skipped a cycle (the recording
  // is not contiguous).
  std::optional<int> end() {
    process_.signal(SIGTERM);
    return process_.wait_for(20s);
  }
  Recording read() const { return read_recording(prefix_); }
  // Stops it; fails the test unless it exits 0 or 4 (periods not contiguous: see gaps).
  void stop() {
    process_.signal(SIGTERM);
    const auto status = process_.wait_for(20s);
    EXPECT_TRUE(status == std::optional<int>(0) || status == std::optional<int>(4))
        << process_.output();
  }
  std::string output() const { return process_.output(); }

 private:
  std::string prefix_;
  Process process_;
};

class Native : public ::testing::Test {
 protected:
  // A private PipeWire whose WirePlumber runs clipd's policy (wireplumber/ in the source tree),
  // as an installed clipd's would.
  void SetUp() override { start_pipewire(true); }
  void start_pipewire(bool clipd_policy) {
    native_.reset();
    pw_.reset();
    PipewireServer::Options o;
    o.clipd_policy = clipd_policy;
    pw_ = std::make_unique<PipewireServer>(o);
    native_ = std::make_unique<NativePipewire>(*pw_);
  }

  RunResult pw_run(std::vector<std::string> argv, std::chrono::milliseconds timeout = 10s) const {
    return run(std::move(argv), pw_->env(), timeout);
  }
  // "node:port -> node:port" per link (pw-link -l -o).
  std::vector<std::string> links() const {
    const RunResult r = pw_run({"pw-link", "-l", "-o"});
    std::vector<std::string> out;
    std::string current;
    std::size_t at = 0;
    while (at < r.output.size()) {
      std::size_t end = r.output.find('\n', at);
      if (end == std::string::npos) end = r.output.size();
      const std::string line = r.output.substr(at, end - at);
      at = end + 1;
      if (line.empty()) continue;
      const auto arrow = line.find("|->");
      if (arrow != std::string::npos) {
        out.push_back(current + " -> " + line.substr(line.find_first_not_of(' ', arrow + 3)));
      } else if (line.find("|<-") == std::string::npos) {
        current = line;
      }
    }
    return out;
  }
  // clipd's outgoing links, sorted.
  std::vector<std::string> clipd_links() const {
    std::vector<std::string> out;
    for (const std::string& l : links()) {
      if (l.rfind("clipd:", 0) == 0) out.push_back(l);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  // The application.name of the client that made each link leaving clipd's node, sorted.
  std::vector<std::string> clipd_link_owners() const {
    const RunResult dump = pw_run({"pw-dump"});
    if (dump.status != 0) return {"<pw-dump failed>"};
    // The whole graph is the first array; objects that change while it runs follow in more.
    std::istringstream in(dump.output);
    json d;
    in >> d;
    std::map<std::string, std::string> clients;  // id -> application.name
    std::string clipd_node = "<none>";
    for (const json& o : d) {
      if (!o.contains("info") || !o["info"].is_object() || !o["info"].contains("props")) continue;
      const std::string type = o.value("type", "");
      const std::string id = std::to_string(o["id"].get<int>());
      if (type == "PipeWire:Interface:Client") {
        clients[id] = prop(o["info"]["props"], "application.name");
      }
      if (type == "PipeWire:Interface:Node" && prop(o["info"]["props"], "node.name") == "clipd") {
        clipd_node = id;
      }
    }
    std::vector<std::string> owners;
    for (const json& o : d) {
      if (o.value("type", "") != "PipeWire:Interface:Link" || !o.contains("info")) continue;
      const json& info = o["info"];
      if (!info.contains("output-node-id") ||
          std::to_string(info["output-node-id"].get<int>()) != clipd_node) {
        continue;
      }
      const auto it = clients.find(prop(info["props"], "client.id"));
      owners.push_back(it != clients.end() ? it->second : "<unknown client>");
    }
    std::sort(owners.begin(), owners.end());
    return owners;
  }
  // Sinks sink-a (the default) and sink-b, then clipd without --connect, online; null after a
  // fatal failure.
  std::unique_ptr<Clipd> start_between_two_sinks() {
    for (const char* sink : {"sink-a", "sink-b"}) {
      make_sink(sink);
      if (::testing::Test::HasFatalFailure()) return nullptr;
    }
    set_default_sink("sink-a");
    if (::testing::Test::HasFatalFailure()) return nullptr;
    auto clipd = start_clipd();
    Client c(clipd->socket_path());
    online(c);
    return clipd;
  }
  // Waits until clipd's out_1 and out_2 go to `sink`'s FL and FR inputs and nowhere else, both
  // links made by the client named `owner` (application.name); false (a failure) when they do
  // not.
  bool expect_linked_to(const std::string& sink, const std::string& owner,
                        std::chrono::milliseconds timeout = 5s) {
    const std::vector<std::string> owners{owner, owner};
    const bool linked = wait_for(
        [&] { return clipd_links() == stereo_links(sink) && clipd_link_owners() == owners; },
        timeout);
    EXPECT_TRUE(linked) << "to " << sink << " by " << owner << ": "
                        << ::testing::PrintToString(clipd_links())
                        << ::testing::PrintToString(clipd_link_owners());
    return linked;
  }
  // Without --connect: clipd's outputs go to the default sink, then follow it to sink-b and
  // back, the old links gone each time, every link made by `owner`.
  void expect_it_follows_the_default_sink(const std::string& owner) {
    auto clipd = start_between_two_sinks();
    ASSERT_TRUE(clipd);
    expect_linked_to("sink-a", owner);
    for (const std::string sink : {"sink-b", "sink-a"}) {
      ASSERT_NO_FATAL_FAILURE(set_default_sink(sink));
      expect_linked_to(sink, owner);
    }
    EXPECT_EQ(clipd->stop(), 0) << clipd->log();
  }
  static std::vector<std::string> stereo_links(const std::string& sink) {
    return {"clipd:out_1 -> " + sink + ":playback_FL", "clipd:out_2 -> " + sink + ":playback_FR"};
  }
  // A stereo null sink that outlives pw-cli (object.linger), once its inputs are in the graph.
  void make_sink(const std::string& name) {
    const RunResult r = pw_run({"pw-cli", "create-node", "adapter",
                                "{ factory.name=support.null-audio-sink node.name=" + name +
                                    " media.class=Audio/Sink object.linger=true "
                                    "audio.position=[ FL FR ] }"});
    ASSERT_EQ(r.status, 0) << r.output;
    ASSERT_TRUE(wait_for(
        [&] {
          return pw_run({"pw-link", "-i"}).output.find(name + ":playback_FR") != std::string::npos;
        },
        5s));
  }
  // The user's choice of default sink (WirePlumber then sets default.audio.sink).
  void set_default_sink(const std::string& name) {
    const RunResult r =
        pw_run({"pw-metadata", "-n", "default", "0", "default.configured.audio.sink",
                "{ \"name\": \"" + name + "\" }", "Spa:String:JSON"});
    ASSERT_EQ(r.status, 0) << r.output;
  }
  void setting(const std::string& key, std::uint32_t value) {
    const RunResult r = pw_run({"pw-metadata", "-n", "settings", "0", key, std::to_string(value)});
    ASSERT_EQ(r.status, 0) << r.output;
  }
  std::unique_ptr<Clipd> start_clipd(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--backend", "pipewire", "--no-state"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto clipd = std::make_unique<Clipd>(*native_, home_, Clipd::Options{false, args});
    clipd->start();
    return clipd;
  }
  static json online(Client& c) {
    return c.poll({{"cmd", "status"}}, [](const json& r) { return r["engine"] == "online"; });
  }
  static std::int64_t now(Client& c) {
    return c.ok({{"cmd", "hello"}})["frame"].get<std::int64_t>();
  }

  void hand_over_to_a_session_manager_with_the_policy();
  // Set by the hand-over once it stops clipd: its exit status and log.
  std::optional<int> hand_over_exit_;
  std::string hand_over_log_;

  TempDir home_{"clipd-native"};
  std::unique_ptr<PipewireServer> pw_;
  std::unique_ptr<NativePipewire> native_;
};

// Samples [from, from + n) of `r`, both channels, compared with `want` (interleaved stereo);
// returns the number of mismatches, the first few reported.
std::uint64_t compare(const Recording& r, std::uint64_t from, const std::vector<float>& want,
                      const char* what) {
  std::uint64_t mismatches = 0;
  const std::uint64_t n = want.size() / 2;
  if (from + n > r.frames) {
    ADD_FAILURE() << what << ": the recording ends at " << r.frames << ", before " << from + n;
    return n;
  }
  for (std::uint64_t i = 0; i < n; ++i) {
    for (std::uint32_t ch = 0; ch < 2; ++ch) {
      if (r.at(from + i, ch) != want[i * 2 + ch] && mismatches++ < 5) {
        ADD_FAILURE() << what << " frame " << i << " channel " << ch << ": " << r.at(from + i, ch)
                      << " != " << want[i * 2 + ch];
      }
    }
  }
  return mismatches;
}

TEST_F(Native, ItsOwnNodePlaysBitExactOnTheFrameAsked) {
  auto clipd = start_clipd();
  Client c(clipd->socket_path());
  const json status = online(c);
  EXPECT_EQ(status["backend"], "pipewire") << status.dump();
  const json hello = c.ok({{"cmd", "hello"}});
  EXPECT_EQ(hello["backend"], "pipewire") << hello.dump();
  EXPECT_EQ(hello["client"], "clipd") << hello.dump();
  EXPECT_EQ(hello["sample_rate"], 48000) << hello.dump();

  // Its node, not a JACK client's: no client.api on the node or its client; its three ports.
  const RunResult dump = pw_run({"pw-dump"});
  ASSERT_EQ(dump.status, 0) << dump.output;
  const json d = json::parse(dump.output);
  json node;
  for (const json& o : d) {
    if (o.value("type", "") == "PipeWire:Interface:Node" && o.contains("info") &&
        prop(o["info"]["props"], "node.name") == hello["client"].get<std::string>()) {
      node = o;
    }
  }
  ASSERT_FALSE(node.is_null()) << "no node named clipd";
  const json& props = node["info"]["props"];
  EXPECT_EQ(prop(props, "client.api"), "<absent>");
  EXPECT_EQ(prop(props, "media.class"), "Stream/Output/Audio");
  const std::string node_id = std::to_string(node["id"].get<int>());
  const std::string client_id = prop(props, "client.id");
  std::map<std::string, std::string> ports;  // port.name -> direction
  bool client_seen = false;
  for (const json& o : d) {
    if (!o.contains("info") || !o["info"].is_object() || !o["info"].contains("props")) continue;
    const std::string type = o.value("type", "");
    if (type == "PipeWire:Interface:Port" && prop(o["info"]["props"], "node.id") == node_id) {
      ports[prop(o["info"]["props"], "port.name")] = o["info"]["direction"].get<std::string>();
    }
    if (type == "PipeWire:Interface:Client" && std::to_string(o["id"].get<int>()) == client_id) {
      client_seen = true;
      EXPECT_EQ(prop(o["info"]["props"], "client.api"), "<absent>") << o.dump(1);
    }
  }
  EXPECT_TRUE(client_seen);
  EXPECT_EQ(ports, (std::map<std::string, std::string>{
                       {"out_1", "output"}, {"out_2", "output"}, {"midi_in", "input"}}));

  // A stereo clip on a frame that is no period boundary, recorded natively in the same graph.
  const std::uint64_t n = 12000;
  const auto stereo = test_signal(n, 2, 21);
  write_wav(home_.file("st.wav"), 48000, 2, stereo);
  c.ok({{"cmd", "load"}, {"name", "st"}, {"path", home_.file("st.wav")}});
  c.ok({{"cmd", "subscribe"}});
  PwRecorder rec(*native_, home_.file("rec"), 48000 * 4);
  ASSERT_TRUE(rec.started()) << rec.output();
  const std::int64_t at = now(c) + 24000 + 7;
  const json play = c.ok({{"cmd", "play"}, {"clip", "st"}, {"at_frame", at}});
  auto started = c.wait_event("voice-started", 10s);
  ASSERT_TRUE(started);
  EXPECT_EQ((*started)["voice"], play["voice"]);
  EXPECT_EQ((*started)["frame"], at);
  EXPECT_EQ((*started)["late"], false);
  auto ended = c.wait_event("voice-ended", 10s);
  ASSERT_TRUE(ended);
  EXPECT_EQ((*ended)["reason"], "finished");
  EXPECT_EQ((*ended)["frame"].get<std::int64_t>() - at, static_cast<std::int64_t>(n));
  const Recording r = rec.finish();
  EXPECT_EQ(r.gaps, 0u);
  EXPECT_EQ(r.rate, 48000u);
  const auto first = first_sound(r.samples, 2);
  ASSERT_TRUE(first);
  EXPECT_EQ(static_cast<std::int64_t>(r.first_frame + *first), at);
  const std::uint64_t base = static_cast<std::uint64_t>(at) - r.first_frame;
  EXPECT_EQ(compare(r, base, stereo, "clip"), 0u);
  ASSERT_LT(base + n, r.frames);
  EXPECT_EQ(r.at(base + n, 0), 0.0f);
  EXPECT_EQ(r.at(base + n, 1), 0.0f);
  EXPECT_EQ(clipd->stop(), 0) << clipd->log();
}

TEST_F(Native, WithoutConnectTheSessionManagerLinksItToTheDefaultSinkAndFollowsIt) {
  // WirePlumber makes the links (clipd's policy), not clipd.
  expect_it_follows_the_default_sink("WirePlumber");
}

TEST_F(Native, WithoutTheSessionManagersPolicyItFollowsTheDefaultSinkItself) {
  // WirePlumber as it comes, without clipd's policy: clipd makes the same links itself.
  start_pipewire(false);
  expect_it_follows_the_default_sink("clipd");
}

// The hand-over below, on a new PipeWire. Its failures are gtest's, as in any test body.
void Native::hand_over_to_a_session_manager_with_the_policy() {
  start_pipewire(false);
  auto clipd = start_between_two_sinks();
  ASSERT_TRUE(clipd);
  expect_linked_to("sink-a", "clipd");
  // Each decision is in clipd's debug log: the one place that shows its side of a hand-over.
  const auto logged = [&](const std::string& text) {
    return wait_for([&] { return clipd->log().find(text) != std::string::npos; }, 5s);
  };
  EXPECT_TRUE(
      logged("default sink links, made by clipd: out_1 -> sink-a:playback_FL out_2 -> "
             "sink-a:playback_FR"))
      << clipd->log();

  // The session manager is replaced by one that runs clipd's policy (an upgrade, a user who
  // installs the policy and restarts WirePlumber): clipd's links stay until the policy shows
  // itself, then the policy's replace them.
  ASSERT_GT(pw_->wireplumber_pid(), 0);
  ASSERT_EQ(::kill(pw_->wireplumber_pid(), SIGKILL), 0);
  ASSERT_TRUE(wait_for(
      [&] {
        return pw_run({"pw-cli", "ls", "Client"}, 2s).output.find("WirePlumber") ==
               std::string::npos;
      },
      5s));
  EXPECT_EQ(clipd_link_owners(), (std::vector<std::string>{"clipd", "clipd"}));
  EnvChanges env = pw_->env();
  env.insert(env.end(), {"XDG_CONFIG_HOME=" + PipewireServer::clipd_policy_config_home(),
                         "DBUS_SESSION_BUS_ADDRESS", "DISPLAY"});
  // On a bus of its own, as the first one was. Its policy runs once it shows itself (its
  // "default" metadata is made before). A session manager that exits at start (disconnected
  // from a server that is still there) is started again, up to twice, and said on stderr.
  // A short wait per try: one pw-cli stuck in a restarting graph must not use it all.
  auto policy_shown = [&] { return pw_->clipd_policy_runs(2s); };
  std::unique_ptr<Process> wireplumber;
  bool shown = false;
  for (int attempt = 0; attempt < 3 && !shown && !pw_->pipewire_crash(); ++attempt) {
    if (wireplumber) {
      std::fprintf(stderr, "wireplumber exited at start, starting it again:\n%s\n",
                   wireplumber->output().c_str());
    }
    wireplumber = std::make_unique<Process>(
        std::vector<std::string>{"dbus-run-session", "--", "wireplumber"}, env,
        home_.file("wireplumber-" + std::to_string(attempt) + ".log"));
    shown =
        wait_for([&] { return !wireplumber->running() || policy_shown(); }, 10s) && policy_shown();
  }
  ASSERT_TRUE(shown) << (wireplumber ? wireplumber->output() : "") << pw_->log();
  ASSERT_NO_FATAL_FAILURE(set_default_sink("sink-a"));
  const bool to_a = expect_linked_to("sink-a", "WirePlumber", 10s);
  // With the ports, or without them when clipd did not see the new session manager's default
  // (see PipewireBackend::follow_default_locked()): the links change hands either way.
  EXPECT_TRUE(logged("default sink links, left to the session manager's policy")) << clipd->log();
  ASSERT_NO_FATAL_FAILURE(set_default_sink("sink-b"));
  const bool to_b = expect_linked_to("sink-b", "WirePlumber");
  // What each side saw, when the links did not change hands.
  if (!to_a || !to_b) {
    ADD_FAILURE() << "wireplumber " << (wireplumber->running() ? "running" : "exited") << ":\n"
                  << wireplumber->output() << "\nclipd:\n"
                  << clipd->log() << "\nmetadata:\n"
                  << pw_run({"pw-cli", "ls", "Metadata"}, 2s).output << pw_->log();
  }
  // How clipd ends is checked whatever the server did (the caller): it must outlive a crash.
  hand_over_exit_ = clipd->stop();
  hand_over_log_ = clipd->log();
  wireplumber->stop();
}

// The failures of one run of a scenario, each with whether pipewire had died when it was
// reported (gtest's fake reporter, which keeps them out of the test's result, plus that mark).
class RunFailures final : public ::testing::ScopedFakeTestPartResultReporter {
 public:
  explicit RunFailures(std::function<bool()> server_dead)
      : ScopedFakeTestPartResultReporter(INTERCEPT_ONLY_CURRENT_THREAD, &all_),
        server_dead_(std::move(server_dead)) {}
  void ReportTestPartResult(const ::testing::TestPartResult& result) override {
    after_death_.push_back(server_dead_());
    ScopedFakeTestPartResultReporter::ReportTestPartResult(result);
  }
  int size() const { return all_.size(); }
  const ::testing::TestPartResult& at(int i) const { return all_.GetTestPartResult(i); }
  bool after_death(int i) const { return after_death_[static_cast<std::size_t>(i)]; }

 private:
  ::testing::TestPartResultArray all_;
  std::function<bool()> server_dead_;
  std::vector<bool> after_death_;
};

TEST_F(Native, ItHandsItsDefaultSinkLinksToThePolicyWhenTheSessionManagerStartsWithIt) {
  // A hand-over destroys clipd's links while the session manager makes its own, which PipeWire
  // before 0.3.72 (Debian 12 has 0.3.65) can answer by crashing (PipewireServer::
  // pipewire_crash()). What fails once the server has died of it says nothing of clipd: those
  // failures are set aside, said on stderr with the crash, and the hand-over runs again on a new
  // server, up to three runs. A failure while the server was up counts in every run, and so
  // does clipd's exit status when the run got as far as stopping it (a run that ended early
  // leaves clipd to its Clipd's destructor, unchecked).
  const auto dead = [&] {
    if (!pw_) return false;
    const pid_t pid = pw_->pipewire_pid();
    return pw_->pipewire_crash().has_value() || (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH);
  };
  constexpr int kRuns = 3;
  for (int run = 1; run <= kRuns; ++run) {
    hand_over_exit_.reset();
    std::optional<RunFailures> failures(std::in_place, dead);
    try {
      hand_over_to_a_session_manager_with_the_policy();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "exception: " << e.what();
    }
    // Out of the interception: what the run left is reported below.
    const RunFailures& f = *failures;
    std::vector<int> kept;
    std::vector<int> set_aside;
    const auto crash = pw_->pipewire_crash();
    for (int i = 0; i < f.size(); ++i)
      (crash && f.after_death(i) ? set_aside : kept).push_back(i);
    std::vector<std::pair<std::string, std::string>> reports;  // where, what
    for (const int i : kept) {
      const ::testing::TestPartResult& r = f.at(i);
      reports.emplace_back(std::string(r.file_name() != nullptr ? r.file_name() : "?") + ":" +
                               std::to_string(r.line_number()),
                           r.message());
    }
    if (crash) {
      std::fprintf(stderr, "run %d of the hand-over: pipewire crashed (%s)%s\n", run,
                   strsignal(*crash),
                   set_aside.empty() ? "" : "; what failed after it, set aside:");
      for (const int i : set_aside)
        std::fprintf(stderr, "  %s\n", f.at(i).message());
    }
    failures.reset();
    for (const auto& [where, what] : reports)
      ADD_FAILURE() << where << ": " << what;
    if (hand_over_exit_) {
      EXPECT_EQ(*hand_over_exit_, 0) << hand_over_log_;
    }
    if (!crash || !reports.empty()) return;
  }
  ADD_FAILURE() << "pipewire crashed in each of " << kRuns << " runs of the hand-over:\n"
                << pw_->log();
}

TEST_F(Native, SurvivesTheServerDyingFiveTimesAndMakesItsConnectLinksAgain) {
  // The sink it is told to use is not the default: the default (the other sink) gets nothing.
  ASSERT_NO_FATAL_FAILURE(make_sink("conn-sink"));
  ASSERT_NO_FATAL_FAILURE(make_sink("default-sink"));
  ASSERT_NO_FATAL_FAILURE(set_default_sink("default-sink"));
  auto clipd =
      start_clipd({"--connect", "conn-sink:playback_FL", "--connect", "conn-sink:playback_FR"});
  Client c(clipd->socket_path());
  online(c);
  c.ok({{"cmd", "subscribe"}});
  write_wav(home_.file("t.wav"), 48000, 2, test_signal(2400, 2, 22));
  c.ok({{"cmd", "load"}, {"name", "t"}, {"path", home_.file("t.wav")}});
  EXPECT_TRUE(wait_for([&] { return clipd_links() == stereo_links("conn-sink"); }, 5s))
      << ::testing::PrintToString(clipd_links());

  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const pid_t pipewire = pw_->pipewire_pid();
    const pid_t wireplumber = pw_->wireplumber_pid();
    ASSERT_GT(pipewire, 0);
    ASSERT_GT(wireplumber, 0);
    // WirePlumber first: it leaves on its own once PipeWire is gone, and the session's shell may
    // have reaped it before a second kill (gone already counts as killed).
    ASSERT_TRUE(::kill(wireplumber, SIGKILL) == 0 || errno == ESRCH);
    ASSERT_EQ(::kill(pipewire, SIGKILL), 0);
    ASSERT_TRUE(c.wait_event("engine-offline", 5s)) << clipd->report();
    c.events().clear();  // what came before going offline, the first engine-online included
    EXPECT_EQ(c.ok({{"cmd", "status"}})["engine"], "offline");
    EXPECT_EQ(c.request({{"cmd", "play"}, {"clip", "t"}})["error"]["code"], "engine-offline");

    pw_->stop();                                         // what is left of its session: the bus
    const auto back = std::chrono::steady_clock::now();  // the server's start
    pw_->start();
    auto online_event = c.wait_event("engine-online", 5s);
    ASSERT_TRUE(online_event) << clipd->log();
    EXPECT_EQ((*online_event)["sample_rate"], 48000);
    const json play = c.ok({{"cmd", "play"}, {"clip", "t"}});
    auto started = c.wait_event("voice-started", 5s);
    ASSERT_TRUE(started);
    EXPECT_EQ((*started)["voice"], play["voice"]);
    if (!sanitized_build) {  // see sanitizer.hpp
      EXPECT_LT(std::chrono::steady_clock::now() - back, 2s);
    }
    ASSERT_TRUE(c.wait_event("voice-ended", 5s));
    EXPECT_EQ(c.ok({{"cmd", "list"}})["clips"].size(), 1u);
    // The sinks come back after clipd did (they are the test's, made again now): the --connect
    // links are made once their ports appear, and the default sink still gets none.
    ASSERT_NO_FATAL_FAILURE(make_sink("default-sink"));
    ASSERT_NO_FATAL_FAILURE(set_default_sink("default-sink"));
    ASSERT_NO_FATAL_FAILURE(make_sink("conn-sink"));
    EXPECT_TRUE(wait_for([&] { return clipd_links() == stereo_links("conn-sink"); }, 5s))
        << ::testing::PrintToString(clipd_links());
  }
  EXPECT_EQ(clipd->stop(), 0) << clipd->log();
}

// The quantum storm runs in the plain build only: whether the graph keeps every cycle down to
// 32-frame quanta, and whether plays sent ahead arrive before their frames, is a question of
// speed, which sanitizer builds change (tests/support/sanitizer.hpp). What it proves is about
// the engine's samples, which are the same code in every build.
#ifndef CLIPD_TEST_SANITIZED
// A deterministic show on 8 outputs: `voices` voices of a few short clips, each started, ramped,
// panned and faded on frames relative to `start`, scheduled ahead of time. Voice v feeds outputs
// 2(v mod 4) + 1 and 2(v mod 4) + 2, and no two voices on those outputs overlap: what is compared
// is each voice's samples (where voices mix, the order of the sum may differ with the cycle
// split, at float rounding level). The plays go through `c`; the sets and stops, whose replies
// come only at their frames (clipd-protocol(7)), are sent all at once through `timed`, whose
// replies are read once the show is over. Returns the frame just after the show's end, and
// each voice's id and start frame.
constexpr std::uint32_t kShowOutputs = 8;
struct ScheduledShow {
  std::int64_t end = 0;
  std::map<std::int64_t, std::int64_t> starts;  // voice id -> at_frame
  std::vector<std::string> timed;               // the requests sent through `timed`
};
ScheduledShow schedule_show(Client& c, Client& timed, std::int64_t start, int voices) {
  ScheduledShow show;
  std::int64_t& end = show.end;
  end = start;
  for (int v = 0; v < voices; ++v) {
    const std::int64_t at = start + 2000 * v + 37 * (v % 7);
    const int lane = v % 4;
    const json play = {{"cmd", "play"},
                       {"clip", "c" + std::to_string(v % 4)},
                       {"at_frame", at},
                       {"gain_db", -6.0 + (v % 5)},
                       {"pan", -0.75 + 0.25 * (v % 7)},
                       {"fade_in_s", 0.002 * (v % 4)},
                       {"loop", v % 3 == 0},
                       {"outputs", {2 * lane + 1, 2 * lane + 2}}};
    const std::int64_t voice = c.ok(play)["voice"].get<std::int64_t>();
    show.starts[voice] = at;
    const json set = {{"id", "set-" + std::to_string(v)},
                      {"cmd", "set"},
                      {"voice", voice},
                      {"gain_db", -3.0 - (v % 3)},
                      {"pan", 0.5 - 0.125 * (v % 9)},
                      {"ramp_s", 0.01 + 0.001 * (v % 5)},
                      {"at_frame", at + 2000 + 11 * (v % 16)}};
    // Before the clip's end (6000 frames): every voice ends stopped, faded out over 20 ms.
    const std::int64_t stop_at = at + 5000 + 13 * (v % 16);
    const json stop = {{"id", "stop-" + std::to_string(v)},
                       {"cmd", "stop"},
                       {"voice", voice},
                       {"fade_s", 0.02},
                       {"at_frame", stop_at}};
    show.timed.push_back(set.dump());
    show.timed.push_back(stop.dump());
    end = std::max(end, stop_at + 960);
  }
  std::string batch;
  for (const std::string& line : show.timed)
    batch += line + "\n";
  timed.send_line(batch);
  return show;
}

TEST_F(Native, AQuantumStormLeavesTheRecordingBitIdentical) {
  // Four short clips (1/8 s), mono and stereo.
  for (int i = 0; i < 4; ++i) {
    write_wav(home_.file("c" + std::to_string(i) + ".wav"), 48000, 1 + i % 2,
              test_signal(6000, 1 + i % 2, 30 + i));
  }
  ASSERT_NO_FATAL_FAILURE(setting("clock.max-quantum", 8192));
  const int kVoices = 64;
  struct Show {
    std::vector<float> samples;  // the show's frames, from its start frame to its end
    bool skipped = true;         // the graph skipped a cycle of clipd's or the recorder's
    std::string why;
  };
  // Runs the show on a fresh daemon while `during` runs (after scheduling, before the show
  // ends), recorded natively.
  auto show = [&](const std::function<void(std::int64_t start, Client&)>& during) {
    Show out;
    auto clipd = start_clipd({"--outputs", std::to_string(kShowOutputs)});  // no sink: no links
    Client c(clipd->socket_path());
    online(c);
    for (int i = 0; i < 4; ++i) {
      const std::string name = "c" + std::to_string(i);
      c.ok({{"cmd", "load"}, {"name", name}, {"path", home_.file(name + ".wav")}});
    }
    c.ok({{"cmd", "subscribe"}, {"events", {"voice-started", "voice-ended"}}});
    Client timed(clipd->socket_path());
    PwRecorder rec(*native_, home_.file("rec"), 48000 * 30, clipd_outputs(kShowOutputs));
    EXPECT_TRUE(rec.started()) << rec.output();
    const std::int64_t start = now(c) + 48000;  // a second to schedule it all
    const ScheduledShow scheduled = schedule_show(c, timed, start, kVoices);
    const std::int64_t end = scheduled.end;
    during(start, c);
    // Every voice started, and ended stopped.
    std::vector<json> started;
    for (int v = 0; v < kVoices; ++v) {
      auto e = c.wait_event("voice-started", 20s);
      if (!e) {
        ADD_FAILURE() << "no voice-started for voice " << v << " of " << kVoices;
        break;
      }
      started.push_back(*e);
    }
    for (int v = 0; v < kVoices; ++v) {
      auto e = c.wait_event("voice-ended", 20s);
      if (!e) {
        ADD_FAILURE() << "no voice-ended for voice " << v << " of " << kVoices;
        break;
      }
      EXPECT_EQ((*e)["reason"], "stopped") << e->dump();
    }
    // Every set and stop was taken.
    for (std::size_t i = 0; i < scheduled.timed.size(); ++i) {
      const auto reply = timed.read_message(5s);
      if (!reply) {
        ADD_FAILURE() << "no reply to " << scheduled.timed.size() - i << " timed requests";
        break;
      }
      EXPECT_EQ((*reply)["ok"], true) << reply->dump();
    }
    rec.stop();
    const Recording r = read_recording(home_.file("rec"));
    const json xruns = c.ok({{"cmd", "status"}})["xruns"];
    out.skipped = r.gaps != 0 || xruns != 0;
    out.why = "recorder gaps " + std::to_string(r.gaps) + ", clipd xruns " + xruns.dump();
    EXPECT_EQ(clipd->stop(), 0) << clipd->log();
    // A cycle the graph skipped moves its clock past the frames it skipped, so a voice due in
    // them starts late, rightly, and the frames recorded are missing: nothing to compare.
    if (out.skipped) return out;
    // Every voice started on its frame.
    for (const json& e : started) {
      EXPECT_EQ(e["frame"], scheduled.starts.at(e["voice"].get<std::int64_t>())) << e.dump();
      EXPECT_EQ(e["late"], false) << e.dump();
    }
    EXPECT_EQ(r.channels, kShowOutputs);
    EXPECT_LE(r.first_frame, static_cast<std::uint64_t>(start));
    EXPECT_GE(r.first_frame + r.frames, static_cast<std::uint64_t>(end));
    if (r.channels != kShowOutputs || r.first_frame > static_cast<std::uint64_t>(start) ||
        r.first_frame + r.frames < static_cast<std::uint64_t>(end)) {
      return out;
    }
    const std::uint64_t from = static_cast<std::uint64_t>(start) - r.first_frame;
    out.samples.assign(
        r.samples.begin() + static_cast<std::ptrdiff_t>(from * kShowOutputs),
        r.samples.begin() + static_cast<std::ptrdiff_t>((from + (end - start)) * kShowOutputs));
    return out;
  };
  // A cycle the graph skipped loses frames of clipd's or of the recorder's: such a run says
  // nothing about clipd (without real-time priority, on a loaded machine, a 32-frame quantum
  // lasts 0.7 ms) and is run again, up to five times in all.
  auto clean = [&](const std::function<void(std::int64_t, Client&)>& during, const char* what) {
    for (int attempt = 1;; ++attempt) {
      Show s = show(during);
      if (!s.skipped || attempt == 5 || ::testing::Test::HasFailure()) {
        EXPECT_FALSE(s.skipped) << what << ": the graph skipped cycles in all " << attempt
                                << " runs, the last: " << s.why;
        return s.samples;
      }
      std::cout << what << ": the graph skipped cycles in run " << attempt << " (" << s.why
                << "), run again\n";
    }
  };

  // Once at a fixed quantum, once while the quantum changes twenty times.
  ASSERT_NO_FATAL_FAILURE(setting("clock.force-quantum", 1024));
  const std::vector<float> fixed = clean([](std::int64_t, Client&) {}, "fixed quantum");
  ASSERT_FALSE(fixed.empty());
  // Down to 32 frames (0.7 ms); in a sanitizer's build, whose clipd runs several times slower
  // (see sanitizer.hpp), down to 256 frames.
  const std::vector<std::uint32_t> storm =
      sanitized_build
          ? std::vector<std::uint32_t>{256, 1024, 512,  8192, 256, 2048, 512, 4096, 1024, 8192,
                                       256, 512,  2048, 4096, 256, 1024, 512, 8192, 2048, 256}
          : std::vector<std::uint32_t>{32,  1024, 128, 8192, 64,  512, 256, 2048, 32, 4096,
                                       128, 1024, 64,  8192, 256, 512, 32,  2048, 64, 256};
  std::set<std::uint32_t> seen;
  const std::vector<float> stormy = clean(
      [&](std::int64_t start, Client& c) {
        // From just before the first voice on, through the show.
        c.poll(
            {{"cmd", "hello"}}, [&](const json& r) { return r["frame"] >= start - 4800; }, 10s);
        for (const std::uint32_t q : storm) {
          ASSERT_NO_FATAL_FAILURE(setting("clock.force-quantum", q));
          // The change has reached the daemon once status reports it.
          const json st = c.poll(
              {{"cmd", "status"}}, [&](const json& r) { return r["buffer_size"] == q; }, 5s);
          seen.insert(st["buffer_size"].get<std::uint32_t>());
        }
      },
      "quantum storm");
  // Every size in the storm was reached.
  EXPECT_EQ(seen, std::set<std::uint32_t>(storm.begin(), storm.end()));
  ASSERT_EQ(stormy.size(), fixed.size());
  std::uint64_t mismatches = 0;
  std::uint64_t sounding = 0;
  for (std::size_t i = 0; i < fixed.size(); ++i) {
    sounding += fixed[i] != 0.0f;
    if (stormy[i] != fixed[i] && mismatches++ < 5) {
      ADD_FAILURE() << "frame " << i / kShowOutputs << " output " << i % kShowOutputs + 1 << ": "
                    << stormy[i] << " != " << fixed[i];
    }
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(sounding, fixed.size() / 8);  // the show is not silence
}
#endif  // CLIPD_TEST_SANITIZED

TEST_F(Native, ClipsAreResampledWhenTheRateIsForced) {
  auto clipd = start_clipd();
  Client c(clipd->socket_path());
  online(c);
  c.ok({{"cmd", "subscribe"}});
  // One second of a 1 kHz sine at 48 kHz.
  std::vector<float> sine(48000);
  for (std::size_t i = 0; i < sine.size(); ++i) {
    sine[i] =
        0.5f * static_cast<float>(std::sin(2 * M_PI * 1000.0 * static_cast<double>(i) / 48000));
  }
  write_wav(home_.file("sine.wav"), 48000, 1, sine);
  const json loaded = c.ok({{"cmd", "load"}, {"name", "s"}, {"path", home_.file("sine.wav")}});
  EXPECT_EQ(loaded["sample_rate"], 48000);
  EXPECT_EQ(loaded["frames"], 48000);
  ASSERT_NO_FATAL_FAILURE(setting("clock.force-rate", 44100));
  ASSERT_TRUE(c.wait_event("engine-offline", 5s));
  c.events().clear();  // what came before going offline, the first engine-online included
  auto back = c.wait_event("engine-online", 5s);
  ASSERT_TRUE(back);
  EXPECT_EQ((*back)["sample_rate"], 44100) << back->dump();
  EXPECT_EQ(c.ok({{"cmd", "hello"}})["sample_rate"], 44100);
  // `info` waits for the new decode.
  const json info = c.ok({{"cmd", "info"}, {"name", "s"}});
  EXPECT_EQ(info["sample_rate"], 44100);
  EXPECT_EQ(info["source_sample_rate"], 48000);
  EXPECT_EQ(info["frames"], 44100);

  // A graph that skips a cycle (a loaded machine) leaves a gap in the recording, which would
  // shift the frames counted below: the play is recorded again, up to three times, until one
  // recording is contiguous.
  for (int attempt = 1;; ++attempt) {
    SCOPED_TRACE("attempt " + std::to_string(attempt));
    PwRecorder rec(*native_, home_.file("rec"), 44100 * 4);
    ASSERT_TRUE(rec.started()) << rec.output();
    const std::int64_t at = now(c) + 22050;
    c.ok({{"cmd", "play"}, {"clip", "s"}, {"at_frame", at}});
    auto started = c.wait_event("voice-started", 5s);
    ASSERT_TRUE(started);
    EXPECT_EQ((*started)["frame"], at);
    auto ended = c.wait_event("voice-ended", 5s);
    ASSERT_TRUE(ended);
    EXPECT_EQ((*ended)["frame"].get<std::int64_t>() - at, 44100);
    const std::optional<int> status = rec.end();
    if (status == std::optional<int>(4) && attempt < 3) continue;
    ASSERT_EQ(status, std::optional<int>(0)) << rec.output();
    const Recording r = rec.read();
    EXPECT_EQ(r.rate, 44100u);
    // Rising zero crossings over the middle half second: 1 kHz means 500 of them at any rate.
    const std::uint64_t from = static_cast<std::uint64_t>(at) - r.first_frame + 11025;
    ASSERT_LT(from + 22051, r.frames);
    int crossings = 0;
    for (std::uint64_t i = from; i < from + 22050; ++i) {
      if (r.at(i, 0) < 0 && r.at(i + 1, 0) >= 0) ++crossings;
    }
    EXPECT_NEAR(crossings, 500, 1);
    break;
  }
  EXPECT_EQ(clipd->stop(), 0) << clipd->log();
}

// "sent FRAME HEX" lines of clipd-midi-send: the frames.
std::vector<std::int64_t> sent_frames(const std::string& output) {
  std::vector<std::int64_t> out;
  for (std::size_t at = output.find("sent "); at != std::string::npos;
       at = output.find("sent ", at + 5)) {
    if (at == 0 || output[at - 1] == '\n') out.push_back(std::stoll(output.substr(at + 5)));
  }
  return out;
}

TEST_F(Native, ANoteOnMidiInStartsItsBoundClipOnTheNotesFrame) {
  auto clipd = start_clipd();
  Client c(clipd->socket_path());
  online(c);
  const auto a = test_signal(2400, 2, 23);
  write_wav(home_.file("a.wav"), 48000, 2, a);
  c.ok({{"cmd", "load"}, {"name", "a"}, {"path", home_.file("a.wav")}});
  c.ok({{"cmd", "bind"}, {"note", 36}, {"clip", "a"}});
  c.ok({{"cmd", "subscribe"}, {"events", {"voice-started"}}});
  PwRecorder rec(*native_, home_.file("rec"), 48000 * 4);
  ASSERT_TRUE(rec.started()) << rec.output();
  // The source: a JACK MIDI client through pipewire-jack, linked to midi_in; the note is 9,600
  // frames after its first period plus 517 (not on a period boundary).
  const RunResult sent =
      pw_->run_client({support_dir() + "/clipd-midi-send", "-c", "clipd:midi_in", "--wait-ports",
                       "5", "--relative", "9600", "517:on:1:36:100", "600:on:1:40:100"},
                      20s);
  ASSERT_EQ(sent.status, 0) << sent.output;
  const auto frames = sent_frames(sent.output);
  ASSERT_EQ(frames.size(), 2u) << sent.output;
  auto started = c.wait_event("voice-started", 5s);
  ASSERT_TRUE(started);
  EXPECT_EQ((*started)["clip"], "a");
  EXPECT_EQ((*started)["frame"], frames[0]);
  EXPECT_FALSE(c.wait_event("voice-started", 300ms)) << "note 40 is bound to nothing";
  const Recording r = rec.finish();
  const auto first = first_sound(r.samples, 2);
  ASSERT_TRUE(first);
  EXPECT_EQ(static_cast<std::int64_t>(r.first_frame + *first), frames[0]);
  EXPECT_EQ(compare(r, static_cast<std::uint64_t>(frames[0]) - r.first_frame, a, "clip a"), 0u);
  EXPECT_EQ(clipd->stop(), 0) << clipd->log();
}

// Both servers reachable from one environment: a jackd, and the private PipeWire.
class Both final : public TestServer {
 public:
  Both(const PipewireServer& pw, const JackdServer& jackd) : pw_(pw), jackd_(jackd) {}
  const char* kind() const noexcept override { return "jackd"; }
  EnvChanges env() const override {
    EnvChanges e = pw_.env();  // unsets JACK_DEFAULT_SERVER: jackd's name comes after it
    for (const std::string& j : jackd_.env())
      e.push_back(j);
    return e;
  }
  std::vector<std::string> wrap(std::vector<std::string> argv) const override { return argv; }

 private:
  const PipewireServer& pw_;
  const JackdServer& jackd_;
};

TEST_F(Native, AutoPicksJackWhenAJackServerAnswersEvenWithPipewireThere) {
  JackdServer jackd;
  Both both(*pw_, jackd);
  Clipd clipd(both, home_, {false, {"--backend", "auto", "--no-state"}});
  clipd.start();
  Client c(clipd.socket_path());
  const json status = online(c);
  EXPECT_EQ(status["backend"], "jack") << status.dump();
  EXPECT_EQ(c.ok({{"cmd", "hello"}})["backend"], "jack");
  // On jackd's graph, not PipeWire's.
  bool on_jackd = false;
  for (const std::string& port : jackd.ports())
    on_jackd |= port == "clipd:out_1";
  EXPECT_TRUE(on_jackd);
  EXPECT_EQ(pw_run({"pw-link", "-o"}).output.find("clipd:out_1"), std::string::npos);
  EXPECT_EQ(clipd.stop(), 0) << clipd.log();
}

TEST_F(Native, AutoPicksPipewireWhenNoJackServerAnswers) {
  // No jackd: JACK_DEFAULT_SERVER names one that does not run, so libjack finds no server.
  EnvChanges none = {"JACK_DEFAULT_SERVER=" + unique_name("clipd-no-jackd")};
  class NoJack final : public TestServer {
   public:
    NoJack(const PipewireServer& pw, EnvChanges extra) : pw_(pw), extra_(std::move(extra)) {}
    const char* kind() const noexcept override { return "pipewire"; }
    EnvChanges env() const override {
      EnvChanges e = pw_.env();
      e.insert(e.end(), extra_.begin(), extra_.end());
      return e;
    }
    std::vector<std::string> wrap(std::vector<std::string> argv) const override { return argv; }

   private:
    const PipewireServer& pw_;
    EnvChanges extra_;
  } server(*pw_, none);
  Clipd clipd(server, home_, {false, {"--backend", "auto", "--no-state"}});
  clipd.start();
  Client c(clipd.socket_path());
  const json status = online(c);
  EXPECT_EQ(status["backend"], "pipewire") << status.dump();
  const json hello = c.ok({{"cmd", "hello"}});
  EXPECT_EQ(hello["backend"], "pipewire");
  EXPECT_EQ(hello["client"], "clipd");
  EXPECT_NE(pw_run({"pw-link", "-o"}).output.find("clipd:out_1"), std::string::npos);
  EXPECT_EQ(clipd.stop(), 0) << clipd.log();
}

}  // namespace
}  // namespace clipd::test
