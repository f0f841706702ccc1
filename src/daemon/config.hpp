// The daemon's configuration: built-in defaults, then the JSON config file, then command-line
// flags. Every key is documented in clipd.conf(5); an unknown key or a value of the wrong type
// is a start-up error that names it.
//
// Thread contract: built once on the main thread before anything starts; read-only afterwards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace clipd {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Config {
  // Named instance: socket $XDG_RUNTIME_DIR/clipd/NAME.sock, JACK client clipd-NAME, state file
  // $XDG_STATE_HOME/clipd/NAME.json. Empty for the default instance.
  std::string instance;
  // Control socket; empty means the default for the instance.
  std::string socket_path;
  // The audio server: "auto" (JACK when a JACK server answers, else native PipeWire), "jack" or
  // "pipewire" (backend/select.hpp).
  std::string backend = "auto";
  // JACK server name; empty means $JACK_DEFAULT_SERVER or the default server.
  std::string jack_server;
  // JACK client name; empty means "clipd" or "clipd-INSTANCE".
  std::string client_name;
  std::uint32_t outputs = 2;
  std::uint32_t max_voices = 256;
  // Timed stop and set commands that may wait in the engine at once; more get `limit`.
  std::uint32_t max_timed_commands = 1024;
  // MIDI events that act (bound note-ons, note-offs of gate voices) per period; more are counted
  // as midi_dropped.
  std::uint32_t max_midi_events = 256;
  // Bytes of decoded audio the clips may hold; 0 means a quarter of physical memory.
  std::uint64_t memory_budget = 0;
  std::uint32_t max_channels = 8;
  // Streaming from disk (clipd.conf(5)): load's stream "auto" streams a clip whose decoded size
  // passes stream_threshold bytes; a streamed clip keeps stream_head_s seconds in memory; at
  // most max_streamed_voices streamed voices play at once, each reading a ring of
  // stream_buffer_s seconds filled by stream_threads disk threads.
  std::uint64_t stream_threshold = std::uint64_t{64} << 20;
  double stream_head_s = 2.0;
  std::uint32_t max_streamed_voices = 32;
  double stream_buffer_s = 2.0;
  std::uint32_t stream_threads = 2;
  std::size_t line_limit = std::size_t{1} << 20;
  // Bytes of unsent events after which a subscriber that does not read is disconnected.
  std::size_t event_backlog = std::size_t{8} << 20;
  // Ports to connect out_1, out_2, … to, in order; empty: no auto-connect.
  std::vector<std::string> auto_connect;
  bool midi = true;
  double declick_s = 0.005;
  // OSC (clipd-osc(7)), off unless osc_port or osc_socket is set: UDP on osc_port (0: none),
  // bound to osc_bind, taking datagrams only from the osc_allow networks; the UNIX datagram
  // socket osc_socket (the instance's default path when only the port is set). A sender's
  // subscription lapses osc_subscription_s seconds after its last /clipd/subscribe. At most
  // osc_senders senders are remembered at once (see OscConfig::max_senders).
  std::uint32_t osc_port = 0;
  std::string osc_socket;
  std::string osc_bind = "127.0.0.1";
  std::vector<std::string> osc_allow = {"127.0.0.0/8", "::1"};
  double osc_subscription_s = 30;
  std::uint32_t osc_senders = 1024;
  bool osc_enabled() const noexcept { return osc_port != 0 || !osc_socket.empty(); }
  // State file; empty means the default for the instance.
  std::string state_file;
  bool save_state = true;
  std::string log_level = "info";
  // Where the configuration came from, for messages (empty: defaults only).
  std::string config_path;
};

// What the command line asked for besides the configuration.
struct CommandLine {
  Config config;
  bool show_help = false;
  bool show_version = false;
};

// Parses argv (flags override the file named by --config, or the default file when it exists).
// Throws ConfigError with a message meant for the user.
CommandLine parse_command_line(int argc, const char* const* argv);

// Applies a JSON document to `config`. Throws ConfigError naming the key that is wrong.
void apply_config_json(Config& config, const std::string& text, const std::string& origin);

// Fills the defaults that depend on the environment (paths, names, budget).
void resolve_defaults(Config& config);

// $XDG_CONFIG_HOME/clipd/config.json (or ~/.config/clipd/config.json).
std::string default_config_path();

const char* usage_text() noexcept;

}  // namespace clipd
