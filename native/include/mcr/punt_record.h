// SPDX-License-Identifier: MIT
// Punt records: packets a routing protocol must see (PIM's data-driven events: a new source on a
// shared-tree route, a source to register, data arriving on an outgoing interface), copied by the
// workers into their own single-producer ring in the counter file and taken out by mcrd. Layout
// only; the worker's side is mcr/punt.h.
#pragma once

#include <atomic>
#include <cstdint>

namespace mcr {

// Why a rule punts. The order is part of the shared-memory layout and of the binding's names.
enum class PuntReason : uint8_t {
  none = 0,
  new_source = 1,       // a shared-tree (*,G) route: tell PIM which sources send (SPT switch)
  register_source = 2,  // an (S,G) the first-hop DR registers: PIM encapsulates each packet
  wrong_interface = 3,  // data on an outgoing interface: PIM runs an Assert
};
constexpr uint8_t kPuntReasonCount = 4;

// The reasons' names in the binding and in mcrd ("none" for 0).
inline const char* punt_reason_name(uint8_t reason) {
  static const char* const names[kPuntReasonCount] = {"none", "new_source", "register", "wrong_interface"};
  return reason < kPuntReasonCount ? names[reason] : "unknown";
}

constexpr uint32_t kPuntRingRecords = 128;  // per worker; a power of two
// Enough for an MTU-1500 packet with room to spare; longer packets are copied this far and
// flagged (a Register of a truncated packet is never sent).
constexpr uint32_t kPuntPacketBytes = 2048;

struct PuntRecord {
  uint64_t time_ns;      // CLOCK_REALTIME when the worker punted it
  uint32_t ifindex;      // the interface it arrived on
  uint32_t rule_slot;    // the counter slot of the rule that punted it
  uint32_t wire_length;  // the IPv4 packet's total length
  uint16_t length;       // bytes of it copied into packet
  uint8_t reason;        // PuntReason
  uint8_t reserved;
  uint8_t packet[kPuntPacketBytes];  // the IPv4 packet from its header on
};
static_assert(sizeof(PuntRecord) % 8 == 0);

// Single producer (one worker), single consumer (mcrd), as SpanRing.
struct alignas(128) PuntRing {
  alignas(64) std::atomic<uint64_t> head;  // records written (worker)
  alignas(64) std::atomic<uint64_t> tail;  // records taken (mcrd)
  PuntRecord records[kPuntRingRecords];
};

// Written by mcrd (and set to the defaults when a data plane starts); each worker reads it when
// its bucket refills.
struct alignas(128) PuntControl {
  std::atomic<uint32_t> per_second;  // tokens each worker gains per second; 0 = punt nothing
  std::atomic<uint32_t> burst;       // the most a worker's bucket holds
};

constexpr uint32_t kPuntPerSecondDefault = 1000;
constexpr uint32_t kPuntBurstDefault = 64;

}  // namespace mcr
