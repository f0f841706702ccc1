#include "control/voice_book.hpp"

#include <algorithm>
#include <utility>

namespace clipd::control {

const VoiceBook::Voice* VoiceBook::find(std::int64_t id) const noexcept {
  auto it = voices_.find(id);
  return it != voices_.end() ? &it->second : nullptr;
}

std::optional<VoiceBook::Voice> VoiceBook::remove(std::int64_t id) {
  auto it = voices_.find(id);
  if (it == voices_.end()) return std::nullopt;
  Voice voice = std::move(it->second);
  voices_.erase(it);
  return voice;
}

std::vector<std::pair<std::int64_t, VoiceBook::Voice>> VoiceBook::take_all() {
  std::vector<std::pair<std::int64_t, Voice>> all;
  all.reserve(voices_.size());
  for (auto& [id, voice] : voices_)
    all.emplace_back(id, std::move(voice));
  voices_.clear();
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return all;
}

std::uint32_t VoiceBook::group_id(const std::string& group) {
  auto [it, inserted] = groups_.try_emplace(group, static_cast<std::uint32_t>(groups_.size() + 1));
  return it->second;
}

std::optional<std::uint32_t> VoiceBook::find_group(const std::string& group) const {
  auto it = groups_.find(group);
  if (it == groups_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> VoiceBook::group_name(std::uint32_t id) const {
  if (id == 0) return std::nullopt;
  for (const auto& [name, gid] : groups_) {
    if (gid == id) return name;
  }
  return std::nullopt;
}

std::optional<VoiceBook::PendingStop> VoiceBook::take_stop(const engine::StopPayload& acted) {
  for (auto it = stops_.begin(); it != stops_.end(); ++it) {
    const engine::StopPayload& sent = it->sent;
    if (sent.target == acted.target && sent.id == acted.id && sent.fade == acted.fade &&
        sent.at_frame == acted.at_frame && sent.at_nsecs == acted.at_nsecs &&
        sent.reason == acted.reason) {
      PendingStop done = std::move(*it);
      stops_.erase(it);
      return done;
    }
  }
  return std::nullopt;
}

std::vector<VoiceBook::PendingStop> VoiceBook::take_all_stops() {
  return std::exchange(stops_, {});
}

}  // namespace clipd::control
