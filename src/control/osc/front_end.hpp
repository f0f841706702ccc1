// control/osc/front_end.hpp: the OSC front end (clipd-osc(7)), beside the JSON-lines server.
//
// Owns its sockets (a UNIX datagram socket in the runtime folder, mode 0600, and UDP on one
// address), reads them through the io_context, drops what comes from outside osc_allow (counted),
// decodes each datagram (decode_packet), maps each message to the JSON contract's request
// (to_request_object, protocol::parse_request) and hands it to the command core with the
// sender's Requester. Replies, errors and events go back to the sender's address as OSC
// messages (reply.hpp). The messages of one datagram are handed over in order in one go; those
// of a bundle that play, stop or set act on the frame its timetag maps to (clock.hpp).
//
// Thread contract: control thread only (the io_context's one thread). Nothing here blocks: a
// datagram that the socket cannot take at once is dropped.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "control/clock_reading.hpp"
#include "control/osc/network.hpp"
#include "control/protocol/requests.hpp"
#include "control/requester.hpp"

namespace clipd::control::osc {

struct OscError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct OscConfig {
  // UDP: the port (none: no UDP socket) and the address it is bound to.
  std::optional<std::uint16_t> udp_port;
  std::string bind_address = "127.0.0.1";
  // Senders over UDP must be in one of these networks; others are dropped and counted.
  std::vector<Network> allow = loopback_networks();
  // The UNIX datagram socket's path; empty: none.
  std::string socket_path;
  // A subscription lapses this long after the sender's last /clipd/subscribe.
  std::chrono::milliseconds subscription_lapse{std::chrono::seconds(30)};
  // At most this many senders are remembered (their subscriptions and when each was last
  // heard from), so that datagrams from ever new addresses (a script that opens a socket per
  // message, a flood) cannot grow the table without end. A new sender beyond it takes the place
  // of the one heard from least recently among those not subscribed; when every remembered
  // sender is subscribed, the new one is served but not remembered, and its /clipd/subscribe
  // gets `limit`.
  std::size_t max_senders = 1024;
  // protocol::ParseLimits::max_outputs.
  std::int64_t max_outputs = 2;
  std::function<void(std::string_view)> log;
};

// What the front end counted since start (reported by `status`).
struct OscCounters {
  std::uint64_t packets = 0;    // datagrams read from allowed senders
  std::uint64_t dropped = 0;    // datagrams from senders outside osc_allow
  std::uint64_t malformed = 0;  // datagrams decode_packet refused
  std::uint64_t unsent = 0;     // replies and events the socket did not take
};

class OscFrontEnd final : public EventSink {
 public:
  // Hands one request to the command core (Controller::submit).
  using Submit = std::function<void(const RequesterPtr&, protocol::ParsedRequest)>;
  // The engine's clocks; nullopt while offline.
  using Clock = std::function<std::optional<ClockReading>()>;

  OscFrontEnd(boost::asio::io_context& io, OscConfig config, Submit submit, Clock clock);
  ~OscFrontEnd() override;
  OscFrontEnd(const OscFrontEnd&) = delete;
  OscFrontEnd& operator=(const OscFrontEnd&) = delete;

  // Opens the sockets and starts reading. Throws OscError naming what failed.
  void start();
  // Closes the sockets (removing the UNIX one's path); replies still due are dropped.
  void stop();

  // EventSink: sends the event to every sender whose subscription wants it and has not lapsed.
  void on_event(const protocol::Event& event) override;

  OscCounters counters() const noexcept;
  // "udp 127.0.0.1:9000, unix /run/user/1000/clipd/osc.sock", for the log.
  std::string describe() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace clipd::control::osc
