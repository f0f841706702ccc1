// The OSC front end's pure parts: packet decoding (messages, bundles, nesting, refusals), the
// mapping from both address forms to the JSON contract's request object, the reply encoding, the
// timetag-to-frame mapping and the allow list's networks.
#include <gtest/gtest.h>

#include <lo/lo.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "control/osc/clock.hpp"
#include "control/osc/network.hpp"
#include "control/osc/packet.hpp"
#include "control/osc/reply.hpp"
#include "control/osc/request.hpp"
#include "control/protocol/parse.hpp"

namespace clipd::control::osc {
namespace {

using protocol::ErrorCode;
using protocol::Json;

std::vector<std::byte> bytes_of(const void* data, std::size_t size) {
  std::vector<std::byte> out(size);
  std::memcpy(out.data(), data, size);
  return out;
}

// A message built and serialised by liblo itself.
std::vector<std::byte> lo_bytes(const char* path, lo_message m) {
  std::size_t size = 0;
  void* data = lo_message_serialise(m, path, nullptr, &size);
  auto out = bytes_of(data, size);
  std::free(data);
  lo_message_free(m);
  return out;
}

std::vector<Message> decode_ok(const std::vector<std::byte>& bytes) {
  auto decoded = decode_packet(bytes);
  if (auto* err = std::get_if<DecodeError>(&decoded)) {
    ADD_FAILURE() << "decode failed: " << err->message;
    return {};
  }
  return std::get<std::vector<Message>>(decoded);
}

std::string decode_error(const std::vector<std::byte>& bytes) {
  auto decoded = decode_packet(bytes);
  if (auto* err = std::get_if<DecodeError>(&decoded)) return err->message;
  ADD_FAILURE() << "decoded a packet that should be refused";
  return {};
}

Message msg(std::string address, std::vector<Arg> args) {
  return Message{std::move(address), std::move(args), std::nullopt};
}

Json request_of(const Message& m) {
  auto r = to_request_object(m);
  if (auto* err = std::get_if<RequestError>(&r)) {
    ADD_FAILURE() << m.address << ": " << err->message;
    return {};
  }
  if (std::holds_alternative<Release>(r)) {
    ADD_FAILURE() << m.address << ": a release";
    return {};
  }
  return std::get<Json>(r);
}

RequestError error_of(const Message& m) {
  auto r = to_request_object(m);
  if (auto* err = std::get_if<RequestError>(&r)) return *err;
  ADD_FAILURE() << m.address << ": mapped, but should be refused";
  return {};
}

TEST(OscDecode, EveryArgumentTypeOfLiblo) {
  lo_message m = lo_message_new();
  lo_message_add_int32(m, -7);
  lo_message_add_int64(m, std::int64_t{1} << 40);
  lo_message_add_float(m, 0.5f);
  lo_message_add_double(m, -6.25);
  lo_message_add_string(m, "kick");
  lo_message_add_symbol(m, "sym");
  lo_message_add_char(m, 'x');
  lo_message_add_true(m);
  lo_message_add_false(m);
  lo_message_add_nil(m);
  lo_message_add_infinitum(m);
  const std::uint8_t midi[4] = {0x90, 60, 100, 0};
  lo_message_add_midi(m, const_cast<std::uint8_t*>(midi));
  const auto messages = decode_ok(lo_bytes("/clipd/play", m));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].address, "/clipd/play");
  EXPECT_FALSE(messages[0].timetag.has_value());
  const std::vector<Arg> expected = {std::int64_t{-7},
                                     std::int64_t{1} << 40,
                                     0.5,
                                     -6.25,
                                     std::string("kick"),
                                     std::string("sym"),
                                     std::string("x"),
                                     true,
                                     false,
                                     Nil{},
                                     std::numeric_limits<double>::infinity(),
                                     Unsupported{'m'}};
  EXPECT_EQ(messages[0].args, expected);
}

TEST(OscDecode, BundleKeepsOrderAndTimetag) {
  const std::vector<std::byte> a = encode_message("/clipd/ping", {});
  const Arg play_args[] = {std::string("kick")};
  const std::vector<std::byte> b = encode_message("/clipd/play", play_args);
  const std::vector<std::byte> elements[] = {a, b};
  const Timetag tag{3900000000u, 0x80000000u};
  const auto messages = decode_ok(encode_bundle(tag, elements));
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].address, "/clipd/ping");
  EXPECT_EQ(messages[1].address, "/clipd/play");
  EXPECT_EQ(messages[1].args, std::vector<Arg>{std::string("kick")});
  EXPECT_EQ(messages[0].timetag, tag);
  EXPECT_EQ(messages[1].timetag, tag);
}

TEST(OscDecode, LibloBundleDecodes) {
  lo_timetag tt{3900000001u, 42};
  lo_bundle bundle = lo_bundle_new(tt);
  for (int i = 0; i < 3; ++i) {
    lo_message m = lo_message_new();
    lo_message_add_int32(m, i);
    lo_bundle_add_message(bundle, "/clipd/voice/1/stop", m);
  }
  std::size_t size = 0;
  void* data = lo_bundle_serialise(bundle, nullptr, &size);
  const auto bytes = bytes_of(data, size);
  std::free(data);
  lo_bundle_free_recursive(bundle);
  const auto messages = decode_ok(bytes);
  ASSERT_EQ(messages.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(messages[i].args, std::vector<Arg>{std::int64_t{i}});
    EXPECT_EQ(messages[i].timetag, (Timetag{3900000001u, 42}));
  }
}

TEST(OscDecode, NestedBundlesTakeTheInnermostTimetagButNeverEarlier) {
  const auto ping = encode_message("/clipd/ping", {});
  const std::vector<std::byte> inner_late[] = {ping};
  const auto late = encode_bundle(Timetag{200, 0}, inner_late);
  const auto early = encode_bundle(Timetag{50, 0}, inner_late);
  const auto now = encode_bundle(Timetag{}, inner_late);
  const std::vector<std::byte> outer_elements[] = {ping, late, early, now};
  const auto messages = decode_ok(encode_bundle(Timetag{100, 0}, outer_elements));
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_EQ(messages[0].timetag, (Timetag{100, 0}));
  EXPECT_EQ(messages[1].timetag, (Timetag{200, 0}));
  EXPECT_EQ(messages[2].timetag, (Timetag{100, 0}));  // earlier than its bundle: the bundle's
  EXPECT_EQ(messages[3].timetag, (Timetag{100, 0}));
}

TEST(OscDecode, EmptyBundleHasNoMessages) {
  EXPECT_TRUE(decode_ok(encode_bundle(Timetag{}, {})).empty());
}

TEST(OscDecode, RefusesBrokenFraming) {
  const auto ping = encode_message("/clipd/ping", {});
  const std::vector<std::byte> one[] = {ping};
  auto bundle = encode_bundle(Timetag{}, one);

  auto cut = bundle;
  cut.resize(cut.size() - 4);
  EXPECT_NE(decode_error(cut).find("past the packet's end"), std::string::npos);

  auto odd_size = bundle;
  odd_size[19] = std::byte{7};
  EXPECT_NE(decode_error(odd_size).find("multiple of 4"), std::string::npos);

  auto zero_size = bundle;
  zero_size[19] = std::byte{0};
  EXPECT_NE(decode_error(zero_size).find("multiple of 4"), std::string::npos);

  auto header_only = bundle;
  header_only.resize(12);
  EXPECT_NE(decode_error(header_only).find("header"), std::string::npos);

  auto not_aligned = ping;
  not_aligned.push_back(std::byte{0});
  EXPECT_NE(decode_error(not_aligned).find("multiple of 4"), std::string::npos);

  auto no_slash = ping;
  no_slash[0] = std::byte{'x'};
  EXPECT_NE(decode_error(no_slash).find("'/'"), std::string::npos);

  EXPECT_FALSE(decode_error({}).empty());

  // A type tag string that promises an argument the message does not hold.
  auto bad_types = encode_message("/clipd/ping", {});
  const std::vector<std::byte> tags = bytes_of(",i\0\0", 4);
  std::copy(tags.begin(), tags.end(), bad_types.end() - 4);
  EXPECT_NE(decode_error(bad_types).find("malformed message"), std::string::npos);
}

TEST(OscDecode, RefusesBundlesNestedTooDeep) {
  std::vector<std::byte> packet = encode_message("/clipd/ping", {});
  for (int depth = 1; depth <= max_bundle_depth; ++depth) {
    const std::vector<std::byte> inner[] = {packet};
    packet = encode_bundle(Timetag{}, inner);
  }
  EXPECT_EQ(decode_ok(packet).size(), 1u);
  const std::vector<std::byte> inner[] = {packet};
  EXPECT_NE(decode_error(encode_bundle(Timetag{}, inner)).find("deeper"), std::string::npos);
}

TEST(OscRequest, GenericFormTakesMainArgumentsThenPairs) {
  EXPECT_EQ(request_of(msg("/clipd/play", {std::string("kick"), std::string("gain_db"), -6.5,
                                           std::string("id"), std::int64_t{7}})),
            Json::parse(R"({"cmd":"play","clip":"kick","gain_db":-6.5,"id":7})"));
  EXPECT_EQ(request_of(msg("/clipd/load", {std::string("kick"), std::string("/a/kick.wav"),
                                           std::string("stream"), std::string("auto")})),
            Json::parse(R"({"cmd":"load","name":"kick","path":"/a/kick.wav","stream":"auto"})"));
  EXPECT_EQ(request_of(msg("/clipd/status", {})), Json::parse(R"({"cmd":"status"})"));
  EXPECT_EQ(request_of(msg("/clipd/stop", {std::string("group"), std::string("pads"),
                                           std::string("fade_s"), 0.25})),
            Json::parse(R"({"cmd":"stop","group":"pads","fade_s":0.25})"));
  EXPECT_EQ(request_of(msg("/clipd/bind", {std::int64_t{60}, std::string("kick"),
                                           std::string("mode"), std::string("gate")})),
            Json::parse(R"({"cmd":"bind","note":60,"clip":"kick","mode":"gate"})"));
  // Whole reals count as integers (faders send floats); lists travel as JSON text.
  EXPECT_EQ(request_of(msg("/clipd/set", {12.0, std::string("pan"), -1.0})),
            Json::parse(R"({"cmd":"set","voice":12,"pan":-1})"));
  EXPECT_EQ(request_of(msg("/clipd/play",
                           {std::string("kick"), std::string("outputs"), std::string("[1,2]")})),
            Json::parse(R"({"cmd":"play","clip":"kick","outputs":[1,2]})"));
  EXPECT_EQ(request_of(msg("/clipd/subscribe",
                           {std::string("events"), std::string(R"(["voice-started"])")})),
            Json::parse(R"({"cmd":"subscribe","events":["voice-started"]})"));
  // An unknown command is still a request object: parse_request answers unknown-command.
  EXPECT_EQ(request_of(msg("/clipd/dance", {})), Json::parse(R"({"cmd":"dance"})"));
}

TEST(OscRequest, ControlFormPutsTheTargetInTheAddress) {
  EXPECT_EQ(request_of(msg("/clipd/clip/kick/play", {})),
            Json::parse(R"({"cmd":"play","clip":"kick"})"));
  EXPECT_EQ(request_of(msg("/clipd/clip/kick/play", {1.0f})),
            Json::parse(R"({"cmd":"play","clip":"kick"})"));
  EXPECT_EQ(
      request_of(msg("/clipd/clip/kick/play", {std::int64_t{1}, std::string("gain_db"), -3.0})),
      Json::parse(R"({"cmd":"play","clip":"kick","gain_db":-3})"));
  EXPECT_EQ(request_of(msg("/clipd/clip/kick/stop", {true})),
            Json::parse(R"({"cmd":"stop","clip":"kick"})"));
  EXPECT_EQ(request_of(msg("/clipd/clip/kick/unload", {})),
            Json::parse(R"({"cmd":"unload","name":"kick"})"));
  EXPECT_EQ(request_of(msg("/clipd/clip/kick/info", {})),
            Json::parse(R"({"cmd":"info","name":"kick"})"));
  EXPECT_EQ(request_of(msg("/clipd/clip/kick/load", {std::string("/a/k.wav")})),
            Json::parse(R"({"cmd":"load","name":"kick","path":"/a/k.wav"})"));
  EXPECT_EQ(request_of(msg("/clipd/group/pads/stop", {})),
            Json::parse(R"({"cmd":"stop","group":"pads"})"));
  EXPECT_EQ(request_of(msg("/clipd/all/stop", {})), Json::parse(R"({"cmd":"stop","all":true})"));
  EXPECT_EQ(request_of(msg("/clipd/voice/12/pause", {})),
            Json::parse(R"({"cmd":"pause","voice":12})"));
  EXPECT_EQ(request_of(msg("/clipd/voice/12/resume", {})),
            Json::parse(R"({"cmd":"resume","voice":12})"));
  EXPECT_EQ(request_of(msg("/clipd/voice/12/stop", {})),
            Json::parse(R"({"cmd":"stop","voice":12})"));
  EXPECT_EQ(request_of(msg("/clipd/voice/12/gain_db", {-6.0f})),
            Json::parse(R"({"cmd":"set","voice":12,"gain_db":-6})"));
  EXPECT_EQ(request_of(msg("/clipd/voice/12/pan", {0.5f, std::string("ramp_s"), 0.5f})),
            Json::parse(R"({"cmd":"set","voice":12,"pan":0.5,"ramp_s":0.5})"));
  EXPECT_EQ(request_of(msg("/clipd/master", {-6.0f})),
            Json::parse(R"({"cmd":"master","gain_db":-6})"));
}

TEST(OscRequest, ButtonReleaseIsNoRequest) {
  EXPECT_TRUE(std::holds_alternative<Release>(to_request_object(msg("/clipd/clip/a/play", {0.0}))));
  EXPECT_TRUE(std::holds_alternative<Release>(
      to_request_object(msg("/clipd/group/g/stop", {std::int64_t{0}}))));
  EXPECT_TRUE(std::holds_alternative<Release>(to_request_object(msg("/clipd/all/stop", {false}))));
}

TEST(OscRequest, RefusalsNameTheProblemAndKeepTheId) {
  auto e = error_of(msg("/clipd/play", {std::string("kick"), std::string("id"), std::int64_t{5},
                                        std::string("gain_db")}));
  EXPECT_EQ(e.code, ErrorCode::bad_request);
  EXPECT_EQ(e.id, protocol::RequestId{std::int64_t{5}});
  EXPECT_EQ(e.message, "field 'gain_db' has no value");

  // A trailing id pair is the id even when what comes before it is wrong.
  e = error_of(msg("/clipd/play", {std::string("kick"), std::string("gain_db"), std::string("id"),
                                   std::int64_t{6}}));
  EXPECT_EQ(e.id, protocol::RequestId{std::int64_t{6}});
  EXPECT_EQ(e.message, "field 'gain_db' has no value");
  EXPECT_EQ(request_of(msg("/clipd/play", {std::string("id"), std::int64_t{8}})),
            Json::parse(R"({"cmd":"play","id":8})"));
  EXPECT_TRUE(std::holds_alternative<Release>(
      to_request_object(msg("/clipd/clip/a/play", {0.0, std::string("id"), std::int64_t{9}}))));

  e = error_of(msg("/clipd/play", {std::string("kick"), 3.0, 4.0}));
  EXPECT_EQ(e.code, ErrorCode::bad_request);
  EXPECT_NE(e.message.find("argument 2 must be a field name"), std::string::npos);

  e = error_of(msg("/clipd/play", {std::string("kick"), std::string("gain_db"), 1.0,
                                   std::string("gain_db"), 2.0}));
  EXPECT_EQ(e.message, "field 'gain_db' is given twice");

  e = error_of(msg("/clipd/play", {std::string("kick"), std::string("gain_db"),
                                   std::numeric_limits<double>::infinity()}));
  EXPECT_EQ(e.message, "field 'gain_db' must be a finite number");

  e = error_of(msg("/clipd/play", {std::string("kick"), std::string("pan"), Unsupported{'b'}}));
  EXPECT_NE(e.message.find("OSC type 'b'"), std::string::npos);

  e = error_of(msg("/clipd/play", {std::string("kick"), std::string("cmd"), std::string("x")}));
  EXPECT_NE(e.message.find("'cmd'"), std::string::npos);

  e = error_of(msg("/other/play", {std::string("id"), std::string("x")}));
  EXPECT_EQ(e.code, ErrorCode::unknown_command);
  EXPECT_EQ(e.id, protocol::RequestId{std::string("x")});

  e = error_of(msg("/clipd/clip/kick/dance", {}));
  EXPECT_EQ(e.code, ErrorCode::unknown_command);
  e = error_of(msg("/clipd/voice/x1/stop", {}));
  EXPECT_EQ(e.code, ErrorCode::bad_request);
  EXPECT_NE(e.message.find("not a voice id"), std::string::npos);
  e = error_of(msg("/clipd/clip//play", {}));
  EXPECT_EQ(e.code, ErrorCode::unknown_command);
}

TEST(OscRequest, ParsesIntoTheJsonContractsTypedRequest) {
  // The front end's whole path for one message: the object, then parse_request.
  const Json object =
      request_of(msg("/clipd/clip/kick/play",
                     {1.0, std::string("gain_db"), -6.0, std::string("id"), std::string("a")}));
  auto parsed = protocol::parse_request(object.dump());
  ASSERT_TRUE(std::holds_alternative<protocol::ParsedRequest>(parsed));
  const auto& p = std::get<protocol::ParsedRequest>(parsed);
  EXPECT_EQ(p.id, protocol::RequestId{std::string("a")});
  const auto& play = std::get<protocol::PlayRequest>(p.request);
  EXPECT_EQ(play.clip, "kick");
  EXPECT_EQ(play.gain_db, -6.0);

  // A value out of range: the contract's own error.
  parsed = protocol::parse_request(request_of(msg("/clipd/voice/3/gain_db", {99.0})).dump());
  ASSERT_TRUE(std::holds_alternative<protocol::ParseError>(parsed));
  EXPECT_EQ(std::get<protocol::ParseError>(parsed).code, ErrorCode::bad_request);
  EXPECT_EQ(std::get<protocol::ParseError>(parsed).message,
            "field 'gain_db' must be in [-120, 24]");
}

TEST(OscReply, ResultsAreNameValuePairsWithListsAsJsonText) {
  const Json result = Json::parse(
      R"({"voice":3,"frame":9000000000,"late":false,"gain_db":-6.5,"group":null,"clip":"kick",)"
      R"("outputs":[1,2]})");
  const auto messages = decode_ok(encode_reply(protocol::RequestId{std::int64_t{9}}, result));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].address, "/clipd/reply");
  const std::vector<Arg> expected = {std::int64_t{9},
                                     std::string("voice"),
                                     std::int64_t{3},
                                     std::string("frame"),
                                     std::int64_t{9000000000},
                                     std::string("late"),
                                     false,
                                     std::string("gain_db"),
                                     -6.5,
                                     std::string("group"),
                                     Nil{},
                                     std::string("clip"),
                                     std::string("kick"),
                                     std::string("outputs"),
                                     std::string("[1,2]")};
  EXPECT_EQ(messages[0].args, expected);

  const auto errors = decode_ok(
      encode_error(protocol::RequestId{}, ErrorCode::clip_not_found, "no clip named 'x'"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].address, "/clipd/error");
  EXPECT_EQ(errors[0].args, (std::vector<Arg>{Nil{}, std::string("clip-not-found"),
                                              std::string("no clip named 'x'")}));

  const auto events = decode_ok(
      encode_event(protocol::VoiceStartedEvent{4, "kick", 4800, true, protocol::Trigger::command}));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].address, "/clipd/event");
  ASSERT_GE(events[0].args.size(), 7u);
  EXPECT_EQ(events[0].args[0], Arg{std::string("voice-started")});
  EXPECT_EQ(events[0].args[1], Arg{std::string("voice")});
  EXPECT_EQ(events[0].args[2], Arg{std::int64_t{4}});
}

std::int64_t now_usecs(const ClockReading& c) {
  return c.realtime_nsecs / 1000;
}

TEST(OscClock, TimetagsMapThroughTheServerClock) {
  ClockReading c;
  c.last_frame = 480000;
  c.last_usecs = 10'000'000;    // server clock at last_frame
  c.server_nsecs = 10'002'000'000;  // 2 ms later
  c.realtime_nsecs = 1'700'000'000'000'000'000;
  c.sample_rate = 48000;
  c.buffer_size = 256;
  EXPECT_EQ(frame_of(Timetag{}, c), 480256u);
  // 2 ms into a 5.33 ms period: a margin of 3 ms still reaches the next cycle, 4 ms does not.
  EXPECT_EQ(frame_of(Timetag{}, c, 3000), 480256u);
  EXPECT_EQ(frame_of(Timetag{}, c, 4000), 480512u);
  // Wall-clock now is 2 ms after the last cycle: 96 frames; one second later: 48000 more.
  EXPECT_EQ(frame_of(timetag_of_unix_usecs(now_usecs(c)), c), 480096u);
  EXPECT_EQ(frame_of(timetag_of_unix_usecs(now_usecs(c) + 1'000'000), c), 528096u);
  EXPECT_EQ(frame_of(timetag_of_unix_usecs(now_usecs(c) - 20'000'000), c), 0u);
  for (std::int64_t us : {std::int64_t{0}, std::int64_t{1'700'000'000'123'456}}) {
    EXPECT_EQ(unix_usecs(timetag_of_unix_usecs(us)), us);
    EXPECT_EQ(unix_nsecs(timetag_of_unix_usecs(us)), us * 1000);
  }
  // On the server's clock, to the nanosecond: the reading's offset, from the tag's exact time.
  Timetag tag = timetag_of_unix_usecs(now_usecs(c) + 1'000'000);
  tag.fraction += 2147;  // 2147 / 2^32 s: 0.4999 us more
  EXPECT_EQ(unix_nsecs(tag), (now_usecs(c) + 1'000'000) * 1000 + 500);
  EXPECT_EQ(server_nsecs_of(tag, c), 11'002'000'500u);
  EXPECT_EQ(server_nsecs_of(Timetag{}, c), 0u);
  EXPECT_EQ(server_nsecs_of(timetag_of_unix_usecs(now_usecs(c) - 20'000'000), c), 0u);
}

// Where the server gives its estimate of the next cycle's start, the map follows the rate the
// cycles really run at (JACK's jack_time_to_frames: frames + rint(du / dp * buffer_size)).
TEST(OscClock, TimetagsMapThroughTheServersOwnCycleLength) {
  ClockReading c;
  c.last_frame = 480000;
  c.last_usecs = 10'000'000;
  c.server_nsecs = 10'002'000'000;
  c.realtime_nsecs = 1'700'000'000'000'000'000;
  c.sample_rate = 48000;
  c.buffer_size = 256;
  c.next_usecs = 10'005'360;  // cycles 0.5 % longer than the nominal 5333.3 us
  // 1,002,000 us from the last cycle: 1002000 / 5360 * 256 = 47856.7 frames.
  EXPECT_EQ(frame_of(timetag_of_unix_usecs(now_usecs(c) + 1'000'000), c), 527857u);
  // 2 ms in: 95.5 frames, rounded as rint rounds.
  EXPECT_EQ(frame_of(timetag_of_unix_usecs(now_usecs(c)), c),
            480000u + static_cast<std::uint64_t>(std::rint(2000.0 / 5360.0 * 256)));
  // The immediate timetag: the next cycle starts 3.36 ms after the reading.
  EXPECT_EQ(frame_of(Timetag{}, c, 3300), 480256u);
  EXPECT_EQ(frame_of(Timetag{}, c, 3400), 480512u);
  // An estimate far from the nominal length (a server's first cycles) is not trusted.
  c.next_usecs = 10'000'100;
  EXPECT_EQ(frame_of(timetag_of_unix_usecs(now_usecs(c) + 1'000'000), c), 528096u);
  c.next_usecs = 9'000'000;
  EXPECT_EQ(frame_of(timetag_of_unix_usecs(now_usecs(c) + 1'000'000), c), 528096u);
}

TEST(OscNetwork, CidrMatching) {
  const auto lan = parse_network("192.168.1.0/24");
  ASSERT_TRUE(lan);
  EXPECT_TRUE(contains(*lan, boost::asio::ip::make_address("192.168.1.77")));
  EXPECT_FALSE(contains(*lan, boost::asio::ip::make_address("192.168.2.1")));
  EXPECT_TRUE(contains(*lan, boost::asio::ip::make_address("::ffff:192.168.1.9")));
  const auto host = parse_network("10.0.0.5");
  ASSERT_TRUE(host);
  EXPECT_TRUE(contains(*host, boost::asio::ip::make_address("10.0.0.5")));
  EXPECT_FALSE(contains(*host, boost::asio::ip::make_address("10.0.0.6")));
  const auto v6 = parse_network("fd00::/8");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(contains(*v6, boost::asio::ip::make_address("fd12::1")));
  EXPECT_FALSE(contains(*v6, boost::asio::ip::make_address("fe80::1")));
  const auto any = parse_network("0.0.0.0/0");
  ASSERT_TRUE(any);
  EXPECT_TRUE(contains(*any, boost::asio::ip::make_address("8.8.8.8")));
  EXPECT_FALSE(contains(*any, boost::asio::ip::make_address("2001:db8::1")));
  for (const char* bad :
       {"", "1.2.3.4/33", "1.2.3/8", "::1/129", "10.0.0.0/", "10.0.0.0/x", "host.example"}) {
    EXPECT_FALSE(parse_network(bad)) << bad;
  }
  const auto loopback = loopback_networks();
  EXPECT_TRUE(allowed(loopback, boost::asio::ip::make_address("127.0.0.2")));
  EXPECT_TRUE(allowed(loopback, boost::asio::ip::make_address("::1")));
  EXPECT_FALSE(allowed(loopback, boost::asio::ip::make_address("192.168.1.1")));
}

}  // namespace
}  // namespace clipd::control::osc
