#include "onset_probe.hpp"

#include <pipewire/filter.h>
#include <pipewire/pipewire.h>

#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

namespace clipd::bench {

struct OnsetProbe::State {
  std::size_t inputs = 0;
  std::vector<void*> ports;
  pw_thread_loop* loop = nullptr;
  pw_context* context = nullptr;
  pw_core* core = nullptr;
  pw_filter* filter = nullptr;
  spa_hook listener{};
  std::atomic<std::uint64_t> cycles{0};
  std::atomic<std::uint32_t> quantum{0};
  std::atomic<std::uint32_t> rate{0};
  std::atomic<std::int64_t> cycle_nsec{0};
  std::atomic<bool> armed[kMaxInputs]{};
  std::atomic<std::int64_t> onset_ns[kMaxInputs]{};
  std::atomic<std::uint64_t> last_sound[kMaxInputs]{};
};

namespace {

// Data thread: one scan of each input per cycle.
void on_process(void* data, spa_io_position* position) {
  auto* s = static_cast<OnsetProbe::State*>(data);
  if (position == nullptr) return;
  const auto n = static_cast<std::uint32_t>(position->clock.duration);
  const float* in[OnsetProbe::kMaxInputs];
  bool all = true;
  for (std::size_t c = 0; c < s->inputs; ++c) {
    // Null: not linked (yet), or the peer had nothing for this cycle.
    in[c] = static_cast<const float*>(pw_filter_get_dsp_buffer(s->ports[c], n));
    if (in[c] == nullptr) all = false;
  }
  const std::uint64_t cycle = s->cycles.load(std::memory_order_relaxed) + (all ? 1 : 0);
  const std::uint32_t rate = position->clock.rate.denom;
  for (std::size_t c = 0; c < s->inputs; ++c) {
    if (in[c] == nullptr) continue;
    std::uint32_t first = n;
    for (std::uint32_t i = 0; i < n; ++i) {
      if (in[c][i] != 0.0f) {
        first = i;
        break;
      }
    }
    if (first == n) continue;
    s->last_sound[c].store(cycle, std::memory_order_relaxed);
    if (s->armed[c].load(std::memory_order_acquire) && rate != 0) {
      const auto at = static_cast<std::int64_t>(position->clock.nsec) +
                      static_cast<std::int64_t>(first) * 1000000000 / rate;
      s->onset_ns[c].store(at, std::memory_order_relaxed);
      s->armed[c].store(false, std::memory_order_release);
    }
  }
  if (!all) return;
  s->quantum.store(n, std::memory_order_relaxed);
  s->rate.store(rate, std::memory_order_relaxed);
  s->cycle_nsec.store(static_cast<std::int64_t>(position->clock.nsec), std::memory_order_relaxed);
  s->cycles.store(cycle, std::memory_order_release);
}

}  // namespace

OnsetProbe::OnsetProbe(const std::string& name, std::size_t inputs)
    : state_(std::make_unique<State>()) {
  if (inputs == 0 || inputs > kMaxInputs) throw std::runtime_error("OnsetProbe: bad input count");
  State& s = *state_;
  s.inputs = inputs;
  pw_init(nullptr, nullptr);
  s.loop = pw_thread_loop_new(name.c_str(), nullptr);
  // client-rt.conf, as clipd's backend and clipd-pw-record use.
  s.context = pw_context_new(pw_thread_loop_get_loop(s.loop),
                             pw_properties_new(PW_KEY_CONFIG_NAME, "client-rt.conf", nullptr), 0);
  pw_thread_loop_start(s.loop);
  pw_thread_loop_lock(s.loop);
  s.core = pw_context_connect(s.context, nullptr, 0);
  if (s.core == nullptr) {
    pw_thread_loop_unlock(s.loop);
    throw std::runtime_error("OnsetProbe: cannot connect to PipeWire");
  }
  static pw_filter_events events{};
  events.version = PW_VERSION_FILTER_EVENTS;
  events.process = &on_process;
  s.filter =
      pw_filter_new(s.core, name.c_str(),
                    pw_properties_new(PW_KEY_NODE_NAME, name.c_str(), PW_KEY_MEDIA_TYPE, "Audio",
                                      PW_KEY_MEDIA_CATEGORY, "Capture", PW_KEY_MEDIA_ROLE, "DSP",
                                      PW_KEY_NODE_AUTOCONNECT, "false", nullptr));
  pw_filter_add_listener(s.filter, &s.listener, &events, &s);
  for (std::size_t c = 0; c < inputs; ++c) {
    const std::string port = "in_" + std::to_string(c + 1);
    s.ports.push_back(
        pw_filter_add_port(s.filter, PW_DIRECTION_INPUT, PW_FILTER_PORT_FLAG_MAP_BUFFERS, 0,
                           pw_properties_new(PW_KEY_FORMAT_DSP, "32 bit float mono audio",
                                             PW_KEY_PORT_NAME, port.c_str(), nullptr),
                           nullptr, 0));
  }
  pw_filter_connect(s.filter, PW_FILTER_FLAG_RT_PROCESS, nullptr, 0);
  pw_thread_loop_unlock(s.loop);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    pw_thread_loop_lock(s.loop);
    const std::uint32_t id = pw_filter_get_node_id(s.filter);
    pw_thread_loop_unlock(s.loop);
    if (id != SPA_ID_INVALID) break;
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("OnsetProbe: the node did not appear");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

OnsetProbe::~OnsetProbe() {
  State& s = *state_;
  pw_thread_loop_lock(s.loop);
  if (s.filter != nullptr) {
    spa_hook_remove(&s.listener);
    pw_filter_destroy(s.filter);
  }
  if (s.core != nullptr) pw_core_disconnect(s.core);
  pw_thread_loop_unlock(s.loop);
  pw_thread_loop_stop(s.loop);
  pw_context_destroy(s.context);
  pw_thread_loop_destroy(s.loop);
}

std::uint64_t OnsetProbe::cycles() const noexcept {
  return state_->cycles.load(std::memory_order_acquire);
}
std::uint32_t OnsetProbe::quantum() const noexcept {
  return state_->quantum.load(std::memory_order_relaxed);
}
std::uint32_t OnsetProbe::rate() const noexcept {
  return state_->rate.load(std::memory_order_relaxed);
}

std::int64_t OnsetProbe::last_cycle_nsec() const noexcept {
  return state_->cycle_nsec.load(std::memory_order_relaxed);
}

void OnsetProbe::arm(std::size_t input) noexcept {
  state_->onset_ns[input].store(0, std::memory_order_relaxed);
  state_->armed[input].store(true, std::memory_order_release);
}

std::optional<std::int64_t> OnsetProbe::onset(std::size_t input) const noexcept {
  if (state_->armed[input].load(std::memory_order_acquire)) return std::nullopt;
  return state_->onset_ns[input].load(std::memory_order_relaxed);
}

std::uint64_t OnsetProbe::last_sound_cycle(std::size_t input) const noexcept {
  return state_->last_sound[input].load(std::memory_order_relaxed);
}

}  // namespace clipd::bench
