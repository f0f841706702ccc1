#include "control/protocol/request_id.hpp"

#include <charconv>

#include "control/protocol/json.hpp"

namespace clipd::protocol {

namespace {

struct IdAppender {
  std::string& out;
  void operator()(std::monostate) const { out += "null"; }
  void operator()(std::int64_t value) const {
    char buffer[24];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, end);
  }
  void operator()(const std::string& value) const { append_json(out, Json(value)); }
  void operator()(const InvalidId& value) const { out += value.json; }
};

}  // namespace

void append_id(std::string& out, const RequestId& id) {
  std::visit(IdAppender{out}, id);
}

}  // namespace clipd::protocol
