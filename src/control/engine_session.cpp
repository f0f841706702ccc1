// The engine session: connecting to the audio server and losing it, building and retiring
// engines, the server's events, the clocks and the frame conversions.
#include "control/engine_session.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>

#include "control/protocol/seconds.hpp"

namespace clipd::control {

EngineSession::EngineSession(boost::asio::io_context& io, EngineSessionOptions options,
                             std::unique_ptr<backend::Backend> backend, Listener& listener)
    : options_(std::move(options)),
      listener_(listener),
      backend_(std::move(backend)),
      link_(options_.engine.outputs),
      connect_timer_(io) {}

EngineSession::~EngineSession() {
  close();
}

void EngineSession::close() noexcept {
  life_.reset();
  if (backend_->is_open()) backend_->retire();
  if (link_.online()) {
    link_.retire(last_end_frame_, engine::EndReason::shutdown);
    link_.drain([](const engine::Message& m) {
      if (m.kind == engine::Kind::table_released) delete[] m.table.table;
    });
  }
  link_.destroy();
  online_ = false;
}

// ---- Server connection and engine lifecycle ----------------------------------------------------

void EngineSession::try_connect() {
  if (stopping_ || online_) return;
  const auto result = backend_->try_open(link_.target());
  if (result == backend::OpenResult::opened) {
    go_online();
  } else {
    schedule_connect(backend_->retry_delay());
  }
}

void EngineSession::stop_connecting() {
  stopping_ = true;
  connect_timer_.cancel();
}

void EngineSession::schedule_connect(std::chrono::milliseconds delay) {
  connect_timer_.expires_after(delay);
  std::weak_ptr<int> alive = life_;
  connect_timer_.async_wait([this, alive](const boost::system::error_code& ec) {
    if (!ec && alive.lock()) try_connect();
  });
}

void EngineSession::go_online() {
  rate_ = backend_->sample_rate();
  buffer_size_ = backend_->buffer_size();
  engine::Config cfg = options_.engine;
  cfg.sample_rate = rate_;
  cfg.declick_frames = static_cast<std::uint32_t>(std::max<std::uint64_t>(1, declick_frames()));
  cfg.clip_capacity = listener_.engine_clip_capacity();
  link_.build(cfg);
  lock_memory();
  online_ = true;
  announced_online_ = false;
  listener_.on_online();
  if (options_.on_status) {
    options_.on_status("online: " + std::to_string(rate_) + " Hz, " + std::to_string(buffer_size_) +
                       " frames, " + std::string(backend::kind_name(backend_->kind())) +
                       " client " + backend_->client_name());
  }
}

void EngineSession::abandon_engine(engine::EndReason reason) {
  if (options_.on_warning) {
    options_.on_warning(
        "the audio thread was still inside a cycle when the engine had to stop: the engine is "
        "abandoned, its memory leaked on purpose rather than torn down");
  }
  // Nodes already back are still handled; the engine itself is never touched again.
  drain();
  link_.abandon();
  // What the engine would have said when retired: the listener ends every voice and stop now.
  // Clips stay with their owner (the next engine gets them); the backend's retire() has closed
  // the connection, so no thread runs the abandoned engine that still points at them.
  listener_.on_abandoned(reason, last_end_frame_);
}

void EngineSession::lock_memory() {
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

void EngineSession::go_offline(engine::EndReason reason) {
  if (!online_) return;
  const backend::RetireResult retired = backend_->retire();
  engine::Engine* e = link_.engine();
  last_end_frame_ = e->cycles() > 0 ? e->last_frame() + e->last_nframes() : 0;
  underruns_before_ += e->underruns();
  online_ = false;
  buffer_size_ = 0;
  listener_.on_leaving(reason);
  if (retired == backend::RetireResult::timed_out) {
    abandon_engine(reason);
  } else {
    link_.retire(last_end_frame_, reason);
    drain();
    link_.destroy();
  }
  listener_.on_offline(reason);
  if (options_.on_status) options_.on_status("offline: waiting for an audio server");
}

std::size_t EngineSession::drain() {
  return link_.drain([this](const engine::Message& m) { listener_.on_engine_message(m); });
}

void EngineSession::poll() {
  const backend::Events ev = backend_->poll();
  if (options_.on_library_message) {
    for (const backend::LibraryMessage& m : ev.library_messages)
      options_.on_library_message(m.error, m.text);
  }
  if (options_.on_debug) {
    for (const std::string& note : ev.notes)
      options_.on_debug(note);
  }
  if (ev.library_dropped != 0 && options_.on_warning) {
    options_.on_warning(std::to_string(ev.library_dropped) +
                        " messages from the server library were dropped (they came too fast)");
  }
  if (!online_) return;
  if (ev.connections_changed) listener_.on_connections_changed(backend_->connections());
  if (ev.new_xruns != 0) listener_.on_xruns(backend_->xruns());
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
    listener_.on_first_cycle(link_.engine()->last_frame());
  }
}

std::uint64_t EngineSession::underruns() const noexcept {
  return underruns_before_ + (online_ ? link_.engine()->underruns() : 0);
}

// ---- Units --------------------------------------------------------------------------------------

std::optional<ClockReading> EngineSession::clock_reading() const {
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
    const std::uint64_t server = backend_->server_nsecs();
    ::clock_gettime(CLOCK_REALTIME, &b);
    const std::int64_t na = std::int64_t{a.tv_sec} * 1000000000 + a.tv_nsec;
    const std::int64_t nb = std::int64_t{b.tv_sec} * 1000000000 + b.tv_nsec;
    if (nb - na < best_gap) {
      best_gap = nb - na;
      r.realtime_nsecs = na + (nb - na) / 2;
      r.server_nsecs = server;
    }
  }
  return r;
}

std::uint64_t EngineSession::now_frame() const noexcept {
  engine::Engine* e = link_.engine();
  return e != nullptr ? e->last_frame() : 0;
}

std::uint64_t EngineSession::frames(double seconds) const noexcept {
  return protocol::seconds_to_frames(seconds, static_cast<double>(rate_));
}

std::uint64_t EngineSession::declick_frames() const noexcept {
  return frames(options_.declick_s);
}

}  // namespace clipd::control
