// SPDX-License-Identifier: MIT
// The punt path's worker side (layout: mcr/punt_record.h). Only rules that ask for it
// (RuleEntry::punt) punt; each worker keeps a token bucket, so a flood costs it a counter per
// packet past the rate, and a full ring costs a counted drop: the worker never waits for mcrd.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>

#include "mcr/counters.h"
#include "mcr/punt_record.h"
#include "mcr/rule_table.h"
#include "mcr/trace.h"

namespace mcr {

// A worker's side of its punt ring: the token bucket and the copy. Called only for rules with a
// PuntReason, from the per-output-work branch of process_frame, so other rules pay nothing.
class Punter {
 public:
  Punter() = default;
  Punter(PuntRing* ring, const PuntControl* control) : ring_(ring), control_(control) {}

  // ip: the IPv4 header of a packet the parser checked, so its whole total length is in the frame.
  // Most calls end at the token check: a source punts until its (S,G) entry takes its packets.
  void punt(const RuleEntry& rule, int ifindex, const uint8_t* ip, WorkerBlock& c) {
    if (ring_ == nullptr) return;
    // Rate 0 stops punting at once, whatever the bucket still holds (mcrd's "punt nothing").
    const uint32_t per_second = control_->per_second.load(std::memory_order_relaxed);
    if (per_second == 0 || (tokens_ == 0 && !refill(per_second))) {
      bump(c.counters[punt_rate_limited]);
      return;
    }
    const uint64_t head = ring_->head.load(std::memory_order_relaxed);
    if (head - ring_->tail.load(std::memory_order_acquire) >= kPuntRingRecords) {
      bump(c.counters[punt_ring_full]);
      return;
    }
    --tokens_;
    PuntRecord& r = ring_->records[head % kPuntRingRecords];
    const uint32_t ip_length = uint32_t(ip[2] << 8 | ip[3]);
    const uint32_t copy = std::min(ip_length, kPuntPacketBytes);
    r.time_ns = realtime_ns();
    r.ifindex = uint32_t(ifindex);
    r.rule_slot = rule.counter_slot;
    r.wire_length = ip_length;
    r.length = uint16_t(copy);
    r.reason = uint8_t(rule.punt);
    r.reserved = 0;
    std::memcpy(r.packet, ip, copy);
    ring_->head.store(head + 1, std::memory_order_release);
    bump(c.counters[punted]);
  }

 private:
  // An empty bucket: the tokens gained since the last refill (at most the burst). The clock is read
  // only here, and not at all while the rate is 0.
  bool refill(uint32_t per_second) {
    // Monotonic: a step of the wall clock must neither hand out a burst nor wrap the difference.
    const uint64_t now = monotonic_ns();
    const uint64_t gained = (now - refilled_ns_) / (1000000000ull / per_second + 1);
    if (gained == 0) return false;
    const uint32_t burst = control_->burst.load(std::memory_order_relaxed);
    tokens_ = uint32_t(gained < burst ? gained : burst);
    refilled_ns_ = now;
    return tokens_ != 0;
  }

  PuntRing* ring_ = nullptr;
  const PuntControl* control_ = nullptr;
  uint32_t tokens_ = 0;
  uint64_t refilled_ns_ = 0;
};

}  // namespace mcr
