// The state file: which clips are loaded (name, path, options) and the MIDI bindings, so a
// restarted daemon, even after a crash, comes back with them.
//
// Written atomically after each change: a temporary file in the same folder, fsync, rename, then
// fsync of the folder, so a crash leaves either the old or the new file, never a torn one.
//
// Thread contract: control thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace clipd {

struct SavedClip {
  std::string name;
  std::string path;
};

struct SavedState {
  std::vector<SavedClip> clips;
  // Bindings as the protocol's `bind` requests (kept as JSON: the protocol owns their shape).
  nlohmann::json bindings = nlohmann::json::array();
};

// Writes the state; returns false (with `error` set) when it could not.
bool save_state(const std::string& path, const SavedState& state, std::string& error);

// Reads the state. A missing file is an empty state; a damaged one returns false with `error`
// set and an empty state, so the daemon starts anyway.
bool load_state(const std::string& path, SavedState& state, std::string& error);

}  // namespace clipd
