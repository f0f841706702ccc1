// The controller's life and the engine's lifecycle: connecting to the audio server and losing it,
// building and retiring engines, the engine's returned nodes, shutdown. Loads are in loads.cpp,
// the commands in commands.cpp and bindings.cpp.
#include "control/controller.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
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
      backend_(std::move(backend)),
      link_(options_.outputs),
      tick_timer_(io),
      connect_timer_(io),
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
}

Controller::~Controller() {
  life_.reset();
  loader_.reset();
  if (backend_->is_open()) backend_->retire();
  if (link_.online()) {
    link_.retire(last_end_frame_, engine::EndReason::shutdown);
    link_.drain([](const engine::Message& m) {
      if (m.kind == engine::Kind::table_released) delete[] m.table.table;
    });
  }
  link_.destroy();
}

void Controller::start(std::vector<std::pair<std::string, std::string>> initial_clips,
                       const std::vector<std::string>& initial_bindings) {
  restore_bindings(initial_bindings);
  // Connect first: with a server running, the clips below are decoded once, at its rate.
  try_connect();
  for (auto& [name, path] : initial_clips) {
    if (clips_.find(name) != nullptr) continue;
    ClipEntry& e = clips_.add(name);
    e.path = path;
    submit_load(e, nullptr, protocol::RequestId{}, false);
  }
  schedule_tick();
}

// ---- Server connection and engine lifecycle ----------------------------------------------------

void Controller::try_connect() {
  if (stopping_ || online_) return;
  const auto result = backend_->try_open(link_.target());
  if (result == backend::OpenResult::opened) {
    go_online();
  } else {
    schedule_connect(backend_->retry_delay());
  }
}

void Controller::schedule_connect(std::chrono::milliseconds delay) {
  connect_timer_.expires_after(delay);
  std::weak_ptr<int> alive = life_;
  connect_timer_.async_wait([this, alive](const boost::system::error_code& ec) {
    if (!ec && alive.lock()) try_connect();
  });
}

void Controller::go_online() {
  rate_ = backend_->sample_rate();
  buffer_size_ = backend_->buffer_size();
  engine::Config cfg;
  cfg.sample_rate = rate_;
  cfg.outputs = options_.outputs;
  cfg.max_voices = options_.max_voices;
  cfg.max_pending = options_.max_timed_commands;
  cfg.max_midi_events = options_.max_midi_events;
  cfg.declick_frames = static_cast<std::uint32_t>(std::max<std::uint64_t>(1, declick_frames()));
  std::uint32_t capacity = 256;
  while (capacity < clips_.size() * 2)
    capacity *= 2;
  cfg.clip_capacity = capacity;
  cfg.spare_nodes = kSpareNodes;
  cfg.cycle_hook = options_.cycle_hook;
  cfg.cycle_hook_arg = options_.cycle_hook_arg;
  cfg.streams = disk_->rings();
  cfg.stream_rings = disk_->ring_count();
  cfg.max_streamed_voices = options_.max_streamed_voices;
  cfg.stream_channels = options_.max_channels;
  link_.build(cfg);
  lock_memory();
  clips_.reset_slots(capacity);
  timed_in_flight_ = 0;
  online_ = true;
  announced_online_ = false;
  for (auto& [name, entry] : clips_.entries()) {
    ClipEntry& e = *entry;
    if (e.pending && e.pending->rate != rate_) {
      // A load running for another rate (the last server's, or the file's own before the first
      // connection) would end with a clip this engine cannot play: start it again at this rate.
      // A decode back to the rate the clip already has is simply dropped.
      if (e.pending->redecode && e.loaded && e.loaded->info().sample_rate == rate_) {
        e.pending->handle.cancel();
        e.pending.reset();
      } else {
        resubmit(e);
      }
    }
    // A clip with a replace in progress plays on until the replace ends.
    if (e.loaded && e.loaded->info().sample_rate == rate_) add_to_engine(e);
  }
  push_bindings();
  top_up_spares(kSpareNodes);
  next_redecode();
  release_waiters();
  if (options_.on_status) {
    options_.on_status("online: " + std::to_string(rate_) + " Hz, " + std::to_string(buffer_size_) +
                       " frames, " + std::string(backend::kind_name(backend_->kind())) +
                       " client " + backend_->client_name());
  }
}

void Controller::abandon_engine(engine::EndReason reason) {
  if (options_.on_warning) {
    options_.on_warning(
        "the audio thread was still inside a cycle when the engine had to stop: the engine is "
        "abandoned, its memory leaked on purpose rather than torn down");
  }
  // Nodes already back are still handled; the engine itself is never touched again.
  drain();
  link_.abandon();
  // What the engine would have said when retired: every voice ends now.
  for (auto& [id, voice] : voices_.take_all()) {
    emit(protocol::VoiceEndedEvent{id, std::move(voice.clip),
                                   static_cast<std::int64_t>(last_end_frame_),
                                   to_protocol(reason)});
  }
  // Stops the engine never acted on: answered as a retire would have answered them.
  for (const VoiceBook::PendingStop& stop : voices_.take_all_stops()) {
    stop.requester->reply_ok(stop.id, protocol::Json{{"stopped", 0}});
  }
  // Clips stay with their entries (the next engine gets them); the backend's retire() has closed
  // the connection, so no thread runs the abandoned engine that still points at them.
}

void Controller::lock_memory() {
  // The engine's tables and the message nodes must never page-fault on the audio thread. Clips
  // lock their own pages; this locks everything mapped now, the fresh engine included.
  if (::mlockall(MCL_CURRENT) != 0 && !warned_mlockall_) {
    warned_mlockall_ = true;
    if (options_.on_warning) {
      options_.on_warning(std::string("cannot lock the engine's memory (mlockall): ") +
                          std::strerror(errno) + "; raise the memlock limit (see clipd(1))");
    }
  }
}

bool Controller::send_own(const engine::Message& m) {
  if (link_.send(m)) return true;
  drain();
  if (link_.send(m)) return true;
  if (options_.on_warning) {
    options_.on_warning("no message node left for the engine (" +
                        std::to_string(link_.slab_size()) + " in all); a " +
                        std::to_string(static_cast<int>(m.kind)) + " message was not sent");
  }
  return false;
}

void Controller::go_offline(engine::EndReason reason) {
  if (!online_) return;
  const backend::RetireResult retired = backend_->retire();
  engine::Engine* e = link_.engine();
  last_end_frame_ = e->cycles() > 0 ? e->last_frame() + e->last_nframes() : 0;
  underruns_before_ += e->underruns();
  online_ = false;
  buffer_size_ = 0;
  if (reason == engine::EndReason::offline) emit(protocol::EngineOfflineEvent{});
  if (retired == backend::RetireResult::timed_out) {
    abandon_engine(reason);
  } else {
    link_.retire(last_end_frame_, reason);
    drain();
    link_.destroy();
  }
  end_queries_offline();
  bindings_.reclaim_all();
  timed_in_flight_ = 0;
  // Clips that were leaving the engine are free now.
  for (std::string& name : clips_.engine_gone())
    emit(protocol::ClipUnloadedEvent{std::move(name)});
  // Commands that waited for a clip's turn to be decoded at the engine's rate run now: there is
  // no engine rate to wait for.
  release_waiters();
  if (options_.on_status) options_.on_status("offline: waiting for an audio server");
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
  const backend::Events ev = backend_->poll();
  if (options_.on_library_message) {
    for (const backend::LibraryMessage& m : ev.library_messages)
      options_.on_library_message(m.error, m.text);
  }
  if (ev.library_dropped != 0 && options_.on_warning) {
    options_.on_warning(std::to_string(ev.library_dropped) +
                        " messages from the server library were dropped (they came too fast)");
  }
  if (online_) {
    if (ev.connections_changed && options_.on_debug) {
      std::string list;
      for (const backend::PortConnection& c : backend_->connections())
        list += (list.empty() ? "" : ", ") + c.own_port + " -> " + c.other_port;
      options_.on_debug("port connections remembered: " + (list.empty() ? "none" : list));
    }
    if (ev.new_xruns != 0) emit(protocol::XrunEvent{backend_->xruns()});
    if (ev.buffer_size_changed) buffer_size_ = ev.buffer_size;
    if (ev.server_gone) {
      go_offline(engine::EndReason::offline);
      schedule_connect(backend::kRetryMin);
    } else if (ev.sample_rate_changed) {
      // A new rate means new clip buffers and a new engine: the same path as a server change.
      go_offline(engine::EndReason::offline);
      try_connect();
    } else if (!announced_online_ && link_.engine()->cycles() > 0) {
      announced_online_ = true;
      emit(protocol::EngineOnlineEvent{rate_, buffer_size_,
                                       static_cast<std::int64_t>(link_.engine()->last_frame())});
    }
  }
  if (stopping_) {
    finish_stop_if_ready();
    if (!stop_done_) return;  // finished: no more ticks
  }
  schedule_tick();
}

void Controller::drain() {
  link_.drain([this](const engine::Message& m) { on_engine_message(m); });
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
        if (online_) top_up_spares(1);
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
      if (m.ended.midi && online_) top_up_spares(1);
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
  connect_timer_.cancel();
  // Loads in progress get `cancelled`; commands waiting for them are answered (dispatch refuses
  // them now), so every request still gets its one reply.
  for (auto& [name, entry] : clips_.entries())
    cancel_pending(*entry);
  run_waiters(clips_.take_all_waiters());
  if (online_) {
    (void)send_own(engine::Message::stop_cmd(engine::StopTarget::all, 0, declick_frames(),
                                             engine::kNow, engine::EndReason::shutdown));
  }
  finish_stop_if_ready();
}

void Controller::finish_stop_if_ready() {
  if (!stop_done_) return;
  if (online_ && !voices_.empty() && std::chrono::steady_clock::now() < stop_deadline_) return;
  go_offline(engine::EndReason::shutdown);
  loader_.reset();
  clips_.clear();
  auto done = std::move(stop_done_);
  stop_done_ = nullptr;
  done();
}

// ---- Units --------------------------------------------------------------------------------------

std::optional<ClockReading> Controller::clock_reading() const {
  engine::Engine* e = link_.engine();
  if (!online_ || e == nullptr || e->cycles() == 0 || rate_ == 0) return std::nullopt;
  ClockReading r;
  r.sample_rate = rate_;
  // The engine publishes the frame last, with release, after the times and the size
  // (engine.cpp): a frame read before and after them that did not change means all are of one
  // cycle (up to the few stores between them on the audio thread).
  for (int attempt = 0; attempt < 4; ++attempt) {
    const std::uint64_t before = e->last_frame();
    r.last_usecs = e->last_usecs();
    r.next_usecs = e->last_next_usecs();
    r.buffer_size = e->last_nframes();
    r.last_frame = e->last_frame();
    if (before == r.last_frame) break;
  }
  if (r.buffer_size == 0) r.buffer_size = buffer_size_;
  // CLOCK_REALTIME on both sides of the server clock; of a few tries, the one that took least,
  // taken at its middle.
  std::int64_t best_gap = INT64_MAX;
  for (int attempt = 0; attempt < 3; ++attempt) {
    timespec a{};
    timespec b{};
    ::clock_gettime(CLOCK_REALTIME, &a);
    const std::uint64_t server = backend_->server_usecs();
    ::clock_gettime(CLOCK_REALTIME, &b);
    const std::int64_t ua = std::int64_t{a.tv_sec} * 1000000 + a.tv_nsec / 1000;
    const std::int64_t ub = std::int64_t{b.tv_sec} * 1000000 + b.tv_nsec / 1000;
    if (ub - ua < best_gap) {
      best_gap = ub - ua;
      r.realtime_usecs = ua + (ub - ua) / 2;
      r.server_usecs = server;
    }
  }
  return r;
}

std::uint64_t Controller::now_frame() const noexcept {
  engine::Engine* e = link_.engine();
  return e != nullptr ? e->last_frame() : 0;
}

std::uint64_t Controller::frames(double seconds) const noexcept {
  return protocol::seconds_to_frames(seconds, static_cast<double>(rate_));
}

std::uint64_t Controller::declick_frames() const noexcept {
  return frames(options_.declick_s);
}

}  // namespace clipd::control
