// The daemon's choice of audio server (--backend, clipd(1)) and what hello and status report of
// it (clipd-protocol(7)), against private jackd servers.
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <thread>

#include "harness.hpp"

namespace clipd::test {
namespace {

using namespace std::chrono_literals;

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

// Waits until the daemon's log holds `n` lines containing `what` (the daemon logs each
// connection attempt at debug level); false when `timeout` passes first.
bool wait_for_log(const Clipd& clipd, const std::string& what, std::size_t n,
                  std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (count(clipd.log(), what) < n) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

class Backend : public ::testing::Test {
 protected:
  TempDir home_{"clipd-backend"};
};

TEST_F(Backend, HelloAndStatusNameTheJackBackendAndItsClient) {
  JackdServer jackd;
  for (const char* choice : {"auto", "jack"}) {
    SCOPED_TRACE(choice);
    Clipd clipd(jackd, home_, {false, {"--no-state", "--backend", choice}});
    clipd.start();
    Client c(clipd.socket_path());
    const json status =
        c.poll({{"cmd", "status"}}, [](const json& r) { return r["engine"] == "online"; });
    EXPECT_EQ(status["backend"], "jack") << status.dump();
    const json hello = c.ok({{"cmd", "hello"}});
    EXPECT_EQ(hello["backend"], "jack") << hello.dump();
    EXPECT_EQ(hello["client"], "clipd") << hello.dump();
    EXPECT_EQ(hello["jack_client"], hello["client"]) << hello.dump();
    // The name is the one the server knows: its ports carry it.
    bool found = false;
    for (const std::string& port : jackd.ports())
      found |= port == hello["client"].get<std::string>() + ":out_1";
    EXPECT_TRUE(found);
    EXPECT_EQ(clipd.stop(), 0) << clipd.log();
  }
}

TEST_F(Backend, ForcedJackWithoutAServerStaysOfflineAndNeverTriesPipewire) {
  JackdServer jackd;
  jackd.stop();
  Clipd clipd(jackd, home_, {false, {"--no-state", "--backend", "jack"}});
  clipd.start();
  // Three attempts, each answered "no server".
  ASSERT_TRUE(wait_for_log(clipd, "backend jack: no server", 3)) << clipd.log();
  Client c(clipd.socket_path());
  const json status = c.ok({{"cmd", "status"}});
  EXPECT_EQ(status["engine"], "offline");
  EXPECT_TRUE(status["backend"].is_null()) << status.dump();
  const json hello = c.ok({{"cmd", "hello"}});
  EXPECT_TRUE(hello["backend"].is_null()) << hello.dump();
  EXPECT_EQ(hello["client"], "clipd");
  EXPECT_EQ(count(clipd.log(), "backend pipewire"), 0u) << clipd.log();
  EXPECT_EQ(clipd.stop(), 0) << clipd.log();
}

// The counterpart of the test above: with `auto`, the same daemon does turn to PipeWire when no
// JACK server answers, so the absence of those lines there means something.
TEST_F(Backend, AutoWithoutAJackServerTriesPipewire) {
  JackdServer jackd;
  jackd.stop();
  Clipd clipd(jackd, home_, {false, {"--no-state", "--backend", "auto"}});
  clipd.start();
  ASSERT_TRUE(wait_for_log(clipd, "backend pipewire: ", 2)) << clipd.log();
  EXPECT_GE(count(clipd.log(), "backend jack: no server"), 2u) << clipd.log();
  EXPECT_EQ(clipd.stop(), 0) << clipd.log();
}

}  // namespace
}  // namespace clipd::test
