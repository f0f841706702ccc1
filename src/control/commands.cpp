// The protocol's commands, on the control thread: each parsed request becomes engine messages,
// registry changes and exactly one reply.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "control/controller.hpp"

namespace clipd::control {
namespace {

using protocol::ErrorCode;
using protocol::Json;

float linear_gain(double db) noexcept {
  return static_cast<float>(std::pow(10.0, db / 20.0));
}

double gain_db(float linear) noexcept {
  return linear > 0 ? 20.0 * std::log10(static_cast<double>(linear)) : -INFINITY;
}

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

protocol::VoiceState to_protocol(engine::VoiceState s) noexcept {
  switch (s) {
    case engine::VoiceState::scheduled:
      return protocol::VoiceState::scheduled;
    case engine::VoiceState::playing:
      return protocol::VoiceState::playing;
    case engine::VoiceState::paused:
      return protocol::VoiceState::paused;
    case engine::VoiceState::stopping:
      return protocol::VoiceState::stopping;
  }
  return protocol::VoiceState::playing;
}

}  // namespace

void Controller::submit(const RequesterPtr& from, Parsed request) {
  dispatch(from, std::move(request));
}

void Controller::fail(const RequesterPtr& to, const protocol::RequestId& id,
                      const protocol::Error& error) {
  to->reply_error(id, error.code, error.message);
}

void Controller::dispatch(const RequesterPtr& from, Parsed p) {
  if (stopping_) {
    from->reply_error(p.id, ErrorCode::internal, "clipd is shutting down");
    return;
  }
  try {
    std::visit(
        Overloaded{
            [&](const protocol::HelloRequest&) { cmd_hello(from, p); },
            [&](const protocol::PingRequest&) { from->reply_ok(p.id, Json::object()); },
            [&](const protocol::LoadRequest& r) { cmd_load(from, p, r); },
            [&](const protocol::UnloadRequest& r) { cmd_unload(from, p, r); },
            [&](const protocol::ListRequest&) { cmd_list(from, p); },
            [&](const protocol::InfoRequest& r) { cmd_info(from, p, r); },
            [&](const protocol::PlayRequest& r) { cmd_play(from, p, r); },
            [&](const protocol::StopRequest& r) { cmd_stop(from, p, r); },
            [&](const protocol::PauseRequest& r) { cmd_pause(from, p, r.voice, r.fade_s, false); },
            [&](const protocol::ResumeRequest& r) { cmd_pause(from, p, r.voice, r.fade_s, true); },
            [&](const protocol::SetRequest& r) { cmd_set(from, p, r); },
            [&](const protocol::MasterRequest& r) { cmd_master(from, p, r); },
            [&](const protocol::VoicesRequest&) { cmd_voices(from, p); },
            [&](const protocol::MetersRequest&) { cmd_meters(from, p); },
            [&](const protocol::StatusRequest&) { cmd_status(from, p); },
            [&](const protocol::SubscribeRequest& r) {
              auto& sub = from->subscription();
              sub.active = true;
              sub.all = r.events == protocol::EventSet::all();
              sub.events.clear();
              for (int k = 0; k < protocol::event_kind_count; ++k) {
                const auto kind = static_cast<protocol::EventKind>(k);
                if (r.events.contains(kind)) sub.events.emplace(protocol::to_string(kind));
              }
              from->reply_ok(p.id, Json::object());
            },
            [&](const protocol::UnsubscribeRequest&) {
              from->subscription() = Subscription{};
              from->reply_ok(p.id, Json::object());
            },
            [&](const protocol::ShutdownRequest&) {
              from->reply_ok(p.id, Json::object());
              if (options_.on_shutdown_request) options_.on_shutdown_request();
            },
            [&](const protocol::BindRequest& r) { cmd_bind(from, p, r); },
            [&](const protocol::UnbindRequest& r) { cmd_unbind(from, p, r); },
            [&](const protocol::BindingsRequest&) { cmd_bindings(from, p); },
        },
        p.request);
  } catch (const std::exception& e) {
    fail(from, p.id, protocol::internal_error(e.what()));
  }
}

bool Controller::wait_if_loading(const std::string& clip, const RequesterPtr& from,
                                 const Parsed& parsed) {
  ClipEntry* entry = clips_.find(clip);
  if (entry == nullptr || !ClipRegistry::is_waiting(*entry, session_->online())) return false;
  entry->waiters.push_back([this, from, parsed]() { dispatch(from, parsed); });
  return true;
}

std::uint64_t Controller::engine_frame(const protocol::When& when) const noexcept {
  // `in_s` counts from the first frame of the next cycle, so `in_s: 0` is never late.
  return std::visit(
      Overloaded{
          [](const protocol::Now&) { return engine::kNow; },
          [](const protocol::AtFrame& a) { return static_cast<std::uint64_t>(a.frame); },
          [&](const protocol::InSeconds& in) {
            return session_->now_frame() + session_->buffer_size() + session_->frames(in.seconds);
          },
          [](const protocol::AtServerTime& t) { return static_cast<std::uint64_t>(t.frame); }},
      when);
}

std::uint64_t Controller::engine_nsecs(const protocol::When& when, std::uint64_t at) noexcept {
  const auto* t = std::get_if<protocol::AtServerTime>(&when);
  return t != nullptr && at != engine::kNow ? t->nsecs : 0;
}

std::uint64_t Controller::timed_frame(const protocol::When& when) const noexcept {
  const std::uint64_t at = engine_frame(when);
  // The next cycle starts after the last one's first frame (now_frame()): a frame up to it acts at
  // once, exactly like kNow.
  return at != engine::kNow && at <= session_->now_frame() ? engine::kNow : at;
}

bool Controller::admit_nodes(const RequesterPtr& from, const Parsed& p, std::uint32_t nodes) {
  auto room = [&] {
    return session_->link().client_room() >= nodes && session_->link().slab_available() >= nodes;
  };
  if (!room()) drain();
  if (room()) return true;
  from->reply_error(p.id, ErrorCode::limit,
                    "too many commands are in flight (all " +
                        std::to_string(session_->link().client_share()) +
                        " of the engine's message nodes for commands are in use)");
  return false;
}

bool Controller::admit_own(const RequesterPtr& from, const Parsed& p, std::uint32_t nodes) {
  if (!session_->online()) return true;  // nothing is sent while offline
  if (session_->link().slab_available() < nodes) drain();
  if (session_->link().slab_available() >= nodes) return true;
  from->reply_error(p.id, ErrorCode::limit,
                    "too many commands are in flight (the engine's message nodes are "
                    "all in use)");
  return false;
}

bool Controller::admit_timed(const RequesterPtr& from, const Parsed& p) {
  if (timed_in_flight_ >= options_.max_timed_commands) drain();
  if (timed_in_flight_ < options_.max_timed_commands) return true;
  from->reply_error(p.id, ErrorCode::limit,
                    "too many timed commands are waiting (max_timed_commands: " +
                        std::to_string(options_.max_timed_commands) + ")");
  return false;
}

void Controller::cmd_hello(const RequesterPtr& from, const Parsed& p) {
  protocol::HelloResult h;
  h.version = options_.version;
  h.client = session_->backend().client_name();
  h.jack_client = h.client;
  if (session_->online()) {
    h.backend = std::string(backend::kind_name(session_->backend().kind()));
    h.sample_rate = session_->rate();
    h.buffer_size = session_->buffer_size();
    h.frame = static_cast<std::int64_t>(session_->now_frame());
  }
  from->reply_ok(p.id, to_json(h));
}

void Controller::cmd_status(const RequesterPtr& from, const Parsed& p) {
  protocol::StatusResult st;
  st.online = session_->online();
  if (session_->online()) {
    engine::Engine* e = session_->link().engine();
    st.backend = std::string(backend::kind_name(session_->backend().kind()));
    st.sample_rate = session_->rate();
    st.buffer_size = session_->buffer_size();
    st.frame = static_cast<std::int64_t>(e->last_frame());
    st.usecs = e->last_usecs();
    st.latency_frames = session_->backend().playback_latency();
    st.dsp_load = session_->backend().dsp_load();
  }
  st.xruns = session_->backend().xruns();
  st.voices = static_cast<std::uint32_t>(voices_.size());
  st.max_voices = options_.max_voices;
  // `clips` counts loaded clips; names still on their first load are `clips_loading`.
  const std::uint32_t loaded = clips_.loaded_count();
  st.clips = loaded;
  // The rings are reserved from the budget for the daemon's life: reported on their own.
  st.memory_bytes = budget_.used() - std::min<std::uint64_t>(budget_.used(), disk_->bytes());
  st.memory_budget_bytes = budget_.limit();
  st.underruns = session_->underruns();
  st.master_gain_db = master_gain_db_;
  st.uptime_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at_).count();
  Json result = to_json(st);
  result["events_dropped"] = session_->online() ? session_->link().engine()->lost_events() : 0;
  result["clips_loading"] = static_cast<std::uint32_t>(clips_.size()) - loaded;
  result["stream_bytes"] = disk_->bytes();
  result["midi_dropped"] = (session_->online() ? session_->link().engine()->midi_dropped() : 0) +
                           session_->backend().midi_overflow();
  if (options_.extend_status) options_.extend_status(result);
  from->reply_ok(p.id, result);
}

void Controller::cmd_load(const RequesterPtr& from, const Parsed& p,
                          const protocol::LoadRequest& r) {
  std::error_code ec;
  std::string path = std::filesystem::absolute(r.path, ec).lexically_normal().string();
  if (ec) path = r.path;
  ClipEntry* entry = clips_.find(r.clip_name);
  if (entry != nullptr && !r.replace) {
    // A name still loading: this load waits for that one, then runs (clipd-protocol(7),
    // ORDERING): `clip-exists` if it loaded, a load of its own if it failed or was cancelled.
    if (wait_if_loading(r.clip_name, from, p)) return;
    fail(from, p.id, protocol::clip_exists(r.clip_name));
    return;
  }
  if (entry != nullptr) {
    cancel_pending(*entry);  // its load gets `cancelled`; waiters wait for this one
  } else {
    entry = &clips_.add(r.clip_name);
  }
  entry->path = path;
  switch (r.stream) {
    case protocol::LoadRequest::Stream::automatic:
      entry->stream = clips::StreamMode::automatic;
      break;
    case protocol::LoadRequest::Stream::always:
      entry->stream = clips::StreamMode::always;
      break;
    case protocol::LoadRequest::Stream::never:
      entry->stream = clips::StreamMode::never;
      break;
  }
  submit_load(*entry, from, p.id, false);
}

void Controller::cmd_unload(const RequesterPtr& from, const Parsed& p,
                            const protocol::UnloadRequest& r) {
  ClipEntry* found = clips_.find(r.clip_name);
  if (found == nullptr) {
    fail(from, p.id, protocol::clip_not_found(r.clip_name));
    return;
  }
  // The clip's remove_clip and a new binding table.
  if (!admit_own(from, p, 2)) return;
  ClipEntry& entry = *found;
  cancel_pending(entry);
  auto waiters = std::move(entry.waiters);
  const bool freed_now = retire_clip(entry, true);
  const std::string name = entry.name;
  clips_.erase(name);
  from->reply_ok(p.id, Json::object());
  if (freed_now) emit(protocol::ClipUnloadedEvent{name});
  save_state();
  run_waiters(std::move(waiters));
}

void Controller::cmd_list(const RequesterPtr& from, const Parsed& p) {
  Json list = Json::array();
  for (const auto& [name, entry] : clips_.entries()) {
    if (entry->loaded) list.push_back(to_json(clip_info(*entry)));
  }
  from->reply_ok(p.id, Json{{"clips", std::move(list)}});
}

void Controller::cmd_info(const RequesterPtr& from, const Parsed& p,
                          const protocol::InfoRequest& r) {
  if (wait_if_loading(r.clip_name, from, p)) return;
  const ClipEntry* entry = clips_.find(r.clip_name);
  if (entry == nullptr || !entry->loaded) {
    fail(from, p.id, protocol::clip_not_found(r.clip_name));
    return;
  }
  from->reply_ok(p.id, to_json(clip_info(*entry)));
}

void Controller::cmd_play(const RequesterPtr& from, const Parsed& p,
                          const protocol::PlayRequest& r) {
  if (!session_->online()) {
    fail(from, p.id, protocol::engine_offline());
    return;
  }
  if (wait_if_loading(r.clip, from, p)) return;
  const ClipEntry* found = clips_.find(r.clip);
  if (found == nullptr || !found->loaded || found->slot == kNoSlot) {
    fail(from, p.id, protocol::clip_not_found(r.clip));
    return;
  }
  const ClipEntry& entry = *found;
  const std::uint64_t clip_frames = entry.loaded->info().frames;
  auto bad = [&](const std::string& message) {
    from->reply_error(p.id, ErrorCode::bad_request, message);
  };
  const std::uint64_t offset = session_->frames(r.offset_s);
  const std::uint64_t loop_start = session_->frames(r.loop_start_s);
  const std::uint64_t loop_end = r.loop_end_s ? session_->frames(*r.loop_end_s) : clip_frames;
  if (offset >= clip_frames) return bad("offset_s: past the clip's end");
  if (loop_start >= clip_frames) return bad("loop_start_s: past the clip's end");
  if (loop_end > clip_frames) return bad("loop_end_s: past the clip's end");
  if (loop_end <= loop_start) return bad("loop_end_s: must be after loop_start_s");
  if (r.loop.mode != protocol::Loop::Mode::off && offset >= loop_end) {
    return bad("offset_s: past loop_end_s");
  }
  // The engine's cost per period grows with the wraps in it: a minimum region bounds them to
  // period / kMinLoopFrames, whatever the client asks for.
  if (r.loop.mode != protocol::Loop::Mode::off && loop_end - loop_start < engine::kMinLoopFrames) {
    return bad(std::string(r.loop_end_s ? "loop_end_s: the loop region from loop_start_s"
                                        : "loop_start_s: the loop region to the clip's end") +
               " must be at least " + std::to_string(engine::kMinLoopFrames) + " frames long");
  }

  if (!admit_nodes(from, p, 2)) return;  // the play and its voice_end

  engine::Message m;
  m.kind = engine::Kind::play;
  engine::PlayPayload& play = m.play;
  const std::int64_t voice = voices_.next_id();
  play.voice = static_cast<std::uint64_t>(voice);
  play.at_frame = engine_frame(r.when);
  play.at_nsecs = engine_nsecs(r.when, play.at_frame);
  play.offset = offset;
  play.length = r.length_s ? session_->frames(*r.length_s) : engine::kUnlimited;
  play.loop_start = loop_start;
  play.loop_end = loop_end;
  play.fade_in = session_->frames(r.fade_in_s);
  play.outputs = engine::kAllOutputs;
  if (r.outputs) {
    play.outputs = 0;
    for (std::int64_t o : *r.outputs)
      play.outputs |= std::uint64_t{1} << (o - 1);
  }
  play.clip = entry.slot;
  play.group = r.group ? voices_.group_id(*r.group) : 0;
  switch (r.loop.mode) {
    case protocol::Loop::Mode::off:
      play.loops = 0;
      break;
    case protocol::Loop::Mode::forever:
      play.loops = engine::kLoopForever;
      break;
    case protocol::Loop::Mode::passes:
      play.loops = static_cast<std::uint32_t>(
          std::min<std::int64_t>(r.loop.passes, engine::kLoopForever - 1));
      break;
  }
  play.gain = linear_gain(r.gain_db);
  play.pan = static_cast<float>(r.pan);

  // The voice_end node rides with the voice and comes back as voice_ended; it goes first.
  // admit_nodes() made room for both.
  (void)session_->link().send(engine::Message::voice_end(play.voice));
  (void)session_->link().send(m);
  // A streamed voice's ring was asked for its first frames: the disk threads look now.
  if (entry.loaded->info().streamed) disk_->wake();
  voices_.add(voice, VoiceBook::Voice{r.clip, r.group});
  from->reply_ok(p.id, Json{{"voice", voice}});
}

void Controller::cmd_stop(const RequesterPtr& from, const Parsed& p,
                          const protocol::StopRequest& r) {
  if (!session_->online()) {
    fail(from, p.id, protocol::engine_offline());
    return;
  }
  if (auto* c = std::get_if<protocol::StopClip>(&r.target)) {
    if (wait_if_loading(c->clip, from, p)) return;
  }
  // Refused before anything else is looked at: a refused command changes nothing.
  const std::uint64_t at = timed_frame(r.when);
  if (at != engine::kNow && !admit_timed(from, p)) return;
  if (auto* v = std::get_if<protocol::StopVoice>(&r.target); v && !voices_.contains(v->voice)) {
    fail(from, p.id, protocol::voice_not_found(v->voice));
    return;
  }
  if (auto* c = std::get_if<protocol::StopClip>(&r.target); c && clips_.find(c->clip) == nullptr) {
    fail(from, p.id, protocol::clip_not_found(c->clip));
    return;
  }
  if (!admit_nodes(from, p, 1)) return;
  const std::uint64_t fade = r.fade_s ? session_->frames(*r.fade_s) : session_->declick_frames();
  engine::StopTarget target = engine::StopTarget::all;
  std::uint64_t id = 0;
  bool send = true;
  std::visit(Overloaded{
                 [&](const protocol::StopVoice& v) {
                   target = engine::StopTarget::voice;
                   id = static_cast<std::uint64_t>(v.voice);
                 },
                 [&](const protocol::StopClip& c) {
                   target = engine::StopTarget::clip;
                   const ClipEntry* entry = clips_.find(c.clip);
                   send = entry != nullptr && entry->slot != kNoSlot;
                   if (send) id = entry->slot;
                 },
                 [&](const protocol::StopGroup& g) {
                   target = engine::StopTarget::group;
                   const std::optional<std::uint32_t> group = voices_.find_group(g.group);
                   send = group.has_value();
                   if (send) id = *group;
                 },
                 [&](const protocol::StopAll&) {},
             },
             r.target);
  if (!send) {
    // A group never used, or a clip the engine does not hold: no voice to stop.
    from->reply_ok(p.id, Json{{"stopped", 0}});
    return;
  }
  // Answered when the engine has acted on it (on_stop_acted): only it knows which voices were
  // already stopping.
  engine::Message m = engine::Message::stop_cmd(target, id, fade, at, engine::EndReason::stopped);
  m.stop.at_nsecs = engine_nsecs(r.when, at);
  (void)session_->link().send(m);  // admit_nodes() made room
  if (at != engine::kNow) ++timed_in_flight_;
  voices_.add_stop(VoiceBook::PendingStop{m.stop, from, p.id});
}

void Controller::cmd_pause(const RequesterPtr& from, const Parsed& p, std::int64_t voice,
                           std::optional<double> fade_s, bool resume) {
  if (!session_->online()) {
    fail(from, p.id, protocol::engine_offline());
    return;
  }
  if (!voices_.contains(voice)) {
    fail(from, p.id, protocol::voice_not_found(voice));
    return;
  }
  if (!admit_nodes(from, p, 1)) return;
  const std::uint64_t fade = fade_s ? session_->frames(*fade_s) : session_->declick_frames();
  const auto v = static_cast<std::uint64_t>(voice);
  (void)session_->link().send(resume ? engine::Message::resume_cmd(v, fade)
                                     : engine::Message::pause_cmd(v, fade));
  from->reply_ok(p.id, Json::object());
}

void Controller::cmd_set(const RequesterPtr& from, const Parsed& p, const protocol::SetRequest& r) {
  if (!session_->online()) {
    fail(from, p.id, protocol::engine_offline());
    return;
  }
  const std::uint64_t at = timed_frame(r.when);
  if (at != engine::kNow && !admit_timed(from, p)) return;
  if (!voices_.contains(r.voice)) {
    fail(from, p.id, protocol::voice_not_found(r.voice));
    return;
  }
  if (!admit_nodes(from, p, 1)) return;
  engine::Message m;
  m.kind = engine::Kind::set;
  m.set.voice = static_cast<std::uint64_t>(r.voice);
  m.set.ramp = r.ramp_s ? session_->frames(*r.ramp_s) : session_->declick_frames();
  m.set.at_frame = at;
  m.set.at_nsecs = engine_nsecs(r.when, at);
  m.set.has_gain = r.gain_db.has_value();
  m.set.gain = r.gain_db ? linear_gain(*r.gain_db) : 1.0f;
  m.set.has_pan = r.pan.has_value();
  m.set.pan = r.pan ? static_cast<float>(*r.pan) : 0.0f;
  m.set.found = false;
  (void)session_->link().send(m);
  if (at != engine::kNow) ++timed_in_flight_;
  from->reply_ok(p.id, Json::object());
}

void Controller::cmd_master(const RequesterPtr& from, const Parsed& p,
                            const protocol::MasterRequest& r) {
  if (!session_->online()) {
    fail(from, p.id, protocol::engine_offline());
    return;
  }
  if (!admit_nodes(from, p, 1)) return;
  const std::uint64_t ramp = r.ramp_s ? session_->frames(*r.ramp_s) : session_->declick_frames();
  (void)session_->link().send(engine::Message::master_cmd(linear_gain(r.gain_db), ramp));
  master_gain_db_ = r.gain_db;
  from->reply_ok(p.id, Json::object());
}

Json Controller::offline_voices() const {
  return Json{{"voices", Json::array()}};
}

Json Controller::offline_meters() const {
  protocol::MetersResult r;
  r.peak_db.assign(options_.outputs, -INFINITY);
  r.rms_db.assign(options_.outputs, -INFINITY);
  return to_json(r);
}

void Controller::cmd_voices(const RequesterPtr& from, const Parsed& p) {
  if (!session_->online()) {
    from->reply_ok(p.id, offline_voices());
    return;
  }
  if (!voices_query_.in_flight && !admit_nodes(from, p, 1)) return;
  voices_query_.waiting.push_back(QueryWaiter{from, p.id});
  if (!voices_query_.in_flight) send_voices_query();
}

void Controller::send_voices_query() {
  if (!session_->link().send(engine::Message::query_voices(
          voices_buffer_.data(), static_cast<std::uint32_t>(voices_buffer_.size())))) {
    refuse_all(voices_query_.waiting);
    return;
  }
  voices_query_.answering.swap(voices_query_.waiting);
  voices_query_.in_flight = true;
}

void Controller::on_voices_answer(const engine::Message& m) {
  voices_query_.in_flight = false;
  Json list = Json::array();
  const std::uint32_t n = std::min(m.voices.count, m.voices.capacity);
  const double rate = session_->rate() > 0 ? static_cast<double>(session_->rate()) : 1.0;
  for (std::uint32_t i = 0; i < n; ++i) {
    const engine::VoiceInfo& v = voices_buffer_[i];
    protocol::VoiceInfo out;
    out.voice = static_cast<std::int64_t>(v.voice);
    if (const VoiceBook::Voice* rec = voices_.find(out.voice)) {
      out.clip = rec->clip;
      out.group = rec->group;
    } else {
      // A voice a MIDI note started while the engine had no node to announce it.
      out.clip = clips_.name_of_slot(v.clip);
    }
    out.state = to_protocol(v.state);
    out.position_s = static_cast<double>(v.position) / rate;
    if (v.remaining != engine::kUnlimited) {
      out.remaining_s = static_cast<double>(v.remaining) / rate;
    }
    out.gain_db = gain_db(v.gain);
    out.pan = static_cast<double>(v.pan);
    list.push_back(to_json(out));
  }
  // Serialised once for every request this answer serves.
  const auto result = make_shared_result(Json{{"voices", std::move(list)}});
  for (const QueryWaiter& w : voices_query_.answering) {
    w.requester->reply_shared(w.id, result);
  }
  voices_query_.answering.clear();
  if (voices_query_.waiting.empty()) return;
  if (session_->online()) {
    send_voices_query();
    return;
  }
  // The engine went away while they waited (this is the retire's drain).
  const Json offline = offline_voices();
  for (const QueryWaiter& w : voices_query_.waiting) {
    w.requester->reply_ok(w.id, offline);
  }
  voices_query_.waiting.clear();
}

void Controller::end_queries_offline() {
  for (QueryBatch* batch : {&voices_query_, &meters_query_}) {
    const Json offline = batch == &voices_query_ ? offline_voices() : offline_meters();
    for (auto* list : {&batch->answering, &batch->waiting}) {
      for (const QueryWaiter& w : *list) {
        w.requester->reply_ok(w.id, offline);
      }
      list->clear();
    }
    batch->in_flight = false;
  }
}

void Controller::cmd_meters(const RequesterPtr& from, const Parsed& p) {
  if (!session_->online()) {
    from->reply_ok(p.id, offline_meters());
    return;
  }
  if (!meters_query_.in_flight && !admit_nodes(from, p, 1)) return;
  meters_query_.waiting.push_back(QueryWaiter{from, p.id});
  if (!meters_query_.in_flight) send_meters_query();
}

void Controller::send_meters_query() {
  const std::uint32_t outputs = options_.outputs;
  if (!session_->link().send(engine::Message::query_meters(
          meters_buffer_.data(), meters_buffer_.data() + outputs, outputs))) {
    refuse_all(meters_query_.waiting);
    return;
  }
  meters_query_.answering.swap(meters_query_.waiting);
  meters_query_.in_flight = true;
}

void Controller::refuse_all(std::vector<QueryWaiter>& waiters) {
  for (const QueryWaiter& w : waiters) {
    w.requester->reply_error(w.id, ErrorCode::limit,
                             "too many commands are in flight (no message node for a query)");
  }
  waiters.clear();
}

void Controller::on_meters_answer(const engine::Message& m) {
  meters_query_.in_flight = false;
  const std::uint32_t outputs = options_.outputs;
  protocol::MetersResult r;
  for (std::uint32_t c = 0; c < outputs; ++c) {
    const bool have = c < m.meters.count;
    r.peak_db.push_back(have ? gain_db(meters_buffer_[c]) : -INFINITY);
    r.rms_db.push_back(have ? gain_db(meters_buffer_[outputs + c]) : -INFINITY);
  }
  const auto result = make_shared_result(to_json(r));
  for (const QueryWaiter& w : meters_query_.answering) {
    w.requester->reply_shared(w.id, result);
  }
  meters_query_.answering.clear();
  if (meters_query_.waiting.empty()) return;
  if (session_->online()) {
    send_meters_query();
    return;
  }
  const Json offline = offline_meters();
  for (const QueryWaiter& w : meters_query_.waiting) {
    w.requester->reply_ok(w.id, offline);
  }
  meters_query_.waiting.clear();
}

}  // namespace clipd::control
