// clipctl's command line: the request each command line produces, usage errors, help, the socket
// path, and the human-readable output of results.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "clipctl/command_line.hpp"
#include "clipctl/output.hpp"

namespace clipd::clipctl {
namespace {

using namespace protocol;

Environment test_env() {
  Environment env;
  env.xdg_runtime_dir = "/run/user/1000";
  env.cwd = "/home/u/work";
  env.uid = 1000;
  return env;
}

Invocation invoke(const std::vector<std::string>& args, const Environment& env = test_env()) {
  CommandLine line = parse_command_line(args, env);
  if (auto* usage = std::get_if<UsageError>(&line)) {
    ADD_FAILURE() << "usage error: " << usage->message;
    return {};
  }
  if (std::holds_alternative<Help>(line)) {
    ADD_FAILURE() << "help";
    return {};
  }
  return std::get<Invocation>(line);
}

// The request line a command line sends (id 1), as the daemon would read it.
std::string request_line(const std::vector<std::string>& args) {
  const Invocation invocation = invoke(args);
  const auto* send = std::get_if<SendRequest>(&invocation.action);
  if (send == nullptr) {
    ADD_FAILURE() << "not a request";
    return {};
  }
  return serialize_request({std::int64_t{1}, send->request});
}

TEST(ClipctlCommandLine, EachCommandSendsItsRequest) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"hello"}, R"({"id":1,"cmd":"hello"})"},
      {{"ping"}, R"({"id":1,"cmd":"ping"})"},
      {{"load", "kick", "/s/kick.wav"},
       R"({"id":1,"cmd":"load","name":"kick","path":"/s/kick.wav"})"},
      {{"load", "kick", "s/../k.wav", "--replace"},
       R"({"id":1,"cmd":"load","name":"kick","path":"/home/u/work/k.wav","replace":true})"},
      {{"load", "kick", "./k.wav"},
       R"({"id":1,"cmd":"load","name":"kick","path":"/home/u/work/k.wav"})"},
      {{"load", "song", "/s/song.flac", "--stream"},
       R"({"id":1,"cmd":"load","name":"song","path":"/s/song.flac","stream":true})"},
      {{"load", "song", "/s/song.flac", "--no-stream"},
       R"({"id":1,"cmd":"load","name":"song","path":"/s/song.flac","stream":false})"},
      {{"unload", "kick"}, R"({"id":1,"cmd":"unload","name":"kick"})"},
      {{"list"}, R"({"id":1,"cmd":"list"})"},
      {{"info", "kick"}, R"({"id":1,"cmd":"info","name":"kick"})"},
      {{"play", "kick"}, R"({"id":1,"cmd":"play","clip":"kick"})"},
      {{"play",      "kick", "--gain",       "-6",    "--pan",      "-0.5",  "--offset",  "0.25",
        "--fade-in", "0.01", "--at",         "48000", "--group",    "drums", "--length",  "2",
        "--loop",    "3",    "--loop-start", "0.5",   "--loop-end", "1.5",   "--outputs", "2,1"},
       R"({"id":1,"cmd":"play","clip":"kick","gain_db":-6.0,"pan":-0.5,"offset_s":0.25,)"
       R"("length_s":2.0,"loop":3,"loop_start_s":0.5,"loop_end_s":1.5,"fade_in_s":0.01,)"
       R"("at_frame":48000,"group":"drums","outputs":[2,1]})"},
      {{"play", "kick", "--loop", "--in", "1.5"},
       R"({"id":1,"cmd":"play","clip":"kick","loop":true,"in_s":1.5})"},
      {{"play", "--loop", "kick"}, R"({"id":1,"cmd":"play","clip":"kick","loop":true})"},
      {{"play", "kick", "--loop=2", "--gain=-3"},
       R"({"id":1,"cmd":"play","clip":"kick","gain_db":-3.0,"loop":2})"},
      {{"stop", "12"}, R"({"id":1,"cmd":"stop","voice":12})"},
      {{"stop", "--clip", "kick", "--fade", "0.5", "--at", "100"},
       R"({"id":1,"cmd":"stop","clip":"kick","fade_s":0.5,"at_frame":100})"},
      {{"stop", "--group", "drums", "--in", "2"},
       R"({"id":1,"cmd":"stop","group":"drums","in_s":2.0})"},
      {{"stop", "--all"}, R"({"id":1,"cmd":"stop","all":true})"},
      {{"pause", "3"}, R"({"id":1,"cmd":"pause","voice":3})"},
      {{"pause", "3", "--fade", "0.1"}, R"({"id":1,"cmd":"pause","voice":3,"fade_s":0.1})"},
      {{"resume", "3", "--fade", "0"}, R"({"id":1,"cmd":"resume","voice":3,"fade_s":0.0})"},
      {{"set", "3", "--gain", "-12", "--pan", "1", "--ramp", "0.2", "--in", "0"},
       R"({"id":1,"cmd":"set","voice":3,"gain_db":-12.0,"pan":1.0,"ramp_s":0.2,"in_s":0.0})"},
      {{"master", "-6"}, R"({"id":1,"cmd":"master","gain_db":-6.0})"},
      {{"master", "0", "--ramp", "1"}, R"({"id":1,"cmd":"master","gain_db":0.0,"ramp_s":1.0})"},
      {{"voices"}, R"({"id":1,"cmd":"voices"})"},
      {{"meters"}, R"({"id":1,"cmd":"meters"})"},
      {{"status"}, R"({"id":1,"cmd":"status"})"},
      {{"bind", "36", "kick"}, R"({"id":1,"cmd":"bind","note":36,"clip":"kick"})"},
      {{"bind", "36", "kick", "--channel", "10", "--mode", "toggle", "--velocity", "--gain", "-3",
        "--group", "g"},
       R"({"id":1,"cmd":"bind","note":36,"channel":10,"clip":"kick","mode":"toggle",)"
       R"("velocity":true,"gain_db":-3.0,"group":"g"})"},
      {{"unbind", "36"}, R"({"id":1,"cmd":"unbind","note":36})"},
      {{"unbind", "36", "--channel", "1"}, R"({"id":1,"cmd":"unbind","note":36,"channel":1})"},
      {{"bindings"}, R"({"id":1,"cmd":"bindings"})"},
      // Global options before or after the command; `--` ends options.
      {{"--json", "ping"}, R"({"id":1,"cmd":"ping"})"},
      {{"info", "--", "--odd-name"}, R"({"id":1,"cmd":"info","name":"--odd-name"})"},
  };
  for (const auto& [args, expected] : cases) {
    SCOPED_TRACE(args.front() + (args.size() > 1 ? " " + args[1] : ""));
    EXPECT_EQ(request_line(args), expected + "\n");
  }
}

TEST(ClipctlCommandLine, PlayWaitAndJsonFlags) {
  const Invocation waiting = invoke({"play", "kick", "--wait"});
  EXPECT_TRUE(std::get<SendRequest>(waiting.action).wait_for_voice);
  EXPECT_FALSE(waiting.json);
  EXPECT_FALSE(std::get<SendRequest>(invoke({"play", "kick"}).action).wait_for_voice);
  EXPECT_TRUE(invoke({"--json", "status"}).json);
  EXPECT_TRUE(invoke({"status", "--json"}).json);
}

TEST(ClipctlCommandLine, WatchAndRaw) {
  EXPECT_EQ(std::get<Watch>(invoke({"watch"}).action).events, EventSet::all());
  EventSet some;
  some.insert(EventKind::voice_ended);
  some.insert(EventKind::xrun);
  EXPECT_EQ(std::get<Watch>(invoke({"watch", "voice-ended", "xrun"}).action).events, some);
  EXPECT_EQ(std::get<Raw>(invoke({"raw", R"({"cmd":"ping","id":"x"})"}).action).line,
            R"({"cmd":"ping","id":"x"})");
}

TEST(ClipctlCommandLine, SocketPath) {
  Environment env = test_env();
  EXPECT_EQ(invoke({"ping"}, env).socket_path, "/run/user/1000/clipd/control.sock");
  EXPECT_EQ(invoke({"--instance", "live", "ping"}, env).socket_path,
            "/run/user/1000/clipd/live.sock");
  EXPECT_EQ(invoke({"--socket", "/tmp/s.sock", "ping"}, env).socket_path, "/tmp/s.sock");
  EXPECT_EQ(invoke({"ping", "--socket=/tmp/t.sock"}, env).socket_path, "/tmp/t.sock");
  env.clipd_socket = "/tmp/env.sock";
  EXPECT_EQ(invoke({"ping"}, env).socket_path, "/tmp/env.sock");
  EXPECT_EQ(invoke({"--instance", "b", "ping"}, env).socket_path, "/run/user/1000/clipd/b.sock");
  EXPECT_EQ(invoke({"--socket", "/x", "ping"}, env).socket_path, "/x");
  env.clipd_socket.reset();
  env.xdg_runtime_dir.reset();
  EXPECT_EQ(invoke({"ping"}, env).socket_path, "/run/user/1000/clipd/control.sock");
}

TEST(ClipctlCommandLine, UsageErrors) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"--json"},
      {"--bogus", "ping"},
      {"--socket"},
      {"frobnicate"},
      {"help", "frobnicate"},
      {"ping", "extra"},
      {"ping", "--bogus"},
      {"load", "kick"},
      {"load", "kick", "a", "b"},
      {"unload"},
      {"info"},
      {"play"},
      {"play", "a", "b"},
      {"play", "kick", "--gain"},
      {"play", "kick", "--gain", "loud"},
      {"play", "kick", "--gain", "30"},
      {"play", "kick", "--gain", "nan"},
      {"play", "kick", "--gain", "inf"},
      {"play", "kick", "--pan", "2"},
      {"play", "kick", "--offset", "-1"},
      {"play", "kick", "--at", "1.5"},
      {"play", "kick", "--at", "-1"},
      {"play", "kick", "--at", "1", "--in", "1"},
      {"play", "kick", "--loop=0"},
      {"play", "kick", "--loop=x"},
      {"play", "kick", "--outputs", "1,,2"},
      {"play", "kick", "--outputs", "0"},
      {"play", "kick", "--outputs", "1,1"},
      {"play", "kick", "--outputs", ""},
      {"play", "kick", "--loop-start", "2", "--loop-end", "1"},
      {"play", "kick", "--wait=1"},
      {"play", "kick", "--gain", "1", "--gain", "2"},
      {"play", "kick", "-x"},
      {"stop"},
      {"stop", "3", "--all"},
      {"stop", "--clip", "a", "--group", "b"},
      {"stop", "x"},
      {"stop", "3", "4"},
      {"stop", "--all", "--fade", "-1"},
      {"pause"},
      {"pause", "1.5"},
      {"resume", "x"},
      {"set", "3"},
      {"set", "3", "--ramp", "1"},
      {"set", "3", "--gain", "-200"},
      {"master"},
      {"master", "loud"},
      {"master", "25"},
      {"watch", "nope"},
      {"raw"},
      {"raw", "a", "b"},
      {"raw", ""},
      {"raw", "{}\n{}"},
      {"bind", "36"},
      {"bind", "128", "kick"},
      {"bind", "36", "kick", "--channel", "17"},
      {"bind", "36", "kick", "--mode", "loop"},
      {"unbind"},
      {"unbind", "-1"},
  };
  for (const auto& args : cases) {
    std::string joined;
    for (const auto& a : args)
      joined += a + " ";
    SCOPED_TRACE(joined);
    const CommandLine line = parse_command_line(args, test_env());
    ASSERT_TRUE(std::holds_alternative<UsageError>(line));
    EXPECT_FALSE(std::get<UsageError>(line).message.empty());
  }
}

TEST(ClipctlCommandLine, HelpForEveryCommand) {
  const std::vector<std::string> commands = {"hello", "ping",   "load",   "unload", "list",
                                             "info",  "play",   "stop",   "pause",  "resume",
                                             "set",   "master", "voices", "meters", "status",
                                             "watch", "raw",    "bind",   "unbind", "bindings"};
  const CommandLine main_help = parse_command_line({"--help"}, test_env());
  ASSERT_TRUE(std::holds_alternative<Help>(main_help));
  for (const std::string& command : commands) {
    SCOPED_TRACE(command);
    EXPECT_NE(std::get<Help>(main_help).text.find("  " + command), std::string::npos);
    for (const auto& args :
         {std::vector<std::string>{command, "--help"}, std::vector<std::string>{command, "-h"},
          std::vector<std::string>{"help", command}}) {
      const CommandLine line = parse_command_line(args, test_env());
      ASSERT_TRUE(std::holds_alternative<Help>(line));
      EXPECT_TRUE(std::get<Help>(line).text.starts_with("usage: clipctl " + command));
    }
  }
  EXPECT_TRUE(std::holds_alternative<Help>(parse_command_line({"-h"}, test_env())));
  EXPECT_TRUE(std::holds_alternative<Help>(parse_command_line({"help"}, test_env())));
  const CommandLine version = parse_command_line({"--version"}, test_env());
  ASSERT_TRUE(std::holds_alternative<Help>(version));
  EXPECT_TRUE(std::get<Help>(version).text.starts_with("clipctl 0."));
}

TEST(ClipctlOutput, Tables) {
  Json clips = Json::parse(R"({"clips":[
      {"name":"kick","path":"/s/kick.wav","frames":48000,"channels":2,"sample_rate":48000,
       "source_sample_rate":44100,"duration_s":1.0,"bytes":384000,"locked":true},
      {"name":"long-name","path":"/s/l.wav","frames":10,"channels":1,"sample_rate":48000,
       "source_sample_rate":48000,"duration_s":0.000208,"bytes":40,"locked":false},
      {"name":"song","path":"/s/song.flac","frames":172800000,"channels":2,"sample_rate":48000,
       "source_sample_rate":44100,"duration_s":3600.0,"bytes":770048,"locked":true,
       "streamed":true,"head_frames":96000,"head_s":2.0}]})");
  EXPECT_EQ(
      format_result(ListRequest{}, clips),
      "NAME       CHANNELS   RATE  DURATION     FRAMES     MEMORY  LOCKED  STREAMED    PATH\n"
      "kick              2  48000     1.000      48000  375.0 KiB  yes     no          "
      "/s/kick.wav\n"
      "long-name         1  48000     0.000         10       40 B  no      no          /s/l.wav\n"
      "song              2  48000  3600.000  172800000  752.0 KiB  yes     head 2.0 s  "
      "/s/song.flac\n");
  Json voices = Json::parse(R"({"voices":[
      {"voice":3,"clip":"kick","state":"playing","position_s":0.5,"remaining_s":null,
       "gain_db":-6.0,"pan":0.0,"group":null}]})");
  EXPECT_EQ(format_result(VoicesRequest{}, voices),
            "VOICE  CLIP  STATE    POSITION  REMAINING  GAIN   PAN  GROUP\n"
            "    3  kick  playing     0.500       loop  -6.0  0.00  -\n");
  EXPECT_EQ(format_result(VoicesRequest{}, Json::parse(R"({"voices":[]})")),
            "VOICE  CLIP  STATE  POSITION  REMAINING  GAIN  PAN  GROUP\n");
  Json bindings = Json::parse(R"({"bindings":[{"note":36,"channel":null,"clip":"kick",
      "mode":"gate","velocity":true,"gain_db":-3,"group":null}]})");
  EXPECT_EQ(format_result(BindingsRequest{}, bindings),
            "NOTE  CHANNEL  CLIP  MODE  VELOCITY  GAIN  GROUP\n"
            "  36      any  kick  gate  yes       -3.0  -\n");
  EXPECT_EQ(format_result(MetersRequest{},
                          Json::parse(R"({"peak_db":[null,-6.02],"rms_db":[null,-12]})")),
            "OUTPUT  PEAK dB  RMS dB\n"
            "out_1      -inf    -inf\n"
            "out_2      -6.0   -12.0\n");
}

TEST(ClipctlOutput, OtherResults) {
  EXPECT_EQ(format_result(PingRequest{}, Json::object()), "pong\n");
  EXPECT_EQ(format_result(PlayRequest{}, Json::parse(R"({"voice":17})")), "voice 17\n");
  EXPECT_EQ(format_result(StopRequest{}, Json::parse(R"({"stopped":2})")), "stopped 2\n");
  EXPECT_EQ(format_result(UnloadRequest{}, Json::object()), "");
  EXPECT_EQ(format_result(StatusRequest{}, Json::parse(R"({"engine":"offline","sample_rate":null,
      "xruns":0,"dsp_load":1.25,"memory_bytes":2097152,"master_gain_db":null})")),
            "engine:         offline\n"
            "sample_rate:    -\n"
            "xruns:          0\n"
            "dsp_load:       1.250\n"
            "memory_bytes:   2.0 MiB\n"
            "master_gain_db: -inf\n");
  EXPECT_EQ(
      format_event(Json::parse(
          R"({"event":"voice-ended","voice":3,"clip":"kick","frame":99,"reason":"finished"})")),
      "voice-ended voice=3 clip=kick frame=99 reason=finished");
}

}  // namespace
}  // namespace clipd::clipctl
