#include "control/server/socket_path.hpp"

#include <cstdlib>
#include <string>

#include "control/server/server_config.hpp"

namespace clipd::control {

std::filesystem::path default_socket_path(std::string_view instance) {
  if (instance.empty() || instance == "." || instance == ".." ||
      instance.find('/') != std::string_view::npos ||
      instance.find('\0') != std::string_view::npos) {
    throw ServerError("invalid instance name '" + std::string(instance) +
                      "': it must be non-empty and contain no '/'");
  }
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  if (runtime == nullptr || runtime[0] != '/') {
    throw ServerError(
        "XDG_RUNTIME_DIR is not set to an absolute path; set it or pass a socket path");
  }
  std::string file(instance);
  file += ".sock";
  return std::filesystem::path(runtime) / "clipd" / file;
}

}  // namespace clipd::control
