// control/server/socket_path.hpp: where the control socket lives by default.
#pragma once

#include <filesystem>
#include <string_view>

namespace clipd::control {

// $XDG_RUNTIME_DIR/clipd/control.sock, or $XDG_RUNTIME_DIR/clipd/NAME.sock for a named
// instance. Throws ServerError when XDG_RUNTIME_DIR is unset or not absolute, or when the
// instance name is empty, contains '/' or is "." or "..".
std::filesystem::path default_socket_path(std::string_view instance = "control");

}  // namespace clipd::control
