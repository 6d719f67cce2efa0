// SPDX-License-Identifier: MIT
// The immutable forwarding table that workers read. The control thread builds a new one for
// every change and publishes it with one atomic pointer store; workers pick it up between
// batches, so a change never pauses forwarding and never disturbs other rules' packets.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "mcr/counters.h"
#include "mcr/egress.h"

namespace mcr {

class IngressRing;

// Input interfaces one table (and so one worker's poll set) can hold.
constexpr size_t kMaxInputs = 256;

struct OutputEntry {
  sockaddr_in dest;
  uint32_t egress_index;  // which egress socket of the table sends it: its UDP socket
  uint32_t counter_slot;  // index into WorkerBlock::outputs
  bool decrement_ttl;     // send with the received TTL minus one instead of the socket's TTL
  // Packet egress (mcr/egress.h): payloads shorter than this go through the egress socket
  // packet_egress_index with packet_header; longer ones (they need fragmenting) and every
  // payload of an output without packet egress (limit 0) through the UDP socket.
  uint32_t packet_payload_limit;
  uint32_t packet_egress_index;
  PacketTemplate packet_header;
};

struct RuleEntry {
  uint32_t input_index;   // which TableInput the rule listens on
  uint32_t group;         // network byte order
  uint16_t port;          // host byte order
  uint32_t counter_slot;  // index into WorkerBlock::rules
  uint32_t first_output;
  uint32_t output_count;
  bool decrements_ttl;  // some output has OutputEntry::decrement_ttl (the slower loop)
};

struct TableInput {
  int ifindex;
  IngressRing* rings[kMaxWorkers];  // one per worker, owned by the Relay
};

class RuleTable {
 public:
  std::vector<TableInput> inputs;
  std::vector<RuleEntry> rules;
  std::vector<OutputEntry> outputs;
  std::vector<int> egress_fds;
  std::vector<int> egress_ifindex;  // per egress socket: its interface (span records)

  // Builds the hash index over `rules`; call once after filling the vectors.
  void build_index();

  // Exact match on (input, destination address, destination port). No allocation.
  const RuleEntry* lookup(uint32_t input_index, uint32_t group, uint16_t port) const {
    if (index_mask_ == 0) return nullptr;
    uint64_t key = make_key(input_index, group, port);
    for (uint32_t slot = hash(key) & index_mask_;; slot = (slot + 1) & index_mask_) {
      uint32_t entry = index_[slot];
      if (entry == kEmpty) return nullptr;
      if (keys_[slot] == key) return &rules[entry];
    }
  }

 private:
  static constexpr uint32_t kEmpty = 0xffffffffu;
  static uint64_t make_key(uint32_t input, uint32_t group, uint16_t port) {
    return (uint64_t(input) << 48) ^ (uint64_t(port) << 32) ^ group;
  }
  static uint32_t hash(uint64_t key) {
    key *= 0x9e3779b97f4a7c15ULL;
    return uint32_t(key >> 32);
  }
  std::vector<uint64_t> keys_;
  std::vector<uint32_t> index_;
  uint32_t index_mask_ = 0;
};

}  // namespace mcr
