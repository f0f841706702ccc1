#include "control/protocol/server_line.hpp"

namespace clipd::protocol {

std::optional<ServerLine> parse_server_line(std::string_view line) {
  Json j = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  if (auto event = j.find("event"); event != j.end()) {
    if (!event->is_string()) return std::nullopt;
    EventLine e;
    e.event = event->get<std::string>();
    e.fields = std::move(j);
    return ServerLine{std::move(e)};
  }
  auto ok = j.find("ok");
  if (ok == j.end() || !ok->is_boolean()) return std::nullopt;
  ReplyLine reply;
  if (auto id = j.find("id"); id != j.end()) reply.id = *id;
  reply.ok = ok->get<bool>();
  if (reply.ok) {
    auto result = j.find("result");
    if (result == j.end() || !result->is_object()) return std::nullopt;
    reply.result = std::move(*result);
  } else {
    auto error = j.find("error");
    if (error == j.end() || !error->is_object()) return std::nullopt;
    auto code = error->find("code");
    auto message = error->find("message");
    if (code == error->end() || !code->is_string()) return std::nullopt;
    reply.error_code = code->get<std::string>();
    if (message != error->end() && message->is_string()) {
      reply.error_message = message->get<std::string>();
    }
  }
  return ServerLine{std::move(reply)};
}

}  // namespace clipd::protocol
