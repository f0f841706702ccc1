#include "control/osc/packet.hpp"

#include <lo/lo.h>

#include <cstring>
#include <limits>
#include <memory>

namespace clipd::control::osc {
namespace {

constexpr std::string_view kBundleTag{"#bundle\0", 8};

std::uint32_t read_u32(const std::byte* p) noexcept {
  return std::uint32_t{std::to_integer<std::uint8_t>(p[0])} << 24 |
         std::uint32_t{std::to_integer<std::uint8_t>(p[1])} << 16 |
         std::uint32_t{std::to_integer<std::uint8_t>(p[2])} << 8 |
         std::uint32_t{std::to_integer<std::uint8_t>(p[3])};
}

void write_u32(std::vector<std::byte>& out, std::uint32_t v) {
  out.push_back(static_cast<std::byte>(v >> 24));
  out.push_back(static_cast<std::byte>(v >> 16));
  out.push_back(static_cast<std::byte>(v >> 8));
  out.push_back(static_cast<std::byte>(v));
}

bool is_bundle(std::span<const std::byte> bytes) noexcept {
  return bytes.size() >= kBundleTag.size() &&
         std::memcmp(bytes.data(), kBundleTag.data(), kBundleTag.size()) == 0;
}

// liblo's argument pointers point into the message's data, 4-byte aligned only, where an lo_arg
// needs 8: every value is read through a byte copy, never through the union.
template <class T>
T load(const void* arg) noexcept {
  T value;
  std::memcpy(&value, arg, sizeof value);
  return value;
}

struct MessageDeleter {
  void operator()(lo_message m) const noexcept { lo_message_free(m); }
};
using MessageHandle = std::unique_ptr<std::remove_pointer_t<lo_message>, MessageDeleter>;

std::optional<DecodeError> decode_message(std::span<const std::byte> bytes,
                                          std::optional<Timetag> timetag,
                                          std::vector<Message>& out) {
  if (bytes.empty()) return DecodeError{"empty message"};
  if (std::to_integer<char>(bytes[0]) != '/') {
    return DecodeError{"a message's address must start with '/'"};
  }
  // liblo takes a mutable pointer; it reads only, but a private copy costs little and keeps the
  // caller's bytes out of its reach.
  std::vector<char> copy(bytes.size());
  std::memcpy(copy.data(), bytes.data(), bytes.size());
  int result = 0;
  MessageHandle msg(lo_message_deserialise(copy.data(), copy.size(), &result));
  if (!msg) return DecodeError{"malformed message (liblo error " + std::to_string(result) + ")"};

  Message m;
  // lo_message_deserialise checked that the address is a terminated, padded string.
  m.address.assign(copy.data(), ::strnlen(copy.data(), copy.size()));
  m.timetag = timetag;
  const char* types = lo_message_get_types(msg.get());
  lo_arg** argv = lo_message_get_argv(msg.get());
  const int argc = lo_message_get_argc(msg.get());
  m.args.reserve(static_cast<std::size_t>(argc));
  for (int i = 0; i < argc; ++i) {
    const void* a = argv[i];
    switch (types[i]) {
      case LO_INT32:
        m.args.emplace_back(std::int64_t{load<std::int32_t>(a)});
        break;
      case LO_INT64:
        m.args.emplace_back(load<std::int64_t>(a));
        break;
      case LO_FLOAT:
        m.args.emplace_back(double{load<float>(a)});
        break;
      case LO_DOUBLE:
        m.args.emplace_back(load<double>(a));
        break;
      case LO_INFINITUM:
        m.args.emplace_back(std::numeric_limits<double>::infinity());
        break;
      case LO_STRING:
      case LO_SYMBOL:
        m.args.emplace_back(std::string(static_cast<const char*>(a)));
        break;
      case LO_CHAR:
        m.args.emplace_back(std::string(1, *static_cast<const char*>(a)));
        break;
      case LO_TRUE:
        m.args.emplace_back(true);
        break;
      case LO_FALSE:
        m.args.emplace_back(false);
        break;
      case LO_NIL:
        m.args.emplace_back(Nil{});
        break;
      default:
        m.args.emplace_back(Unsupported{types[i]});
        break;
    }
  }
  out.push_back(std::move(m));
  return std::nullopt;
}

std::optional<DecodeError> decode_bundle(std::span<const std::byte> bytes, int depth,
                                         std::optional<Timetag> outer, std::vector<Message>& out) {
  if (depth > max_bundle_depth) {
    return DecodeError{"bundles nested deeper than " + std::to_string(max_bundle_depth)};
  }
  if (bytes.size() < 16) return DecodeError{"bundle shorter than its header"};
  Timetag tag{read_u32(bytes.data() + 8), read_u32(bytes.data() + 12)};
  // OSC 1.0: a bundle inside another acts no earlier than the one around it.
  if (outer && !outer->immediate() &&
      (tag.immediate() ||
       std::pair(tag.seconds, tag.fraction) < std::pair(outer->seconds, outer->fraction))) {
    tag = *outer;
  }
  std::size_t pos = 16;
  while (pos < bytes.size()) {
    if (bytes.size() - pos < 4) return DecodeError{"bundle element without its size"};
    const std::uint32_t size = read_u32(bytes.data() + pos);
    pos += 4;
    if (size == 0 || size % 4 != 0) {
      return DecodeError{"bundle element size " + std::to_string(size) +
                         " is not a positive multiple of 4"};
    }
    if (size > bytes.size() - pos) return DecodeError{"bundle element past the packet's end"};
    const auto element = bytes.subspan(pos, size);
    pos += size;
    auto err = is_bundle(element) ? decode_bundle(element, depth + 1, tag, out)
                                  : decode_message(element, tag, out);
    if (err) return err;
  }
  return std::nullopt;
}

}  // namespace

std::variant<std::vector<Message>, DecodeError> decode_packet(std::span<const std::byte> bytes) {
  std::vector<Message> out;
  if (bytes.size() % 4 != 0) return DecodeError{"packet size is not a multiple of 4"};
  auto err = is_bundle(bytes) ? decode_bundle(bytes, 1, std::nullopt, out)
                              : decode_message(bytes, std::nullopt, out);
  if (err) return std::move(*err);
  return out;
}

std::vector<std::byte> encode_message(std::string_view address, std::span<const Arg> args) {
  MessageHandle msg(lo_message_new());
  if (!msg) throw std::bad_alloc();
  for (const Arg& arg : args) {
    if (std::holds_alternative<Nil>(arg)) {
      lo_message_add_nil(msg.get());
    } else if (const bool* b = std::get_if<bool>(&arg)) {
      *b ? lo_message_add_true(msg.get()) : lo_message_add_false(msg.get());
    } else if (const std::int64_t* i = std::get_if<std::int64_t>(&arg)) {
      // 32-bit where it fits: what most controllers (TouchOSC, Companion) read.
      if (*i >= std::numeric_limits<std::int32_t>::min() &&
          *i <= std::numeric_limits<std::int32_t>::max()) {
        lo_message_add_int32(msg.get(), static_cast<std::int32_t>(*i));
      } else {
        lo_message_add_int64(msg.get(), *i);
      }
    } else if (const double* d = std::get_if<double>(&arg)) {
      lo_message_add_double(msg.get(), *d);
    } else if (const std::string* s = std::get_if<std::string>(&arg)) {
      // An OSC string ends at its first NUL: a NUL inside is cut there.
      lo_message_add_string(msg.get(), s->c_str());
    }
  }
  const std::string path(address);
  const std::size_t length = lo_message_length(msg.get(), path.c_str());
  std::vector<std::byte> out(length);
  std::size_t size = length;
  lo_message_serialise(msg.get(), path.c_str(), out.data(), &size);
  out.resize(size);
  return out;
}

std::vector<std::byte> encode_bundle(Timetag timetag,
                                     std::span<const std::vector<std::byte>> elements) {
  std::vector<std::byte> out;
  for (char c : kBundleTag)
    out.push_back(static_cast<std::byte>(c));
  write_u32(out, timetag.seconds);
  write_u32(out, timetag.fraction);
  for (const auto& e : elements) {
    write_u32(out, static_cast<std::uint32_t>(e.size()));
    out.insert(out.end(), e.begin(), e.end());
  }
  return out;
}

}  // namespace clipd::control::osc
