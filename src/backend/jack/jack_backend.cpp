#include "backend/jack/jack_backend.hpp"

#include <jack/jack.h>
#include <jack/metadata.h>
#include <jack/uuid.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "backend/jack/midi_input.hpp"
#include "clipd/realtime.hpp"

namespace clipd::backend::jack {

namespace {

// Touches `bytes` of stack below the caller's frame, one write per page, so the pages are mapped
// before the first cycle. noinline: the alloca must live in its own frame, below the caller's.
[[gnu::noinline]] void prefault_stack(std::size_t bytes, std::size_t page) noexcept {
  if (bytes == 0) return;
  auto* p = static_cast<volatile unsigned char*>(__builtin_alloca(bytes));
  for (std::size_t i = 0; i < bytes; i += page)
    p[i] = 0;
  p[bytes - 1] = 0;
}

std::string default_server_name(const std::string& configured) {
  if (!configured.empty()) return configured;
  const char* env = std::getenv("JACK_DEFAULT_SERVER");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string();
}

}  // namespace

JackBackend::JackBackend(Options options) : options_(std::move(options)) {
  options_.outputs = std::clamp<std::uint32_t>(options_.outputs, 1, kMaxOutputs);
  discard_ = std::make_unique<float[]>(std::size_t{options_.outputs} * kDiscardFrames);
  midi_ = std::make_unique<engine::MidiEventView[]>(kMidiCapacity);
  LibraryLog::install();
}

JackBackend::~JackBackend() {
  retire();
}

std::string JackBackend::port_name(std::uint32_t output_index) const {
  return client_name() + ":out_" + std::to_string(output_index + 1);
}

std::string JackBackend::midi_port_name() const {
  return client_name() + ":midi_in";
}

OpenResult JackBackend::open(ProcessTarget target) {
  if (client_ != nullptr) return OpenResult::already_open;
  last_error_.clear();

  // Without a configured name and without $JACK_DEFAULT_SERVER, no JackServerName at all: the
  // library's own default (pipewire-jack takes a given name as the remote to connect to).
  const std::string server = default_server_name(options_.server_name);
  int flags = JackNoStartServer;
  if (!server.empty()) flags |= JackServerName;
  jack_status_t status{};
  client_ = server.empty()
                ? jack_client_open(options_.client_name.c_str(), static_cast<jack_options_t>(flags),
                                   &status)
                : jack_client_open(options_.client_name.c_str(), static_cast<jack_options_t>(flags),
                                   &status, server.c_str());
  if (client_ == nullptr) {
    last_error_ = "jack_client_open failed (status 0x" + [&] {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%x", static_cast<unsigned>(status));
      return std::string(buf);
    }() + ")";
    return OpenResult::no_server;
  }
  actual_name_ = jack_get_client_name(client_);
  server_clock_ = find_server_clock();

  auto fail = [&](std::string what) {
    last_error_ = std::move(what);
    jack_client_close(client_);
    client_ = nullptr;
    out_ports_.clear();
    midi_port_ = nullptr;
    return OpenResult::failed;
  };

  for (std::uint32_t i = 0; i < options_.outputs; ++i) {
    const std::string name = "out_" + std::to_string(i + 1);
    jack_port_t* port =
        jack_port_register(client_, name.c_str(), JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
    if (port == nullptr) return fail("cannot register " + name);
    out_ports_.push_back(port);
  }
  if (options_.midi_input) {
    midi_port_ = jack_port_register(client_, "midi_in", JACK_DEFAULT_MIDI_TYPE, JackPortIsInput, 0);
    if (midi_port_ == nullptr) return fail("cannot register midi_in");
  }

  // Pretty names are a convenience: a server without metadata support still gets the ports.
  if (!options_.pretty_name_prefix.empty()) {
    for (std::uint32_t i = 0; i < out_ports_.size(); ++i) {
      const std::string pretty = options_.pretty_name_prefix + std::to_string(i + 1);
      jack_set_property(client_, jack_port_uuid(out_ports_[i]), JACK_METADATA_PRETTY_NAME,
                        pretty.c_str(), "text/plain");
    }
    if (midi_port_ != nullptr) {
      const std::string pretty = options_.pretty_name_prefix + "MIDI";
      jack_set_property(client_, jack_port_uuid(midi_port_), JACK_METADATA_PRETTY_NAME,
                        pretty.c_str(), "text/plain");
    }
  }

  // Cleared before the shutdown callbacks exist: a server that goes away from here on is seen,
  // however soon.
  server_gone_.store(false, std::memory_order_release);
  jack_set_process_callback(client_, &JackBackend::process_cb, this);
  jack_set_thread_init_callback(client_, &JackBackend::thread_init_cb, this);
  jack_set_sample_rate_callback(client_, &JackBackend::sample_rate_cb, this);
  jack_set_buffer_size_callback(client_, &JackBackend::buffer_size_cb, this);
  jack_set_xrun_callback(client_, &JackBackend::xrun_cb, this);
  jack_set_port_connect_callback(client_, &JackBackend::port_connect_cb, this);
  // Both: JACK2 calls only the info variant when both are set; pipewire-jack 0.3.65 calls only
  // the plain one when the server's connection breaks.
  jack_on_shutdown(client_, &JackBackend::shutdown_cb, this);
  jack_on_info_shutdown(client_, &JackBackend::info_shutdown_cb, this);

  // Everything the audio thread reads is written before this release store; its first
  // fetch_or on cycle_state_ reads it, so the writes happen-before the first cycle.
  target_ = target;
  frame_clock_.reset();
  rate_now_.store(jack_get_sample_rate(client_), std::memory_order_relaxed);
  size_now_.store(jack_get_buffer_size(client_), std::memory_order_relaxed);
  frame_now_.store(0, std::memory_order_relaxed);
  cycles_.store(0, std::memory_order_relaxed);
  cycle_state_.store(0, std::memory_order_release);

  if (jack_activate(client_) != 0) {
    cycle_state_.store(kRetired, std::memory_order_release);
    return fail("jack_activate failed");
  }
  sample_rate_ = rate_now_.load(std::memory_order_relaxed);
  buffer_size_ = size_now_.load(std::memory_order_relaxed);
  xruns_seen_ = xruns_.load(std::memory_order_relaxed);
  pending_valid_ = false;

  for (std::size_t i = 0; i < options_.auto_connect.size() && i < out_ports_.size(); ++i) {
    const int rc =
        jack_connect(client_, jack_port_name(out_ports_[i]), options_.auto_connect[i].c_str());
    if (rc != 0 && rc != EEXIST) last_error_ = "cannot connect to " + options_.auto_connect[i];
  }
  if (midi_port_ != nullptr) {
    for (const std::string& source : options_.midi_auto_connect) {
      const int rc = jack_connect(client_, source.c_str(), jack_port_name(midi_port_));
      if (rc != 0 && rc != EEXIST) last_error_ = "cannot connect from " + source;
    }
  }
  connect_remembered();
  return OpenResult::opened;
}

OpenResult JackBackend::try_open(ProcessTarget target) {
  if (client_ != nullptr) return OpenResult::already_open;
  const OpenResult result = open(target);
  if (result == OpenResult::opened) {
    retry_delay_ = kRetryMin;
  } else {
    retry_delay_ = std::min(retry_delay_ * 2, kRetryMax);
  }
  return result;
}

void JackBackend::connect_remembered() {
  const std::string prefix = actual_name_ + ":";
  for (const PortConnection& c : connections_) {
    const std::string own = prefix + c.own_port;
    jack_port_t* port = jack_port_by_name(client_, own.c_str());
    if (port == nullptr) continue;  // a port this configuration does not have
    const bool output = (jack_port_flags(port) & JackPortIsOutput) != 0;
    const int rc = output ? jack_connect(client_, own.c_str(), c.other_port.c_str())
                          : jack_connect(client_, c.other_port.c_str(), own.c_str());
    if (rc != 0 && rc != EEXIST) last_error_ = "cannot restore " + own + " - " + c.other_port;
  }
}

std::vector<PortConnection> JackBackend::query_connections() const {
  std::vector<PortConnection> result;
  auto add = [&](jack_port_t* port) {
    const char** others = jack_port_get_all_connections(client_, port);
    if (others == nullptr) return;
    const std::string own = jack_port_short_name(port);
    for (const char** p = others; *p != nullptr; ++p)
      result.push_back({own, *p});
    jack_free(static_cast<void*>(others));
  };
  for (jack_port_t* port : out_ports_)
    add(port);
  if (midi_port_ != nullptr) add(midi_port_);
  return result;
}

Events JackBackend::poll() {
  Events ev;
  ev.library_messages = LibraryLog::instance().drain(ev.library_dropped);
  if (client_ == nullptr) {
    ev.sample_rate = sample_rate_;
    ev.buffer_size = buffer_size_;
    return ev;
  }
  ev.server_gone = server_gone_.load(std::memory_order_acquire);

  const std::uint32_t rate = rate_now_.load(std::memory_order_relaxed);
  if (rate != sample_rate_ && rate != 0) {
    sample_rate_ = rate;
    ev.sample_rate_changed = true;
  }
  const std::uint32_t size = size_now_.load(std::memory_order_relaxed);
  if (size != buffer_size_ && size != 0) {
    buffer_size_ = size;
    ev.buffer_size_changed = true;
  }
  ev.sample_rate = sample_rate_;
  ev.buffer_size = buffer_size_;

  const std::uint64_t xruns = xruns_.load(std::memory_order_relaxed);
  ev.new_xruns = xruns - xruns_seen_;
  xruns_seen_ = xruns;

  if (ev.server_gone) {
    pending_valid_ = false;  // what the ports lost while the server went away is not forgotten
    return ev;
  }
  // A snapshot taken at the previous poll is kept once the server has outlived it.
  if (pending_valid_) {
    pending_valid_ = false;
    if (pending_connections_ != connections_) {
      connections_ = std::move(pending_connections_);
      ev.connections_changed = true;
    }
    pending_connections_.clear();
  }
  const std::uint64_t events = connect_events_.load(std::memory_order_acquire);
  if (events != connect_events_seen_) {
    connect_events_seen_ = events;
    pending_connections_ = query_connections();
    pending_valid_ = true;
  }
  return ev;
}

RetireResult JackBackend::retire(std::chrono::milliseconds bound) {
  if (client_ == nullptr) return RetireResult::not_open;
  // Connections made since the last poll are remembered too, unless the server is gone.
  if (!server_gone_.load(std::memory_order_acquire)) {
    connections_ = query_connections();
    pending_valid_ = false;
  }

  RetireResult result = RetireResult::retired;
  std::uint32_t state = cycle_state_.fetch_or(kRetired, std::memory_order_acq_rel);
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while ((state & kInCycle) != 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      result = RetireResult::timed_out;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    state = cycle_state_.load(std::memory_order_acquire);
  }
  close_client();
  return result;
}

void JackBackend::close_client() noexcept {
  if (!server_gone_.load(std::memory_order_acquire) && !options_.pretty_name_prefix.empty()) {
    for (jack_port_t* port : out_ports_)
      jack_remove_properties(client_, jack_port_uuid(port));
    if (midi_port_ != nullptr) jack_remove_properties(client_, jack_port_uuid(midi_port_));
  }
  // Stops the audio thread (JACK2 joins it) before returning.
  jack_client_close(client_);
  client_ = nullptr;
  out_ports_.clear();
  midi_port_ = nullptr;
  target_ = {};
  server_gone_.store(false, std::memory_order_relaxed);
  connect_events_seen_ = connect_events_.load(std::memory_order_relaxed);
}

// Audio thread. Non-blocking guarantees: wait-free (as far as the JACK library's buffer and
// time queries are, which read shared memory) plus whatever the target does. Cost besides the
// target: O(outputs) buffer queries, O(kMidiCapacity) MIDI reads, plus O(outputs x nframes) when
// it writes silence.
int JackBackend::process_cb(jack_nframes_t nframes, void* arg) noexcept {
  RealtimeScope realtime;
  auto* self = static_cast<JackBackend*>(arg);
  const std::uint32_t state = self->cycle_state_.fetch_or(kInCycle, std::memory_order_acq_rel);

  float* outputs[kMaxOutputs];
  bool discarded[kMaxOutputs];
  const std::size_t n = self->out_ports_.size();
  bool missing = false;
  for (std::size_t i = 0; i < n; ++i) {
    outputs[i] = static_cast<float*>(jack_port_get_buffer(self->out_ports_[i], nframes));
    discarded[i] = outputs[i] == nullptr;
    if (discarded[i]) {
      // No buffer for this port this cycle: render it into its discard row (never read).
      outputs[i] = self->discard_.get() + i * std::size_t{kDiscardFrames};
      missing = true;
    }
  }
  if (missing) self->null_buffers_.fetch_add(1, std::memory_order_relaxed);
  if (missing && nframes > kDiscardFrames) {
    // Larger than the discard buffer: skip the target, so that nothing writes past it. The
    // outputs that have buffers carry silence.
    for (std::size_t i = 0; i < n; ++i) {
      if (!discarded[i]) std::memset(outputs[i], 0, nframes * sizeof(float));
    }
    self->cycle_state_.fetch_and(~kInCycle, std::memory_order_release);
    return 0;
  }

  if ((state & kRetired) != 0 || self->target_.fn == nullptr) {
    for (std::size_t i = 0; i < n; ++i) {
      if (!discarded[i]) std::memset(outputs[i], 0, nframes * sizeof(float));
    }
    self->cycle_state_.fetch_and(~kInCycle, std::memory_order_release);
    return 0;
  }

  const jack_nframes_t now32 = jack_last_frame_time(self->client_);
  const std::uint64_t frame = self->frame_clock_.extend(now32);

  jack_nframes_t cycle_frames = 0;
  jack_time_t cycle_usecs = 0;
  jack_time_t next_usecs = 0;
  float period_usecs = 0;
  std::uint64_t usecs = 0;
  if (jack_get_cycle_times(self->client_, &cycle_frames, &cycle_usecs, &next_usecs,
                           &period_usecs) == 0) {
    usecs = cycle_usecs;
  } else {
    usecs = jack_frames_to_time(self->client_, now32);
    next_usecs = 0;
  }

  std::uint32_t midi_count = 0;
  if (self->midi_port_ != nullptr) {
    const MidiRead midi = read_midi(jack_port_get_buffer(self->midi_port_, nframes),
                                    self->midi_.get(), kMidiCapacity);
    midi_count = midi.count;
    if (midi.overflow != 0) {
      self->midi_overflow_.store(
          self->midi_overflow_.load(std::memory_order_relaxed) + midi.overflow,
          std::memory_order_relaxed);
    }
  }
  self->target_.fn(self->target_.ctx, frame, nframes, outputs,
                   std::span<const engine::MidiEventView>(self->midi_.get(), midi_count), usecs,
                   next_usecs);

  self->frame_now_.store(frame + nframes, std::memory_order_release);
  self->cycles_.store(self->cycles_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  self->cycle_state_.fetch_and(~kInCycle, std::memory_order_release);
  return 0;
}

// The audio thread, once, before its first cycle (not real-time: it may allocate).
void JackBackend::thread_init_cb(void* arg) noexcept {
  auto* self = static_cast<JackBackend*>(arg);
  const long page_size = sysconf(_SC_PAGESIZE);
  const std::size_t page = page_size > 0 ? static_cast<std::size_t>(page_size) : 4096;
  std::size_t depth = kStackPrefault;
  // Never beyond the thread's own stack (minus a margin for the frames below this one).
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* stack_low = nullptr;
    std::size_t stack_size = 0;
    if (pthread_attr_getstack(&attr, &stack_low, &stack_size) == 0 && stack_low != nullptr) {
      const char here = 0;
      const auto cur = reinterpret_cast<std::uintptr_t>(&here);
      const auto low = reinterpret_cast<std::uintptr_t>(stack_low);
      const std::size_t margin = 64 * 1024;
      const std::size_t room = cur > low + margin ? cur - low - margin : 0;
      depth = std::min(depth, room);
    }
    pthread_attr_destroy(&attr);
  }
  prefault_stack(depth, page);
  self->thread_inits_.fetch_add(1, std::memory_order_relaxed);
}

// The callbacks below may run on the audio thread: atomics only.
// Non-blocking guarantees: wait-free.
int JackBackend::sample_rate_cb(jack_nframes_t rate, void* arg) noexcept {
  RealtimeScope realtime;
  static_cast<JackBackend*>(arg)->rate_now_.store(rate, std::memory_order_relaxed);
  return 0;
}

int JackBackend::buffer_size_cb(jack_nframes_t nframes, void* arg) noexcept {
  RealtimeScope realtime;
  static_cast<JackBackend*>(arg)->size_now_.store(nframes, std::memory_order_relaxed);
  return 0;
}

int JackBackend::xrun_cb(void* arg) noexcept {
  RealtimeScope realtime;
  static_cast<JackBackend*>(arg)->xruns_.fetch_add(1, std::memory_order_relaxed);
  return 0;
}

void JackBackend::port_connect_cb(jack_port_id_t, jack_port_id_t, int, void* arg) noexcept {
  RealtimeScope realtime;
  static_cast<JackBackend*>(arg)->connect_events_.fetch_add(1, std::memory_order_release);
}

void JackBackend::shutdown_cb(void* arg) noexcept {
  RealtimeScope realtime;
  static_cast<JackBackend*>(arg)->server_gone_.store(true, std::memory_order_release);
}

void JackBackend::info_shutdown_cb(jack_status_t, const char*, void* arg) noexcept {
  RealtimeScope realtime;
  static_cast<JackBackend*>(arg)->server_gone_.store(true, std::memory_order_release);
}

std::optional<std::uint32_t> JackBackend::playback_latency() const {
  if (client_ == nullptr) return std::nullopt;
  std::uint32_t latency = 0;
  for (jack_port_t* port : out_ports_) {
    jack_latency_range_t range{};
    jack_port_get_latency_range(port, JackPlaybackLatency, &range);
    latency = std::max<std::uint32_t>(latency, range.max);
  }
  return latency;
}

std::optional<double> JackBackend::dsp_load() const {
  if (client_ == nullptr) return std::nullopt;
  return static_cast<double>(jack_cpu_load(client_));
}

std::uint64_t JackBackend::server_nsecs() const noexcept {
  if (server_clock_) {
    timespec now{};
    ::clock_gettime(*server_clock_, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1000000000u +
           static_cast<std::uint64_t>(now.tv_nsec);
  }
  // The middle of the microsecond jack_get_time() truncates to.
  return jack_get_time() * 1000 + 500;
}

std::optional<clockid_t> JackBackend::find_server_clock() {
  // JACK2 reads CLOCK_MONOTONIC_RAW, pipewire-jack CLOCK_MONOTONIC: the one whose microseconds
  // bracket jack_get_time() in every reading is it. Both do when the two clocks are within a
  // microsecond of each other, and then either serves.
  bool raw = true, mono = true;
  for (int i = 0; i < 5; ++i) {
    timespec raw0{}, mono0{}, raw1{}, mono1{};
    ::clock_gettime(CLOCK_MONOTONIC_RAW, &raw0);
    ::clock_gettime(CLOCK_MONOTONIC, &mono0);
    const jack_time_t t = jack_get_time();
    ::clock_gettime(CLOCK_MONOTONIC_RAW, &raw1);
    ::clock_gettime(CLOCK_MONOTONIC, &mono1);
    auto usecs = [](const timespec& ts) {
      return static_cast<std::uint64_t>(ts.tv_sec) * 1000000u +
             static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
    };
    raw = raw && usecs(raw0) <= t && t <= usecs(raw1);
    mono = mono && usecs(mono0) <= t && t <= usecs(mono1);
  }
  if (raw) return CLOCK_MONOTONIC_RAW;
  if (mono) return CLOCK_MONOTONIC;
  return std::nullopt;
}

}  // namespace clipd::backend::jack
