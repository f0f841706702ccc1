#include "control/osc/network.hpp"

#include <charconv>

namespace clipd::control::osc {
namespace {

std::array<std::uint8_t, 16> mapped(const boost::asio::ip::address& address) {
  if (address.is_v4()) {
    return boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, address.to_v4()).to_bytes();
  }
  return address.to_v6().to_bytes();
}

}  // namespace

std::optional<Network> parse_network(std::string_view text) {
  const auto slash = text.find('/');
  const std::string host(text.substr(0, slash));
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  const int width = address.is_v4() ? 32 : 128;
  int prefix = width;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || err != std::errc() || end != digits.data() + digits.size() ||
        prefix < 0 || prefix > width) {
      return std::nullopt;
    }
  }
  Network n;
  n.address = mapped(address);
  n.prefix = prefix + (128 - width);
  return n;
}

bool contains(const Network& network, const boost::asio::ip::address& address) noexcept {
  const auto bytes = mapped(address);
  int bits = network.prefix;
  for (std::size_t i = 0; i < bytes.size() && bits > 0; ++i, bits -= 8) {
    const std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((bytes[i] & mask) != (network.address[i] & mask)) return false;
  }
  return true;
}

bool allowed(const std::vector<Network>& networks,
             const boost::asio::ip::address& address) noexcept {
  for (const auto& n : networks) {
    if (contains(n, address)) return true;
  }
  return false;
}

std::vector<Network> loopback_networks() {
  return {*parse_network("127.0.0.0/8"), *parse_network("::1")};
}

}  // namespace clipd::control::osc
