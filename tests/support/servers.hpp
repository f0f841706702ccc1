// clipd test support: private JACK servers for integration tests.
//
// JackdServer runs `jackd --no-realtime -n NAME -S -t 5000 -d dummy -r RATE -p PERIOD` under a
// name no other test uses; PipewireServer runs `dbus-run-session` with a private
// XDG_RUNTIME_DIR, `pipewire` then `wireplumber` in it. Both wait until a JACK client can connect,
// stop by pid (the destructor, also when a test fails; a watchdog kills them if the test process
// dies), and say how to run a JACK program against them: env() for the environment, wrap() for
// the command line (pw-jack for PipeWire).
//
// Notes:
// - jackd 1.9.21 in sync mode (-S) wedges when a client is SIGKILLed: restart the server after
//   killing a client.
// - PipeWire 0.3.65's dummy driver (no devices): see README.md in this folder.
//
// Thread contract: one thread uses a server object.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "process.hpp"

namespace clipd::test {

class TestServer {
 public:
  virtual ~TestServer() = default;
  // "jackd" or "pipewire".
  virtual const char* kind() const noexcept = 0;
  // Environment a JACK client needs to reach this server.
  virtual EnvChanges env() const = 0;
  // The command line that runs `argv` as a client of this server.
  virtual std::vector<std::string> wrap(std::vector<std::string> argv) const = 0;
  // Starts a JACK program as a client of this server.
  std::unique_ptr<Process> spawn(std::vector<std::string> argv, const std::string& output_file = {},
                                 EnvChanges extra_env = {}) const;
  // Runs a JACK program to completion as a client of this server.
  RunResult run_client(std::vector<std::string> argv,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) const;
  // True when `jack_lsp` can connect.
  bool accepts_clients() const;
  // Polls accepts_clients() until true or `timeout`.
  bool wait_until_ready(std::chrono::milliseconds timeout) const;
  // `jack_lsp` output lines (port names), or `jack_lsp -c` pairs flattened as "a -> b". Throws
  // when jack_lsp cannot connect, five times in a row (lsp()).
  std::vector<std::string> ports() const;
  std::vector<std::string> connections() const;

 private:
  std::string lsp(std::vector<std::string> args) const;
};

class JackdServer final : public TestServer {
 public:
  struct Options {
    std::string name;  // empty: unique_name("clipd-test")
    std::uint32_t rate = 48000;
    std::uint32_t period = 1024;
    bool sync = true;                 // -S
    std::uint32_t timeout_ms = 5000;  // -t
    // Server -p (port-max): the default 2048 makes jackd lock ~100 MB and start a second later.
    std::uint32_t port_max = 256;
    std::string log_file;  // empty: the log is kept in a temporary directory
  };

  // Starts the server and waits until it accepts clients; throws std::runtime_error otherwise.
  JackdServer();
  explicit JackdServer(Options options);
  ~JackdServer() override;

  const char* kind() const noexcept override { return "jackd"; }
  EnvChanges env() const override { return {"JACK_DEFAULT_SERVER=" + options_.name}; }
  std::vector<std::string> wrap(std::vector<std::string> argv) const override { return argv; }

  const std::string& name() const noexcept { return options_.name; }
  const Options& options() const noexcept { return options_; }
  pid_t pid() const noexcept { return process_ ? process_->pid() : -1; }
  bool running() const { return process_ && process_->running(); }
  std::string log() const;

  // Starts (again) with the current options, possibly changed by the caller (a new rate).
  void start();
  void start(std::uint32_t rate);
  // SIGTERM by pid, then SIGKILL after a grace period.
  void stop();
  // SIGKILL by pid, the server gets no chance to tell its clients.
  void kill_hard();
  void restart() {
    stop();
    start();
  }

 private:
  Options options_;
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Process> process_;
};

class PipewireServer final : public TestServer {
 public:
  struct Options {
    bool wireplumber = true;
    // WirePlumber also loads clipd's policy (the source tree's wireplumber/ folder, as a
    // user's ~/.config/wireplumber), and the server is ready once the policy runs.
    bool clipd_policy = false;
  };

  PipewireServer();
  explicit PipewireServer(Options options);
  ~PipewireServer() override;

  const char* kind() const noexcept override { return "pipewire"; }
  EnvChanges env() const override;
  std::vector<std::string> wrap(std::vector<std::string> argv) const override;

  const std::string& runtime_dir() const noexcept { return dir_->path(); }
  // The pid of dbus-run-session, leader of the group holding dbus-daemon, pipewire and
  // wireplumber; and the pids of pipewire and wireplumber themselves.
  pid_t pid() const noexcept { return process_ ? process_->pid() : -1; }
  pid_t pipewire_pid() const;
  pid_t wireplumber_pid() const;
  // The signal that ended pipewire when it is one a crash gives (SIGSEGV, SIGBUS, SIGABRT,
  // SIGILL, SIGFPE; not the SIGKILL or SIGTERM tests send): PipeWire before 0.3.72 can crash
  // when a link is destroyed
  // on a running graph (its impl-link.c re-activated a link being destroyed), and Debian 12 has
  // 0.3.65. A test whose scenario makes and destroys links can tell such a crash from a failure
  // of its own.
  std::optional<int> pipewire_crash() const;
  // The start script's, pipewire's and wireplumber's output, and how pipewire exited if it did.
  std::string log() const;
  // The XDG_CONFIG_HOME under which WirePlumber finds clipd's policy (the source tree, whose
  // wireplumber/ folder is laid out as ~/.config/wireplumber); throws when CLIPD_SOURCE_ROOT is
  // not set.
  static std::string clipd_policy_config_home();
  // Whether clipd's policy runs in this graph: its "clipd-default-links" metadata object exists
  // (pw-cli, waiting at most `timeout`).
  bool clipd_policy_runs(std::chrono::milliseconds timeout = std::chrono::milliseconds(3000)) const;

  void start();
  void stop();
  void restart() {
    stop();
    start();
  }

 private:
  Options options_;
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Process> process_;
};

// The server the current test runs against when it is started by clipd-with-server: from
// $CLIPD_TEST_SERVER ("jackd" or "pipewire") and the variables the wrapper exports. Null when the
// variable is not set.
std::unique_ptr<TestServer> external_server();

}  // namespace clipd::test
