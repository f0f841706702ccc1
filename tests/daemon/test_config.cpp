// Configuration: defaults, the JSON file, flags overriding it, and clear errors for bad input.
#include "daemon/config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

namespace clipd {
namespace {

CommandLine parse(std::vector<const char*> args) {
  args.insert(args.begin(), "clipd");
  return parse_command_line(static_cast<int>(args.size()), args.data());
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/clipd-config-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    ::setenv("XDG_CONFIG_HOME", dir_.c_str(), 1);
    ::setenv("XDG_RUNTIME_DIR", (dir_ + "/run").c_str(), 1);
    ::setenv("XDG_STATE_HOME", (dir_ + "/state").c_str(), 1);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

TEST_F(ConfigTest, DefaultsWithoutAFile) {
  auto cl = parse({});
  EXPECT_FALSE(cl.show_help);
  Config c = cl.config;
  resolve_defaults(c);
  EXPECT_EQ(c.outputs, 2u);
  EXPECT_EQ(c.max_voices, 256u);
  EXPECT_EQ(c.max_timed_commands, 1024u);
  EXPECT_EQ(c.max_channels, 8u);
  EXPECT_EQ(c.line_limit, 1u << 20);
  EXPECT_EQ(c.socket_path, dir_ + "/run/clipd/control.sock");
  EXPECT_EQ(c.state_file, dir_ + "/state/clipd/state.json");
  EXPECT_EQ(c.client_name, "clipd");
  EXPECT_GT(c.memory_budget, 0u);
  EXPECT_TRUE(c.midi);
  EXPECT_TRUE(c.auto_connect.empty());
  EXPECT_EQ(c.backend, "auto");
}

TEST_F(ConfigTest, ReadsTheDefaultFileAndFlagsOverrideIt) {
  ::mkdir((dir_ + "/clipd").c_str(), 0700);
  write(
      "clipd/config.json",
      R"({"outputs": 4, "max_voices": 64, "max_timed_commands": 16, "max_midi_events": 32, "memory_budget": "512M", "auto_connect":
            ["system:playback_1", "system:playback_2"], "midi": false, "declick_ms": 10,
            "jack_server": "studio", "log_level": "debug"})");
  auto cl = parse({"--outputs", "6", "--server=live"});
  const Config& c = cl.config;
  EXPECT_EQ(c.outputs, 6u);
  EXPECT_EQ(c.max_voices, 64u);
  EXPECT_EQ(c.max_timed_commands, 16u);
  EXPECT_EQ(c.max_midi_events, 32u);
  EXPECT_EQ(c.memory_budget, 512ull << 20);
  EXPECT_EQ(c.auto_connect, (std::vector<std::string>{"system:playback_1", "system:playback_2"}));
  EXPECT_FALSE(c.midi);
  EXPECT_DOUBLE_EQ(c.declick_s, 0.010);
  EXPECT_EQ(c.jack_server, "live");
  EXPECT_EQ(c.log_level, "debug");
}

TEST_F(ConfigTest, StreamingKeys) {
  ::mkdir((dir_ + "/clipd").c_str(), 0700);
  write("clipd/config.json",
        R"({"stream_threshold": "16M", "stream_head_s": 4.5, "max_streamed_voices": 64,
            "stream_buffer_s": 3, "stream_threads": 3})");
  const Config c = parse({}).config;
  EXPECT_EQ(c.stream_threshold, 16ull << 20);
  EXPECT_DOUBLE_EQ(c.stream_head_s, 4.5);
  EXPECT_EQ(c.max_streamed_voices, 64u);
  EXPECT_DOUBLE_EQ(c.stream_buffer_s, 3.0);
  EXPECT_EQ(c.stream_threads, 3u);
  const Config d = Config{};
  EXPECT_EQ(d.stream_threshold, 64ull << 20);
  EXPECT_DOUBLE_EQ(d.stream_head_s, 2.0);
  EXPECT_EQ(d.max_streamed_voices, 32u);
}

TEST_F(ConfigTest, OscIsOffUntilAPortOrSocketIsGiven) {
  Config off = parse({}).config;
  resolve_defaults(off);
  EXPECT_FALSE(off.osc_enabled());
  EXPECT_TRUE(off.osc_socket.empty());
  EXPECT_EQ(off.osc_bind, "127.0.0.1");
  EXPECT_EQ(off.osc_allow, (std::vector<std::string>{"127.0.0.0/8", "::1"}));
  EXPECT_DOUBLE_EQ(off.osc_subscription_s, 30.0);
  EXPECT_EQ(off.osc_senders, 1024u);

  // A port alone: UDP and the UNIX socket at the instance's default path.
  Config port = parse({"--osc-port", "9000", "--instance", "deck2"}).config;
  resolve_defaults(port);
  EXPECT_TRUE(port.osc_enabled());
  EXPECT_EQ(port.osc_port, 9000u);
  EXPECT_EQ(port.osc_socket, dir_ + "/run/clipd/deck2-osc.sock");
  Config plain = parse({"--osc-port=9001"}).config;
  resolve_defaults(plain);
  EXPECT_EQ(plain.osc_socket, dir_ + "/run/clipd/osc.sock");

  // A socket alone: no UDP.
  Config sock = parse({"--osc-socket", "/tmp/x.sock"}).config;
  resolve_defaults(sock);
  EXPECT_TRUE(sock.osc_enabled());
  EXPECT_EQ(sock.osc_port, 0u);
  EXPECT_EQ(sock.osc_socket, "/tmp/x.sock");

  const std::string path = write("osc.json", R"({"osc_port": 9100, "osc_bind": "0.0.0.0",
      "osc_allow": ["192.168.1.0/24", "fd00::/8"], "osc_subscription_s": 5, "osc_senders": 16})");
  const Config file = parse({"--config", path.c_str(), "--osc-port", "9200"}).config;
  EXPECT_EQ(file.osc_port, 9200u);
  EXPECT_EQ(file.osc_bind, "0.0.0.0");
  EXPECT_EQ(file.osc_allow, (std::vector<std::string>{"192.168.1.0/24", "fd00::/8"}));
  EXPECT_DOUBLE_EQ(file.osc_subscription_s, 5.0);
  EXPECT_EQ(file.osc_senders, 16u);
  EXPECT_THROW(parse({"--osc-port", "0"}), ConfigError);
}

TEST_F(ConfigTest, InstanceNamesSocketClientAndState) {
  Config c = parse({"--instance", "deck2"}).config;
  resolve_defaults(c);
  EXPECT_EQ(c.socket_path, dir_ + "/run/clipd/deck2.sock");
  EXPECT_EQ(c.client_name, "clipd-deck2");
  EXPECT_EQ(c.state_file, dir_ + "/state/clipd/deck2.json");
  Config bad = parse({"--instance", "../x"}).config;
  EXPECT_THROW(resolve_defaults(bad), ConfigError);
}

TEST_F(ConfigTest, BadInputIsAClearErrorNamingTheKey) {
  struct Case {
    std::string json;
    std::string mentions;
  } cases[] = {
      {R"({"outptus": 2})", "outptus"},
      {R"({"outputs": "2"})", "outputs"},
      {R"({"outputs": 0})", "outputs"},
      {R"({"outputs": 2.5})", "outputs"},
      {R"({"max_voices": 100000})", "max_voices"},
      {R"({"max_timed_commands": 0})", "max_timed_commands"},
      {R"({"max_midi_events": 0})", "max_midi_events"},
      {R"({"max_midi_events": 1025})", "max_midi_events"},
      {R"({"memory_budget": "lots"})", "memory_budget"},
      {R"({"stream_threshold": "lots"})", "stream_threshold"},
      {R"({"stream_head_s": 0})", "stream_head_s"},
      {R"({"stream_buffer_s": 100})", "stream_buffer_s"},
      {R"({"max_streamed_voices": 0})", "max_streamed_voices"},
      {R"({"stream_threads": 17})", "stream_threads"},
      {R"({"auto_connect": "system:playback_1"})", "auto_connect"},
      {R"({"midi": 1})", "midi"},
      {R"({"declick_ms": -1})", "declick_ms"},
      {R"({"log_level": "loud"})", "log_level"},
      {R"({"backend": "alsa"})", "backend"},
      {R"({"backend": 1})", "backend"},
      {R"({"osc_port": 0})", "osc_port"},
      {R"({"osc_port": 70000})", "osc_port"},
      {R"({"osc_bind": "localhost"})", "osc_bind"},
      {R"({"osc_allow": "10.0.0.0/8"})", "osc_allow"},
      {R"({"osc_allow": ["10.0.0.0/33"]})", "osc_allow"},
      {R"({"osc_subscription_s": 0})", "osc_subscription_s"},
      {R"({"osc_senders": 0})", "osc_senders"},
      {R"({"osc_senders": 1.5})", "osc_senders"},
      {R"([1, 2])", "object"},
      {R"({"outputs": )", "JSON"},
  };
  for (const auto& tc : cases) {
    const std::string path = write("c.json", tc.json);
    try {
      parse({"--config", path.c_str()});
      ADD_FAILURE() << "accepted " << tc.json;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(tc.mentions), std::string::npos)
          << e.what() << " should mention " << tc.mentions;
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
}

TEST_F(ConfigTest, BadFlags) {
  EXPECT_THROW(parse({"--frobnicate"}), ConfigError);
  EXPECT_THROW(parse({"--outputs"}), ConfigError);
  EXPECT_THROW(parse({"--outputs", "x"}), ConfigError);
  EXPECT_THROW(parse({"--outputs", "-1"}), ConfigError);
  EXPECT_THROW(parse({"--no-midi=yes"}), ConfigError);
  EXPECT_THROW(parse({"--config", "/nonexistent/clipd.json"}), ConfigError);
  EXPECT_TRUE(parse({"--help"}).show_help);
  EXPECT_TRUE(parse({"--version"}).show_version);
  EXPECT_EQ(parse({"--memory-budget", "2G"}).config.memory_budget, 2ull << 30);
  EXPECT_EQ(parse({"--connect", "a:b", "--connect", "c:d"}).config.auto_connect.size(), 2u);
  EXPECT_THROW(parse({"--backend", "Jack"}), ConfigError);
  EXPECT_THROW(parse({"--backend"}), ConfigError);
}

TEST_F(ConfigTest, BackendFromTheFileAndTheFlag) {
  ::mkdir((dir_ + "/clipd").c_str(), 0700);
  write("clipd/config.json", R"({"backend": "pipewire"})");
  EXPECT_EQ(parse({}).config.backend, "pipewire");
  EXPECT_EQ(parse({"--backend", "jack"}).config.backend, "jack");
  EXPECT_EQ(parse({"--backend=auto"}).config.backend, "auto");
}

}  // namespace
}  // namespace clipd
