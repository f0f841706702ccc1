// The OSC front end against the real daemon on a private jackd, through a liblo client: every
// command in both address forms, errors and their codes, events to subscribers and their lapse,
// the 0600 UNIX socket, UDP bound to loopback, the allow list, and bundles that start their plays
// on the frame their timetag names.
#include <gtest/gtest.h>
#include <jack/jack.h>
#include <lo/lo.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "control/osc/packet.hpp"
#include "harness.hpp"
#include "osc_socket.hpp"
#include "sanitizer.hpp"

namespace clipd::test {
namespace {

using namespace std::chrono_literals;
namespace osc = clipd::control::osc;

// An argument as the test writes it.
using V = std::variant<std::int32_t, float, std::string, bool>;

// Serialises with liblo (the client library a show-control user would reach for).
std::vector<std::byte> lo_serialise(const std::string& path, const std::vector<V>& args) {
  lo_message m = lo_message_new();
  for (const V& v : args) {
    if (auto* i = std::get_if<std::int32_t>(&v)) lo_message_add_int32(m, *i);
    if (auto* f = std::get_if<float>(&v)) lo_message_add_float(m, *f);
    if (auto* s = std::get_if<std::string>(&v)) lo_message_add_string(m, s->c_str());
    if (auto* b = std::get_if<bool>(&v)) *b ? lo_message_add_true(m) : lo_message_add_false(m);
  }
  std::size_t size = 0;
  void* data = lo_message_serialise(m, path.c_str(), nullptr, &size);
  std::vector<std::byte> out(size);
  std::memcpy(out.data(), data, size);
  std::free(data);
  lo_message_free(m);
  return out;
}

struct Outgoing {
  std::string path;
  std::vector<V> args;
};

std::vector<std::byte> lo_bundle_bytes(lo_timetag tt, const std::vector<Outgoing>& messages) {
  lo_bundle b = lo_bundle_new(tt);
  for (const auto& o : messages) {
    lo_message m = lo_message_new();
    for (const V& v : o.args) {
      if (auto* i = std::get_if<std::int32_t>(&v)) lo_message_add_int32(m, *i);
      if (auto* f = std::get_if<float>(&v)) lo_message_add_float(m, *f);
      if (auto* s = std::get_if<std::string>(&v)) lo_message_add_string(m, s->c_str());
      if (auto* bo = std::get_if<bool>(&v)) *bo ? lo_message_add_true(m) : lo_message_add_false(m);
    }
    lo_bundle_add_message(b, o.path.c_str(), m);
  }
  std::size_t size = 0;
  void* data = lo_bundle_serialise(b, nullptr, &size);
  std::vector<std::byte> out(size);
  std::memcpy(out.data(), data, size);
  std::free(data);
  lo_bundle_free_recursive(b);
  return out;
}

json to_json(const osc::Arg& a) {
  if (auto* b = std::get_if<bool>(&a)) return *b;
  if (auto* i = std::get_if<std::int64_t>(&a)) return *i;
  if (auto* d = std::get_if<double>(&a)) return *d;
  if (auto* s = std::get_if<std::string>(&a)) return *s;
  return nullptr;
}

// name/value pairs from `first` on, as a JSON object.
json pairs(const osc::Message& m, std::size_t first) {
  json out = json::object();
  for (std::size_t i = first; i + 1 < m.args.size(); i += 2) {
    out[std::get<std::string>(m.args[i])] = to_json(m.args[i + 1]);
  }
  return out;
}

// One OSC sender: a datagram socket of its own (UDP from a chosen address, or a UNIX socket
// bound to a path), so the daemon's replies come back to it.
class Peer {
 public:
  static std::unique_ptr<Peer> udp(const std::string& from, std::uint16_t port) {
    return std::unique_ptr<Peer>(new Peer(OscSocket::udp(port, from)));
  }
  static std::unique_ptr<Peer> unix_socket(const std::string& own_path, const std::string& to) {
    return std::unique_ptr<Peer>(new Peer(OscSocket::unix_socket(own_path, to)));
  }

  void send(const std::vector<std::byte>& bytes) { socket_->send(bytes); }
  void send(const std::string& path, const std::vector<V>& args) { send(lo_serialise(path, args)); }

  std::optional<osc::Message> receive(std::chrono::milliseconds timeout) {
    const std::vector<std::byte> buffer = socket_->receive(timeout);
    if (buffer.empty()) return std::nullopt;
    auto decoded = osc::decode_packet(buffer);
    auto* messages = std::get_if<std::vector<osc::Message>>(&decoded);
    EXPECT_TRUE(messages && messages->size() == 1) << "the daemon sent a bad datagram";
    if (!messages || messages->empty()) return std::nullopt;
    return messages->front();
  }

  // Sends `path` with `args` and an `id` pair, and returns the reply or error to that id (events
  // read meanwhile are kept). Fails the test when none comes.
  osc::Message call(const std::string& path, std::vector<V> args,
                    std::chrono::milliseconds timeout = 20s) {
    const std::int32_t id = next_id_++;
    args.emplace_back(std::string("id"));
    args.emplace_back(id);
    send(path, args);
    return answer(id, timeout);
  }
  osc::Message answer(std::int32_t id, std::chrono::milliseconds timeout = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      auto m = receive(std::max(left, 0ms));
      if (!m) {
        ADD_FAILURE() << "no answer to id " << id;
        return {};
      }
      if (m->address == "/clipd/event") {
        events_.push_back(*m);
        continue;
      }
      if (!m->args.empty() && m->args[0] == osc::Arg{std::int64_t{id}}) return *m;
      ADD_FAILURE() << "unexpected " << m->address << " while waiting for id " << id;
    }
  }
  // The result of a call that must succeed, as a JSON object.
  json ok(const std::string& path, std::vector<V> args = {}) {
    const osc::Message m = call(path, std::move(args));
    EXPECT_EQ(m.address, "/clipd/reply") << path << ": " << error_text(m);
    return m.address == "/clipd/reply" ? pairs(m, 1) : json();
  }
  // The code of a call that must fail.
  std::string error(const std::string& path, std::vector<V> args = {}) {
    const osc::Message m = call(path, std::move(args));
    EXPECT_EQ(m.address, "/clipd/error") << path;
    return m.address == "/clipd/error" && m.args.size() == 3 ? std::get<std::string>(m.args[1])
                                                             : std::string();
  }
  static std::string error_text(const osc::Message& m) {
    std::string s;
    for (const auto& a : m.args)
      s += to_json(a).dump() + " ";
    return s;
  }
  std::deque<osc::Message>& events() { return events_; }
  int fd() const { return socket_->fd(); }

 private:
  explicit Peer(std::unique_ptr<OscSocket> socket) : socket_(std::move(socket)) {}
  std::unique_ptr<OscSocket> socket_;
  std::int32_t next_id_ = 1;
  std::deque<osc::Message> events_;
};

std::int64_t nsecs(clockid_t clock) {
  timespec t{};
  ::clock_gettime(clock, &t);
  return std::int64_t{t.tv_sec} * 1000000000 + t.tv_nsec;
}

std::int64_t realtime_usecs() {
  timespec t{};
  ::clock_gettime(CLOCK_REALTIME, &t);
  return std::int64_t{t.tv_sec} * 1000000 + t.tv_nsec / 1000;
}

lo_timetag timetag_at(std::int64_t unix_usecs) {
  lo_timetag tt;
  tt.sec = static_cast<std::uint32_t>(unix_usecs / 1000000 + 2208988800LL);
  tt.frac = static_cast<std::uint32_t>(((unix_usecs % 1000000) << 32) / 1000000);
  return tt;
}

class Osc : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    home_ = new TempDir("clipd-osc");
    jackd_ = new JackdServer();
    port_ = free_udp_port();
    std::ofstream(home_->file("clipd.json"))
        << R"({"osc_port": )" << port_ << R"(, "osc_subscription_s": 1.5})";
    clipd_ = new Clipd(*jackd_, *home_, {false, {"--config", home_->file("clipd.json")}});
    clipd_->start();
    write_wav(home_->file("kick.wav"), 48000, 1, test_signal(4800, 1, 3));
    write_wav(home_->file("pad.wav"), 48000, 2, test_signal(48000, 2, 5));
  }
  static void TearDownTestSuite() {
    delete clipd_;
    delete jackd_;
    delete home_;
  }
  static std::string osc_socket() { return home_->file("run") + "/clipd/osc.sock"; }
  std::unique_ptr<Peer> udp() { return Peer::udp("127.0.0.1", port_); }

  static TempDir* home_;
  static JackdServer* jackd_;
  static Clipd* clipd_;
  static std::uint16_t port_;
};
TempDir* Osc::home_ = nullptr;
JackdServer* Osc::jackd_ = nullptr;
Clipd* Osc::clipd_ = nullptr;
std::uint16_t Osc::port_ = 0;

TEST_F(Osc, UnixSocketIsPrivateAndAnswersItsSender) {
  struct stat st {};
  ASSERT_EQ(::stat(osc_socket().c_str(), &st), 0) << osc_socket();
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto peer = Peer::unix_socket(home_->file("peer.sock"), osc_socket());
  const json hello = peer->ok("/clipd/hello");
  EXPECT_EQ(hello["backend"], "jack");
  EXPECT_EQ(hello["sample_rate"], 48000);
  EXPECT_EQ(peer->ok("/clipd/ping"), json::object());
}

TEST_F(Osc, UdpIsBoundToLoopbackByDefault) {
  // /proc/net/udp lists local addresses as hex, 127.0.0.1 as 0100007F.
  std::ifstream table("/proc/net/udp");
  std::string line;
  char wanted[16];
  std::snprintf(wanted, sizeof wanted, ":%04X ", port_);
  std::string local;
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, address;
    fields >> slot >> address;
    if ((address + " ").find(wanted) != std::string::npos) local = address;
  }
  EXPECT_EQ(local, "0100007F" + std::string(wanted).substr(0, 5)) << "port " << port_;
  EXPECT_EQ(udp()->ok("/clipd/ping"), json::object());
}

TEST_F(Osc, EveryCommandInBothAddressForms) {
  auto p = udp();
  const std::string kick = home_->file("kick.wav");
  const std::string pad = home_->file("pad.wav");
  // load, info, list, unload: generic and control forms.
  json r = p->ok("/clipd/load", {"kick", kick});
  EXPECT_EQ(r["frames"], 4800);
  EXPECT_EQ(r["channels"], 1);
  r = p->ok("/clipd/clip/pad/load", {pad});
  EXPECT_EQ(r["frames"], 48000);
  EXPECT_EQ(p->ok("/clipd/info", {"kick"})["frames"], 4800);
  EXPECT_EQ(p->ok("/clipd/clip/pad/info")["channels"], 2);
  const json clips = json::parse(p->ok("/clipd/list")["clips"].get<std::string>());
  ASSERT_EQ(clips.size(), 2u);

  // play: generic with pairs (a loop), control form with a button's press.
  Client started(clipd_->socket_path());
  started.ok({{"cmd", "subscribe"}, {"events", {"voice-started"}}});
  r = p->ok("/clipd/play", {"pad", "gain_db", -20.0f, "loop", true, "group", "pads"});
  const std::int64_t looped = r["voice"];
  r = p->ok("/clipd/clip/pad/play", {1.0f, "loop", true, "gain_db", -30.0f});
  const std::int64_t second = r["voice"];
  EXPECT_NE(looped, second);
  // A button's release is no command: the next answer is the ping's.
  p->send("/clipd/clip/pad/play", {0.0f});
  EXPECT_EQ(p->ok("/clipd/ping"), json::object());

  // set, pause, resume in both forms, seen in voices, once both voices play (a pause finds no
  // voice to pause before the engine has started it).
  std::set<std::int64_t> playing;
  while (playing.size() < 2) {
    auto e = started.wait_event("voice-started", 10s);
    ASSERT_TRUE(e) << "the plays did not start";
    playing.insert((*e)["voice"].get<std::int64_t>());
  }
  EXPECT_EQ(playing, (std::set<std::int64_t>{looped, second}));
  json voices;
  auto voice_state = [&](std::int64_t id) {
    voices = json::parse(p->ok("/clipd/voices")["voices"].get<std::string>());
    for (const auto& v : voices)
      if (v["voice"] == id) return v;
    return json();
  };
  ASSERT_EQ(voice_state(looped)["state"], "playing") << voices.dump();
  ASSERT_EQ(voice_state(second)["state"], "playing") << voices.dump();
  p->ok("/clipd/set", {static_cast<std::int32_t>(looped), "gain_db", -12.0f, "ramp_s", 0.0f});
  p->ok("/clipd/voice/" + std::to_string(second) + "/gain_db", {-6.0f});
  p->ok("/clipd/voice/" + std::to_string(second) + "/pan", {0.5f});
  p->ok("/clipd/pause", {static_cast<std::int32_t>(looped)});
  p->ok("/clipd/voice/" + std::to_string(second) + "/pause", {1.0f});
  for (int i = 0; i < 200 && voice_state(second)["state"] != "paused"; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(voice_state(looped)["state"], "paused") << voices.dump();
  EXPECT_EQ(voice_state(second)["state"], "paused") << voices.dump();
  EXPECT_NEAR(voice_state(second)["pan"].get<double>(), 0.5, 1e-6);
  EXPECT_NEAR(voice_state(looped)["gain_db"].get<double>(), -12.0, 1e-3);
  p->ok("/clipd/resume", {static_cast<std::int32_t>(looped)});
  p->ok("/clipd/voice/" + std::to_string(second) + "/resume");

  // master, meters, status.
  p->ok("/clipd/master", {-6.0f});
  const json status = p->ok("/clipd/status");
  EXPECT_EQ(status["master_gain_db"], -6.0);
  EXPECT_EQ(status["osc_dropped"], 0);
  EXPECT_TRUE(status.contains("osc_malformed"));
  EXPECT_EQ(status["osc_unsent"], 0);
  EXPECT_EQ(status.value("engine", ""), "online");
  const json meters = p->ok("/clipd/meters");
  EXPECT_EQ(json::parse(meters["peak_db"].get<std::string>()).size(), 2u);
  EXPECT_EQ(json::parse(meters["rms_db"].get<std::string>()).size(), 2u);
  p->ok("/clipd/master", {0.0f});

  // stop: by voice (both forms), clip, group, all (both forms).
  EXPECT_EQ(p->ok("/clipd/voice/" + std::to_string(second) + "/stop")["stopped"], 1);
  EXPECT_EQ(p->ok("/clipd/group/pads/stop")["stopped"], 1);
  const std::int64_t third = p->ok("/clipd/clip/pad/play", {"loop", true})["voice"];
  EXPECT_EQ(p->ok("/clipd/stop", {"voice", static_cast<std::int32_t>(third)})["stopped"], 1);
  p->ok("/clipd/clip/pad/play", {"loop", true});
  EXPECT_EQ(p->ok("/clipd/clip/pad/stop")["stopped"], 1);
  p->ok("/clipd/clip/pad/play", {"loop", true});
  EXPECT_EQ(p->ok("/clipd/all/stop")["stopped"], 1);
  p->ok("/clipd/clip/pad/play", {"loop", true});
  EXPECT_EQ(p->ok("/clipd/stop", {"all", true, "fade_s", 0.0f})["stopped"], 1);
  p->ok("/clipd/clip/pad/play", {"loop", true});
  EXPECT_EQ(p->ok("/clipd/stop", {"clip", "pad"})["stopped"], 1);

  // MIDI bindings.
  p->ok("/clipd/bind", {60, "kick", "mode", "gate", "channel", 2});
  const json bindings = json::parse(p->ok("/clipd/bindings")["bindings"].get<std::string>());
  ASSERT_EQ(bindings.size(), 1u);
  EXPECT_EQ(bindings[0]["note"], 60);
  EXPECT_EQ(bindings[0]["mode"], "gate");
  p->ok("/clipd/unbind", {60, "channel", 2});
  EXPECT_EQ(json::parse(p->ok("/clipd/bindings")["bindings"].get<std::string>()).size(), 0u);

  // subscribe / unsubscribe answer {} (their effect: Events below).
  EXPECT_EQ(p->ok("/clipd/subscribe"), json::object());
  EXPECT_EQ(p->ok("/clipd/unsubscribe"), json::object());

  EXPECT_EQ(p->ok("/clipd/unload", {"kick"}), json::object());
  EXPECT_EQ(p->ok("/clipd/clip/pad/unload"), json::object());
  EXPECT_EQ(json::parse(p->ok("/clipd/list")["clips"].get<std::string>()).size(), 0u);
}

TEST_F(Osc, ErrorsCarryTheJsonContractsCodes) {
  auto p = udp();
  EXPECT_EQ(p->error("/clipd/clip/nothing/play"), "clip-not-found");
  EXPECT_EQ(p->error("/clipd/play", {"nothing"}), "clip-not-found");
  EXPECT_EQ(p->error("/clipd/voice/999999/stop"), "voice-not-found");
  EXPECT_EQ(p->error("/clipd/voice/999999/gain_db", {-3.0f}), "voice-not-found");
  EXPECT_EQ(p->error("/clipd/master", {99.0f}), "bad-request");
  EXPECT_EQ(p->error("/clipd/play"), "bad-request");  // no clip
  EXPECT_EQ(p->error("/clipd/play", {"kick", "gain_db"}), "bad-request");
  EXPECT_EQ(p->error("/clipd/play", {"kick", "volume", 3.0f}), "bad-request");
  EXPECT_EQ(p->error("/clipd/dance"), "unknown-command");
  EXPECT_EQ(p->error("/elsewhere/play"), "unknown-command");
  EXPECT_EQ(p->error("/clipd/clip/kick/dance"), "unknown-command");
  EXPECT_EQ(p->error("/clipd/load", {"x", home_->file("missing.wav")}), "file-not-found");
  p->ok("/clipd/load", {"dup", home_->file("kick.wav")});
  EXPECT_EQ(p->error("/clipd/load", {"dup", home_->file("kick.wav")}), "clip-exists");
  p->ok("/clipd/unload", {"dup"});
  // The error carries the id, the code and the contract's message.
  const osc::Message m = p->call("/clipd/master", {99.0f});
  ASSERT_EQ(m.args.size(), 3u);
  EXPECT_EQ(std::get<std::string>(m.args[2]), "field 'gain_db' must be in [-120, 24]");

  // A malformed datagram: an error without an id, and counted.
  const std::int64_t before = p->ok("/clipd/status")["osc_malformed"];
  p->send(std::vector<std::byte>{std::byte{'#'}, std::byte{'b'}, std::byte{'u'}, std::byte{'n'}});
  auto e = p->receive(10s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->address, "/clipd/error");
  ASSERT_EQ(e->args.size(), 3u);
  EXPECT_EQ(e->args[0], osc::Arg{osc::Nil{}});
  EXPECT_EQ(e->args[1], osc::Arg{std::string("bad-request")});
  EXPECT_EQ(p->ok("/clipd/status")["osc_malformed"], before + 1);
}

TEST_F(Osc, EventsGoToSubscribersUntilTheyUnsubscribeOrLapse) {
  auto p = udp();
  auto u = Peer::unix_socket(home_->file("events.sock"), osc_socket());
  Client json_client(clipd_->socket_path());
  json_client.ok({{"cmd", "subscribe"}, {"events", {"voice-started", "voice-ended"}}});
  p->ok("/clipd/load", {"ev", home_->file("kick.wav")});
  p->ok("/clipd/subscribe", {"events", R"(["voice-started","voice-ended"])"});
  u->ok("/clipd/subscribe");

  // Both subscribers get the voice's events; the JSON client sees the same ones.
  const std::int64_t voice = p->ok("/clipd/clip/ev/play")["voice"];
  auto next_event = [](Peer& peer, const std::string& name) -> std::optional<osc::Message> {
    for (auto& e : peer.events()) {
      if (e.args[0] == osc::Arg{name}) {
        osc::Message m = e;
        return m;
      }
    }
    while (auto m = peer.receive(10s)) {
      if (m->address == "/clipd/event" && m->args[0] == osc::Arg{name}) return m;
    }
    return std::nullopt;
  };
  for (Peer* peer : {p.get(), u.get()}) {
    auto started = next_event(*peer, "voice-started");
    ASSERT_TRUE(started);
    const json fields = pairs(*started, 1);
    EXPECT_EQ(fields["voice"], voice);
    EXPECT_EQ(fields["clip"], "ev");
    EXPECT_EQ(fields["late"], false);
    auto ended = next_event(*peer, "voice-ended");
    ASSERT_TRUE(ended);
    EXPECT_EQ(pairs(*ended, 1)["reason"], "finished");
    peer->events().clear();
  }
  ASSERT_TRUE(json_client.wait_event("voice-started"));
  ASSERT_TRUE(json_client.wait_event("voice-ended"));

  // After unsubscribe: nothing. The JSON client's event is sent after the OSC ones, so once it
  // is read, an OSC event would already be waiting before the ping's reply.
  p->ok("/clipd/unsubscribe");
  const std::int64_t v2 = p->ok("/clipd/clip/ev/play")["voice"];
  auto started = json_client.wait_event("voice-started");
  ASSERT_TRUE(started);
  EXPECT_EQ((*started)["voice"], v2);
  ASSERT_TRUE(json_client.wait_event("voice-ended"));
  p->ok("/clipd/ping");
  EXPECT_TRUE(p->events().empty()) << "an event after unsubscribe";

  // The UNIX subscriber still gets them (its reply to a ping comes after them).
  u->ok("/clipd/ping");
  EXPECT_FALSE(u->events().empty());

  // The UNIX subscriber did not renew within osc_subscription_s (1.5 s): lapsed. The lapse is a
  // time, so this waits for it.
  std::this_thread::sleep_for(1700ms);
  // Whatever came before the lapse (an xrun in the sleep) is read before the ping's reply.
  u->ok("/clipd/ping");
  u->events().clear();
  p->ok("/clipd/clip/ev/play");
  ASSERT_TRUE(json_client.wait_event("voice-started"));
  ASSERT_TRUE(json_client.wait_event("voice-ended"));
  u->ok("/clipd/ping");
  EXPECT_TRUE(u->events().empty())
      << "an event after the subscription lapsed: "
      << (u->events().empty() ? "" : Peer::error_text(u->events().front()));
  // Renewing brings them back.
  u->ok("/clipd/subscribe", {"events", R"(["voice-started"])"});
  p->ok("/clipd/clip/ev/play");
  EXPECT_TRUE(next_event(*u, "voice-started"));
  p->ok("/clipd/unload", {"ev"});
}

// A JACK client of the test's own. Its process callback records every cycle's first frame and
// the server's times at it and at the next cycle's start (jack_get_cycle_times): together, the
// server's own map from time to frames, cycle by cycle (what jack_time_to_frames computes from
// the cycle at hand). The frame a time maps to is read from the cycle that holds that time.
class JackCycles {
 public:
  explicit JackCycles(const std::string& server) : cycles_(new Cycle[kCapacity]) {
    jack_status_t status{};
    client_ = jack_client_open("osc-cycles",
                               static_cast<jack_options_t>(JackNoStartServer | JackServerName),
                               &status, server.c_str());
    if (client_ == nullptr) return;
    jack_set_process_callback(client_, &JackCycles::process, this);
    jack_activate(client_);
  }
  ~JackCycles() {
    if (client_ != nullptr) jack_client_close(client_);
  }
  bool ok() const { return client_ != nullptr; }

  // The server's clock at `unix_usecs`, in nanoseconds: jackd's jack_get_time() reads
  // CLOCK_MONOTONIC_RAW, read here with CLOCK_REALTIME, of three readings the one that took least
  // (another process may run between the reads).
  static std::int64_t server_nsecs_of(std::int64_t unix_usecs) {
    std::int64_t best_gap = INT64_MAX;
    std::int64_t real = 0;
    std::int64_t server = 0;
    for (int i = 0; i < 3; ++i) {
      const std::int64_t before = nsecs(CLOCK_REALTIME);
      const std::int64_t now = nsecs(CLOCK_MONOTONIC_RAW);
      const std::int64_t after = nsecs(CLOCK_REALTIME);
      if (after - before < best_gap) {
        best_gap = after - before;
        real = before + (after - before) / 2;
        server = now;
      }
    }
    return server + (unix_usecs * 1000 - real);
  }
  // Whether jack_get_time() is CLOCK_MONOTONIC_RAW's microseconds (what server_nsecs_of reads).
  static bool jack_time_is_monotonic_raw() {
    const std::int64_t before = nsecs(CLOCK_MONOTONIC_RAW) / 1000;
    const auto t = static_cast<std::int64_t>(jack_get_time());
    const std::int64_t after = nsecs(CLOCK_MONOTONIC_RAW) / 1000;
    return before <= t && t <= after;
  }

  // The number of cycles recorded so far.
  std::size_t cycles() const { return count_.load(std::memory_order_acquire); }

  // The frame server time `at_ns` maps to, and whether it was late: the first recorded cycle from
  // `from` on whose span ends after the time holds it, and maps it with its own map (JACK2's
  // Time2Frames: frames + rint(du / dp * nframes), to the nanosecond), no earlier than its first
  // frame (late when before). Where the server's clock runs on, that is the cycle whose span
  // holds the time; where it jumps (a late cycle of the dummy driver), the first that reaches it.
  // nullopt when no recorded cycle does.
  struct Mapped {
    std::int64_t frame;
    bool late;
  };
  std::optional<Mapped> frame_at(std::int64_t at_ns, std::size_t from) const {
    const std::size_t n = count_.load(std::memory_order_acquire);
    for (std::size_t k = from; k < n; ++k) {
      const Cycle& c = cycles_[k];
      if (at_ns >= static_cast<std::int64_t>(c.next_usecs) * 1000) continue;
      const double du =
          static_cast<double>(at_ns - static_cast<std::int64_t>(c.usecs) * 1000) / 1000.0;
      const double dp = static_cast<double>(c.next_usecs - c.usecs);
      const double offset = std::rint(du / dp * c.nframes);
      return Mapped{static_cast<std::int64_t>(c.frames) +
                        (offset > 0 ? static_cast<std::int64_t>(offset) : 0),
                    offset < 0};
    }
    return std::nullopt;
  }

 private:
  struct Cycle {
    jack_nframes_t frames = 0;
    jack_nframes_t nframes = 0;
    jack_time_t usecs = 0;
    jack_time_t next_usecs = 0;
  };
  static constexpr std::size_t kCapacity = 1 << 16;  // 23 minutes of 1024-frame cycles

  // Audio thread: no allocation, no lock.
  static int process(jack_nframes_t nframes, void* arg) {
    auto* self = static_cast<JackCycles*>(arg);
    const std::size_t n = self->count_.load(std::memory_order_relaxed);
    if (n == kCapacity) return 0;
    Cycle& c = self->cycles_[n];
    float period = 0;
    if (jack_get_cycle_times(self->client_, &c.frames, &c.usecs, &c.next_usecs, &period) != 0) {
      return 0;
    }
    c.nframes = nframes;
    self->count_.store(n + 1, std::memory_order_release);
    return 0;
  }

  jack_client_t* client_ = nullptr;
  std::unique_ptr<Cycle[]> cycles_;
  std::atomic<std::size_t> count_{0};
};

TEST_F(Osc, ABundleOf64PlaysStartsThemAllOnOneFrame) {
  auto p = udp();
  p->ok("/clipd/load", {"b64", home_->file("kick.wav")});
  Client json_client(clipd_->socket_path());
  json_client.ok({{"cmd", "subscribe"}, {"events", {"voice-started"}}});
  std::vector<Outgoing> plays;
  for (int i = 0; i < 64; ++i) {
    plays.push_back({"/clipd/clip/b64/play", {"gain_db", -40.0f, "id", i + 1000}});
  }
  p->send(lo_bundle_bytes(lo_timetag{0, 1}, plays));  // immediate (LO_TT_IMMEDIATE is C)
  for (int i = 0; i < 64; ++i) {
    const osc::Message m = p->answer(i + 1000);
    EXPECT_EQ(m.address, "/clipd/reply") << Peer::error_text(m);
  }
  std::set<std::int64_t> frames;
  int late = 0;
  for (int i = 0; i < 64; ++i) {
    auto e = json_client.wait_event("voice-started");
    ASSERT_TRUE(e) << "only " << i << " of 64 started";
    frames.insert((*e)["frame"].get<std::int64_t>());
    late += (*e)["late"].get<bool>() ? 1 : 0;
  }
  EXPECT_EQ(frames.size(), 1u) << "the 64 plays started on " << frames.size() << " frames";
  EXPECT_EQ(late, 0);
  p->ok("/clipd/all/stop", {"fade_s", 0.0f});
  p->ok("/clipd/unload", {"b64"});
}

TEST_F(Osc, BundlesSentAheadStartOnTheFrameTheirTimetagMapsTo) {
  JackCycles jack(jackd_->name());
  ASSERT_TRUE(jack.ok());
  ASSERT_TRUE(JackCycles::jack_time_is_monotonic_raw());
  auto p = udp();
  p->ok("/clipd/load", {"tt", home_->file("kick.wav")});
  Client json_client(clipd_->socket_path());
  json_client.ok({{"cmd", "subscribe"}, {"events", {"voice-started"}}});

  // 1,000 bundles, each 50 ms ahead at an arbitrary sub-frame offset, sent while the ones before
  // them wait in the daemon: a bundle goes once the one kWindow before it has started.
  constexpr int kBundles = 1000;
  constexpr int kWindow = 8;
  std::vector<std::int64_t> server_time(kBundles);  // the timetag on the server's clock
  std::vector<std::size_t> sent_at_cycle(kBundles);
  std::vector<std::int64_t> voice(kBundles);
  std::map<std::int64_t, json> started;  // voice-started by voice
  auto wait_started = [&](int i) {
    while (started.find(voice[i]) == started.end()) {
      auto e = json_client.wait_event("voice-started", 10s);
      if (!e) return false;
      started[(*e)["voice"].get<std::int64_t>()] = *e;
    }
    return true;
  };
  for (int i = 0; i < kBundles; ++i) {
    if (i >= kWindow) {
      ASSERT_TRUE(wait_started(i - kWindow)) << "bundle " << i - kWindow;
    }
    const std::int64_t at = realtime_usecs() + 50000 + (i * 7919) % 997;
    server_time[i] = JackCycles::server_nsecs_of(at);
    sent_at_cycle[i] = jack.cycles();
    p->send(lo_bundle_bytes(timetag_at(at),
                            {{"/clipd/clip/tt/play", {"gain_db", -40.0f, "id", 10000 + i}}}));
    const osc::Message reply = p->answer(10000 + i);
    ASSERT_EQ(reply.address, "/clipd/reply") << Peer::error_text(reply);
    voice[i] = pairs(reply, 1)["voice"].get<std::int64_t>();
  }
  for (int i = kBundles - kWindow; i < kBundles; ++i) {
    ASSERT_TRUE(wait_started(i)) << "bundle " << i;
  }

  // Each start against the frame its timetag maps to in the cycle that holds it.
  // Late starts (the daemon took the bundle after its time) are counted apart.
  std::map<std::int64_t, int> histogram;
  int late = 0, on_time = 0;
  for (int i = 0; i < kBundles; ++i) {
    const json& e = started[voice[i]];
    const std::optional<JackCycles::Mapped> expected =
        jack.frame_at(server_time[i], sent_at_cycle[i] > 0 ? sent_at_cycle[i] - 1 : 0);
    ASSERT_TRUE(expected) << "no recorded cycle holds bundle " << i;
    if (e["late"].get<bool>() && !expected->late) {
      ++late;
      continue;
    }
    ++on_time;
    EXPECT_EQ(e["late"].get<bool>(), expected->late) << "bundle " << i;
    ++histogram[e["frame"].get<std::int64_t>() - expected->frame];
  }
  std::string all;
  for (const auto& [difference, count] : histogram)
    all += std::to_string(difference) + ": " + std::to_string(count) + ", ";
  std::printf(
      "bundle start frame minus the frame its timetag maps to (%d bundles 50 ms ahead, 48 kHz, "
      "1024-frame periods), difference: count: %s%d taken late\n",
      kBundles, all.c_str(), late);
  // The engine binds each bundle's time to its frame in the cycle that holds it, through that
  // cycle's own map, as the reference does: they differ only when the daemon's and this test's
  // readings of the clocks (CLOCK_REALTIME against the server's, each to a few tens of
  // nanoseconds) put a time on either side of a frame's middle, a frame apart. A bundle the
  // daemon takes after its time starts late, at once: a question of speed, which a sanitizer
  // changes (tests/support/sanitizer.hpp), so none may in the plain build only.
  EXPECT_GE(on_time, kBundles / 2);
  EXPECT_GE(histogram[0], on_time * 99 / 100) << all;
  EXPECT_EQ(histogram[-1] + histogram[0] + histogram[1], on_time) << all;
  if (!sanitized_build) {
    EXPECT_EQ(late, 0);
  }

  // A bundle whose time has passed acts at once, and its voice says late.
  p->send(lo_bundle_bytes(timetag_at(realtime_usecs() - 500000),
                          {{"/clipd/clip/tt/play", {"gain_db", -40.0f, "id", 3000}}}));
  EXPECT_EQ(p->answer(3000).address, "/clipd/reply");
  auto e = json_client.wait_event("voice-started");
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["late"], true);
  p->ok("/clipd/all/stop", {"fade_s", 0.0f});
  p->ok("/clipd/unload", {"tt"});
}

// A daemon whose UDP socket takes datagrams from 127.0.0.2 only.
TEST(OscSenders, ANewSenderTakesTheLeastRecentUnsubscribedPlaceAndSubscriptionsAreCapped) {
  TempDir home("clipd-osc-senders");
  JackdServer jackd;
  const std::uint16_t port = free_udp_port();
  std::ofstream(home.file("clipd.json")) << R"({"osc_port": )" << port << R"(, "osc_senders": 3})";
  Clipd clipd(jackd, home, {false, {"--config", home.file("clipd.json")}});
  clipd.start();
  write_wav(home.file("kick.wav"), 48000, 1, test_signal(4800, 1, 3));
  Client json_client(clipd.socket_path());
  json_client.ok({{"cmd", "load"}, {"name", "kick"}, {"path", home.file("kick.wav")}});
  json_client.ok({{"cmd", "subscribe"}, {"events", {"voice-started", "voice-ended"}}});

  std::map<char, std::unique_ptr<Peer>> peer;
  for (char name : std::string("abcdef"))
    peer[name] = Peer::udp("127.0.0.1", port);
  const std::vector<V> started = {"events", R"(["voice-started"])"};
  // The table holds a (subscribed), b, c: full.
  peer['a']->ok("/clipd/subscribe", started);
  peer['b']->ok("/clipd/ping");
  peer['c']->ok("/clipd/ping");
  // d takes b's place (heard from least recently, not subscribed), then e takes c's.
  peer['d']->ok("/clipd/subscribe", started);
  peer['e']->ok("/clipd/subscribe", started);
  // Every remembered sender is subscribed: f is answered, but its subscription is refused, and
  // so is b's now that it has been forgotten.
  EXPECT_EQ(peer['f']->ok("/clipd/ping"), json::object());
  EXPECT_EQ(peer['f']->error("/clipd/subscribe", started), "limit");
  EXPECT_EQ(peer['b']->error("/clipd/subscribe", started), "limit");

  // Events reach a, d and e, and not f or b. The JSON client's events are sent after the OSC
  // ones, so once it has read one, every OSC event of that voice is on its way.
  auto play_and_wait = [&] {
    const std::int64_t voice = json_client.ok({{"cmd", "play"}, {"clip", "kick"}})["voice"];
    auto e = json_client.wait_event("voice-ended");
    EXPECT_TRUE(e);
    return voice;
  };
  std::int64_t voice = play_and_wait();
  auto heard = [&](char name, std::int64_t v) {
    Peer& p = *peer[name];
    p.ok("/clipd/ping");  // its reply comes after any event sent before it
    bool found = false;
    for (const auto& m : p.events())
      found = found ||
              (m.args[0] == osc::Arg{std::string("voice-started")} && pairs(m, 1)["voice"] == v);
    p.events().clear();
    return found;
  };
  EXPECT_TRUE(heard('a', voice));
  EXPECT_TRUE(heard('d', voice));
  EXPECT_TRUE(heard('e', voice));
  EXPECT_FALSE(heard('f', voice));
  EXPECT_FALSE(heard('b', voice));

  // Once a unsubscribes, its place is free for f.
  peer['a']->ok("/clipd/unsubscribe");
  peer['f']->ok("/clipd/subscribe", started);
  voice = play_and_wait();
  EXPECT_TRUE(heard('f', voice));
  EXPECT_TRUE(heard('d', voice));
  EXPECT_TRUE(heard('e', voice));
  EXPECT_FALSE(heard('a', voice));
  EXPECT_EQ(clipd.process().wait_for(0ms), std::nullopt) << clipd.log();
}

TEST(OscAllow, DatagramsFromOutsideTheAllowListAreDroppedAndCounted) {
  TempDir home("clipd-osc-allow");
  JackdServer jackd;
  const std::uint16_t port = free_udp_port();
  std::ofstream(home.file("clipd.json"))
      << R"({"osc_port": )" << port << R"(, "osc_allow": ["127.0.0.2/32"]})";
  Clipd clipd(jackd, home, {false, {"--config", home.file("clipd.json")}});
  clipd.start();

  auto outsider = Peer::udp("127.0.0.1", port);
  auto insider = Peer::udp("127.0.0.2", port);
  for (int i = 0; i < 3; ++i)
    outsider->send("/clipd/ping", {"id", i});
  // The insider's answer comes after the outsider's datagrams were read (one socket, in order).
  EXPECT_EQ(insider->ok("/clipd/ping"), json::object());
  const json status = insider->ok("/clipd/status");
  EXPECT_EQ(status["osc_dropped"], 3);
  EXPECT_FALSE(outsider->receive(0ms)) << "the outsider got an answer";
  // The JSON socket reports the same count.
  Client c(clipd.socket_path());
  EXPECT_EQ(c.ok({{"cmd", "status"}})["osc_dropped"], 3);

  // A second daemon that names the same OSC socket refuses to start (the socket is live).
  const std::string osc_sock = home.file("run") + "/clipd/osc.sock";
  EnvChanges env = jackd.env();
  for (auto& e : clipd.env())
    env.push_back(e);
  const auto second = run(
      {clipd_binary(), "--instance", "second", "--no-state", "--osc-socket", osc_sock}, env, 20s);
  EXPECT_EQ(second.status, 1) << second.output;
  EXPECT_NE(second.output.find("in use"), std::string::npos) << second.output;
  struct stat st {};
  EXPECT_EQ(::stat(osc_sock.c_str(), &st), 0) << "the second daemon removed the live socket";
  EXPECT_EQ(insider->ok("/clipd/ping"), json::object());

  // shutdown over OSC: answered, then the daemon exits cleanly.
  EXPECT_EQ(insider->ok("/clipd/shutdown"), json::object());
  EXPECT_EQ(clipd.process().wait_for(10s), std::optional<int>(0)) << clipd.log();
}

}  // namespace
}  // namespace clipd::test
