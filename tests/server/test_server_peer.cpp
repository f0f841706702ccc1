// SO_PEERCRED: only peers with our own uid are served.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peer_client.hpp"
#include "server_fixture.hpp"

namespace clipd::control::test {
namespace {

constexpr const char* nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups ";

int run(const std::string& command) {
  const int status = std::system(command.c_str());
  if (status == -1 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

// Whether this process may start a client as uid 65534 (root, or CAP_SETUID and CAP_SETGID).
bool can_switch_to_nobody() {
  return ::geteuid() != 65534 && run(std::string(nobody) + "true >/dev/null 2>&1") == 0;
}

// A server of this process's uid serves a client of its own uid and closes one of uid 65534.
void expect_other_uid_closed() {
  TempDir dir;
  // Loosen the modes so the other uid gets as far as SO_PEERCRED; the client binary is copied
  // where that uid can run it whatever the build folder's modes are.
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  const auto client = dir.path() / "peer-client";
  std::filesystem::copy_file("/proc/self/exe", client);
  ASSERT_EQ(::chmod(client.c_str(), 0755), 0);

  RunningServer server({.socket_path = dir.path() / "control.sock"});
  ASSERT_EQ(::chmod(server.path().c_str(), 0777), 0);
  const std::string client_cmd = client.string() + " --peer-client " + server.path().string();

  // The same client as our own uid is served: the client itself works.
  EXPECT_EQ(run(client_cmd), peer_got_reply);
  EXPECT_EQ(run(std::string(nobody) + client_cmd), peer_closed_without_reply);
  EXPECT_EQ(server.on_io([](Server& s) { return s.refused_peers(); }), 1u);
  EXPECT_EQ(server.handler().lines(), 1u);
  EXPECT_EQ(server.handler().closed(), 1u);
}

// Skipped only where no uid can be switched (neither root nor CAP_SETUID); scripts/test fails on
// the skip, so CI always runs it.
TEST(PeerCredentials, PeerWithAnotherUidIsClosedAtOnce) {
  if (!can_switch_to_nobody()) {
    GTEST_SKIP() << "cannot switch to uid 65534 here (needs root or CAP_SETUID)";
  }
  expect_other_uid_closed();
}

// The same with a server that is not root, as clipd runs for a user. Run as root, the test above
// runs again as uid 4242 (any uid but root and 65534), given only CAP_SETUID and CAP_SETGID (as
// ambient capabilities) so that it can start its client as uid 65534; it must pass, not skip.
TEST(PeerCredentials, NonRootServerClosesAnotherUidAtOnce) {
  if (::geteuid() != 0) {
    // Already an ordinary user: that is the case itself.
    if (!can_switch_to_nobody()) {
      GTEST_SKIP() << "cannot switch to uid 65534 here (needs root or CAP_SETUID)";
    }
    expect_other_uid_closed();
    return;
  }
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  const auto self = dir.path() / "test_server";
  std::filesystem::copy_file("/proc/self/exe", self);
  ASSERT_EQ(::chmod(self.c_str(), 0755), 0);
  const std::string log = (dir.path() / "as-4242.log").string();
  const int status =
      run("setpriv --reuid=4242 --regid=4242 --clear-groups --inh-caps=+setuid,+setgid "
          "--ambient-caps=+setuid,+setgid " +
          self.string() + " --gtest_filter=PeerCredentials.PeerWithAnotherUidIsClosedAtOnce >" +
          log + " 2>&1");
  std::ifstream in(log);
  const std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("[       OK ] PeerCredentials.PeerWithAnotherUidIsClosedAtOnce"),
            std::string::npos)
      << output;
  EXPECT_EQ(output.find("SKIPPED"), std::string::npos) << output;
}

}  // namespace
}  // namespace clipd::control::test
