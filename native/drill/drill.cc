// SPDX-License-Identifier: MIT
// The drill's logger (see mcr/drill.h). Not listed in binding.gyp: only profiling/audit.ts
// compiles it, with MCR_DRILL_SEED_ANTIPATTERN=1, into build-drill/.
#include "mcr/drill.h"

#if !(defined(MCR_DRILL_SEED_ANTIPATTERN) && MCR_DRILL_SEED_ANTIPATTERN)
#error "native/drill/drill.cc is the audit drill; build it only with MCR_DRILL_SEED_ANTIPATTERN=1"
#endif

#include <arpa/inet.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>

namespace mcr::drill {

namespace {
// As in the seed's production configuration: trace is off, critical is on. Not a constant, so
// the compiler cannot know the trace messages are dead and drop their formatting.
std::atomic<int> g_level{int(Level::info)};
}  // namespace

[[gnu::noinline]] std::string format_packet_trace(uint32_t dst_addr_be, uint16_t dst_port, uint32_t wire_len) {
  char addr[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &dst_addr_be, addr, sizeof(addr));
  char text[96];
  const int n = snprintf(text, sizeof(text), "Packet: dst=%s:%u len=%u", addr, unsigned(dst_port), wire_len);
  return std::string(text, size_t(n > 0 ? n : 0));  // longer than the small-string buffer: a heap allocation
}

[[gnu::noinline]] std::string format_exhaustion(const char* what, int err, uint64_t total) {
  char text[128];
  const int n = snprintf(text, sizeof(text), "Buffer exhausted (%s, %s)! Total exhaustions: %llu", what,
                         strerrorname_np(err), static_cast<unsigned long long>(total));
  return std::string(text, size_t(n > 0 ? n : 0));
}

std::atomic<uint64_t> g_write_failures{0};

// Counts failures so that the write is not a tail call: the function keeps its own stack frame.
[[gnu::noinline]] void write_to_supervisor_pipe(const std::string& line) {
  if (::write(STDERR_FILENO, line.data(), line.size()) < 0) g_write_failures.fetch_add(1, std::memory_order_relaxed);
}

[[gnu::noinline]] void log(Level level, const std::string& message) {
  if (int(level) < g_level.load(std::memory_order_relaxed)) return;
  write_to_supervisor_pipe("[critical] mcr-worker: " + message + "\n");
}

}  // namespace mcr::drill
