// The control thread's end of one engine: the engine object, its two queues, and the pointer the
// JACK process callback reads.
//
// Threads: everything here runs on the control thread except process(), which JACK's audio thread
// calls through the ProcessTarget. The engine pointer is published with a release store once the
// engine exists; the process callback reads it with an acquire load and writes silence while it
// is null. The engine is destroyed only after JackClient::retire() has returned, so no cycle can
// be inside it then (the retire handshake of jack/jack_client.hpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/config.hpp"
#include "engine/engine.hpp"
#include "engine/message.hpp"
#include "jack/jack_client.hpp"

namespace clipd::control {

class EngineLink {
 public:
  // `outputs`: the number of output ports, fixed for the daemon's life.
  explicit EngineLink(std::uint32_t outputs) noexcept : outputs_(outputs) {}
  EngineLink(const EngineLink&) = delete;
  EngineLink& operator=(const EngineLink&) = delete;
  ~EngineLink();

  // The target to give JackClient::open(); valid for this object's whole life.
  jack::ProcessTarget target() noexcept { return {&EngineLink::process, this}; }

  // Builds a fresh engine and queue pair and publishes it to the process callback.
  // Control thread. Note: allocates every engine table.
  void build(const engine::Config& config);
  // Takes the engine back once no cycle can run (after JackClient::retire()): ends every voice
  // with `reason` at `end_frame`, hands back every clip and node (drain() them next).
  // Control thread.
  void retire(std::uint64_t end_frame, engine::EndReason reason);
  // Destroys the engine and its queues; everything must have been drained. Control thread.
  void destroy();

  bool online() const noexcept { return engine_ != nullptr; }
  engine::Engine* engine() const noexcept { return engine_.get(); }

  // Sends one message. Reuses a returned node when there is one. Control thread.
  // Note: may allocate.
  void send(const engine::Message& message);

  // Pops every returned node, hands its message to `fn`, and keeps the node for reuse.
  // Control thread.
  template <class Fn>
  std::size_t drain(Fn&& fn) {
    if (!from_engine_) return 0;
    std::size_t n = 0;
    while (engine::MessageNode node = from_engine_.pop()) {
      fn(*node);
      recycle(std::move(node));
      ++n;
    }
    return n;
  }

 private:
  static void process(void* ctx, std::uint64_t frame, std::uint32_t nframes, float* const* outputs,
                      const jack::MidiInput* midi, std::uint64_t usecs) noexcept;
  void recycle(engine::MessageNode&& node);

  // Spare nodes kept for reuse; beyond this many, returned nodes are freed.
  static constexpr std::size_t kMaxSpare = 4096;
  // MIDI events handed to the engine per cycle; more in one period are dropped.
  static constexpr std::uint32_t kMaxMidiEvents = 1024;

  std::unique_ptr<engine::MessageQueue> to_engine_;
  std::unique_ptr<engine::MessageQueue> to_control_;
  Producer<engine::Message> to_engine_in_;
  Consumer<engine::Message> from_engine_;
  std::unique_ptr<engine::Engine> engine_;
  std::atomic<engine::Engine*> published_{nullptr};
  std::vector<engine::MessageNode> spare_;
  const std::uint32_t outputs_;
  // Audio thread only: the cycle's MIDI events in the engine's form.
  engine::MidiEventView midi_[kMaxMidiEvents] = {};
};

}  // namespace clipd::control
