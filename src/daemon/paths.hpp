// The XDG locations clipd uses. Thread contract: any thread but the audio thread.
#pragma once

#include <string>

namespace clipd {

// $XDG_RUNTIME_DIR, or /run/user/UID when unset.
std::string runtime_dir();
// $XDG_CONFIG_HOME, or ~/.config.
std::string config_home();
// $XDG_STATE_HOME, or ~/.local/state.
std::string state_home();

// $XDG_RUNTIME_DIR/clipd/control.sock, or …/clipd/NAME.sock for an instance.
std::string default_socket_path(const std::string& instance);
// $XDG_RUNTIME_DIR/clipd/osc.sock, or …/clipd/NAME-osc.sock for an instance.
std::string default_osc_socket_path(const std::string& instance);
// $XDG_STATE_HOME/clipd/state.json, or …/clipd/NAME.json for an instance.
std::string default_state_path(const std::string& instance);

}  // namespace clipd
