#include "control/engine_link.hpp"

#include <cstring>

namespace clipd::control {

EngineLink::~EngineLink() {
  destroy();
}

void EngineLink::build(const engine::Config& config) {
  destroy();
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

void EngineLink::destroy() {
  published_.store(nullptr, std::memory_order_release);
  engine_.reset();
  to_engine_in_ = {};
  from_engine_ = {};
  to_engine_.reset();
  to_control_.reset();
}

void EngineLink::send(const engine::Message& message) {
  engine::MessageNode node;
  if (!spare_.empty()) {
    node = std::move(spare_.back());
    spare_.pop_back();
    *node = message;
  } else {
    node = engine::MessageNode::make(message);
  }
  to_engine_in_.push(std::move(node));
}

void EngineLink::recycle(engine::MessageNode&& node) {
  if (spare_.size() < kMaxSpare) spare_.push_back(std::move(node));
}

void EngineLink::process(void* ctx, std::uint64_t frame, std::uint32_t nframes,
                         float* const* outputs, const jack::MidiInput* midi,
                         std::uint64_t usecs) noexcept {
  auto* self = static_cast<EngineLink*>(ctx);
  if (engine::Engine* e = self->published_.load(std::memory_order_acquire)) {
    std::uint32_t count = 0;
    if (midi != nullptr) {
      for (const jack::MidiEvent ev : *midi) {
        if (count == kMaxMidiEvents) break;
        if (ev.size == 0) continue;  // JACK could not read it
        self->midi_[count++] = engine::MidiEventView{ev.frame, ev.size, ev.data};
      }
    }
    e->process(frame, nframes, outputs, usecs, self->midi_, count);
    return;
  }
  // No engine yet (between open and build): the ports must still carry silence.
  for (std::uint32_t c = 0; c < self->outputs_; ++c) {
    std::memset(outputs[c], 0, sizeof(float) * nframes);
  }
}

}  // namespace clipd::control
