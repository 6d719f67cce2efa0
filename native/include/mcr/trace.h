// SPDX-License-Identifier: MIT
// The worker's tracing: sampled batch timings (log2 histograms in the counter file), span
// records for the supervisor to export (mcr/span_record.h), and USDT probes. Everything that
// costs more than a load and a branch per batch runs only for a traced batch (one in
// `sample_every`, or one that a `mcrctl trace --rule` chase is waiting for); per packet an
// untraced batch pays one predictable branch (note_rule). MCR_ENABLE_SPANS=0 removes all of
// it at compile time; MCR_ENABLE_USDT=0 removes the probes.
#pragma once

#include <time.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "mcr/counters.h"

#ifndef MCR_ENABLE_SPANS
#define MCR_ENABLE_SPANS 1
#endif
#ifndef MCR_ENABLE_USDT
#define MCR_ENABLE_USDT 1
#endif

// USDT probes (provider "mcr"): a single nop each until a tracer (bpftrace, perf) attaches.
// Debian: systemtap-sdt-dev. Without the header they compile to nothing.
#if MCR_ENABLE_USDT && __has_include(<sys/sdt.h>)
#include <sys/sdt.h>
#define MCR_PROBE1(name, a) DTRACE_PROBE1(mcr, name, a)
#define MCR_PROBE3(name, a, b, c) DTRACE_PROBE3(mcr, name, a, b, c)
#define MCR_PROBE4(name, a, b, c, d) DTRACE_PROBE4(mcr, name, a, b, c, d)
#define MCR_HAVE_USDT 1
#else
#define MCR_PROBE1(name, a) ((void)0)
#define MCR_PROBE3(name, a, b, c) ((void)0)
#define MCR_PROBE4(name, a, b, c, d) ((void)0)
#define MCR_HAVE_USDT 0
#endif

namespace mcr {

// CLOCK_REALTIME because that is the clock of the kernel's frame timestamps (tp_sec/tp_nsec).
// A vDSO call (~30 ns here), made only for traced batches, never per packet.
inline uint64_t realtime_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// CLOCK_MONOTONIC, for intervals a step of the wall clock must not distort (punt refills, the
// worker's holdoff decision). Also a vDSO call, never per packet.
inline uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// Where SendBatcher::flush logs its sendmmsg calls for a traced batch (nullptr: untraced).
struct SendLog {
  SpanSend* sends;  // kSpanSendSlots entries
  uint32_t* count;  // calls made; entries beyond kSpanSendSlots are only counted
};

#if MCR_ENABLE_SPANS

class BatchTrace {
 public:
  BatchTrace(uint32_t worker, WorkerBlock* counters, SpanRing* ring, TraceControl* control)
      : worker_(worker), counters_(counters), ring_(ring), control_(control) {}

  // Start of a batch whose oldest frame the kernel stamped at (sec, nsec). Decides whether the
  // batch is traced: two relaxed loads and a branch when nothing is asked for.
  void begin(uint32_t sec, uint32_t nsec, uint32_t input_ifindex) {
    const uint32_t every = control_->sample_every.load(std::memory_order_relaxed);
    bool sampled = false;
    if (every != 0) {
      if (countdown_ == 0 || countdown_ > every) countdown_ = every;  // first batch, or the rate was lowered
      if (--countdown_ == 0) {
        countdown_ = every;
        sampled = true;
      }
    }
    const bool chasing = control_->chase_remaining.load(std::memory_order_relaxed) > 0;
    active_ = sampled || chasing;
    if (!active_) [[likely]]
      return;
    rec_.flags = sampled ? uint32_t(span_sampled) : 0u;
    chase_slot_ = chasing ? control_->chase_rule_slot.load(std::memory_order_relaxed) : ~0u;
    touched_chase_ = false;
    rec_.oldest_frame_ns = uint64_t(sec) * 1000000000u + nsec;
    rec_.pickup_ns = realtime_ns();
    rec_.input_ifindex = input_ifindex;
    rec_.rule_count = 0;
    rec_.rules_more = 0;
    send_count_ = 0;
    rx_bytes_before_ = counters_->counters[rx_bytes].load(std::memory_order_relaxed);
  }

  bool active() const { return active_; }

  // A frame of the batch matched the rule with this counter slot (called only when active()).
  void note_rule(uint32_t slot) {
    if (slot == chase_slot_) touched_chase_ = true;
    for (uint32_t i = 0; i < rec_.rule_count; ++i)
      if (rec_.rule_slots[i] == slot) return;
    if (rec_.rule_count < kSpanRuleSlots)
      rec_.rule_slots[rec_.rule_count++] = slot;
    else
      rec_.rules_more = 1;
  }

  // Every frame parsed and matched; the sends are next.
  void classified() {
    if (active_) rec_.classified_ns = realtime_ns();
  }

  SendLog* send_log() {
    if (!active_) return nullptr;
    log_ = SendLog{rec_.sends, &send_count_};
    return &log_;
  }

  // The batch's ring slots went back to the kernel: histograms, and the record if one is wanted.
  void end(uint32_t packets) {
    if (!active_) [[likely]]
      return;
    active_ = false;
    rec_.released_ns = realtime_ns();
    if (rec_.flags & span_sampled) {
      const uint64_t wait = rec_.pickup_ns > rec_.oldest_frame_ns ? rec_.pickup_ns - rec_.oldest_frame_ns : 0;
      record(span_ring_wait, wait);
      record(span_batch, rec_.released_ns - rec_.pickup_ns);
    }
    if (touched_chase_) {
      // Another worker may take the last one at the same time: then both record (one extra).
      if (control_->chase_remaining.fetch_sub(1, std::memory_order_relaxed) > 0) rec_.flags |= span_chased;
    }
    if (!(rec_.flags & span_chased) && !control_->records_enabled.load(std::memory_order_relaxed)) return;
    if (rec_.flags == 0) return;
    rec_.worker = worker_;
    rec_.packets = packets;
    rec_.bytes = uint32_t(counters_->counters[rx_bytes].load(std::memory_order_relaxed) - rx_bytes_before_);
    rec_.send_count = send_count_;
    const uint64_t head = ring_->head.load(std::memory_order_relaxed);
    if (head - ring_->tail.load(std::memory_order_acquire) >= kSpanRingRecords) {
      bump(counters_->counters[spans_dropped]);
      MCR_PROBE1(span_dropped, worker_);
      return;
    }
    const uint32_t sends_kept = send_count_ < kSpanSendSlots ? send_count_ : kSpanSendSlots;
    // Only the filled part of the send slots is copied.
    std::memcpy(&ring_->records[head % kSpanRingRecords], &rec_,
                offsetof(SpanRecord, sends) + sends_kept * sizeof(SpanSend));
    ring_->head.store(head + 1, std::memory_order_release);
    bump(counters_->counters[spans_written]);
  }

  // busyPoll: one pass over empty rings took this long (only while sampling is on).
  void idle_pass(uint64_t nanoseconds) { record(span_idle_spin, nanoseconds); }
  bool sampling() const { return control_->sample_every.load(std::memory_order_relaxed) != 0; }

 private:
  void record(Span span, uint64_t nanoseconds) {
    bump(counters_->spans[span][span_bucket(nanoseconds)]);
    bump(counters_->span_sums_ns[span], nanoseconds);
  }

  uint32_t worker_;
  WorkerBlock* counters_;
  SpanRing* ring_;
  TraceControl* control_;
  uint32_t countdown_ = 0;  // batches until the next sampled one; the every-th batch is the first
  bool active_ = false;
  bool touched_chase_ = false;
  uint32_t chase_slot_ = ~0u;
  uint32_t send_count_ = 0;
  uint64_t rx_bytes_before_ = 0;
  SendLog log_{};
  SpanRecord rec_{};
};

#else  // MCR_ENABLE_SPANS == 0: the same calls, compiled to nothing

class BatchTrace {
 public:
  BatchTrace(uint32_t, WorkerBlock*, SpanRing*, TraceControl*) {}
  void begin(uint32_t, uint32_t, uint32_t) {}
  static constexpr bool active() { return false; }
  void note_rule(uint32_t) {}
  void classified() {}
  SendLog* send_log() { return nullptr; }
  void end(uint32_t) {}
  void idle_pass(uint64_t) {}
  static constexpr bool sampling() { return false; }
};

#endif

}  // namespace mcr
