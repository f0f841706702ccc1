// control/osc/network.hpp: the networks allowed to send OSC (clipd.conf(5), osc_allow).
//
// Thread contract: pure; any thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>

namespace clipd::control::osc {

// An IPv4 or IPv6 network: an address and a prefix length. IPv4 is kept as its IPv4-mapped IPv6
// form, so a v4 sender reaching a v6 socket matches a v4 network.
struct Network {
  std::array<std::uint8_t, 16> address{};
  int prefix = 128;  // bits of `address` that must match (IPv4 /n is stored as /(96 + n))
  bool operator==(const Network&) const = default;
};

// "192.168.1.0/24", "10.1.2.3" (a single host), "::1", "fd00::/8". nullopt when not one.
std::optional<Network> parse_network(std::string_view text);

bool contains(const Network& network, const boost::asio::ip::address& address) noexcept;
bool allowed(const std::vector<Network>& networks,
             const boost::asio::ip::address& address) noexcept;

// osc_allow's default: the loopback networks (127.0.0.0/8, ::1).
std::vector<Network> loopback_networks();

}  // namespace clipd::control::osc
