// clipd test support: small pieces shared by the JACK test tools (clipd-record, clipd-midi-send).
#pragma once

#include <jack/jack.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace clipd::test {

// Extends jack_last_frame_time() to 64 bits across the 32-bit wrap.
// Thread contract: audio thread only. Non-blocking guarantees: wait-free.
class FrameExtender {
 public:
  std::uint64_t extend(jack_nframes_t now) noexcept {
    if (seen_ && now < last_ && last_ - now > 0x80000000u) high_ += std::uint64_t{1} << 32;
    seen_ = true;
    last_ = now;
    return high_ | now;
  }

 private:
  std::uint64_t high_ = 0;
  jack_nframes_t last_ = 0;
  bool seen_ = false;
};

// Opens a client without starting a server; `server` empty: $JACK_DEFAULT_SERVER or the library
// default. Returns null (and prints why) on failure.
jack_client_t* open_tool_client(const std::string& name, const std::string& server);

// Waits up to `seconds` until every port in `ports` exists. Returns the first missing one, or ""
// once all exist.
std::string wait_for_ports(jack_client_t* client, const char* const* ports, int count,
                           double seconds);

// SIGINT/SIGTERM set this flag (install_stop_signals()).
extern volatile std::sig_atomic_t g_stop_requested;
void install_stop_signals();

// Parses a non-negative integer; exits with status 2 and a message when it is not one.
std::uint64_t parse_u64(const char* text, const char* what);
double parse_seconds(const char* text, const char* what);

}  // namespace clipd::test
