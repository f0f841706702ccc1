#include "peer_client.hpp"

#include <cstdio>
#include <cstring>

#include "server_fixture.hpp"

namespace clipd::control::test {

int peer_client_main(const char* path) {
  Client c;
  if (const int err = c.connect(path); err != 0) {
    std::fprintf(stderr, "peer client: connect: %s\n", std::strerror(err));
    return peer_connect_failed;
  }
  c.send_all(R"({"id":1,"cmd":"ping"})"
             "\n");  // may fail once the server has closed
  if (c.read_line(5s)) return peer_got_reply;
  return c.buffered().empty() && c.wait_closed(0ms) ? peer_closed_without_reply : peer_timed_out;
}

}  // namespace clipd::control::test
