// clipd/backend/backend.hpp: the one interface the controller uses to reach an audio server.
//
// Two backends implement it: JACK (backend/jack/, libjack; also pipewire-jack under pw-jack) and
// native PipeWire (backend/pipewire/, a pw_filter). The controller owns one Backend at a time
// and never learns which server it talks to, except through kind() for what it reports.
//
// Threads:
// - The control thread owns the object and calls every member function (one thread; none of
//   them is safe to call concurrently with another).
// - The server's audio thread calls the ProcessTarget once per cycle, from the first cycle after
//   open() until retire(). Everything the backend runs on that thread (its own callbacks
//   included) is real-time safe: no allocation, lock, wait or system call; it stores what the
//   control thread must learn (rate, size, xruns, server loss) into atomics, which poll() reads
//   on a timer.
//
// Life of a connection: open() or try_open() with a process target; poll() on a timer; when
// poll() reports the server gone (or the daemon stops), retire() waits until no cycle runs, marks
// the target retired so no later callback touches it, and closes the connection. Only after
// retire() may the daemon destroy what the target points into; it then calls try_open() with a
// fresh target every retry_delay() (kRetryMin, backing off to kRetryMax) until a server is back.
// Connections the ports had are remembered across connections and made again on the next open.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/midi_event.hpp"

namespace clipd::backend {

// The servers clipd can talk to. `auto_select` is a choice only (see backend/select.hpp), never
// the kind of an open backend.
enum class Kind { jack, pipewire };

// "jack" / "pipewire": the word hello and status report.
constexpr std::string_view kind_name(Kind kind) noexcept {
  return kind == Kind::jack ? "jack" : "pipewire";
}

// Most MIDI events of one cycle a backend hands to the target; events past it are counted in
// midi_overflow() and skipped.
inline constexpr std::uint32_t kMidiCapacity = 1024;

// Renders one period. `frame` is the server's 64-bit frame of the period's first frame, `nframes`
// the period's size (any size the server picks, cycle by cycle), `outputs[c]` the nframes samples
// of out_{c+1} (never null, never aliasing), `midi` the events of midi_in in non-decreasing offset
// order, each offset < nframes (empty when there is no MIDI input), valid until the call returns.
// `usecs` is the server's microsecond clock at `frame` (JACK: jack_get_time's clock; PipeWire:
// CLOCK_MONOTONIC), `next_usecs` the server's own estimate, on that clock, of where the next
// period starts (JACK's filtered next wakeup, PipeWire's next_nsec; 0 when the server gives none):
// between the two lies the server's map from time to frames (what jack_time_to_frames uses).
// Thread contract: audio thread only; must be real-time safe.
using ProcessFn = void (*)(void* ctx, std::uint64_t frame, std::uint32_t nframes,
                           float* const* outputs, std::span<const engine::MidiEventView> midi,
                           std::uint64_t usecs, std::uint64_t next_usecs) noexcept;

struct ProcessTarget {
  ProcessFn fn = nullptr;  // null: the backend writes silence
  void* ctx = nullptr;
};

struct Options {
  // JACK: the client name asked for. PipeWire: node.name.
  std::string client_name = "clipd";
  // JACK only. Empty: $JACK_DEFAULT_SERVER, else the library's default server.
  std::string server_name;
  std::uint32_t outputs = 2;  // 1 .. kMaxOutputs
  bool midi_input = true;
  // Output i goes to auto_connect[i] (out_1 to the first entry...), made on every open; entries
  // past the number of outputs are ignored. Empty: JACK makes no connection; PipeWire leaves
  // routing to the session manager (unless `autoconnect` is false).
  std::vector<std::string> auto_connect;
  // Made on every open: each source is connected to midi_in.
  std::vector<std::string> midi_auto_connect;
  // JACK: pretty-name metadata prefix (out_3 shown as "<prefix>3"); empty: none. PipeWire: the
  // ports' port.alias the same way.
  std::string pretty_name_prefix = "clipd out ";
  // PipeWire only: false keeps the session manager from linking the node (node.autoconnect).
  bool autoconnect = true;
  // PipeWire only: media.role of the node.
  std::string media_role = "Music";
  // PipeWire only: node.description. Empty: derived from client_name.
  std::string description;
};

inline constexpr std::uint32_t kMaxOutputs = 64;
inline constexpr std::chrono::milliseconds kRetryMin{200};
inline constexpr std::chrono::milliseconds kRetryMax{1000};

// A remembered connection: one of our ports (short name, "out_1" or "midi_in") and the full
// name of the port at its other end, as the server names it.
struct PortConnection {
  std::string own_port;
  std::string other_port;
  friend bool operator==(const PortConnection&, const PortConnection&) = default;
};

// A message of the server's client library (libjack's error and info hooks; PipeWire's log),
// caught without allocating on the thread that wrote it, drained by poll().
struct LibraryMessage {
  bool error = false;
  std::string text;
};

// What poll() saw since the previous poll() (or since open).
struct Events {
  bool server_gone = false;  // the server shut the connection down or died; true until retire()
  bool sample_rate_changed = false;
  bool buffer_size_changed = false;
  bool connections_changed = false;  // connections() differs from what it was
  std::uint64_t new_xruns = 0;
  std::uint32_t sample_rate = 0;  // current values
  std::uint32_t buffer_size = 0;
  std::vector<LibraryMessage> library_messages;  // oldest first
  std::uint64_t library_dropped = 0;             // came faster than poll() drained them
  std::vector<std::string> notes;                // what the backend itself decided, oldest first

  bool any() const noexcept {
    return server_gone || sample_rate_changed || buffer_size_changed || connections_changed ||
           new_xruns != 0;
  }
};

enum class OpenResult {
  opened,
  already_open,
  no_server,  // no server answered (or it refused us)
  failed,     // the server answered but ports or activation failed (see last_error())
};

enum class RetireResult {
  not_open,
  retired,  // no cycle was running: the target will never be called again
  // A cycle was still running after the bound; the connection was closed anyway, and the target
  // is not called after retire() either way, but what it was working on may be in any state. The
  // daemon logs this and abandons (leaks) what the target points into.
  timed_out,
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual Kind kind() const noexcept = 0;

  // Connects, registers out_1..out_N (and midi_in), starts the cycles, then makes the
  // auto-connections and the remembered ones. `target` is called from the first cycle on, until
  // retire(). Note: allocates, blocks on the server (milliseconds).
  virtual OpenResult open(ProcessTarget target) = 0;
  // open() for the reconnection timer: when not open, tries once and updates retry_delay()
  // (kRetryMin on success, doubled up to kRetryMax on failure).
  virtual OpenResult try_open(ProcessTarget target) = 0;
  virtual std::chrono::milliseconds retry_delay() const noexcept = 0;

  // What the audio-thread side stored since the last poll, and the library's messages (also
  // while not open). Note: allocates when connections changed.
  virtual Events poll() = 0;

  // The retire handshake (see the top of this file). Note: blocks up to about `bound`.
  virtual RetireResult retire(
      std::chrono::milliseconds bound = std::chrono::milliseconds(2000)) = 0;

  virtual bool is_open() const noexcept = 0;
  // The name the server gave us while open (JACK may add a suffix), else the requested one.
  virtual const std::string& client_name() const noexcept = 0;
  // As of the last open() or poll().
  virtual std::uint32_t sample_rate() const noexcept = 0;
  virtual std::uint32_t buffer_size() const noexcept = 0;
  // Totals since the object was made.
  virtual std::uint64_t xruns() const noexcept = 0;
  virtual std::uint64_t midi_overflow() const noexcept = 0;
  // Cycles in which the server gave an output no buffer (rendered into a discard row instead).
  virtual std::uint64_t null_buffers() const noexcept = 0;

  // The remembered connections (made again on the next open), and a replacement for them (for
  // example from a state file).
  virtual const std::vector<PortConnection>& connections() const noexcept = 0;
  virtual void set_connections(std::vector<PortConnection> connections) = 0;
  // The last failure of open(), for the log.
  virtual const std::string& last_error() const noexcept = 0;

  // The largest playback latency of the outputs (frames) and the server's DSP load (percent),
  // where the server reports them while open; nullopt otherwise.
  virtual std::optional<std::uint32_t> playback_latency() const = 0;
  virtual std::optional<double> dsp_load() const = 0;

  // Published by the audio thread at the end of each cycle: the frame just after the last cycle
  // (the control thread's "now") and the number of cycles. 0 before the first cycle.
  // Thread contract: any thread; wait-free.
  virtual std::uint64_t frame_now() const noexcept = 0;
  virtual std::uint64_t cycles() const noexcept = 0;
  // The server's clock now, in nanoseconds: the clock of ProcessFn's `usecs` (JACK: the clock
  // behind jack_get_time(); PipeWire: CLOCK_MONOTONIC), so that a time on it maps to a frame
  // through the last cycle's (frame, usecs). Read to the nanosecond where the backend knows the
  // system clock behind the server's. Meaningful while open. Thread contract: any thread.
  virtual std::uint64_t server_nsecs() const noexcept = 0;

  // Full name of our port as the server names it ("clipd:out_1"); valid while open.
  virtual std::string port_name(std::uint32_t output_index) const = 0;
  virtual std::string midi_port_name() const = 0;
};

}  // namespace clipd::backend
