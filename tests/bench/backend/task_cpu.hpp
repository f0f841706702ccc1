// tests/bench/backend/task_cpu.hpp: the CPU time of another process and of each of its threads,
// from /proc/PID/task/TID/schedstat (nanoseconds on a CPU, not clock ticks).
//
// Thread contract: any thread; reads /proc only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

namespace clipd::bench {

struct TaskCpu {
  std::map<pid_t, std::uint64_t> ns;  // thread id -> nanoseconds on a CPU so far
};

// The threads of `pid` now (threads that have exited are not counted).
TaskCpu read_task_cpu(pid_t pid);

// Between two readings of process `pid`: the CPU time of every thread together, and of the
// busiest thread other than the main one (whose time grew most; threads that started meanwhile
// count from 0).
struct CpuDelta {
  std::uint64_t process_ns = 0;
  std::uint64_t busiest_ns = 0;
  pid_t busiest = -1;
  std::map<pid_t, std::uint64_t> threads_ns;  // every thread's growth
};
CpuDelta cpu_delta(const TaskCpu& before, const TaskCpu& after, pid_t pid);

// /proc/PID/task/TID/comm without its newline ("" when gone).
std::string thread_name(pid_t pid, pid_t tid);

}  // namespace clipd::bench
