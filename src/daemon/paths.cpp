#include "daemon/paths.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace clipd {
namespace {

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && v[0] == '/' ? std::string(v) : std::string();
}

std::string home() {
  if (auto h = env_or_empty("HOME"); !h.empty()) return h;
  if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_dir != nullptr) {
    return pw->pw_dir;
  }
  return "/";
}

}  // namespace

std::string runtime_dir() {
  if (auto d = env_or_empty("XDG_RUNTIME_DIR"); !d.empty()) return d;
  return "/run/user/" + std::to_string(::getuid());
}

std::string config_home() {
  if (auto d = env_or_empty("XDG_CONFIG_HOME"); !d.empty()) return d;
  return home() + "/.config";
}

std::string state_home() {
  if (auto d = env_or_empty("XDG_STATE_HOME"); !d.empty()) return d;
  return home() + "/.local/state";
}

std::string default_socket_path(const std::string& instance) {
  return runtime_dir() + "/clipd/" + (instance.empty() ? "control" : instance) + ".sock";
}

std::string default_osc_socket_path(const std::string& instance) {
  return runtime_dir() + "/clipd/" + (instance.empty() ? "osc" : instance + "-osc") + ".sock";
}

std::string default_state_path(const std::string& instance) {
  return state_home() + "/clipd/" + (instance.empty() ? "state" : instance) + ".json";
}

}  // namespace clipd
