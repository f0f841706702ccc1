// control/engine_session.hpp: the engine's life across audio-server connections: the backend and
// the engine link, connecting and retrying, an engine built for each connection and retired (or
// abandoned) when it ends, and what the server's side says between (rate, buffer size, xruns,
// connections, the clocks).
//
// A session is offline until a try_open() succeeds; it then builds an engine at the server's
// rate and is online until the server goes, its rate changes, or the owner calls go_offline().
// Going offline retires the engine (Backend::retire(), then EngineLink::retire(), whose returned
// nodes are drained to the listener) or abandons it when a cycle outlived the retire; after a
// server loss it tries again every retry_delay() until a server is back. The owner learns all of
// it through the Listener, in the order it happens; the session sends the engine nothing itself.
//
// Thread contract: control thread only (the io_context's one thread), like the backend's control
// side; the engine is reached only through the link's queues. Connecting and retiring block on
// the server (milliseconds, see backend/backend.hpp); building an engine allocates and locks
// memory (mlockall).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "backend/engine_link.hpp"
#include "control/clock_reading.hpp"
#include "engine/config.hpp"
#include "engine/message.hpp"

namespace clipd::control {

struct EngineSessionOptions {
  // The engine every connection builds, but for what each connection sets: sample_rate (the
  // server's), declick_frames (declick_s at that rate) and clip_capacity (the listener's).
  engine::Config engine;
  double declick_s = 0.005;
  // Log lines, on the control thread: going online or offline ("online: 48000 Hz ..."),
  // warnings (memory that cannot be locked, an abandoned engine, the library's dropped
  // messages), and the server library's own messages (backend::LibraryMessage).
  std::function<void(const std::string&)> on_status;
  std::function<void(const std::string&)> on_warning;
  std::function<void(bool error, const std::string&)> on_library_message;
  // Debug lines: what the backend decided (backend::Events::notes).
  std::function<void(const std::string&)> on_debug;
};

class EngineSession {
 public:
  // What the session reports, on the control thread, as it happens. The listener may use the
  // session (its link, rate, frames) from every call.
  class Listener {
   public:
    // Before each engine is built: the size of its clip table (Config::clip_capacity).
    virtual std::uint32_t engine_clip_capacity() = 0;
    // An engine was built for a new connection and published to the server, no cycle run yet:
    // online(), rate() and buffer_size() are the server's. The listener hands it what it must
    // hold (clips, bindings, spare nodes).
    virtual void on_online() = 0;
    // The engine ran its first cycle, whose first frame is `frame`.
    virtual void on_first_cycle(std::uint64_t frame) = 0;
    // The server counted xruns since the last poll(); `total` since the backend was made.
    virtual void on_xruns(std::uint64_t total) = 0;
    // The ports' connections changed (the ones remembered for the next server).
    virtual void on_connections_changed(
        const std::vector<backend::PortConnection>& connections) = 0;
    // Each node the engine hands back, as drain() pops it (a copy: the listener may send again
    // at once).
    virtual void on_engine_message(const engine::Message& message) = 0;
    // Going offline, in this order: on_leaving() once the server no longer runs the engine
    // (online() is false already), the engine's last nodes through on_engine_message() (those
    // its retire hands back included), on_abandoned() instead of the retire's nodes when the
    // engine had to be abandoned (EngineLink::abandon(): every voice and stop it held is lost;
    // `end_frame` is the frame after its last cycle), then on_offline().
    virtual void on_leaving(engine::EndReason reason) = 0;
    virtual void on_abandoned(engine::EndReason reason, std::uint64_t end_frame) = 0;
    virtual void on_offline(engine::EndReason reason) = 0;

   protected:
    ~Listener() = default;
  };

  // `backend` (not open yet) is the session's for its whole life; its Options::outputs must equal
  // options.engine.outputs. `listener` must outlive the session.
  EngineSession(boost::asio::io_context& io, EngineSessionOptions options,
                std::unique_ptr<backend::Backend> backend, Listener& listener);
  ~EngineSession();
  EngineSession(const EngineSession&) = delete;
  EngineSession& operator=(const EngineSession&) = delete;

  // Tries to connect now and, until a server answers, again every retry_delay(). Nothing after
  // stop_connecting().
  void try_connect();
  // No more connections: cancels the retry timer; try_connect() does nothing from now on.
  void stop_connecting();
  // Reads what the server's side stored since the last poll and reports it: the library's
  // messages, xruns, connections, the buffer size, the first cycle, a server loss (offline, then
  // a retry after kRetryMin) or a new rate (offline, then a connection at once). On the owner's
  // tick.
  void poll();
  // Retires the engine (see Listener) with `reason` for its voices; nothing when offline.
  void go_offline(engine::EndReason reason);
  // Leaves the server and destroys the engine without reporting anything (the owner is going);
  // what the engine hands back is freed, not drained to the listener.
  void close() noexcept;

  // Drains the engine's returned nodes to the listener's on_engine_message(); how many.
  std::size_t drain();
  // mlockall(MCL_CURRENT), warning once when the limit forbids it: after the engine's memory grew
  // (a larger clip table, more nodes).
  void lock_memory();

  backend::EngineLink& link() noexcept { return link_; }
  const backend::EngineLink& link() const noexcept { return link_; }
  const backend::Backend& backend() const noexcept { return *backend_; }
  bool online() const noexcept { return online_; }
  // The engine's rate while online; offline, the last engine's, or 0 before the first connection.
  std::uint32_t rate() const noexcept { return rate_; }
  // The server's buffer size while online, else 0.
  std::uint32_t buffer_size() const noexcept { return buffer_size_; }
  // Underruns of the streamed voices, counted by every engine so far.
  std::uint64_t underruns() const noexcept;

  // The engine's clocks read together (control/clock_reading.hpp): its last cycle's first frame
  // and the server clock's time there, the server clock and CLOCK_REALTIME now. nullopt while no
  // engine has run a cycle.
  std::optional<ClockReading> clock_reading() const;
  // The first frame of the engine's last cycle (0 with no engine).
  std::uint64_t now_frame() const noexcept;
  // `seconds` in frames at rate().
  std::uint64_t frames(double seconds) const noexcept;
  // The declick fade (declick_s) in frames at rate().
  std::uint64_t declick_frames() const noexcept;

 private:
  void schedule_connect(std::chrono::milliseconds delay);
  void go_online();
  // go_offline() after a retire that timed out: see EngineLink::abandon().
  void abandon_engine(engine::EndReason reason);

  EngineSessionOptions options_;
  Listener& listener_;
  std::unique_ptr<backend::Backend> backend_;
  backend::EngineLink link_;
  boost::asio::steady_timer connect_timer_;

  std::uint32_t rate_ = 0;         // the engine's rate while online; the last known one offline
  std::uint32_t buffer_size_ = 0;  // while online
  bool online_ = false;
  bool stopping_ = false;  // stop_connecting() was called
  std::uint64_t last_end_frame_ = 0;
  std::uint64_t underruns_before_ = 0;  // counted by engines that are gone
  bool announced_online_ = false;
  bool warned_mlockall_ = false;
  // The connect timer's callback holds a weak reference, so none runs after the session is gone.
  std::shared_ptr<int> life_ = std::make_shared<int>(0);
};

}  // namespace clipd::control
