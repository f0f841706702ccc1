// tests/support's PipewireServer tells how its pipewire ended: a crash (a signal such as SIGSEGV,
// which PipeWire 0.3.65 can die of when links are destroyed) from the SIGKILL a test sends, so
// that a test can set aside a run whose server crashed (pipewire_crash()).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "servers.hpp"

namespace clipd::test {
namespace {

using namespace std::chrono_literals;

bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);  // polling pace: pred reads the start script's files
  }
  return pred();
}

TEST(PipewireServer, APipewireThatDiesOfSigsegvCrashedAndOneThatIsKilledDidNot) {
  PipewireServer::Options o;
  o.wireplumber = false;
  PipewireServer pw(o);
  EXPECT_EQ(pw.pipewire_crash(), std::nullopt);
  ASSERT_GT(pw.pipewire_pid(), 0);
  // No core file for this one.
  const rlimit no_core{0, 0};
  ASSERT_EQ(::prlimit(pw.pipewire_pid(), RLIMIT_CORE, &no_core, nullptr), 0);
  ASSERT_EQ(::kill(pw.pipewire_pid(), SIGSEGV), 0);
  ASSERT_TRUE(wait_for([&] { return pw.pipewire_crash().has_value(); }, 10s)) << pw.log();
  EXPECT_EQ(pw.pipewire_crash(), std::optional<int>(SIGSEGV));
  EXPECT_NE(pw.log().find("pipewire exited with status 139\npipewire crashed: "), std::string::npos)
      << pw.log();

  // A new server has not crashed; one killed as the server-death tests kill it has not either.
  pw.restart();
  EXPECT_EQ(pw.pipewire_crash(), std::nullopt);
  ASSERT_GT(pw.pipewire_pid(), 0);
  ASSERT_EQ(::kill(pw.pipewire_pid(), SIGKILL), 0);
  ASSERT_TRUE(wait_for(
      [&] { return pw.log().find("pipewire exited with status 137") != std::string::npos; }, 10s))
      << pw.log();
  EXPECT_EQ(pw.pipewire_crash(), std::nullopt);
  EXPECT_EQ(pw.log().find("pipewire crashed"), std::string::npos) << pw.log();
}

}  // namespace
}  // namespace clipd::test
