// SPDX-License-Identifier: MIT
#include "mcr/affinity.h"

#include <dirent.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "mcr/fail.h"

namespace mcr {

int confine_threads(const std::vector<int>& worker_cpus, const std::vector<int>& keep_tids, std::string* error) {
  // The first call's affinity is the base, so a later call with fewer worker CPUs can widen again.
  static std::once_flag once;
  static cpu_set_t base;
  static int base_error = 0;
  std::call_once(once, [] {
    CPU_ZERO(&base);
    if (sched_getaffinity(0, sizeof(base), &base) != 0) base_error = errno;
  });
  if (base_error != 0) {
    return fail(error, "sched_getaffinity", base_error);
  }
  cpu_set_t allowed = base;
  for (int cpu : worker_cpus)
    if (cpu >= 0 && cpu < CPU_SETSIZE) CPU_CLR(cpu, &allowed);
  if (CPU_COUNT(&allowed) == 0) return 0;

  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) {
    return fail(error, "opendir /proc/self/task", errno);
  }
  int moved = 0;
  int failure = 0;
  while (dirent* entry = readdir(dir)) {
    const int tid = std::atoi(entry->d_name);
    if (tid <= 0 || std::find(keep_tids.begin(), keep_tids.end(), tid) != keep_tids.end()) continue;
    if (sched_setaffinity(tid, sizeof(allowed), &allowed) == 0) {
      ++moved;
    } else if (errno != ESRCH) {  // ESRCH: the thread ended meanwhile
      failure = errno;
      fail(error, "sched_setaffinity(thread " + std::to_string(tid) + ")", failure);
    }
  }
  closedir(dir);
  return failure != 0 ? -failure : moved;
}

}  // namespace mcr
