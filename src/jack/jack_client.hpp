// clipd/jack/jack_client.hpp: clipd's JACK client: ports, callbacks, the retire handshake and
// reconnection.
//
// Threads:
// - The control thread owns the object and calls every public member function (one thread; none
//   of them is safe to call concurrently with another).
// - The process callback runs on JACK's audio thread and calls the process target. Sample-rate,
//   buffer-size, xrun, port-connect and shutdown callbacks may also run there (JACK2 reports a
//   server error from the process thread; pipewire-jack reports xruns from its data loop), so they
//   only store into atomics, inside a RealtimeScope like the process callback. The control thread
//   reads them with poll(), on a timer.
//
// Life of a connection: open() or try_open() with a process target; poll() on a timer; when
// poll() reports the server gone (or the daemon stops), retire() waits until no cycle runs, marks
// the target retired so no later callback touches it, and closes the client. Only after retire()
// may the daemon destroy what the target points into; it then calls try_open() with a fresh
// target every retry_delay() (0.2 s, backing off to 1 s) until a server is back. Connections the
// ports had are remembered across connections and made again on the next open.
#pragma once

#include <jack/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "jack/frame_clock.hpp"
#include "jack/library_log.hpp"
#include "jack/midi_input.hpp"

namespace clipd::jack {

// Renders one period. `frame` is the server's frame time of the period's first frame
// (jack_last_frame_time(), extended to 64 bits), `usecs` the server's microsecond time of that
// frame, `outputs[c]` the nframes samples of out_{c+1}, `midi` the events of midi_in (null when
// the client has no MIDI input).
// Thread contract: audio thread only; must be real-time safe.
using ProcessFn = void (*)(void* ctx, std::uint64_t frame, std::uint32_t nframes,
                           float* const* outputs, const MidiInput* midi,
                           std::uint64_t usecs) noexcept;

struct ProcessTarget {
  ProcessFn fn = nullptr;  // null: the client writes silence
  void* ctx = nullptr;
};

struct JackClientOptions {
  std::string client_name = "clipd";
  // Empty: $JACK_DEFAULT_SERVER, else the library's default server (JACK2: "default";
  // pipewire-jack: its own remote, PIPEWIRE_REMOTE or pipewire-0).
  std::string server_name;
  std::uint32_t outputs = 2;  // 1 .. kMaxOutputs
  bool midi_input = true;
  // Made on every open: output i goes to auto_connect[i] (out_1 to the first entry...); entries
  // past the number of outputs are ignored. Empty: no auto-connection.
  std::vector<std::string> auto_connect;
  // Made on every open: each source is connected to midi_in.
  std::vector<std::string> midi_auto_connect;
  // Pretty name prefix for JACK metadata: out_3 is shown as "<prefix>3", midi_in as
  // "<prefix>MIDI". Empty: no metadata is set.
  std::string pretty_name_prefix = "clipd out ";
};

// A remembered connection: one of our ports (short name, "out_1" or "midi_in") and the full
// name of the port at its other end.
struct PortConnection {
  std::string own_port;
  std::string other_port;
  friend bool operator==(const PortConnection&, const PortConnection&) = default;
};

// What poll() saw since the previous poll() (or since open).
struct JackEvents {
  bool server_gone = false;  // the server shut the client down or died; true until retire()
  bool sample_rate_changed = false;
  bool buffer_size_changed = false;
  bool connections_changed = false;  // connections() differs from what it was
  std::uint64_t new_xruns = 0;
  std::uint32_t sample_rate = 0;  // current values
  std::uint32_t buffer_size = 0;
  // libjack's error and info messages since the last poll (jack/library_log.hpp), oldest first,
  // and how many were dropped because they came faster than poll() drained them.
  std::vector<LibraryMessage> library_messages;
  std::uint64_t library_dropped = 0;

  bool any() const noexcept {
    return server_gone || sample_rate_changed || buffer_size_changed || connections_changed ||
           new_xruns != 0;
  }
};

enum class OpenResult {
  opened,
  already_open,
  no_server,  // jack_client_open failed (no server, or it refused us)
  failed,     // the server answered but ports or activation failed (see last_error())
};

enum class RetireResult {
  not_open,
  retired,  // no cycle was running: the target will never be called again
  // A cycle was still running after the bound; the client was closed anyway. jack_client_close()
  // returns only once the audio thread has left the cycle (JACK2 and pipewire-jack), so the
  // target is not called after retire() either way, but the cycle did not end when it should
  // have: what the target was working on may be in any state. The daemon logs this and abandons
  // (leaks) what the target points into rather than tearing it down.
  timed_out,
};

class JackClient {
 public:
  static constexpr std::uint32_t kMaxOutputs = 64;
  static constexpr std::chrono::milliseconds kRetryMin{200};
  static constexpr std::chrono::milliseconds kRetryMax{1000};
  // How much of the audio thread's stack the thread-init callback touches.
  static constexpr std::size_t kStackPrefault = 256 * 1024;

  // Thread contract: control thread. Opens nothing; installs libjack's error and info hooks
  // (jack/library_log.hpp) once per process.
  explicit JackClient(JackClientOptions options);
  // Thread contract: control thread. Retires and closes the client if open.
  ~JackClient();
  JackClient(const JackClient&) = delete;
  JackClient& operator=(const JackClient&) = delete;

  // Opens the client (JackNoStartServer; JackUseExactName off, so a taken name gets the server's
  // variant, see client_name()), registers out_1..out_N (and midi_in), sets
  // pretty names, installs the callbacks, activates, then makes the auto-connections and the
  // remembered ones. `target` is called from the first cycle on, until retire().
  // Thread contract: control thread. Note: allocates, blocks on the server (milliseconds).
  OpenResult open(ProcessTarget target);

  // open() for the reconnection timer: when not open, tries once and updates retry_delay()
  // (reset to kRetryMin on success, doubled up to kRetryMax on failure).
  // Thread contract: control thread. Note: allocates, blocks on the server.
  OpenResult try_open(ProcessTarget target);
  std::chrono::milliseconds retry_delay() const noexcept { return retry_delay_; }

  // Reads what the callbacks stored since the last poll, and libjack's messages (also while not
  // open). When the server is alive and connections
  // changed, it queries our ports' connections and remembers them (committed one poll later, so a
  // server that disconnects everything while going away does not wipe the list).
  // Thread contract: control thread. Note: allocates when connections changed.
  JackEvents poll();

  // The retire handshake: marks the target retired, waits up to `bound` until no cycle is
  // running, then closes the client. After it returns no callback touches the target.
  // Thread contract: control thread. Note: blocks (sleeps in steps of 1 ms, then in
  // jack_client_close).
  RetireResult retire(std::chrono::milliseconds bound = std::chrono::milliseconds(2000));

  // Thread contract: control thread.
  bool is_open() const noexcept { return client_ != nullptr; }
  const JackClientOptions& options() const noexcept { return options_; }
  // The name the server gave the client while open (the requested one, or "clipd-01" when that
  // was taken), else the requested one.
  const std::string& client_name() const noexcept {
    return client_ != nullptr ? actual_name_ : options_.client_name;
  }
  // Sample rate and buffer size as of the last open() or poll().
  std::uint32_t sample_rate() const noexcept { return sample_rate_; }
  std::uint32_t buffer_size() const noexcept { return buffer_size_; }
  // Total xruns reported since the object was made.
  std::uint64_t xruns() const noexcept { return xruns_.load(std::memory_order_relaxed); }
  // MIDI events on midi_in past the per-cycle capacity (kMidiInputCapacity), since made.
  std::uint64_t midi_overflow() const noexcept {
    return midi_overflow_.load(std::memory_order_relaxed);
  }
  // The remembered connections (made again on the next open).
  const std::vector<PortConnection>& connections() const noexcept { return connections_; }
  // Replaces the remembered connections (for example from a state file); made on the next open.
  void set_connections(std::vector<PortConnection> connections) {
    connections_ = std::move(connections);
  }
  // The last failure of open(), for the log.
  const std::string& last_error() const noexcept { return last_error_; }
  // The largest playback latency (frames) of the output ports, as the graph reports it; 0 when
  // not open. Thread contract: control thread.
  std::uint32_t playback_latency() const noexcept;
  // The server's DSP load in percent (jack_cpu_load); 0 when not open.
  // Thread contract: control thread.
  double dsp_load() const noexcept;
  // Cycles in which JACK gave an output port no buffer (jack_port_get_buffer returned null): the
  // cycle still ran, rendering that output into a discard buffer (or, past kDiscardFrames,
  // without calling the target). A null MIDI buffer reads as no events (jack/midi_input.hpp).
  std::uint64_t null_buffers() const noexcept {
    return null_buffers_.load(std::memory_order_relaxed);
  }
  // Full port name ("clipd:out_1"); valid while open.
  std::string port_name(std::uint32_t output_index) const;
  std::string midi_port_name() const;

  // Published by the audio thread at the end of each cycle: the frame just after the last cycle
  // (the control thread's "now") and that cycle's size. 0 before the first cycle.
  // Thread contract: any thread. Non-blocking guarantees: wait-free.
  std::uint64_t frame_now() const noexcept { return frame_now_.load(std::memory_order_acquire); }
  std::uint64_t cycles() const noexcept { return cycles_.load(std::memory_order_acquire); }
  // How many times JACK ran the thread-init callback since the object was made.
  std::uint32_t thread_inits() const noexcept {
    return thread_inits_.load(std::memory_order_relaxed);
  }

 private:
  // Callbacks: audio thread or JACK's notification thread; wait-free, atomics only.
  static int process_cb(jack_nframes_t nframes, void* arg) noexcept;
  static void thread_init_cb(void* arg) noexcept;
  static int sample_rate_cb(jack_nframes_t rate, void* arg) noexcept;
  static int buffer_size_cb(jack_nframes_t nframes, void* arg) noexcept;
  static int xrun_cb(void* arg) noexcept;
  static void port_connect_cb(jack_port_id_t a, jack_port_id_t b, int connect, void* arg) noexcept;
  static void shutdown_cb(void* arg) noexcept;
  static void info_shutdown_cb(jack_status_t code, const char* reason, void* arg) noexcept;

  void close_client() noexcept;
  void connect_remembered();
  std::vector<PortConnection> query_connections() const;

  JackClientOptions options_;
  jack_client_t* client_ = nullptr;
  std::string actual_name_;
  std::vector<jack_port_t*> out_ports_;  // control thread builds it; audio thread reads
  jack_port_t* midi_port_ = nullptr;
  ProcessTarget target_;  // written before activation only
  std::uint32_t sample_rate_ = 0;
  std::uint32_t buffer_size_ = 0;
  std::chrono::milliseconds retry_delay_ = kRetryMin;
  std::string last_error_;
  std::vector<PortConnection> connections_;
  std::vector<PortConnection> pending_connections_;
  bool pending_valid_ = false;

  // Audio thread only (reset before activation): the 64-bit extension of jack_last_frame_time().
  FrameClock frame_clock_;
  // Audio thread only (allocated at construction): where an output JACK gave no buffer for is
  // rendered, then ignored; a row of kDiscardFrames per output, so that no two outputs share
  // memory (the mixing kernels take their outputs as non-aliasing).
  static constexpr std::uint32_t kDiscardFrames = 16384;
  std::unique_ptr<float[]> discard_;
  std::atomic<std::uint64_t> null_buffers_{0};

  // The handshake word: bit 0 "a cycle is running", bit 1 "retired". One atomic, read-modify-
  // write on both sides, so the two sides are ordered without a standalone fence.
  static constexpr std::uint32_t kInCycle = 1;
  static constexpr std::uint32_t kRetired = 2;
  std::atomic<std::uint32_t> cycle_state_{kRetired};

  std::atomic<bool> server_gone_{false};
  std::atomic<std::uint32_t> rate_now_{0};
  std::atomic<std::uint32_t> size_now_{0};
  std::atomic<std::uint64_t> xruns_{0};
  std::atomic<std::uint64_t> midi_overflow_{0};  // written by the process thread only
  std::uint64_t xruns_seen_ = 0;
  std::atomic<std::uint64_t> connect_events_{0};
  std::uint64_t connect_events_seen_ = 0;
  std::atomic<std::uint64_t> frame_now_{0};
  std::atomic<std::uint64_t> cycles_{0};
  std::atomic<std::uint32_t> thread_inits_{0};

  static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
  static_assert(std::atomic<bool>::is_always_lock_free);
};

}  // namespace clipd::jack
