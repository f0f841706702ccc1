// For clients: reading the daemon's lines (replies and events). Thread contract: any thread but
// the audio thread (allocates).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "control/protocol/json.hpp"

namespace clipd::protocol {

struct ReplyLine {
  Json id;  // as echoed
  bool ok = false;
  Json result;                // the result object when ok
  std::string error_code;     // when !ok
  std::string error_message;  // when !ok
};
struct EventLine {
  std::string event;
  Json fields;  // the whole object, `event` included
};
using ServerLine = std::variant<ReplyLine, EventLine>;

// Parses a line the daemon sent; nullopt when it is neither a well-formed reply nor an event.
std::optional<ServerLine> parse_server_line(std::string_view line);

}  // namespace clipd::protocol
