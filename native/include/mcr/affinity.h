// SPDX-License-Identifier: MIT
// Keeps a process's control threads (Node's event loop, GC, libuv pool) off the CPUs that
// workers are pinned to, so a woken control thread never preempts a worker.
#pragma once

#include <string>
#include <vector>

namespace mcr {

// Sets every thread of this process except `keep_tids` to the CPUs this process was allowed when
// first called, minus `worker_cpus`; an empty `worker_cpus` gives them all back. Threads created
// later inherit the set. Returns the number of threads moved, or -errno (*error says which step);
// returns 0 without moving anything when no CPU would be left.
int confine_threads(const std::vector<int>& worker_cpus, const std::vector<int>& keep_tids, std::string* error);

}  // namespace mcr
