// libFuzzer target over the OSC front end's decoding: bundle framing (sizes, nesting, timetags),
// liblo's message decoding, the mapping of both address forms to a request object and the JSON
// contract's parser behind it. Every decoded message must encode again to bytes that decode to
// the same message (for the argument types clipd sends back), and every refusal must become an
// error reply that decodes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <variant>

#include "control/osc/packet.hpp"
#include "control/osc/reply.hpp"
#include "control/osc/request.hpp"
#include "control/protocol/parse.hpp"

namespace {

using namespace clipd::control::osc;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "%s\n", what);
  std::abort();
}

bool decodes(const std::vector<std::byte>& bytes) {
  return std::holds_alternative<std::vector<Message>>(decode_packet(bytes));
}

bool sendable(const Arg& arg) {
  return !std::holds_alternative<Unsupported>(arg);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto bytes = std::as_bytes(std::span(data, size));
  auto decoded = decode_packet(bytes);
  if (auto* err = std::get_if<DecodeError>(&decoded)) {
    if (!decodes(encode_error({}, clipd::protocol::ErrorCode::bad_request, err->message))) {
      fail("the error reply for a refused packet does not decode");
    }
    return 0;
  }
  for (const Message& message : std::get<std::vector<Message>>(decoded)) {
    if (message.address.empty() || message.address[0] != '/') fail("address without '/'");
    std::vector<Arg> args;
    for (const Arg& a : message.args) {
      if (sendable(a)) args.push_back(a);
    }
    auto again = decode_packet(encode_message(message.address, args));
    auto* round = std::get_if<std::vector<Message>>(&again);
    if (round == nullptr || round->size() != 1) fail("a decoded message does not encode again");
    // Strings end at their first NUL on the wire; reals keep their value (floats widen exactly).
    if ((*round)[0].address != message.address || (*round)[0].args.size() != args.size()) {
      fail("a decoded message encodes to another one");
    }

    auto mapped = to_request_object(message);
    if (auto* err = std::get_if<RequestError>(&mapped)) {
      if (!decodes(encode_error(err->id, err->code, err->message))) fail("error does not decode");
      continue;
    }
    if (std::holds_alternative<Release>(mapped)) continue;
    const auto& object = std::get<clipd::protocol::Json>(mapped);
    auto parsed = clipd::protocol::parse_request(clipd::protocol::dump_json(object));
    if (auto* err = std::get_if<clipd::protocol::ParseError>(&parsed)) {
      if (!decodes(encode_error(err->id, err->code, err->message))) fail("error does not decode");
    } else if (std::holds_alternative<clipd::protocol::BlankLine>(parsed)) {
      fail("a request object parsed as a blank line");
    }
  }
  return 0;
}
