#include "backend/pipewire/pipewire_backend.hpp"

#include <pipewire/extensions/metadata.h>
#include <pipewire/filter.h>
#include <pipewire/pipewire.h>
#include <spa/param/buffers.h>
#include <spa/param/latency-utils.h>
#include <spa/pod/builder.h>
#include <pthread.h>
#include <time.h>
#include <spa/utils/json.h>
#include <spa/utils/result.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "backend/pipewire/graph.hpp"
#include "backend/pipewire/log_sink.hpp"
#include "backend/pipewire/midi_sequence.hpp"
#include "clipd/realtime.hpp"

namespace clipd::backend {
namespace {

using pipewire::Graph;
using pipewire::LogSink;

// How long open() waits for the server to bind our node and register its ports, then for the
// first cycle, then for the links it asked for.
constexpr std::chrono::milliseconds kBindTimeout{5000};
constexpr std::chrono::milliseconds kFirstCycleTimeout{2000};
constexpr std::chrono::milliseconds kSyncTimeout{2000};

// The user data pw_filter keeps for each of our ports (constructed in its zeroed memory).
struct PortData {
  std::uint32_t index = 0;  // output index, or kMidiPort
  // Buffers the port has (add_buffer / remove_buffer, loop thread); read by the data thread.
  // None: the port is not linked.
  std::atomic<std::uint32_t> buffers{0};
};
constexpr std::uint32_t kMidiPort = 0xffffffffu;
// Bytes of a midi_in buffer: 2 x kMidiCapacity three-byte messages of 24 bytes each, and the
// sequence's header.
constexpr std::int32_t kMidiBufferBytes = 64 * 1024;
static_assert(kMidiBufferBytes >= 2 * kMidiCapacity * 24 + 16);

// How much of the data thread's stack is touched before the first cycle.
constexpr std::size_t kStackPrefault = 256 * 1024;

// Touches `bytes` of stack below the caller's frame, one write per page, so the pages are mapped
// before the first cycle. noinline: the alloca must live in its own frame, below the caller's.
[[gnu::noinline]] void prefault_stack(std::size_t bytes, std::size_t page) noexcept {
  if (bytes == 0) return;
  auto* p = static_cast<volatile unsigned char*>(__builtin_alloca(bytes));
  for (std::size_t i = 0; i < bytes; i += page)
    p[i] = 0;
  p[bytes - 1] = 0;
}

// Runs on the data thread (pw_data_loop_invoke, before the filter exists; not real-time: it may
// fault pages in): prefaults kStackPrefault bytes of its stack, never beyond the stack itself.
int prefault_data_thread(spa_loop*, bool, std::uint32_t, const void*, std::size_t, void*) noexcept {
  const long page_size = sysconf(_SC_PAGESIZE);
  const std::size_t page = page_size > 0 ? static_cast<std::size_t>(page_size) : 4096;
  std::size_t depth = kStackPrefault;
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
  return 0;
}

// The session manager policy clipd ships (wireplumber/ in the source tree, see the header): our
// node asks for it with this property, and the policy shows it runs with a metadata object of
// this name.
constexpr const char* kDefaultLinksKey = "clipd.default-links";
constexpr const char* kPolicyMetadata = "clipd-default-links";

// The node name in a "default.audio.sink" metadata value ({"name": "alsa_output..."}), or "".
std::string default_node_name(const char* value) {
  if (value == nullptr) return {};
  spa_json outer;
  spa_json object;
  spa_json_init(&outer, value, std::strlen(value));
  if (spa_json_enter_object(&outer, &object) <= 0) return {};
  char key[64];
  while (spa_json_get_string(&object, key, sizeof key) > 0) {
    if (std::strcmp(key, "name") == 0) {
      char name[1024];
      return spa_json_get_string(&object, name, sizeof name) > 0 ? std::string(name)
                                                                 : std::string();
    }
    const char* skipped = nullptr;
    if (spa_json_next(&object, &skipped) <= 0) break;
  }
  return {};
}

std::uint32_t parse_u32(const char* text, std::uint32_t fallback) {
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const unsigned long v = std::strtoul(text, &end, 10);
  return end != nullptr && *end == '\0' ? static_cast<std::uint32_t>(v) : fallback;
}

class PipewireBackend final : public Backend {
 public:
  // Where an output PipeWire gave no usable buffer for is rendered, then ignored: a row of
  // kDiscardFrames per output (no two outputs share memory). Longer than PipeWire's largest
  // quantum (8192).
  static constexpr std::uint32_t kDiscardFrames = 16384;

  explicit PipewireBackend(Options options);
  ~PipewireBackend() override { retire(); }
  PipewireBackend(const PipewireBackend&) = delete;
  PipewireBackend& operator=(const PipewireBackend&) = delete;

  Kind kind() const noexcept override { return Kind::pipewire; }
  OpenResult open(ProcessTarget target) override;
  OpenResult try_open(ProcessTarget target) override;
  std::chrono::milliseconds retry_delay() const noexcept override { return retry_delay_; }
  Events poll() override;
  RetireResult retire(std::chrono::milliseconds bound = std::chrono::milliseconds(2000)) override;
  bool is_open() const noexcept override { return filter_ != nullptr; }
  const std::string& client_name() const noexcept override { return options_.client_name; }
  std::uint32_t sample_rate() const noexcept override { return sample_rate_; }
  std::uint32_t buffer_size() const noexcept override { return buffer_size_; }
  std::uint64_t xruns() const noexcept override { return xruns_.load(std::memory_order_relaxed); }
  std::uint64_t midi_overflow() const noexcept override {
    return midi_overflow_.load(std::memory_order_relaxed);
  }
  std::uint64_t null_buffers() const noexcept override {
    return null_buffers_.load(std::memory_order_relaxed);
  }
  const std::vector<PortConnection>& connections() const noexcept override { return connections_; }
  void set_connections(std::vector<PortConnection> connections) override {
    connections_ = std::move(connections);
  }
  const std::string& last_error() const noexcept override { return last_error_; }
  std::optional<std::uint32_t> playback_latency() const override;
  std::optional<double> dsp_load() const override { return std::nullopt; }
  std::uint64_t frame_now() const noexcept override {
    return frame_now_.load(std::memory_order_acquire);
  }
  std::uint64_t cycles() const noexcept override { return cycles_.load(std::memory_order_acquire); }
  // CLOCK_MONOTONIC: the clock of the driver position's nsec, which the cycles report.
  std::uint64_t server_nsecs() const noexcept override {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1000000000u +
           static_cast<std::uint64_t>(now.tv_nsec);
  }
  std::string port_name(std::uint32_t output_index) const override {
    return options_.client_name + ":out_" + std::to_string(output_index + 1);
  }
  std::string midi_port_name() const override { return options_.client_name + ":midi_in"; }

 private:
  // Data thread.
  static void on_process(void* data, spa_io_position* position) noexcept;
  // PipeWire's loop thread, with the loop's lock held.
  static void on_filter_state(void* data, pw_filter_state old, pw_filter_state state,
                              const char* error) noexcept;
  static void on_filter_param(void* data, void* port_data, std::uint32_t id,
                              const spa_pod* param) noexcept;
  static void on_add_buffer(void* data, void* port_data, pw_buffer* buffer) noexcept;
  static void on_remove_buffer(void* data, void* port_data, pw_buffer* buffer) noexcept;
  static void on_core_info(void* data, const pw_core_info* info) noexcept;
  static void on_core_done(void* data, std::uint32_t id, int seq) noexcept;
  static void on_core_error(void* data, std::uint32_t id, int seq, int res,
                            const char* message) noexcept;
  static void on_global(void* data, std::uint32_t id, std::uint32_t permissions, const char* type,
                        std::uint32_t version, const spa_dict* props) noexcept;
  static void on_global_remove(void* data, std::uint32_t id) noexcept;
  static int on_metadata_property(void* data, std::uint32_t subject, const char* key,
                                  const char* type, const char* value) noexcept;

  // Control thread, with the loop's lock held: waits for a signal of the loop thread until
  // `ready()` or the deadline; false on time-out.
  template <class Ready>
  bool wait_locked(std::chrono::milliseconds timeout, Ready ready);
  // Control thread, lock held: a core round trip, so that every request sent before it (links)
  // has been handled and its error, if any, has arrived.
  bool sync_locked();
  // Control thread, lock held: links `output` to `input` (global port ids) unless linked.
  void link_locked(std::uint32_t output, std::uint32_t input);
  // A link open() asks for: one of our ports (short name) and the other end's full name.
  struct WantedLink {
    std::string own_port;
    std::string other_port;
    bool remembered = false;  // from connections(), not from the options
  };
  enum class Wanted { linked, missing, no_own_port };
  // Control thread, lock held: links `w` (unless linked already); missing when the other end is
  // not in the graph (yet).
  Wanted link_wanted_locked(const WantedLink& w);
  // Control thread, lock held: auto_connect, midi_auto_connect and the remembered connections;
  // what cannot be linked yet goes to unresolved_.
  void connect_all_locked();
  // Control thread, lock held: links what is in unresolved_ and has appeared since (a sink made
  // after we connected, a device plugged in), once each.
  void connect_unresolved_locked();
  // Whether the backend itself links out_1/out_2 to the default sink (see the header).
  bool follows_default() const noexcept {
    return options_.autoconnect && options_.auto_connect.empty();
  }
  // Control thread, lock held: links out_1 and out_2 to the FL and FR inputs of the default
  // sink (out_1 to both when it is the only output), replacing the links made for the previous
  // default; nothing while the default sink or its ports are unknown.
  void follow_default_locked();
  // Control thread, lock held: the ports' links, less the ones made for the default sink, the
  // current one's and a previous one's while they go.
  std::vector<PortConnection> remembered_locked();
  std::uint32_t node_id_locked() const;
  void close() noexcept;

  Options options_;
  std::string description_;
  std::chrono::milliseconds retry_delay_ = kRetryMin;
  std::string last_error_;
  std::uint32_t sample_rate_ = 0;
  std::uint32_t buffer_size_ = 0;
  std::vector<PortConnection> connections_;
  std::vector<PortConnection> pending_connections_;
  bool pending_valid_ = false;

  // Made by open(), destroyed by close() (control thread).
  pw_thread_loop* loop_ = nullptr;
  pw_context* context_ = nullptr;
  pw_core* core_ = nullptr;
  pw_registry* registry_ = nullptr;
  pw_filter* filter_ = nullptr;
  spa_hook core_listener_{};
  spa_hook registry_listener_{};
  spa_hook filter_listener_{};
  std::vector<pw_proxy*> links_;
  std::vector<WantedLink> unresolved_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> requested_;  // by link_locked()
  // The "default" metadata, bound while following the default sink.
  pw_proxy* default_metadata_ = nullptr;
  std::uint32_t default_metadata_id_ = SPA_ID_INVALID;
  spa_hook metadata_listener_{};
  // The links wanted for the default sink: (output port, input port) and our proxy for it, null
  // while the session manager links them or someone else's link stands; who links them.
  struct FollowLink {
    std::uint32_t output;
    std::uint32_t input;
    pw_proxy* proxy;
  };
  std::vector<FollowLink> follow_;
  bool follow_ours_ = false;
  // The (output port, input port) pairs of the links made for a previous default (by us or the
  // policy) that the graph still showed at the move: they go a round trip later, and are no
  // one's choice to remember meanwhile. A pair leaves with its link's removal (the registry
  // listener, lock held), so that a link made on it afterwards is remembered. A link we asked
  // for whose global had not arrived by the move is not in it (two moves within a round trip):
  // it counts as remembered for the poll or two until its removal arrives.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> follow_going_;
  // Control thread: what follow_default_locked() decided, handed to Events::notes by take_notes()
  // as poll() returns (a decision poll() itself made goes out with it).
  std::vector<std::string> notes_;
  void take_notes(Events& ev) {
    ev.notes = std::move(notes_);
    notes_.clear();
  }

  // Under the loop's lock (loop thread writes, control thread reads).
  Graph graph_;
  int done_seq_ = -1;
  std::vector<std::string> request_errors_;  // core errors of our requests (links)
  std::string default_sink_;                 // node.name in default.audio.sink, or ""
  // The "clipd-default-links" metadata a session manager policy shows (see the header), or
  // SPA_ID_INVALID; the client that made it (the session manager), whose links to our ports are
  // the policy's, never remembered.
  std::uint32_t policy_id_ = SPA_ID_INVALID;
  std::uint32_t policy_client_ = Graph::kNoOwner;
  std::string filter_error_;
  std::uint32_t default_rate_ = 0;         // core info: default.clock.rate
  std::uint32_t default_quantum_ = 0;      // core info: default.clock.quantum
  std::vector<spa_latency_info> latency_;  // per output, input direction (downstream)
  std::vector<bool> latency_set_;

  // Written by the control thread before pw_filter_connect, read by the data thread.
  std::vector<void*> out_ports_;
  void* midi_port_ = nullptr;
  ProcessTarget target_;
  // Data thread only (allocated at construction).
  std::unique_ptr<float[]> discard_;
  std::unique_ptr<engine::MidiEventView[]> midi_;
  std::uint64_t next_position_ = 0;
  std::uint32_t clock_id_ = 0;
  bool clock_seen_ = false;

  // The handshake word: bit 0 "a cycle is running", bit 1 "retired" (as in the JACK backend).
  static constexpr std::uint32_t kInCycle = 1;
  static constexpr std::uint32_t kRetired = 2;
  std::atomic<std::uint32_t> cycle_state_{kRetired};

  std::atomic<bool> server_gone_{false};
  std::atomic<std::uint32_t> rate_now_{0};
  std::atomic<std::uint32_t> size_now_{0};
  std::atomic<std::uint64_t> xruns_{0};
  std::uint64_t xruns_seen_ = 0;
  std::atomic<std::uint64_t> midi_overflow_{0};
  std::atomic<std::uint64_t> null_buffers_{0};
  std::atomic<std::uint64_t> link_events_{0};
  std::uint64_t link_events_seen_ = 0;
  // Nodes, ports or the default sink changed (follow_default_locked() may have work).
  std::atomic<std::uint64_t> graph_events_{0};
  std::uint64_t graph_events_seen_ = 0;
  std::atomic<std::uint64_t> frame_now_{0};
  std::atomic<std::uint64_t> cycles_{0};

  static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
  static_assert(std::atomic<bool>::is_always_lock_free);
};

const pw_filter_events& filter_events() {
  static const pw_filter_events events = [] {
    pw_filter_events e{};
    e.version = PW_VERSION_FILTER_EVENTS;
    return e;
  }();
  return events;
}

PipewireBackend::PipewireBackend(Options options) : options_(std::move(options)) {
  options_.outputs = std::clamp<std::uint32_t>(options_.outputs, 1, kMaxOutputs);
  description_ = options_.description.empty() ? options_.client_name : options_.description;
  discard_ = std::make_unique<float[]>(std::size_t{options_.outputs} * kDiscardFrames);
  midi_ = std::make_unique<engine::MidiEventView[]>(kMidiCapacity);
  LogSink::install();
}

template <class Ready>
bool PipewireBackend::wait_locked(std::chrono::milliseconds timeout, Ready ready) {
  timespec deadline{};
  pw_thread_loop_get_time(loop_, &deadline,
                          std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count());
  while (!ready()) {
    if (pw_thread_loop_timed_wait_full(loop_, &deadline) == -ETIMEDOUT) return ready();
  }
  return true;
}

bool PipewireBackend::sync_locked() {
  const int seq = pw_core_sync(core_, PW_ID_CORE, 0);
  return wait_locked(kSyncTimeout, [&] {
    return done_seq_ == seq || server_gone_.load(std::memory_order_relaxed);
  });
}

std::uint32_t PipewireBackend::node_id_locked() const {
  return filter_ != nullptr ? pw_filter_get_node_id(filter_) : SPA_ID_INVALID;
}

OpenResult PipewireBackend::open(ProcessTarget target) {
  if (filter_ != nullptr) return OpenResult::already_open;

  loop_ = pw_thread_loop_new("clipd-pw", nullptr);
  if (loop_ == nullptr) {
    last_error_ = std::string("pw_thread_loop_new failed: ") + std::strerror(errno);
    return OpenResult::failed;
  }
  // client-rt.conf: the context loads module-rt, which gives the data thread real-time priority
  // (directly where the limits allow, else through RTKit), as JACK does for its process thread.
  context_ = pw_context_new(pw_thread_loop_get_loop(loop_),
                            pw_properties_new(PW_KEY_CONFIG_NAME, "client-rt.conf", PW_KEY_APP_NAME,
                                              options_.client_name.c_str(), nullptr),
                            0);
  if (context_ == nullptr) {
    last_error_ = std::string("pw_context_new failed: ") + std::strerror(errno);
    close();
    return OpenResult::failed;
  }
  // The data thread (the context's, already running) gets its stack mapped now, not in a cycle.
  pw_data_loop_invoke(pw_context_get_data_loop(context_), &prefault_data_thread, 0, nullptr, 0,
                      true, nullptr);
  if (pw_thread_loop_start(loop_) != 0) {
    last_error_ = "cannot start PipeWire's loop thread";
    close();
    return OpenResult::failed;
  }

  pw_thread_loop_lock(loop_);
  server_gone_.store(false, std::memory_order_release);
  core_ = pw_context_connect(context_, nullptr, 0);
  if (core_ == nullptr) {
    last_error_ = std::string("cannot connect to PipeWire: ") + std::strerror(errno);
    pw_thread_loop_unlock(loop_);
    close();
    return OpenResult::no_server;
  }
  static const pw_core_events core_events = [] {
    pw_core_events e{};
    e.version = PW_VERSION_CORE_EVENTS;
    e.info = &PipewireBackend::on_core_info;
    e.done = &PipewireBackend::on_core_done;
    e.error = &PipewireBackend::on_core_error;
    return e;
  }();
  pw_core_add_listener(core_, &core_listener_, &core_events, this);
  registry_ = pw_core_get_registry(core_, PW_VERSION_REGISTRY, 0);
  static const pw_registry_events registry_events = [] {
    pw_registry_events e{};
    e.version = PW_VERSION_REGISTRY_EVENTS;
    e.global = &PipewireBackend::on_global;
    e.global_remove = &PipewireBackend::on_global_remove;
    return e;
  }();
  pw_registry_add_listener(registry_, &registry_listener_, &registry_events, this);

  filter_ = pw_filter_new(
      core_, options_.client_name.c_str(),
      pw_properties_new(PW_KEY_NODE_NAME, options_.client_name.c_str(), PW_KEY_NODE_DESCRIPTION,
                        description_.c_str(), PW_KEY_APP_NAME, options_.client_name.c_str(),
                        PW_KEY_MEDIA_TYPE, "Audio", PW_KEY_MEDIA_CATEGORY, "Playback",
                        PW_KEY_MEDIA_ROLE, options_.media_role.c_str(), PW_KEY_MEDIA_CLASS,
                        "Stream/Output/Audio", PW_KEY_NODE_AUTOCONNECT, "false",
                        PW_KEY_NODE_ALWAYS_PROCESS, "true", kDefaultLinksKey,
                        follows_default() ? "true" : "false", nullptr));
  auto fail_locked = [&](std::string what) {
    last_error_ = std::move(what);
    pw_thread_loop_unlock(loop_);
    close();
    return OpenResult::failed;
  };
  if (filter_ == nullptr) return fail_locked("pw_filter_new failed");
  static const pw_filter_events events = [] {
    pw_filter_events e = filter_events();
    e.state_changed = &PipewireBackend::on_filter_state;
    e.param_changed = &PipewireBackend::on_filter_param;
    e.add_buffer = &PipewireBackend::on_add_buffer;
    e.remove_buffer = &PipewireBackend::on_remove_buffer;
    e.process = &PipewireBackend::on_process;
    return e;
  }();
  pw_filter_add_listener(filter_, &filter_listener_, &events, this);

  latency_.assign(options_.outputs, spa_latency_info{});
  latency_set_.assign(options_.outputs, false);
  for (std::uint32_t i = 0; i < options_.outputs; ++i) {
    const std::string name = "out_" + std::to_string(i + 1);
    pw_properties* props = pw_properties_new(PW_KEY_FORMAT_DSP, "32 bit float mono audio",
                                             PW_KEY_PORT_NAME, name.c_str(), nullptr);
    if (options_.outputs == 1) {
      pw_properties_set(props, PW_KEY_AUDIO_CHANNEL, "MONO");
    } else if (i < 2) {
      pw_properties_set(props, PW_KEY_AUDIO_CHANNEL, i == 0 ? "FL" : "FR");
    }
    if (!options_.pretty_name_prefix.empty()) {
      pw_properties_set(props, PW_KEY_PORT_ALIAS,
                        (options_.pretty_name_prefix + std::to_string(i + 1)).c_str());
    }
    void* port = pw_filter_add_port(filter_, PW_DIRECTION_OUTPUT, PW_FILTER_PORT_FLAG_MAP_BUFFERS,
                                    sizeof(PortData), props, nullptr, 0);
    if (port == nullptr) return fail_locked("cannot add " + name);
    new (port) PortData{i};
    out_ports_.push_back(port);
  }
  if (options_.midi_input) {
    pw_properties* props = pw_properties_new(PW_KEY_FORMAT_DSP, "8 bit raw midi", PW_KEY_PORT_NAME,
                                             "midi_in", nullptr);
    if (!options_.pretty_name_prefix.empty()) {
      pw_properties_set(props, PW_KEY_PORT_ALIAS, (options_.pretty_name_prefix + "MIDI").c_str());
    }
    // Room for more than kMidiCapacity events: the server's control mixer merges what is linked
    // to midi_in into buffers of the size this asks for (4096 bytes, 170 events, otherwise).
    std::uint8_t pod_buffer[512];
    spa_pod_builder b{};
    spa_pod_builder_init(&b, pod_buffer, sizeof pod_buffer);
    const spa_pod* params[1] = {static_cast<const spa_pod*>(spa_pod_builder_add_object(
        &b, SPA_TYPE_OBJECT_ParamBuffers, SPA_PARAM_Buffers, SPA_PARAM_BUFFERS_buffers,
        SPA_POD_CHOICE_RANGE_Int(1, 1, 32), SPA_PARAM_BUFFERS_blocks, SPA_POD_Int(1),
        SPA_PARAM_BUFFERS_size, SPA_POD_Int(kMidiBufferBytes), SPA_PARAM_BUFFERS_stride,
        SPA_POD_Int(1)))};
    midi_port_ = pw_filter_add_port(filter_, PW_DIRECTION_INPUT, PW_FILTER_PORT_FLAG_MAP_BUFFERS,
                                    sizeof(PortData), props, params, 1);
    if (midi_port_ == nullptr) return fail_locked("cannot add midi_in");
    new (midi_port_) PortData{kMidiPort};
  }

  // Everything the data thread reads is written before this release store; its first fetch_or
  // on cycle_state_ reads it, so the writes happen-before the first cycle.
  target_ = target;
  clock_seen_ = false;
  rate_now_.store(0, std::memory_order_relaxed);
  size_now_.store(0, std::memory_order_relaxed);
  frame_now_.store(0, std::memory_order_relaxed);
  cycles_.store(0, std::memory_order_relaxed);
  cycle_state_.store(0, std::memory_order_release);

  if (pw_filter_connect(
          filter_,
          static_cast<pw_filter_flags>(PW_FILTER_FLAG_RT_PROCESS | PW_FILTER_FLAG_CUSTOM_LATENCY),
          nullptr, 0) < 0) {
    cycle_state_.store(kRetired, std::memory_order_release);
    return fail_locked("pw_filter_connect failed");
  }
  // Bound, and every port in the registry (the links need their ids).
  const std::size_t ports = out_ports_.size() + (midi_port_ != nullptr ? 1 : 0);
  const bool bound = wait_locked(kBindTimeout, [&] {
    if (server_gone_.load(std::memory_order_relaxed) || !filter_error_.empty()) return true;
    const std::uint32_t node = node_id_locked();
    return node != SPA_ID_INVALID && graph_.port_count(node) == ports;
  });
  if (server_gone_.load(std::memory_order_relaxed)) {
    cycle_state_.store(kRetired, std::memory_order_release);
    last_error_ = "PipeWire closed the connection";
    pw_thread_loop_unlock(loop_);
    close();
    return OpenResult::no_server;
  }
  if (!filter_error_.empty() || !bound) {
    cycle_state_.store(kRetired, std::memory_order_release);
    return fail_locked(!filter_error_.empty() ? "filter error: " + filter_error_
                                              : "the server did not register our node in time");
  }
  pw_thread_loop_unlock(loop_);

  // The first cycle says the rate and size; without one (no driver yet) the server's defaults.
  const auto cycle_deadline = std::chrono::steady_clock::now() + kFirstCycleTimeout;
  while (cycles_.load(std::memory_order_acquire) == 0 &&
         std::chrono::steady_clock::now() < cycle_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  pw_thread_loop_lock(loop_);
  sample_rate_ = rate_now_.load(std::memory_order_relaxed);
  buffer_size_ = size_now_.load(std::memory_order_relaxed);
  if (sample_rate_ == 0) sample_rate_ = default_rate_;
  if (buffer_size_ == 0) buffer_size_ = default_quantum_;
  xruns_seen_ = xruns_.load(std::memory_order_relaxed);
  pending_valid_ = false;
  link_events_seen_ = link_events_.load(std::memory_order_relaxed);
  connect_all_locked();
  graph_events_seen_ = graph_events_.load(std::memory_order_relaxed);
  follow_default_locked();
  pw_thread_loop_unlock(loop_);
  return OpenResult::opened;
}

void PipewireBackend::link_locked(std::uint32_t output, std::uint32_t input) {
  // Asked for once per connection: auto_connect and a remembered connection may name the same
  // link, and the registry shows a new link only a round trip later.
  const std::pair<std::uint32_t, std::uint32_t> link{output, input};
  if (graph_.linked(output, input) ||
      std::find(requested_.begin(), requested_.end(), link) != requested_.end()) {
    return;
  }
  requested_.push_back(link);
  const std::string out = std::to_string(output);
  const std::string in = std::to_string(input);
  pw_properties* props =
      pw_properties_new(PW_KEY_LINK_OUTPUT_PORT, out.c_str(), PW_KEY_LINK_INPUT_PORT, in.c_str(),
                        PW_KEY_OBJECT_LINGER, "false", nullptr);
  auto* proxy = static_cast<pw_proxy*>(pw_core_create_object(
      core_, "link-factory", PW_TYPE_INTERFACE_Link, PW_VERSION_LINK, &props->dict, 0));
  pw_properties_free(props);
  if (proxy == nullptr) {
    last_error_ = std::string("cannot create a link: ") + std::strerror(errno);
    return;
  }
  links_.push_back(proxy);
}

PipewireBackend::Wanted PipewireBackend::link_wanted_locked(const WantedLink& w) {
  const std::uint32_t node = node_id_locked();
  if (const auto own = graph_.find_node_port(node, w.own_port, true)) {
    const auto other = graph_.find_port(w.other_port, false);
    if (!other) return Wanted::missing;
    link_locked(*own, *other);
    return Wanted::linked;
  }
  if (const auto own = graph_.find_node_port(node, w.own_port, false)) {
    const auto other = graph_.find_port(w.other_port, true);
    if (!other) return Wanted::missing;
    link_locked(*other, *own);
    return Wanted::linked;
  }
  return Wanted::no_own_port;
}

void PipewireBackend::connect_all_locked() {
  unresolved_.clear();
  const std::size_t links_before = links_.size();
  for (std::size_t i = 0; i < options_.auto_connect.size() && i < out_ports_.size(); ++i) {
    const WantedLink w{"out_" + std::to_string(i + 1), options_.auto_connect[i], false};
    if (link_wanted_locked(w) == Wanted::missing) {
      last_error_ = "cannot connect to " + w.other_port + ": no such input port";
      unresolved_.push_back(w);
    }
  }
  if (midi_port_ != nullptr) {
    for (const std::string& source : options_.midi_auto_connect) {
      const WantedLink w{"midi_in", source, false};
      if (link_wanted_locked(w) == Wanted::missing) {
        last_error_ = "cannot connect from " + source + ": no such output port";
        unresolved_.push_back(w);
      }
    }
  }
  for (const PortConnection& c : connections_) {
    // A port this configuration does not have is skipped.
    const WantedLink w{c.own_port, c.other_port, true};
    if (link_wanted_locked(w) == Wanted::missing) {
      last_error_ = "cannot restore " + c.own_port + " - " + c.other_port;
      unresolved_.push_back(w);
    }
  }
  if (links_.size() == links_before) return;
  request_errors_.clear();
  sync_locked();
  if (!request_errors_.empty()) last_error_ = "cannot link: " + request_errors_.back();
}

void PipewireBackend::connect_unresolved_locked() {
  std::erase_if(unresolved_,
                [&](const WantedLink& w) { return link_wanted_locked(w) != Wanted::missing; });
}

void PipewireBackend::follow_default_locked() {
  if (!follows_default() || out_ports_.empty()) return;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> want;
  const std::uint32_t node = node_id_locked();
  const auto out_1 = graph_.find_node_port(node, "out_1", true);
  const auto out_2 = graph_.find_node_port(node, "out_2", true);
  const auto fl = graph_.find_channel_port(default_sink_, "FL", false);
  const auto fr = graph_.find_channel_port(default_sink_, "FR", false);
  const auto mono = graph_.find_channel_port(default_sink_, "MONO", false);
  if (out_1 && fl && fr) {
    want.emplace_back(*out_1, *fl);
    want.emplace_back(out_2 ? *out_2 : *out_1, *fr);
  } else if (out_1 && mono) {
    want.emplace_back(*out_1, *mono);
  }
  const bool ours = policy_id_ == SPA_ID_INVALID;
  if (want.empty()) {
    // Unknown yet (the sink's ports come after its node and the metadata): the links made for
    // the previous default stay until the new one can be linked. Unless the policy has shown
    // itself while we hold them: they are its to make from now on, whatever we know of the
    // default. (A session manager that has just started may have set the default where we do
    // not see it: PipeWire 0.3 sends a change of an exported metadata object, made while some
    // client binds it, to that client alone, and the session manager binds its own at start.)
    if (ours || !follow_ours_ || follow_.empty()) return;
    for (const FollowLink& f : follow_) {
      if (f.proxy == nullptr) continue;  // someone else's link: theirs
      pw_proxy_destroy(f.proxy);
      if (graph_.linked(f.output, f.input)) follow_going_.emplace_back(f.output, f.input);
    }
    follow_.clear();
    follow_ours_ = false;
    notes_.push_back(
        "default sink links, left to the session manager's policy (the default sink is not known "
        "yet)");
    return;
  }
  const bool same =
      ours == follow_ours_ && want.size() == follow_.size() &&
      std::equal(want.begin(), want.end(), follow_.begin(), [](const auto& w, const FollowLink& f) {
        return w.first == f.output && w.second == f.input;
      });
  if (!same) {
    for (const FollowLink& f : follow_) {
      if (f.proxy != nullptr) pw_proxy_destroy(f.proxy);
      // Ours, or the policy's: going. With no proxy of ours, a link that stands is someone
      // else's (a user's), and stays theirs to remember.
      const std::pair<std::uint32_t, std::uint32_t> pair{f.output, f.input};
      if ((f.proxy != nullptr || !follow_ours_) && graph_.linked(f.output, f.input) &&
          std::find(want.begin(), want.end(), pair) == want.end()) {
        follow_going_.push_back(pair);
      }
    }
    follow_.clear();
    follow_ours_ = ours;
    std::string note = ours ? "default sink links, made by clipd:"
                            : "default sink links, left to the session manager's policy:";
    for (const auto& [out, in] : want) {
      follow_.push_back({out, in, nullptr});
      note += std::string(out == *out_1 ? " out_1" : " out_2") + " -> " + graph_.full_name(in);
    }
    notes_.push_back(std::move(note));
  }
  // The session manager's policy links them (and they stay out of the remembered connections).
  if (!ours) return;
  for (FollowLink& f : follow_) {
    // Ours already (a link someone removes is not made again), or someone else's: theirs to keep,
    // until it goes (the session manager's, when it stops: we take over).
    if (f.proxy != nullptr || graph_.linked(f.output, f.input)) continue;
    const std::string o = std::to_string(f.output);
    const std::string i = std::to_string(f.input);
    pw_properties* props =
        pw_properties_new(PW_KEY_LINK_OUTPUT_PORT, o.c_str(), PW_KEY_LINK_INPUT_PORT, i.c_str(),
                          PW_KEY_OBJECT_LINGER, "false", nullptr);
    f.proxy = static_cast<pw_proxy*>(pw_core_create_object(
        core_, "link-factory", PW_TYPE_INTERFACE_Link, PW_VERSION_LINK, &props->dict, 0));
    pw_properties_free(props);
    if (f.proxy == nullptr)
      last_error_ = std::string("cannot create a link: ") + std::strerror(errno);
  }
}

std::vector<PortConnection> PipewireBackend::remembered_locked() {
  std::erase_if(follow_going_, [&](const auto& pair) {
    return !graph_.linked(pair.first, pair.second) ||
           std::any_of(follow_.begin(), follow_.end(), [&](const FollowLink& f) {
             return f.output == pair.first && f.input == pair.second;
           });
  });
  std::vector<std::pair<std::uint32_t, std::uint32_t>> made = follow_going_;
  for (const FollowLink& f : follow_)
    made.emplace_back(f.output, f.input);
  if (policy_id_ != SPA_ID_INVALID) {
    for (const auto& pair : graph_.links_of_owner(policy_client_))
      made.push_back(pair);
  }
  std::vector<PortConnection> all = graph_.connections_of(node_id_locked(), made);
  // Remembered links waiting for their other end stay remembered.
  for (const WantedLink& w : unresolved_) {
    if (w.remembered) all.push_back({w.own_port, w.other_port});
  }
  return all;
}

OpenResult PipewireBackend::try_open(ProcessTarget target) {
  if (filter_ != nullptr) return OpenResult::already_open;
  const OpenResult result = open(target);
  retry_delay_ = result == OpenResult::opened ? kRetryMin : std::min(retry_delay_ * 2, kRetryMax);
  return result;
}

Events PipewireBackend::poll() {
  Events ev;
  ev.library_messages = LogSink::instance().drain(ev.library_dropped);
  if (filter_ == nullptr) {
    ev.sample_rate = sample_rate_;
    ev.buffer_size = buffer_size_;
    take_notes(ev);
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
    take_notes(ev);
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
  const std::uint64_t graph_events = graph_events_.load(std::memory_order_acquire);
  if (graph_events != graph_events_seen_) {
    graph_events_seen_ = graph_events;
    pw_thread_loop_lock(loop_);
    connect_unresolved_locked();
    follow_default_locked();
    pw_thread_loop_unlock(loop_);
  }
  const std::uint64_t events = link_events_.load(std::memory_order_acquire);
  if (events != link_events_seen_) {
    link_events_seen_ = events;
    pw_thread_loop_lock(loop_);
    pending_connections_ = remembered_locked();
    pw_thread_loop_unlock(loop_);
    pending_valid_ = true;
  }
  take_notes(ev);
  return ev;
}

RetireResult PipewireBackend::retire(std::chrono::milliseconds bound) {
  if (filter_ == nullptr) return RetireResult::not_open;
  // Links made since the last poll are remembered too, unless the server is gone.
  if (!server_gone_.load(std::memory_order_acquire)) {
    pw_thread_loop_lock(loop_);
    connections_ = remembered_locked();
    pw_thread_loop_unlock(loop_);
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
  close();
  return result;
}

void PipewireBackend::close() noexcept {
  if (loop_ != nullptr && core_ != nullptr) {
    pw_thread_loop_lock(loop_);
    for (pw_proxy* link : links_)
      pw_proxy_destroy(link);
    links_.clear();
    for (const FollowLink& f : follow_) {
      if (f.proxy != nullptr) pw_proxy_destroy(f.proxy);
    }
    follow_.clear();
    if (default_metadata_ != nullptr) {
      spa_hook_remove(&metadata_listener_);
      pw_proxy_destroy(default_metadata_);
      default_metadata_ = nullptr;
    }
    if (filter_ != nullptr) {
      spa_hook_remove(&filter_listener_);
      // Takes our node out of the data loop (a blocking invoke there) before it returns.
      pw_filter_destroy(filter_);
      filter_ = nullptr;
    }
    if (registry_ != nullptr) {
      spa_hook_remove(&registry_listener_);
      pw_proxy_destroy(reinterpret_cast<pw_proxy*>(registry_));
      registry_ = nullptr;
    }
    spa_hook_remove(&core_listener_);
    pw_core_disconnect(core_);
    core_ = nullptr;
    pw_thread_loop_unlock(loop_);
  }
  if (loop_ != nullptr) pw_thread_loop_stop(loop_);
  // Joins the data thread: no callback runs after this.
  if (context_ != nullptr) pw_context_destroy(context_);
  context_ = nullptr;
  if (loop_ != nullptr) pw_thread_loop_destroy(loop_);
  loop_ = nullptr;
  filter_ = nullptr;
  out_ports_.clear();
  midi_port_ = nullptr;
  target_ = {};
  graph_.clear();
  unresolved_.clear();
  requested_.clear();
  default_metadata_id_ = SPA_ID_INVALID;
  default_sink_.clear();
  policy_id_ = SPA_ID_INVALID;
  policy_client_ = Graph::kNoOwner;
  follow_.clear();
  follow_ours_ = false;
  follow_going_.clear();
  request_errors_.clear();
  filter_error_.clear();
  done_seq_ = -1;
  cycle_state_.store(kRetired, std::memory_order_release);
  server_gone_.store(false, std::memory_order_relaxed);
}

std::optional<std::uint32_t> PipewireBackend::playback_latency() const {
  if (filter_ == nullptr) return std::nullopt;
  pw_thread_loop_lock(loop_);
  std::optional<std::uint32_t> result;
  for (std::size_t i = 0; i < latency_.size(); ++i) {
    if (!latency_set_[i]) continue;
    const spa_latency_info& l = latency_[i];
    const double frames = static_cast<double>(l.max_quantum) * buffer_size_ +
                          static_cast<double>(l.max_rate) +
                          static_cast<double>(l.max_ns) * sample_rate_ / 1e9;
    const auto f = static_cast<std::uint32_t>(frames + 0.5);
    result = std::max(result.value_or(0), f);
  }
  pw_thread_loop_unlock(loop_);
  return result;
}

// Data thread. Non-blocking guarantees: wait-free (pw_filter's buffer queues are lock-free
// rings) plus whatever the target does. Cost besides the target: O(outputs) buffer dequeues and
// queues, O(MIDI controls in the cycle's sequence) to read midi_in, plus O(outputs x nframes)
// when it writes silence.
void PipewireBackend::on_process(void* data, spa_io_position* position) noexcept {
  RealtimeScope realtime;
  auto* self = static_cast<PipewireBackend*>(data);
  const std::uint32_t state = self->cycle_state_.fetch_or(kInCycle, std::memory_order_acq_rel);
  if (position == nullptr || position->clock.duration == 0 ||
      position->clock.duration > 0xffffffffu) {
    self->cycle_state_.fetch_and(~kInCycle, std::memory_order_release);
    return;
  }
  const auto nframes = static_cast<std::uint32_t>(position->clock.duration);
  const std::uint64_t frame = position->clock.position;
  const std::uint32_t rate = position->clock.rate.denom;
  if (rate != 0 && self->rate_now_.load(std::memory_order_relaxed) != rate) {
    self->rate_now_.store(rate, std::memory_order_relaxed);
  }
  if (self->size_now_.load(std::memory_order_relaxed) != nframes) {
    self->size_now_.store(nframes, std::memory_order_relaxed);
  }
  if (self->clock_seen_ && position->clock.id == self->clock_id_ && frame != self->next_position_) {
    self->xruns_.store(self->xruns_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  self->clock_seen_ = true;
  self->clock_id_ = position->clock.id;
  self->next_position_ = frame + nframes;

  float* outputs[kMaxOutputs];
  pw_buffer* buffers[kMaxOutputs];
  bool discarded[kMaxOutputs];
  const std::size_t n = self->out_ports_.size();
  const std::size_t bytes = std::size_t{nframes} * sizeof(float);
  bool missing = false;
  for (std::size_t i = 0; i < n; ++i) {
    buffers[i] = pw_filter_dequeue_buffer(self->out_ports_[i]);
    outputs[i] = nullptr;
    if (buffers[i] != nullptr) {
      spa_data& d = buffers[i]->buffer->datas[0];
      if (d.data != nullptr && d.chunk != nullptr && d.maxsize >= bytes) {
        outputs[i] = static_cast<float*>(d.data);
        d.chunk->offset = 0;
        d.chunk->size = static_cast<std::uint32_t>(bytes);
        d.chunk->stride = sizeof(float);
        d.chunk->flags = SPA_CHUNK_FLAG_NONE;
      } else if (d.chunk != nullptr) {
        // Too short for this cycle: the consumer gets an empty chunk (silence).
        d.chunk->offset = 0;
        d.chunk->size = 0;
        d.chunk->flags = SPA_CHUNK_FLAG_EMPTY;
      }
    }
    discarded[i] = outputs[i] == nullptr;
    if (discarded[i]) {
      // No usable buffer for this port this cycle: render it into its discard row (never read).
      // A port without buffers at all is simply not linked: not counted.
      outputs[i] = self->discard_.get() + i * std::size_t{kDiscardFrames};
      if (buffers[i] != nullptr ||
          static_cast<PortData*>(self->out_ports_[i])->buffers.load(std::memory_order_relaxed) !=
              0) {
        missing = true;
      }
    }
  }
  if (missing) self->null_buffers_.fetch_add(1, std::memory_order_relaxed);

  pw_buffer* midi_buffer = nullptr;
  std::span<const engine::MidiEventView> midi;
  if (self->midi_port_ != nullptr) {
    midi_buffer = pw_filter_dequeue_buffer(self->midi_port_);
    if (midi_buffer != nullptr) {
      const spa_data& d = midi_buffer->buffer->datas[0];
      if (d.chunk != nullptr) {
        const pipewire::MidiRead read =
            pipewire::read_midi_sequence(d.data, d.maxsize, d.chunk->offset, d.chunk->size, nframes,
                                         self->midi_.get(), kMidiCapacity);
        midi = {self->midi_.get(), read.count};
        if (read.overflow != 0) {
          self->midi_overflow_.store(
              self->midi_overflow_.load(std::memory_order_relaxed) + read.overflow,
              std::memory_order_relaxed);
        }
      }
    }
  }

  const bool silent =
      (state & kRetired) != 0 || self->target_.fn == nullptr ||
      (nframes > kDiscardFrames && std::find(discarded, discarded + n, true) != discarded + n);
  if (silent) {
    // Retired, no target, or larger than the discard rows: the outputs that have buffers carry
    // silence and the target is not called.
    for (std::size_t i = 0; i < n; ++i) {
      if (!discarded[i]) std::memset(outputs[i], 0, bytes);
    }
  } else {
    self->target_.fn(self->target_.ctx, frame, nframes, outputs, midi, position->clock.nsec / 1000,
                     position->clock.next_nsec / 1000);
  }

  for (std::size_t i = 0; i < n; ++i) {
    if (buffers[i] != nullptr) pw_filter_queue_buffer(self->out_ports_[i], buffers[i]);
  }
  if (midi_buffer != nullptr) pw_filter_queue_buffer(self->midi_port_, midi_buffer);

  if (!silent) {
    self->frame_now_.store(frame + nframes, std::memory_order_release);
    self->cycles_.store(self->cycles_.load(std::memory_order_relaxed) + 1,
                        std::memory_order_release);
  }
  self->cycle_state_.fetch_and(~kInCycle, std::memory_order_release);
}

void PipewireBackend::on_filter_state(void* data, pw_filter_state, pw_filter_state state,
                                      const char* error) noexcept {
  auto* self = static_cast<PipewireBackend*>(data);
  if (state == PW_FILTER_STATE_ERROR) {
    self->filter_error_ = error != nullptr ? error : "unknown error";
    self->server_gone_.store(true, std::memory_order_release);
  }
  pw_thread_loop_signal(self->loop_, false);
}

void PipewireBackend::on_filter_param(void* data, void* port_data, std::uint32_t id,
                                      const spa_pod* param) noexcept {
  auto* self = static_cast<PipewireBackend*>(data);
  if (port_data == nullptr || id != SPA_PARAM_Latency) return;
  const std::uint32_t index = static_cast<PortData*>(port_data)->index;
  if (index >= self->latency_.size()) return;
  spa_latency_info info{};
  if (param == nullptr || spa_latency_parse(param, &info) < 0) return;
  if (info.direction != SPA_DIRECTION_INPUT) return;
  self->latency_[index] = info;
  self->latency_set_[index] = true;
  // With PW_FILTER_FLAG_CUSTOM_LATENCY the filter leaves propagation to us: what the outputs
  // lead to is the downstream latency of midi_in too (what pw_filter does by default).
  if (self->midi_port_ == nullptr) return;
  spa_latency_info combined{};
  spa_latency_info_combine_start(&combined, SPA_DIRECTION_INPUT);
  for (std::size_t i = 0; i < self->latency_.size(); ++i) {
    if (self->latency_set_[i]) spa_latency_info_combine(&combined, &self->latency_[i]);
  }
  spa_latency_info_combine_finish(&combined);
  std::uint8_t buffer[1024];
  spa_pod_builder b{};
  spa_pod_builder_init(&b, buffer, sizeof buffer);
  const spa_pod* params[1] = {spa_latency_build(&b, SPA_PARAM_Latency, &combined)};
  pw_filter_update_params(self->filter_, self->midi_port_, params, 1);
}

void PipewireBackend::on_add_buffer(void*, void* port_data, pw_buffer*) noexcept {
  if (port_data != nullptr) {
    static_cast<PortData*>(port_data)->buffers.fetch_add(1, std::memory_order_relaxed);
  }
}

void PipewireBackend::on_remove_buffer(void*, void* port_data, pw_buffer*) noexcept {
  if (port_data != nullptr) {
    static_cast<PortData*>(port_data)->buffers.fetch_sub(1, std::memory_order_relaxed);
  }
}

void PipewireBackend::on_core_info(void* data, const pw_core_info* info) noexcept {
  auto* self = static_cast<PipewireBackend*>(data);
  if (info == nullptr || info->props == nullptr) return;
  self->default_rate_ =
      parse_u32(spa_dict_lookup(info->props, "default.clock.rate"), self->default_rate_);
  self->default_quantum_ =
      parse_u32(spa_dict_lookup(info->props, "default.clock.quantum"), self->default_quantum_);
}

void PipewireBackend::on_core_done(void* data, std::uint32_t id, int seq) noexcept {
  auto* self = static_cast<PipewireBackend*>(data);
  if (id != PW_ID_CORE) return;
  self->done_seq_ = seq;
  pw_thread_loop_signal(self->loop_, false);
}

void PipewireBackend::on_core_error(void* data, std::uint32_t id, int, int res,
                                    const char* message) noexcept {
  auto* self = static_cast<PipewireBackend*>(data);
  if (id == PW_ID_CORE && res == -EPIPE) {
    self->server_gone_.store(true, std::memory_order_release);
  } else if (id != PW_ID_CORE) {
    try {
      self->request_errors_.push_back(std::string(message != nullptr ? message : "") + " (" +
                                      spa_strerror(res) + ")");
    } catch (...) {
      // Out of memory on the loop thread: the error goes unreported.
    }
  }
  pw_thread_loop_signal(self->loop_, false);
}

void PipewireBackend::on_global(void* data, std::uint32_t id, std::uint32_t, const char* type,
                                std::uint32_t, const spa_dict* props) noexcept {
  auto* self = static_cast<PipewireBackend*>(data);
  if (props == nullptr || type == nullptr) return;
  try {
    if (std::strcmp(type, PW_TYPE_INTERFACE_Node) == 0) {
      const char* name = spa_dict_lookup(props, PW_KEY_NODE_NAME);
      self->graph_.add_node(id, name != nullptr ? name : "");
      self->graph_events_.fetch_add(1, std::memory_order_release);
    } else if (std::strcmp(type, PW_TYPE_INTERFACE_Port) == 0) {
      const char* name = spa_dict_lookup(props, PW_KEY_PORT_NAME);
      const char* direction = spa_dict_lookup(props, PW_KEY_PORT_DIRECTION);
      const std::uint32_t node = parse_u32(spa_dict_lookup(props, PW_KEY_NODE_ID), SPA_ID_INVALID);
      if (name == nullptr || direction == nullptr || node == SPA_ID_INVALID) return;
      const char* channel = spa_dict_lookup(props, PW_KEY_AUDIO_CHANNEL);
      self->graph_.add_port(id, node, name, std::strcmp(direction, "out") == 0,
                            channel != nullptr ? channel : "");
      self->graph_events_.fetch_add(1, std::memory_order_release);
      pw_thread_loop_signal(self->loop_, false);
    } else if (std::strcmp(type, PW_TYPE_INTERFACE_Link) == 0) {
      const std::uint32_t out =
          parse_u32(spa_dict_lookup(props, PW_KEY_LINK_OUTPUT_PORT), SPA_ID_INVALID);
      const std::uint32_t in =
          parse_u32(spa_dict_lookup(props, PW_KEY_LINK_INPUT_PORT), SPA_ID_INVALID);
      if (out == SPA_ID_INVALID || in == SPA_ID_INVALID) return;
      self->graph_.add_link(id, out, in,
                            parse_u32(spa_dict_lookup(props, PW_KEY_CLIENT_ID), Graph::kNoOwner));
      self->link_events_.fetch_add(1, std::memory_order_release);
    } else if (std::strcmp(type, PW_TYPE_INTERFACE_Metadata) == 0 && self->follows_default()) {
      const char* name = spa_dict_lookup(props, PW_KEY_METADATA_NAME);
      if (name != nullptr && std::strcmp(name, kPolicyMetadata) == 0) {
        self->policy_id_ = id;
        self->policy_client_ = parse_u32(spa_dict_lookup(props, PW_KEY_CLIENT_ID), Graph::kNoOwner);
        self->graph_events_.fetch_add(1, std::memory_order_release);
        return;
      }
      if (name == nullptr || std::strcmp(name, "default") != 0 ||
          self->default_metadata_ != nullptr) {
        return;
      }
      self->default_metadata_ = static_cast<pw_proxy*>(
          pw_registry_bind(self->registry_, id, type, PW_VERSION_METADATA, 0));
      if (self->default_metadata_ == nullptr) return;
      self->default_metadata_id_ = id;
      static const pw_metadata_events metadata_events = [] {
        pw_metadata_events e{};
        e.version = PW_VERSION_METADATA_EVENTS;
        e.property = &PipewireBackend::on_metadata_property;
        return e;
      }();
      pw_metadata_add_listener(reinterpret_cast<pw_metadata*>(self->default_metadata_),
                               &self->metadata_listener_, &metadata_events, self);
    }
  } catch (...) {
    // Out of memory on the loop thread: the mirror misses this object.
  }
}

void PipewireBackend::on_global_remove(void* data, std::uint32_t id) noexcept {
  auto* self = static_cast<PipewireBackend*>(data);
  if (const auto ports = self->graph_.link_ports(id)) {
    std::erase(self->follow_going_, *ports);
  }
  if (self->graph_.remove(id)) self->link_events_.fetch_add(1, std::memory_order_release);
  if (id == self->policy_id_) {  // we link the default again
    self->policy_id_ = SPA_ID_INVALID;
    self->policy_client_ = Graph::kNoOwner;
  }
  if (id == self->default_metadata_id_ && self->default_metadata_ != nullptr) {
    // The session manager went away: no default until its metadata comes back.
    spa_hook_remove(&self->metadata_listener_);
    pw_proxy_destroy(self->default_metadata_);
    self->default_metadata_ = nullptr;
    self->default_metadata_id_ = SPA_ID_INVALID;
    self->default_sink_.clear();
  }
  self->graph_events_.fetch_add(1, std::memory_order_release);
}

int PipewireBackend::on_metadata_property(void* data, std::uint32_t subject, const char* key,
                                          const char*, const char* value) noexcept {
  auto* self = static_cast<PipewireBackend*>(data);
  if (subject != PW_ID_CORE) return 0;
  // A null key clears every property.
  if (key != nullptr && std::strcmp(key, "default.audio.sink") != 0) return 0;
  try {
    self->default_sink_ = key != nullptr ? default_node_name(value) : std::string();
  } catch (...) {
    self->default_sink_.clear();  // out of memory on the loop thread: no default
  }
  self->graph_events_.fetch_add(1, std::memory_order_release);
  return 0;
}

}  // namespace

std::unique_ptr<Backend> make_pipewire_backend(Options options) {
  return std::make_unique<PipewireBackend>(std::move(options));
}

}  // namespace clipd::backend
