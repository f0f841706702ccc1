// clipd-bufsize: asks the JACK server for another buffer size and waits until it is in effect.
//
// Usage: clipd-bufsize [-s SERVER] [--timeout SECONDS] FRAMES
// Unlike jack_bufsize, it stays until its own cycles run at the new size: pipewire-jack applies
// the request asynchronously and a client that exits at once can lose it. Exit status: 0 in
// effect; 2 usage; 3 JACK error or not in effect before the time-out (default 5 s).
#include <jack/jack.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "jack_tool.hpp"

namespace {
int process(jack_nframes_t, void*) {
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  std::string server;
  double timeout = 5;
  std::uint64_t frames = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "-s" || a == "--server") && i + 1 < argc) {
      server = argv[++i];
    } else if (a == "--timeout" && i + 1 < argc) {
      timeout = clipd::test::parse_seconds(argv[++i], "seconds");
    } else if (!a.empty() && a[0] != '-' && frames == 0) {
      frames = clipd::test::parse_u64(argv[i], "frames");
    } else {
      std::fputs("usage: clipd-bufsize [-s SERVER] [--timeout SECONDS] FRAMES\n", stderr);
      return 2;
    }
  }
  if (frames == 0 || frames > 1u << 20) {
    std::fputs("usage: clipd-bufsize [-s SERVER] [--timeout SECONDS] FRAMES\n", stderr);
    return 2;
  }
  jack_client_t* client = clipd::test::open_tool_client("clipd-bufsize", server);
  if (client == nullptr) return 3;
  jack_set_process_callback(client, process, nullptr);
  if (jack_activate(client) != 0) {
    std::fputs("clipd-bufsize: cannot activate\n", stderr);
    jack_client_close(client);
    return 3;
  }
  const auto nframes = static_cast<jack_nframes_t>(frames);
  int status = 3;
  if (jack_set_buffer_size(client, nframes) != 0) {
    std::fprintf(stderr, "clipd-bufsize: the server refused %u frames\n", nframes);
  } else {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
    while (std::chrono::steady_clock::now() < deadline) {
      if (jack_get_buffer_size(client) == nframes) {
        status = 0;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (status != 0) std::fprintf(stderr, "clipd-bufsize: %u frames not in effect\n", nframes);
  }
  jack_deactivate(client);
  jack_client_close(client);
  return status;
}
