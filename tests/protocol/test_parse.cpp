// The request parser against the contract (clipd-protocol(7)), table by table: every command,
// every error code it produces, every wrong type and range per field, ids of each kind.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "control/protocol/line_scan.hpp"
#include "control/protocol/protocol.hpp"

namespace clipd::protocol {
namespace {

ParsedRequest parse_ok(const std::string& line, const ParseLimits& limits = {}) {
  ParseResult result = parse_request(line, limits);
  if (const auto* error = std::get_if<ParseError>(&result)) {
    ADD_FAILURE() << line << " -> " << to_string(error->code) << ": " << error->message;
    return {};
  }
  EXPECT_TRUE(std::holds_alternative<ParsedRequest>(result)) << line;
  return std::get<ParsedRequest>(result);
}

ParseError parse_error(const std::string& line, const ParseLimits& limits = {}) {
  ParseResult result = parse_request(line, limits);
  if (!std::holds_alternative<ParseError>(result)) {
    ADD_FAILURE() << line << " parsed, but should not";
    return {};
  }
  return std::get<ParseError>(result);
}

// ---- Every command, with its defaults and with every field given --------------------------------

struct ValidCase {
  std::string line;
  ParsedRequest expected;
};

template <typename F>
PlayRequest play_with(std::string clip, F set) {
  PlayRequest q;
  q.clip = std::move(clip);
  set(q);
  return q;
}

PlayRequest full_play() {
  PlayRequest q;
  q.clip = "kick";
  q.gain_db = -6.5;
  q.pan = -0.25;
  q.offset_s = 0.5;
  q.length_s = 3;
  q.loop = Loop{Loop::Mode::passes, 4};
  q.loop_start_s = 0.25;
  q.loop_end_s = 1.75;
  q.fade_in_s = 0.01;
  q.when = AtFrame{48000};
  q.group = "drums";
  q.outputs = std::vector<std::int64_t>{2, 1};
  return q;
}

EventSet events_of(std::initializer_list<EventKind> kinds) {
  EventSet set;
  for (EventKind kind : kinds)
    set.insert(kind);
  return set;
}

std::vector<ValidCase> valid_cases() {
  std::vector<ValidCase> cases = {
      {R"({"cmd":"hello"})", {{}, HelloRequest{}}},
      {R"({"id":1,"cmd":"ping"})", {1, PingRequest{}}},
      {R"({"cmd":"load","name":"kick","path":"/a/kick.wav"})",
       {{}, LoadRequest{"kick", "/a/kick.wav", false}}},
      {R"({"cmd":"load","name":"kick","path":"rel/k.flac","replace":true})",
       {{}, LoadRequest{"kick", "rel/k.flac", true}}},
      {R"({"cmd":"load","name":"song","path":"/s.flac","stream":true})",
       {{}, LoadRequest{"song", "/s.flac", false, LoadRequest::Stream::always}}},
      {R"({"cmd":"load","name":"song","path":"/s.flac","stream":false})",
       {{}, LoadRequest{"song", "/s.flac", false, LoadRequest::Stream::never}}},
      {R"({"cmd":"load","name":"song","path":"/s.flac","stream":"auto"})",
       {{}, LoadRequest{"song", "/s.flac", false, LoadRequest::Stream::automatic}}},
      {R"({"cmd":"unload","name":"kick"})", {{}, UnloadRequest{"kick"}}},
      {R"({"cmd":"list"})", {{}, ListRequest{}}},
      {R"({"cmd":"info","name":"snare"})", {{}, InfoRequest{"snare"}}},
      {R"({"cmd":"play","clip":"kick"})", {{}, play_with("kick", [](PlayRequest&) {})}},
      {R"({"cmd":"play","clip":"kick","gain_db":-6.5,"pan":-0.25,"offset_s":0.5,"length_s":3,)"
       R"("loop":4,"loop_start_s":0.25,"loop_end_s":1.75,"fade_in_s":0.01,"at_frame":48000,)"
       R"("group":"drums","outputs":[2,1]})",
       {{}, full_play()}},
      {R"({"cmd":"play","clip":"k","loop":true,"in_s":0})",
       {{},
        play_with("k",
                  [](PlayRequest& q) {
                    q.loop = {Loop::Mode::forever, 0};
                    q.when = InSeconds{0};
                  })}},
      {R"({"cmd":"play","clip":"k","loop":false,"in_s":1.5})",
       {{}, play_with("k", [](PlayRequest& q) { q.when = InSeconds{1.5}; })}},
      {R"({"cmd":"play","clip":"k","gain_db":-120,"pan":1})",
       {{},
        play_with("k",
                  [](PlayRequest& q) {
                    q.gain_db = -120;
                    q.pan = 1;
                  })}},
      {R"({"cmd":"play","clip":"k","gain_db":24,"pan":-1})",
       {{},
        play_with("k",
                  [](PlayRequest& q) {
                    q.gain_db = 24;
                    q.pan = -1;
                  })}},
      {R"({"cmd":"play","clip":"k","loop":1,"loop_end_s":0.5})",
       {{},
        play_with("k",
                  [](PlayRequest& q) {
                    q.loop = {Loop::Mode::passes, 1};
                    q.loop_end_s = 0.5;
                  })}},
      {R"({"cmd":"stop","voice":3})", {{}, StopRequest{StopVoice{3}, {}, Now{}}}},
      {R"({"cmd":"stop","clip":"kick","fade_s":0})",
       {{}, StopRequest{StopClip{"kick"}, 0.0, Now{}}}},
      {R"({"cmd":"stop","group":"g","at_frame":0})",
       {{}, StopRequest{StopGroup{"g"}, {}, AtFrame{0}}}},
      {R"({"cmd":"stop","all":true,"fade_s":0.5,"in_s":2})",
       {{}, StopRequest{StopAll{}, 0.5, InSeconds{2}}}},
      {R"({"cmd":"pause","voice":7})", {{}, PauseRequest{7, {}}}},
      {R"({"cmd":"pause","voice":7,"fade_s":0.1})", {{}, PauseRequest{7, 0.1}}},
      {R"({"cmd":"resume","voice":7})", {{}, ResumeRequest{7, {}}}},
      {R"({"cmd":"resume","voice":0,"fade_s":0})", {{}, ResumeRequest{0, 0.0}}},
      {R"({"cmd":"set","voice":2,"gain_db":-3})", {{}, SetRequest{2, -3.0, {}, {}, Now{}}}},
      {R"({"cmd":"set","voice":2,"pan":0.5,"ramp_s":1,"at_frame":9})",
       {{}, SetRequest{2, {}, 0.5, 1.0, AtFrame{9}}}},
      {R"({"cmd":"set","voice":2,"gain_db":0,"pan":0,"in_s":0.25})",
       {{}, SetRequest{2, 0.0, 0.0, {}, InSeconds{0.25}}}},
      {R"({"cmd":"master","gain_db":-10})", {{}, MasterRequest{-10, {}}}},
      {R"({"cmd":"master","gain_db":0,"ramp_s":2})", {{}, MasterRequest{0, 2.0}}},
      {R"({"cmd":"voices"})", {{}, VoicesRequest{}}},
      {R"({"cmd":"meters"})", {{}, MetersRequest{}}},
      {R"({"cmd":"status"})", {{}, StatusRequest{}}},
      {R"({"cmd":"subscribe"})", {{}, SubscribeRequest{EventSet::all()}}},
      {R"({"cmd":"subscribe","events":[]})", {{}, SubscribeRequest{EventSet{}}}},
      {R"({"cmd":"subscribe","events":["voice-ended","xrun","voice-ended"]})",
       {{}, SubscribeRequest{events_of({EventKind::voice_ended, EventKind::xrun})}}},
      {R"({"cmd":"subscribe","events":["clip-loaded","clip-unloaded","clip-failed",)"
       R"("voice-started","voice-ended","xrun","engine-offline","engine-online","underrun"]})",
       {{}, SubscribeRequest{EventSet::all()}}},
      {R"({"cmd":"unsubscribe"})", {{}, UnsubscribeRequest{}}},
      {R"({"cmd":"shutdown"})", {{}, ShutdownRequest{}}},
      {R"({"cmd":"bind","note":36,"clip":"kick"})",
       {{}, BindRequest{36, {}, "kick", BindMode::oneshot, false, 0, {}}}},
      {R"({"cmd":"bind","note":127,"channel":16,"clip":"k","mode":"gate","velocity":true,)"
       R"("gain_db":-3,"group":"g"})",
       {{}, BindRequest{127, 16, "k", BindMode::gate, true, -3, "g"}}},
      {R"({"cmd":"bind","note":0,"channel":1,"clip":"k","mode":"toggle"})",
       {{}, BindRequest{0, 1, "k", BindMode::toggle, false, 0, {}}}},
      {R"({"cmd":"bind","note":1,"clip":"k","mode":"oneshot"})",
       {{}, BindRequest{1, {}, "k", BindMode::oneshot, false, 0, {}}}},
      {R"({"cmd":"unbind","note":36})", {{}, UnbindRequest{36, {}}}},
      {R"({"cmd":"unbind","note":36,"channel":10})", {{}, UnbindRequest{36, 10}}},
      {R"({"cmd":"bindings"})", {{}, BindingsRequest{}}},
      // Whitespace, a "\r" before the "\n", field order and an explicit null id do not matter.
      {" { \"path\" : \"/p\" , \"cmd\" : \"load\", \"name\" : \"n\" } \r",
       {{}, LoadRequest{"n", "/p", false}}},
      {R"({"cmd":"ping","id":null})", {{}, PingRequest{}}},
      // -0 is an integer; voices are any integer (unknown ones are the dispatcher's
      // voice-not-found).
      {R"({"cmd":"stop","voice":-0})", {{}, StopRequest{StopVoice{0}, {}, Now{}}}},
      {R"({"cmd":"pause","voice":-5})", {{}, PauseRequest{-5, {}}}},
      // Names may hold any Unicode.
      {"{\"cmd\":\"info\",\"name\":\"caf\xc3\xa9 \xf0\x9f\xa5\x81\"}",
       {{}, InfoRequest{"caf\xc3\xa9 \xf0\x9f\xa5\x81"}}},
  };
  return cases;
}

TEST(ProtocolParse, EveryCommandParsesToItsTypedRequest) {
  for (const ValidCase& c : valid_cases()) {
    SCOPED_TRACE(c.line);
    const ParsedRequest got = parse_ok(c.line);
    EXPECT_EQ(got.id, c.expected.id);
    EXPECT_EQ(got.request.index(), c.expected.request.index());
    EXPECT_TRUE(got.request == c.expected.request);
  }
}

TEST(ProtocolParse, EveryCommandOfTheContractIsCovered) {
  std::vector<bool> seen(std::variant_size_v<Request>, false);
  for (const ValidCase& c : valid_cases())
    seen[c.expected.request.index()] = true;
  for (std::size_t i = 0; i < seen.size(); ++i)
    EXPECT_TRUE(seen[i]) << "alternative " << i;
}

TEST(ProtocolParse, CanonicalFormRoundTrips) {
  for (const ValidCase& c : valid_cases()) {
    for (const RequestId& id :
         {RequestId{}, RequestId{std::int64_t{-42}}, RequestId{"x\"y"},
          RequestId{IntegerToken{"18446744073709551616"}}, RequestId{IntegerToken{"-0"}}}) {
      ParsedRequest request = c.expected;
      request.id = id;
      const std::string line = serialize_request(request);
      SCOPED_TRACE(line);
      ASSERT_EQ(line.back(), '\n');
      const ParsedRequest again = parse_ok(line.substr(0, line.size() - 1));
      EXPECT_TRUE(again == request);
    }
  }
}

TEST(ProtocolParse, CanonicalFormLeavesOutDefaults) {
  EXPECT_EQ(serialize_request({7, play_with("kick", [](PlayRequest&) {})}),
            "{\"id\":7,\"cmd\":\"play\",\"clip\":\"kick\"}\n");
  EXPECT_EQ(serialize_request({"a", StopRequest{StopAll{}, 0.5, AtFrame{10}}}),
            "{\"id\":\"a\",\"cmd\":\"stop\",\"all\":true,\"fade_s\":0.5,\"at_frame\":10}\n");
  EXPECT_EQ(serialize_request({{}, SubscribeRequest{events_of({EventKind::xrun})}}),
            "{\"cmd\":\"subscribe\",\"events\":[\"xrun\"]}\n");
}

// ---- Ids --------------------------------------------------------------------------------------

TEST(ProtocolParse, IdsOfEveryAllowedKindAreKept) {
  struct Case {
    std::string id_json;
    RequestId expected;
    std::string echoed;
  };
  const std::vector<Case> cases = {
      {"0", std::int64_t{0}, "0"},
      {"7", std::int64_t{7}, "7"},
      {"-7", std::int64_t{-7}, "-7"},
      {"9223372036854775807", std::numeric_limits<std::int64_t>::max(), "9223372036854775807"},
      {"-9223372036854775808", std::numeric_limits<std::int64_t>::min(), "-9223372036854775808"},
      // Integers past the 64-bit range, and -0, are kept as written.
      {"9223372036854775808", IntegerToken{"9223372036854775808"}, "9223372036854775808"},
      {"18446744073709551615", IntegerToken{"18446744073709551615"}, "18446744073709551615"},
      {"18446744073709551616", IntegerToken{"18446744073709551616"}, "18446744073709551616"},
      {"-9223372036854775809", IntegerToken{"-9223372036854775809"}, "-9223372036854775809"},
      {"123456789012345678901234567890", IntegerToken{"123456789012345678901234567890"},
       "123456789012345678901234567890"},
      {"-0", IntegerToken{"-0"}, "-0"},
      {"\"abc\"", std::string("abc"), "\"abc\""},
      {"\"\"", std::string(), "\"\""},
      {R"("a\"b\\c\u00e9\n")", std::string("a\"b\\c\xc3\xa9\n"), R"("a\"b\\cé\n")"},
      {R"("\u0041\/\ud83e\udd41")", std::string("A/\xf0\x9f\xa5\x81"), "\"A/\xf0\x9f\xa5\x81\""},
      {"null", std::monostate{}, "null"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.id_json);
    const ParsedRequest got = parse_ok(R"({"id":)" + c.id_json + R"(,"cmd":"ping"})");
    EXPECT_EQ(got.id, c.expected);
    EXPECT_EQ(serialize_ok_empty(got.id), "{\"id\":" + c.echoed + ",\"ok\":true,\"result\":{}}\n");
    // Errors echo the id too.
    const ParseError error = parse_error(R"({"id":)" + c.id_json + R"(,"cmd":"nope"})");
    EXPECT_EQ(error.id, c.expected);
    EXPECT_EQ(error.code, ErrorCode::unknown_command);
  }
}

TEST(ProtocolParse, NoIdGivesNull) {
  const ParsedRequest got = parse_ok(R"({"cmd":"ping"})");
  EXPECT_TRUE(std::holds_alternative<std::monostate>(got.id));
  EXPECT_EQ(serialize_ok_empty(got.id), "{\"id\":null,\"ok\":true,\"result\":{}}\n");
  const ParseError error = parse_error(R"({"cmd":"play"})");
  EXPECT_EQ(serialize_error(error),
            "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"bad-request\",\"message\":"
            "\"missing field 'clip'\"}}\n");
}

TEST(ProtocolParse, IdsOfOtherTypesAreBadRequestsEchoedAsWritten) {
  const std::vector<std::string> ids = {
      "1.0",
      "1.5",
      "-2.25",
      "1e3",
      "1E+3",
      "1.0e0",
      "-0.0",
      "1.7976931348623157e308",
      "true",
      "false",
      "{}",
      "[1,\"a\"]",
      "[1, \"a\" ]",
      "{\"x\":[null]}",
      "{ \"x\" : [1e-400] }",
  };
  for (const std::string& id : ids) {
    SCOPED_TRACE(id);
    // A valid command and a broken one: the id check comes first.
    for (const std::string& rest :
         {std::string(R"("cmd":"ping")"), std::string(R"("cmd":"play","gain_db":"x")")}) {
      const ParseError error = parse_error("{\"id\":" + id + "," + rest + "}");
      EXPECT_EQ(error.id, RequestId{InvalidId{id}});
      EXPECT_EQ(error.code, ErrorCode::bad_request);
      EXPECT_NE(error.message.find("'id'"), std::string::npos) << error.message;
      EXPECT_EQ(serialize_error(error), "{\"id\":" + id +
                                            ",\"ok\":false,\"error\":{\"code\":\"bad-request\","
                                            "\"message\":\"" +
                                            error.message + "\"}}\n");
    }
    // An unknown command is named first; the id is still echoed as written.
    const ParseError unknown = parse_error("{\"id\":" + id + ",\"cmd\":\"nope\"}");
    EXPECT_EQ(unknown.code, ErrorCode::unknown_command);
    EXPECT_EQ(unknown.id, RequestId{InvalidId{id}});
  }
}

// A list or object id may hold line breaks between its values; the reply is one line, where each
// becomes a space (the same JSON value).
TEST(ProtocolParse, AnInvalidIdWithLineBreaksIsEchoedOnOneLine) {
  const ParseError error = parse_error("{\"id\":[1,\r\n{\"a\" : 2\n}],\"cmd\":\"ping\"}");
  EXPECT_EQ(error.id, RequestId{InvalidId{"[1,  {\"a\" : 2 }]"}});
  const std::string line = serialize_error(error);
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  EXPECT_EQ(line.find('\r'), std::string::npos) << line;
  EXPECT_EQ(Json::parse(line)["id"], Json::parse("[1, {\"a\": 2}]"));
}

// Numbers past the range of a double are valid JSON text, but many readers (nlohmann's among
// them) refuse a line holding one: such an id is a bad-request answered with a null id.
TEST(ProtocolParse, IdsPastTheRangeOfADoubleAreNotEchoed) {
  const std::vector<std::string> ids = {
      "1e400",
      "-1e400",
      "83900087E88888888888888",
      "1" + std::string(400, '0'),
      "-" + std::string(400, '9'),
      "[1, 1e400]",
      "{\"a\":{\"b\":-1e999}}",
  };
  for (const std::string& id : ids) {
    SCOPED_TRACE(id);
    for (const std::string& rest : {std::string(R"("cmd":"ping")"), std::string(R"("cmd":"nope")"),
                                    std::string(R"("cmd":"ping","x":1e400)")}) {
      const ParseError error = parse_error("{\"id\":" + id + "," + rest + "}");
      EXPECT_NE(error.code, ErrorCode::bad_json);
      EXPECT_EQ(error.id, RequestId{InvalidId{"null"}});
      const std::string reply = serialize_error(error);
      EXPECT_TRUE(reply.starts_with("{\"id\":null,")) << reply;
      EXPECT_TRUE(Json::accept(reply)) << reply;
    }
    EXPECT_NE(parse_error("{\"id\":" + id + ",\"cmd\":\"ping\"}").message.find("'id'"),
              std::string::npos);
  }
}

// The reply carries the id whenever the line, from its start up to the end of the top-level id
// member, is valid JSON opening an object; whatever follows, and whatever stopped the parse.
TEST(ProtocolParse, IdIsEchoedWhateverElseIsWrongWithTheLine) {
  struct Case {
    std::string line;
    ErrorCode code;
    std::string echoed;        // the reply's id as text
    std::string message_part;  // must occur in the message
  };
  const std::string deep =
      std::string(max_json_depth + 1, '[') + std::string(max_json_depth + 1, ']');
  std::string many = R"({"cmd":"ping")";
  for (int i = 0; i < max_request_fields + 10; ++i)
    many += ",\"f" + std::to_string(i) + "\":0";
  const std::vector<Case> cases = {
      // The parse stops early: duplicate fields, nesting, field count, numbers past a double.
      {R"({"id":5,"cmd":"ping","cmd":"ping"})", ErrorCode::bad_request, "5", "'cmd' appears twice"},
      {R"({"cmd":"ping","a":1,"a":2,"id":5})", ErrorCode::bad_request, "5", "'a' appears twice"},
      {R"({"id":5,"cmd":"ping","id":6})", ErrorCode::bad_request, "5", "'id' appears twice"},
      {R"({"id":"x","cmd":"ping","id":"x"})", ErrorCode::bad_request, "\"x\"", "'id'"},
      {R"({"id":"d","cmd":"ping","x":)" + deep + "}", ErrorCode::bad_request, "\"d\"", "nested"},
      {R"({"cmd":"ping","x":)" + deep + R"(,"id":7})", ErrorCode::bad_request, "7", "nested"},
      {many + R"(,"id":"late"})", ErrorCode::bad_request, "\"late\"", "fields"},
      {R"({"cmd":"ping","x":1e400,"id":5})", ErrorCode::bad_request, "5", "'x'"},
      {R"({"x":-1e400,"id":1e3,"cmd":"ping"})", ErrorCode::bad_request, "1e3", "'x'"},
      {R"({"id":18446744073709551616,"cmd":"ping","x":1e400})", ErrorCode::bad_request,
       "18446744073709551616", "'x'"},
      {R"({"id":[1, {"a":[]}],"cmd":"ping","x":1e400})", ErrorCode::bad_request, R"([1, {"a":[]}])",
       "'x'"},
      {R"({"\u0069d":9,"cmd":"ping","x":1e400})", ErrorCode::bad_request, "9", "'x'"},
      {R"({ "id" : "a\u0041" ,"cmd":"nope","x":1e400})", ErrorCode::unknown_command, "\"aA\"",
       "nope"},
      // Broken after the id.
      {R"({"id":5,"cmd":"ping")", ErrorCode::bad_json, "5", ""},
      {R"({"id":5,"cmd":"ping",})", ErrorCode::bad_json, "5", ""},
      {R"({"id":5 })", ErrorCode::bad_request, "5", "'cmd'"},
      {R"({"id":5,"cmd":"ping"} x)", ErrorCode::bad_json, "5", ""},
      {"{\"id\":5,\"cmd\":\"ping\",\"n\":\"\xff\"}", ErrorCode::bad_json, "5", ""},
      {R"({"id":5,"cmd":"ping"})" + std::string("\0{", 2), ErrorCode::bad_json, "5", "NUL"},
      {R"({"cmd":"ping","a":1,"a":2,"id":5,)", ErrorCode::bad_json, "5", ""},
      // No id to be found: broken before or inside it, not an object, or not the top level.
      {R"({"cmd":"ping","x":01,"id":5})", ErrorCode::bad_json, "null", ""},
      {"{\"cmd\":\"ping\",\"x\":\"\xff\",\"id\":5}", ErrorCode::bad_json, "null", ""},
      {R"({"id":5x,"cmd":"ping"})", ErrorCode::bad_json, "null", ""},
      {R"({"id":5 6,"cmd":"ping"})", ErrorCode::bad_json, "null", ""},
      {R"({"cmd":"ping","x":1e400,"id":5 x)", ErrorCode::bad_json, "null", ""},
      {R"({"id":"\ud800","cmd":"ping"})", ErrorCode::bad_json, "null", ""},
      {R"({"id":[1,"cmd":"ping"})", ErrorCode::bad_json, "null", ""},
      {R"({"id")", ErrorCode::bad_json, "null", ""},
      {R"([{"id":5,"cmd":"ping"}])", ErrorCode::bad_request, "null", "object"},
      {R"({"a":{"id":5},"cmd":"ping","x":1e400})", ErrorCode::bad_request, "null", "'x'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    const ParseError error = parse_error(c.line);
    EXPECT_EQ(to_string(error.code), to_string(c.code));
    EXPECT_NE(error.message.find(c.message_part), std::string::npos) << error.message;
    const std::string reply = serialize_error(error);
    EXPECT_TRUE(reply.starts_with("{\"id\":" + c.echoed + ",\"ok\":false,")) << reply;
    EXPECT_TRUE(Json::accept(reply)) << reply;
  }
}

// ---- Errors of every code the parser produces
// ----------------------------------------------------

struct ErrorCase {
  std::string line;
  ErrorCode code;
  std::string message_part;  // must occur in the message
};

TEST(ProtocolParse, MalformedLinesAreBadJsonOrBadRequest) {
  const std::vector<ErrorCase> cases = {
      {"{", ErrorCode::bad_json, ""},
      {"{\"cmd\":\"ping\"", ErrorCode::bad_json, ""},
      {"{\"cmd\":\"ping\",}", ErrorCode::bad_json, ""},
      {"{cmd:\"ping\"}", ErrorCode::bad_json, ""},
      {"{'cmd':'ping'}", ErrorCode::bad_json, ""},
      {"{\"cmd\":\"ping\"} {}", ErrorCode::bad_json, ""},
      {"{\"cmd\":\"ping\"}x", ErrorCode::bad_json, ""},
      {"{\"cmd\":\"ping\"} // comment", ErrorCode::bad_json, ""},
      {"{\"cmd\":\"ping\",\"n\":NaN}", ErrorCode::bad_json, ""},
      {"{\"cmd\":\"ping\",\"n\":Infinity}", ErrorCode::bad_json, ""},
      {"{\"cmd\":\"ping\",\"n\":01}", ErrorCode::bad_json, ""},
      {"{\"cmd\":\"ping\",\"n\":1.}", ErrorCode::bad_json, ""},
      {"{\"cmd\":\"ping\",\"n\":\"\\x\"}", ErrorCode::bad_json, ""},
      {"{\"cmd\":\"ping\",\"n\":\"\\ud800\"}", ErrorCode::bad_json, ""},
      {std::string("{\"cmd\":\"ping\",\"n\":\"a\x01\"}"), ErrorCode::bad_json, ""},
      {std::string("{\"cmd\":\"ping\"}\0", 15), ErrorCode::bad_json, ""},
      {std::string("{\"cmd\":\"ping\"}\0{", 16), ErrorCode::bad_json, "NUL"},
      {std::string("{\"cmd\":\"info\",\"name\":\"a\0b\"}", 27), ErrorCode::bad_json, ""},
      {"nul", ErrorCode::bad_json, ""},
      // Invalid UTF-8, inside and outside strings (nlohmann would throw: must be bad-json).
      {"{\"cmd\":\"ping\",\"id\":\"\xff\"}", ErrorCode::bad_json, ""},
      {"{\"cmd\":\"info\",\"name\":\"\xc3\x28\"}", ErrorCode::bad_json, ""},
      {"{\"cmd\":\"info\",\"name\":\"\xed\xa0\x80\"}", ErrorCode::bad_json, ""},
      {"{\"cmd\":\"info\",\"name\":\"\xf4\x90\x80\x80\"}", ErrorCode::bad_json, ""},
      {"{\"cmd\":\"info\",\"name\":\"\xc0\xaf\"}", ErrorCode::bad_json, ""},
      {"{\"cmd\":\"info\",\"name\":\"\xe2\x82\"}", ErrorCode::bad_json, ""},
      {"\xff{\"cmd\":\"ping\"}", ErrorCode::bad_json, ""},
      {"{\"cmd\":\"ping\"\xfe}", ErrorCode::bad_json, ""},
      // Valid JSON that is not a request object.
      {"[]", ErrorCode::bad_request, "object"},
      {"[{\"cmd\":\"ping\"}]", ErrorCode::bad_request, "object"},
      {"\"ping\"", ErrorCode::bad_request, "object"},
      {"42", ErrorCode::bad_request, "object"},
      {"null", ErrorCode::bad_request, "object"},
      {"{}", ErrorCode::bad_request, "'cmd'"},
      {"{\"id\":1}", ErrorCode::bad_request, "'cmd'"},
      {"{\"cmd\":1}", ErrorCode::bad_request, "'cmd'"},
      {"{\"cmd\":null}", ErrorCode::bad_request, "'cmd'"},
      {"{\"cmd\":[\"ping\"]}", ErrorCode::bad_request, "'cmd'"},
      {"{\"cmd\":\"ping\",\"cmd\":\"ping\"}", ErrorCode::bad_request, "'cmd'"},
      {"{\"cmd\":\"stop\",\"voice\":1,\"voice\":2}", ErrorCode::bad_request, "'voice'"},
      // Unknown commands (names are case-sensitive).
      {"{\"cmd\":\"pong\"}", ErrorCode::unknown_command, "pong"},
      {"{\"cmd\":\"\"}", ErrorCode::unknown_command, ""},
      {"{\"cmd\":\"PING\"}", ErrorCode::unknown_command, "PING"},
      {"{\"cmd\":\"ping \"}", ErrorCode::unknown_command, ""},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.line);
    const ParseError error = parse_error(c.line);
    EXPECT_EQ(to_string(error.code), to_string(c.code));
    EXPECT_NE(error.message.find(c.message_part), std::string::npos) << error.message;
    EXPECT_FALSE(error.message.empty());
    // Every error reply is one valid JSON line, whatever the input was.
    const std::string reply = serialize_error(error);
    EXPECT_EQ(reply.find('\n'), reply.size() - 1);
    EXPECT_TRUE(Json::accept(reply));
  }
}

// cmd naming no command is unknown-command whatever else is wrong with the other fields; a line
// that is not valid JSON, and a repeated cmd, stay bad-json and bad-request.
TEST(ProtocolParse, UnknownCommandComesBeforeFieldErrors) {
  const std::string deep =
      std::string(max_json_depth + 1, '[') + std::string(max_json_depth + 1, ']');
  std::string many = R"({"cmd":"nope")";
  for (int i = 0; i < max_request_fields + 10; ++i)
    many += ",\"f" + std::to_string(i) + "\":0";
  const std::vector<ErrorCase> cases = {
      {R"({"cmd":"nope","x":1e400})", ErrorCode::unknown_command, "\"nope\""},
      {R"({"x":1e400,"cmd":"nope"})", ErrorCode::unknown_command, "\"nope\""},
      {R"({"cmd":"no\u0070e","x":-1e999})", ErrorCode::unknown_command, "\"nope\""},
      {R"({"cmd":"nope","a":1,"a":2})", ErrorCode::unknown_command, "\"nope\""},
      {R"({"cmd":"nope","x":)" + deep + "}", ErrorCode::unknown_command, "\"nope\""},
      {many + "}", ErrorCode::unknown_command, "\"nope\""},
      {R"({"cmd":"nope","gain_db":"x","voice":1.5})", ErrorCode::unknown_command, "\"nope\""},
      {R"({"id":true,"cmd":"nope"})", ErrorCode::unknown_command, "\"nope\""},
      {R"({"cmd":"nope","cmd":"ping"})", ErrorCode::bad_request, "'cmd' appears twice"},
      {R"({"cmd":"ping","cmd":"nope"})", ErrorCode::bad_request, "'cmd' appears twice"},
      {R"({"cmd":"ping","x":1e400})", ErrorCode::bad_request, "'x'"},
      {R"({"cmd":1,"x":1e400})", ErrorCode::bad_request, "'x'"},
      {R"({"cmd":"nope","x":1e400)", ErrorCode::bad_json, ""},
      {R"({"cmd":"nope","a":1,"a":2,})", ErrorCode::bad_json, ""},
      {R"({"cmd":"nope","x":)" + deep + "]}", ErrorCode::bad_json, ""},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.line);
    const ParseError error = parse_error(c.line);
    EXPECT_EQ(to_string(error.code), to_string(c.code));
    EXPECT_NE(error.message.find(c.message_part), std::string::npos) << error.message;
  }
}

TEST(ProtocolParse, BlankLinesAreIgnored) {
  for (const std::string line : {"", " ", "\t", "\r", "  \t \r", "\n"}) {
    EXPECT_TRUE(std::holds_alternative<BlankLine>(parse_request(line))) << int(line.size());
  }
  EXPECT_FALSE(std::holds_alternative<BlankLine>(parse_request("\v")));
  EXPECT_FALSE(std::holds_alternative<BlankLine>(parse_request(" x")));
}

TEST(ProtocolParse, UnknownFieldsAreRejectedByName) {
  const std::vector<std::string> lines = {
      R"({"cmd":"hello","bogus":1})",
      R"({"cmd":"ping","x":null})",
      R"({"cmd":"load","name":"a","path":"/p","bogus":1})",
      R"({"cmd":"unload","name":"a","bogus":1})",
      R"({"cmd":"list","bogus":1})",
      R"({"cmd":"info","name":"a","bogus":1})",
      R"({"cmd":"play","clip":"a","bogus":1})",
      R"({"cmd":"play","clip":"a","Gain_db":1})",
      R"({"cmd":"stop","all":true,"bogus":1})",
      R"({"cmd":"stop","voice":1,"ramp_s":1})",
      R"({"cmd":"pause","voice":1,"bogus":1})",
      R"({"cmd":"pause","voice":1,"at_frame":1})",
      R"({"cmd":"resume","voice":1,"bogus":1})",
      R"({"cmd":"set","voice":1,"gain_db":1,"bogus":1})",
      R"({"cmd":"set","voice":1,"gain_db":1,"fade_s":1})",
      R"({"cmd":"master","gain_db":1,"bogus":1})",
      R"({"cmd":"master","gain_db":1,"in_s":1})",
      R"({"cmd":"voices","bogus":1})",
      R"({"cmd":"meters","bogus":1})",
      R"({"cmd":"status","bogus":1})",
      R"({"cmd":"subscribe","bogus":1})",
      R"({"cmd":"unsubscribe","bogus":1})",
      R"({"cmd":"shutdown","bogus":1})",
      R"({"cmd":"bind","note":1,"clip":"a","bogus":1})",
      R"({"cmd":"unbind","note":1,"bogus":1})",
      R"({"cmd":"bindings","bogus":1})",
  };
  for (const std::string& line : lines) {
    SCOPED_TRACE(line);
    const ParseError error = parse_error(R"({"id":"u",)" + line.substr(1));
    EXPECT_EQ(error.code, ErrorCode::bad_request);
    EXPECT_EQ(error.id, RequestId{"u"});
    const bool names_it = error.message.find("'bogus'") != std::string::npos ||
                          error.message.find("'x'") != std::string::npos ||
                          error.message.find("'Gain_db'") != std::string::npos ||
                          error.message.find("'ramp_s'") != std::string::npos ||
                          error.message.find("'at_frame'") != std::string::npos ||
                          error.message.find("'fade_s'") != std::string::npos ||
                          error.message.find("'in_s'") != std::string::npos;
    EXPECT_TRUE(names_it) << error.message;
  }
}

TEST(ProtocolParse, MissingRequiredFieldsAreNamed) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"cmd":"load","path":"/p"})", "'name'"},
      {R"({"cmd":"load","name":"a"})", "'path'"},
      {R"({"cmd":"unload"})", "'name'"},
      {R"({"cmd":"info"})", "'name'"},
      {R"({"cmd":"play"})", "'clip'"},
      {R"({"cmd":"play","gain_db":1})", "'clip'"},
      {R"({"cmd":"stop"})", "'voice'"},
      {R"({"cmd":"stop","fade_s":1})", "'all'"},
      {R"({"cmd":"pause"})", "'voice'"},
      {R"({"cmd":"resume","fade_s":1})", "'voice'"},
      {R"({"cmd":"set","gain_db":1})", "'voice'"},
      {R"({"cmd":"set","voice":1})", "'gain_db'"},
      {R"({"cmd":"set","voice":1,"ramp_s":1})", "'pan'"},
      {R"({"cmd":"master"})", "'gain_db'"},
      {R"({"cmd":"master","ramp_s":1})", "'gain_db'"},
      {R"({"cmd":"bind","clip":"a"})", "'note'"},
      {R"({"cmd":"bind","note":1})", "'clip'"},
      {R"({"cmd":"unbind"})", "'note'"},
  };
  for (const auto& [line, field] : cases) {
    SCOPED_TRACE(line);
    const ParseError error = parse_error(line);
    EXPECT_EQ(error.code, ErrorCode::bad_request);
    EXPECT_NE(error.message.find(field), std::string::npos) << error.message;
  }
}

TEST(ProtocolParse, ExclusiveFieldsAreRejected) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"cmd":"play","clip":"a","at_frame":1,"in_s":1})", "'in_s'"},
      {R"({"cmd":"stop","all":true,"at_frame":1,"in_s":0})", "'at_frame'"},
      {R"({"cmd":"set","voice":1,"pan":0,"at_frame":1,"in_s":0})", "'at_frame'"},
      {R"({"cmd":"stop","voice":1,"clip":"a"})", "'clip'"},
      {R"({"cmd":"load","name":"a","path":"/p","stream":"yes"})", "'stream'"},
      {R"({"cmd":"load","name":"a","path":"/p","stream":1})", "'stream'"},
      {R"({"cmd":"load","name":"a","path":"/p","stream":null})", "'stream'"},
      {R"({"cmd":"stop","voice":1,"group":"a"})", "'group'"},
      {R"({"cmd":"stop","voice":1,"all":true})", "'all'"},
      {R"({"cmd":"stop","clip":"a","group":"g"})", "'group'"},
      {R"({"cmd":"stop","group":"g","all":true})", "'all'"},
      {R"({"cmd":"stop","all":false})", "'all'"},
      {R"({"cmd":"stop","voice":1,"all":false})", "'all'"},
      {R"({"cmd":"play","clip":"a","loop_end_s":0})", "'loop_end_s'"},
      {R"({"cmd":"play","clip":"a","loop_start_s":2,"loop_end_s":2})", "'loop_end_s'"},
      {R"({"cmd":"play","clip":"a","loop_start_s":2,"loop_end_s":1})", "'loop_end_s'"},
  };
  for (const auto& [line, field] : cases) {
    SCOPED_TRACE(line);
    const ParseError error = parse_error(line);
    EXPECT_EQ(error.code, ErrorCode::bad_request);
    EXPECT_NE(error.message.find(field), std::string::npos) << error.message;
  }
}

// ---- Wrong types and ranges, field by field -----------------------------------------------------

enum class Kind { name, boolean, number, integer, loop, outputs, events, mode, all };

struct FieldSpec {
  std::string base;  // a valid request without the field, as `{"cmd":..,` (no closing brace)
  std::string field;
  Kind kind;
  double lo = 0, hi = 0;  // for numbers and integers
};

std::vector<FieldSpec> field_specs() {
  const std::string play = R"({"cmd":"play","clip":"k",)";
  const std::string play_no_clip = R"({"cmd":"play",)";
  const std::string set = R"({"cmd":"set","voice":1,"gain_db":0,)";
  const std::string set_no_gain = R"({"cmd":"set","voice":1,"pan":0,)";
  const std::string set_no_voice = R"({"cmd":"set","pan":0,)";
  const std::string stop = R"({"cmd":"stop","all":true,)";
  const std::string bind = R"({"cmd":"bind","note":1,"clip":"k",)";
  const double imin = -9.2e18, imax = 9.2e18;
  return {
      {R"({"cmd":"load","path":"/p",)", "name", Kind::name},
      {R"({"cmd":"load","name":"n",)", "path", Kind::name},
      {R"({"cmd":"load","name":"n","path":"/p",)", "replace", Kind::boolean},
      {R"({"cmd":"unload",)", "name", Kind::name},
      {R"({"cmd":"info",)", "name", Kind::name},
      {play_no_clip, "clip", Kind::name},
      {play, "gain_db", Kind::number, -120, 24},
      {play, "pan", Kind::number, -1, 1},
      {play, "offset_s", Kind::number, 0, max_seconds},
      {play, "length_s", Kind::number, 0, max_seconds},
      {play, "loop", Kind::loop},
      {play, "loop_start_s", Kind::number, 0, max_seconds},
      {play, "fade_in_s", Kind::number, 0, max_seconds},
      {play, "at_frame", Kind::integer, 0, imax},
      {play, "in_s", Kind::number, 0, max_seconds},
      {play, "group", Kind::name},
      {play, "outputs", Kind::outputs},
      {R"({"cmd":"stop",)", "voice", Kind::integer, imin, imax},
      {R"({"cmd":"stop",)", "clip", Kind::name},
      {R"({"cmd":"stop",)", "group", Kind::name},
      {R"({"cmd":"stop",)", "all", Kind::all},
      {stop, "fade_s", Kind::number, 0, max_seconds},
      {stop, "at_frame", Kind::integer, 0, imax},
      {stop, "in_s", Kind::number, 0, max_seconds},
      {R"({"cmd":"pause",)", "voice", Kind::integer, imin, imax},
      {R"({"cmd":"pause","voice":1,)", "fade_s", Kind::number, 0, max_seconds},
      {R"({"cmd":"resume",)", "voice", Kind::integer, imin, imax},
      {R"({"cmd":"resume","voice":1,)", "fade_s", Kind::number, 0, max_seconds},
      {set_no_voice, "voice", Kind::integer, imin, imax},
      {set_no_gain, "gain_db", Kind::number, -120, 24},
      {R"({"cmd":"set","voice":1,"gain_db":0,)", "pan", Kind::number, -1, 1},
      {set, "ramp_s", Kind::number, 0, max_seconds},
      {set, "at_frame", Kind::integer, 0, imax},
      {set, "in_s", Kind::number, 0, max_seconds},
      {R"({"cmd":"master",)", "gain_db", Kind::number, -120, 24},
      {R"({"cmd":"master","gain_db":0,)", "ramp_s", Kind::number, 0, max_seconds},
      {R"({"cmd":"subscribe",)", "events", Kind::events},
      {R"({"cmd":"bind","clip":"k",)", "note", Kind::integer, 0, 127},
      {bind, "channel", Kind::integer, 1, 16},
      {R"({"cmd":"bind","note":1,)", "clip", Kind::name},
      {bind, "mode", Kind::mode},
      {bind, "velocity", Kind::boolean},
      {bind, "gain_db", Kind::number, -120, 24},
      {bind, "group", Kind::name},
      {R"({"cmd":"unbind",)", "note", Kind::integer, 0, 127},
      {R"({"cmd":"unbind","note":1,)", "channel", Kind::integer, 1, 16},
  };
}

std::string json_number(double value) {
  return dump_json(Json(value));
}

std::vector<std::string> bad_values(const FieldSpec& spec) {
  // Values of every JSON type but the right one.
  std::vector<std::string> values = {"null", "{}", "{\"a\":1}"};
  switch (spec.kind) {
    case Kind::name:
      values.insert(values.end(), {"1", "1.5", "true", "[]", "[\"a\"]", "\"\"", "\"a\\u0000b\""});
      break;
    case Kind::boolean:
      values.insert(values.end(), {"1", "0", "\"true\"", "[]", "[true]"});
      break;
    case Kind::all:
      values.insert(values.end(), {"1", "\"true\"", "[]", "false"});
      break;
    case Kind::number:
    case Kind::integer: {
      values.insert(values.end(), {"\"1\"", "true", "false", "[]", "[1]", "\"\"",
                                   // Not finite once read (strtod overflows to infinity).
                                   "1e400", "-1e400"});
      if (spec.lo > -9e18) values.push_back(json_number(spec.lo - 0.5));
      if (spec.lo > -9e18) values.push_back(json_number(spec.lo - 1));
      if (spec.kind == Kind::integer && spec.lo > -9e18) {
        values.push_back(std::to_string(static_cast<std::int64_t>(spec.lo) - 1));
      }
      if (spec.kind == Kind::integer && spec.hi < 9e18) {
        values.push_back(std::to_string(static_cast<std::int64_t>(spec.hi) + 1));
      }
      if (spec.hi < 9e18) values.push_back(json_number(spec.hi + 0.5));
      if (spec.hi < 9e18) values.push_back(json_number(spec.hi + 1));
      const bool seconds = spec.kind == Kind::number && spec.hi == max_seconds;
      // Seconds past max_seconds would overflow a frame count.
      if (seconds) values.insert(values.end(), {"-1e-300", "1e15", "1e300", "1000000000001"});
      if (spec.kind == Kind::integer) {
        // Integers must be integers: 3.0 and 1e2 are rejected; huge values too.
        values.insert(values.end(),
                      {"3.0", "1.5", "1e2", "-0.0", "1e30", "-1e30", "18446744073709551616",
                       "-9223372036854775809", "99999999999999999999999"});
        if (spec.hi < 9e18) values.push_back("18446744073709551615");
        if (spec.hi < 9e18) values.push_back("9223372036854775807");
        if (spec.lo > -9e18) values.push_back("-9223372036854775808");
      }
      if (seconds) values.push_back("-0.000001");
      break;
    }
    case Kind::loop:
      values.insert(values.end(), {"0", "-1", "1.0", "2.5", "\"true\"", "[]", "1e400",
                                   "18446744073709551615", "-9223372036854775808"});
      break;
    case Kind::outputs:
      values.insert(values.end(), {"1", "\"1,2\"", "[]", "[0]", "[3]", "[1,3]", "[-1]", "[1.0]",
                                   "[1.5]", "[\"1\"]", "[null]", "[[1]]", "[true]", "[1,1]",
                                   "[2,1,2]", "[18446744073709551615]", "[1e400]"});
      break;
    case Kind::events:
      values.insert(values.end(), {"\"xrun\"", "1", "true", "[1]", "[\"xrun\",null]", "[\"nope\"]",
                                   "[\"Xrun\"]", "[\"xrun\",\"voice-end\"]", "[[\"xrun\"]]"});
      break;
    case Kind::mode:
      values.insert(values.end(), {"1", "true", "[]", "\"\"", "\"one-shot\"", "\"Gate\""});
      break;
  }
  return values;
}

TEST(ProtocolParse, EveryWrongTypeAndRangeIsABadRequestNamingTheField) {
  int checked = 0;
  for (const FieldSpec& spec : field_specs()) {
    for (const std::string& value : bad_values(spec)) {
      const std::string line = spec.base + "\"id\":5,\"" + spec.field + "\":" + value + "}";
      SCOPED_TRACE(line);
      const ParseError error = parse_error(line);
      EXPECT_EQ(error.code, ErrorCode::bad_request);
      EXPECT_EQ(error.id, RequestId{std::int64_t{5}});
      EXPECT_NE(error.message.find("'" + spec.field + "'"), std::string::npos) << error.message;
      ++checked;
    }
  }
  EXPECT_GT(checked, 500);
}

TEST(ProtocolParse, RangeBoundsAreInclusive) {
  for (const FieldSpec& spec : field_specs()) {
    if (spec.kind != Kind::number && spec.kind != Kind::integer) continue;
    std::vector<double> good = {spec.lo};
    if (spec.hi < 9e18) good.push_back(spec.hi);
    if (spec.lo > -9e18 && spec.hi < 9e18) good.push_back((spec.lo + spec.hi) / 2);
    for (double v : good) {
      if (spec.kind == Kind::integer) v = std::floor(v);
      // Integers in integer form: at_frame 0, note 127 ...
      const std::string value = spec.kind == Kind::integer
                                    ? std::to_string(static_cast<std::int64_t>(v))
                                    : json_number(v);
      std::string line = spec.base + "\"" + spec.field + "\":" + value + "}";
      // A stop's target needs to be the only one: skip combining a voice target with `all`.
      if (spec.base.find("\"stop\",") != std::string::npos && spec.field == "voice") {
        line = R"({"cmd":"stop","voice":)" + value + "}";
      }
      SCOPED_TRACE(line);
      parse_ok(line);
    }
  }
  // Huge values are fine up to the bounds.
  parse_ok(R"({"cmd":"play","clip":"k","offset_s":1e12,"at_frame":9223372036854775807})");
  parse_ok(R"({"cmd":"stop","voice":-9223372036854775808})");
  parse_ok(R"({"cmd":"play","clip":"k","loop":9223372036854775807})");
}

TEST(ProtocolParse, OutputsDependOnTheDaemonsOutputCount) {
  const ParseLimits four{.max_outputs = 4};
  const ParsedRequest got = parse_ok(R"({"cmd":"play","clip":"k","outputs":[4,1,3]})", four);
  EXPECT_EQ(std::get<PlayRequest>(got.request).outputs, (std::vector<std::int64_t>{4, 1, 3}));
  const ParseError error = parse_error(R"({"cmd":"play","clip":"k","outputs":[5]})", four);
  EXPECT_NE(error.message.find("[1, 4]"), std::string::npos) << error.message;
  parse_error(R"({"cmd":"play","clip":"k","outputs":[3]})");  // default: two outputs
  parse_ok(R"({"cmd":"play","clip":"k","outputs":[2]})");
}

// ---- Hostile input
// --------------------------------------------------------------------------------

TEST(ProtocolParse, DeepNestingIsRejectedWithoutRecursion) {
  for (int depth : {max_json_depth + 1, 1000, 200000}) {
    const std::string junk = std::string(depth, '[') + std::string(depth, ']');
    const ParseError error = parse_error(R"({"cmd":"ping","x":)" + junk + "}");
    EXPECT_EQ(error.code, ErrorCode::bad_request);
    // Unterminated nesting is a syntax error only once the depth is within limits.
    const ParseError open = parse_error(std::string(depth, '{'));
    EXPECT_TRUE(open.code == ErrorCode::bad_request || open.code == ErrorCode::bad_json);
  }
  // Nested junk within the limit in an unknown field: bad-request naming it.
  const std::string ok_depth =
      std::string(max_json_depth - 3, '[') + std::string(max_json_depth - 3, ']');
  const ParseError error = parse_error(R"({"id":[{"a":)" + ok_depth + R"(}],"cmd":"ping"})");
  EXPECT_EQ(error.code, ErrorCode::bad_request);
  EXPECT_EQ(error.id, RequestId{InvalidId{"[{\"a\":" + ok_depth + "}]"}});
}

TEST(ProtocolParse, ManyFieldsAreRejectedQuickly) {
  std::string line = R"({"cmd":"ping")";
  for (int i = 0; i < 100000; ++i)
    line += ",\"f" + std::to_string(i) + "\":0";
  line += "}";
  EXPECT_EQ(parse_error(line).code, ErrorCode::bad_request);
  // Wide nested objects are kept (and rejected as an unknown field) in linear time.
  std::string wide = R"({"cmd":"ping","x":{)";
  for (int i = 0; i < 100000; ++i)
    wide += (i ? ",\"" : "\"") + std::to_string(i) + "\":0";
  wide += "}}";
  const ParseError error = parse_error(wide);
  EXPECT_NE(error.message.find("'x'"), std::string::npos) << error.message;
}

TEST(ProtocolParse, HugeNumbersNeverPassAsValues) {
  const std::vector<std::string> lines = {
      R"({"cmd":"master","gain_db":1e999999})",
      R"({"cmd":"master","gain_db":-1e309})",
      R"({"cmd":"master","gain_db":123456789012345678901234567890})",
      R"({"cmd":"play","clip":"k","in_s":1e309})",
      R"({"cmd":"stop","voice":1e19})",
      R"({"cmd":"stop","voice":123456789012345678901234567890})",
  };
  for (const std::string& line : lines) {
    SCOPED_TRACE(line);
    EXPECT_EQ(parse_error(line).code, ErrorCode::bad_request);
  }
  // Tiny numbers are just small: 1e-400 reads as 0.
  EXPECT_EQ(
      std::get<MasterRequest>(parse_ok(R"({"cmd":"master","gain_db":1e-400})").request).gain_db,
      0.0);
}

// Seconds are bounded so that, at any rate up to 768 kHz, they convert to a frame count below
// 2^62: larger values used to overflow the conversion and play from the start or cut at once.
TEST(ProtocolParse, HugeSecondsAreBadRequestsNamingTheField) {
  const std::vector<std::pair<std::string, std::string>> fields = {
      {R"({"cmd":"play","clip":"k",)", "offset_s"},
      {R"({"cmd":"play","clip":"k",)", "length_s"},
      {R"({"cmd":"play","clip":"k",)", "loop_start_s"},
      {R"({"cmd":"play","clip":"k",)", "loop_end_s"},
      {R"({"cmd":"play","clip":"k",)", "fade_in_s"},
      {R"({"cmd":"play","clip":"k",)", "in_s"},
      {R"({"cmd":"stop","all":true,)", "fade_s"},
      {R"({"cmd":"stop","voice":1,)", "in_s"},
      {R"({"cmd":"pause","voice":1,)", "fade_s"},
      {R"({"cmd":"resume","voice":1,)", "fade_s"},
      {R"({"cmd":"set","voice":1,"pan":0,)", "ramp_s"},
      {R"({"cmd":"set","voice":1,"pan":0,)", "in_s"},
      {R"({"cmd":"master","gain_db":0,)", "ramp_s"},
  };
  for (const auto& [base, field] : fields) {
    for (const std::string value : {"1e15", "1e300", "1.7976931348623157e308", "1000000000000.5"}) {
      const std::string line = base + "\"" + field + "\":" + value + "}";
      SCOPED_TRACE(line);
      const ParseError error = parse_error(line);
      EXPECT_EQ(error.code, ErrorCode::bad_request);
      EXPECT_NE(error.message.find("'" + field + "' is too large"), std::string::npos)
          << error.message;
    }
    // The bound itself is allowed (loop_end_s needs a loop_start_s below it: 0 is).
    parse_ok(base + "\"" + field + "\":1e12}");
  }
}

// The scan that finds the id judges JSON syntax as the parser does.
TEST(ProtocolParse, ScanAgreesWithTheParserOnSyntax) {
  for (const ValidCase& c : valid_cases()) {
    EXPECT_TRUE(scan_line(c.line).valid) << c.line;
  }
  const std::vector<std::string> broken = {
      "{",
      "{\"cmd\":\"ping\"",
      "{\"cmd\":\"ping\",}",
      "{cmd:1}",
      "{\"a\":01}",
      "{\"a\":1.}",
      "{\"a\":-}",
      "{\"a\":1e}",
      "{\"a\":\"\\x\"}",
      "{\"a\":\"\\ud800\"}",
      "{\"a\":\"\\udc00\"}",
      "{\"a\":\"\\ud800\\u0041\"}",
      "{\"a\":\"\\u12\"}",
      std::string("{\"a\":\"\x01\"}"),
      "{\"a\":\"\xc3\x28\"}",
      "{\"a\":\"\xed\xa0\x80\"}",
      "{\"a\":\"\xf4\x90\x80\x80\"}",
      "{\"a\":\"\xc0\xaf\"}",
      "{\"a\":\"\xe0\x80\x80\"}",
      "{\"a\":\"\xf0\x80\x80\x80\"}",
      "{\"a\":\"\xe2\x82\"}",
      "{\"a\":[1,]}",
      "{\"a\":[1}",
      "{\"a\":{]}",
      "{} {}",
      "[",
      "]",
      "nul",
      "tru",
      "{\"a\" 1}",
      "{\"a\":1 \"b\":2}",
  };
  for (const std::string& line : broken) {
    EXPECT_FALSE(Json::accept(line)) << line;  // the table itself is right
    EXPECT_FALSE(scan_line(line).valid) << line;
  }
  // nlohmann stops at a NUL byte (parse_request refuses such lines first); the scan does not.
  EXPECT_FALSE(scan_line(std::string("{\"a\":1}\0", 8)).valid);
  EXPECT_FALSE(scan_line(std::string("{\"a\":\"\0\"}", 9)).valid);
  for (const std::string line : {"[]", "[1,[2,{}]]", "\"\\u00e9\\ud83e\\udd41\"", "-0.5e-3",
                                 "{\"a\":\"\xe0\xa0\x80\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"}",
                                 " true ", "null", "{\"\":{\"\":[]}}"}) {
    EXPECT_TRUE(Json::accept(line)) << line;
    EXPECT_TRUE(scan_line(line).valid) << line;
  }
}

}  // namespace
}  // namespace clipd::protocol
