// clipd/backend/select.hpp: the choice of audio server (`backend` in clipd.conf(5), --backend in
// clipd(1)), made again on every connection attempt.
//
// AutoBackend is itself a Backend: the controller holds one and never learns which server is
// behind it. It holds a factory per kind and makes each kind's backend the first time it tries
// that kind; the object is then kept for the daemon's life, so each kind remembers its own port
// connections (server port names differ between JACK and PipeWire) and its totals (xruns and the
// like, summed over the kinds). The retry delay is AutoBackend's own.
//
// The rule, on every open()/try_open() while closed:
// - `jack`: only the JACK backend is ever made and tried.
// - `pipewire`: only the PipeWire backend is ever made and tried.
// - `auto`: JACK first. Its open never starts a server (JackNoStartServer), so it succeeds only
//   when a JACK server (or pipewire-jack, under pw-jack) already answers: then JACK it is. When
//   it answers but the ports or activation fail, that failure is the result (a JACK server is
//   there; PipeWire is not tried). When no JACK server answers, the PipeWire backend is tried.
// After retire() the next attempt decides again, so a daemon follows whichever server is there.
//
// A factory that returns null means that kind is not available in this build: the attempt counts
// as no_server, and the factory is not called again (it may log why, once).
//
// Thread contract: as backend/backend.hpp: the control thread calls every member function;
// frame_now() and cycles() may be called from any thread.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backend/backend.hpp"

namespace clipd::backend {

enum class Choice { auto_select, jack, pipewire };

// "auto", "jack" or "pipewire"; nullopt for any other word.
std::optional<Choice> parse_choice(std::string_view word) noexcept;
std::string_view choice_name(Choice choice) noexcept;

// Makes a backend of one kind with the daemon's options (not open yet), or null when this build
// has none of that kind. Control thread.
using Factory = std::function<std::unique_ptr<Backend>(const Options&)>;

class AutoBackend final : public Backend {
 public:
  // `on_debug` (may be empty) gets one line per attempt of a kind ("backend jack: no server
  // (...)"), for the daemon's debug log.
  AutoBackend(Choice choice, Options options, Factory make_jack, Factory make_pipewire,
              std::function<void(const std::string&)> on_debug = {});
  ~AutoBackend() override;
  AutoBackend(const AutoBackend&) = delete;
  AutoBackend& operator=(const AutoBackend&) = delete;

  // Makes the backend a forced choice (`jack`, `pipewire`) needs, so that a build without it
  // fails at start-up; false when its factory gave none. `auto` makes nothing yet: true.
  bool prepare();

  Choice choice() const noexcept { return choice_; }

  // The kind of the backend open now, else of the last one opened, else the forced one (`auto`
  // before any open: jack). Meaningful to report only while is_open().
  Kind kind() const noexcept override;

  // The rule at the top of this file; the chosen backend's open()/try_open().
  OpenResult open(ProcessTarget target) override;
  // open() plus the retry delay: kRetryMin after success, doubled up to kRetryMax after failure.
  OpenResult try_open(ProcessTarget target) override;
  std::chrono::milliseconds retry_delay() const noexcept override { return retry_delay_; }

  // The open backend's events, plus the library messages of every backend made.
  Events poll() override;
  RetireResult retire(std::chrono::milliseconds bound = std::chrono::milliseconds(2000)) override;

  bool is_open() const noexcept override;
  // The current backend's (the one open, else the last one opened), else the requested name.
  const std::string& client_name() const noexcept override;
  std::uint32_t sample_rate() const noexcept override;
  std::uint32_t buffer_size() const noexcept override;
  // Sums over every backend made.
  std::uint64_t xruns() const noexcept override;
  std::uint64_t midi_overflow() const noexcept override;
  std::uint64_t null_buffers() const noexcept override;

  // The current backend's remembered connections (each kind keeps its own); before any backend
  // was current, what set_connections() gave.
  const std::vector<PortConnection>& connections() const noexcept override;
  // Replaces the current backend's remembered connections; before any backend was current, the
  // connections every backend starts with.
  void set_connections(std::vector<PortConnection> connections) override;
  // The last attempt's failure, naming the kind ("jack: ...").
  const std::string& last_error() const noexcept override { return last_error_; }

  // The open backend's; nullopt while closed.
  std::optional<std::uint32_t> playback_latency() const override;
  std::optional<double> dsp_load() const override;

  // The current backend's; 0 before any. Any thread: wait-free (one atomic load, then the
  // backend's own wait-free read; a backend, once made, lives as long as this object).
  std::uint64_t frame_now() const noexcept override;
  std::uint64_t cycles() const noexcept override;
  std::uint64_t server_nsecs() const noexcept override;

  // The current backend's names; before any, "<client name>:out_N" / "<client name>:midi_in".
  std::string port_name(std::uint32_t output_index) const override;
  std::string midi_port_name() const override;

  // The backend of `kind` if it was made (tests; the daemon's log). Control thread.
  Backend* made(Kind kind) const noexcept { return slot(kind).backend.get(); }

 private:
  struct Slot {
    Factory factory;
    std::unique_ptr<Backend> backend;
    bool unavailable = false;  // the factory gave none: never asked again
  };
  Slot& slot(Kind kind) noexcept { return slots_[kind == Kind::jack ? 0 : 1]; }
  const Slot& slot(Kind kind) const noexcept { return slots_[kind == Kind::jack ? 0 : 1]; }
  // The backend of `kind`, made now if needed; null when the build has none.
  Backend* make(Kind kind);
  OpenResult attempt(ProcessTarget target, bool retrying);
  bool allows(Kind kind) const noexcept;
  Backend* current() const noexcept { return current_.load(std::memory_order_acquire); }

  const Choice choice_;
  const Options options_;
  std::function<void(const std::string&)> on_debug_;
  std::array<Slot, 2> slots_;
  // The backend open now, else the last one opened; set by the control thread, read anywhere.
  std::atomic<Backend*> current_{nullptr};
  std::vector<PortConnection> initial_connections_;
  std::chrono::milliseconds retry_delay_ = kRetryMin;
  std::string last_error_;
};

}  // namespace clipd::backend
