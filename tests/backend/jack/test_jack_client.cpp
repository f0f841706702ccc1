// JackBackend on real servers, recorded by an independent client (clipd-record).
//
// AnyServer.*: against the server named by clipd-with-server (PipeWire under pw-jack), or a
// private jackd started by the test. Jackd.* and NoServer.*: private jackd servers only (they
// kill and restart the server, or need none).
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "counter_target.hpp"
#include "backend/jack/jack_backend.hpp"
#include "process.hpp"
#include "recording.hpp"
#include "servers.hpp"

namespace {

using namespace std::chrono_literals;
using clipd::backend::Events;
using clipd::backend::OpenResult;
using clipd::backend::Options;
using clipd::backend::PortConnection;
using clipd::backend::RetireResult;
using clipd::backend::jack::JackBackend;
using clipd::backend::jack::testing::counter_decode;
using clipd::backend::jack::testing::CounterTarget;
using clipd::test::JackdServer;
using clipd::test::TempDir;
using clipd::test::TestServer;

std::string tool(const char* name) {
  return clipd::test::support_dir() + "/" + name;
}

// The server of an AnyServer test: the one clipd-with-server started, or a private jackd.
class AnyServer : public ::testing::Test {
 protected:
  void SetUp() override {
    external_ = clipd::test::external_server();
    if (!external_) jackd_ = std::make_unique<JackdServer>();
  }
  TestServer& server() { return external_ ? *external_ : *jackd_; }
  bool on_pipewire() const { return external_ && std::string(external_->kind()) == "pipewire"; }
  Options options(const std::string& name) const {
    Options o;
    o.client_name = name;
    if (jackd_) o.server_name = jackd_->name();
    return o;
  }

  std::unique_ptr<TestServer> external_;
  std::unique_ptr<JackdServer> jackd_;
};

class Jackd : public ::testing::Test {};

// Polls until `done(accumulated events)` or the time-out; returns the accumulated events (flags
// ORed, counters summed, current values last seen).
template <class Done>
Events poll_until(JackBackend& client, Done done, std::chrono::milliseconds timeout = 5s) {
  Events acc;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const Events ev = client.poll();
    acc.server_gone |= ev.server_gone;
    acc.sample_rate_changed |= ev.sample_rate_changed;
    acc.buffer_size_changed |= ev.buffer_size_changed;
    acc.connections_changed |= ev.connections_changed;
    acc.new_xruns += ev.new_xruns;
    acc.sample_rate = ev.sample_rate;
    acc.buffer_size = ev.buffer_size;
    if (done(acc)) break;
    std::this_thread::sleep_for(5ms);
  }
  return acc;
}

bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

// Records `frames` frames of NAME:out_1 and NAME:out_2, starting a second and two periods ahead of
// the client's current frame (so the new connections are live), and checks every sample against the
// counter, the periods for contiguity, and each recorded period against the cycle the target saw
// with the same frame time.
void expect_counter_recording(TestServer& server, JackBackend& client, const CounterTarget& target,
                              std::uint64_t frames) {
  ASSERT_TRUE(wait_for([&] { return client.frame_now() != 0; }, 5s)) << "no cycle ran";
  TempDir dir("clipd-rec");
  const std::string prefix = dir.file("rec");
  const std::uint64_t start =
      client.frame_now() + client.sample_rate() + 2 * std::uint64_t{client.buffer_size()};
  const auto result =
      server.run_client({tool("clipd-record"), "-o", prefix, "-f", std::to_string(frames),
                         "--start-frame", std::to_string(start), "--wait-ports", "5", "--timeout",
                         "20", "-n", "rec", client.port_name(0), client.port_name(1)},
                        30s);
  ASSERT_EQ(result.status, 0) << result.output;
  const clipd::test::Recording rec = clipd::test::read_recording(prefix);
  ASSERT_EQ(rec.channels, 2u);
  ASSERT_EQ(rec.frames, frames);
  EXPECT_EQ(rec.first_frame, start);
  EXPECT_EQ(rec.gaps, 0u);
  EXPECT_EQ(rec.rate, client.sample_rate());

  std::uint64_t mismatches = 0;
  for (std::uint64_t i = 0; i < rec.frames; ++i) {
    const std::uint64_t expected = (rec.first_frame + i) & 0xffffffffu;
    const std::uint64_t got = counter_decode(rec.at(i, 0), rec.at(i, 1));
    if (got != expected && mismatches++ == 0) {
      ADD_FAILURE() << "frame " << rec.first_frame + i << " (sample " << i << ") holds " << got
                    << " (" << rec.at(i, 0) << ", " << rec.at(i, 1) << ")";
    }
  }
  EXPECT_EQ(mismatches, 0u);

  ASSERT_FALSE(rec.periods.empty());
  for (std::size_t i = 1; i < rec.periods.size(); ++i) {
    EXPECT_EQ(rec.periods[i].frame, rec.periods[i - 1].frame + rec.periods[i - 1].nframes)
        << "period " << i;
  }
  // Both clients ran in the same cycles and saw the same frame time in each.
  std::map<std::uint64_t, std::uint32_t> seen;
  for (const auto& c : target.history())
    seen[c.frame] = c.nframes;
  std::size_t matched = 0;
  for (const auto& p : rec.periods) {
    if (p.frame < seen.begin()->first || p.frame >= seen.rbegin()->first) continue;
    auto it = seen.find(p.frame);
    ASSERT_NE(it, seen.end()) << "the target saw no cycle at frame " << p.frame;
    EXPECT_EQ(it->second, p.nframes) << "frame " << p.frame;
    ++matched;
  }
  EXPECT_GE(matched, rec.periods.size() - 1);
}

bool has_connection(const std::vector<PortConnection>& list, const std::string& own,
                    const std::string& other) {
  return std::find(list.begin(), list.end(), PortConnection{own, other}) != list.end();
}

TEST_F(AnyServer, RecordsTheCounterBitExactWithConsistentFrameTimes) {
  CounterTarget target(2);  // outlives the client, whose destructor retires it
  JackBackend client(options("clipd-t1"));
  ASSERT_EQ(client.open(target.target()), OpenResult::opened) << client.last_error();
  EXPECT_EQ(client.client_name(), "clipd-t1");
  EXPECT_EQ(client.port_name(1), "clipd-t1:out_2");
  EXPECT_GT(client.sample_rate(), 0u);
  EXPECT_GT(client.buffer_size(), 0u);
  EXPECT_EQ(client.open(target.target()), OpenResult::already_open);

  ASSERT_NO_FATAL_FAILURE(expect_counter_recording(server(), client, target, 48000));

  // The recorder's connections came and went; poll() saw them go (what is remembered is what
  // the ports have now: nothing).
  const Events ev = poll_until(client, [&](const Events&) { return client.connections().empty(); });
  EXPECT_TRUE(client.connections().empty());
  (void)ev;
  EXPECT_EQ(target.discontinuities(), 0u);
  EXPECT_GT(target.last_usecs(), 0u);
  EXPECT_GE(client.thread_inits(), 1u);
  EXPECT_EQ(client.retire(), RetireResult::retired);
  EXPECT_FALSE(client.is_open());
  EXPECT_EQ(client.retire(), RetireResult::not_open);
}

TEST_F(AnyServer, PollReportsConnectionsAndRemembersThem) {
  CounterTarget target(2);  // outlives the client, whose destructor retires it
  JackBackend client(options("clipd-t2"));
  ASSERT_EQ(client.open(target.target()), OpenResult::opened) << client.last_error();
  // Another client records (and so connects to) out_1 and out_2 for a while.
  TempDir dir("clipd-rec");
  auto rec =
      server().spawn({tool("clipd-record"), "-o", dir.file("r"), "--max-frames", "480000", "-n",
                      "conn-rec", "--wait-ports", "5", client.port_name(0), client.port_name(1)},
                     dir.file("log"));
  poll_until(client, [&](const Events&) { return client.connections().size() == 2; });
  EXPECT_TRUE(has_connection(client.connections(), "out_1", "conn-rec:in_1"));
  EXPECT_TRUE(has_connection(client.connections(), "out_2", "conn-rec:in_2"));
  rec->signal(SIGTERM);
  EXPECT_EQ(rec->wait_for(10s), std::optional<int>(0)) << rec->output();
  const Events gone =
      poll_until(client, [&](const Events&) { return client.connections().empty(); });
  EXPECT_TRUE(gone.connections_changed);
  EXPECT_TRUE(client.connections().empty());
}

TEST_F(AnyServer, MidiInputDeliversEveryEvent) {
  CounterTarget target(2);  // outlives the client, whose destructor retires it
  JackBackend client(options("clipd-t3"));
  ASSERT_EQ(client.open(target.target()), OpenResult::opened) << client.last_error();
  const auto result = server().run_client(
      {tool("clipd-midi-send"), "-c", client.midi_port_name(), "--relative", "4800", "0:on:1:60",
       "100:off:1:60", "480:on:10:36:127", "481:raw:b07b00"},
      20s);
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("base "), std::string::npos) << result.output;
  EXPECT_TRUE(wait_for([&] { return target.midi_events() == 4; }, 2s))
      << "events seen: " << target.midi_events();
}

TEST_F(Jackd, MidiInputCountsEventsPastItsCapacity) {
  JackdServer srv;
  Options o;
  o.client_name = "clipd-mo";
  o.server_name = srv.name();
  CounterTarget target(2);  // outlives the client, whose destructor retires it
  JackBackend client(o);
  ASSERT_EQ(client.open(target.target()), OpenResult::opened) << client.last_error();
  // 1,100 controller messages on one frame: one period holds them all.
  std::vector<std::string> args = {tool("clipd-midi-send"), "-c", client.midi_port_name(),
                                   "--relative", "4800"};
  for (int i = 0; i < 1100; ++i)
    args.push_back("0:raw:b07b00");
  const auto result = srv.run_client(args, 20s);
  ASSERT_EQ(result.status, 0) << result.output.substr(0, 2000);
  EXPECT_TRUE(wait_for([&] { return target.midi_events() == clipd::backend::kMidiCapacity; }, 2s))
      << "events seen: " << target.midi_events();
  EXPECT_EQ(client.midi_overflow(), 1100u - clipd::backend::kMidiCapacity);
}

TEST_F(AnyServer, BufferSizeChangeTo8192AndBackIsReported) {
  CounterTarget target(2);  // outlives the client, whose destructor retires it
  JackBackend client(options("clipd-t4"));
  ASSERT_EQ(client.open(target.target()), OpenResult::opened) << client.last_error();
  const std::uint32_t original = client.buffer_size();
  ASSERT_NE(original, 8192u);

  ASSERT_EQ(server().run_client({tool("clipd-bufsize"), "8192"}).status, 0);
  Events ev = poll_until(client, [](const Events& e) { return e.buffer_size == 8192; });
  EXPECT_TRUE(ev.buffer_size_changed);
  EXPECT_EQ(client.buffer_size(), 8192u);
  // Cycles of 8192 frames reach the target and the recorder alike.
  ASSERT_NO_FATAL_FAILURE(expect_counter_recording(server(), client, target, 3 * 8192));

  ASSERT_EQ(server().run_client({tool("clipd-bufsize"), std::to_string(original)}).status, 0);
  ev = poll_until(client, [&](const Events& e) { return e.buffer_size == original; });
  EXPECT_TRUE(ev.buffer_size_changed);
  EXPECT_EQ(client.buffer_size(), original);
  const auto history = target.history();
  EXPECT_TRUE(
      std::any_of(history.begin(), history.end(), [](const auto& c) { return c.nframes == 8192; }));
}

TEST_F(Jackd, ServerKilledRetireReconnectAndRestoreConnections) {
  JackdServer srv;
  Options o;
  o.client_name = "clipd";
  o.server_name = srv.name();
  o.auto_connect = {"system:playback_1"};
  JackBackend client(o);
  auto target = std::make_unique<CounterTarget>(2);
  ASSERT_EQ(client.open(target->target()), OpenResult::opened) << client.last_error();
  // A connection made by someone else is remembered too.
  ASSERT_EQ(srv.run_client({"jack_connect", "clipd:out_2", "system:playback_2"}).status, 0);
  poll_until(client, [&](const Events&) { return client.connections().size() == 2; });
  ASSERT_EQ(client.connections().size(), 2u);
  EXPECT_TRUE(has_connection(client.connections(), "out_1", "system:playback_1"));
  EXPECT_TRUE(has_connection(client.connections(), "out_2", "system:playback_2"));
  ASSERT_TRUE(wait_for([&] { return target->cycles() > 2; }, 5s));

  srv.kill_hard();
  const Events gone = poll_until(client, [](const Events& e) { return e.server_gone; });
  ASSERT_TRUE(gone.server_gone);
  EXPECT_EQ(client.retire(), RetireResult::retired);
  EXPECT_FALSE(client.is_open());
  target.reset();  // no callback may touch it any more
  EXPECT_EQ(client.connections().size(), 2u);

  // No server: each attempt fails and the delay backs off to 1 s.
  target = std::make_unique<CounterTarget>(2);
  EXPECT_EQ(client.try_open(target->target()), OpenResult::no_server);
  EXPECT_EQ(client.retry_delay(), 400ms);
  EXPECT_EQ(client.try_open(target->target()), OpenResult::no_server);
  EXPECT_EQ(client.retry_delay(), 800ms);
  EXPECT_EQ(client.try_open(target->target()), OpenResult::no_server);
  EXPECT_EQ(client.retry_delay(), 1000ms);

  srv.start();
  ASSERT_TRUE(wait_for([&] { return client.try_open(target->target()) == OpenResult::opened; }, 5s))
      << client.last_error();
  EXPECT_EQ(client.retry_delay(), clipd::backend::kRetryMin);
  const auto conns = srv.connections();
  EXPECT_NE(std::find(conns.begin(), conns.end(), "clipd:out_1 -> system:playback_1"), conns.end());
  EXPECT_NE(std::find(conns.begin(), conns.end(), "clipd:out_2 -> system:playback_2"), conns.end());
  ASSERT_NO_FATAL_FAILURE(expect_counter_recording(srv, client, *target, 24000));
  EXPECT_EQ(client.retire(), RetireResult::retired);
}

TEST_F(Jackd, XrunsAreCounted) {
  // Asynchronous mode: a client stopped mid-cycle makes the server report an xrun to everyone.
  JackdServer::Options so;
  so.sync = false;
  JackdServer srv(so);
  Options o;
  o.client_name = "clipd-x";
  o.server_name = srv.name();
  CounterTarget target(2);  // outlives the client, whose destructor retires it
  JackBackend client(o);
  ASSERT_EQ(client.open(target.target()), OpenResult::opened) << client.last_error();
  TempDir dir("clipd-rec");
  auto rec = srv.spawn({tool("clipd-record"), "-o", dir.file("r"), "--max-frames", "480000",
                        "--wait-ports", "5", "-n", "stall", "clipd-x:out_1"},
                       dir.file("log"));
  poll_until(client, [&](const Events&) { return client.connections().size() == 1; });
  ASSERT_EQ(client.connections().size(), 1u);
  rec->signal(SIGSTOP);
  std::this_thread::sleep_for(200ms);
  rec->signal(SIGCONT);
  const Events ev = poll_until(client, [](const Events& e) { return e.new_xruns > 0; });
  EXPECT_GT(ev.new_xruns, 0u);
  EXPECT_GT(client.xruns(), 0u);
  rec->signal(SIGTERM);
  rec->wait_for(5s);
}

// A target whose cycle, when asked, lasts 300 ms: retire() must wait for it (or give up after
// its bound) and no cycle may start once it returns.
struct SlowTarget {
  std::atomic<bool> slow{false};
  std::atomic<bool> in_slow_cycle{false};
  std::atomic<bool> slow_cycle_done{false};
  std::atomic<std::uint64_t> cycles{0};

  // Audio thread. Deliberately blocks (spins) for 300 ms once.
  static void render(void* ctx, std::uint64_t, std::uint32_t nframes, float* const* out,
                     std::span<const clipd::engine::MidiEventView>, std::uint64_t,
                     std::uint64_t) noexcept {
    auto* self = static_cast<SlowTarget*>(ctx);
    for (std::uint32_t i = 0; i < nframes; ++i)
      out[0][i] = out[1][i] = 0.0f;
    if (self->slow.exchange(false)) {
      self->in_slow_cycle.store(true);
      const auto until = std::chrono::steady_clock::now() + 300ms;
      while (std::chrono::steady_clock::now() < until) {
      }
      self->slow_cycle_done.store(true);
    }
    self->cycles.fetch_add(1);
  }
  clipd::backend::ProcessTarget target() { return {&SlowTarget::render, this}; }
};

TEST_F(Jackd, RetireWaitsForTheRunningCycle) {
  JackdServer srv;
  SlowTarget target;
  Options o;
  o.server_name = srv.name();
  JackBackend client(o);
  ASSERT_EQ(client.open(target.target()), OpenResult::opened) << client.last_error();
  target.slow.store(true);
  ASSERT_TRUE(wait_for([&] { return target.in_slow_cycle.load(); }, 5s));
  EXPECT_EQ(client.retire(std::chrono::milliseconds(5000)), RetireResult::retired);
  // The handshake saw the cycle running and waited for its end.
  EXPECT_TRUE(target.slow_cycle_done.load());
  const std::uint64_t cycles = target.cycles.load();
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(target.cycles.load(), cycles);
}

TEST_F(Jackd, RetireGivesUpAfterItsBoundAndStillCloses) {
  JackdServer srv;
  SlowTarget target;
  Options o;
  o.server_name = srv.name();
  JackBackend client(o);
  ASSERT_EQ(client.open(target.target()), OpenResult::opened) << client.last_error();
  target.slow.store(true);
  ASSERT_TRUE(wait_for([&] { return target.in_slow_cycle.load(); }, 5s));
  EXPECT_EQ(client.retire(std::chrono::milliseconds(20)), RetireResult::timed_out);
  EXPECT_FALSE(client.is_open());
  // jack_client_close() returned: the audio thread is gone, the slow cycle with it.
  EXPECT_TRUE(target.slow_cycle_done.load());
  const std::uint64_t cycles = target.cycles.load();
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(target.cycles.load(), cycles);
}

TEST(NoServer, TryOpenBacksOffFrom200msTo1s) {
  Options o;
  o.server_name = clipd::test::unique_name("clipd-absent");
  JackBackend client(o);
  EXPECT_EQ(client.retry_delay(), 200ms);
  const std::chrono::milliseconds expected[] = {400ms, 800ms, 1000ms, 1000ms};
  for (const auto want : expected) {
    EXPECT_EQ(client.try_open({}), OpenResult::no_server);
    EXPECT_EQ(client.retry_delay(), want);
    EXPECT_FALSE(client.is_open());
    EXPECT_FALSE(client.last_error().empty());
  }
  EXPECT_EQ(client.retire(), RetireResult::not_open);
}

// libjack reports a failed connection through its error hook: the message reaches poll()
// (the hook itself only copies into a preallocated slot, see test_library_log.cpp).
TEST(NoServer, TheLibrarysErrorsReachPoll) {
  Options o;
  o.server_name = clipd::test::unique_name("clipd-absent");
  JackBackend client(o);
  (void)client.poll();  // whatever earlier tests left
  EXPECT_EQ(client.try_open({}), OpenResult::no_server);
  const Events ev = client.poll();
  ASSERT_FALSE(ev.library_messages.empty());
  bool error = false;
  for (const auto& m : ev.library_messages) {
    EXPECT_FALSE(m.text.empty());
    error = error || m.error;
  }
  EXPECT_TRUE(error);
  EXPECT_EQ(ev.library_dropped, 0u);
  EXPECT_TRUE(client.poll().library_messages.empty());
}

}  // namespace
