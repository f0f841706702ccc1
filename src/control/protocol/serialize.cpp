#include "control/protocol/serialize.hpp"

namespace clipd::protocol {

namespace {

constexpr std::string_view ok_prefix = "{\"id\":";
constexpr std::string_view ok_middle = ",\"ok\":true,\"result\":";

void append_when(Json& j, const When& when) {
  if (const auto* at = std::get_if<AtFrame>(&when)) j["at_frame"] = at->frame;
  if (const auto* in = std::get_if<InSeconds>(&when)) j["in_s"] = in->seconds;
  // A server time has no wire form: its frame is the nearest.
  if (const auto* t = std::get_if<AtServerTime>(&when)) j["at_frame"] = t->frame;
}

template <typename T>
void append_optional(Json& j, const char* key, const std::optional<T>& value) {
  if (value) j[key] = *value;
}

// The fields of each command after `cmd`, leaving out those equal to their defaults.
struct FieldWriter {
  Json& j;
  void operator()(const HelloRequest&) const {}
  void operator()(const PingRequest&) const {}
  void operator()(const ListRequest&) const {}
  void operator()(const VoicesRequest&) const {}
  void operator()(const MetersRequest&) const {}
  void operator()(const StatusRequest&) const {}
  void operator()(const UnsubscribeRequest&) const {}
  void operator()(const ShutdownRequest&) const {}
  void operator()(const BindingsRequest&) const {}
  void operator()(const LoadRequest& q) const {
    j["name"] = q.clip_name;
    j["path"] = q.path;
    if (q.replace) j["replace"] = true;
    if (q.stream != LoadRequest::Stream::automatic) {
      j["stream"] = q.stream == LoadRequest::Stream::always;
    }
  }
  void operator()(const UnloadRequest& q) const { j["name"] = q.clip_name; }
  void operator()(const InfoRequest& q) const { j["name"] = q.clip_name; }
  void operator()(const PlayRequest& q) const {
    j["clip"] = q.clip;
    if (q.gain_db != 0) j["gain_db"] = q.gain_db;
    if (q.pan != 0) j["pan"] = q.pan;
    if (q.offset_s != 0) j["offset_s"] = q.offset_s;
    append_optional(j, "length_s", q.length_s);
    if (q.loop.mode == Loop::Mode::forever) j["loop"] = true;
    if (q.loop.mode == Loop::Mode::passes) j["loop"] = q.loop.passes;
    if (q.loop_start_s != 0) j["loop_start_s"] = q.loop_start_s;
    append_optional(j, "loop_end_s", q.loop_end_s);
    if (q.fade_in_s != 0) j["fade_in_s"] = q.fade_in_s;
    append_when(j, q.when);
    append_optional(j, "group", q.group);
    append_optional(j, "outputs", q.outputs);
  }
  void operator()(const StopRequest& q) const {
    if (const auto* v = std::get_if<StopVoice>(&q.target)) j["voice"] = v->voice;
    if (const auto* c = std::get_if<StopClip>(&q.target)) j["clip"] = c->clip;
    if (const auto* g = std::get_if<StopGroup>(&q.target)) j["group"] = g->group;
    if (std::holds_alternative<StopAll>(q.target)) j["all"] = true;
    append_optional(j, "fade_s", q.fade_s);
    append_when(j, q.when);
  }
  void operator()(const PauseRequest& q) const {
    j["voice"] = q.voice;
    append_optional(j, "fade_s", q.fade_s);
  }
  void operator()(const ResumeRequest& q) const {
    j["voice"] = q.voice;
    append_optional(j, "fade_s", q.fade_s);
  }
  void operator()(const SetRequest& q) const {
    j["voice"] = q.voice;
    append_optional(j, "gain_db", q.gain_db);
    append_optional(j, "pan", q.pan);
    append_optional(j, "ramp_s", q.ramp_s);
    append_when(j, q.when);
  }
  void operator()(const MasterRequest& q) const {
    j["gain_db"] = q.gain_db;
    append_optional(j, "ramp_s", q.ramp_s);
  }
  void operator()(const SubscribeRequest& q) const {
    if (q.events == EventSet::all()) return;
    Json events = Json::array();
    for (int k = 0; k < event_kind_count; ++k) {
      const auto kind = static_cast<EventKind>(k);
      if (q.events.contains(kind)) events.push_back(to_string(kind));
    }
    j["events"] = std::move(events);
  }
  void operator()(const BindRequest& q) const {
    j["note"] = q.note;
    append_optional(j, "channel", q.channel);
    j["clip"] = q.clip;
    if (q.mode != BindMode::oneshot) j["mode"] = to_string(q.mode);
    if (q.velocity) j["velocity"] = true;
    if (q.gain_db != 0) j["gain_db"] = q.gain_db;
    append_optional(j, "group", q.group);
  }
  void operator()(const UnbindRequest& q) const {
    j["note"] = q.note;
    append_optional(j, "channel", q.channel);
  }
};

std::string error_with(const RequestId& id, ErrorCode code, std::string message) {
  return serialize_error(id, code, message);
}

}  // namespace

std::string_view command_name(const Request& request) noexcept {
  return std::visit([](const auto& q) { return std::decay_t<decltype(q)>::name; }, request);
}

std::string_view to_string(BindMode mode) noexcept {
  switch (mode) {
    case BindMode::gate:
      return "gate";
    case BindMode::toggle:
      return "toggle";
    case BindMode::oneshot:
      break;
  }
  return "oneshot";
}

void append_ok(std::string& out, const RequestId& id, const Json& result) {
  out += ok_prefix;
  append_id(out, id);
  out += ok_middle;
  append_json(out, result);
  out += "}\n";
}

std::string serialize_ok(const RequestId& id, const Json& result) {
  std::string out;
  append_ok(out, id, result);
  return out;
}

std::shared_ptr<const std::string> share_result(const Json& result) {
  auto out = std::make_shared<std::string>();
  append_json(*out, result);
  *out += "}\n";
  return out;
}

std::string serialize_ok_head(const RequestId& id) {
  std::string out;
  out += ok_prefix;
  append_id(out, id);
  out += ok_middle;
  return out;
}

void append_ok_empty(std::string& out, const RequestId& id) {
  out += ok_prefix;
  append_id(out, id);
  out += ok_middle;
  out += "{}}\n";
}

std::string serialize_ok_empty(const RequestId& id) {
  std::string out;
  out.reserve(48);
  append_ok_empty(out, id);
  return out;
}

void append_error(std::string& out, const RequestId& id, ErrorCode code, std::string_view message) {
  out += ok_prefix;
  append_id(out, id);
  out += ",\"ok\":false,\"error\":{\"code\":\"";
  out += to_string(code);  // plain ASCII, no escaping needed
  out += "\",\"message\":";
  append_json(out, Json(message));
  out += "}}\n";
}

std::string serialize_error(const RequestId& id, ErrorCode code, std::string_view message) {
  std::string out;
  append_error(out, id, code, message);
  return out;
}

void append_error(std::string& out, const ParseError& error) {
  append_error(out, error.id, error.code, error.message);
}

std::string serialize_error(const ParseError& error) {
  return serialize_error(error.id, error.code, error.message);
}

std::string serialize_error(const RequestId& id, const Error& error) {
  return serialize_error(id, error.code, error.message);
}

std::string line_too_long_reply(std::size_t limit) {
  return error_with(std::monostate{}, ErrorCode::line_too_long,
                    "line longer than " + std::to_string(limit) + " bytes");
}

Json request_to_json(const Request& request) {
  Json j = Json::object();
  j["cmd"] = command_name(request);
  std::visit(FieldWriter{j}, request);
  return j;
}

std::string serialize_request(const ParsedRequest& request) {
  std::string out = "{";
  // An InvalidId never belongs to a ParsedRequest; it would be left out like a null one. The id
  // goes in as text: an IntegerToken does not fit a Json number.
  if (!std::holds_alternative<std::monostate>(request.id) &&
      !std::holds_alternative<InvalidId>(request.id)) {
    out += "\"id\":";
    append_id(out, request.id);
    out += ',';
  }
  const std::string fields = dump_json(request_to_json(request.request));
  out.append(fields, 1);  // without its opening brace
  out += '\n';
  return out;
}

}  // namespace clipd::protocol
