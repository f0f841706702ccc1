// control/voice_book.hpp: the command core's record of voices: the ids it hands out, the clip
// and choke group of each live voice, the choke groups' engine ids, and the `stop` requests
// waiting for the engine's count.
//
// The engine alone knows when a voice starts and ends; the book learns it from the engine's
// returned nodes (voice_started, voice_ended) and from a retire, so it lags the engine by at
// most one drain. Voices a MIDI note started are added when their voice_started comes back.
//
// Thread contract: control thread only. Allocates (maps, strings); never blocks.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "control/protocol/request_id.hpp"
#include "control/requester.hpp"
#include "engine/message.hpp"

namespace clipd::control {

class VoiceBook {
 public:
  struct Voice {
    std::string clip;
    std::optional<std::string> group;
  };

  // A `stop` the engine has not acted on yet: its reply carries the engine's count, which alone
  // knows which voices were already fading (choked, stolen, unloaded, stopped before).
  struct PendingStop {
    engine::StopPayload sent;
    RequesterPtr requester;
    protocol::RequestId id;
  };

  // The id for the next `play`: 1, 2, ... for the daemon's life (MIDI voices take the engine's
  // own range, Config::midi_voice_base).
  std::int64_t next_id() noexcept { return next_id_++; }

  void add(std::int64_t id, Voice voice) { voices_[id] = std::move(voice); }
  const Voice* find(std::int64_t id) const noexcept;
  bool contains(std::int64_t id) const noexcept { return voices_.count(id) != 0; }
  // Forgets an ended voice; its record, when it had one.
  std::optional<Voice> remove(std::int64_t id);
  // Forgets every voice; the ids in increasing order with their records (the engine is gone).
  std::vector<std::pair<std::int64_t, Voice>> take_all();
  std::size_t size() const noexcept { return voices_.size(); }
  bool empty() const noexcept { return voices_.empty(); }

  // The engine's id of a choke group, made on first use (ids from 1; 0 is "no group").
  std::uint32_t group_id(const std::string& group);
  std::optional<std::uint32_t> find_group(const std::string& group) const;
  // The name of a group id; nullopt for 0 or an id never made.
  std::optional<std::string> group_name(std::uint32_t id) const;

  // Stops, in the order sent.
  void add_stop(PendingStop stop) { stops_.push_back(std::move(stop)); }
  // The engine acted on `acted`: the first pending stop with the same fields (the engine acts on
  // stops in the order they were sent, timed ones on their frame). Nullopt for the shutdown's
  // stop, which no request sent.
  std::optional<PendingStop> take_stop(const engine::StopPayload& acted);
  std::vector<PendingStop> take_all_stops();

 private:
  std::unordered_map<std::int64_t, Voice> voices_;
  std::vector<PendingStop> stops_;
  std::int64_t next_id_ = 1;
  std::map<std::string, std::uint32_t, std::less<>> groups_;
};

}  // namespace clipd::control
