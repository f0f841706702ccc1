// The control thread's end of one engine: the engine object, its two queues, and the process
// target a backend calls once per cycle.
//
// Threads: everything here runs on the control thread except process(), which the server's audio
// thread calls through the ProcessTarget. The engine pointer is published with a release store
// once the engine exists; process() reads it with an acquire load and writes silence while it is
// null. The engine is destroyed only after Backend::retire() has returned, so no cycle can be
// inside it then (the retire handshake of backend/backend.hpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

#include "clipd/node_slab.hpp"
#include "engine/config.hpp"
#include "engine/engine.hpp"
#include "engine/message.hpp"
#include "backend/backend.hpp"

namespace clipd::backend {

class EngineLink {
 public:
  // `outputs`: the number of output ports, fixed for the daemon's life.
  explicit EngineLink(std::uint32_t outputs) noexcept : outputs_(outputs) {}
  EngineLink(const EngineLink&) = delete;
  EngineLink& operator=(const EngineLink&) = delete;
  ~EngineLink();

  // The target to give Backend::open(); valid for this object's whole life.
  ProcessTarget target() noexcept { return {&EngineLink::process, this}; }

  // Builds a fresh engine and queue pair and publishes it to the process callback; grows the
  // node slab to what `config` needs (see kClientTransit). Control thread. Note: allocates every
  // engine table and the nodes.
  void build(const engine::Config& config);
  // The engine's clip table grew by `slots`: adds the nodes its clips can hold. Control thread.
  // Note: allocates.
  void grow_clip_share(std::uint32_t slots);
  // Takes the engine back once no cycle can run (after Backend::retire()): ends every voice
  // with `reason` at `end_frame`, hands back every clip and node (drain() them next).
  // Control thread.
  void retire(std::uint64_t end_frame, engine::EndReason reason);
  // Destroys the engine and its queues; everything must have been drained. Control thread.
  void destroy();
  // Gives up on the engine without touching it: a cycle outlived Backend::retire()'s bound, so
  // its state may be torn. The engine, its queues and every node and table it holds are leaked
  // on purpose (never retired, never freed); the slab stops counting the nodes that were out.
  // Control thread.
  void abandon() noexcept;

  bool online() const noexcept { return engine_ != nullptr; }
  engine::Engine* engine() const noexcept { return engine_.get(); }

  // Sends one message in a node from the slab; never allocates. False, and nothing sent, when no
  // node is left for it: a client command (is_client()) may have at most client_share() nodes
  // out; control's own messages take from the rest. Control thread.
  [[nodiscard]] bool send(const engine::Message& message) noexcept;
  // Nodes a client command may still take (a play takes two). Control thread.
  std::uint32_t client_room() const noexcept {
    return client_out_ < client_share_ ? client_share_ - client_out_ : 0;
  }
  std::uint32_t client_share() const noexcept { return client_share_; }
  std::size_t slab_size() const noexcept { return slab_.size(); }
  std::size_t slab_available() const noexcept { return slab_.available(); }

  // Pops every returned node, puts it back in the slab, then hands a copy of its message to `fn`
  // (so `fn` may send again at once). Control thread.
  template <class Fn>
  std::size_t drain(Fn&& fn) {
    if (!from_engine_) return 0;
    std::size_t n = 0;
    while (engine::MessageNode node = from_engine_.pop()) {
      const engine::Message m = *node;
      if (!returns_own(m) && client_out_ > 0) --client_out_;
      slab_.give_back(std::move(node));
      fn(m);
      ++n;
    }
    return n;
  }

  // Which share a message's node counts against: control's own messages (clips, the binding
  // table, spares) or a client command's. A node keeps its share until it comes back.
  static bool is_client(engine::Kind kind) noexcept;
  static bool returns_own(const engine::Message& m) noexcept;

  // The slab (clipd/node_slab.hpp) holds every node that can be out at once, derived from the
  // engine's Config, so a send fails only when a client floods commands:
  //
  // client share = 2 x voice pool            a play and its voice_end per voice slot
  //                                          (pool = max_voices + fade_voices)
  //              + max_pending               timed stop/set waiting (control refuses more)
  //              + 2                         one voices and one meters query
  //              + kClientTransit            commands for now between two drains
  // own share    = 2 x clip_capacity         a node riding with each slot's clip, plus a
  //                                          remove_clip or replace in flight for each slot
  //              + retired_capacity          removed clips whose voices still fade out
  //              + spare_nodes               the engine's spare pool: control sends one spare
  //                                          per spare-born event that comes back, so spares
  //                                          out (pooled, riding with MIDI voices, in flight)
  //                                          never exceed it
  //              + kOwnTransit               binding tables and table swaps in flight
  //
  // Control drains the return queue every tick (2 ms) and before refusing; the engine takes
  // Config::max_messages_per_cycle messages per cycle. kClientTransit bounds how many commands
  // for now a client burst may have in flight between drains: past it they get `limit`.
  static constexpr std::uint32_t kClientTransit = 1024;
  static constexpr std::uint32_t kOwnTransit = 64;
  static std::uint64_t client_share_for(const engine::Config& config) noexcept;
  static std::uint64_t own_share_for(const engine::Config& config) noexcept;

 private:
  // Audio thread: the ProcessTarget. Hands the cycle to the published engine (its cost is
  // Engine::process()'s, engine/engine.hpp; the MIDI span as is, at most kMidiCapacity events),
  // or writes silence: O(outputs x nframes).
  static void process(void* ctx, std::uint64_t frame, std::uint32_t nframes, float* const* outputs,
                      std::span<const engine::MidiEventView> midi, std::uint64_t usecs,
                      std::uint64_t next_usecs) noexcept;

  NodeSlab<engine::Message> slab_;
  std::uint32_t client_share_ = 0;
  std::uint32_t client_out_ = 0;  // client-command nodes sent and not yet back

  std::unique_ptr<engine::MessageQueue> to_engine_;
  std::unique_ptr<engine::MessageQueue> to_control_;
  Producer<engine::Message> to_engine_in_;
  Consumer<engine::Message> from_engine_;
  std::unique_ptr<engine::Engine> engine_;
  std::atomic<engine::Engine*> published_{nullptr};
  const std::uint32_t outputs_;
};

}  // namespace clipd::backend
