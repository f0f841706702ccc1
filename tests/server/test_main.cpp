// The server tests' main. `--peer-client PATH` turns the binary into the small client that the
// peer-credential test runs under another uid.
#include <gtest/gtest.h>

#include <string_view>

#include "peer_client.hpp"

int main(int argc, char** argv) {
  if (argc == 3 && std::string_view(argv[1]) == "--peer-client") {
    return clipd::control::test::peer_client_main(argv[2]);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
