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
#include "mcr/parse.h"
#include "mcr/punt_record.h"

namespace mcr {

class IngressRing;

// Input interfaces one table (and so one worker's poll set) can hold.
constexpr size_t kMaxInputs = 256;

struct OutputEntry {
  sockaddr_in dest;
  uint32_t egress_index;  // which egress socket of the table sends it: its UDP socket
  uint32_t counter_slot;  // index into WorkerBlock::outputs
  bool decrement_ttl;     // send with the received TTL minus one instead of the socket's TTL
  // Forwarded as a router does (routed outputs, mcr/egress.h fill_routed_header): the received
  // IPv4 header kept but for TTL - 1 and its checksum, through packet egress only; decrement_ttl
  // is set too. packet_payload_limit is then the output MTU + 1: longer IP packets are dropped
  // and counted (tx_err_too_big), never fragmented.
  bool routed;
  // Port 0 on a republished output: the copy keeps the received datagram's destination port.
  bool keep_port;
  // Packet egress (mcr/egress.h): payloads shorter than this go through the egress socket
  // packet_egress_index with packet_header; longer ones (they need fragmenting) and every
  // payload of an output without packet egress (limit 0) through the UDP socket.
  uint32_t packet_payload_limit;
  uint32_t packet_egress_index;
  PacketTemplate packet_header;
};

enum class Protocol : uint8_t { udp, esp };

struct RuleEntry {
  uint32_t input_index;   // which TableInput the rule listens on
  uint32_t group;         // network byte order
  uint16_t port;          // host byte order; 0 = any UDP port (an ESP entry's is 0)
  uint32_t counter_slot;  // index into WorkerBlock::rules
  uint32_t first_output;
  uint32_t output_count;
  // Some output decrements the TTL, is routed or keeps the packet's port: the per-output loop
  // (process_frame), so rules with none of these pay nothing for them.
  bool per_output_work;
  uint32_t source;  // network byte order; 0 = any source, else an (S,G) entry
  Protocol protocol;
  // Copy matched packets to mcrd (mcr/punt.h), rate-limited; such a rule has per_output_work set,
  // so the check costs rules without it nothing.
  PuntReason punt;
};

struct TableInput {
  int ifindex;
  IngressRing* rings[kMaxWorkers];  // one per worker, owned by the Relay
  // The input's (*,*) entry (group 0: a punting rule, PIM's watch for new sources on an
  // interface), which takes multicast datagrams no other entry matched; kNoRule when none. Not in
  // the hash index, so lookups never see it: only the no-match path does.
  uint32_t any_group_rule = kNoRule;
  static constexpr uint32_t kNoRule = 0xffffffffu;
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

  // The most specific entry for a datagram on `input_index`: (S,G,port), then (S,G,any), then
  // (*,G,port), then (*,G,any), then the input's (*,*) entry for routable multicast. port: the
  // UDP destination port, or kEspPort for ESP (which only ESP entries match). source: the datagram's source, network
  // order. A table with only
  // (*,G,port) UDP entries does one probe, as before sources and any-port entries existed.
  // No allocation.
  const RuleEntry* lookup(uint32_t input_index, uint32_t group, uint32_t port, uint32_t source = 0) const {
    const uint64_t key = make_key(input_index, group, port);
    if (kinds_ == 0) [[likely]]
      return probe<false>(key, 0);
    return lookup_specific(key, port, source);
  }

 private:
  static constexpr uint32_t kEmpty = 0xffffffffu;
  // Which entry kinds beyond (*,G,port) the table holds (build_index), so lookup probes only for
  // kinds that exist.
  static constexpr uint8_t kSourceEntries = 1, kAnyPortEntries = 2, kAnyGroupEntries = 4;
  struct Slot {
    uint64_t key;
    uint32_t source;
    uint32_t entry;  // kEmpty: free
  };
  // input < kMaxInputs (8 bits) at 56, port (17 bits with kEspPort) at 32, group below.
  static uint64_t make_key(uint32_t input, uint32_t group, uint32_t port) {
    return (uint64_t(input) << 56) | (uint64_t(port) << 32) | group;
  }
  static uint32_t hash(uint64_t key, uint32_t source) {
    key = (key ^ (uint64_t(source) << 13)) * 0x9e3779b97f4a7c15ULL;
    return uint32_t(key >> 32);
  }
  // CompareSource false: the table has no (S,G) entries (every slot's source is 0).
  template <bool CompareSource = true>
  [[gnu::always_inline]] const RuleEntry* probe(uint64_t key, uint32_t source) const {
    if (index_mask_ == 0) return nullptr;
    for (uint32_t slot = hash(key, source) & index_mask_;; slot = (slot + 1) & index_mask_) {
      const Slot& s = slots_[slot];
      if (s.entry == kEmpty) return nullptr;
      if (s.key == key && (!CompareSource || s.source == source)) return &rules[s.entry];
    }
  }
  const RuleEntry* lookup_specific(uint64_t key, uint32_t port, uint32_t source) const;

  std::vector<Slot> slots_;
  uint32_t index_mask_ = 0;
  uint8_t kinds_ = 0;
};

}  // namespace mcr
