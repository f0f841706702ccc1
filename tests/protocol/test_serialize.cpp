// Replies, errors, events and results as lines, compared byte for byte with the contract's shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "control/protocol/protocol.hpp"

namespace clipd::protocol {
namespace {

constexpr double minus_inf = -std::numeric_limits<double>::infinity();

TEST(ProtocolSerialize, SuccessReplies) {
  Json result = Json::object();
  result["voice"] = 12;
  EXPECT_EQ(serialize_ok(std::int64_t{7}, result),
            "{\"id\":7,\"ok\":true,\"result\":{\"voice\":12}}\n");
  EXPECT_EQ(serialize_ok(std::string("a"), Json::object()),
            "{\"id\":\"a\",\"ok\":true,\"result\":{}}\n");
  EXPECT_EQ(serialize_ok(std::monostate{}, Json::object()),
            "{\"id\":null,\"ok\":true,\"result\":{}}\n");
  EXPECT_EQ(serialize_ok_empty(std::int64_t{-1}), "{\"id\":-1,\"ok\":true,\"result\":{}}\n");
  // Appending keeps what is there (the server fills one write buffer).
  std::string out = "x";
  append_ok_empty(out, std::int64_t{1});
  append_ok(out, std::int64_t{2}, Json::object());
  EXPECT_EQ(out, "x{\"id\":1,\"ok\":true,\"result\":{}}\n{\"id\":2,\"ok\":true,\"result\":{}}\n");
}

// Every kind of id goes back as its request wrote it: numbers past the 64-bit range and ids of
// the wrong type as their token text (1e3 stays 1e3), strings re-escaped to the same value.
TEST(ProtocolSerialize, IdsAreEchoedAsWritten) {
  const struct {
    RequestId id;
    std::string echoed;
  } cases[] = {
      {std::monostate{}, "null"},
      {std::int64_t{-9}, "-9"},
      {std::string("a\"\xc3\xa9"), "\"a\\\"\xc3\xa9\""},
      {IntegerToken{"18446744073709551616"}, "18446744073709551616"},
      {IntegerToken{"-0"}, "-0"},
      {InvalidId{"1e3"}, "1e3"},
      {InvalidId{"[1, {\"a\" : 1e400}]"}, "[1, {\"a\" : 1e400}]"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.echoed);
    EXPECT_EQ(serialize_ok_empty(c.id), "{\"id\":" + c.echoed + ",\"ok\":true,\"result\":{}}\n");
    EXPECT_EQ(serialize_error(c.id, ErrorCode::bad_request, "m"),
              "{\"id\":" + c.echoed +
                  ",\"ok\":false,\"error\":{\"code\":\"bad-request\",\"message\":\"m\"}}\n");
    std::string out;
    append_id(out, c.id);
    EXPECT_EQ(out, c.echoed);
  }
  // A big integer id survives the canonical form too (clipctl writes requests with it).
  EXPECT_EQ(serialize_request({IntegerToken{"18446744073709551616"}, PingRequest{}}),
            "{\"id\":18446744073709551616,\"cmd\":\"ping\"}\n");
  EXPECT_EQ(serialize_request({InvalidId{"1e3"}, PingRequest{}}), "{\"cmd\":\"ping\"}\n");
}

// One result shared by many replies (coalesced queries) gives the same text as each serialised
// on its own.
TEST(ProtocolSerialize, ASharedResultIsSplicedIntoEachReply) {
  const Json result{{"voices", Json::array({Json{{"voice", 3}, {"clip", "k\"ick"}, {"pan", -0.5}},
                                            Json{{"voice", 4}, {"gain_db", -6.0}}})}};
  const std::shared_ptr<const std::string> shared = share_result(result);
  const RequestId ids[] = {std::monostate{}, std::int64_t{7}, std::string("q"),
                           IntegerToken{"18446744073709551616"}};
  for (const RequestId& id : ids)
    EXPECT_EQ(serialize_ok_head(id) + *shared, serialize_ok(id, result));
}

TEST(ProtocolSerialize, ErrorReplies) {
  EXPECT_EQ(serialize_error(std::int64_t{7}, clip_not_found("kick")),
            "{\"id\":7,\"ok\":false,\"error\":{\"code\":\"clip-not-found\",\"message\":\"no clip "
            "named 'kick'\"}}\n");
  EXPECT_EQ(line_too_long_reply(1048576),
            "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"line-too-long\",\"message\":\"line "
            "longer than 1048576 bytes\"}}\n");
  EXPECT_EQ(
      serialize_error(std::string("q\""), ErrorCode::internal, "a\nb"),
      "{\"id\":\"q\\\"\",\"ok\":false,\"error\":{\"code\":\"internal\",\"message\":\"a\\nb\"}}\n");
  // The typed errors the command core answers with, and the contract's wording of each.
  const struct {
    Error error;
    std::string code;
    std::string message;
  } errors[] = {
      {clip_not_found("k"), "clip-not-found", "no clip named 'k'"},
      {clip_exists("k"), "clip-exists", "a clip named 'k' exists (use replace)"},
      {voice_not_found(9), "voice-not-found", "no voice 9"},
      {engine_offline(), "engine-offline", "the engine is offline (no audio server)"},
      {cancelled("k"), "cancelled", "load of 'k' cancelled"},
      {internal_error("boom"), "internal", "boom"},
  };
  for (const auto& e : errors) {
    const std::string text = serialize_error(std::int64_t{1}, e.error);
    const auto line = parse_server_line(text);
    ASSERT_TRUE(line.has_value()) << text;
    const auto& reply = std::get<ReplyLine>(*line);
    EXPECT_FALSE(reply.ok);
    EXPECT_EQ(reply.id, Json(1));
    EXPECT_EQ(reply.error_code, e.code);
    EXPECT_EQ(reply.error_message, e.message);
  }
}

TEST(ProtocolSerialize, ErrorCodesHaveTheContractsNames) {
  const char* names[] = {
      "bad-json",           "bad-request",    "unknown-command", "line-too-long",
      "clip-not-found",     "clip-exists",    "file-not-found",  "permission-denied",
      "unsupported-format", "decode-failed",  "memory-budget",   "cancelled",
      "voice-not-found",    "engine-offline", "internal",        "limit"};
  for (int i = 0; i <= static_cast<int>(ErrorCode::limit); ++i) {
    EXPECT_EQ(to_string(static_cast<ErrorCode>(i)), names[i]);
    EXPECT_EQ(error_code_from_string(names[i]), static_cast<ErrorCode>(i));
  }
  EXPECT_FALSE(error_code_from_string("nope").has_value());
}

TEST(ProtocolSerialize, InvalidUtf8InResultsIsReplacedNotThrown) {
  Json result = Json::object();
  result["path"] = std::string("/a/\xff\xfe.wav");
  const std::string line = serialize_ok(std::int64_t{1}, result);
  EXPECT_EQ(line,
            "{\"id\":1,\"ok\":true,\"result\":{\"path\":\"/a/\xef\xbf\xbd\xef\xbf\xbd.wav\"}}\n");
  EXPECT_TRUE(Json::accept(line));
  const std::string error = serialize_error(std::int64_t{1}, ErrorCode::file_not_found, "\xc3");
  EXPECT_TRUE(Json::accept(error));
}

TEST(ProtocolSerialize, Events) {
  EXPECT_EQ(serialize_event(ClipLoadedEvent{"kick"}),
            "{\"event\":\"clip-loaded\",\"name\":\"kick\"}\n");
  EXPECT_EQ(serialize_event(ClipUnloadedEvent{"kick"}),
            "{\"event\":\"clip-unloaded\",\"name\":\"kick\"}\n");
  EXPECT_EQ(serialize_event(ClipFailedEvent{"kick", "gone"}),
            "{\"event\":\"clip-failed\",\"name\":\"kick\",\"error\":\"gone\"}\n");
  EXPECT_EQ(serialize_event(VoiceStartedEvent{3, "kick", 123456, true, Trigger::midi}),
            "{\"event\":\"voice-started\",\"voice\":3,\"clip\":\"kick\",\"frame\":123456,\"late\":"
            "true,\"trigger\":\"midi\"}\n");
  EXPECT_EQ(serialize_event(VoiceEndedEvent{3, "kick", 123999, EndReason::choked}),
            "{\"event\":\"voice-ended\",\"voice\":3,\"clip\":\"kick\",\"frame\":123999,\"reason\":"
            "\"choked\"}\n");
  EXPECT_EQ(serialize_event(XrunEvent{4}), "{\"event\":\"xrun\",\"count\":4}\n");
  EXPECT_EQ(serialize_event(EngineOfflineEvent{}), "{\"event\":\"engine-offline\"}\n");
  EXPECT_EQ(serialize_event(EngineOnlineEvent{48000, 256, 1024}),
            "{\"event\":\"engine-online\",\"sample_rate\":48000,\"buffer_size\":256,\"frame\":1024}"
            "\n");
  EXPECT_EQ(serialize_event(UnderrunEvent{5, "song", 4800, 256}),
            "{\"event\":\"underrun\",\"voice\":5,\"clip\":\"song\",\"frame\":4800,"
            "\"frames_missed\":256}\n");
  const char* reasons[] = {"finished", "stopped", "stolen",   "choked",
                           "unloaded", "offline", "shutdown", "read-error"};
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(to_string(static_cast<EndReason>(i)), reasons[i]);
  EXPECT_EQ(kind_of(VoiceEndedEvent{}), EventKind::voice_ended);
  EXPECT_EQ(kind_of(EngineOnlineEvent{}), EventKind::engine_online);
}

TEST(ProtocolSerialize, EventSets) {
  EventSet set;
  EXPECT_TRUE(set.empty());
  set.insert(EventKind::xrun);
  EXPECT_TRUE(set.contains(EventKind::xrun));
  EXPECT_FALSE(set.contains(EventKind::voice_ended));
  for (int k = 0; k < event_kind_count; ++k) {
    const auto kind = static_cast<EventKind>(k);
    EXPECT_TRUE(EventSet::all().contains(kind));
    EXPECT_EQ(event_kind_from_string(to_string(kind)), kind);
  }
  EXPECT_FALSE(event_kind_from_string("voice").has_value());
}

TEST(ProtocolSerialize, MinusInfinityDecibelsAreNull) {
  EXPECT_EQ(decibels(minus_inf), Json(nullptr));
  EXPECT_EQ(decibels(std::nan("")), Json(nullptr));
  EXPECT_EQ(decibels(-6.5), Json(-6.5));
  MetersResult meters{{minus_inf, -3}, {-12.25, minus_inf}};
  EXPECT_EQ(dump_json(to_json(meters)), "{\"peak_db\":[null,-3.0],\"rms_db\":[-12.25,null]}");
}

TEST(ProtocolSerialize, ResultsHaveTheContractsFields) {
  ClipInfo clip{"kick", "/s/kick.wav", 48000, 2, 48000, 44100, 1.0, 384000, true, 2880};
  EXPECT_EQ(
      dump_json(to_json(clip)),
      "{\"name\":\"kick\",\"path\":\"/s/kick.wav\",\"frames\":48000,\"channels\":2,"
      "\"sample_rate\":48000,\"source_sample_rate\":44100,\"duration_s\":1.0,\"bytes\":384000,"
      "\"locked\":true,\"non_finite_samples\":2880,\"streamed\":false,\"head_frames\":0,"
      "\"head_s\":0.0}");
  // Counts past 2^53 stay exact integers (no detour through a double).
  clip.non_finite_samples = (std::uint64_t{1} << 60) + 1;
  EXPECT_NE(dump_json(to_json(clip)).find("\"non_finite_samples\":1152921504606846977,"),
            std::string::npos);
  VoiceInfo voice{5, "kick", VoiceState::paused, 0.5, std::nullopt, -6, 0.25, "drums"};
  EXPECT_EQ(dump_json(to_json(voice)),
            "{\"voice\":5,\"clip\":\"kick\",\"state\":\"paused\",\"position_s\":0.5,"
            "\"remaining_s\":null,\"gain_db\":-6.0,\"pan\":0.25,\"group\":\"drums\"}");
  HelloResult hello{"0.1.0",      std::nullopt, std::nullopt, "clipd",
                    std::nullopt, std::nullopt, "clipd"};
  EXPECT_EQ(dump_json(to_json(hello)),
            "{\"protocol\":1,\"server\":\"clipd\",\"version\":\"0.1.0\",\"sample_rate\":null,"
            "\"buffer_size\":null,\"jack_client\":\"clipd\",\"frame\":null,\"backend\":null,"
            "\"client\":\"clipd\"}");
  HelloResult online_hello{"0.1.0", 48000, 256, "clipd-01", 4096, "pipewire", "clipd-01"};
  EXPECT_EQ(dump_json(to_json(online_hello)),
            "{\"protocol\":1,\"server\":\"clipd\",\"version\":\"0.1.0\",\"sample_rate\":48000,"
            "\"buffer_size\":256,\"jack_client\":\"clipd-01\",\"frame\":4096,"
            "\"backend\":\"pipewire\",\"client\":\"clipd-01\"}");
  StatusResult status;
  status.online = true;
  status.backend = "jack";
  status.sample_rate = 48000;
  status.buffer_size = 128;
  status.frame = 99;
  status.usecs = 1000;
  status.latency_frames = 256;
  status.xruns = 1;
  status.dsp_load = 2.5;
  status.voices = 3;
  status.max_voices = 256;
  status.clips = 4;
  status.memory_bytes = 10;
  status.memory_budget_bytes = 20;
  status.underruns = 7;
  status.master_gain_db = minus_inf;
  status.uptime_s = 1.5;
  EXPECT_EQ(dump_json(to_json(status)),
            "{\"engine\":\"online\",\"backend\":\"jack\",\"sample_rate\":48000,\"buffer_size\":128,"
            "\"frame\":99,\"usecs\":1000,\"latency_frames\":256,\"xruns\":1,\"dsp_load\":2.5,"
            "\"voices\":3,\"max_voices\":256,\"clips\":4,\"memory_bytes\":10,"
            "\"memory_budget_bytes\":20,\"underruns\":7,\"master_gain_db\":null,\"uptime_s\":1.5}");
  // A server that reports neither latency nor load: both null, online or not.
  status.latency_frames = std::nullopt;
  status.dsp_load = std::nullopt;
  const protocol::Json j = to_json(status);
  EXPECT_TRUE(j["latency_frames"].is_null());
  EXPECT_TRUE(j["dsp_load"].is_null());
  EXPECT_EQ(j["engine"], "online");
  EXPECT_EQ(dump_json(to_json(BindRequest{36, std::nullopt, "kick", BindMode::gate, true, -3, {}})),
            "{\"note\":36,\"channel\":null,\"clip\":\"kick\",\"mode\":\"gate\",\"velocity\":true,"
            "\"gain_db\":-3.0,\"group\":null}");
}

TEST(ProtocolSerialize, ServerLinesParseBack) {
  auto reply = parse_server_line(R"({"id":"a","ok":true,"result":{"voice":3}})");
  ASSERT_TRUE(reply && std::holds_alternative<ReplyLine>(*reply));
  EXPECT_EQ(std::get<ReplyLine>(*reply).id, Json("a"));
  EXPECT_EQ(std::get<ReplyLine>(*reply).result["voice"], Json(3));
  auto event = parse_server_line(serialize_event(XrunEvent{2}));
  ASSERT_TRUE(event && std::holds_alternative<EventLine>(*event));
  EXPECT_EQ(std::get<EventLine>(*event).event, "xrun");
  EXPECT_EQ(std::get<EventLine>(*event).fields["count"], Json(2));
  EXPECT_FALSE(parse_server_line("{").has_value());
  EXPECT_FALSE(parse_server_line("[]").has_value());
  EXPECT_FALSE(parse_server_line(R"({"id":1,"ok":true})").has_value());
  EXPECT_FALSE(parse_server_line(R"({"id":1,"ok":false,"error":{}})").has_value());
}

}  // namespace
}  // namespace clipd::protocol
