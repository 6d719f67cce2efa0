// SPDX-License-Identifier: MIT
// Counter layout shared by the data plane (writer) and the supervisor (reader) through a
// memory-mapped file, so counters survive a data-plane crash and never go backwards.
// Each worker thread owns one block and is its only writer: an increment is a relaxed load
// plus a relaxed store (no lock prefix), and readers sum the blocks at scrape time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mcr/punt_record.h"
#include "mcr/span_record.h"

namespace mcr {

constexpr size_t kMaxWorkers = 32;
constexpr size_t kMaxRuleSlots = 4096;
constexpr size_t kMaxOutputSlots = 16384;

// Per-worker counters. The order is part of the shared-memory layout: append only.
#define MCR_WORKER_COUNTERS(X)                                                                  \
  X(rx_frames)                /* frames taken from the receive ring */                          \
  X(rx_bytes)                 /* their wire length */                                           \
  X(matched)                  /* frames that matched a rule */                                  \
  X(no_match)                 /* well-formed IPv4 UDP that matched no rule */                   \
  X(filtered_truncated)       /* frame shorter than its headers claim */                        \
  X(filtered_bad_ip_header)   /* version != 4, IHL < 5, total length too small */               \
  X(filtered_bad_ip_checksum) /* IPv4 header checksum wrong */                                  \
  X(filtered_fragment)        /* IPv4 fragment (MF set or offset != 0) */                       \
  X(filtered_not_udp)         /* IPv4 but not UDP (the kernel filter normally stops these) */   \
  X(filtered_bad_udp_length)  /* UDP length < 8 or beyond the IP payload */                     \
  X(filtered_not_ipv4)        /* not IPv4 (the kernel filter normally stops these) */           \
  X(filtered_oversize)        /* frame longer than a ring slot (MTU grew after start) */        \
  X(tx_packets)               /* datagrams the kernel accepted */                               \
  X(tx_bytes)                 /* their UDP payload bytes */                                     \
  X(tx_err_eagain)            /* socket send buffer full: dropped */                            \
  X(tx_err_enobufs)           /* no buffer space / qdisc full: dropped */                       \
  X(tx_err_unreachable)       /* ENETUNREACH, EHOSTUNREACH, ENETDOWN */                         \
  X(tx_err_emsgsize)          /* larger than the output path MTU */                             \
  X(tx_err_eperm)             /* EPERM, EACCES (firewall) */                                    \
  X(tx_err_other)             /* any other errno */                                             \
  X(pending_overflow)         /* sends dropped because a batch exceeded the scratch space */    \
  X(batches)                  /* receive batches processed */                                   \
  X(wakeups)                  /* times the worker slept in poll() and woke */                   \
  X(table_swaps)              /* rule tables this worker picked up */                           \
  X(ttl_expired)              /* copies not sent: TTL-decrementing output, received TTL <= 1 */ \
  X(spans_written)            /* span records written into the worker's span ring */            \
  X(spans_dropped)            /* span records lost: the span ring was full */                   \
  X(tx_err_too_big)           /* routed output: IP packet over the output MTU, dropped */       \
  X(punted)                   /* packets copied to mcrd for a routing protocol (mcr/punt.h) */  \
  X(punt_rate_limited)        /* punts not made: over the punt rate */                          \
  X(punt_ring_full)           /* punts not made: mcrd had not emptied the punt ring */          \
  X(holdoffs)                 /* wake-ups followed by a holdoff sleep (wakeupHoldoffUs) */

enum WorkerCounter : uint32_t {
#define MCR_X(name) name,
  MCR_WORKER_COUNTERS(MCR_X)
#undef MCR_X
      kWorkerCounterCount
};

const char* worker_counter_name(uint32_t index);

constexpr size_t kWorkerCounterSlots = 64;  // room to append counters without a new layout
static_assert(kWorkerCounterCount <= kWorkerCounterSlots);

// Sampled spans (one sample per sampled receive batch), kept as log2 histograms in microseconds:
// bucket 0 counts [0, 2) us, bucket b counts [2^b, 2^(b+1)) us, the last bucket everything above.
// They answer "where does a packet's time in the relay go" without a clock read per packet.
#define MCR_SPANS(X)                                                                                \
  X(ring_wait) /* kernel wrote the batch's oldest frame into the ring -> the worker picked it up */ \
  X(batch)     /* the worker picked the batch up -> its last sendmmsg returned */                   \
  X(idle_spin) /* busyPoll only: one pass over empty rings; a long one means the CPU was taken */

enum Span : uint32_t {
#define MCR_X(name) span_##name,
  MCR_SPANS(MCR_X)
#undef MCR_X
      kSpanCount
};

const char* span_name(uint32_t index);

constexpr uint32_t kSpanBuckets = 20;  // the last bucket starts at 2^19 us (~0.5 s)

inline uint32_t span_bucket(uint64_t nanoseconds) {
  const uint64_t us = nanoseconds / 1000;
  if (us < 2) return 0;
  const uint32_t b = 63 - uint32_t(__builtin_clzll(us));
  return b < kSpanBuckets - 1 ? b : kSpanBuckets - 1;
}

enum RuleCounter : uint32_t { rule_packets, rule_bytes, kRuleCounterCount };
enum OutputCounter : uint32_t { out_packets, out_bytes, out_errors, kOutputCounterCount };

// Single-writer increment: ~0.3 ns instead of ~6 ns for a locked fetch_add.
inline void bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

struct alignas(128) WorkerBlock {
  std::atomic<uint64_t> counters[kWorkerCounterSlots];
  std::atomic<uint64_t> spans[kSpanCount][kSpanBuckets];
  std::atomic<uint64_t> span_sums_ns[kSpanCount];  // the sampled durations summed (histogram sums)
  std::atomic<uint64_t> rules[kMaxRuleSlots][kRuleCounterCount];
  std::atomic<uint64_t> outputs[kMaxOutputSlots][kOutputCounterCount];
};

// Written only by the data plane's control thread.
struct alignas(128) ControlBlock {
  std::atomic<uint64_t> ring_drops[kMaxWorkers];    // PACKET_STATISTICS tp_drops, accumulated
  std::atomic<uint64_t> ring_packets[kMaxWorkers];  // PACKET_STATISTICS tp_packets, accumulated
  std::atomic<uint64_t> dataplane_starts;
};

struct alignas(4096) RegionHeader {
  uint64_t magic;
  uint32_t layout_version;
  uint32_t worker_block_size;
  uint32_t max_workers, max_rule_slots, max_output_slots, worker_counter_slots;
  ControlBlock control;
  TraceControl trace;
  PuntControl punt;
};

struct Region {
  RegionHeader header;
  WorkerBlock workers[kMaxWorkers];
  SpanRing span_rings[kMaxWorkers];
  // What the XDP path forwarded (mcr/xdp.h), written by the data plane's control thread from the
  // programs' per-CPU counters; its rule and output slots add to the workers'.
  WorkerBlock xdp;
  PuntRing punt_rings[kMaxWorkers];
};

constexpr uint64_t kRegionMagic = 0x31534e544e43524dULL;  // "MRCNTNS1"
constexpr uint32_t kRegionLayoutVersion = 5;

// A mapping of the counter file. create=true makes a new, zeroed file (refusing a name a live
// daemon holds; a dead one's file of the same name is replaced); create=false attaches to an
// existing one and checks its layout. Either way the region holds a shared flock on the file
// for as long as it is open, which is how remove_stale_counter_files tells a live daemon's
// file from one a crashed daemon left behind (a PID check fails when PID namespaces share
// /dev/shm).
class CounterRegion {
 public:
  CounterRegion() = default;
  ~CounterRegion();
  CounterRegion(const CounterRegion&) = delete;
  CounterRegion& operator=(const CounterRegion&) = delete;

  // Returns 0 or -errno; *error names the failing step.
  int open(const std::string& path, bool create, std::string* error);
  void close();
  Region* region() const { return region_; }
  const std::string& path() const { return path_; }
  WorkerBlock& worker(size_t index) const { return region_->workers[index]; }
  ControlBlock& control() const { return region_->header.control; }
  TraceControl& trace() const { return region_->header.trace; }
  SpanRing& span_ring(size_t worker) const { return region_->span_rings[worker]; }
  PuntControl& punt() const { return region_->header.punt; }
  PuntRing& punt_ring(size_t worker) const { return region_->punt_rings[worker]; }
  WorkerBlock& xdp() const { return region_->xdp; }

 private:
  int create_file(const std::string& path, std::string* temp_name, std::string* error);

  Region* region_ = nullptr;
  int lock_fd_ = -1;  // holds the shared flock
  std::string path_;
};

// The prefix and suffix of counter files that remove_stale_counter_files considers.
constexpr const char* kCounterFilePrefix = "mcrd-";
constexpr const char* kCounterFileSuffix = ".counters";

// Removes every counter file in `dir` (named mcrd-*.counters, a regular file owned by this
// user) that no process holds a lock on: what crashed daemons left. Never a live daemon's.
// Appends the removed paths to *removed; returns 0 or -errno (the directory unreadable).
int remove_stale_counter_files(const std::string& dir, std::vector<std::string>* removed, std::string* error);

}  // namespace mcr
