// Where a request line's top-level `id` and `cmd` members are, read from its raw text. The
// parser stops at the first duplicate field, too deep nesting, too many fields or a number too
// large for a double, and a line may be broken after its id; the reply must still carry the id as
// written and name an unknown command (clipd-protocol(7), REQUESTS AND REPLIES). This scan
// checks the JSON syntax itself, without building values or recursing, so it sees the whole line
// whatever the parser refused. Thread contract: pure; any thread but the audio thread (it
// allocates for nesting deeper than 64 levels).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace clipd::protocol {

// One top-level member of the request object: the text of its value's token (`7`, `"a\u0041"`,
// `[1, 2]`), exactly as written, without the whitespace around it. Found when the line, from its
// start up to the `,` or `}` that ends the member, is valid JSON text opening an object. Only the
// first member of that name counts; `repeated` says a later one has the same name.
struct ScannedMember {
  std::optional<std::string_view> value;
  bool repeated = false;
};

struct LineScan {
  bool valid = false;        // the whole line is one JSON text (RFC 8259, UTF-8)
  std::size_t error_at = 0;  // when !valid: the byte offset where the text stops being JSON
  ScannedMember id;          // the top-level "id" member (names are compared after unescaping)
  ScannedMember cmd;         // the top-level "cmd" member
};

// Scans one line (without its "\n"). Linear in the line's length; numbers are checked for their
// grammar only, so 1e400 is valid here. Note: allocates one byte per nesting level past 64.
LineScan scan_line(std::string_view line);

}  // namespace clipd::protocol
