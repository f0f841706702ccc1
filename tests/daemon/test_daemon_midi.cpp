// MIDI triggers on a private jackd: an independent JACK MIDI client sends notes at known frames,
// an independent recorder checks that each bound clip starts exactly on its note's frame.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "recording.hpp"

namespace clipd::test {
namespace {

using namespace std::chrono_literals;

class Midi : public ::testing::Test {
 protected:
  void SetUp() override {
    jackd_ = std::make_unique<JackdServer>();
    clipd_ = std::make_unique<Clipd>(*jackd_, home_);
    clipd_->start();
    c_ = std::make_unique<Client>(clipd_->socket_path());
    a_ = test_signal(2400, 1, 11);
    b_ = test_signal(1200, 2, 12);
    write_wav(home_.file("a.wav"), 48000, 1, a_);
    write_wav(home_.file("b.wav"), 48000, 2, b_);
    c_->ok({{"cmd", "load"}, {"name", "a"}, {"path", home_.file("a.wav")}});
    c_->ok({{"cmd", "load"}, {"name", "b"}, {"path", home_.file("b.wav")}});
  }
  void TearDown() override {
    c_.reset();
    if (clipd_) {
      EXPECT_EQ(clipd_->stop(), 0) << clipd_->log();
    }
  }

  std::unique_ptr<Process> record(std::uint64_t frames) {
    return start_recorder(*jackd_, home_.file("rec"), frames);
  }
  // Sends `events` to clipd:midi_in, their frames counted from a base the tool picks once it is
  // connected (its first period after that, plus 4,800 frames): how long the tool takes to start
  // on a loaded machine cannot make an event late. Returns the base (-1 when the tool failed).
  std::int64_t send(const std::vector<std::string>& events) {
    std::vector<std::string> argv{support_dir() + "/clipd-midi-send",
                                  "-c",
                                  "clipd:midi_in",
                                  "--wait-ports",
                                  "5",
                                  "--relative",
                                  "4800"};
    argv.insert(argv.end(), events.begin(), events.end());
    const RunResult r = jackd_->run_client(argv, 20s);
    EXPECT_EQ(r.status, 0) << r.output;
    const std::size_t at = r.output.find("base ");
    if (r.status != 0 || at == std::string::npos) {
      ADD_FAILURE() << "no base from clipd-midi-send:\n" << r.output;
      return -1;
    }
    return std::stoll(r.output.substr(at + 5));
  }

  TempDir home_{"clipd-midi"};
  std::unique_ptr<JackdServer> jackd_;
  std::unique_ptr<Clipd> clipd_;
  std::unique_ptr<Client> c_;
  std::vector<float> a_, b_;
};

TEST_F(Midi, BoundNotesStartTheirClipsOnTheNotesFrame) {
  c_->ok({{"cmd", "bind"}, {"note", 36}, {"clip", "a"}});
  c_->ok({{"cmd", "bind"}, {"note", 38}, {"channel", 10}, {"clip", "b"}});
  const json list = c_->ok({{"cmd", "bindings"}});
  ASSERT_EQ(list["bindings"].size(), 2u) << list.dump();
  c_->ok({{"cmd", "subscribe"}, {"events", {"voice-started"}}});
  auto rec = record(48000 * 4);
  const std::int64_t o1 = 37;
  const std::int64_t o2 = o1 + 12000 + 5;
  // Note 38 on channel 1 is unbound (the binding is for channel 10); note 40 is unbound.
  const std::int64_t base =
      send({std::to_string(o1) + ":on:1:36", std::to_string(o1 + 100) + ":on:1:38",
            std::to_string(o1 + 200) + ":on:1:40", std::to_string(o2) + ":on:10:38"});
  ASSERT_GE(base, 0);
  const std::int64_t t1 = base + o1;
  const std::int64_t t2 = base + o2;
  auto s1 = c_->wait_event("voice-started", 5s);
  auto s2 = c_->wait_event("voice-started", 5s);
  ASSERT_TRUE(s1 && s2);
  EXPECT_EQ((*s1)["clip"], "a");
  EXPECT_EQ((*s1)["frame"], t1);
  EXPECT_EQ((*s1)["trigger"], "midi");
  EXPECT_EQ((*s2)["clip"], "b");
  EXPECT_EQ((*s2)["frame"], t2);
  EXPECT_FALSE(c_->wait_event("voice-started", 300ms)) << "an unbound note started a voice";
  ASSERT_EQ(rec->wait_for(30s), std::optional<int>(0)) << rec->output();
  const Recording r = read_recording(home_.file("rec"));
  const std::uint64_t base1 = static_cast<std::uint64_t>(t1) - r.first_frame;
  const std::uint64_t base2 = static_cast<std::uint64_t>(t2) - r.first_frame;
  ASSERT_EQ(first_sound(r.samples, 2), std::optional<std::uint64_t>(base1));
  for (std::uint64_t i = 0; i < a_.size(); ++i) {
    ASSERT_EQ(r.at(base1 + i, 0), a_[i]) << i;
    ASSERT_EQ(r.at(base1 + i, 1), a_[i]) << i;
  }
  for (std::uint64_t i = base1 + a_.size(); i < base2; ++i)
    ASSERT_EQ(r.at(i, 0), 0.0f) << i;
  for (std::uint64_t i = 0; i < 1200; ++i) {
    ASSERT_EQ(r.at(base2 + i, 0), b_[i * 2]) << i;
    ASSERT_EQ(r.at(base2 + i, 1), b_[i * 2 + 1]) << i;
  }
}

// Binding changes pipelined faster than the engine hands tables back: control reuses its two
// preallocated tables, and the last change always reaches the engine (notes 40..59 end up bound
// to b, after first being bound to a).
TEST_F(Midi, BindingsChangedInABurstAllReachTheEngine) {
  std::string lines;
  for (int round = 0; round < 2; ++round) {
    for (int note = 40; note < 60; ++note) {
      lines += json{{"id", "bind-" + std::to_string(round) + "-" + std::to_string(note)},
                    {"cmd", "bind"},
                    {"note", note},
                    {"clip", round == 0 ? "a" : "b"}}
                   .dump() +
               "\n";
    }
  }
  c_->send_line(lines);
  for (int n = 0; n < 40;) {
    auto m = c_->read_message(10s);
    ASSERT_TRUE(m) << n << " of 40 binds answered";
    if (m->contains("event")) continue;
    EXPECT_EQ((*m)["ok"], true) << m->dump();
    ++n;
  }
  c_->ok({{"cmd", "subscribe"}, {"events", {"voice-started"}}});
  std::vector<std::string> notes;
  for (int note = 40; note < 60; ++note)
    notes.push_back(std::to_string((note - 40) * 64) + ":on:1:" + std::to_string(note));
  const std::int64_t t = send(notes);
  ASSERT_GE(t, 0);
  // Voices started in one cycle may be announced in any order: match them by frame.
  std::set<std::int64_t> frames;
  for (int note = 40; note < 60; ++note) {
    auto s = c_->wait_event("voice-started", 5s);
    ASSERT_TRUE(s) << (note - 40) << " of 20 notes started a voice";
    EXPECT_EQ((*s)["clip"], "b") << s->dump();
    frames.insert((*s)["frame"].get<std::int64_t>());
  }
  std::set<std::int64_t> expected;
  for (int note = 40; note < 60; ++note)
    expected.insert(t + (note - 40) * 64);
  EXPECT_EQ(frames, expected);
}

TEST_F(Midi, GateAndToggleModes) {
  write_wav(home_.file("long.wav"), 48000, 1, std::vector<float>(48000 * 4, 0.25f));
  c_->ok({{"cmd", "load"}, {"name", "long"}, {"path", home_.file("long.wav")}});
  c_->ok({{"cmd", "bind"}, {"note", 60}, {"clip", "long"}, {"mode", "gate"}});
  c_->ok({{"cmd", "bind"}, {"note", 62}, {"clip", "long"}, {"mode", "toggle"}});
  c_->ok({{"cmd", "subscribe"}, {"events", {"voice-started", "voice-ended"}}});
  const std::int64_t declick = 240;  // 5 ms at 48 kHz
  const std::int64_t t =
      send({"0:on:1:60", "4800:off:1:60", "9600:on:1:62", "14400:off:1:62", "19200:on:1:62"});
  ASSERT_GE(t, 0);
  auto gate_start = c_->wait_event("voice-started", 5s);
  ASSERT_TRUE(gate_start);
  EXPECT_EQ((*gate_start)["frame"], t);
  auto gate_end = c_->wait_event("voice-ended", 5s);
  ASSERT_TRUE(gate_end);
  EXPECT_EQ((*gate_end)["voice"], (*gate_start)["voice"]);
  EXPECT_EQ((*gate_end)["reason"], "stopped");
  EXPECT_EQ((*gate_end)["frame"], t + 4800 + declick);
  auto toggle_start = c_->wait_event("voice-started", 5s);
  ASSERT_TRUE(toggle_start);
  EXPECT_EQ((*toggle_start)["frame"], t + 9600);
  // The note-off does nothing; the second note-on stops the voice and starts no other.
  auto toggle_end = c_->wait_event("voice-ended", 5s);
  ASSERT_TRUE(toggle_end);
  EXPECT_EQ((*toggle_end)["voice"], (*toggle_start)["voice"]);
  EXPECT_EQ((*toggle_end)["frame"], t + 19200 + declick);
  EXPECT_FALSE(c_->wait_event("voice-started", 300ms));
}

TEST_F(Midi, NotesOverThePerPeriodCapAreCountedAndOtherMessagesAreNot) {
  c_->ok({{"cmd", "bind"}, {"note", 36}, {"clip", "a"}});
  EXPECT_EQ(c_->ok({{"cmd", "status"}})["midi_dropped"], 0);
  // 300 bound note-ons and 200 controllers on one frame: 256 notes act, 44 are dropped.
  std::vector<std::string> events;
  for (int i = 0; i < 300; ++i) {
    events.push_back("0:on:1:36");
    if (i < 200) events.push_back("0:raw:b07b00");
  }
  const std::int64_t t = send(events);
  ASSERT_GE(t, 0);
  json status;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  do {
    status = c_->ok({{"cmd", "status"}});
    if (status["frame"].get<std::int64_t>() > t) break;
    std::this_thread::sleep_for(10ms);
  } while (std::chrono::steady_clock::now() < deadline);
  ASSERT_GT(status["frame"].get<std::int64_t>(), t) << status.dump();
  EXPECT_EQ(status["midi_dropped"], 44) << status.dump();
}

// The per-period cap comes from the configuration (max_midi_events).
TEST_F(Midi, TheCapOnActingEventsIsConfigured) {
  c_.reset();
  ASSERT_EQ(clipd_->stop(), 0);
  ::mkdir(home_.file("config").c_str(), 0700);
  ::mkdir(home_.file("config/clipd").c_str(), 0700);
  std::ofstream(home_.file("config/clipd/config.json")) << R"({"max_midi_events": 100})"
                                                        << "\n";
  clipd_->start();
  c_ = std::make_unique<Client>(clipd_->socket_path());
  // The clips come back from the state file: `info` answers once "a" is in the engine.
  EXPECT_EQ(c_->ok({{"cmd", "info"}, {"name", "a"}})["frames"], 2400);
  c_->ok({{"cmd", "bind"}, {"note", 36}, {"clip", "a"}});
  // Notes sent before the engine's first cycle would reach no one: wait until it runs.
  const json hello = c_->poll({{"cmd", "hello"}}, [](const json& r) {
    return r["frame"].is_number() && r["frame"].get<std::int64_t>() > 0;
  });
  ASSERT_GT(hello["frame"].get<std::int64_t>(), 0);
  const std::int64_t t = send(std::vector<std::string>(300, "0:on:1:36"));
  ASSERT_GE(t, 0);
  const json status = c_->poll({{"cmd", "status"}},
                               [&](const json& r) { return r["frame"].get<std::int64_t>() > t; });
  EXPECT_EQ(status["midi_dropped"], 200) << status.dump();
}

TEST_F(Midi, NotesForAnUnloadedClipDoNothingAndBindingsSurviveARestart) {
  c_->ok({{"cmd", "bind"}, {"note", 36}, {"clip", "a"}, {"gain_db", -6}, {"group", "drums"}});
  c_->ok({{"cmd", "bind"}, {"note", 37}, {"channel", 2}, {"clip", "b"}, {"velocity", true}});
  c_->ok({{"cmd", "unload"}, {"name", "a"}});
  c_->ok({{"cmd", "subscribe"}, {"events", {"voice-started"}}});
  send({"0:on:1:36"});
  EXPECT_FALSE(c_->wait_event("voice-started", 500ms));
  EXPECT_EQ(c_->ok({{"cmd", "status"}})["engine"], "online");
  // Loading the clip again makes the binding live again.
  c_->ok({{"cmd", "load"}, {"name", "a"}, {"path", home_.file("a.wav")}});
  send({"0:on:1:36"});
  auto started = c_->wait_event("voice-started", 5s);
  ASSERT_TRUE(started);
  EXPECT_EQ((*started)["clip"], "a");
  const json before = c_->ok({{"cmd", "bindings"}});

  c_.reset();
  ASSERT_EQ(clipd_->stop(), 0);
  clipd_->start();
  c_ = std::make_unique<Client>(clipd_->socket_path());
  EXPECT_EQ(c_->ok({{"cmd", "bindings"}}), before);
  EXPECT_EQ(c_->ok({{"cmd", "unbind"}, {"note", 37}, {"channel", 2}}), json::object());
  EXPECT_EQ(c_->ok({{"cmd", "bindings"}})["bindings"].size(), 1u);
  EXPECT_EQ(c_->request({{"cmd", "unbind"}, {"note", 37}, {"channel", 2}})["ok"], false);
}

}  // namespace
}  // namespace clipd::test
