// clipd test support: child processes that cannot outlive the test.
//
// Each child runs in its own process group (setsid). A small watchdog process, forked with it,
// holds the read end of a pipe whose write end only the test process holds: when the test process
// dies in any way (assertion, abort, SIGKILL from a test runner's timeout), the pipe reads EOF and
// the watchdog kills the child's whole group with SIGKILL. Normal teardown stops the group by pid
// (SIGTERM, then SIGKILL after a grace period), reaps the leader, and tells the watchdog to
// stand down.
//
// Thread contract: one thread uses a Process; spawning is safe in a multi-threaded test process
// (nothing but async-signal-safe calls between fork and exec).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace clipd::test {

// Environment changes: "KEY=VALUE" sets, "KEY" (no '=') removes.
using EnvChanges = std::vector<std::string>;

class Process {
 public:
  // Starts argv[0] (searched in PATH unless it holds a '/') with the test's environment plus
  // `env`. Output (stdout and stderr) goes to `output_file` when given, else is inherited.
  // Throws std::runtime_error when the program cannot be started.
  Process(std::vector<std::string> argv, EnvChanges env = {}, std::string output_file = {});
  ~Process();  // stop()
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const noexcept { return pid_; }
  const std::string& output_file() const noexcept { return output_file_; }

  // The exit status once the leader has exited: its exit code, or 128 + signal number.
  // Waits up to `timeout` (zero: just checks).
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  bool running() { return !wait_for(std::chrono::milliseconds(0)).has_value(); }

  // Sends `sig` to the leader only (by pid).
  void signal(int sig);
  // Sends `sig` to the whole process group.
  void signal_group(int sig);

  // Stops the whole group: SIGTERM, up to `grace`, then SIGKILL; reaps the leader. Returns the
  // leader's exit status. Idempotent.
  int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

  // The output file's contents ("" without one).
  std::string output() const;

 private:
  void release_watchdog(bool kill_group);

  pid_t pid_ = -1;
  pid_t watchdog_ = -1;
  int watchdog_fd_ = -1;
  std::optional<int> status_;
  std::string output_file_;
};

// Runs a program to completion (up to `timeout`, then its group is killed) and returns its exit
// status (124 on time-out, like timeout(1)) with its output.
struct RunResult {
  int status = -1;
  std::string output;
};
RunResult run(std::vector<std::string> argv, EnvChanges env = {},
              std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

// A fresh private directory (mode 0700) under $TMPDIR or /tmp, removed with its contents by the
// destructor.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "clipd-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const noexcept { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A name no other test on this machine uses at the same time: "<prefix>-<pid>-<n>".
std::string unique_name(const std::string& prefix);

// Reads a whole file ("" when missing).
std::string read_file(const std::string& path);

// Where each thread of a process is, for a failure message when it stops answering: name,
// scheduler state, the kernel function it sleeps in, its system call and its kernel stack
// (/proc/PID/task/TID; the stack only as root).
std::string thread_report(pid_t pid);

// The directory holding the support executables (clipd-record, clipd-midi-send...): from
// $CLIPD_BUILD_ROOT/tests/support, else next to /proc/self/exe's ../support.
std::string support_dir();

}  // namespace clipd::test
