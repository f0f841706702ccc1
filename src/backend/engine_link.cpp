#include "backend/engine_link.hpp"

#include <cstring>

namespace clipd::backend {

EngineLink::~EngineLink() {
  destroy();
}

std::uint64_t EngineLink::client_share_for(const engine::Config& config) noexcept {
  const std::uint64_t pool = std::uint64_t{config.max_voices} +
                             (config.fade_voices != 0 ? config.fade_voices : config.max_voices);
  return 2 * pool + config.max_pending + 2 + kClientTransit;
}

std::uint64_t EngineLink::own_share_for(const engine::Config& config) noexcept {
  return 2 * std::uint64_t{config.clip_capacity} + config.retired_capacity + config.spare_nodes +
         kOwnTransit;
}

bool EngineLink::is_client(engine::Kind kind) noexcept {
  switch (kind) {
    case engine::Kind::add_clip:
    case engine::Kind::remove_clip:
    case engine::Kind::replace_clip:
    case engine::Kind::grow_clip_table:
    case engine::Kind::set_bindings:
    case engine::Kind::spare:
      return false;
    default:
      return true;
  }
}

bool EngineLink::returns_own(const engine::Message& m) noexcept {
  switch (m.kind) {
    case engine::Kind::clip_released:      // add_clip, replace_clip
    case engine::Kind::remove_clip:        // remove_clip
    case engine::Kind::table_released:     // grow_clip_table
    case engine::Kind::bindings_released:  // set_bindings
    case engine::Kind::spare:              // a spare the pool did not need
      return true;
    case engine::Kind::voice_started:
      return m.started.midi;  // a spare a MIDI note used
    case engine::Kind::voice_ended:
      return m.ended.midi;
    default:
      return false;  // what a client command sent, back as itself or as its voice's events
  }
}

void EngineLink::build(const engine::Config& config) {
  destroy();
  const std::uint64_t share = client_share_for(config);
  const std::uint64_t total = share + own_share_for(config);
  if (total > slab_.size()) slab_.grow(total - slab_.size());
  client_share_ = static_cast<std::uint32_t>(share);
  client_out_ = 0;
  to_engine_ = std::make_unique<engine::MessageQueue>();
  to_control_ = std::make_unique<engine::MessageQueue>();
  to_engine_in_ = to_engine_->producer();
  from_engine_ = to_control_->consumer();
  engine_ =
      std::make_unique<engine::Engine>(config, to_engine_->consumer(), to_control_->producer());
  published_.store(engine_.get(), std::memory_order_release);
}

void EngineLink::retire(std::uint64_t end_frame, engine::EndReason reason) {
  published_.store(nullptr, std::memory_order_release);
  if (engine_) engine_->retire(end_frame, reason);
}

void EngineLink::abandon() noexcept {
  published_.store(nullptr, std::memory_order_release);
  static_cast<void>(engine_.release());
  static_cast<void>(to_engine_.release());
  static_cast<void>(to_control_.release());
  to_engine_in_ = {};
  from_engine_ = {};
  slab_.forget(slab_.out());
  client_out_ = 0;
}

void EngineLink::destroy() {
  published_.store(nullptr, std::memory_order_release);
  engine_.reset();
  to_engine_in_ = {};
  from_engine_ = {};
  to_engine_.reset();
  to_control_.reset();
}

void EngineLink::grow_clip_share(std::uint32_t slots) {
  slab_.grow(2 * std::size_t{slots});
}

bool EngineLink::send(const engine::Message& message) noexcept {
  const bool client = is_client(message.kind);
  if (client && client_out_ >= client_share_) return false;
  engine::MessageNode node = slab_.take(message);
  if (!node) return false;
  if (client) ++client_out_;
  to_engine_in_.push(std::move(node));
  return true;
}

void EngineLink::process(void* ctx, std::uint64_t frame, std::uint32_t nframes,
                         float* const* outputs, std::span<const engine::MidiEventView> midi,
                         std::uint64_t usecs, std::uint64_t next_usecs) noexcept {
  auto* self = static_cast<EngineLink*>(ctx);
  if (engine::Engine* e = self->published_.load(std::memory_order_acquire)) {
    e->process(frame, nframes, outputs, usecs, midi.data(), static_cast<std::uint32_t>(midi.size()),
               next_usecs);
    return;
  }
  // No engine yet (between open and build): the ports must still carry silence.
  for (std::uint32_t c = 0; c < self->outputs_; ++c) {
    std::memset(outputs[c], 0, sizeof(float) * nframes);
  }
}

}  // namespace clipd::backend
