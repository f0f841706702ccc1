// control/osc/packet.hpp: OSC packets (OSC 1.0) as plain values.
//
// decode_packet() turns one datagram into its messages: a message alone, or a bundle ("#bundle",
// a timetag, then elements each preceded by its size, possibly bundles again). Bundle framing is
// read here; each message's bytes are handed to liblo (lo_message_deserialise), which checks its
// type tags and arguments. encode_message() is the reverse for the messages clipd sends.
//
// Thread contract: pure functions; any thread but the audio thread (they allocate).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace clipd::control::osc {

// An OSC timetag: NTP seconds since 1900 and a binary fraction. {0, 1} is "immediately".
struct Timetag {
  std::uint32_t seconds = 0;
  std::uint32_t fraction = 1;
  bool immediate() const noexcept { return seconds == 0 && fraction == 1; }
  bool operator==(const Timetag&) const = default;
};

// Nil ('N'). Kept apart from std::monostate so that an Arg is never "empty".
struct Nil {
  bool operator==(const Nil&) const = default;
};
// An argument of a type clipd does not take ('b' blob, 'm' MIDI, 't' timetag, ...): kept so the
// error can name it.
struct Unsupported {
  char tag = 0;
  bool operator==(const Unsupported&) const = default;
};
// 'i' and 'h' are integers, 'f' and 'd' reals ('I', infinitum, is +inf), 's', 'S' and 'c'
// strings, 'T' and 'F' booleans.
using Arg = std::variant<Nil, bool, std::int64_t, double, std::string, Unsupported>;

struct Message {
  std::string address;
  std::vector<Arg> args;
  // The timetag of the innermost bundle holding the message; none for a message sent alone.
  std::optional<Timetag> timetag;
  bool operator==(const Message&) const = default;
};

// Why a datagram was refused (the whole datagram: one bad element spoils its bundle).
struct DecodeError {
  std::string message;
  bool operator==(const DecodeError&) const = default;
};

// Bundles nested deeper than this are refused (bounds the recursion).
inline constexpr int max_bundle_depth = 8;

// The messages of one datagram, in the order they appear (depth first through nested bundles).
// Note: allocates.
std::variant<std::vector<Message>, DecodeError> decode_packet(std::span<const std::byte> bytes);

// One message as OSC bytes (liblo's lo_message_serialise). Unsupported arguments are skipped.
// Note: allocates.
std::vector<std::byte> encode_message(std::string_view address, std::span<const Arg> args);

// An OSC bundle of already encoded messages (tests and tools send these).
// Note: allocates.
std::vector<std::byte> encode_bundle(Timetag timetag,
                                     std::span<const std::vector<std::byte>> elements);

}  // namespace clipd::control::osc
