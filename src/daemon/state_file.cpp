#include "daemon/state_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace clipd {
namespace {

using json = nlohmann::json;

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// mkdir -p with 0700 for the folders it creates.
bool make_dirs(const std::string& dir, std::string& error) {
  if (dir.empty() || dir == "/" || dir == ".") return true;
  struct stat st{};
  if (::stat(dir.c_str(), &st) == 0) return S_ISDIR(st.st_mode);
  if (!make_dirs(parent_of(dir), error)) return false;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    error = dir + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

bool write_all(int fd, const std::string& data) {
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

bool save_state(const std::string& path, const SavedState& state, std::string& error) {
  json doc;
  doc["version"] = 1;
  doc["clips"] = json::array();
  for (const auto& c : state.clips)
    doc["clips"].push_back({{"name", c.name}, {"path", c.path}});
  doc["bindings"] = state.bindings;
  const std::string text = doc.dump(2) + "\n";

  const std::string dir = parent_of(path);
  if (!make_dirs(dir, error)) return false;
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = tmp + ": " + std::strerror(errno);
    return false;
  }
  const bool ok = write_all(fd, text) && ::fsync(fd) == 0;
  const int saved_errno = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    error = path + ": " + std::strerror(ok ? errno : saved_errno);
    ::unlink(tmp.c_str());
    return false;
  }
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

bool load_state(const std::string& path, SavedState& state, std::string& error) {
  state = SavedState{};
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return true;
    error = path + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  try {
    const json doc = json::parse(ss.str());
    if (!doc.is_object() || !doc.contains("clips") || !doc["clips"].is_array()) {
      throw std::runtime_error("no clip list");
    }
    for (const auto& c : doc["clips"]) {
      if (!c.is_object() || !c.contains("name") || !c["name"].is_string() || !c.contains("path") ||
          !c["path"].is_string()) {
        throw std::runtime_error("a clip entry without name and path");
      }
      state.clips.push_back({c["name"].get<std::string>(), c["path"].get<std::string>()});
    }
    if (doc.contains("bindings") && doc["bindings"].is_array()) state.bindings = doc["bindings"];
  } catch (const std::exception& e) {
    error = path + ": damaged state file ignored: " + e.what();
    state = SavedState{};
    return false;
  }
  return true;
}

}  // namespace clipd
