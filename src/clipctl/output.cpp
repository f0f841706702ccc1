#include "clipctl/output.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace clipd::clipctl {

namespace {

using protocol::Json;

std::string fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

// A value as table or line text: null as "-", strings bare, floats with 3 decimals.
std::string text(const Json& value, int decimals = 3) {
  switch (value.type()) {
    case Json::value_t::null:
      return "-";
    case Json::value_t::string:
      return value.get<std::string>();
    case Json::value_t::boolean:
      return value.get<bool>() ? "yes" : "no";
    case Json::value_t::number_float:
      return fixed(value.get<double>(), decimals);
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::object:
    case Json::value_t::array:
    case Json::value_t::binary:
    case Json::value_t::discarded:
      break;
  }
  return protocol::dump_json(value);
}

// Levels and gains in dB: null is silence.
std::string decibels(const Json& value) {
  if (value.is_null()) return "-inf";
  if (value.is_number()) return fixed(value.get<double>(), 1);
  return text(value);
}

std::string field(const Json& object, const char* key, int decimals = 3) {
  auto it = object.find(key);
  return it == object.end() ? std::string("-") : text(*it, decimals);
}

// Left-aligned text columns, right-aligned numbers, two spaces apart.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row, std::vector<bool> numeric) {
    numeric_ = std::move(numeric);
    rows_.push_back(std::move(row));
  }
  std::string str() const {
    std::vector<std::size_t> widths(rows_.front().size(), 0);
    for (const auto& row : rows_) {
      for (std::size_t c = 0; c < row.size(); ++c)
        widths[c] = std::max(widths[c], row[c].size());
    }
    std::string out;
    for (const auto& row : rows_) {
      std::string line;
      for (std::size_t c = 0; c < row.size(); ++c) {
        const std::size_t pad = widths[c] - row[c].size();
        const bool right = c < numeric_.size() && numeric_[c];
        if (c > 0) line += "  ";
        if (right) line.append(pad, ' ');
        line += row[c];
        if (!right && c + 1 < row.size()) line.append(pad, ' ');
      }
      while (!line.empty() && line.back() == ' ')
        line.pop_back();
      out += line;
      out += '\n';
    }
    return out;
  }

 private:
  std::vector<std::vector<std::string>> rows_;
  std::vector<bool> numeric_;
};

std::string bytes_text(const Json& value) {
  if (!value.is_number()) return text(value);
  const double bytes = value.get<double>();
  if (bytes >= 1024.0 * 1024 * 1024) return fixed(bytes / (1024.0 * 1024 * 1024), 1) + " GiB";
  if (bytes >= 1024.0 * 1024) return fixed(bytes / (1024.0 * 1024), 1) + " MiB";
  if (bytes >= 1024.0) return fixed(bytes / 1024.0, 1) + " KiB";
  return text(value) + " B";
}

// "key: value" lines, in the result's order.
std::string key_values(const Json& result) {
  std::size_t width = 0;
  for (const auto& item : result.items())
    width = std::max(width, item.key().size());
  std::string out;
  for (const auto& item : result.items()) {
    out += item.key();
    out += ':';
    out.append(width - item.key().size() + 1, ' ');
    const std::string& key = item.key();
    if (key.ends_with("_db")) {
      out += decibels(item.value());
    } else if (key == "bytes" || key.ends_with("_bytes")) {
      out += bytes_text(item.value());
    } else {
      out += text(item.value());
    }
    out += '\n';
  }
  return out;
}

// A streamed clip's head ("head 2.0 s"), or "no" for a clip held whole in memory.
std::string streamed_text(const Json& clip) {
  const auto streamed = clip.find("streamed");
  if (streamed == clip.end() || !streamed->is_boolean() || !streamed->get<bool>()) return "no";
  const auto head = clip.find("head_s");
  return head != clip.end() && head->is_number() ? "head " + fixed(head->get<double>(), 1) + " s"
                                                 : "yes";
}

std::string clip_table(const Json& clips) {
  Table table(
      {"NAME", "CHANNELS", "RATE", "DURATION", "FRAMES", "MEMORY", "LOCKED", "STREAMED", "PATH"});
  for (const Json& c : clips) {
    table.add({field(c, "name"), field(c, "channels"), field(c, "sample_rate"),
               field(c, "duration_s"), field(c, "frames"), bytes_text(c.value("bytes", Json())),
               field(c, "locked"), streamed_text(c), field(c, "path")},
              {false, true, true, true, true, true, false, false, false});
  }
  return table.str();
}

std::string voice_table(const Json& voices) {
  Table table({"VOICE", "CLIP", "STATE", "POSITION", "REMAINING", "GAIN", "PAN", "GROUP"});
  for (const Json& v : voices) {
    auto remaining = v.find("remaining_s");
    table.add({field(v, "voice"), field(v, "clip"), field(v, "state"), field(v, "position_s"),
               remaining != v.end() && remaining->is_null() ? "loop" : field(v, "remaining_s"),
               decibels(v.value("gain_db", Json())), field(v, "pan", 2), field(v, "group")},
              {true, false, false, true, true, true, true, false});
  }
  return table.str();
}

std::string binding_table(const Json& bindings) {
  Table table({"NOTE", "CHANNEL", "CLIP", "MODE", "VELOCITY", "GAIN", "GROUP"});
  for (const Json& b : bindings) {
    auto channel = b.find("channel");
    table.add(
        {field(b, "note"), channel != b.end() && channel->is_null() ? "any" : field(b, "channel"),
         field(b, "clip"), field(b, "mode"), field(b, "velocity"),
         decibels(b.value("gain_db", Json())), field(b, "group")},
        {true, true, false, false, false, true, false});
  }
  return table.str();
}

std::string meters_text(const Json& result) {
  const Json empty = Json::array();
  const Json& peak = result.contains("peak_db") ? result["peak_db"] : empty;
  const Json& rms = result.contains("rms_db") ? result["rms_db"] : empty;
  Table table({"OUTPUT", "PEAK dB", "RMS dB"});
  const std::size_t n = std::max(peak.size(), rms.size());
  for (std::size_t i = 0; i < n; ++i) {
    table.add({"out_" + std::to_string(i + 1), i < peak.size() ? decibels(peak[i]) : "-",
               i < rms.size() ? decibels(rms[i]) : "-"},
              {false, true, true});
  }
  return table.str();
}

std::string list_of(const Json& result, const char* key, std::string (*format)(const Json&)) {
  auto it = result.find(key);
  return format(it != result.end() && it->is_array() ? *it : Json::array());
}

}  // namespace

std::string format_result(const protocol::Request& request, const Json& result) {
  using namespace protocol;
  if (std::holds_alternative<ListRequest>(request)) return list_of(result, "clips", clip_table);
  if (std::holds_alternative<VoicesRequest>(request)) {
    return list_of(result, "voices", voice_table);
  }
  if (std::holds_alternative<BindingsRequest>(request)) {
    return list_of(result, "bindings", binding_table);
  }
  if (std::holds_alternative<MetersRequest>(request)) return meters_text(result);
  if (std::holds_alternative<PingRequest>(request)) return "pong\n";
  if (std::holds_alternative<PlayRequest>(request) && result.contains("voice")) {
    return "voice " + text(result["voice"]) + "\n";
  }
  if (std::holds_alternative<StopRequest>(request) && result.contains("stopped")) {
    return "stopped " + text(result["stopped"]) + "\n";
  }
  return key_values(result);
}

std::string format_event(const Json& event) {
  std::string out = field(event, "event");
  for (const auto& item : event.items()) {
    if (item.key() == "event") continue;
    out += ' ';
    out += item.key();
    out += '=';
    out += text(item.value());
  }
  return out;
}

}  // namespace clipd::clipctl
