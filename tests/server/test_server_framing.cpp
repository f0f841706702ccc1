// Line framing: the line limit, blank lines, and replies that come later than others.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "sanitizer.hpp"
#include "server_fixture.hpp"

namespace clipd::control::test {
namespace {

std::string strip(std::string s) {
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

TEST(Framing, TwoMebibyteLineGetsOneLineTooLongThenClose) {
  TempDir dir;
  RunningServer server({.socket_path = dir.path() / "control.sock"});
  Client c(server.path());
  ASSERT_TRUE(c.send_all(R"({"id":1,"cmd":"ping"})"
                         "\n"));
  ASSERT_EQ(c.read_line(), strip(ok_reply("1")));

  // Sent whole before reading, as a simple client does: the server takes in the rest of the
  // line after answering, so the send completes rather than failing with a broken pipe.
  std::string big = R"({"id":2,"cmd":"ping","pad":")";
  big.append(2u << 20, 'x');
  big += "\"}\n";
  ASSERT_TRUE(c.send_all(big));
  const auto error = c.read_line();
  ASSERT_TRUE(error);
  EXPECT_EQ(
      *error,
      R"({"id":null,"ok":false,"error":{"code":"line-too-long","message":"line longer than 1048576 bytes"}})");
  EXPECT_TRUE(c.wait_closed()) << "more data after line-too-long: " << c.buffered().size();
  EXPECT_EQ(server.handler().lines(), 1u);
  EXPECT_TRUE(server.wait_for([](Server& s) { return s.session_count() == 0; }, 5s));
}

TEST(Framing, EndlessLineIsCutAfterTheLinger) {
  TempDir dir;
  ServerConfig config{.socket_path = dir.path() / "control.sock"};
  config.line_limit = 100;
  config.close_linger_ms = 200;
  RunningServer server(std::move(config));
  Client c(server.path());
  ASSERT_TRUE(c.send_all(std::string(1000, 'x')));  // and never a newline
  const auto start = std::chrono::steady_clock::now();
  const auto error = c.read_line();
  ASSERT_TRUE(error);
  EXPECT_NE(error->find(R"("code":"line-too-long")"), std::string::npos) << *error;
  EXPECT_TRUE(c.wait_closed(3s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
  EXPECT_EQ(server.handler().lines(), 0u);
}

TEST(Framing, LineAtTheLimitIsServedOneByteMoreIsNot) {
  TempDir dir;
  ServerConfig config{.socket_path = dir.path() / "control.sock"};
  config.line_limit = 100;
  RunningServer server(std::move(config));
  const std::string head = R"({"id":1,"cmd":"ping","pad":")";
  std::string at_limit = head + std::string(100 - head.size() - 2, 'x') + "\"}";
  ASSERT_EQ(at_limit.size(), 100u);

  Client ok(server.path());
  ASSERT_TRUE(ok.send_all(at_limit + "\n"));
  EXPECT_EQ(ok.read_line(), strip(ok_reply("1")));

  Client over(server.path());
  at_limit.insert(at_limit.size() - 2, "y");
  ASSERT_TRUE(over.send_all(at_limit + "\n"));
  const auto error = over.read_line();
  ASSERT_TRUE(error);
  EXPECT_NE(error->find(R"("code":"line-too-long")"), std::string::npos) << *error;
  EXPECT_TRUE(over.wait_closed());
  EXPECT_EQ(server.handler().lines(), 1u);
}

TEST(Framing, BlankLinesAreIgnored) {
  TempDir dir;
  RunningServer server({.socket_path = dir.path() / "control.sock"});
  Client c(server.path());
  ASSERT_TRUE(
      c.send_all("\n\n   \n\t\r\n"
                 R"({"id":1,"cmd":"ping"})"
                 "\n\r\n\n"
                 R"({"id":2,"cmd":"ping"})"
                 "\n\n"));
  EXPECT_EQ(c.read_line(), strip(ok_reply("1")));
  EXPECT_EQ(c.read_line(), strip(ok_reply("2")));
  EXPECT_FALSE(c.read_line(200ms)) << "a blank line got a reply";
  EXPECT_EQ(server.handler().lines(), 2u);
}

TEST(Framing, LinesSplitAcrossWritesAreJoined) {
  TempDir dir;
  RunningServer server({.socket_path = dir.path() / "control.sock"});
  Client c(server.path());
  const std::string line = R"({"id":"split","cmd":"ping"})"
                           "\n";
  for (char ch : line) {
    ASSERT_TRUE(c.send_all(std::string_view(&ch, 1)));
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(c.read_line(), strip(ok_reply(R"("split")")));
}

TEST(Framing, LaterReplyDoesNotHoldUpPingsOnTheSameConnection) {
  TempDir dir;
  RunningServer server({.socket_path = dir.path() / "control.sock"}, 300ms);
  Client c(server.path());
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.send_all(R"({"id":1,"cmd":"slow"})"
                         "\n"
                         R"({"id":2,"cmd":"ping"})"
                         "\n"
                         R"({"id":3,"cmd":"ping"})"
                         "\n"));
  EXPECT_EQ(c.read_line(), strip(ok_reply("2")));
  EXPECT_EQ(c.read_line(), strip(ok_reply("3")));
  if (!clipd::test::sanitized_build) {  // see sanitizer.hpp; the order above is the proof
    EXPECT_LT(std::chrono::steady_clock::now() - start, 250ms);
  }
  EXPECT_EQ(c.read_line(), strip(ok_reply("1")));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
}

TEST(Framing, LaterReplyAfterTheClientLeftIsDropped) {
  TempDir dir;
  RunningServer server({.socket_path = dir.path() / "control.sock"}, 100ms);
  {
    Client c(server.path());
    ASSERT_TRUE(c.send_all(R"({"id":1,"cmd":"slow"})"
                           "\n"));
  }
  std::this_thread::sleep_for(250ms);
  EXPECT_TRUE(server.wait_for([](Server& s) { return s.session_count() == 0; }, 5s));
  Client other(server.path());
  ASSERT_TRUE(other.send_all(R"({"id":2,"cmd":"ping"})"
                             "\n"));
  EXPECT_EQ(other.read_line(), strip(ok_reply("2")));
}

TEST(Framing, HalfClosedClientGetsTheLaterReplyThenEof) {
  TempDir dir;
  RunningServer server({.socket_path = dir.path() / "control.sock"}, 100ms);
  Client c(server.path());
  ASSERT_TRUE(c.send_all(R"({"id":1,"cmd":"slow"})"
                         "\n"));
  c.shutdown_write();
  EXPECT_EQ(c.read_line(), strip(ok_reply("1")));
  EXPECT_TRUE(c.wait_closed());
}

TEST(Framing, HandlerThatThrowsEndsOnlyItsSession) {
  TempDir dir;
  RunningServer server({.socket_path = dir.path() / "control.sock"});
  Client other(server.path());
  Client c(server.path());
  ASSERT_TRUE(c.send_all(R"({"id":1,"cmd":"throw"})"
                         "\n"));
  EXPECT_TRUE(c.wait_closed());
  ASSERT_TRUE(other.send_all(R"({"id":2,"cmd":"ping"})"
                             "\n"));
  EXPECT_EQ(other.read_line(), strip(ok_reply("2")));
  EXPECT_EQ(server.handler().closed(), 1u);
}

TEST(Framing, StopWritesWhatIsQueuedAndClosesEverySession) {
  TempDir dir;
  RunningServer server({.socket_path = dir.path() / "control.sock"});
  Client a(server.path());
  Client b(server.path());
  ASSERT_TRUE(server.wait_for([](Server& s) { return s.session_count() == 2; }, 5s));
  server.on_io([](Server& s) {
    for (const auto& session : s.sessions())
      session->send_reply(R"({"id":"bye","ok":true,"result":{}})");
    s.stop();
    return 0;
  });
  for (Client* c : {&a, &b}) {
    EXPECT_EQ(c->read_line(), strip(ok_reply(R"("bye")")));
    EXPECT_TRUE(c->wait_closed());
  }
  EXPECT_EQ(server.handler().closed(), 2u);
  EXPECT_FALSE(std::filesystem::exists(server.path()));
}

}  // namespace
}  // namespace clipd::control::test
