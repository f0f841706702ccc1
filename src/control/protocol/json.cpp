#include "control/protocol/json.hpp"

namespace clipd::protocol {

std::string dump_json(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void append_json(std::string& out, const Json& value) {
  out += dump_json(value);
}

}  // namespace clipd::protocol
