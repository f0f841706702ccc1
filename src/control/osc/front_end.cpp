#include "control/osc/front_end.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <span>
#include <utility>

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/local/datagram_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "control/osc/clock.hpp"
#include "control/osc/packet.hpp"
#include "control/osc/reply.hpp"
#include "control/osc/request.hpp"
#include "control/protocol/parse.hpp"

namespace clipd::control::osc {
namespace {

using udp = boost::asio::ip::udp;
using unix_dgram = boost::asio::local::datagram_protocol;
using Steady = std::chrono::steady_clock;

// The largest datagram read whole (UDP carries at most 65507 bytes); a UNIX datagram that fills
// the buffer may have been cut, and is refused as malformed.
constexpr std::size_t kMaxDatagram = 65536;
// The time a datagram's messages take to reach the engine's queue, for the immediate timetag
// (clock.hpp): a base and a share per message.
constexpr std::uint64_t kHandOverUsecs = 1000;
constexpr std::uint64_t kHandOverUsecsPerMessage = 30;
// Distinct refused addresses named in the log (then only counted).
constexpr std::size_t kLoggedDrops = 16;
constexpr auto kSweepPeriod = std::chrono::milliseconds(250);

// A sender: where its replies go.
struct Peer {
  bool is_udp = true;
  udp::endpoint udp_endpoint;
  unix_dgram::endpoint unix_endpoint;
  bool can_reply = true;  // false for a UNIX sender whose socket has no path
  std::string key;
};

enum class SendResult { sent, too_big, failed };

std::string text_of(const udp::endpoint& endpoint) {
  const auto address = endpoint.address();
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(endpoint.port());
}

void make_private_folders(const std::filesystem::path& dir) {
  if (dir.empty()) return;
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw OscError("'" + dir.native() + "' is not a folder");
    return;
  }
  if (dir.has_parent_path() && dir.parent_path() != dir) make_private_folders(dir.parent_path());
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw OscError("cannot create the folder '" + dir.native() + "': " + std::strerror(errno));
  }
}

bool is_timed_command(const protocol::Json& request) {
  const auto& cmd = request["cmd"];
  return cmd == "play" || cmd == "stop" || cmd == "set";
}

// A timed command's at_frame, mapped from a timetag, becomes that time on the server's clock
// with the frame as its estimate: the engine binds it in the cycle that holds it.
void name_server_time(protocol::Request& request, std::uint64_t nsecs) {
  auto at = [nsecs](protocol::When& when) {
    if (const auto* frame = std::get_if<protocol::AtFrame>(&when)) {
      when = protocol::AtServerTime{frame->frame, nsecs};
    }
  };
  if (auto* play = std::get_if<protocol::PlayRequest>(&request)) at(play->when);
  if (auto* stop = std::get_if<protocol::StopRequest>(&request)) at(stop->when);
  if (auto* set = std::get_if<protocol::SetRequest>(&request)) at(set->when);
}

}  // namespace

class OscClient;

struct OscFrontEnd::State : std::enable_shared_from_this<OscFrontEnd::State> {
  State(boost::asio::io_context& io_, OscConfig config_, Submit submit_, Clock clock_)
      : io(io_),
        config(std::move(config_)),
        submit(std::move(submit_)),
        clock(std::move(clock_)),
        sweep(io_) {}

  void read_udp();
  void read_unix();
  void handle(const Peer& peer, std::span<const std::byte> bytes);
  // The sender's client: remembered, or made (and remembered while there is room; see
  // OscConfig::max_senders).
  std::shared_ptr<OscClient> client_for(const Peer& peer);
  // Forgets the sender heard from least recently among those not subscribed; false when every
  // remembered sender is subscribed. O(senders), run only when the table is full.
  bool forget_one_sender(Steady::time_point now);
  SendResult send(const Peer& peer, const std::vector<std::byte>& bytes);
  void schedule_sweep();
  void log(std::string_view line) const {
    if (config.log) config.log(line);
  }

  boost::asio::io_context& io;
  OscConfig config;
  Submit submit;
  OscFrontEnd::Clock clock;
  std::optional<udp::socket> udp_socket;
  std::optional<unix_dgram::socket> unix_socket;
  std::vector<std::byte> udp_buffer = std::vector<std::byte>(kMaxDatagram);
  std::vector<std::byte> unix_buffer = std::vector<std::byte>(kMaxDatagram);
  udp::endpoint udp_from;
  unix_dgram::endpoint unix_from;
  std::map<std::string, std::shared_ptr<OscClient>, std::less<>> clients;
  std::vector<std::string> logged_drops;
  boost::asio::steady_timer sweep;
  OscCounters counters;
  bool running = false;
  bool bound_path = false;
};

// One sender's side of the command core: its replies and its events go back to its address.
class OscClient final : public Requester {
 public:
  OscClient(std::weak_ptr<OscFrontEnd::State> state, Peer peer, bool remembered)
      : state_(std::move(state)), peer_(std::move(peer)), remembered_(remembered) {}

  void reply_ok(const protocol::RequestId& id, const protocol::Json& result) override {
    answer(id, encode_reply(id, result), true);
  }
  void reply_shared(const protocol::RequestId& id,
                    const std::shared_ptr<const SharedResult>& result) override {
    answer(id, encode_reply(id, result->value), true);
  }
  void reply_error(const protocol::RequestId& id, protocol::ErrorCode code,
                   std::string_view message) override {
    answer(id, encode_error(id, code, message), false);
  }
  // A sender has no connection to lose: it is there while the front end runs (a UNIX sender
  // without a path is acted on, its answers dropped in deliver()).
  bool open() const noexcept override {
    auto state = state_.lock();
    return state && state->running;
  }
  Subscription& subscription() noexcept override { return subscription_; }

  // Whether events go to this sender now: subscribed, and renewed within the lapse.
  bool subscribed(Steady::time_point now, std::chrono::milliseconds lapse) noexcept {
    if (subscription_.active && now - renewed_ > lapse) subscription_ = Subscription{};
    return subscription_.active;
  }
  void renew(Steady::time_point now) noexcept { renewed_ = now; }
  void seen(Steady::time_point now) noexcept { last_seen_ = now; }
  Steady::time_point last_seen() const noexcept { return last_seen_; }
  // False for a sender served while the table of senders was full of subscribed ones.
  bool remembered() const noexcept { return remembered_; }

  // While held, answers queue up; release_answers() sends them in order.
  void hold_answers() noexcept { holding_ = true; }
  void release_answers() {
    holding_ = false;
    auto held = std::move(held_);
    held_.clear();
    for (auto& [id, bytes, reply] : held) {
      if (reply) {
        send_reply(id, bytes);
      } else {
        (void)deliver(bytes);
      }
    }
  }

  SendResult deliver(const std::vector<std::byte>& bytes) {
    auto state = state_.lock();
    if (!state || !state->running || !peer_.can_reply) return SendResult::failed;
    return state->send(peer_, bytes);
  }

 private:
  struct Held {
    protocol::RequestId id;
    std::vector<std::byte> bytes;
    bool reply;  // a result (too large: a limit error instead), else an error
  };

  void answer(const protocol::RequestId& id, std::vector<std::byte> bytes, bool reply) {
    if (holding_) {
      held_.push_back(Held{id, std::move(bytes), reply});
    } else if (reply) {
      send_reply(id, bytes);
    } else {
      (void)deliver(bytes);
    }
  }

  void send_reply(const protocol::RequestId& id, const std::vector<std::byte>& bytes) {
    if (deliver(bytes) == SendResult::too_big) {
      (void)deliver(encode_error(
          id, protocol::ErrorCode::limit,
          "the reply (" + std::to_string(bytes.size()) + " bytes) does not fit in one datagram"));
    }
  }

  std::weak_ptr<OscFrontEnd::State> state_;
  Peer peer_;
  bool remembered_;
  Subscription subscription_;
  bool holding_ = false;
  std::vector<Held> held_;
  Steady::time_point renewed_{};
  Steady::time_point last_seen_{};
};

SendResult OscFrontEnd::State::send(const Peer& peer, const std::vector<std::byte>& bytes) {
  boost::system::error_code ec;
  const auto buffer = boost::asio::buffer(bytes.data(), bytes.size());
  if (peer.is_udp && udp_socket) {
    udp_socket->send_to(buffer, peer.udp_endpoint, 0, ec);
  } else if (!peer.is_udp && unix_socket) {
    unix_socket->send_to(buffer, peer.unix_endpoint, 0, ec);
  } else {
    return SendResult::failed;
  }
  if (!ec) return SendResult::sent;
  if (ec == boost::asio::error::message_size) return SendResult::too_big;
  ++counters.unsent;
  return SendResult::failed;
}

std::shared_ptr<OscClient> OscFrontEnd::State::client_for(const Peer& peer) {
  const auto now = Steady::now();
  auto it = clients.find(peer.key);
  if (it == clients.end()) {
    if (clients.size() >= config.max_senders && !forget_one_sender(now)) {
      auto passing = std::make_shared<OscClient>(weak_from_this(), peer, false);
      passing->seen(now);
      return passing;
    }
    it = clients.emplace(peer.key, std::make_shared<OscClient>(weak_from_this(), peer, true)).first;
  }
  it->second->seen(now);
  return it->second;
}

bool OscFrontEnd::State::forget_one_sender(Steady::time_point now) {
  auto oldest = clients.end();
  for (auto it = clients.begin(); it != clients.end(); ++it) {
    if (it->second->subscribed(now, config.subscription_lapse)) continue;
    if (oldest == clients.end() || it->second->last_seen() < oldest->second->last_seen()) {
      oldest = it;
    }
  }
  if (oldest == clients.end()) return false;
  // A reply still due reaches it: the command core holds its Requester.
  clients.erase(oldest);
  return true;
}

void OscFrontEnd::State::read_udp() {
  udp_socket->async_receive_from(
      boost::asio::buffer(udp_buffer), udp_from,
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
        if (!self->running || ec == boost::asio::error::operation_aborted) return;
        if (!ec) {
          const auto address = self->udp_from.address();
          if (!allowed(self->config.allow, address)) {
            ++self->counters.dropped;
            const std::string text = address.to_string();
            if (self->logged_drops.size() < kLoggedDrops &&
                std::find(self->logged_drops.begin(), self->logged_drops.end(), text) ==
                    self->logged_drops.end()) {
              self->logged_drops.push_back(text);
              self->log("osc: dropping datagrams from " + text + " (not in osc_allow)");
            }
          } else {
            Peer peer;
            peer.is_udp = true;
            peer.udp_endpoint = self->udp_from;
            peer.key = "udp " + text_of(self->udp_from);
            self->handle(peer, std::span(self->udp_buffer.data(), n));
          }
        }
        self->read_udp();
      });
}

void OscFrontEnd::State::read_unix() {
  unix_socket->async_receive_from(
      boost::asio::buffer(unix_buffer), unix_from,
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
        if (!self->running || ec == boost::asio::error::operation_aborted) return;
        if (!ec) {
          Peer peer;
          peer.is_udp = false;
          peer.unix_endpoint = self->unix_from;
          const std::string path = self->unix_from.path();
          peer.can_reply = !path.empty();
          peer.key = "unix " + path;
          if (n == kMaxDatagram) {
            ++self->counters.malformed;
            auto client = self->client_for(peer);
            client->reply_error(
                {}, protocol::ErrorCode::bad_request,
                "datagram too large (at most " + std::to_string(kMaxDatagram - 1) + " bytes)");
          } else {
            self->handle(peer, std::span(self->unix_buffer.data(), n));
          }
        }
        self->read_unix();
      });
}

void OscFrontEnd::State::handle(const Peer& peer, std::span<const std::byte> bytes) {
  ++counters.packets;
  const auto client = client_for(peer);
  auto decoded = decode_packet(bytes);
  if (auto* err = std::get_if<DecodeError>(&decoded)) {
    ++counters.malformed;
    client->reply_error({}, protocol::ErrorCode::bad_request,
                        "malformed OSC packet: " + err->message);
    return;
  }
  // One reading of the clocks for the whole datagram: every message of a bundle that names the
  // same time gets the same frame.
  std::optional<ClockReading> reading;
  bool read_clock = false;
  protocol::ParseLimits limits;
  limits.max_outputs = config.max_outputs;
  const auto& messages = std::get<std::vector<Message>>(decoded);
  // Answers wait until every message is handed over: no system call between two of them.
  client->hold_answers();
  for (const Message& message : messages) {
    auto mapped = to_request_object(message);
    if (std::holds_alternative<Release>(mapped)) continue;
    if (auto* err = std::get_if<RequestError>(&mapped)) {
      client->reply_error(err->id, err->code, err->message);
      continue;
    }
    auto& request = std::get<protocol::Json>(mapped);
    std::uint64_t server_time = 0;
    if (message.timetag && is_timed_command(request) && !request.contains("at_frame") &&
        !request.contains("in_s")) {
      if (!read_clock) {
        reading = clock ? clock() : std::nullopt;
        read_clock = true;
      }
      // Offline, there is no frame to name: the command acts now (and gets engine-offline).
      if (reading) {
        const std::uint64_t margin = kHandOverUsecs + kHandOverUsecsPerMessage * messages.size();
        request["at_frame"] = frame_of(*message.timetag, *reading, margin);
        server_time = server_nsecs_of(*message.timetag, *reading);
      }
    }
    auto parsed = protocol::parse_request(protocol::dump_json(request), limits);
    if (auto* err = std::get_if<protocol::ParseError>(&parsed)) {
      client->reply_error(err->id, err->code, err->message);
      continue;
    }
    auto& typed = std::get<protocol::ParsedRequest>(parsed);
    if (server_time != 0) name_server_time(typed.request, server_time);
    if (std::holds_alternative<protocol::SubscribeRequest>(typed.request)) {
      if (!client->remembered()) {
        client->reply_error(typed.id, protocol::ErrorCode::limit,
                            "too many OSC senders are subscribed (osc_senders: " +
                                std::to_string(config.max_senders) + ")");
        continue;
      }
      client->renew(Steady::now());
    }
    submit(client, std::move(typed));
  }
  client->release_answers();
}

void OscFrontEnd::State::schedule_sweep() {
  sweep.expires_after(kSweepPeriod);
  sweep.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || !self->running) return;
    // Lapsed subscriptions end; senders neither subscribed nor heard from for a lapse are
    // forgotten (a reply still due reaches them: the core holds their Requester).
    const auto now = Steady::now();
    const auto lapse = self->config.subscription_lapse;
    for (auto it = self->clients.begin(); it != self->clients.end();) {
      if (!it->second->subscribed(now, lapse) && now - it->second->last_seen() > lapse) {
        it = self->clients.erase(it);
      } else {
        ++it;
      }
    }
    self->schedule_sweep();
  });
}

OscFrontEnd::OscFrontEnd(boost::asio::io_context& io, OscConfig config, Submit submit, Clock clock)
    : state_(std::make_shared<State>(io, std::move(config), std::move(submit), std::move(clock))) {}

OscFrontEnd::~OscFrontEnd() {
  stop();
}

void OscFrontEnd::start() {
  State& s = *state_;
  if (s.running) return;
  if (s.config.udp_port) {
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(s.config.bind_address, ec);
    if (ec) throw OscError("osc_bind: '" + s.config.bind_address + "' is not an IP address");
    const udp::endpoint endpoint(address, *s.config.udp_port);
    s.udp_socket.emplace(s.io);
    s.udp_socket->open(endpoint.protocol(), ec);
    if (!ec) s.udp_socket->bind(endpoint, ec);
    if (ec) {
      s.udp_socket.reset();
      throw OscError("cannot listen for OSC on udp " + text_of(endpoint) + ": " + ec.message());
    }
    s.udp_socket->non_blocking(true, ec);
  }
  if (!s.config.socket_path.empty()) {
    const std::filesystem::path path(s.config.socket_path);
    make_private_folders(path.parent_path());
    struct stat st {};
    boost::system::error_code ec;
    if (::lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        throw OscError("cannot create the OSC socket: '" + path.native() +
                       "' exists and is not a socket");
      }
      // A datagram socket connects only to a path some process has bound: one that connects
      // belongs to a running daemon; one that refuses is a previous run's, left behind.
      unix_dgram::socket probe(s.io);
      probe.open(unix_dgram(), ec);
      if (!ec) probe.connect(unix_dgram::endpoint(path.native()), ec);
      if (!ec) {
        s.udp_socket.reset();
        throw OscError("the OSC socket '" + path.native() + "' is in use by another process");
      }
      ::unlink(path.c_str());
    }
    s.unix_socket.emplace(s.io);
    s.unix_socket->open(unix_dgram(), ec);
    if (!ec) s.unix_socket->bind(unix_dgram::endpoint(path.native()), ec);
    if (ec) {
      s.unix_socket.reset();
      s.udp_socket.reset();
      throw OscError("cannot create the OSC socket '" + path.native() + "': " + ec.message());
    }
    s.bound_path = true;
    // Only the user may send (the folder is private too; this holds where it is not).
    ::chmod(path.c_str(), 0600);
    s.unix_socket->non_blocking(true, ec);
  }
  s.running = true;
  if (s.udp_socket) s.read_udp();
  if (s.unix_socket) s.read_unix();
  s.schedule_sweep();
}

void OscFrontEnd::stop() {
  State& s = *state_;
  s.running = false;
  boost::system::error_code ec;
  s.sweep.cancel();
  if (s.udp_socket) s.udp_socket->close(ec);
  if (s.unix_socket) s.unix_socket->close(ec);
  if (s.bound_path) {
    ::unlink(s.config.socket_path.c_str());
    s.bound_path = false;
  }
  s.clients.clear();
}

void OscFrontEnd::on_event(const protocol::Event& event) {
  State& s = *state_;
  if (!s.running) return;
  const std::string_view name = protocol::to_string(protocol::kind_of(event));
  const auto now = Steady::now();
  std::optional<std::vector<std::byte>> bytes;
  for (auto& [key, client] : s.clients) {
    if (!client->subscribed(now, s.config.subscription_lapse)) continue;
    if (!client->subscription().wants(name)) continue;
    if (!bytes) bytes = encode_event(event);
    (void)client->deliver(*bytes);
  }
}

OscCounters OscFrontEnd::counters() const noexcept {
  return state_->counters;
}

std::string OscFrontEnd::describe() const {
  const State& s = *state_;
  std::string text;
  boost::system::error_code ec;
  if (s.udp_socket) text += "udp " + text_of(s.udp_socket->local_endpoint(ec));
  if (s.unix_socket) {
    if (!text.empty()) text += ", ";
    text += "unix " + s.config.socket_path;
  }
  return text;
}

}  // namespace clipd::control::osc
