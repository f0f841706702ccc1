#include "clipctl/command_line.hpp"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <map>
#include <string_view>

#ifndef CLIPD_VERSION
#error "the build defines CLIPD_VERSION"
#endif

namespace clipd::clipctl {

namespace {

using namespace protocol;

enum class ArgKind { none, value, optional_integer };

struct OptionSpec {
  std::string_view name;  // without the leading "--"
  ArgKind arg = ArgKind::none;
};

// A subcommand's words after its name, split into positionals and options.
struct Words {
  std::vector<std::string> positional;
  std::map<std::string, std::optional<std::string>, std::less<>> options;

  bool has(std::string_view name) const { return options.find(name) != options.end(); }
  const std::optional<std::string>* get(std::string_view name) const {
    auto it = options.find(name);
    return it == options.end() ? nullptr : &it->second;
  }
};

using Built = std::variant<Action, UsageError>;

struct CommandSpec {
  std::string_view name;
  std::string_view help;  // the usage line first
  std::vector<OptionSpec> options;
  std::size_t min_positional = 0;
  std::size_t max_positional = 0;
  Built (*build)(const Words&, const Environment&);
};

constexpr std::string_view main_help =
    R"(usage: clipctl [--socket PATH | --instance NAME] [--json] COMMAND [ARGS]

Drives clipd, the JACK clip player, over its control socket.

Options:
  --socket PATH    the control socket (default: $CLIPD_SOCKET, else
                   $XDG_RUNTIME_DIR/clipd/control.sock)
  --instance NAME  the socket of a named instance: $XDG_RUNTIME_DIR/clipd/NAME.sock
  --json           print the daemon's reply as JSON instead of text
  -h, --help       show this help; `clipctl COMMAND --help` shows a command's
  --version        show clipctl's version

Commands:
  hello                      the daemon's version and the JACK server's rate
  ping                       check that the daemon answers
  load NAME PATH [--replace] decode an audio file into memory as clip NAME
  unload NAME                free a clip (its voices end)
  list                       the loaded clips, as a table
  info NAME                  one clip's details
  play CLIP [OPTIONS]        start a voice of a clip (prints its voice id)
  stop (VOICE | --clip C | --group G | --all) [--fade S] [--at FRAME | --in S]
  pause VOICE [--fade S]     pause a voice
  resume VOICE [--fade S]    resume a paused voice
  set VOICE [--gain DB] [--pan P] [--ramp S] [--at FRAME | --in S]
  master DB [--ramp S]       set the master gain
  voices                     the voices, as a table
  meters                     peak and RMS levels per output over the last 100 ms
  status                     engine, memory and voice figures
  watch [EVENT...]           print events until interrupted
  raw JSON                   send one request line as is, print the reply line
  bind NOTE CLIP [OPTIONS]   play a clip on a MIDI note
  unbind NOTE [--channel N]  remove a MIDI binding
  bindings                   the MIDI bindings, as a table

Exit status: 0 success, 1 the daemon answered with an error, 2 usage error,
3 the daemon is not running.
)";

// ---- Value conversions ---------------------------------------------------------------------

std::optional<double> to_number(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<std::int64_t> to_integer(std::string_view text) {
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

bool looks_numeric(std::string_view text) {
  return to_number(text).has_value();
}

// Reads typed values out of Words, remembering the first error.
class Values {
 public:
  explicit Values(const Words& words) : words_(words) {}

  std::optional<UsageError> error;

  std::optional<double> number_option(std::string_view name) {
    const auto* value = words_.get(name);
    if (value == nullptr || !value->has_value()) return std::nullopt;
    auto number = to_number(**value);
    if (!number) fail("--" + std::string(name) + " needs a number, not '" + **value + "'");
    return number;
  }
  std::optional<std::int64_t> integer_option(std::string_view name) {
    const auto* value = words_.get(name);
    if (value == nullptr || !value->has_value()) return std::nullopt;
    auto integer = to_integer(**value);
    if (!integer) fail("--" + std::string(name) + " needs an integer, not '" + **value + "'");
    return integer;
  }
  std::optional<std::string> string_option(std::string_view name) {
    const auto* value = words_.get(name);
    if (value == nullptr || !value->has_value()) return std::nullopt;
    return **value;
  }
  std::int64_t integer_positional(std::size_t index, std::string_view what) {
    const std::string& text = words_.positional.at(index);
    auto integer = to_integer(text);
    if (!integer) fail(std::string(what) + " must be an integer, not '" + text + "'");
    return integer.value_or(0);
  }
  double number_positional(std::size_t index, std::string_view what) {
    const std::string& text = words_.positional.at(index);
    auto number = to_number(text);
    if (!number) fail(std::string(what) + " must be a number, not '" + text + "'");
    return number.value_or(0);
  }
  When when() {
    if (words_.has("at") && words_.has("in")) {
      fail("--at and --in are exclusive");
      return Now{};
    }
    if (auto at = integer_option("at")) return AtFrame{*at};
    if (auto in = number_option("in")) return InSeconds{*in};
    return Now{};
  }
  void fail(std::string message) {
    if (!error) error = UsageError{std::move(message)};
  }

 private:
  const Words& words_;
};

Built finish(Values& values, Request request, bool wait = false) {
  if (values.error) return *values.error;
  return Action{SendRequest{std::move(request), wait}};
}

// ---- Subcommands -----------------------------------------------------------------------------

template <typename R>
Built build_plain(const Words&, const Environment&) {
  return Action{SendRequest{R{}, false}};
}

Built build_load(const Words& w, const Environment& env) {
  std::filesystem::path path(w.positional[1]);
  if (path.is_relative()) path = std::filesystem::path(env.cwd) / path;
  LoadRequest q{w.positional[0], path.lexically_normal().string(), w.has("replace")};
  if (w.has("stream")) q.stream = LoadRequest::Stream::always;
  if (w.has("no-stream")) q.stream = LoadRequest::Stream::never;
  return Action{SendRequest{std::move(q), false}};
}

Built build_unload(const Words& w, const Environment&) {
  return Action{SendRequest{UnloadRequest{w.positional[0]}, false}};
}

Built build_info(const Words& w, const Environment&) {
  return Action{SendRequest{InfoRequest{w.positional[0]}, false}};
}

Built build_play(const Words& w, const Environment&) {
  Values v(w);
  PlayRequest q;
  q.clip = w.positional[0];
  q.gain_db = v.number_option("gain").value_or(0);
  q.pan = v.number_option("pan").value_or(0);
  q.offset_s = v.number_option("offset").value_or(0);
  q.fade_in_s = v.number_option("fade-in").value_or(0);
  q.length_s = v.number_option("length");
  q.loop_start_s = v.number_option("loop-start").value_or(0);
  q.loop_end_s = v.number_option("loop-end");
  q.when = v.when();
  q.group = v.string_option("group");
  if (const auto* loop = w.get("loop")) {
    q.loop = Loop{Loop::Mode::forever, 0};
    if (loop->has_value()) {
      auto passes = to_integer(**loop);
      if (!passes) v.fail("--loop takes a count of passes, not '" + **loop + "'");
      q.loop = Loop{Loop::Mode::passes, passes.value_or(1)};
    }
  }
  if (auto outputs = v.string_option("outputs")) {
    std::vector<std::int64_t> list;
    std::string_view rest = *outputs;
    while (true) {
      const auto comma = rest.find(',');
      const auto item = rest.substr(0, comma);
      auto output = to_integer(item);
      if (!output) {
        v.fail("--outputs takes output numbers separated by commas, like 1,2");
        break;
      }
      list.push_back(*output);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    q.outputs = std::move(list);
  }
  return finish(v, std::move(q), w.has("wait"));
}

Built build_stop(const Words& w, const Environment&) {
  Values v(w);
  StopRequest q;
  const int targets = static_cast<int>(!w.positional.empty()) + static_cast<int>(w.has("clip")) +
                      static_cast<int>(w.has("group")) + static_cast<int>(w.has("all"));
  if (targets != 1) {
    return UsageError{"stop needs exactly one of VOICE, --clip C, --group G or --all"};
  }
  if (!w.positional.empty()) {
    q.target = StopVoice{v.integer_positional(0, "VOICE")};
  } else if (auto clip = v.string_option("clip")) {
    q.target = StopClip{*clip};
  } else if (auto group = v.string_option("group")) {
    q.target = StopGroup{*group};
  } else {
    q.target = StopAll{};
  }
  q.fade_s = v.number_option("fade");
  q.when = v.when();
  return finish(v, std::move(q));
}

template <typename R>
Built build_pause_resume(const Words& w, const Environment&) {
  Values v(w);
  R q;
  q.voice = v.integer_positional(0, "VOICE");
  q.fade_s = v.number_option("fade");
  return finish(v, std::move(q));
}

Built build_set(const Words& w, const Environment&) {
  Values v(w);
  SetRequest q;
  q.voice = v.integer_positional(0, "VOICE");
  q.gain_db = v.number_option("gain");
  q.pan = v.number_option("pan");
  if (!w.has("gain") && !w.has("pan")) v.fail("set needs --gain DB or --pan P");
  q.ramp_s = v.number_option("ramp");
  q.when = v.when();
  return finish(v, std::move(q));
}

Built build_master(const Words& w, const Environment&) {
  Values v(w);
  MasterRequest q;
  q.gain_db = v.number_positional(0, "DB");
  q.ramp_s = v.number_option("ramp");
  return finish(v, std::move(q));
}

Built build_watch(const Words& w, const Environment&) {
  Watch watch;
  if (!w.positional.empty()) {
    watch.events = EventSet{};
    for (const std::string& name : w.positional) {
      auto kind = event_kind_from_string(name);
      if (!kind) return UsageError{"unknown event '" + name + "'"};
      watch.events.insert(*kind);
    }
  }
  return Action{watch};
}

Built build_raw(const Words& w, const Environment&) {
  const std::string& line = w.positional[0];
  if (line.find('\n') != std::string::npos) return UsageError{"raw takes a single line"};
  if (line.find_first_not_of(" \t\r") == std::string::npos) {
    return UsageError{"raw needs a JSON request"};
  }
  return Action{Raw{line}};
}

Built build_bind(const Words& w, const Environment&) {
  Values v(w);
  BindRequest q;
  q.note = v.integer_positional(0, "NOTE");
  q.clip = w.positional[1];
  q.channel = v.integer_option("channel");
  if (auto mode = v.string_option("mode")) {
    if (*mode == "oneshot") {
      q.mode = BindMode::oneshot;
    } else if (*mode == "gate") {
      q.mode = BindMode::gate;
    } else if (*mode == "toggle") {
      q.mode = BindMode::toggle;
    } else {
      v.fail("--mode is oneshot, gate or toggle");
    }
  }
  q.velocity = w.has("velocity");
  q.gain_db = v.number_option("gain").value_or(0);
  q.group = v.string_option("group");
  return finish(v, std::move(q));
}

Built build_unbind(const Words& w, const Environment&) {
  Values v(w);
  UnbindRequest q;
  q.note = v.integer_positional(0, "NOTE");
  q.channel = v.integer_option("channel");
  return finish(v, std::move(q));
}

constexpr ArgKind val = ArgKind::value;

const std::vector<CommandSpec>& commands() {
  static const std::vector<CommandSpec> specs = {
      {"hello",
       "usage: clipctl hello\n\nShows the daemon's version, its JACK client and the "
       "server's sample rate,\nbuffer size and frame time.\n",
       {},
       0,
       0,
       build_plain<HelloRequest>},
      {"ping",
       "usage: clipctl ping\n\nChecks that the daemon answers.\n",
       {},
       0,
       0,
       build_plain<PingRequest>},
      {"load",
       "usage: clipctl load NAME PATH [--replace] [--stream | --no-stream]\n\nDecodes the audio "
       "file PATH (made absolute) into memory as clip NAME.\n  --replace    replace a clip of "
       "that name (its voices end)\n  --stream     stream it from disk, only its head in "
       "memory\n  --no-stream  hold it whole in memory (default: stream when large)\n",
       {{"replace"}, {"stream"}, {"no-stream"}},
       2,
       2,
       build_load},
      {"unload",
       "usage: clipctl unload NAME\n\nFrees clip NAME; its voices end.\n",
       {},
       1,
       1,
       build_unload},
      {"list",
       "usage: clipctl list\n\nLists the loaded clips as a table.\n",
       {},
       0,
       0,
       build_plain<ListRequest>},
      {"info", "usage: clipctl info NAME\n\nShows one clip's details.\n", {}, 1, 1, build_info},
      {"play",
       "usage: clipctl play CLIP [--gain DB] [--pan P] [--offset S] [--fade-in S]\n"
       "                   [--at FRAME | --in S] [--group G] [--length S] [--loop [N]]\n"
       "                   [--loop-start S] [--loop-end S] [--outputs 1,2] [--wait]\n\n"
       "Starts a voice of CLIP and prints its voice id.\n"
       "  --gain DB        gain in dB, -120 to 24 (default 0)\n"
       "  --pan P          balance, -1 (left) to 1 (right) (default 0)\n"
       "  --offset S       start this many seconds into the clip\n"
       "  --fade-in S      fade in over S seconds\n"
       "  --at FRAME       start at this JACK frame\n"
       "  --in S           start S seconds after the next cycle\n"
       "  --group G        choke group: a new voice of G fades out the others\n"
       "  --length S       play at most S seconds in all\n"
       "  --loop [N]       loop forever, or play N passes in all\n"
       "  --loop-start S   where the loop starts (default 0)\n"
       "  --loop-end S     where the loop ends (default: the clip's end)\n"
       "  --outputs LIST   the outputs to feed, 1-based, like 1,2 (default all)\n"
       "  --wait           return when the voice has ended\n",
       {{"gain", val},
        {"pan", val},
        {"offset", val},
        {"fade-in", val},
        {"at", val},
        {"in", val},
        {"group", val},
        {"length", val},
        {"loop", ArgKind::optional_integer},
        {"loop-start", val},
        {"loop-end", val},
        {"outputs", val},
        {"wait"}},
       1,
       1,
       build_play},
      {"stop",
       "usage: clipctl stop (VOICE | --clip C | --group G | --all) [--fade S]\n"
       "                   [--at FRAME | --in S]\n\n"
       "Stops a voice, every voice of a clip or a group, or all voices; prints how\n"
       "many were told to stop.\n"
       "  --fade S     fade out over S seconds (default: the declick time)\n"
       "  --at FRAME   stop at this JACK frame\n"
       "  --in S       stop S seconds after the next cycle\n",
       {{"clip", val}, {"group", val}, {"all"}, {"fade", val}, {"at", val}, {"in", val}},
       0,
       1,
       build_stop},
      {"pause",
       "usage: clipctl pause VOICE [--fade S]\n\nFades a voice out and holds its position.\n"
       "  --fade S   fade over S seconds (default: the declick time)\n",
       {{"fade", val}},
       1,
       1,
       build_pause_resume<PauseRequest>},
      {"resume",
       "usage: clipctl resume VOICE [--fade S]\n\nResumes a paused voice from where it was.\n"
       "  --fade S   fade in over S seconds (default: the declick time)\n",
       {{"fade", val}},
       1,
       1,
       build_pause_resume<ResumeRequest>},
      {"set",
       "usage: clipctl set VOICE [--gain DB] [--pan P] [--ramp S] [--at FRAME | --in S]\n\n"
       "Changes a playing voice's gain or pan.\n"
       "  --gain DB    gain in dB, -120 to 24\n"
       "  --pan P      balance, -1 to 1\n"
       "  --ramp S     ramp over S seconds (default: the declick time)\n"
       "  --at FRAME   act at this JACK frame\n"
       "  --in S       act S seconds after the next cycle\n",
       {{"gain", val}, {"pan", val}, {"ramp", val}, {"at", val}, {"in", val}},
       1,
       1,
       build_set},
      {"master",
       "usage: clipctl master DB [--ramp S]\n\nSets the master gain in dB (-120 to 24).\n"
       "  --ramp S   ramp over S seconds (default: the declick time)\n",
       {{"ramp", val}},
       1,
       1,
       build_master},
      {"voices",
       "usage: clipctl voices\n\nLists the voices as a table.\n",
       {},
       0,
       0,
       build_plain<VoicesRequest>},
      {"meters",
       "usage: clipctl meters\n\nShows each output's peak and RMS level over the last 100 ms.\n",
       {},
       0,
       0,
       build_plain<MetersRequest>},
      {"status",
       "usage: clipctl status\n\nShows the engine's state, memory and voice figures.\n",
       {},
       0,
       0,
       build_plain<StatusRequest>},
      {"watch",
       "usage: clipctl watch [EVENT...]\n\nPrints events as they happen, until interrupted. "
       "EVENT limits them to the\nnamed kinds: clip-loaded, clip-unloaded, clip-failed, "
       "voice-started,\nvoice-ended, xrun, engine-offline, engine-online, underrun.\n",
       {},
       0,
       event_kind_count,
       build_watch},
      {"raw",
       "usage: clipctl raw JSON\n\nSends JSON as one request line and prints the reply line as "
       "received.\n",
       {},
       1,
       1,
       build_raw},
      {"bind",
       "usage: clipctl bind NOTE CLIP [--channel N] [--mode oneshot|gate|toggle]\n"
       "                   [--velocity] [--gain DB] [--group G]\n\n"
       "Plays CLIP when MIDI note NOTE (0-127) arrives on midi_in.\n"
       "  --channel N   only on MIDI channel N (1-16; default any)\n"
       "  --mode M      oneshot (default), gate (note-off stops), toggle (a second\n"
       "                note-on stops)\n"
       "  --velocity    gain follows the note's velocity\n"
       "  --gain DB     gain in dB, -120 to 24\n"
       "  --group G     choke group\n",
       {{"channel", val}, {"mode", val}, {"velocity"}, {"gain", val}, {"group", val}},
       2,
       2,
       build_bind},
      {"unbind",
       "usage: clipctl unbind NOTE [--channel N]\n\nRemoves the binding of NOTE (on channel N, "
       "or the any-channel one).\n",
       {{"channel", val}},
       1,
       1,
       build_unbind},
      {"bindings",
       "usage: clipctl bindings\n\nLists the MIDI bindings as a table.\n",
       {},
       0,
       0,
       build_plain<BindingsRequest>},
  };
  return specs;
}

// Options every subcommand takes too, so `clipctl list --json` works.
struct GlobalOptions {
  std::optional<std::string> socket;
  std::optional<std::string> instance;
  bool json = false;
};

// Consumes a global option at args[i] if it is one; returns false if it is not.
std::optional<UsageError> take_global(const std::vector<std::string>& args, std::size_t& i,
                                      GlobalOptions& global, bool& taken) {
  taken = true;
  std::string_view arg = args[i];
  std::string inline_value;
  bool has_inline = false;
  if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
    inline_value = std::string(arg.substr(eq + 1));
    has_inline = true;
    arg = arg.substr(0, eq);
  }
  auto value = [&](std::optional<std::string>& slot) -> std::optional<UsageError> {
    if (has_inline) {
      slot = inline_value;
    } else if (i + 1 < args.size()) {
      slot = args[++i];
    } else {
      return UsageError{std::string(arg) + " needs a value"};
    }
    return std::nullopt;
  };
  if (arg == "--json" && !has_inline) {
    global.json = true;
    return std::nullopt;
  }
  if (arg == "--socket") return value(global.socket);
  if (arg == "--instance") return value(global.instance);
  taken = false;
  return std::nullopt;
}

std::string unknown_command_message(std::string_view name) {
  return "unknown command '" + std::string(name) + "' (see clipctl --help)";
}

}  // namespace

std::string default_socket_path(const Environment& env,
                                const std::optional<std::string>& instance) {
  if (!instance && env.clipd_socket && !env.clipd_socket->empty()) return *env.clipd_socket;
  const std::string runtime = env.xdg_runtime_dir && !env.xdg_runtime_dir->empty()
                                  ? *env.xdg_runtime_dir
                                  : "/run/user/" + std::to_string(env.uid);
  return runtime + "/clipd/" + (instance ? *instance : std::string("control")) + ".sock";
}

CommandLine parse_command_line(const std::vector<std::string>& args, const Environment& env) {
  GlobalOptions global;
  std::size_t i = 0;
  // Global options before the command.
  for (; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") return Help{std::string(main_help)};
    if (args[i] == "--version") return Help{"clipctl " CLIPD_VERSION "\n"};
    bool taken = false;
    if (auto error = take_global(args, i, global, taken)) return *error;
    if (taken) continue;
    if (args[i].starts_with("-")) return UsageError{"unknown option " + args[i]};
    break;
  }
  if (i == args.size()) return UsageError{"no command given (see clipctl --help)"};

  std::string name = args[i++];
  if (name == "help") {
    if (i == args.size()) return Help{std::string(main_help)};
    for (const CommandSpec& spec : commands()) {
      if (spec.name == args[i]) return Help{std::string(spec.help)};
    }
    return UsageError{unknown_command_message(args[i])};
  }
  const CommandSpec* spec = nullptr;
  for (const CommandSpec& candidate : commands()) {
    if (candidate.name == name) spec = &candidate;
  }
  if (spec == nullptr) return UsageError{unknown_command_message(name)};
  const std::string usage_hint = " (see clipctl " + name + " --help)";

  Words words;
  bool options_done = false;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!options_done && (arg == "--help" || arg == "-h")) return Help{std::string(spec->help)};
    if (!options_done && arg == "--") {
      options_done = true;
      continue;
    }
    // Anything not starting with '-', and negative numbers, are positional.
    if (options_done || !arg.starts_with("-") || arg == "-" || looks_numeric(arg)) {
      words.positional.push_back(arg);
      continue;
    }
    bool taken = false;
    if (auto error = take_global(args, i, global, taken)) return *error;
    if (taken) continue;
    std::string_view option = arg;
    std::optional<std::string> inline_value;
    if (const auto eq = option.find('='); eq != std::string_view::npos) {
      inline_value = std::string(option.substr(eq + 1));
      option = option.substr(0, eq);
    }
    if (!option.starts_with("--")) return UsageError{"unknown option " + arg + usage_hint};
    option.remove_prefix(2);
    const OptionSpec* option_spec = nullptr;
    for (const OptionSpec& candidate : spec->options) {
      if (candidate.name == option) option_spec = &candidate;
    }
    if (option_spec == nullptr) {
      return UsageError{"unknown option --" + std::string(option) + " for " + name + usage_hint};
    }
    if (words.has(option)) return UsageError{"--" + std::string(option) + " given twice"};
    std::optional<std::string> value;
    switch (option_spec->arg) {
      case ArgKind::none:
        if (inline_value) return UsageError{"--" + std::string(option) + " takes no value"};
        break;
      case ArgKind::value:
        if (inline_value) {
          value = std::move(inline_value);
        } else if (i + 1 < args.size()) {
          value = args[++i];
        } else {
          return UsageError{"--" + std::string(option) + " needs a value" + usage_hint};
        }
        break;
      case ArgKind::optional_integer:
        if (inline_value) {
          value = std::move(inline_value);
        } else if (i + 1 < args.size() && to_integer(args[i + 1])) {
          value = args[++i];
        }
        break;
    }
    words.options.emplace(std::string(option), std::move(value));
  }
  if (words.positional.size() < spec->min_positional) {
    return UsageError{"missing arguments" + usage_hint};
  }
  if (words.positional.size() > spec->max_positional) {
    return UsageError{"unexpected argument '" + words.positional[spec->max_positional] + "'" +
                      usage_hint};
  }

  Built built = spec->build(words, env);
  if (auto* error = std::get_if<UsageError>(&built)) return *error;
  Action action = std::get<Action>(std::move(built));
  // Check the request as the daemon will (types and ranges) so a mistyped value is a usage
  // error here rather than a round trip. The output count is the daemon's to check.
  if (auto* send = std::get_if<SendRequest>(&action)) {
    const std::string line = serialize_request(ParsedRequest{{}, send->request});
    const ParseResult check =
        parse_request(std::string_view(line).substr(0, line.size() - 1),
                      ParseLimits{.max_outputs = std::numeric_limits<std::int64_t>::max()});
    if (const auto* error = std::get_if<ParseError>(&check)) {
      return UsageError{"invalid value: " + error->message + usage_hint};
    }
  }
  Invocation invocation;
  invocation.socket_path =
      global.socket ? *global.socket : default_socket_path(env, global.instance);
  invocation.json = global.json;
  invocation.action = std::move(action);
  return invocation;
}

}  // namespace clipd::clipctl
