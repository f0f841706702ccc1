// libFuzzer target over the request parser and the serialisers. Whatever parses must serialise to
// a line that parses back to the same request and echo its id as the same JSON value; every error
// must become one valid JSON reply line; the raw-line scan that finds ids must take every line
// nlohmann accepts for valid JSON.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "control/protocol/line_scan.hpp"
#include "control/protocol/protocol.hpp"

namespace {

using namespace clipd::protocol;

[[noreturn]] void fail(const char* what, std::string_view input, std::string_view output) {
  std::fprintf(stderr, "%s\ninput:  %.*s\noutput: %.*s\n", what, static_cast<int>(input.size()),
               input.data(), static_cast<int>(output.size()), output.data());
  std::abort();
}

// One line, valid JSON, ending in its only "\n".
void check_line(std::string_view input, const std::string& line) {
  if (line.empty() || line.back() != '\n' || line.find('\n') != line.size() - 1) {
    fail("reply is not one line", input, line);
  }
  if (!Json::accept(line)) fail("reply is not valid JSON", input, line);
}

void check(std::string_view input, const ParseLimits& limits) {
  const ParseResult result = parse_request(input, limits);
  if (const auto* parsed = std::get_if<ParsedRequest>(&result)) {
    const std::string line = serialize_request(*parsed);
    check_line(input, line);
    const ParseResult again =
        parse_request(std::string_view(line).substr(0, line.size() - 1), limits);
    const auto* reparsed = std::get_if<ParsedRequest>(&again);
    if (reparsed == nullptr) fail("canonical form does not parse", input, line);
    if (!(*reparsed == *parsed)) fail("canonical form parses to another request", input, line);
    check_line(input, serialize_ok_empty(parsed->id));
    // The echo, read back, is the id the request sent (null when it sent none).
    const Json sent = Json::parse(input.begin(), input.end());
    const auto sent_id = sent.find("id");
    std::string echoed;
    append_id(echoed, parsed->id);
    if (Json::parse(echoed) != (sent_id != sent.end() ? *sent_id : Json(nullptr))) {
      fail("the id is not echoed as sent", input, echoed);
    }
    check_line(input, serialize_ok(parsed->id, request_to_json(parsed->request)));
  } else if (const auto* error = std::get_if<ParseError>(&result)) {
    if (error->message.empty()) fail("error without a message", input, {});
    check_line(input, serialize_error(*error));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check(input, ParseLimits{});
  check(input, ParseLimits{.max_outputs = 64});
  // nlohmann reads a NUL byte as the end of input; parse_request refuses such lines anyway.
  if (input.find('\0') == std::string_view::npos && Json::accept(input) &&
      !scan_line(input).valid) {
    fail("valid JSON that the scan refuses", input, {});
  }
  (void)parse_server_line(input);
  return 0;
}
