#include "jack_tool.hpp"

#include <chrono>
#include <cstdio>
#include <thread>

namespace clipd::test {

volatile std::sig_atomic_t g_stop_requested = 0;

namespace {
extern "C" void on_stop_signal(int) {
  g_stop_requested = 1;
}
}  // namespace

void install_stop_signals() {
  struct sigaction sa{};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

jack_client_t* open_tool_client(const std::string& name, const std::string& server) {
  std::string s = server;
  if (s.empty()) {
    const char* env = std::getenv("JACK_DEFAULT_SERVER");
    if (env != nullptr) s = env;
  }
  // A server that is there but refuses the client (JackServerError without JackServerFailed) is
  // asked again: a sync-mode jackd on a loaded machine can fail an open while it still handles a
  // client that just left (JACK2 notifies every client of a new one, and of every old one to the
  // new one). clipd itself retries with backoff; a test tool retries a few times, saying so.
  for (int attempt = 1;; ++attempt) {
    jack_status_t status{};
    jack_client_t* client =
        s.empty()
            ? jack_client_open(name.c_str(), JackNoStartServer, &status)
            : jack_client_open(name.c_str(),
                               static_cast<jack_options_t>(JackNoStartServer | JackServerName),
                               &status, s.c_str());
    if (client != nullptr) return client;
    std::fprintf(stderr, "%s: cannot open a JACK client (server '%s', status 0x%x, attempt %d)\n",
                 name.c_str(), s.c_str(), static_cast<unsigned>(status), attempt);
    const bool refused = (status & JackServerError) != 0 && (status & JackServerFailed) == 0;
    if (!refused || attempt == 5 || g_stop_requested) return nullptr;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

std::string wait_for_ports(jack_client_t* client, const char* const* ports, int count,
                           double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    std::string missing;
    for (int i = 0; i < count && missing.empty(); ++i) {
      if (jack_port_by_name(client, ports[i]) == nullptr) missing = ports[i];
    }
    if (missing.empty() || std::chrono::steady_clock::now() >= deadline || g_stop_requested) {
      return missing;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::uint64_t parse_u64(const char* text, const char* what) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (text[0] == '\0' || text[0] == '-' || *end != '\0') {
    std::fprintf(stderr, "bad %s: '%s'\n", what, text);
    std::exit(2);
  }
  return v;
}

double parse_seconds(const char* text, const char* what) {
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (text[0] == '\0' || *end != '\0' || v < 0) {
    std::fprintf(stderr, "bad %s: '%s'\n", what, text);
    std::exit(2);
  }
  return v;
}

}  // namespace clipd::test
