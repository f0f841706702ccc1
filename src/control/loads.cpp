// Loads on the control thread: submitting them to the loader, their completions (a clip
// installed in the registry and handed to the engine, or a load error), replaces, cancellations,
// decodes at a new engine rate, and the commands that waited for a clip.
#include <memory>
#include <string>
#include <utility>

#include "control/controller.hpp"

namespace clipd::control {

protocol::ErrorCode load_error_code(clips::LoadErrorCode code) noexcept {
  switch (code) {
    case clips::LoadErrorCode::file_not_found:
      return protocol::ErrorCode::file_not_found;
    case clips::LoadErrorCode::permission_denied:
      return protocol::ErrorCode::permission_denied;
    case clips::LoadErrorCode::unsupported_format:
      return protocol::ErrorCode::unsupported_format;
    case clips::LoadErrorCode::decode_failed:
      return protocol::ErrorCode::decode_failed;
    case clips::LoadErrorCode::memory_budget:
      return protocol::ErrorCode::memory_budget;
    case clips::LoadErrorCode::cancelled:
      return protocol::ErrorCode::cancelled;
  }
  return protocol::ErrorCode::internal;
}

// The engine's rate while online; offline, the last engine's (the likeliest next one), or 0 (the
// file's own) before the first connection. on_online() starts again every load whose rate turns
// out wrong, and on_loaded() never installs a clip at another rate than a running engine's.
std::uint32_t Controller::target_rate() const noexcept {
  return session_->rate();
}

void Controller::submit_load(ClipEntry& entry, const RequesterPtr& from,
                             const protocol::RequestId& id, bool redecode) {
  const std::uint64_t serial = clips_.next_serial();
  clips::LoadRequest request;
  request.path = entry.path;
  const std::uint32_t rate = target_rate();
  request.target_rate = rate;
  request.max_channels = options_.max_channels;
  request.stream = entry.stream;
  request.stream_threshold = options_.stream_threshold;
  request.head_s = options_.stream_head_s;
  std::weak_ptr<int> alive = life_;
  auto handle = loader_->submit(std::move(request),
                                [this, alive, name = entry.name, serial](clips::LoadResult result) {
                                  if (alive.lock()) on_loaded(name, serial, std::move(result));
                                });
  entry.pending = ClipEntry::Pending{serial, std::move(handle), from, id, redecode, rate};
}

void Controller::resubmit(ClipEntry& entry) {
  ClipEntry::Pending old = std::move(*entry.pending);
  entry.pending.reset();
  old.handle.cancel();  // its completion finds another serial and is dropped
  submit_load(entry, old.requester, old.id, old.redecode);
}

void Controller::on_loaded(const std::string& name, std::uint64_t serial,
                           clips::LoadResult result) {
  if (stopping_) return;
  ClipEntry* found = clips_.find(name);
  if (found == nullptr || !found->pending || found->pending->serial != serial) {
    return;  // cancelled or superseded: the result is dropped (and freed) here
  }
  ClipEntry& entry = *found;
  if (result.ok() && session_->online() && result.clip->info().sample_rate != session_->rate()) {
    // Decoded for a server that has gone since: decode again for this one; the request (and the
    // commands waiting for the clip) wait on.
    resubmit(entry);
    return;
  }
  ClipEntry::Pending pending = std::move(*entry.pending);
  entry.pending.reset();

  if (!result.ok()) {
    const clips::LoadError& err = *result.error;
    if (pending.requester) {
      pending.requester->reply_error(pending.id, load_error_code(err.code), err.message);
    }
    if (pending.redecode || !pending.requester) {
      emit(protocol::ClipFailedEvent{name, std::string(err.code_string()) + ": " + err.message});
      if (options_.on_warning) {
        options_.on_warning("clip '" + name + "' failed to load: " + err.message);
      }
    }
    auto waiters = std::move(entry.waiters);
    const bool keep = entry.loaded && !pending.redecode;  // a failed replace keeps the old clip
    if (!keep) {
      const bool freed_now = retire_clip(entry, true);
      clips_.erase(name);
      if (freed_now) emit(protocol::ClipUnloadedEvent{name});
      save_state();
    } else {
      entry.path = entry.loaded->info().path;  // the replace's path did not load
    }
    run_waiters(std::move(waiters));
    next_redecode();
    return;
  }

  if (const auto& file = result.clip->stream_file(); file != nullptr) {
    // Known to the disk threads from now until the clip is freed.
    const std::uint64_t id = disk_->add(file);
    result.clip->set_stream(
        id, std::shared_ptr<void>(nullptr, [disk = disk_.get(), id](void*) { disk->remove(id); }));
  }
  const bool freed_old = install(entry, std::move(result.clip), !pending.redecode);
  if (pending.requester) {
    pending.requester->reply_ok(pending.id, to_json(clip_info(entry)));
  }
  if (!pending.redecode) {
    emit(protocol::ClipLoadedEvent{name});
    if (freed_old) emit(protocol::ClipUnloadedEvent{name});
    save_state();
  }
  run_waiters(std::move(entry.waiters));
  next_redecode();
}

void Controller::next_redecode() {
  if (!session_->online() || stopping_) return;
  for (auto& [name, entry] : clips_.entries()) {
    if (entry->pending && entry->pending->redecode) return;  // one at a time
  }
  for (auto& [name, entry] : clips_.entries()) {
    if (entry->loaded && !entry->pending && entry->loaded->info().sample_rate != session_->rate()) {
      submit_load(*entry, nullptr, protocol::RequestId{}, true);
      return;
    }
  }
}

void Controller::cancel_pending(ClipEntry& entry) {
  if (!entry.pending) return;
  entry.pending->handle.cancel();
  if (entry.pending->requester) {
    fail(entry.pending->requester, entry.pending->id, protocol::cancelled(entry.name));
  }
  entry.pending.reset();
}

void Controller::run_waiters(std::vector<std::function<void()>> waiters) {
  for (auto& w : waiters)
    w();
}

void Controller::release_waiters() {
  // Collected first: a waiter may add or remove clips.
  run_waiters(clips_.take_ready_waiters(session_->online()));
}

bool Controller::install(ClipEntry& entry, std::unique_ptr<clips::LoadedClip> clip, bool announce) {
  std::unique_ptr<clips::LoadedClip> old = std::move(entry.loaded);
  entry.loaded = std::move(clip);
  entry.path = entry.loaded->info().path;
  const bool fits_engine =
      session_->online() && entry.loaded->info().sample_rate == session_->rate();
  if (entry.slot != kNoSlot) {
    clips_.forget_held(entry.token);
    if (fits_engine) {
      // The engine swaps the samples in; the old ones come back as clip_released.
      clips_.add_zombie(entry.token, entry.name, std::move(old), announce);
      clips_.hold(entry);  // under a new token
      (void)send_own(
          engine::Message::replace_clip(entry.slot, entry.loaded->samples(), entry.token));
      return false;
    }
    // Bindings stop naming the slot before it is freed.
    const std::uint32_t slot = entry.slot;
    entry.slot = kNoSlot;
    push_bindings();
    (void)send_own(engine::Message::remove_clip(slot));
    clips_.add_zombie(entry.token, entry.name, std::move(old), announce);
    clips_.free_slot(slot);
  }
  if (fits_engine) {
    add_to_engine(entry);
    push_bindings();
  }
  // Not in an engine: the old clip is freed here.
  const bool freed_now = old != nullptr;
  old.reset();
  return freed_now && announce;
}

void Controller::add_to_engine(ClipEntry& entry) {
  entry.slot = alloc_slot();
  clips_.hold(entry);
  (void)send_own(engine::Message::add_clip(entry.slot, entry.loaded->samples(), entry.token));
}

bool Controller::retire_clip(ClipEntry& entry, bool announce) {
  if (entry.slot != kNoSlot && session_->online()) {
    // Bindings stop naming the slot before it is freed (and perhaps reused).
    const std::uint32_t slot = entry.slot;
    entry.slot = kNoSlot;
    push_bindings();
    (void)send_own(engine::Message::remove_clip(slot));
    clips_.forget_held(entry.token);
    clips_.add_zombie(entry.token, entry.name, std::move(entry.loaded), announce);
    clips_.free_slot(slot);
    return false;
  }
  const bool had = entry.loaded != nullptr;
  entry.loaded.reset();
  return had;
}

std::uint32_t Controller::alloc_slot() {
  if (std::optional<std::uint32_t> slot = clips_.take_slot()) return *slot;
  // The engine's table is full: swap a twice larger one in; the old one comes back. The slab
  // grows by the nodes the new slots' clips can hold, locked like the rest.
  const std::uint32_t capacity = clips_.slot_capacity() * 2;
  session_->link().grow_clip_share(capacity - clips_.slot_capacity());
  session_->lock_memory();
  auto* table = new engine::ClipSlot[capacity]();
  if (!send_own(engine::Message::grow_clip_table(table, capacity))) delete[] table;
  clips_.grow_slots(capacity);
  return *clips_.take_slot();
}

void Controller::save_state() {
  if (!options_.on_state_changed) return;
  options_.on_state_changed(clips_.saved(), bindings_.json());
}

}  // namespace clipd::control
