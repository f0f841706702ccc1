// SO_PEERCRED: only peers with our own uid are served.
#include <gtest/gtest.h>

#include <cstdlib>
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

TEST(PeerCredentials, PeerWithAnotherUidIsClosedAtOnce) {
  if (::geteuid() == 65534) GTEST_SKIP() << "already running as uid 65534";
  if (run(std::string(nobody) + "true >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "cannot switch to uid 65534 here (needs root or CAP_SETUID)";
  }
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

}  // namespace
}  // namespace clipd::control::test
