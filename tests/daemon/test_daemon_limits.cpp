// The daemon's bounds against the real daemon on a private jackd: timed commands beyond
// max_timed_commands get `limit`, loop regions shorter than the engine's minimum get
// `bad-request`, pipelined queries are all answered from shared results.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace clipd::test {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t kRate = 48000;
constexpr int kMaxTimed = 16;

class Limits : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { jackd_ = new JackdServer(); }
  static void TearDownTestSuite() {
    delete jackd_;
    jackd_ = nullptr;
  }

  // A fresh daemon per test, so timed commands one test leaves waiting never count in another.
  void SetUp() override {
    home_ = std::make_unique<TempDir>("clipd-limits");
    ::mkdir(home_->file("config").c_str(), 0700);
    ::mkdir(home_->file("config/clipd").c_str(), 0700);
    std::ofstream(home_->file("config/clipd/config.json"))
        << R"({"max_timed_commands": )" << kMaxTimed << "}\n";
    clipd_ = std::make_unique<Clipd>(*jackd_, *home_);
    clipd_->start();
    client_ = std::make_unique<Client>(clipd_->socket_path());
    // Polls the real state: the engine has run a cycle once `hello` reports a frame.
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
      const json h = client_->ok({{"cmd", "hello"}});
      if (h["frame"].is_number() && h["frame"].get<std::int64_t>() > 0) break;
      std::this_thread::sleep_for(10ms);
    }
    write_wav(home_->file("dc.wav"), kRate, 1, std::vector<float>(kRate, 0.25f));
    client_->ok({{"cmd", "load"}, {"name", "dc"}, {"path", home_->file("dc.wav")}});
  }
  void TearDown() override {
    client_.reset();
    if (clipd_) {
      EXPECT_EQ(clipd_->stop(), 0) << clipd_->log();
    }
    clipd_.reset();
    home_.reset();
  }

  std::int64_t now() { return client_->ok({{"cmd", "hello"}})["frame"].get<std::int64_t>(); }

  // A looping voice that has started.
  std::int64_t looping_voice() {
    client_->ok({{"cmd", "subscribe"}, {"events", {"voice-started", "voice-ended"}}});
    const std::int64_t v =
        client_->ok({{"cmd", "play"}, {"clip", "dc"}, {"loop", true}, {"gain_db", -40}})["voice"];
    auto e = client_->wait_event("voice-started", 5s);
    EXPECT_TRUE(e);
    if (e) {
      EXPECT_EQ((*e)["voice"], v);
    }
    return v;
  }

  json voice_info(std::int64_t voice) {
    const json list = client_->ok({{"cmd", "voices"}})["voices"];
    for (const json& v : list) {
      if (v["voice"] == voice) return v;
    }
    return json();
  }

  static JackdServer* jackd_;
  std::unique_ptr<TempDir> home_;
  std::unique_ptr<Clipd> clipd_;
  std::unique_ptr<Client> client_;
};
JackdServer* Limits::jackd_ = nullptr;

TEST_F(Limits, TimedCommandsBeyondTheCapacityGetLimitAndChangeNothing) {
  Client& c = *client_;
  const std::int64_t v = looping_voice();
  const std::int64_t far = now() + std::int64_t{kRate} * 3600;
  // Half by at_frame, half by in_s: both wait in the engine.
  for (int i = 0; i < kMaxTimed; ++i) {
    json set = {{"cmd", "set"}, {"voice", v}, {"gain_db", -3}};
    if (i % 2 == 0) {
      set["at_frame"] = far + i;
    } else {
      set["in_s"] = 3600;
    }
    c.ok(set);
  }
  const json refused =
      c.request({{"cmd", "set"}, {"voice", v}, {"gain_db", -3}, {"at_frame", far}});
  ASSERT_EQ(refused["ok"], false) << refused.dump();
  EXPECT_EQ(refused["error"]["code"], "limit");
  EXPECT_NE(refused["error"]["message"].get<std::string>().find("timed commands"),
            std::string::npos)
      << refused.dump();
  const json refused_stop = c.request({{"cmd", "stop"}, {"voice", v}, {"in_s", 3600}});
  EXPECT_EQ(refused_stop["error"]["code"], "limit") << refused_stop.dump();
  // The refused stop did not mark the voice: it still plays, and an immediate stop still counts it.
  const json info = voice_info(v);
  ASSERT_TRUE(info.is_object());
  EXPECT_EQ(info["state"], "playing");
  EXPECT_NEAR(info["gain_db"].get<double>(), -40.0, 1e-3);
  // Commands for now, or for a frame already past, are not timed and still go through.
  c.ok({{"cmd", "set"}, {"voice", v}, {"gain_db", -35}, {"ramp_s", 0}});
  c.ok({{"cmd", "set"}, {"voice", v}, {"gain_db", -30}, {"ramp_s", 0}, {"at_frame", 0}});
  EXPECT_NEAR(voice_info(v)["gain_db"].get<double>(), -30.0, 1e-3);
  EXPECT_EQ(c.ok({{"cmd", "stop"}, {"voice", v}, {"fade_s", 0}})["stopped"], 1);
  auto ended = c.wait_event("voice-ended", 5s);
  ASSERT_TRUE(ended);
  EXPECT_EQ((*ended)["reason"], "stopped");
  // Stopping the voice released what waited for it: the whole capacity is free again for a new
  // voice, an hour ahead as before.
  const std::int64_t v2 = looping_voice();
  for (int i = 0; i < kMaxTimed; ++i) {
    c.ok({{"cmd", "set"}, {"voice", v2}, {"pan", -0.5}, {"at_frame", far}});
  }
  EXPECT_EQ(
      c.request({{"cmd", "set"}, {"voice", v2}, {"pan", 0}, {"at_frame", far}})["error"]["code"],
      "limit");
  c.ok({{"cmd", "stop"}, {"voice", v2}, {"fade_s", 0}});
  ASSERT_TRUE(c.wait_event("voice-ended", 5s));
}

TEST_F(Limits, OnceTheWaitingCommandsHaveActedNewOnesAreAccepted) {
  Client& c = *client_;
  const std::int64_t v = looping_voice();
  const std::int64_t soon = now() + kRate / 2;
  for (int i = 0; i < kMaxTimed; ++i) {
    c.ok({{"cmd", "set"}, {"voice", v}, {"gain_db", -20 - i}, {"at_frame", soon + i}});
  }
  EXPECT_EQ(
      c.request(
          {{"cmd", "set"}, {"voice", v}, {"gain_db", 0}, {"at_frame", soon}})["error"]["code"],
      "limit");
  // The last one to act sets -35 dB: poll the real state until it shows.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  double gain = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    gain = voice_info(v)["gain_db"].get<double>();
    if (std::fabs(gain - (-20.0 - (kMaxTimed - 1))) < 1e-3) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_NEAR(gain, -20.0 - (kMaxTimed - 1), 1e-3);
  // They came back to control before that answer did: the whole capacity is free again.
  const std::int64_t later = now() + kRate * 3600;
  for (int i = 0; i < kMaxTimed; ++i) {
    c.ok({{"cmd", "set"}, {"voice", v}, {"pan", 0.5}, {"at_frame", later}});
  }
  EXPECT_EQ(c.request({{"cmd", "stop"}, {"all", true}, {"at_frame", later}})["error"]["code"],
            "limit");
  c.ok({{"cmd", "stop"}, {"voice", v}, {"fade_s", 0}});
  ASSERT_TRUE(c.wait_event("voice-ended", 5s));
}

TEST_F(Limits, LoopRegionsShorterThanTheMinimumAreRefused) {
  Client& c = *client_;
  c.ok({{"cmd", "subscribe"}, {"events", {"voice-started", "voice-ended"}}});
  struct Case {
    json play;
    std::string names;
  } cases[] = {
      {{{"loop", true}, {"loop_start_s", 0}, {"loop_end_s", 1.0 / kRate}}, "loop_end_s"},
      {{{"loop", 3}, {"loop_start_s", 0.5}, {"loop_end_s", 0.5 + 63.0 / kRate}}, "loop_end_s"},
      {{{"loop", true}, {"loop_start_s", (kRate - 63.0) / kRate}, {"offset_s", 0.9999}},
       "loop_start_s"},
  };
  for (const Case& bad : cases) {
    json play = bad.play;
    play["cmd"] = "play";
    play["clip"] = "dc";
    const json reply = c.request(play);
    ASSERT_EQ(reply["ok"], false) << play.dump();
    EXPECT_EQ(reply["error"]["code"], "bad-request") << play.dump();
    const std::string message = reply["error"]["message"];
    EXPECT_EQ(message.rfind(bad.names + ":", 0), 0u) << message;
    EXPECT_NE(message.find("64 frames"), std::string::npos) << message;
  }
  // Nothing started: the next voice id is the first one issued, and no event came.
  EXPECT_TRUE(c.events().empty());
  // Exactly 64 frames loops; a short region without a loop is not a loop region at all.
  const std::int64_t v64 = c.ok({{"cmd", "play"},
                                 {"clip", "dc"},
                                 {"loop", true},
                                 {"gain_db", -40},
                                 {"loop_start_s", 0.5},
                                 {"loop_end_s", 0.5 + 64.0 / kRate}})["voice"];
  const std::int64_t once = c.ok({{"cmd", "play"},
                                  {"clip", "dc"},
                                  {"gain_db", -40},
                                  {"offset_s", 0.9},
                                  {"loop_start_s", 0},
                                  {"loop_end_s", 1.0 / kRate}})["voice"];
  EXPECT_EQ(v64, 1);
  EXPECT_EQ(once, 2);
  for (int started = 0; started < 2; ++started) {
    auto e = c.wait_event("voice-started", 5s);
    ASSERT_TRUE(e);
  }
  const json info = voice_info(v64);
  ASSERT_TRUE(info.is_object());
  EXPECT_TRUE(info["remaining_s"].is_null());  // loops forever
  c.ok({{"cmd", "stop"}, {"all", true}, {"fade_s", 0}});
}

TEST_F(Limits, PipelinedQueriesAreAllAnsweredWithTheSteadyState) {
  Client& c = *client_;
  c.ok({{"cmd", "subscribe"}, {"events", {"voice-started"}}});
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(c.ok({{"cmd", "play"},
                        {"clip", "dc"},
                        {"loop", true},
                        {"gain_db", -40 - i},
                        {"pan", 0.25 * i},
                        {"group", "g" + std::to_string(i)}})["voice"]);
    ASSERT_TRUE(c.wait_event("voice-started", 5s));
  }
  for (std::int64_t v : ids)
    c.ok({{"cmd", "pause"}, {"voice", v}, {"fade_s", 0}});
  // Steady once every voice reads paused and the meters have seen 100 ms of silence: poll the
  // real state until two answers in a row agree.
  json voices, meters;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    const json v1 = c.ok({{"cmd", "voices"}});
    const json m1 = c.ok({{"cmd", "meters"}});
    voices = c.ok({{"cmd", "voices"}});
    meters = c.ok({{"cmd", "meters"}});
    if (v1 == voices && m1 == meters && meters["peak_db"][0].is_null()) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(voices["voices"].size(), 3u) << voices.dump();
  for (std::size_t i = 0; i < 3; ++i) {
    json v;
    for (const json& each : voices["voices"]) {
      if (each["voice"] == ids[i]) v = each;
    }
    ASSERT_TRUE(v.is_object()) << voices.dump();
    EXPECT_EQ(v["clip"], "dc");
    EXPECT_EQ(v["state"], "paused");
    EXPECT_EQ(v["group"], "g" + std::to_string(i));
    EXPECT_NEAR(v["gain_db"].get<double>(), -40.0 - static_cast<double>(i), 1e-3);
  }
  ASSERT_TRUE(meters["peak_db"][1].is_null()) << meters.dump();

  // 256 of each, pipelined in one write.
  constexpr int kQueries = 256;
  std::string batch;
  for (int i = 0; i < kQueries; ++i) {
    batch += R"({"id":"v)" + std::to_string(i) + R"(","cmd":"voices"})" + "\n";
    batch += R"({"id":"m)" + std::to_string(i) + R"(","cmd":"meters"})" + "\n";
  }
  c.send_line(batch.substr(0, batch.size() - 1));
  int got_voices = 0, got_meters = 0;
  while (got_voices + got_meters < 2 * kQueries) {
    auto m = c.read_message(20s);
    ASSERT_TRUE(m) << "answers so far: " << got_voices << " voices, " << got_meters << " meters";
    if (m->contains("event")) continue;
    ASSERT_EQ((*m)["ok"], true) << m->dump();
    const std::string id = (*m)["id"];
    if (id[0] == 'v') {
      EXPECT_EQ(id, "v" + std::to_string(got_voices++));
      EXPECT_EQ((*m)["result"], voices) << m->dump();
    } else {
      EXPECT_EQ(id, "m" + std::to_string(got_meters++));
      EXPECT_EQ((*m)["result"], meters) << m->dump();
    }
  }
}

TEST_F(Limits, AQueryAnswerReflectsEveryCommandSentBeforeIt) {
  Client& c = *client_;
  const std::int64_t v = looping_voice();
  // Pipelined: each voices request must see the set just before it, even when it arrives while
  // the previous query is still in flight (it waits for the next one rather than sharing that).
  std::string batch;
  for (int i = 0; i < 32; ++i) {
    batch += R"({"id":"s)" + std::to_string(i) + R"(","cmd":"set","ramp_s":0,"voice":)" +
             std::to_string(v) + R"(,"gain_db":)" + std::to_string(-10 - i) + "}\n";
    batch += R"({"id":"v)" + std::to_string(i) + R"(","cmd":"voices"})" + "\n";
  }
  c.send_line(batch.substr(0, batch.size() - 1));
  int answered = 0;
  while (answered < 64) {
    auto m = c.read_message(20s);
    ASSERT_TRUE(m) << "answers so far: " << answered;
    if (m->contains("event")) continue;
    ASSERT_EQ((*m)["ok"], true) << m->dump();
    ++answered;
    const std::string id = (*m)["id"];
    if (id[0] != 'v') continue;
    const int i = std::stoi(id.substr(1));
    const json& list = (*m)["result"]["voices"];
    ASSERT_EQ(list.size(), 1u) << m->dump();
    // Set i or a later one (the gains only fall), never an earlier one.
    EXPECT_LE(list[0]["gain_db"].get<double>(), -10.0 - i + 1e-3) << id;
  }
  c.ok({{"cmd", "stop"}, {"voice", v}, {"fade_s", 0}});
  ASSERT_TRUE(c.wait_event("voice-ended", 5s));
}

TEST_F(Limits, AFloodOfCommandsGetsLimitOnceTheNodesAreInUseAndEveryRequestIsAnswered) {
  Client& c = *client_;
  const std::int64_t v = looping_voice();
  // Far more commands than the engine takes per cycle (256) and than the slab holds for
  // commands (a few thousand at the defaults), in one burst: the slab runs out long before the
  // engine has taken them, so some must be refused; none may go unanswered.
  constexpr int kFlood = 20000;
  std::string batch;
  for (int i = 0; i < kFlood; ++i) {
    batch += R"({"id":)" + std::to_string(i) + R"(,"cmd":"master","gain_db":0})" + "\n";
  }
  // Written from another thread while this one reads: the daemon stops reading a client whose
  // replies pile up, so one thread doing both would deadlock.
  std::thread writer([&c, &batch] {
    try {
      c.send_line(batch);
    } catch (const std::exception&) {
      // The reader failed and shut the socket down; its assertion reports why.
    }
  });
  // If an assertion ends the test early, unblock and join the writer.
  struct JoinWriter {
    std::thread& thread;
    int fd;
    ~JoinWriter() {
      if (!thread.joinable()) return;
      ::shutdown(fd, SHUT_RDWR);
      thread.join();
    }
  } join_writer{writer, c.fd()};
  int ok = 0, limited = 0;
  std::vector<bool> seen(kFlood, false);
  while (ok + limited < kFlood) {
    auto m = c.read_message(30s);
    ASSERT_TRUE(m) << "answers so far: " << ok << " ok, " << limited << " limit";
    if (m->contains("event")) continue;
    const int id = (*m)["id"].get<int>();
    ASSERT_TRUE(id >= 0 && id < kFlood && !seen[id]) << m->dump();
    seen[id] = true;
    if ((*m)["ok"] == true) {
      ++ok;
      continue;
    }
    ASSERT_EQ((*m)["error"]["code"], "limit") << m->dump();
    EXPECT_NE((*m)["error"]["message"].get<std::string>().find("in flight"), std::string::npos);
    ++limited;
  }
  writer.join();
  EXPECT_GT(limited, 0);
  EXPECT_GT(ok, 0);
  // Once the engine has taken them, commands go through again and the voice still plays.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  json reply;
  while (std::chrono::steady_clock::now() < deadline) {
    reply = c.request({{"cmd", "master"}, {"gain_db", -1}});
    if (reply["ok"] == true) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(reply["ok"], true) << reply.dump();
  const json info = voice_info(v);
  ASSERT_TRUE(info.is_object());
  EXPECT_EQ(info["state"], "playing");
  c.ok({{"cmd", "stop"}, {"voice", v}, {"fade_s", 0}});
  ASSERT_TRUE(c.wait_event("voice-ended", 5s));
}

}  // namespace
}  // namespace clipd::test
