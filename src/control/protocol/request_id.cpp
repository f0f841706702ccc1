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
  void operator()(const IntegerToken& value) const { out += value.text; }
};

// Whether a reply may carry the token: a number past the range of a double (1e400) is valid JSON,
// but many JSON readers refuse it (nlohmann's among them), and a reply must be readable.
bool echoable(std::string_view token) {
  return Json::accept(token.begin(), token.end());
}

}  // namespace

RequestId request_id_from_token(std::string_view token) {
  if (token.empty() || token == "null") return std::monostate{};
  const char first = token.front();
  if (first == '"') {
    // Without escapes the text between the quotes is the string (the scan checked its UTF-8).
    if (token.find('\\') == std::string_view::npos)
      return std::string(token.substr(1, token.size() - 2));
    // The scan checked the string, so this parse cannot fail; if it did, the id is lost (null)
    // rather than echoed unchecked.
    Json value = Json::parse(token.begin(), token.end(), nullptr, /*allow_exceptions=*/false);
    if (!value.is_string()) return std::monostate{};
    return std::move(value.get_ref<std::string&>());
  }
  if (first == '-' || (first >= '0' && first <= '9')) {
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (ec == std::errc() && end == token.data() + token.size() && token != "-0") return value;
    if (!echoable(token)) return InvalidId{"null"};
    if (token.find_first_of(".eE") != std::string_view::npos) return InvalidId{std::string(token)};
    return IntegerToken{std::string(token)};
  }
  if ((first == '[' || first == '{') && !echoable(token)) return InvalidId{"null"};
  // A list or object may hold line breaks between its values (JSON whitespace, never inside a
  // string); the reply is one line, so each becomes a space, which reads as the same value. The
  // control socket splits lines at "\n" first, but a "\r" can still be there, and the parser
  // takes any text.
  std::string echoed(token);
  for (char& c : echoed) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return InvalidId{std::move(echoed)};
}

void append_id(std::string& out, const RequestId& id) {
  std::visit(IdAppender{out}, id);
}

}  // namespace clipd::protocol
