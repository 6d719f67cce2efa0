// SPDX-License-Identifier: MIT
// THE DRILL (issue #10), never in the shipped addon: the seed incident's anti-pattern, compiled
// into the worker only when MCR_DRILL_SEED_ANTIPATTERN is defined, which only
// `npm run profile -- audit --drill` does (profiling/audit.ts builds it aside, in build-drill/).
// It exists so that the audit can prove it finds such a regression, naming these functions:
//   - every packet formats a trace message into a std::string BEFORE the level check (trace is
//     off, so the string is built and thrown away): one heap allocation per packet;
//   - every buffer exhaustion (sendmmsg EAGAIN/ENOBUFS) and every frame the kernel marks as
//     "ring was full" (TP_STATUS_LOSING) writes a critical line to the pipe to the supervisor
//     (the data plane's stderr, which mcrd passes on): one write(2) per event, on the worker.
#pragma once

#if defined(MCR_DRILL_SEED_ANTIPATTERN) && MCR_DRILL_SEED_ANTIPATTERN

#include <cstdint>
#include <string>

namespace mcr::drill {

enum class Level : int { trace = 0, info = 2, critical = 4 };

// The seed's "Packet: dst=A:P len=N" message, formatted whatever the level.
std::string format_packet_trace(uint32_t dst_addr_be, uint16_t dst_port, uint32_t wire_len);
// The seed's "Buffer pool exhausted! Total exhaustions: N" message.
std::string format_exhaustion(const char* what, int err, uint64_t total);
// The seed's logger: the level check is in here, after the caller has formatted.
void log(Level level, const std::string& message);
// One line to the supervisor's pipe (stderr), written by the calling (worker) thread.
void write_to_supervisor_pipe(const std::string& line);

}  // namespace mcr::drill

#define MCR_DRILL(...) __VA_ARGS__
#else
#define MCR_DRILL(...)
#endif
