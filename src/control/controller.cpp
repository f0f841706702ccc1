// The controller's life and its side of the engine's lifecycle (the EngineSession's reports):
// what a new engine gets, what ends when an engine goes, the engine's returned nodes, shutdown.
// Loads are in loads.cpp, the commands in commands.cpp and bindings.cpp.
#include "control/controller.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace clipd::control {
namespace {

constexpr auto kTick = std::chrono::milliseconds(2);
// How long a shutdown waits for voices to fade before it cuts them.
constexpr auto kShutdownFadeLimit = std::chrono::milliseconds(500);

protocol::EndReason to_protocol(engine::EndReason r) noexcept {
  switch (r) {
    case engine::EndReason::finished:
      return protocol::EndReason::finished;
    case engine::EndReason::stopped:
      return protocol::EndReason::stopped;
    case engine::EndReason::stolen:
      return protocol::EndReason::stolen;
    case engine::EndReason::choked:
      return protocol::EndReason::choked;
    case engine::EndReason::unloaded:
      return protocol::EndReason::unloaded;
    case engine::EndReason::offline:
      return protocol::EndReason::offline;
    case engine::EndReason::shutdown:
      return protocol::EndReason::shutdown;
    case engine::EndReason::read_error:
      return protocol::EndReason::read_error;
  }
  return protocol::EndReason::stopped;
}

}  // namespace

Controller::Controller(boost::asio::io_context& io, ControllerOptions options,
                       std::unique_ptr<backend::Backend> backend)
    : io_(io),
      options_(std::move(options)),
      budget_(options_.memory_budget != 0 ? options_.memory_budget
                                          : clips::MemoryBudget::default_limit()),
      tick_timer_(io),
      started_at_(std::chrono::steady_clock::now()),
      voices_buffer_(std::size_t{options_.max_voices} * 2),
      meters_buffer_(std::size_t{options_.outputs} * 2) {
  std::weak_ptr<int> alive = life_;
  loader_ = std::make_unique<clips::Loader>(
      [this, alive](std::function<void()> fn) {
        // Loader workers: hand the completion to the control thread, unless the controller has
        // gone in the meantime.
        boost::asio::post(io_, [alive, fn = std::move(fn)] {
          if (alive.lock()) fn();
        });
      },
      budget_);
  clips::DiskStreamerOptions disk;
  disk.rings = options_.max_streamed_voices + options_.max_streamed_voices / 4 + 2;
  disk.ring_floats = static_cast<std::uint64_t>(std::ceil(options_.stream_buffer_s * 48000.0)) * 2;
  disk.threads = std::max(1U, options_.stream_threads);
  disk.block_delay = options_.stream_test_delay;
  disk.warn = [this](std::string_view w) {
    if (options_.on_warning) options_.on_warning(std::string(w));
  };
  std::string error;
  disk_ = clips::DiskStreamer::create(
      disk, budget_,
      [this, alive](std::uint64_t id, const std::string& why) {
        // A disk thread: the control thread reports it.
        boost::asio::post(io_, [this, alive, id, why] {
          if (alive.lock()) on_stream_failed(id, why);
        });
      },
      error);
  if (disk_ == nullptr) throw std::runtime_error("cannot set up streaming: " + error);
  reported_.resize(disk_->ring_count());
  EngineSessionOptions session;
  engine::Config& cfg = session.engine;
  cfg.outputs = options_.outputs;
  cfg.max_voices = options_.max_voices;
  cfg.max_pending = options_.max_timed_commands;
  cfg.max_midi_events = options_.max_midi_events;
  cfg.spare_nodes = kSpareNodes;
  cfg.cycle_hook = options_.cycle_hook;
  cfg.cycle_hook_arg = options_.cycle_hook_arg;
  cfg.streams = disk_->rings();
  cfg.stream_rings = disk_->ring_count();
  cfg.max_streamed_voices = options_.max_streamed_voices;
  cfg.stream_channels = options_.max_channels;
  session.declick_s = options_.declick_s;
  session.on_status = options_.on_status;
  session.on_warning = options_.on_warning;
  session.on_debug = options_.on_debug;
  session.on_library_message = options_.on_library_message;
  EngineSession::Listener& listener = *this;
  session_ = std::make_unique<EngineSession>(io, std::move(session), std::move(backend), listener);
}

Controller::~Controller() {
  life_.reset();
  loader_.reset();
  // Before the clips go: the engine points into them.
  session_->close();
}

void Controller::start(std::vector<std::pair<std::string, std::string>> initial_clips,
                       const std::vector<std::string>& initial_bindings) {
  restore_bindings(initial_bindings);
  // Connect first: with a server running, the clips below are decoded once, at its rate.
  session_->try_connect();
  for (auto& [name, path] : initial_clips) {
    if (clips_.find(name) != nullptr) continue;
    ClipEntry& e = clips_.add(name);
    e.path = path;
    submit_load(e, nullptr, protocol::RequestId{}, false);
  }
  schedule_tick();
}

// ---- The engine session's reports --------------------------------------------------------------

std::uint32_t Controller::engine_clip_capacity() {
  std::uint32_t capacity = 256;
  while (capacity < clips_.size() * 2)
    capacity *= 2;
  return capacity;
}

void Controller::on_online() {
  const std::uint32_t rate = session_->rate();
  clips_.reset_slots(session_->link().engine()->config().clip_capacity);
  timed_in_flight_ = 0;
  for (auto& [name, entry] : clips_.entries()) {
    ClipEntry& e = *entry;
    if (e.pending && e.pending->rate != rate) {
      // A load running for another rate (the last server's, or the file's own before the first
      // connection) would end with a clip this engine cannot play: start it again at this rate.
      // A decode back to the rate the clip already has is simply dropped.
      if (e.pending->redecode && e.loaded && e.loaded->info().sample_rate == rate) {
        e.pending->handle.cancel();
        e.pending.reset();
      } else {
        resubmit(e);
      }
    }
    // A clip with a replace in progress plays on until the replace ends.
    if (e.loaded && e.loaded->info().sample_rate == rate) add_to_engine(e);
  }
  push_bindings();
  top_up_spares(kSpareNodes);
  next_redecode();
  release_waiters();
}

void Controller::on_first_cycle(std::uint64_t frame) {
  emit(protocol::EngineOnlineEvent{session_->rate(), session_->buffer_size(),
                                   static_cast<std::int64_t>(frame)});
}

void Controller::on_xruns(std::uint64_t total) {
  emit(protocol::XrunEvent{total});
}

void Controller::on_connections_changed(const std::vector<backend::PortConnection>& connections) {
  if (!options_.on_debug) return;
  std::string list;
  for (const backend::PortConnection& c : connections)
    list += (list.empty() ? "" : ", ") + c.own_port + " -> " + c.other_port;
  options_.on_debug("port connections remembered: " + (list.empty() ? "none" : list));
}

void Controller::on_leaving(engine::EndReason reason) {
  if (reason == engine::EndReason::offline) emit(protocol::EngineOfflineEvent{});
}

void Controller::on_abandoned(engine::EndReason reason, std::uint64_t end_frame) {
  // What the engine would have said when retired: every voice ends now.
  for (auto& [id, voice] : voices_.take_all()) {
    emit(protocol::VoiceEndedEvent{id, std::move(voice.clip), static_cast<std::int64_t>(end_frame),
                                   to_protocol(reason)});
  }
  // Stops the engine never acted on: answered as a retire would have answered them.
  for (const VoiceBook::PendingStop& stop : voices_.take_all_stops()) {
    stop.requester->reply_ok(stop.id, protocol::Json{{"stopped", 0}});
  }
}

void Controller::on_offline(engine::EndReason /*reason*/) {
  end_queries_offline();
  bindings_.reclaim_all();
  timed_in_flight_ = 0;
  // Clips that were leaving the engine are free now.
  for (std::string& name : clips_.engine_gone())
    emit(protocol::ClipUnloadedEvent{std::move(name)});
  // Commands that waited for a clip's turn to be decoded at the engine's rate run now: there is
  // no engine rate to wait for.
  release_waiters();
}

bool Controller::send_own(const engine::Message& m) {
  if (session_->link().send(m)) return true;
  drain();
  if (session_->link().send(m)) return true;
  if (options_.on_warning) {
    options_.on_warning("no message node left for the engine (" +
                        std::to_string(session_->link().slab_size()) + " in all); a " +
                        std::to_string(static_cast<int>(m.kind)) + " message was not sent");
  }
  return false;
}

void Controller::schedule_tick() {
  tick_timer_.expires_after(kTick);
  std::weak_ptr<int> alive = life_;
  tick_timer_.async_wait([this, alive](const boost::system::error_code& ec) {
    if (!ec && alive.lock()) tick();
  });
}

void Controller::tick() {
  drain();
  report_underruns();
  if (bindings_.change_waiting()) push_bindings();
  session_->poll();
  if (stopping_) {
    finish_stop_if_ready();
    if (!stop_done_) return;  // finished: no more ticks
  }
  schedule_tick();
}

void Controller::drain() {
  session_->drain();
}

void Controller::on_engine_message(const engine::Message& m) {
  switch (m.kind) {
    case engine::Kind::voice_started: {
      const auto id = static_cast<std::int64_t>(m.started.voice);
      if (m.started.midi) {
        // A voice a note started: control learns of it here.
        VoiceBook::Voice rec;
        rec.clip = clips_.name_of_slot(m.started.clip);
        rec.group = voices_.group_name(m.started.group);
        voices_.add(id, std::move(rec));
        if (session_->online()) top_up_spares(1);
      }
      if (!m.started.started) break;  // its voice_ended follows
      const VoiceBook::Voice* voice = voices_.find(id);
      emit(protocol::VoiceStartedEvent{
          id, voice != nullptr ? voice->clip : std::string(),
          static_cast<std::int64_t>(m.started.frame), m.started.late,
          m.started.midi ? protocol::Trigger::midi : protocol::Trigger::command});
      break;
    }
    case engine::Kind::voice_ended: {
      const auto id = static_cast<std::int64_t>(m.ended.voice);
      std::optional<VoiceBook::Voice> voice = voices_.remove(id);
      std::string clip = voice ? std::move(voice->clip) : std::string();
      if (m.ended.midi && session_->online()) top_up_spares(1);
      emit(protocol::VoiceEndedEvent{id, std::move(clip), static_cast<std::int64_t>(m.ended.frame),
                                     to_protocol(m.ended.reason)});
      break;
    }
    case engine::Kind::clip_released:
      if (std::optional<std::string> name = clips_.released(m.clip.token)) {
        emit(protocol::ClipUnloadedEvent{std::move(*name)});
      }
      break;
    case engine::Kind::stop:
    case engine::Kind::set: {
      // A timed command has acted (or was handed back unacted): its place is free again.
      const std::uint64_t at = m.kind == engine::Kind::stop ? m.stop.at_frame : m.set.at_frame;
      if (at != engine::kNow && timed_in_flight_ > 0) --timed_in_flight_;
      if (m.kind == engine::Kind::stop) on_stop_acted(m.stop);
      break;
    }
    case engine::Kind::table_released:
      delete[] m.table.table;
      break;
    case engine::Kind::bindings_released:
      bindings_.give_back(m.bindings.table);
      break;
    case engine::Kind::query_voices:
      on_voices_answer(m);
      break;
    case engine::Kind::query_meters:
      on_meters_answer(m);
      break;
    default:
      break;  // acknowledgements: nothing to do
  }
}

void Controller::on_stop_acted(const engine::StopPayload& stop) {
  if (auto done = voices_.take_stop(stop)) {
    done->requester->reply_ok(done->id, protocol::Json{{"stopped", stop.stopped}});
  }
}

void Controller::report_underruns() {
  engine::StreamRing* rings = disk_->rings();
  for (std::uint32_t i = 0; i < disk_->ring_count(); ++i) {
    engine::UnderrunReport r;
    if (!rings[i].underrun_report(r) || r.voice == 0) continue;
    engine::UnderrunReport& last = reported_[i];
    const bool same = r.voice == last.voice;
    if (same && r.episodes == last.episodes && r.missed == last.missed) continue;
    const std::uint64_t missed = same ? r.missed - last.missed : r.missed;
    last = r;
    if (missed == 0) continue;
    const auto id = static_cast<std::int64_t>(r.voice);
    std::string clip;
    if (const VoiceBook::Voice* v = voices_.find(id)) {
      clip = v->clip;
    } else {
      clip = clips_.name_of_slot(r.clip);
    }
    emit(protocol::UnderrunEvent{id, std::move(clip), static_cast<std::int64_t>(r.frame), missed});
  }
}

void Controller::on_stream_failed(std::uint64_t stream_id, const std::string& why) {
  for (const auto& [name, entry] : clips_.entries()) {
    if (entry->loaded && entry->loaded->stream_id() == stream_id) {
      emit(protocol::ClipFailedEvent{name, "read-error: " + why});
      if (options_.on_warning) options_.on_warning("clip '" + name + "' cannot stream: " + why);
      return;
    }
  }
}

void Controller::emit(const protocol::Event& event) {
  for (EventSink* sink : sinks_)
    sink->on_event(event);
}

// ---- Shutdown ---------------------------------------------------------------------------------

void Controller::stop(std::function<void()> done) {
  if (stopping_) return;
  stopping_ = true;
  stop_done_ = std::move(done);
  stop_deadline_ = std::chrono::steady_clock::now() + kShutdownFadeLimit;
  session_->stop_connecting();
  // Loads in progress get `cancelled`; commands waiting for them are answered (dispatch refuses
  // them now), so every request still gets its one reply.
  for (auto& [name, entry] : clips_.entries())
    cancel_pending(*entry);
  run_waiters(clips_.take_all_waiters());
  if (session_->online()) {
    (void)send_own(engine::Message::stop_cmd(engine::StopTarget::all, 0, session_->declick_frames(),
                                             engine::kNow, engine::EndReason::shutdown));
  }
  finish_stop_if_ready();
}

void Controller::finish_stop_if_ready() {
  if (!stop_done_) return;
  if (session_->online() && !voices_.empty() && std::chrono::steady_clock::now() < stop_deadline_)
    return;
  session_->go_offline(engine::EndReason::shutdown);
  loader_.reset();
  clips_.clear();
  auto done = std::move(stop_done_);
  stop_done_ = nullptr;
  done();
}

}  // namespace clipd::control
