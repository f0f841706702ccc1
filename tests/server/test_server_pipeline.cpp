// Many clients at once, pipelining, and clients that misbehave: every reply arrives, in order,
// and nobody slows anyone else down.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <sys/socket.h>

#include "sanitizer.hpp"
#include "server_fixture.hpp"

namespace clipd::control::test {
namespace {

std::string ping(int id) {
  return R"({"id":)" + std::to_string(id) + R"(,"cmd":"ping"})" + "\n";
}

std::string pings(int first, int count) {
  std::string out;
  for (int i = first; i < first + count; ++i)
    out += ping(i);
  return out;
}

// Sends `count` pipelined pings on a fresh connection and checks every reply, in order.
// Returns an empty string on success, else what went wrong.
std::string run_pipelined_client(const std::filesystem::path& path, int count) {
  Client c;
  if (const int err = c.connect(path); err != 0) return "connect: " + std::to_string(err);
  if (!c.send_all(pings(0, count))) return "send failed";
  for (int i = 0; i < count; ++i) {
    const auto line = c.read_line(20s);
    if (!line) return "reply " + std::to_string(i) + " missing";
    if (*line != ok_reply(std::to_string(i)).substr(0, ok_reply(std::to_string(i)).size() - 1)) {
      return "reply " + std::to_string(i) + " is " + *line;
    }
  }
  return {};
}

TEST(Pipeline, SixtyFourClientsThousandRequestsEachInOrder) {
  TempDir dir;
  RunningServer server({.socket_path = dir.path() / "control.sock"});
  constexpr int clients = 64;
  constexpr int requests = 1000;
  std::vector<std::string> errors(clients);
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      errors[static_cast<std::size_t>(i)] = run_pipelined_client(server.path(), requests);
    });
  }
  for (auto& t : threads)
    t.join();
  for (int i = 0; i < clients; ++i) {
    EXPECT_EQ(errors[static_cast<std::size_t>(i)], "") << "client " << i;
  }
  EXPECT_EQ(server.handler().lines(), std::uint64_t{clients} * requests);
  EXPECT_TRUE(server.wait_for([](Server& s) { return s.session_count() == 0; }, 5s));
  EXPECT_EQ(server.handler().closed(), std::uint64_t{clients});
}

TEST(Pipeline, FlooderThatNeverReadsAndMidLineDisconnectDisturbNobody) {
  TempDir dir;
  ServerConfig config{.socket_path = dir.path() / "control.sock"};
  config.write_high_water = 64 * 1024;
  RunningServer server(std::move(config));

  // The flooder writes until the server stops reading from it, and never reads.
  Client flooder(server.path());
  const std::string chunk = pings(0, 2000);
  std::size_t flooded = 0;
  constexpr std::size_t flood_cap = 32u << 20;
  auto quiet_since = std::chrono::steady_clock::now();
  while (flooded < flood_cap && std::chrono::steady_clock::now() - quiet_since < 300ms) {
    const std::size_t n = flooder.send_some_nonblocking(chunk);
    if (n > 0) {
      flooded += n;
      quiet_since = std::chrono::steady_clock::now();
    } else {
      std::this_thread::sleep_for(2ms);
    }
  }
  EXPECT_LT(flooded, flood_cap) << "the server kept reading from a client that never reads";
  EXPECT_TRUE(server.wait_for(
      [](Server& s) {
        for (const auto& session : s.sessions()) {
          if (session->reading_paused()) return true;
        }
        return false;
      },
      2s));

  // A client that goes away in the middle of a line.
  {
    Client quitter(server.path());
    ASSERT_TRUE(quitter.send_all(R"({"id":1,"cmd":"ping","partial)"));
  }

  // The others are served in full, promptly.
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> errors(8);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < errors.size(); ++i) {
    threads.emplace_back([&, i] { errors[i] = run_pipelined_client(server.path(), 1000); });
  }
  for (auto& t : threads)
    t.join();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  for (std::size_t i = 0; i < errors.size(); ++i)
    EXPECT_EQ(errors[i], "") << "client " << i;
  if (!clipd::test::sanitized_build) {  // see sanitizer.hpp
    EXPECT_LT(elapsed, 5s);
  }
  EXPECT_EQ(server.handler().partial_lines(), 0u);

  // Once the flooder goes, its session is read to the end and closed.
  flooder.close();
  EXPECT_TRUE(server.wait_for([](Server& s) { return s.session_count() == 0; }, 10s));
}

TEST(Pipeline, LinesSentBeforeEofAreAllHandledAndAnswered) {
  TempDir dir;
  RunningServer server({.socket_path = dir.path() / "control.sock"});
  Client c(server.path());
  ASSERT_TRUE(c.send_all(pings(0, 100)));
  c.shutdown_write();
  for (int i = 0; i < 100; ++i) {
    const auto line = c.read_line(5s);
    ASSERT_TRUE(line) << "reply " << i;
    EXPECT_EQ(request_id(*line), std::to_string(i));
  }
  EXPECT_TRUE(c.wait_closed(5s));
}

TEST(Pipeline, LinesSentBeforeAFullCloseStillReachTheHandler) {
  TempDir dir;
  ServerConfig config{.socket_path = dir.path() / "control.sock"};
  config.write_high_water = 4096;  // the replies cannot all be written: reading pauses
  RunningServer server(std::move(config));
  // The server writes to a closed peer here; with SIGPIPE at its default action, a write that
  // raised it would end this process.
  struct sigaction action {};
  ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &action), 0);
  ASSERT_EQ(action.sa_handler, SIG_DFL);
  {
    Client c(server.path());
    ASSERT_TRUE(c.send_all(pings(0, 5000)));
  }
  EXPECT_TRUE(server.wait_for(
      [&](Server& s) { return server.handler().closed() == 1 && s.session_count() == 0; }, 10s));
  EXPECT_EQ(server.handler().lines(), 5000u);
  EXPECT_EQ(server.handler().closed(), 1u);
}

// Replies that share one large text (answers to coalesced queries) reach every client whole and
// in order among its other replies, however the socket splits the writes: clients that read in
// small pieces make the server write lines in parts, inside the owned head and inside the shared
// text.
TEST(Pipeline, RepliesSharingOneTextArriveWholeAndInOrder) {
  TempDir dir;
  RunningServer server({.socket_path = dir.path() / "control.sock"});
  std::string body = R"({"voices":[)";
  for (int i = 0; i < 4000; ++i)
    body += (i ? "," : "") + std::string(R"({"voice":)") + std::to_string(i) + "}";
  body += "]}}\n";
  const auto shared = std::make_shared<const std::string>(body);
  server.on_io([&](Server&) {
    server.handler().shared_tail = shared;
    return 0;
  });
  constexpr int clients = 4, requests = 200;
  std::vector<std::string> errors(clients);
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      std::string& error = errors[static_cast<std::size_t>(i)];
      Client c;
      if (c.connect(server.path()) != 0) {
        error = "connect failed";
        return;
      }
      // A small receive buffer: the server's writes end part-way through lines.
      const int rcvbuf = 4096;
      ::setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
      std::string out;
      for (int r = 0; r < requests; ++r) {
        out += R"({"id":)" + std::to_string(r) +
               (r % 3 == 0 ? R"(,"cmd":"ping"})" : R"(,"cmd":"shared"})") + "\n";
      }
      if (!c.send_all(out)) {
        error = "send failed";
        return;
      }
      for (int r = 0; r < requests; ++r) {
        const auto line = c.read_line(20s);
        const std::string id = std::to_string(r);
        const std::string want =
            r % 3 == 0 ? ok_reply(id) : R"({"id":)" + id + R"(,"ok":true,"result":)" + body;
        if (!line || *line + "\n" != want) {
          error = "reply " + id + (line ? " differs" : " missing");
          return;
        }
      }
    });
  }
  for (auto& t : threads)
    t.join();
  for (int i = 0; i < clients; ++i)
    EXPECT_EQ(errors[static_cast<std::size_t>(i)], "") << "client " << i;
  // Once every session is gone, no queue holds the shared text any more: only this test and
  // the handler do.
  EXPECT_TRUE(server.wait_for([](Server& s) { return s.session_count() == 0; }, 5s));
  EXPECT_EQ(server.on_io([&](Server&) { return shared.use_count(); }), 2);
}

TEST(Pipeline, SubscriberOverItsEventBacklogIsDroppedOthersKeepTheirs) {
  TempDir dir;
  ServerConfig config{.socket_path = dir.path() / "control.sock"};
  config.event_backlog_cap = 64 * 1024;
  RunningServer server(std::move(config));
  Client sleeper(server.path());
  Client reader(server.path());
  for (Client* c : {&sleeper, &reader}) {
    ASSERT_TRUE(c->send_all(R"({"id":"s","cmd":"subscribe"})"
                            "\n"));
    ASSERT_EQ(c->read_line(), ok_reply(R"("s")").substr(0, ok_reply(R"("s")").size() - 1));
  }
  const std::string event = R"({"event":"xrun","count":1,"pad":")" + std::string(200, 'x') + "\"}";
  constexpr std::size_t rounds = 40;
  constexpr std::size_t per_round = 100;
  std::size_t received = 0;
  std::thread read_thread([&] {
    while (received < rounds * per_round) {
      const auto line = reader.read_line(3s);
      if (!line) break;
      if (*line == event) ++received;
    }
  });
  // Far more than the socket buffers and the cap hold, in rounds so the reader keeps up.
  std::size_t delivered_to = 0;
  for (std::size_t round = 0; round < rounds; ++round) {
    delivered_to += server.on_io([&](Server& s) {
      std::size_t n = 0;
      for (std::size_t i = 0; i < per_round; ++i)
        n += s.broadcast_event("xrun", event);
      return n;
    });
    std::this_thread::sleep_for(5ms);
  }
  read_thread.join();
  EXPECT_EQ(received, rounds * per_round);
  // The sleeper got events until it passed the cap, then none: it was disconnected.
  EXPECT_GT(delivered_to, rounds * per_round);
  EXPECT_LT(delivered_to, 2 * rounds * per_round);
  EXPECT_TRUE(server.wait_for([](Server& s) { return s.session_count() == 1; }, 5s));
  EXPECT_EQ(server.handler().closed(), 1u);
  // What was queued before the cap is readable, then the connection ends.
  while (sleeper.read_line(2s)) {
  }
  EXPECT_TRUE(sleeper.wait_closed(1s));
}

}  // namespace
}  // namespace clipd::control::test
