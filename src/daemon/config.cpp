#include "daemon/config.hpp"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>

#include "control/osc/network.hpp"
#include "daemon/paths.hpp"

namespace clipd {
namespace {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string& origin, const std::string& key, const std::string& why) {
  throw ConfigError(origin + ": " + key + ": " + why);
}

std::uint64_t parse_size(std::string_view text, const std::string& origin, const std::string& key) {
  // Accepts a plain number of bytes or a number with a K, M or G suffix (powers of 1024).
  std::string s(text);
  if (s.empty()) fail(origin, key, "empty size");
  std::uint64_t scale = 1;
  switch (s.back()) {
    case 'k':
    case 'K':
      scale = 1ull << 10;
      s.pop_back();
      break;
    case 'm':
    case 'M':
      scale = 1ull << 20;
      s.pop_back();
      break;
    case 'g':
    case 'G':
      scale = 1ull << 30;
      s.pop_back();
      break;
    default:
      break;
  }
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (s.empty() || end != s.c_str() + s.size() || errno != 0 || s[0] == '-' ||
      v > UINT64_MAX / scale) {
    fail(origin, key,
         "not a size: '" + std::string(text) + "' (bytes, or a number with K, M or G)");
  }
  return v * scale;
}

std::uint64_t parse_uint(std::string_view text, std::uint64_t lo, std::uint64_t hi,
                         const std::string& origin, const std::string& key) {
  std::string s(text);
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (s.empty() || end != s.c_str() + s.size() || errno != 0 || s[0] == '-' || v < lo || v > hi) {
    fail(origin, key,
         "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" +
             s + "'");
  }
  return v;
}

std::uint64_t json_uint(const json& v, std::uint64_t lo, std::uint64_t hi,
                        const std::string& origin, const std::string& key) {
  if (!v.is_number_integer()) fail(origin, key, "expected an integer");
  if (v.is_number_unsigned() || v.get<std::int64_t>() >= 0) {
    const auto u = v.get<std::uint64_t>();
    if (u >= lo && u <= hi) return u;
  }
  fail(origin, key,
       "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

std::string json_string(const json& v, const std::string& origin, const std::string& key) {
  if (!v.is_string()) fail(origin, key, "expected a string");
  return v.get<std::string>();
}

bool json_bool(const json& v, const std::string& origin, const std::string& key) {
  if (!v.is_boolean()) fail(origin, key, "expected true or false");
  return v.get<bool>();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot read: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void check_log_level(const std::string& level, const std::string& origin) {
  static constexpr std::string_view kLevels[] = {"error", "warning", "notice", "info", "debug"};
  for (auto l : kLevels) {
    if (l == level) return;
  }
  fail(origin, "log_level", "expected error, warning, notice, info or debug");
}

void check_osc_bind(const std::string& address, const std::string& origin, const std::string& key) {
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(address, ec);
  if (ec) fail(origin, key, "'" + address + "' is not an IPv4 or IPv6 address");
}

void check_network(const std::string& network, const std::string& origin, const std::string& key) {
  if (!control::osc::parse_network(network)) {
    fail(origin, key,
         "'" + network + "' is not a network (an address, or address/prefix: 192.168.1.0/24)");
  }
}

void check_backend(const std::string& backend, const std::string& origin, const std::string& key) {
  if (backend == "auto" || backend == "jack" || backend == "pipewire") return;
  fail(origin, key, "expected auto, jack or pipewire");
}

}  // namespace

std::string default_config_path() {
  return config_home() + "/clipd/config.json";
}

void apply_config_json(Config& c, const std::string& text, const std::string& origin) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    throw ConfigError(origin + ": not valid JSON: " + e.what());
  }
  if (!doc.is_object()) throw ConfigError(origin + ": expected a JSON object");
  for (const auto& [key, v] : doc.items()) {
    if (key == "instance") {
      c.instance = json_string(v, origin, key);
    } else if (key == "socket") {
      c.socket_path = json_string(v, origin, key);
    } else if (key == "backend") {
      c.backend = json_string(v, origin, key);
      check_backend(c.backend, origin, key);
    } else if (key == "jack_server") {
      c.jack_server = json_string(v, origin, key);
    } else if (key == "client_name") {
      c.client_name = json_string(v, origin, key);
    } else if (key == "outputs") {
      c.outputs = static_cast<std::uint32_t>(json_uint(v, 1, 64, origin, key));
    } else if (key == "max_voices") {
      c.max_voices = static_cast<std::uint32_t>(json_uint(v, 1, 4096, origin, key));
    } else if (key == "max_timed_commands") {
      c.max_timed_commands = static_cast<std::uint32_t>(json_uint(v, 1, 65536, origin, key));
    } else if (key == "max_midi_events") {
      c.max_midi_events = static_cast<std::uint32_t>(json_uint(v, 1, 1024, origin, key));
    } else if (key == "memory_budget") {
      if (v.is_string()) {
        c.memory_budget = parse_size(v.get<std::string>(), origin, key);
      } else {
        c.memory_budget = json_uint(v, 0, UINT64_MAX, origin, key);
      }
    } else if (key == "stream_threshold") {
      if (v.is_string()) {
        c.stream_threshold = parse_size(v.get<std::string>(), origin, key);
      } else {
        c.stream_threshold = json_uint(v, 0, UINT64_MAX, origin, key);
      }
    } else if (key == "stream_head_s" || key == "stream_buffer_s") {
      const double lo = key == "stream_head_s" ? 0.1 : 0.25;
      if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < lo ||
          v.get<double>() > 60) {
        fail(origin, key,
             "expected a number of seconds in [" + std::to_string(lo).substr(0, 4) + ", 60]");
      }
      (key == "stream_head_s" ? c.stream_head_s : c.stream_buffer_s) = v.get<double>();
    } else if (key == "max_streamed_voices") {
      c.max_streamed_voices = static_cast<std::uint32_t>(json_uint(v, 1, 1024, origin, key));
    } else if (key == "stream_threads") {
      c.stream_threads = static_cast<std::uint32_t>(json_uint(v, 1, 16, origin, key));
    } else if (key == "max_channels") {
      c.max_channels = static_cast<std::uint32_t>(json_uint(v, 1, 64, origin, key));
    } else if (key == "line_limit") {
      c.line_limit = json_uint(v, 1024, std::uint64_t{1} << 30, origin, key);
    } else if (key == "event_backlog") {
      c.event_backlog = json_uint(v, 4096, std::uint64_t{1} << 32, origin, key);
    } else if (key == "auto_connect") {
      if (!v.is_array()) fail(origin, key, "expected a list of port names");
      c.auto_connect.clear();
      for (const auto& p : v)
        c.auto_connect.push_back(json_string(p, origin, key));
    } else if (key == "midi") {
      c.midi = json_bool(v, origin, key);
    } else if (key == "declick_ms") {
      if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0 ||
          v.get<double>() > 1000) {
        fail(origin, key, "expected a number of milliseconds in [0, 1000]");
      }
      c.declick_s = v.get<double>() / 1000.0;
    } else if (key == "state_file") {
      c.state_file = json_string(v, origin, key);
    } else if (key == "save_state") {
      c.save_state = json_bool(v, origin, key);
    } else if (key == "osc_port") {
      c.osc_port = static_cast<std::uint32_t>(json_uint(v, 1, 65535, origin, key));
    } else if (key == "osc_socket") {
      c.osc_socket = json_string(v, origin, key);
    } else if (key == "osc_bind") {
      c.osc_bind = json_string(v, origin, key);
      check_osc_bind(c.osc_bind, origin, key);
    } else if (key == "osc_allow") {
      if (!v.is_array()) fail(origin, key, "expected a list of networks");
      c.osc_allow.clear();
      for (const auto& n : v) {
        c.osc_allow.push_back(json_string(n, origin, key));
        check_network(c.osc_allow.back(), origin, key);
      }
    } else if (key == "osc_subscription_s") {
      if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0.1 ||
          v.get<double>() > 3600) {
        fail(origin, key, "expected a number of seconds in [0.1, 3600]");
      }
      c.osc_subscription_s = v.get<double>();
    } else if (key == "osc_senders") {
      c.osc_senders = static_cast<std::uint32_t>(json_uint(v, 1, 65536, origin, key));
    } else if (key == "log_level") {
      c.log_level = json_string(v, origin, key);
      check_log_level(c.log_level, origin);
    } else {
      fail(origin, key, "unknown key (see clipd.conf(5))");
    }
  }
}

CommandLine parse_command_line(int argc, const char* const* argv) {
  CommandLine cl;
  std::string config_path;
  bool config_given = false;
  // First pass: find --config, so flags can override the file whatever their order.
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
      config_given = true;
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = std::string(a.substr(9));
      config_given = true;
    }
  }
  if (!config_given) {
    config_path = default_config_path();
    if (::access(config_path.c_str(), F_OK) != 0) config_path.clear();
  }
  if (!config_path.empty()) {
    apply_config_json(cl.config, read_file(config_path), config_path);
    cl.config.config_path = config_path;
  }

  const std::string origin = "command line";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_inline = false;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_inline = true;
    }
    auto next = [&]() -> std::string {
      if (has_inline) return value;
      if (i + 1 >= argc) throw ConfigError(origin + ": " + arg + " needs a value");
      return argv[++i];
    };
    auto flag = [&]() {
      if (has_inline) throw ConfigError(origin + ": " + arg + " takes no value");
    };
    if (arg == "--help" || arg == "-h") {
      flag();
      cl.show_help = true;
    } else if (arg == "--version") {
      flag();
      cl.show_version = true;
    } else if (arg == "--config") {
      (void)next();
    } else if (arg == "--instance") {
      cl.config.instance = next();
    } else if (arg == "--socket") {
      cl.config.socket_path = next();
    } else if (arg == "--backend") {
      cl.config.backend = next();
      check_backend(cl.config.backend, origin, arg);
    } else if (arg == "--server") {
      cl.config.jack_server = next();
    } else if (arg == "--client-name") {
      cl.config.client_name = next();
    } else if (arg == "--outputs") {
      cl.config.outputs = static_cast<std::uint32_t>(parse_uint(next(), 1, 64, origin, arg));
    } else if (arg == "--max-voices") {
      cl.config.max_voices = static_cast<std::uint32_t>(parse_uint(next(), 1, 4096, origin, arg));
    } else if (arg == "--memory-budget") {
      cl.config.memory_budget = parse_size(next(), origin, arg);
    } else if (arg == "--max-channels") {
      cl.config.max_channels = static_cast<std::uint32_t>(parse_uint(next(), 1, 64, origin, arg));
    } else if (arg == "--connect") {
      cl.config.auto_connect.push_back(next());
    } else if (arg == "--no-midi") {
      flag();
      cl.config.midi = false;
    } else if (arg == "--osc-port") {
      cl.config.osc_port = static_cast<std::uint32_t>(parse_uint(next(), 1, 65535, origin, arg));
    } else if (arg == "--osc-socket") {
      cl.config.osc_socket = next();
    } else if (arg == "--state-file") {
      cl.config.state_file = next();
    } else if (arg == "--no-state") {
      flag();
      cl.config.save_state = false;
    } else if (arg == "--log-level") {
      cl.config.log_level = next();
      check_log_level(cl.config.log_level, origin);
    } else {
      throw ConfigError(origin + ": unknown option '" + arg + "' (see clipd --help)");
    }
  }
  return cl;
}

void resolve_defaults(Config& c) {
  for (char ch : c.instance) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.') ||
        c.instance == "." || c.instance == "..") {
      throw ConfigError("instance: '" + c.instance +
                        "' is not a valid name (letters, digits, '-', '_', '.')");
    }
  }
  if (c.socket_path.empty()) c.socket_path = default_socket_path(c.instance);
  if (c.client_name.empty()) c.client_name = c.instance.empty() ? "clipd" : "clipd-" + c.instance;
  if (c.osc_port != 0 && c.osc_socket.empty()) c.osc_socket = default_osc_socket_path(c.instance);
  if (c.state_file.empty()) c.state_file = default_state_path(c.instance);
  if (c.memory_budget == 0) {
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page = ::sysconf(_SC_PAGESIZE);
    c.memory_budget = static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page) / 4;
  }
}

const char* usage_text() noexcept {
  return "usage: clipd [OPTIONS]\n"
         "Headless clip player for JACK and PipeWire, driven over a UNIX socket.\n\n"
         "  --config PATH          configuration file (default "
         "$XDG_CONFIG_HOME/clipd/config.json)\n"
         "  --instance NAME        run a named instance (own socket, client name, state)\n"
         "  --socket PATH          control socket (default $XDG_RUNTIME_DIR/clipd/control.sock)\n"
         "  --backend KIND         auto, jack or pipewire (default auto)\n"
         "  --server NAME          JACK server name (default $JACK_DEFAULT_SERVER)\n"
         "  --client-name NAME     JACK client name (default clipd)\n"
         "  --outputs N            number of output ports out_1..out_N (default 2)\n"
         "  --max-voices N         voices playing at once before stealing (default 256)\n"
         "  --memory-budget SIZE   bytes of audio the clips may hold, K/M/G suffixes\n"
         "  --max-channels N       most channels a clip may have (default 8)\n"
         "  --connect PORT         connect out_1, out_2, ... to these ports (repeat)\n"
         "  --no-midi              no midi_in port\n"
         "  --osc-port N           take OSC over UDP on port N (see clipd-osc(7))\n"
         "  --osc-socket PATH      take OSC on this UNIX datagram socket (default, with\n"
         "                         --osc-port: $XDG_RUNTIME_DIR/clipd/osc.sock)\n"
         "  --state-file PATH      where the loaded clips are remembered\n"
         "  --no-state             neither read nor write the state file\n"
         "  --log-level LEVEL      error, warning, notice, info or debug\n"
         "  --version              print the version and exit\n"
         "  --help                 print this help and exit\n";
}

}  // namespace clipd
