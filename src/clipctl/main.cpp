// clipctl: the command-line client of clipd's control socket (see `clipctl --help`).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "clipctl/command_line.hpp"
#include "clipctl/connection.hpp"
#include "clipctl/output.hpp"

namespace {

using namespace clipd;
using namespace clipd::clipctl;
using protocol::Json;

Environment environment() {
  Environment env;
  if (const char* dir = std::getenv("XDG_RUNTIME_DIR")) env.xdg_runtime_dir = dir;
  if (const char* socket = std::getenv("CLIPD_SOCKET")) env.clipd_socket = socket;
  std::error_code ec;
  env.cwd = std::filesystem::current_path(ec).string();
  env.uid = ::getuid();
  return env;
}

int fail(const std::string& message, int code) {
  std::fprintf(stderr, "clipctl: %s\n", message.c_str());
  return code;
}

void print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

constexpr int lost = -1;

// Reads lines until the reply with `id`; events on the way go to `on_event`. Returns the reply's
// line, or nullopt when the connection ended first.
template <typename OnEvent>
std::optional<std::pair<std::string, protocol::ReplyLine>> await_reply(Connection& connection,
                                                                       std::int64_t id,
                                                                       OnEvent on_event) {
  while (auto line = connection.read_line()) {
    auto parsed = protocol::parse_server_line(*line);
    if (!parsed) continue;
    if (auto* event = std::get_if<protocol::EventLine>(parsed.operator->())) {
      on_event(*line, *event);
      continue;
    }
    auto& reply = std::get<protocol::ReplyLine>(*parsed);
    if (reply.id == Json(id)) return std::pair{std::move(*line), std::move(reply)};
  }
  return std::nullopt;
}

// Prints a reply the way the user asked; returns the exit code.
int show_reply(const Invocation& invocation, const protocol::Request& request,
               const std::string& line, const protocol::ReplyLine& reply) {
  if (invocation.json) print(line + "\n");
  if (!reply.ok) return fail(reply.error_message + " (" + reply.error_code + ")", exit_error_reply);
  if (!invocation.json) print(format_result(request, reply.result));
  return exit_ok;
}

int send_request(const Invocation& invocation, Connection& connection, const SendRequest& send) {
  const auto ignore = [](const std::string&, const protocol::EventLine&) {};
  std::int64_t id = 1;
  if (send.wait_for_voice) {
    // Subscribe first, so the voice's end cannot slip past between the play and the subscribe.
    protocol::SubscribeRequest subscribe;
    subscribe.events = protocol::EventSet{};
    subscribe.events.insert(protocol::EventKind::voice_ended);
    if (!connection.send(protocol::serialize_request({id, subscribe}))) return lost;
    auto reply = await_reply(connection, id, ignore);
    if (!reply) return lost;
    if (!reply->second.ok) return show_reply(invocation, subscribe, reply->first, reply->second);
    ++id;
  }
  if (!connection.send(protocol::serialize_request({id, send.request}))) return lost;
  auto reply = await_reply(connection, id, ignore);
  if (!reply) return lost;
  const int code = show_reply(invocation, send.request, reply->first, reply->second);
  if (code != exit_ok || !send.wait_for_voice) return code;

  const Json voice = reply->second.result.value("voice", Json());
  while (auto line = connection.read_line()) {
    auto parsed = protocol::parse_server_line(*line);
    auto* event = parsed ? std::get_if<protocol::EventLine>(parsed.operator->()) : nullptr;
    if (event == nullptr || event->event != "voice-ended" ||
        event->fields.value("voice", Json()) != voice) {
      continue;
    }
    print(invocation.json ? *line + "\n" : format_event(event->fields) + "\n");
    return exit_ok;
  }
  return lost;
}

int watch(const Invocation& invocation, Connection& connection, const Watch& watch) {
  protocol::SubscribeRequest subscribe{watch.events};
  if (!connection.send(protocol::serialize_request({1, subscribe}))) return lost;
  const auto print_event = [&](const std::string& line, const protocol::EventLine& event) {
    print(invocation.json ? line + "\n" : format_event(event.fields) + "\n");
  };
  auto reply = await_reply(connection, 1, print_event);
  if (!reply) return lost;
  if (!reply->second.ok) {
    return fail(reply->second.error_message + " (" + reply->second.error_code + ")",
                exit_error_reply);
  }
  while (auto line = connection.read_line()) {
    auto parsed = protocol::parse_server_line(*line);
    if (!parsed) continue;
    if (auto* event = std::get_if<protocol::EventLine>(parsed.operator->())) {
      print_event(*line, *event);
    }
  }
  // The daemon went away (shut down): the stream of events has ended.
  return exit_ok;
}

int raw(Connection& connection, const Raw& raw) {
  if (!connection.send(raw.line + "\n")) return lost;
  while (auto line = connection.read_line()) {
    auto parsed = protocol::parse_server_line(*line);
    if (parsed && std::holds_alternative<protocol::EventLine>(*parsed)) continue;
    print(*line + "\n");
    const auto* reply = parsed ? std::get_if<protocol::ReplyLine>(parsed.operator->()) : nullptr;
    return reply != nullptr && reply->ok ? exit_ok : exit_error_reply;
  }
  return lost;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const CommandLine command_line = parse_command_line(args, environment());
  if (const auto* help = std::get_if<Help>(&command_line)) {
    print(help->text);
    return exit_ok;
  }
  if (const auto* usage = std::get_if<UsageError>(&command_line)) {
    return fail(usage->message, exit_usage);
  }
  const auto& invocation = std::get<Invocation>(command_line);

  std::string error;
  auto connection = Connection::open(invocation.socket_path, error);
  if (!connection) return fail(error + " (is clipd running?)", exit_not_running);

  int code = exit_ok;
  if (const auto* send = std::get_if<SendRequest>(&invocation.action)) {
    code = send_request(invocation, *connection, *send);
  } else if (const auto* w = std::get_if<Watch>(&invocation.action)) {
    code = watch(invocation, *connection, *w);
  } else {
    code = raw(*connection, std::get<Raw>(invocation.action));
  }
  if (code == lost) return fail("the daemon closed the connection", exit_error_reply);
  return code;
}
