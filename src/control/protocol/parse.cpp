#include "control/protocol/parse.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <optional>
#include <vector>

#include "control/protocol/json.hpp"
#include "control/protocol/line_scan.hpp"
#include "control/protocol/seconds.hpp"

namespace clipd::protocol {

namespace {

using Object = Json::object_t;
// ordered_map derives from this vector; appending through it skips the map's linear duplicate
// search, which would make a line of many keys quadratic.
using ObjectVector = std::vector<std::pair<const std::string, Json>>;
static_assert(std::is_base_of_v<ObjectVector, Object>);

constexpr double inf = std::numeric_limits<double>::infinity();

// A SAX consumer that builds the DOM like nlohmann's own, but without exceptions, with a depth
// limit, and rejecting duplicate or too many fields in the request object itself.
class DomBuilder {
 public:
  using number_integer_t = Json::number_integer_t;
  using number_unsigned_t = Json::number_unsigned_t;
  using number_float_t = Json::number_float_t;
  using string_t = Json::string_t;
  using binary_t = Json::binary_t;

  enum class Failure { none, syntax, too_deep, too_many_fields, duplicate_field, not_finite };

  bool null() { return put(Json(nullptr)) != nullptr; }
  bool boolean(bool value) { return put(Json(value)) != nullptr; }
  bool number_integer(number_integer_t value) { return put(Json(value)) != nullptr; }
  bool number_unsigned(number_unsigned_t value) { return put(Json(value)) != nullptr; }
  bool number_float(number_float_t value, const string_t& /*text*/) {
    return put(Json(value)) != nullptr;
  }
  bool string(string_t& value) { return put(Json(std::move(value))) != nullptr; }
  bool binary(binary_t& value) { return put(Json::binary(std::move(value))) != nullptr; }

  bool start_object(std::size_t /*size*/) { return open(Json(Json::value_t::object)); }
  bool start_array(std::size_t /*size*/) { return open(Json(Json::value_t::array)); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(string_t& name) {
    if (depth_ == 1) {
      const Object& fields = top()->get_ref<const Object&>();
      if (fields.size() >= static_cast<std::size_t>(max_request_fields)) {
        failure_ = Failure::too_many_fields;
        return false;
      }
      for (const auto& field : fields) {
        if (field.first == name) {
          failure_ = Failure::duplicate_field;
          message_ = name;
          return false;
        }
      }
    }
    key_ = std::move(name);
    return true;
  }

  bool parse_error(std::size_t /*position*/, const std::string& /*token*/,
                   const Json::exception& error) {
    // A number too large for a double (1e400) is valid JSON: it is the field's value that is
    // wrong (not finite). The parse stops here, so name the request's field being read.
    constexpr int number_overflow = 406;
    if (error.id == number_overflow && depth_ > 0) {
      failure_ = Failure::not_finite;
      const auto& fields = root_.get_ref<const Object&>();
      message_ = depth_ == 1 || fields.empty() ? key_ : fields.back().first;
      return false;
    }
    failure_ = Failure::syntax;
    message_ = error.what();
    return false;
  }

  Json& root() { return root_; }
  Failure failure() const { return failure_; }
  const std::string& message() const { return message_; }

 private:
  Json* put(Json&& value) {
    if (depth_ == 0) {
      root_ = std::move(value);
      return &root_;
    }
    Json& parent = *top();
    if (parent.is_array()) {
      auto& array = parent.get_ref<Json::array_t&>();
      array.push_back(std::move(value));
      return &array.back();
    }
    auto& object = static_cast<ObjectVector&>(parent.get_ref<Object&>());
    object.emplace_back(std::move(key_), std::move(value));
    return &object.back().second;
  }
  bool open(Json&& value) {
    if (depth_ == stack_.size()) {
      failure_ = Failure::too_deep;
      return false;
    }
    Json* opened = put(std::move(value));
    if (depth_ == 0 && opened->is_object()) {
      // The request object: room for every field of the largest command, so growing never
      // copies the (const) keys.
      static_cast<ObjectVector&>(opened->get_ref<Object&>()).reserve(16);
    }
    stack_[depth_++] = opened;
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }
  Json* top() const { return stack_[depth_ - 1]; }

  Json root_;
  std::array<Json*, max_json_depth> stack_{};
  std::size_t depth_ = 0;
  std::string key_;
  Failure failure_ = Failure::none;
  std::string message_;
};

bool is_blank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

// nlohmann's messages start with "[json.exception.parse_error.101] "; the reader needs the rest.
std::string json_error_message(const std::string& what) {
  const auto end = what.find("] ");
  if (what.starts_with("[json.exception.") && end != std::string::npos) {
    return what.substr(end + 2);
  }
  return what;
}

std::string format_number(double value) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, end);
}

std::string in_quotes(std::string_view name) {
  std::string s;
  s.reserve(name.size() + 2);
  s += '\'';
  s += name;
  s += '\'';
  return s;
}

std::string field_message(std::string_view key, std::string_view what) {
  std::string s = "field ";
  s += in_quotes(key);
  s += ' ';
  s += what;
  return s;
}

std::string range_message(std::string_view key, double lo, double hi) {
  if (hi == inf) return field_message(key, "must be >= " + format_number(lo));
  return field_message(key, "must be in [" + format_number(lo) + ", " + format_number(hi) + "]");
}

// Reads the fields of one command's request object. The first error sticks; later reads return
// defaults, so a parse function can read everything and check ok() once.
class Reader {
 public:
  Reader(const Object& fields, std::string_view command, const ParseLimits& limits)
      : fields_(fields), command_(command), limits_(limits) {}

  bool ok() const { return error_.empty(); }
  std::string take_error() { return std::move(error_); }
  void fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }

  // Every field but `id` and `cmd` must be in `allowed`.
  void only(std::initializer_list<std::string_view> allowed) {
    for (const auto& field : fields_) {
      const std::string& key = field.first;
      if (key == "id" || key == "cmd") continue;
      bool known = false;
      for (std::string_view name : allowed) {
        if (key == name) {
          known = true;
          break;
        }
      }
      if (!known) {
        fail("unknown field " + in_quotes(key) + " for command " + in_quotes(command_));
        return;
      }
    }
  }

  const Json* find(std::string_view key) const {
    for (const auto& field : fields_) {
      if (field.first == key) return &field.second;
    }
    return nullptr;
  }
  bool has(std::string_view key) const { return find(key) != nullptr; }

  // A non-empty string without NUL bytes (names and paths reach C APIs and file systems).
  std::optional<std::string> opt_name(std::string_view key) {
    const Json* value = find(key);
    if (value == nullptr || !ok()) return std::nullopt;
    if (!value->is_string()) return fail(field_message(key, "must be a string")), std::nullopt;
    const auto& s = value->get_ref<const std::string&>();
    if (s.empty()) return fail(field_message(key, "must not be empty")), std::nullopt;
    if (s.find('\0') != std::string::npos) {
      return fail(field_message(key, "must not contain NUL")), std::nullopt;
    }
    return s;
  }
  std::string name(std::string_view key) {
    if (!has(key)) fail("missing field " + in_quotes(key));
    return opt_name(key).value_or(std::string());
  }

  bool boolean(std::string_view key, bool fallback) {
    const Json* value = find(key);
    if (value == nullptr || !ok()) return fallback;
    if (!value->is_boolean()) return fail(field_message(key, "must be true or false")), fallback;
    return value->get<bool>();
  }

  std::optional<double> opt_number(std::string_view key, double lo, double hi) {
    const Json* value = find(key);
    if (value == nullptr || !ok()) return std::nullopt;
    if (!value->is_number()) return fail(field_message(key, "must be a number")), std::nullopt;
    const double d = value->get<double>();
    if (!std::isfinite(d)) {
      return fail(field_message(key, "must be a finite number")), std::nullopt;
    }
    if (d < lo || d > hi) return fail(range_message(key, lo, hi)), std::nullopt;
    return d;
  }
  double number(std::string_view key, double fallback, double lo, double hi) {
    return opt_number(key, lo, hi).value_or(fallback);
  }
  // A field ending in `_s`: 0 or more, and at most max_seconds so that it converts to a frame
  // count at any rate.
  std::optional<double> opt_seconds(std::string_view key) {
    const std::optional<double> value = opt_number(key, 0, inf);
    if (value && *value > max_seconds) {
      return fail(field_message(
                 key, "is too large (at most " + format_number(max_seconds) + " seconds)")),
             std::nullopt;
    }
    return value;
  }
  double seconds(std::string_view key) { return opt_seconds(key).value_or(0); }
  double required_number(std::string_view key, double lo, double hi) {
    if (!has(key)) fail("missing field " + in_quotes(key));
    return number(key, 0, lo, hi);
  }

  std::optional<std::int64_t> integer_value(std::string_view key, const Json& value,
                                            std::int64_t lo, std::int64_t hi) {
    if (!value.is_number_integer()) {
      return fail(field_message(key, "must be an integer")), std::nullopt;
    }
    if (value.is_number_unsigned()) {
      const auto u = value.get<std::uint64_t>();
      if (hi < 0 || u > static_cast<std::uint64_t>(hi) ||
          (lo > 0 && u < static_cast<std::uint64_t>(lo))) {
        return fail(int_range_message(key, lo, hi)), std::nullopt;
      }
      return static_cast<std::int64_t>(u);
    }
    const auto i = value.get<std::int64_t>();
    if (i < lo || i > hi) return fail(int_range_message(key, lo, hi)), std::nullopt;
    return i;
  }
  std::optional<std::int64_t> opt_integer(std::string_view key, std::int64_t lo, std::int64_t hi) {
    const Json* value = find(key);
    if (value == nullptr || !ok()) return std::nullopt;
    return integer_value(key, *value, lo, hi);
  }
  std::int64_t integer(std::string_view key, std::int64_t lo, std::int64_t hi) {
    if (!has(key)) fail("missing field " + in_quotes(key));
    return opt_integer(key, lo, hi).value_or(0);
  }

  When when() {
    const bool at = has("at_frame");
    const bool in = has("in_s");
    if (at && in) {
      fail("fields 'at_frame' and 'in_s' are exclusive");
      return Now{};
    }
    if (at) return AtFrame{opt_integer("at_frame", 0, max_int).value_or(0)};
    if (in) return InSeconds{seconds("in_s")};
    return Now{};
  }

  Loop loop() {
    const Json* value = find("loop");
    if (value == nullptr || !ok()) return Loop{};
    if (value->is_boolean()) return value->get<bool>() ? Loop{Loop::Mode::forever, 0} : Loop{};
    if (!value->is_number_integer()) {
      fail(field_message("loop", "must be true, false or an integer >= 1"));
      return Loop{};
    }
    const auto passes = integer_value("loop", *value, 1, max_int);
    return passes ? Loop{Loop::Mode::passes, *passes} : Loop{};
  }

  std::optional<std::vector<std::int64_t>> outputs() {
    const Json* value = find("outputs");
    if (value == nullptr || !ok()) return std::nullopt;
    if (!value->is_array()) {
      return fail(field_message("outputs", "must be a list of output numbers")), std::nullopt;
    }
    if (value->empty()) return fail(field_message("outputs", "must not be empty")), std::nullopt;
    std::vector<std::int64_t> outputs;
    outputs.reserve(value->size());
    for (const Json& entry : *value) {
      const auto output = integer_value("outputs", entry, 1, limits_.max_outputs);
      if (!output) return std::nullopt;
      for (std::int64_t seen : outputs) {
        if (seen == *output) {
          return fail(field_message("outputs", "lists output " + std::to_string(seen) + " twice")),
                 std::nullopt;
        }
      }
      outputs.push_back(*output);
    }
    return outputs;
  }

  EventSet events() {
    const Json* value = find("events");
    if (value == nullptr || !ok()) return EventSet::all();
    if (!value->is_array()) {
      return fail(field_message("events", "must be a list of event names")), EventSet{};
    }
    EventSet events;
    for (const Json& entry : *value) {
      if (!entry.is_string()) {
        return fail(field_message("events", "must be a list of event names")), EventSet{};
      }
      const auto kind = event_kind_from_string(entry.get_ref<const std::string&>());
      if (!kind) {
        return fail(field_message("events", "names an unknown event " +
                                                in_quotes(entry.get_ref<const std::string&>()))),
               EventSet{};
      }
      events.insert(*kind);
    }
    return events;
  }

  static constexpr std::int64_t max_int = std::numeric_limits<std::int64_t>::max();

 private:
  static std::string int_range_message(std::string_view key, std::int64_t lo, std::int64_t hi) {
    if (hi == max_int) return field_message(key, "must be >= " + std::to_string(lo));
    return field_message(key,
                         "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }

  const Object& fields_;
  std::string_view command_;
  const ParseLimits& limits_;
  std::string error_;
};

constexpr double min_gain_db = -120;
constexpr double max_gain_db = 24;
constexpr std::int64_t any_int_min = std::numeric_limits<std::int64_t>::min();

Request parse_hello(Reader& r) {
  return r.only({}), HelloRequest{};
}
Request parse_ping(Reader& r) {
  return r.only({}), PingRequest{};
}
Request parse_list(Reader& r) {
  return r.only({}), ListRequest{};
}
Request parse_voices(Reader& r) {
  return r.only({}), VoicesRequest{};
}
Request parse_meters(Reader& r) {
  return r.only({}), MetersRequest{};
}
Request parse_status(Reader& r) {
  return r.only({}), StatusRequest{};
}
Request parse_unsubscribe(Reader& r) {
  return r.only({}), UnsubscribeRequest{};
}
Request parse_shutdown(Reader& r) {
  return r.only({}), ShutdownRequest{};
}
Request parse_bindings(Reader& r) {
  return r.only({}), BindingsRequest{};
}

Request parse_load(Reader& r) {
  r.only({"name", "path", "replace", "stream"});
  LoadRequest q;
  q.clip_name = r.name("name");
  q.path = r.name("path");
  q.replace = r.boolean("replace", false);
  if (const Json* stream = r.find("stream"); stream != nullptr) {
    if (stream->is_boolean()) {
      q.stream = stream->get<bool>() ? LoadRequest::Stream::always : LoadRequest::Stream::never;
    } else if (!(stream->is_string() && stream->get_ref<const std::string&>() == "auto")) {
      r.fail(field_message("stream", "must be true, false or \"auto\""));
    }
  }
  return q;
}

Request parse_unload(Reader& r) {
  r.only({"name"});
  return UnloadRequest{r.name("name")};
}

Request parse_info(Reader& r) {
  r.only({"name"});
  return InfoRequest{r.name("name")};
}

Request parse_play(Reader& r) {
  r.only({"clip", "gain_db", "pan", "offset_s", "length_s", "loop", "loop_start_s", "loop_end_s",
          "fade_in_s", "at_frame", "in_s", "group", "outputs"});
  PlayRequest q;
  q.clip = r.name("clip");
  q.gain_db = r.number("gain_db", 0, min_gain_db, max_gain_db);
  q.pan = r.number("pan", 0, -1, 1);
  q.offset_s = r.seconds("offset_s");
  q.length_s = r.opt_seconds("length_s");
  q.loop = r.loop();
  q.loop_start_s = r.seconds("loop_start_s");
  q.loop_end_s = r.opt_seconds("loop_end_s");
  if (r.ok() && q.loop_end_s && *q.loop_end_s <= q.loop_start_s) {
    r.fail("field 'loop_end_s' must be greater than 'loop_start_s' (" +
           format_number(q.loop_start_s) + ")");
  }
  q.fade_in_s = r.seconds("fade_in_s");
  q.when = r.when();
  q.group = r.opt_name("group");
  q.outputs = r.outputs();
  return q;
}

Request parse_stop(Reader& r) {
  r.only({"voice", "clip", "group", "all", "fade_s", "at_frame", "in_s"});
  StopRequest q;
  const std::string_view targets[] = {"voice", "clip", "group", "all"};
  std::string_view given;
  for (std::string_view target : targets) {
    if (!r.has(target)) continue;
    if (!given.empty()) {
      r.fail("fields " + in_quotes(given) + " and " + in_quotes(target) + " are exclusive");
      break;
    }
    given = target;
  }
  if (given.empty()) r.fail("stop needs one of the fields 'voice', 'clip', 'group' or 'all'");
  if (given == "voice") {
    q.target = StopVoice{r.integer("voice", any_int_min, Reader::max_int)};
  } else if (given == "clip") {
    q.target = StopClip{r.name("clip")};
  } else if (given == "group") {
    q.target = StopGroup{r.name("group")};
  } else if (given == "all") {
    if (!r.boolean("all", true) && r.ok()) r.fail(field_message("all", "must be true"));
    q.target = StopAll{};
  }
  q.fade_s = r.opt_seconds("fade_s");
  q.when = r.when();
  return q;
}

template <typename R>
Request parse_pause_resume(Reader& r) {
  r.only({"voice", "fade_s"});
  R q;
  q.voice = r.integer("voice", any_int_min, Reader::max_int);
  q.fade_s = r.opt_seconds("fade_s");
  return q;
}

Request parse_set(Reader& r) {
  r.only({"voice", "gain_db", "pan", "ramp_s", "at_frame", "in_s"});
  SetRequest q;
  q.voice = r.integer("voice", any_int_min, Reader::max_int);
  q.gain_db = r.opt_number("gain_db", min_gain_db, max_gain_db);
  q.pan = r.opt_number("pan", -1, 1);
  if (r.ok() && !q.gain_db && !q.pan) r.fail("set needs the field 'gain_db' or 'pan'");
  q.ramp_s = r.opt_seconds("ramp_s");
  q.when = r.when();
  return q;
}

Request parse_master(Reader& r) {
  r.only({"gain_db", "ramp_s"});
  MasterRequest q;
  q.gain_db = r.required_number("gain_db", min_gain_db, max_gain_db);
  q.ramp_s = r.opt_seconds("ramp_s");
  return q;
}

Request parse_subscribe(Reader& r) {
  r.only({"events"});
  return SubscribeRequest{r.events()};
}

Request parse_bind(Reader& r) {
  r.only({"note", "channel", "clip", "mode", "velocity", "gain_db", "group"});
  BindRequest q;
  q.note = r.integer("note", 0, 127);
  q.channel = r.opt_integer("channel", 1, 16);
  q.clip = r.name("clip");
  if (const Json* mode = r.find("mode"); mode != nullptr && r.ok()) {
    const std::string* s = mode->is_string() ? &mode->get_ref<const std::string&>() : nullptr;
    if (s != nullptr && *s == "oneshot") {
      q.mode = BindMode::oneshot;
    } else if (s != nullptr && *s == "gate") {
      q.mode = BindMode::gate;
    } else if (s != nullptr && *s == "toggle") {
      q.mode = BindMode::toggle;
    } else {
      r.fail(field_message("mode", "must be \"oneshot\", \"gate\" or \"toggle\""));
    }
  }
  q.velocity = r.boolean("velocity", false);
  q.gain_db = r.number("gain_db", 0, min_gain_db, max_gain_db);
  q.group = r.opt_name("group");
  return q;
}

Request parse_unbind(Reader& r) {
  r.only({"note", "channel"});
  UnbindRequest q;
  q.note = r.integer("note", 0, 127);
  q.channel = r.opt_integer("channel", 1, 16);
  return q;
}

struct Command {
  std::string_view name;
  Request (*parse)(Reader&);
};

constexpr Command commands[] = {
    {HelloRequest::name, parse_hello},
    {PingRequest::name, parse_ping},
    {LoadRequest::name, parse_load},
    {UnloadRequest::name, parse_unload},
    {ListRequest::name, parse_list},
    {InfoRequest::name, parse_info},
    {PlayRequest::name, parse_play},
    {StopRequest::name, parse_stop},
    {PauseRequest::name, parse_pause_resume<PauseRequest>},
    {ResumeRequest::name, parse_pause_resume<ResumeRequest>},
    {SetRequest::name, parse_set},
    {MasterRequest::name, parse_master},
    {VoicesRequest::name, parse_voices},
    {MetersRequest::name, parse_meters},
    {StatusRequest::name, parse_status},
    {SubscribeRequest::name, parse_subscribe},
    {UnsubscribeRequest::name, parse_unsubscribe},
    {ShutdownRequest::name, parse_shutdown},
    {BindRequest::name, parse_bind},
    {UnbindRequest::name, parse_unbind},
    {BindingsRequest::name, parse_bindings},
};
static_assert(std::size(commands) == std::variant_size_v<Request>);

// The name a `cmd` value token holds when it is a string naming no command. An unknown command
// comes before every other fault of a valid JSON object (clipd-protocol(7), ERRORS).
std::optional<std::string> unknown_command(const ScannedMember& cmd) {
  if (!cmd.value || cmd.repeated || !cmd.value->starts_with('"')) return std::nullopt;
  const Json value = Json::parse(cmd.value->begin(), cmd.value->end(), nullptr, false);
  if (!value.is_string()) return std::nullopt;
  const std::string& name = value.get_ref<const std::string&>();
  for (const Command& command : commands) {
    if (command.name == name) return std::nullopt;
  }
  return name;
}

ParseError unknown_command_error(RequestId id, const std::string& name) {
  std::string message = "unknown command ";
  append_json(message, Json(name));
  return ParseError{std::move(id), ErrorCode::unknown_command, std::move(message)};
}

ParseResult parse_object(const Object& fields, RequestId id, const ParseLimits& limits) {
  const Json* cmd = nullptr;
  for (const auto& field : fields) {
    if (field.first == "cmd") cmd = &field.second;
  }
  const Command* command = nullptr;
  if (cmd != nullptr && cmd->is_string()) {
    const std::string& name = cmd->get_ref<const std::string&>();
    for (const Command& c : commands) {
      if (c.name == name) command = &c;
    }
    if (command == nullptr) return unknown_command_error(std::move(id), name);
  }
  if (const auto* invalid = std::get_if<InvalidId>(&id)) {
    return ParseError{std::move(id), ErrorCode::bad_request,
                      invalid->json == "null" ? "field 'id' holds a number too large for a double"
                                              : "field 'id' must be an integer or a string"};
  }
  if (cmd == nullptr)
    return ParseError{std::move(id), ErrorCode::bad_request, "missing field 'cmd'"};
  if (command == nullptr) {
    return ParseError{std::move(id), ErrorCode::bad_request, "field 'cmd' must be a string"};
  }
  Reader reader(fields, command->name, limits);
  Request request = command->parse(reader);
  if (!reader.ok()) return ParseError{std::move(id), ErrorCode::bad_request, reader.take_error()};
  return ParsedRequest{std::move(id), std::move(request)};
}

}  // namespace

ParseResult parse_request(std::string_view line, const ParseLimits& limits) {
  if (is_blank(line)) return BlankLine{};
  // The id and the command, located in the raw text: the reply carries the id even when the
  // parse below stops early or the line is broken after the id.
  const LineScan scan = scan_line(line);
  RequestId id = scan.id.value ? request_id_from_token(*scan.id.value) : RequestId{};
  // nlohmann's lexer takes a NUL byte for the end of input and would ignore what follows it.
  if (line.find('\0') != std::string_view::npos) {
    return ParseError{std::move(id), ErrorCode::bad_json, "NUL byte in line"};
  }
  DomBuilder builder;
  bool parsed = false;
  try {
    parsed = Json::sax_parse(line.data(), line.data() + line.size(), &builder,
                             Json::input_format_t::json, /*strict=*/true);
  } catch (const std::exception& error) {
    // The lexer and our consumer report through parse_error(); anything thrown is unexpected
    // input handling (or memory), and still only this line's problem.
    return ParseError{std::move(id), ErrorCode::bad_json, json_error_message(error.what())};
  }
  if (!parsed) {
    if (builder.failure() == DomBuilder::Failure::syntax) {
      return ParseError{std::move(id), ErrorCode::bad_json, json_error_message(builder.message())};
    }
    // The parse stopped early on valid JSON text so far; what follows may still be broken.
    if (!scan.valid) {
      return ParseError{std::move(id), ErrorCode::bad_json,
                        "syntax error at byte " + std::to_string(scan.error_at + 1)};
    }
    if (const auto name = unknown_command(scan.cmd)) {
      return unknown_command_error(std::move(id), *name);
    }
    switch (builder.failure()) {
      case DomBuilder::Failure::too_deep:
        return ParseError{std::move(id), ErrorCode::bad_request,
                          "JSON nested deeper than " + std::to_string(max_json_depth) + " levels"};
      case DomBuilder::Failure::too_many_fields:
        return ParseError{std::move(id), ErrorCode::bad_request,
                          "more than " + std::to_string(max_request_fields) + " fields"};
      case DomBuilder::Failure::not_finite:
        return ParseError{std::move(id), ErrorCode::bad_request,
                          field_message(builder.message(), "must be a finite number")};
      case DomBuilder::Failure::duplicate_field:
        return ParseError{std::move(id), ErrorCode::bad_request,
                          "field " + in_quotes(builder.message()) + " appears twice"};
      default:
        return ParseError{std::move(id), ErrorCode::bad_json,
                          json_error_message(builder.message())};
    }
  }
  if (!builder.root().is_object()) {
    return ParseError{std::monostate{}, ErrorCode::bad_request, "a request must be a JSON object"};
  }
  return parse_object(builder.root().get_ref<const Object&>(), std::move(id), limits);
}

}  // namespace clipd::protocol
