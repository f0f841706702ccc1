#include "control/osc/request.hpp"

#include <charconv>
#include <cmath>
#include <initializer_list>
#include <string_view>
#include <vector>

namespace clipd::control::osc {
namespace {

using protocol::ErrorCode;
using protocol::Json;

constexpr std::string_view kRoot = "/clipd/";

// Reals of a whole value count as integers: faders and many controllers send only floats, and
// the contract takes an integer wherever it takes a number.
constexpr double kExactIntegers = 9007199254740992.0;  // 2^53

struct Fail {
  std::string message;
};

std::variant<Json, Fail> to_json(const Arg& arg, std::string_view field) {
  auto fail = [&](std::string_view what) {
    return Fail{"field '" + std::string(field) + "' " + std::string(what)};
  };
  if (std::holds_alternative<Nil>(arg)) return Json(nullptr);
  if (const bool* b = std::get_if<bool>(&arg)) return Json(*b);
  if (const std::int64_t* i = std::get_if<std::int64_t>(&arg)) return Json(*i);
  if (const double* d = std::get_if<double>(&arg)) {
    if (!std::isfinite(*d)) return fail("must be a finite number");
    if (std::trunc(*d) == *d && std::fabs(*d) < kExactIntegers) {
      return Json(static_cast<std::int64_t>(*d));
    }
    return Json(*d);
  }
  if (const std::string* s = std::get_if<std::string>(&arg)) {
    // A list (`outputs`, `events`) travels as its JSON text.
    if (!s->empty() && s->front() == '[') {
      Json list = Json::parse(*s, nullptr, /*allow_exceptions=*/false);
      if (list.is_array()) return list;
    }
    return Json(*s);
  }
  const char tag = std::get<Unsupported>(arg).tag;
  return fail(std::string("has OSC type '") + tag + "', which clipd does not take");
}

bool is_release(const Arg& arg) {
  if (const bool* b = std::get_if<bool>(&arg)) return !*b;
  if (const std::int64_t* i = std::get_if<std::int64_t>(&arg)) return *i == 0;
  if (const double* d = std::get_if<double>(&arg)) return *d == 0;
  return false;
}

bool is_press_value(const Arg& arg) {
  return std::holds_alternative<bool>(arg) || std::holds_alternative<std::int64_t>(arg) ||
         std::holds_alternative<double>(arg);
}

// The main arguments of each command of the generic form, in order.
std::vector<std::string_view> main_fields(std::string_view command) {
  if (command == "load") return {"name", "path"};
  if (command == "unload" || command == "info") return {"name"};
  if (command == "play") return {"clip"};
  if (command == "pause" || command == "resume" || command == "set") return {"voice"};
  if (command == "master") return {"gain_db"};
  if (command == "bind") return {"note", "clip"};
  if (command == "unbind") return {"note"};
  return {};
}

class Builder {
 public:
  explicit Builder(const Message& message) : message_(message) {}

  // Takes the arguments from `first` on: `fields` in order, then name/value pairs.
  bool take(std::size_t first, std::initializer_list<std::string_view> fields) {
    return take(first, std::vector<std::string_view>(fields));
  }
  bool take(std::size_t first, const std::vector<std::string_view>& fields) {
    const auto& args = message_.args;
    std::size_t i = first;
    for (std::string_view field : fields) {
      if (i == args.size()) break;  // missing: parse_request names it
      if (!put(field, args[i])) return false;
      ++i;
    }
    for (; i < args.size(); i += 2) {
      const auto* name = std::get_if<std::string>(&args[i]);
      if (name == nullptr) {
        return fail("argument " + std::to_string(i + 1) +
                    " must be a field name (a string): after the main arguments come name/value "
                    "pairs");
      }
      if (i + 1 == args.size()) return fail("field '" + *name + "' has no value");
      if (*name == "cmd") return fail("field 'cmd' is the address's, not an argument");
      if (!put(*name, args[i + 1])) return false;
    }
    return true;
  }

  bool put(std::string_view field, const Arg& arg) {
    if (object_.contains(std::string(field)))
      return fail("field '" + std::string(field) + "' is given twice");
    auto value = to_json(arg, field);
    if (auto* f = std::get_if<Fail>(&value)) return fail(std::move(f->message));
    if (field == "id") {
      const Json& id = std::get<Json>(value);
      // The contract's ids: integers and strings (null is none).
      if (id.is_number_integer() || id.is_string())
        id_ = protocol::request_id_from_token(protocol::dump_json(id));
    }
    object_[std::string(field)] = std::move(std::get<Json>(value));
    return true;
  }

  bool fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

  Json& object() { return object_; }
  RequestError error(ErrorCode code = ErrorCode::bad_request) {
    return RequestError{id_, code, std::move(error_)};
  }

 private:
  const Message& message_;
  Json object_ = Json::object();
  protocol::RequestId id_;
  std::string error_;
};

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t slash = path.find('/', start);
    const std::size_t end = slash == std::string_view::npos ? path.size() : slash;
    parts.push_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return parts;
}

bool parse_voice(std::string_view text, std::int64_t& voice) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), voice);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

namespace {

std::variant<Json, Release, RequestError> map_message(const Message& message) {
  const std::string_view address = message.address;
  Builder b(message);
  if (!address.starts_with(kRoot) || address.size() == kRoot.size()) {
    b.fail("address '" + message.address + "' is not one of clipd's (they start with /clipd/)");
    // Pairs after it may still name an id for the error.
    (void)b.take(0, {});
    return b.error(ErrorCode::unknown_command);
  }
  const auto parts = split(address.substr(kRoot.size()));

  if (parts.size() == 1) {
    // Generic form: /clipd/COMMAND main-arguments... name value...
    b.object()["cmd"] = std::string(parts[0]);
    if (!b.take(0, main_fields(parts[0]))) return b.error();
    return std::move(b.object());
  }

  // Control form: the target in the address, one verb at its end.
  const std::string_view kind = parts[0];
  const std::string_view verb = parts.back();
  const bool targeted = parts.size() == 3 && !parts[1].empty();
  const bool all = parts.size() == 2 && kind == "all";
  if (!targeted && !all) {
    b.fail("address '" + message.address + "' is not one of clipd's (see clipd-osc(7))");
    (void)b.take(0, {});
    return b.error(ErrorCode::unknown_command);
  }
  const std::string target(targeted ? parts[1] : std::string_view{});

  // A button sends its state: one number (or boolean) before any pairs. Zero is the release.
  auto press = [&]() -> std::optional<std::size_t> {
    if (message.args.size() % 2 == 1 && is_press_value(message.args[0])) {
      if (is_release(message.args[0])) return std::nullopt;
      return 1;
    }
    return 0;
  };
  auto action = [&](std::string_view cmd, std::string_view field,
                    Json target_value) -> std::variant<Json, Release, RequestError> {
    const auto first = press();
    if (!first) return Release{};
    b.object()["cmd"] = std::string(cmd);
    if (!field.empty()) b.object()[std::string(field)] = std::move(target_value);
    if (!b.take(*first, {})) return b.error();
    return std::move(b.object());
  };
  auto unknown_verb = [&]() -> std::variant<Json, Release, RequestError> {
    b.fail("address '" + message.address + "': '" + std::string(verb) + "' is not a " +
           std::string(kind) + " control (see clipd-osc(7))");
    (void)b.take(0, {});
    return b.error(ErrorCode::unknown_command);
  };

  if (all) {
    if (verb == "stop") return action("stop", "all", Json(true));
    return unknown_verb();
  }
  if (kind == "clip") {
    if (verb == "play" || verb == "stop") return action(verb, "clip", Json(target));
    if (verb == "unload" || verb == "info") return action(verb, "name", Json(target));
    if (verb == "load") {
      b.object()["cmd"] = "load";
      b.object()["name"] = target;
      if (!b.take(0, {"path"})) return b.error();
      return std::move(b.object());
    }
    return unknown_verb();
  }
  if (kind == "group") {
    if (verb == "stop") return action("stop", "group", Json(target));
    return unknown_verb();
  }
  if (kind == "voice") {
    std::int64_t voice = 0;
    if (!parse_voice(target, voice)) {
      b.fail("address '" + message.address + "': '" + target + "' is not a voice id");
      (void)b.take(0, {});
      return b.error();
    }
    if (verb == "stop" || verb == "pause" || verb == "resume") {
      return action(verb, "voice", Json(voice));
    }
    if (verb == "gain_db" || verb == "pan") {
      // A fader: its value first, then pairs (ramp_s, ...).
      b.object()["cmd"] = "set";
      b.object()["voice"] = voice;
      if (!b.take(0, {verb})) return b.error();
      return std::move(b.object());
    }
    return unknown_verb();
  }
  b.fail("address '" + message.address + "' is not one of clipd's (see clipd-osc(7))");
  (void)b.take(0, {});
  return b.error(ErrorCode::unknown_command);
}

}  // namespace

std::variant<Json, Release, RequestError> to_request_object(const Message& message) {
  // A trailing `id VALUE` pair is the id whatever comes before it, so that an error in the
  // arguments (a missing main argument, a name without its value) still names its request.
  const auto& args = message.args;
  if (args.size() < 2 || args[args.size() - 2] != Arg{std::string("id")}) {
    return map_message(message);
  }
  Message trimmed{message.address, {args.begin(), args.end() - 2}, message.timetag};
  auto mapped = map_message(trimmed);
  auto id = to_json(args.back(), "id");
  protocol::RequestId request_id;
  if (auto* value = std::get_if<Json>(&id);
      value && (value->is_number_integer() || value->is_string())) {
    request_id = protocol::request_id_from_token(protocol::dump_json(*value));
  }
  if (auto* err = std::get_if<RequestError>(&mapped)) {
    if (std::holds_alternative<std::monostate>(err->id)) err->id = request_id;
    return mapped;
  }
  if (auto* object = std::get_if<Json>(&mapped)) {
    if (auto* f = std::get_if<Fail>(&id))
      return RequestError{{}, ErrorCode::bad_request, f->message};
    if (object->contains("id")) {
      return RequestError{request_id, ErrorCode::bad_request, "field 'id' is given twice"};
    }
    (*object)["id"] = std::move(std::get<Json>(id));
  }
  return mapped;
}

Arg id_arg(const protocol::RequestId& id) {
  return std::visit(
      [](const auto& v) -> Arg {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return Nil{};
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          return v;
        } else if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else if constexpr (std::is_same_v<T, protocol::InvalidId>) {
          return v.json;
        } else {
          return v.text;
        }
      },
      id);
}

}  // namespace clipd::control::osc
