#include "control/json_front_end.hpp"

#include <utility>

#include "control/protocol/serialize.hpp"

namespace clipd::control {
namespace {

// One session as a client of the command core: each answer becomes one reply line. A coalesced
// query's answer is written from the text every reply shares, never copied.
class SessionRequester final : public Requester {
 public:
  explicit SessionRequester(std::shared_ptr<Session> session) : session_(std::move(session)) {}

  void reply_ok(const protocol::RequestId& id, const protocol::Json& result) override {
    session_->send_reply(protocol::serialize_ok(id, result));
  }
  void reply_shared(const protocol::RequestId& id,
                    const std::shared_ptr<const SharedResult>& result) override {
    session_->send_reply(protocol::serialize_ok_head(id), result->text);
  }
  void reply_error(const protocol::RequestId& id, protocol::ErrorCode code,
                   std::string_view message) override {
    session_->send_reply(protocol::serialize_error(id, code, message));
  }
  bool open() const noexcept override { return session_->open(); }
  Subscription& subscription() noexcept override { return session_->subscription(); }

 private:
  // Held until the controller lets go of the requester: a reply to a closed session is dropped
  // by the session itself.
  std::shared_ptr<Session> session_;
};

}  // namespace

JsonFrontEnd::JsonFrontEnd(Controller& core, JsonFrontEndOptions options)
    : core_(core), options_(std::move(options)) {}

JsonFrontEnd::~JsonFrontEnd() {
  core_.remove_event_sink(*this);
}

RequesterPtr JsonFrontEnd::requester_of(const std::shared_ptr<Session>& session) {
  std::any& slot = session->user_data();
  if (auto* kept = std::any_cast<RequesterPtr>(&slot)) return *kept;
  auto requester = std::make_shared<SessionRequester>(session);
  slot = RequesterPtr(requester);
  return requester;
}

void JsonFrontEnd::on_line(const std::shared_ptr<Session>& session, std::string_view line) {
  protocol::ParseResult parsed = protocol::parse_request(line, options_.limits);
  if (auto* err = std::get_if<protocol::ParseError>(&parsed)) {
    if (err->code == protocol::ErrorCode::unknown_command &&
        run_debug_command(*session, line, err->id)) {
      return;
    }
    session->send_reply(protocol::serialize_error(*err));
    return;
  }
  if (std::holds_alternative<protocol::BlankLine>(parsed)) {
    // The server drops blank lines before they get here; answer anyway so the count holds.
    session->send_reply(protocol::serialize_error(protocol::RequestId{},
                                                  protocol::ErrorCode::bad_json, "empty line"));
    return;
  }
  core_.submit(requester_of(session), std::move(std::get<protocol::ParsedRequest>(parsed)));
}

bool JsonFrontEnd::run_debug_command(Session& session, std::string_view line,
                                     const protocol::RequestId& id) {
  if (options_.debug_commands.empty()) return false;
  const protocol::Json request = protocol::Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!request.is_object() || !request.contains("cmd") || !request["cmd"].is_string()) {
    return false;
  }
  for (const auto& field : request.items()) {
    if (field.key() != "cmd" && field.key() != "id") return false;
  }
  const auto command = options_.debug_commands.find(request["cmd"].get<std::string>());
  if (command == options_.debug_commands.end()) return false;
  command->second();
  session.send_reply(protocol::serialize_ok_empty(id));
  return true;
}

void JsonFrontEnd::on_closed(const std::shared_ptr<Session>& session) {
  // What the client sent still takes effect; replies to it are dropped. The requester no longer
  // needs to be found from the session: letting go of it here ends the cycle between the two.
  session->user_data().reset();
}

void JsonFrontEnd::on_event(const protocol::Event& event) {
  if (server_ == nullptr) return;
  // Serialised once, whatever the number of subscribers.
  const std::string line = protocol::serialize_event(event);
  server_->broadcast_event(protocol::to_string(protocol::kind_of(event)), line);
}

}  // namespace clipd::control
