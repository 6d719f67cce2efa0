// SPDX-License-Identifier: MIT
// Span records: one fixed-size record per traced receive batch, written by the worker into its
// own single-producer ring in the counter file and taken out by the supervisor (mcrd), which
// exports them (OpenTelemetry). Layout only; the worker's side is mcr/trace.h.
#pragma once

#include <atomic>
#include <cstdint>

namespace mcr {

// A fixed number of send slots and rule ids per record, plus counts of what did not fit, so a
// record never grows with the batch.
constexpr uint32_t kSpanSendSlots = 8;
constexpr uint32_t kSpanRuleSlots = 8;
constexpr uint32_t kSpanRingRecords = 512;  // per worker; a power of two

// One sendmmsg call of a traced batch. A refused call is one entry with packets 0.
struct SpanSend {
  uint64_t start_ns;  // CLOCK_REALTIME before the call
  uint64_t end_ns;    // and after it
  uint32_t ifindex;   // egress interface
  uint32_t packets;   // datagrams the kernel accepted
  uint32_t bytes;     // their payload bytes
  uint32_t errors;    // datagrams refused
  int32_t error;      // errno of the call, 0 when none
  uint32_t reserved;
};

enum SpanRecordFlags : uint32_t {
  span_sampled = 1u << 0,  // recorded because of the sampling rate
  span_chased = 1u << 1,   // recorded because it touched the chased rule
};

// All times CLOCK_REALTIME nanoseconds (the clock of the kernel's frame timestamps).
struct SpanRecord {
  uint64_t oldest_frame_ns;  // the kernel's timestamp of the batch's oldest frame
  uint64_t pickup_ns;        // the worker took the batch
  uint64_t classified_ns;    // every frame parsed and matched, the sends queued
  uint64_t released_ns;      // the ring slots went back to the kernel
  uint32_t worker;
  uint32_t input_ifindex;
  uint32_t packets;                     // frames in the batch
  uint32_t bytes;                       // their wire length
  uint32_t flags;                       // SpanRecordFlags
  uint32_t rule_count;                  // distinct rules in rule_slots
  uint32_t rules_more;                  // 1 when the batch matched more rules than rule_slots holds
  uint32_t send_count;                  // sendmmsg calls (the first kSpanSendSlots are in sends)
  uint32_t rule_slots[kSpanRuleSlots];  // counter slots of the rules matched, in order seen
  SpanSend sends[kSpanSendSlots];
};
static_assert(sizeof(SpanRecord) % 8 == 0);

// Single producer (one worker), single consumer (the supervisor, another process). The worker
// writes records[head % N] and then publishes head; the reader copies up to head and publishes
// tail. A full ring costs the worker nothing but a counted drop: it never waits.
struct alignas(128) SpanRing {
  alignas(64) std::atomic<uint64_t> head;  // records written (worker)
  alignas(64) std::atomic<uint64_t> tail;  // records taken (supervisor)
  SpanRecord records[kSpanRingRecords];
};

// The workers' tracing switches. The supervisor writes them (and the data plane sets the
// configured sampling rate at start); workers read them once per batch.
struct alignas(128) TraceControl {
  std::atomic<uint32_t> sample_every;     // time one batch in this many, 0 = none
  std::atomic<uint32_t> records_enabled;  // write span records (someone reads them)
  std::atomic<uint32_t> chase_rule_slot;  // record batches that touch this rule...
  std::atomic<int64_t> chase_remaining;   // ...this many more (0 = no chase)
};

}  // namespace mcr
