#include "task_cpu.hpp"

#include <dirent.h>

#include <cstdlib>
#include <fstream>

namespace clipd::bench {

TaskCpu read_task_cpu(pid_t pid) {
  TaskCpu out;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(dir + "/" + e->d_name + "/schedstat");
    std::uint64_t ns = 0;
    if (in >> ns) out.ns[static_cast<pid_t>(std::atoi(e->d_name))] = ns;
  }
  ::closedir(d);
  return out;
}

CpuDelta cpu_delta(const TaskCpu& before, const TaskCpu& after, pid_t pid) {
  CpuDelta d;
  for (const auto& [tid, ns] : after.ns) {
    const auto was = before.ns.find(tid);
    const std::uint64_t grew = ns - (was == before.ns.end() ? 0 : was->second);
    d.process_ns += grew;
    d.threads_ns[tid] = grew;
    if (tid != pid && (d.busiest < 0 || grew > d.busiest_ns)) {
      d.busiest_ns = grew;
      d.busiest = tid;
    }
  }
  return d;
}

std::string thread_name(pid_t pid, pid_t tid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

}  // namespace clipd::bench
