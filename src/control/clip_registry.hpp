// control/clip_registry.hpp: the command core's clips by name, and what the engine holds of them.
//
// A name is in the registry from its `load` until its `unload` (or a failed first load). Its
// entry owns the loaded clip while no engine holds it; once handed to the engine (an engine slot
// and a token), the clip is freed only after the engine hands it back (clip_released): a clip
// whose name was unloaded or replaced meanwhile waits here as a zombie, by token. The registry
// also hands out the engine's clip slots and tokens, and the serials that tell a load's
// completion from a cancelled one's.
//
// Thread contract: control thread only. Allocates (the maps); never blocks. Freeing a zombie
// frees its samples (munmap) and gives its budget back.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "clips/load_request.hpp"
#include "clips/loaded_clip.hpp"
#include "clips/loader.hpp"
#include "control/protocol/request_id.hpp"
#include "control/protocol/results.hpp"
#include "control/requester.hpp"

namespace clipd::control {

inline constexpr std::uint32_t kNoSlot = ~std::uint32_t{0};

// A name in the registry. `loaded` is null until the first load completes; `pending` is set
// while a load (first load, replace, or a decode at a new rate) runs.
struct ClipEntry {
  std::string name;
  std::string path;
  std::unique_ptr<clips::LoadedClip> loaded;
  std::uint32_t slot = kNoSlot;  // engine slot while the engine holds `loaded`
  clips::StreamMode stream = clips::StreamMode::automatic;  // load's `stream`
  std::uint64_t token = 0;                                  // the engine's token for `loaded`
  struct Pending {
    std::uint64_t serial = 0;
    clips::LoadHandle handle;
    RequesterPtr requester;  // null for loads the daemon started itself
    protocol::RequestId id;
    bool redecode = false;   // a decode at a new engine rate
    std::uint32_t rate = 0;  // the rate asked of the loader (0: the file's own)
  };
  std::optional<Pending> pending;
  // Commands naming this clip that arrived while it made them wait (ClipRegistry::is_waiting),
  // run when that ends: its load ends, or the engine goes offline or comes up at the clip's rate.
  std::vector<std::function<void()>> waiters;
};

// The clip info `load`, `info` and `list` answer with; `entry` must be loaded.
protocol::ClipInfo clip_info(const ClipEntry& entry);

class ClipRegistry {
 public:
  using Entries = std::map<std::string, std::unique_ptr<ClipEntry>, std::less<>>;

  ClipEntry* find(std::string_view name) noexcept;
  const ClipEntry* find(std::string_view name) const noexcept;
  // A new entry for `name`, which must not be in the registry.
  ClipEntry& add(const std::string& name);
  // Drops the entry (and the clip it owns, if any).
  void erase(std::string_view name);
  // By name.
  Entries& entries() noexcept { return entries_; }
  const Entries& entries() const noexcept { return entries_; }
  std::size_t size() const noexcept { return entries_.size(); }
  // Names whose first load has completed.
  std::uint32_t loaded_count() const noexcept;
  // The name of the clip in engine slot `slot`; empty when none.
  std::string name_of_slot(std::uint32_t slot) const;
  // The clips to remember (name, path): loaded ones, and those whose load a client asked for.
  std::vector<std::pair<std::string, std::string>> saved() const;

  // True while commands naming the clip must wait: a load of it runs, or it is loaded at another
  // rate than the engine's (when `online`) and waits for its turn to be decoded again.
  static bool is_waiting(const ClipEntry& entry, bool online) noexcept;
  // Takes the waiters of every clip that no longer makes commands wait.
  std::vector<std::function<void()>> take_ready_waiters(bool online);
  // Takes every waiter.
  std::vector<std::function<void()>> take_all_waiters();

  std::uint64_t next_serial() noexcept { return next_serial_++; }

  // The engine holds `entry`'s clip under a fresh token (its slot set by the caller).
  void hold(ClipEntry& entry);
  // The engine is handing back the entry's clip under its token (remove or replace sent): the
  // clip, moved out of the entry by the caller, waits as a zombie until clip_released.
  void add_zombie(std::uint64_t token, std::string name, std::unique_ptr<clips::LoadedClip> clip,
                  bool announce);
  // The token no longer names the entry's clip in the engine.
  void forget_held(std::uint64_t token) { held_.erase(token); }
  // clip_released: frees a zombie (its name when its release is announced as clip-unloaded), or
  // marks a live clip that a retire handed back as outside any engine.
  std::optional<std::string> released(std::uint64_t token);
  // The engine is gone: every clip is outside it, every zombie is freed. Returns the names whose
  // release is announced as clip-unloaded.
  std::vector<std::string> engine_gone();

  // Engine clip slots: a fresh table of `capacity` slots (a new engine).
  void reset_slots(std::uint32_t capacity) noexcept;
  // A free slot; nullopt when the table is full (grow_slots() first).
  std::optional<std::uint32_t> take_slot();
  void free_slot(std::uint32_t slot) { free_slots_.push_back(slot); }
  std::uint32_t slot_capacity() const noexcept { return slot_capacity_; }
  void grow_slots(std::uint32_t capacity) noexcept { slot_capacity_ = capacity; }

  // Frees every clip and entry (shutdown).
  void clear();

 private:
  // A clip the engine still holds after its name was unloaded or replaced; freed on release.
  struct Zombie {
    std::string name;
    std::unique_ptr<clips::LoadedClip> clip;
    bool announce = false;  // send clip-unloaded when freed
  };

  Entries entries_;
  std::unordered_map<std::uint64_t, Zombie> zombies_;   // by engine token
  std::unordered_map<std::uint64_t, ClipEntry*> held_;  // by engine token
  std::vector<std::uint32_t> free_slots_;
  std::uint32_t slot_capacity_ = 0;
  std::uint32_t next_slot_ = 0;
  std::uint64_t next_token_ = 1;
  std::uint64_t next_serial_ = 1;
};

}  // namespace clipd::control
