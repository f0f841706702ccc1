#include "control/osc/reply.hpp"

#include <limits>
#include <string>

#include "control/osc/request.hpp"

namespace clipd::control::osc {

Arg value_arg(const protocol::Json& value) {
  switch (value.type()) {
    case protocol::Json::value_t::null:
      return Nil{};
    case protocol::Json::value_t::boolean:
      return value.get<bool>();
    case protocol::Json::value_t::number_integer:
      return value.get<std::int64_t>();
    case protocol::Json::value_t::number_unsigned: {
      const auto u = value.get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return static_cast<std::int64_t>(u);
      }
      return std::to_string(u);
    }
    case protocol::Json::value_t::number_float:
      return value.get<double>();
    case protocol::Json::value_t::string:
      return value.get<std::string>();
    default:
      return protocol::dump_json(value);
  }
}

std::vector<std::byte> encode_reply(const protocol::RequestId& id, const protocol::Json& result) {
  std::vector<Arg> args;
  args.reserve(1 + 2 * result.size());
  args.push_back(id_arg(id));
  if (result.is_object()) {
    for (const auto& [name, value] : result.items()) {
      args.emplace_back(name);
      args.push_back(value_arg(value));
    }
  }
  return encode_message("/clipd/reply", args);
}

std::vector<std::byte> encode_error(const protocol::RequestId& id, protocol::ErrorCode code,
                                    std::string_view message) {
  const Arg args[] = {id_arg(id), std::string(protocol::to_string(code)), std::string(message)};
  return encode_message("/clipd/error", args);
}

std::vector<std::byte> encode_event(const protocol::Event& event) {
  // The JSON event is the one definition of each event's fields and their order.
  const protocol::Json object = protocol::Json::parse(protocol::serialize_event(event));
  std::vector<Arg> args;
  args.reserve(2 * object.size());
  for (const auto& [name, value] : object.items()) {
    if (name == "event") {
      args.insert(args.begin(), value_arg(value));
      continue;
    }
    args.emplace_back(name);
    args.push_back(value_arg(value));
  }
  return encode_message("/clipd/event", args);
}

}  // namespace clipd::control::osc
