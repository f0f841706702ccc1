// The command core: every command of the protocol, as typed requests (protocol::Request)
// answered through the Requester that sent them. Front ends (the JSON-lines socket, OSC) turn
// their clients' messages into those requests and take the events through EventSink; the core
// never sees wire text.
//
// Its records, each in its own class: the clips (clip_registry.hpp: loads, replaces,
// cancellations, clips waiting to come back from the engine), the voices (voice_book.hpp: ids,
// groups, stops waiting for the engine's count) and the MIDI bindings (midi_bindings.hpp). The
// engine's lifecycle across server connections is the EngineSession's (engine_session.hpp: the
// backend, the engine link, connecting, building and retiring engines); the controller is its
// listener and ties the records to it: commands.cpp (dispatch and the commands), bindings.cpp
// (bind, unbind, bindings), loads.cpp (loads, replaces, cancellations) and controller.cpp (what
// an engine gets when it comes and what ends when it goes, its returned nodes, shutdown).
//
// Thread contract: everything runs on the control thread (the io_context's one thread). Loads
// run on the loader's workers and come back through asio::post; the engine is reached only
// through EngineLink's queues; the audio server is reached only through backend::Backend (its
// audio-thread side read through Backend::poll() on a timer), so the controller never learns
// which server it talks to.
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
#include "clips/disk_streamer.hpp"
#include "clips/loader.hpp"
#include "clips/memory_budget.hpp"
#include "control/clip_registry.hpp"
#include "control/clock_reading.hpp"
#include "control/engine_session.hpp"
#include "control/midi_bindings.hpp"
#include "control/protocol/protocol.hpp"
#include "control/requester.hpp"
#include "control/voice_book.hpp"

namespace clipd::control {

struct ControllerOptions {
  std::string version;
  // Output ports: the backend's Options::outputs (the engine renders this many).
  std::uint32_t outputs = 2;
  std::uint32_t max_voices = 256;
  // Timed stop/set commands in flight at once (the engine's Config::max_pending); more get
  // `limit`.
  std::uint32_t max_timed_commands = 1024;
  // MIDI events that act per period (the engine's Config::max_midi_events).
  std::uint32_t max_midi_events = 256;
  std::uint32_t max_channels = 8;
  std::uint64_t memory_budget = 0;  // bytes; 0: a quarter of physical memory
  // Streaming from disk (clipd.conf(5)): the decoded size past which load's `stream: "auto"`
  // streams, the head kept in memory, the streamed voices that play at once (each takes a ring;
  // a quarter more rings serve voices fading out), each ring's seconds (of stereo at 48 kHz),
  // the disk threads, and a test hook that makes every block the disk threads read take at
  // least this long (a slow disk).
  std::uint64_t stream_threshold = clips::default_stream_threshold;
  double stream_head_s = clips::default_stream_head_s;
  std::uint32_t max_streamed_voices = 32;
  double stream_buffer_s = 2.0;
  unsigned stream_threads = 2;
  std::chrono::microseconds stream_test_delay{0};
  double declick_s = 0.005;
  // Called on the control thread with every loaded clip (name, path) and every MIDI binding (as
  // the protocol's JSON) after each change, so the daemon can remember them.
  std::function<void(const std::vector<std::pair<std::string, std::string>>&,
                     const protocol::Json& bindings)>
      on_state_changed;
  // Called on the control thread when a client sent `shutdown`.
  std::function<void()> on_shutdown_request;
  // Called on the control thread when the engine goes online or offline ("online 48000 Hz ...").
  std::function<void(const std::string&)> on_status;
  // Called on the control thread with warnings worth a log line (a clip that failed to load).
  std::function<void(const std::string&)> on_warning;
  // Called on the control thread with details worth a debug log line: the output ports'
  // connections once they are remembered for the next server (see Backend::poll()).
  std::function<void(const std::string&)> on_debug;
  // Given to every engine built (engine/config.hpp): runs on the audio thread at the end of each
  // cycle. Null in the installed clipd.
  void (*cycle_hook)(void* arg) noexcept = nullptr;
  void* cycle_hook_arg = nullptr;
  // Called on the control thread with the server library's own messages (libjack's error and
  // info hooks, PipeWire's log: backend::LibraryMessage).
  std::function<void(bool error, const std::string&)> on_library_message;
  // Called on the control thread with `status`'s result before it is sent: the front ends add
  // their own counters (the OSC front end's osc_dropped, ...).
  std::function<void(protocol::Json& status)> extend_status;
};

class Controller final : private EngineSession::Listener {
 public:
  // `backend` (not open yet) is the controller's for its whole life; its Options::outputs must
  // equal options.outputs.
  Controller(boost::asio::io_context& io, ControllerOptions options,
             std::unique_ptr<backend::Backend> backend);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Every event goes to each sink, in the order they were added. `sink` must outlive the
  // controller or be removed before it goes. Call before start().
  void add_event_sink(EventSink& sink) { sinks_.push_back(&sink); }
  void remove_event_sink(EventSink& sink) noexcept { std::erase(sinks_, &sink); }
  // Loads `initial_clips` (name, path: from the state file), restores `initial_bindings` (`bind`
  // request lines) and starts connecting to the audio server.
  void start(std::vector<std::pair<std::string, std::string>> initial_clips,
             const std::vector<std::string>& initial_bindings = {});
  // Fades every voice out (reason shutdown), leaves the server, frees every clip. `done` runs on
  // the control thread once everything is released.
  void stop(std::function<void()> done);

  // Test hook (clipd-rtsan's debug commands): every block the disk threads read takes at least
  // `delay`. Any thread.
  void set_stream_test_delay(std::chrono::microseconds delay) noexcept {
    disk_->set_block_delay(delay);
  }

  // A client's request, from any front end: answered exactly once through `from`, now or later
  // (a reply to a client that is gone is dropped by its Requester). Control thread.
  void submit(const RequesterPtr& from, protocol::ParsedRequest request);

  // The engine's clocks read together (control/clock_reading.hpp): its last cycle's first frame
  // and the server clock's time there, the server clock and CLOCK_REALTIME now. nullopt while no
  // engine has run a cycle. Control thread.
  std::optional<ClockReading> clock_reading() const { return session_->clock_reading(); }

 private:
  using Parsed = protocol::ParsedRequest;

  // commands.cpp
  void dispatch(const RequesterPtr& from, Parsed parsed);
  static void fail(const RequesterPtr& to, const protocol::RequestId& id,
                   const protocol::Error& error);
  bool wait_if_loading(const std::string& clip, const RequesterPtr& from, const Parsed& parsed);
  void cmd_hello(const RequesterPtr& from, const Parsed& p);
  void cmd_status(const RequesterPtr& from, const Parsed& p);
  void cmd_load(const RequesterPtr& from, const Parsed& p, const protocol::LoadRequest& r);
  void cmd_unload(const RequesterPtr& from, const Parsed& p, const protocol::UnloadRequest& r);
  void cmd_list(const RequesterPtr& from, const Parsed& p);
  void cmd_info(const RequesterPtr& from, const Parsed& p, const protocol::InfoRequest& r);
  void cmd_play(const RequesterPtr& from, const Parsed& p, const protocol::PlayRequest& r);
  void cmd_stop(const RequesterPtr& from, const Parsed& p, const protocol::StopRequest& r);
  void cmd_pause(const RequesterPtr& from, const Parsed& p, std::int64_t voice,
                 std::optional<double> fade_s, bool resume);
  void cmd_set(const RequesterPtr& from, const Parsed& p, const protocol::SetRequest& r);
  void cmd_master(const RequesterPtr& from, const Parsed& p, const protocol::MasterRequest& r);
  void cmd_voices(const RequesterPtr& from, const Parsed& p);
  void cmd_meters(const RequesterPtr& from, const Parsed& p);
  // Queries: at most one voices and one meters query in flight (the engine answers at most one
  // of each per cycle, engine/message.hpp). A request joins the next query to be sent, so its
  // answer always reflects every command that came before it.
  void send_voices_query();
  void send_meters_query();
  void on_voices_answer(const engine::Message& m);
  void on_meters_answer(const engine::Message& m);
  struct QueryWaiter;
  // Answers `limit` to each (no node was left to send their query) and empties the list.
  void refuse_all(std::vector<QueryWaiter>& waiters);
  protocol::Json offline_voices() const;
  protocol::Json offline_meters() const;
  // After the engine is gone: answers every query still waiting as offline and forgets what was
  // in flight (the engine's retire hands every node back, so normally nothing is left).
  void end_queries_offline();

  // bindings.cpp
  void cmd_bind(const RequesterPtr& from, const Parsed& p, const protocol::BindRequest& r);
  void cmd_unbind(const RequesterPtr& from, const Parsed& p, const protocol::UnbindRequest& r);
  void cmd_bindings(const RequesterPtr& from, const Parsed& p);
  void push_bindings();
  void top_up_spares(std::uint32_t n);
  void restore_bindings(const std::vector<std::string>& lines);

  // loads.cpp
  void submit_load(ClipEntry& entry, const RequesterPtr& from, const protocol::RequestId& id,
                   bool redecode);
  // Starts the pending load again at target_rate(), for the same request (or none).
  void resubmit(ClipEntry& entry);
  void on_loaded(const std::string& name, std::uint64_t serial, clips::LoadResult result);
  void next_redecode();
  void cancel_pending(ClipEntry& entry);
  void run_waiters(std::vector<std::function<void()>> waiters);
  // Runs the waiters of every clip that no longer makes commands wait.
  void release_waiters();
  // Makes `clip` the entry's clip. The old one (a replace when `announce`, else a decode at a
  // new rate) is freed now or when the engine hands it back, with clip-unloaded when
  // `announce`. True when it was freed now and so needs its clip-unloaded sent by the caller.
  bool install(ClipEntry& entry, std::unique_ptr<clips::LoadedClip> clip, bool announce);
  void add_to_engine(ClipEntry& entry);
  // Takes the clip out of the engine (freed when handed back) or frees it now; true when it was
  // freed now.
  bool retire_clip(ClipEntry& entry, bool announce);
  std::uint32_t alloc_slot();
  void save_state();
  std::uint32_t target_rate() const noexcept;

  // controller.cpp: the engine session's reports (EngineSession::Listener), engine events
  void tick();
  void schedule_tick();
  std::uint32_t engine_clip_capacity() override;
  // A new engine: hands it the clips at its rate, the bindings and the spare nodes, and starts
  // again the loads for another rate.
  void on_online() override;
  void on_first_cycle(std::uint64_t frame) override;
  void on_xruns(std::uint64_t total) override;
  void on_connections_changed(const std::vector<backend::PortConnection>& connections) override;
  void on_leaving(engine::EndReason reason) override;
  void on_engine_message(const engine::Message& m) override;
  // The engine was abandoned: every voice ends at `end_frame`, every stop is answered as a
  // retire would have answered it.
  void on_abandoned(engine::EndReason reason, std::uint64_t end_frame) override;
  // The engine is gone: queries, bindings tables, timed commands and leaving clips end with it.
  void on_offline(engine::EndReason reason) override;
  void finish_stop_if_ready();
  void drain();
  // A stop came back from the engine: answers the request that sent it.
  void on_stop_acted(const engine::StopPayload& stop);
  void emit(const protocol::Event& event);
  // Streaming: a clip's file failed on a disk thread (clip-failed); the rings' underrun reports
  // become underrun events (on the tick).
  void on_stream_failed(std::uint64_t stream_id, const std::string& why);
  void report_underruns();
  // The engine's at_frame for a command's `at_frame` / `in_s` (kNow when neither is given).
  std::uint64_t engine_frame(const protocol::When& when) const noexcept;
  // The at_frame for a timed stop or set: engine_frame(), or kNow when that frame has certainly
  // passed (the engine acts at once either way), so at_frame != kNow means "waits in the engine".
  std::uint64_t timed_frame(const protocol::When& when) const noexcept;
  // The engine's at_nsecs for a command whose at_frame is `at`: the server time (ns) of an
  // AtServerTime, unless the command acts now (at == kNow); else 0.
  static std::uint64_t engine_nsecs(const protocol::When& when, std::uint64_t at) noexcept;
  // Whether one more command may wait for its frame; answers `limit` when not. Drains the
  // engine's returned nodes first, so a refusal reflects the latest count.
  bool admit_timed(const RequesterPtr& from, const Parsed& p);
  // Whether the slab has `nodes` nodes for a client command; answers `limit` when not. Drains
  // the engine's returned nodes first, so a refusal reflects the latest count.
  bool admit_nodes(const RequesterPtr& from, const Parsed& p, std::uint32_t nodes);
  // The same for requests whose effects make control send its own messages at once (unload,
  // bind, unbind): the slab must have room for `nodes` of them.
  bool admit_own(const RequesterPtr& from, const Parsed& p, std::uint32_t nodes);
  // Sends one of control's own messages. The slab's sizing keeps room for them; if it ever ran
  // out, the message is not sent and a warning is logged. Returns whether it was sent.
  bool send_own(const engine::Message& m);

  boost::asio::io_context& io_;
  ControllerOptions options_;
  std::vector<EventSink*> sinks_;
  clips::MemoryBudget budget_;
  // Declared before the engine link and the clips: the rings outlive every engine, and the
  // disk threads every clip that names them.
  std::unique_ptr<clips::DiskStreamer> disk_;
  // Per ring: the last underrun report turned into an event.
  std::vector<engine::UnderrunReport> reported_;
  // The backend, the engine link and the engine (engine_session.hpp). Made once the rings exist
  // (its engines read them); declared before the clips, which every engine points into.
  std::unique_ptr<EngineSession> session_;
  std::unique_ptr<clips::Loader> loader_;
  boost::asio::steady_timer tick_timer_;
  std::chrono::steady_clock::time_point started_at_;

  // The core's records (each header gives its contract).
  ClipRegistry clips_;
  VoiceBook voices_;
  MidiBindings bindings_;
  // Nodes the engine keeps for the voices MIDI notes start (two per voice).
  static constexpr std::uint32_t kSpareNodes = 256;

  // Timed stop/set commands sent and not yet back from the engine: at most
  // options_.max_timed_commands, the engine's Config::max_pending.
  std::uint32_t timed_in_flight_ = 0;

  struct QueryWaiter {
    RequesterPtr requester;
    protocol::RequestId id;
  };
  // One kind of query: the requests the query in flight answers, and those that arrived since,
  // which the next query answers.
  struct QueryBatch {
    bool in_flight = false;
    std::vector<QueryWaiter> answering;
    std::vector<QueryWaiter> waiting;
  };
  QueryBatch voices_query_;
  QueryBatch meters_query_;
  // What the engine fills, allocated once: a record per voice slot of the engine's pool
  // (max_voices playing plus as many fading: the engine session leaves Config::fade_voices at its
  // default), and peak then RMS per output.
  std::vector<engine::VoiceInfo> voices_buffer_;
  std::vector<float> meters_buffer_;

  bool stopping_ = false;
  double master_gain_db_ = 0;
  std::function<void()> stop_done_;
  std::chrono::steady_clock::time_point stop_deadline_;
  // Callbacks from timers and loader workers hold a weak reference, so none runs after the
  // controller is gone.
  std::shared_ptr<int> life_ = std::make_shared<int>(0);
};

// The protocol's code for a load error.
protocol::ErrorCode load_error_code(clips::LoadErrorCode code) noexcept;

}  // namespace clipd::control
