#include "control/clip_registry.hpp"

namespace clipd::control {

protocol::ClipInfo clip_info(const ClipEntry& entry) {
  const clips::ClipInfo& i = entry.loaded->info();
  protocol::ClipInfo out;
  out.name = entry.name;
  out.path = i.path;
  out.frames = static_cast<std::int64_t>(i.frames);
  out.channels = i.channels;
  out.sample_rate = i.sample_rate;
  out.source_sample_rate = i.source_sample_rate;
  out.duration_s = i.duration_s;
  out.bytes = i.bytes;
  out.locked = i.locked;
  out.non_finite_samples = i.non_finite_samples;
  out.streamed = i.streamed;
  out.head_frames = static_cast<std::int64_t>(i.streamed ? i.head_frames : i.frames);
  out.head_s = static_cast<double>(out.head_frames) / static_cast<double>(i.sample_rate);
  return out;
}

ClipEntry* ClipRegistry::find(std::string_view name) noexcept {
  auto it = entries_.find(name);
  return it != entries_.end() ? it->second.get() : nullptr;
}

const ClipEntry* ClipRegistry::find(std::string_view name) const noexcept {
  auto it = entries_.find(name);
  return it != entries_.end() ? it->second.get() : nullptr;
}

ClipEntry& ClipRegistry::add(const std::string& name) {
  auto entry = std::make_unique<ClipEntry>();
  entry->name = name;
  ClipEntry& e = *entry;
  entries_.emplace(name, std::move(entry));
  return e;
}

void ClipRegistry::erase(std::string_view name) {
  auto it = entries_.find(name);
  if (it != entries_.end()) entries_.erase(it);
}

std::uint32_t ClipRegistry::loaded_count() const noexcept {
  std::uint32_t loaded = 0;
  for (const auto& [name, entry] : entries_) {
    if (entry->loaded) ++loaded;
  }
  return loaded;
}

std::string ClipRegistry::name_of_slot(std::uint32_t slot) const {
  for (const auto& [name, entry] : entries_) {
    if (entry->slot == slot) return name;
  }
  return {};
}

std::vector<std::pair<std::string, std::string>> ClipRegistry::saved() const {
  std::vector<std::pair<std::string, std::string>> list;
  for (const auto& [name, entry] : entries_) {
    if (entry->loaded || (entry->pending && !entry->pending->redecode)) {
      list.emplace_back(name, entry->path);
    }
  }
  return list;
}

bool ClipRegistry::is_waiting(const ClipEntry& entry, bool online) noexcept {
  return entry.pending.has_value() || !entry.loaded || (online && entry.slot == kNoSlot);
}

std::vector<std::function<void()>> ClipRegistry::take_ready_waiters(bool online) {
  std::vector<std::function<void()>> ready;
  for (auto& [name, entry] : entries_) {
    if (entry->waiters.empty() || is_waiting(*entry, online)) continue;
    for (auto& w : entry->waiters)
      ready.push_back(std::move(w));
    entry->waiters.clear();
  }
  return ready;
}

std::vector<std::function<void()>> ClipRegistry::take_all_waiters() {
  std::vector<std::function<void()>> all;
  for (auto& [name, entry] : entries_) {
    for (auto& w : entry->waiters)
      all.push_back(std::move(w));
    entry->waiters.clear();
  }
  return all;
}

void ClipRegistry::hold(ClipEntry& entry) {
  entry.token = next_token_++;
  held_[entry.token] = &entry;
}

void ClipRegistry::add_zombie(std::uint64_t token, std::string name,
                              std::unique_ptr<clips::LoadedClip> clip, bool announce) {
  zombies_[token] = Zombie{std::move(name), std::move(clip), announce};
}

std::optional<std::string> ClipRegistry::released(std::uint64_t token) {
  if (auto z = zombies_.find(token); z != zombies_.end()) {
    const bool announce = z->second.announce;
    std::string name = std::move(z->second.name);
    zombies_.erase(z);  // frees the samples and gives the budget back
    if (announce) return name;
  } else if (auto live = held_.find(token); live != held_.end()) {
    // Handed back by a retire: the clip stays loaded, outside any engine.
    live->second->slot = kNoSlot;
    held_.erase(live);
  }
  return std::nullopt;
}

std::vector<std::string> ClipRegistry::engine_gone() {
  held_.clear();
  for (auto& [name, entry] : entries_)
    entry->slot = kNoSlot;
  std::vector<std::string> announce;
  for (auto& [token, z] : zombies_) {
    if (z.announce) announce.push_back(z.name);
  }
  zombies_.clear();
  return announce;
}

void ClipRegistry::reset_slots(std::uint32_t capacity) noexcept {
  slot_capacity_ = capacity;
  next_slot_ = 0;
  free_slots_.clear();
}

std::optional<std::uint32_t> ClipRegistry::take_slot() {
  if (!free_slots_.empty()) {
    const std::uint32_t s = free_slots_.back();
    free_slots_.pop_back();
    return s;
  }
  if (next_slot_ == slot_capacity_) return std::nullopt;
  return next_slot_++;
}

void ClipRegistry::clear() {
  zombies_.clear();
  held_.clear();
  entries_.clear();
}

}  // namespace clipd::control
