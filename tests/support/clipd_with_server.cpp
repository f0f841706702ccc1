// clipd-with-server: runs a command against a private JACK server that lives exactly as long as
// the command.
//
// Usage: clipd-with-server jackd|pipewire [--rate R] [--period P] [--async] -- COMMAND [ARG...]
//   jackd     jackd --no-realtime -n <unique> -S -t 5000 -d dummy -r R -p P (--async: no -S)
//   pipewire  dbus-run-session + pipewire + wireplumber in a private XDG_RUNTIME_DIR; COMMAND
//             runs under pw-jack (rate and period are PipeWire's: 48000 and 1024)
// COMMAND gets CLIPD_TEST_SERVER (jackd|pipewire), JACK_DEFAULT_SERVER (jackd) or
// PIPEWIRE_RUNTIME_DIR/XDG_RUNTIME_DIR (pipewire), and CLIPD_TEST_SERVER_PID (jackd's pid, or
// pipewire's). Exit status: COMMAND's, or 125 when the server did not start.
#include <signal.h>

#include <csignal>

#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "servers.hpp"

namespace {
volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_signal(int sig) {
  g_signal = sig;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace clipd::test;
  if (argc < 4) {
    std::fputs(
        "usage: clipd-with-server jackd|pipewire [--rate R] [--period P] [--async] -- "
        "COMMAND [ARG...]\n",
        stderr);
    return 2;
  }
  const std::string kind = argv[1];
  JackdServer::Options jo;
  int i = 2;
  for (; i < argc && std::strcmp(argv[i], "--") != 0; ++i) {
    const std::string a = argv[i];
    if (a == "--rate" && i + 1 < argc) {
      jo.rate = static_cast<std::uint32_t>(std::stoul(argv[++i]));
    } else if (a == "--period" && i + 1 < argc) {
      jo.period = static_cast<std::uint32_t>(std::stoul(argv[++i]));
    } else if (a == "--async") {
      jo.sync = false;
    } else {
      std::fprintf(stderr, "clipd-with-server: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (i + 1 >= argc) {
    std::fputs("clipd-with-server: no command\n", stderr);
    return 2;
  }
  std::vector<std::string> command(argv + i + 1, argv + argc);

  // A runner's SIGTERM ends the command and the server in order (the watchdogs cover SIGKILL).
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::unique_ptr<TestServer> server;
  pid_t server_pid = -1;
  try {
    if (kind == "jackd") {
      auto s = std::make_unique<JackdServer>(jo);
      server_pid = s->pid();
      server = std::move(s);
    } else if (kind == "pipewire") {
      auto s = std::make_unique<PipewireServer>();
      server_pid = s->pipewire_pid();
      server = std::move(s);
    } else {
      std::fprintf(stderr, "clipd-with-server: unknown server %s\n", kind.c_str());
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "clipd-with-server: %s\n", e.what());
    return 125;
  }

  int status = 0;
  {
    std::unique_ptr<Process> child = server->spawn(
        command, {},
        {"CLIPD_TEST_SERVER=" + kind, "CLIPD_TEST_SERVER_PID=" + std::to_string(server_pid)});
    // The child inherits our stdout/stderr (no output file).
    for (;;) {
      if (auto st = child->wait_for(std::chrono::milliseconds(50))) {
        status = *st;
        break;
      }
      if (g_signal != 0) {
        std::fprintf(stderr, "clipd-with-server: signal %d, stopping\n",
                     static_cast<int>(g_signal));
        status = child->stop();
        break;
      }
    }
    child->stop();
  }
  server.reset();
  return status;
}
