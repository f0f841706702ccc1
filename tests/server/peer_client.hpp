// tests/server/peer_client.hpp: a client run as a separate process (possibly as another uid)
// that reports by exit code what the server did with it.
#pragma once

namespace clipd::control::test {

enum PeerOutcome : int {
  peer_closed_without_reply = 0,
  peer_got_reply = 10,
  peer_connect_failed = 20,
  peer_timed_out = 30,
};

// Connects to `path`, sends a ping and waits up to 5 s.
int peer_client_main(const char* path);

}  // namespace clipd::control::test
