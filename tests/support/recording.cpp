#include "recording.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace clipd::test {

Recording read_recording(const std::string& prefix) {
  Recording r;
  std::ifstream per(prefix + ".periods");
  if (!per) throw std::runtime_error("no " + prefix + ".periods");
  std::string line;
  bool header = false;
  while (std::getline(per, line)) {
    std::istringstream ss(line);
    std::string key;
    ss >> key;
    if (key == "clipd-record") {
      int version = 0;
      ss >> version;
      header = version == 1;
    } else if (key == "rate") {
      ss >> r.rate;
    } else if (key == "channels") {
      ss >> r.channels;
    } else if (key == "first_frame") {
      ss >> r.first_frame;
    } else if (key == "frames") {
      ss >> r.frames;
    } else if (key == "gaps") {
      ss >> r.gaps;
    } else if (key == "period") {
      RecordedPeriod p;
      ss >> p.frame >> p.nframes;
      r.periods.push_back(p);
    }
    if (!key.empty() && ss.fail()) throw std::runtime_error("bad line: " + line);
  }
  if (!header || r.channels == 0) throw std::runtime_error("not a clipd-record file: " + prefix);

  std::ifstream raw(prefix + ".f32", std::ios::binary);
  if (!raw) throw std::runtime_error("no " + prefix + ".f32");
  r.samples.resize(r.frames * r.channels);
  raw.read(reinterpret_cast<char*>(r.samples.data()),
           static_cast<std::streamsize>(r.samples.size() * sizeof(float)));
  if (static_cast<std::size_t>(raw.gcount()) != r.samples.size() * sizeof(float)) {
    throw std::runtime_error("short " + prefix + ".f32");
  }
  return r;
}

}  // namespace clipd::test
