// clipd/backend/jack/jack_backend.hpp: the JACK backend (backend/backend.hpp): ports,
// callbacks, the retire handshake and reconnection through libjack. Under pw-jack the same code
// talks to PipeWire through pipewire-jack.
//
// Threads (besides those of backend/backend.hpp):
// - The process callback runs on JACK's audio thread and calls the process target. Sample-rate,
//   buffer-size, xrun, port-connect and shutdown callbacks may also run there (JACK2 reports a
//   server error from the process thread; pipewire-jack reports xruns from its data loop), so they
//   only store into atomics, inside a RealtimeScope like the process callback. The control thread
//   reads them with poll(), on a timer.
// - The thread-init callback runs once on the audio thread before its first cycle (not real-time:
//   it touches the stack's pages so that cycles never fault them in).
#pragma once

#include <jack/types.h>

#include <time.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.hpp"
#include "backend/jack/frame_clock.hpp"
#include "backend/jack/library_log.hpp"

namespace clipd::backend::jack {

class JackBackend final : public Backend {
 public:
  // How much of the audio thread's stack the thread-init callback touches.
  static constexpr std::size_t kStackPrefault = 256 * 1024;

  // Thread contract: control thread. Opens nothing; installs libjack's error and info hooks
  // (backend/jack/library_log.hpp) once per process.
  explicit JackBackend(Options options);
  // Thread contract: control thread. Retires and closes the client if open.
  ~JackBackend() override;
  JackBackend(const JackBackend&) = delete;
  JackBackend& operator=(const JackBackend&) = delete;

  Kind kind() const noexcept override { return Kind::jack; }

  // Opens the client (JackNoStartServer, so no_server when no server runs; JackUseExactName
  // off, so a taken name gets the server's variant, see client_name()), registers out_1..out_N
  // (and midi_in), sets pretty names, installs the callbacks, activates, then makes the
  // auto-connections and the remembered ones. `target` is called from the first cycle on, until
  // retire().
  // Thread contract: control thread. Note: allocates, blocks on the server (milliseconds).
  OpenResult open(ProcessTarget target) override;

  // open() for the reconnection timer: when not open, tries once and updates retry_delay()
  // (reset to kRetryMin on success, doubled up to kRetryMax on failure).
  // Thread contract: control thread. Note: allocates, blocks on the server.
  OpenResult try_open(ProcessTarget target) override;
  std::chrono::milliseconds retry_delay() const noexcept override { return retry_delay_; }

  // Reads what the callbacks stored since the last poll, and libjack's messages (also while not
  // open). When the server is alive and connections changed, it queries our ports' connections
  // and remembers them (committed one poll later, so a server that disconnects everything while
  // going away does not wipe the list).
  // Thread contract: control thread. Note: allocates when connections changed.
  Events poll() override;

  // The retire handshake: marks the target retired, waits up to `bound` until no cycle is
  // running, then closes the client. After it returns no callback touches the target.
  // jack_client_close() returns only once the audio thread has left the cycle (JACK2 and
  // pipewire-jack), so even after timed_out the target is not called again.
  // Thread contract: control thread. Note: blocks (sleeps in steps of 1 ms, then in
  // jack_client_close).
  RetireResult retire(std::chrono::milliseconds bound = std::chrono::milliseconds(2000)) override;

  // Thread contract: control thread.
  bool is_open() const noexcept override { return client_ != nullptr; }
  const Options& options() const noexcept { return options_; }
  // The name the server gave the client while open (the requested one, or "clipd-01" when that
  // was taken), else the requested one.
  const std::string& client_name() const noexcept override {
    return client_ != nullptr ? actual_name_ : options_.client_name;
  }
  // Sample rate and buffer size as of the last open() or poll().
  std::uint32_t sample_rate() const noexcept override { return sample_rate_; }
  std::uint32_t buffer_size() const noexcept override { return buffer_size_; }
  // Total xruns reported since the object was made.
  std::uint64_t xruns() const noexcept override { return xruns_.load(std::memory_order_relaxed); }
  // MIDI events on midi_in past the per-cycle capacity (kMidiCapacity), since made.
  std::uint64_t midi_overflow() const noexcept override {
    return midi_overflow_.load(std::memory_order_relaxed);
  }
  // The remembered connections (made again on the next open).
  const std::vector<PortConnection>& connections() const noexcept override { return connections_; }
  // Replaces the remembered connections (for example from a state file); made on the next open.
  void set_connections(std::vector<PortConnection> connections) override {
    connections_ = std::move(connections);
  }
  // The last failure of open(), for the log.
  const std::string& last_error() const noexcept override { return last_error_; }
  // The largest playback latency (frames) of the output ports, as the graph reports it; nullopt
  // when not open. Thread contract: control thread.
  std::optional<std::uint32_t> playback_latency() const override;
  // The server's DSP load in percent (jack_cpu_load); nullopt when not open.
  // Thread contract: control thread.
  std::optional<double> dsp_load() const override;
  // Cycles in which JACK gave an output port no buffer (jack_port_get_buffer returned null): the
  // cycle still ran, rendering that output into a discard buffer (or, past kDiscardFrames,
  // without calling the target). A null MIDI buffer reads as no events
  // (backend/jack/midi_input.hpp).
  std::uint64_t null_buffers() const noexcept override {
    return null_buffers_.load(std::memory_order_relaxed);
  }
  // Full port name ("clipd:out_1"); valid while open.
  std::string port_name(std::uint32_t output_index) const override;
  std::string midi_port_name() const override;

  // Published by the audio thread at the end of each cycle: the frame just after the last cycle
  // (the control thread's "now") and the number of cycles. 0 before the first cycle.
  // Thread contract: any thread. Non-blocking guarantees: wait-free.
  std::uint64_t frame_now() const noexcept override {
    return frame_now_.load(std::memory_order_acquire);
  }
  std::uint64_t cycles() const noexcept override { return cycles_.load(std::memory_order_acquire); }
  // jack_get_time(): the clock jack_get_cycle_times() reports the cycles on.
  std::uint64_t server_nsecs() const noexcept override;
  // The system clock whose microseconds jack_get_time() returns (needs an open client).
  static std::optional<clockid_t> find_server_clock();
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

  Options options_;
  jack_client_t* client_ = nullptr;
  std::string actual_name_;
  // The system clock behind jack_get_time(), found at open (control thread; read there too by
  // server_nsecs()); none when neither matched.
  std::optional<clockid_t> server_clock_;
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
  // Audio thread only (allocated with the object): the cycle's MIDI events, read from midi_in's
  // port buffer (backend/jack/midi_input.hpp) and handed to the target as a span.
  std::unique_ptr<engine::MidiEventView[]> midi_;

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

}  // namespace clipd::backend::jack
