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

namespace mcr {

// A worker's side of its punt ring: the token bucket and the copy. Called only for rules with a
// PuntReason, from the per-output-work branch of process_frame, so other rules pay nothing.
class Punter {
 public:
  Punter() = default;
  Punter(PuntRing* ring, const PuntControl* control) : ring_(ring), control_(control) {}

  // ip: the IPv4 header; ip_length: its total length; available: bytes of it in the frame.
  void punt(PuntReason reason, uint32_t ifindex, uint32_t rule_slot, const uint8_t* ip, uint32_t ip_length,
            uint32_t available, WorkerBlock& c, uint64_t now_ns) {
    if (ring_ == nullptr) return;
    if (!take_token(now_ns)) {
      bump(c.counters[punt_rate_limited]);
      return;
    }
    const uint64_t head = ring_->head.load(std::memory_order_relaxed);
    if (head - ring_->tail.load(std::memory_order_acquire) >= kPuntRingRecords) {
      bump(c.counters[punt_ring_full]);
      return;
    }
    PuntRecord& r = ring_->records[head % kPuntRingRecords];
    const uint32_t copy = std::min({ip_length, available, kPuntPacketBytes});
    r.time_ns = now_ns;
    r.ifindex = ifindex;
    r.rule_slot = rule_slot;
    r.wire_length = ip_length;
    r.length = uint16_t(copy);
    r.reason = uint8_t(reason);
    r.reserved = 0;
    std::memcpy(r.packet, ip, copy);
    ring_->head.store(head + 1, std::memory_order_release);
    bump(c.counters[punted]);
  }

 private:
  bool take_token(uint64_t now_ns) {
    if (tokens_ == 0) {
      const uint32_t per_second = control_->per_second.load(std::memory_order_relaxed);
      const uint64_t elapsed = now_ns - refilled_ns_;
      const uint64_t gained = per_second == 0 ? 0 : elapsed / (1000000000ull / per_second + 1);
      if (gained == 0) return false;
      const uint32_t burst = control_->burst.load(std::memory_order_relaxed);
      tokens_ = uint32_t(gained < burst ? gained : burst);
      refilled_ns_ = now_ns;
      if (tokens_ == 0) return false;
    }
    --tokens_;
    return true;
  }

  PuntRing* ring_ = nullptr;
  const PuntControl* control_ = nullptr;
  uint32_t tokens_ = 0;
  uint64_t refilled_ns_ = 0;
};

}  // namespace mcr
