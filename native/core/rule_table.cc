// SPDX-License-Identifier: MIT
// Open-addressing index over the rule table, built on the control path, and the lookup for
// tables that hold (S,G) or any-port entries.
#include "mcr/rule_table.h"

#include <arpa/inet.h>

namespace mcr {

namespace {
uint32_t table_port(const RuleEntry& r) { return r.protocol == Protocol::esp ? kEspPort : r.port; }
}  // namespace

void RuleTable::build_index() {
  uint32_t capacity = 16;
  while (capacity < rules.size() * 2) capacity <<= 1;
  slots_.assign(capacity, Slot{0, 0, kEmpty});
  index_mask_ = capacity - 1;
  kinds_ = 0;
  for (TableInput& in : inputs) in.any_group_rule = TableInput::kNoRule;
  for (uint32_t i = 0; i < rules.size(); ++i) {
    const RuleEntry& r = rules[i];
    if (r.group == 0) {
      inputs[r.input_index].any_group_rule = i;
      kinds_ |= kAnyGroupEntries;
      continue;
    }
    if (r.source != 0) kinds_ |= kSourceEntries;
    if (r.protocol == Protocol::udp && r.port == 0) kinds_ |= kAnyPortEntries;
    const uint64_t key = make_key(r.input_index, r.group, table_port(r));
    uint32_t slot = hash(key, r.source) & index_mask_;
    while (slots_[slot].entry != kEmpty && !(slots_[slot].key == key && slots_[slot].source == r.source))
      slot = (slot + 1) & index_mask_;
    // A duplicate key keeps the later rule; the TypeScript side rejects duplicates.
    slots_[slot] = Slot{key, r.source, i};
  }
}

const RuleEntry* RuleTable::lookup_specific(uint64_t key, uint32_t port, uint32_t source) const {
  // The any-port key: the same input and group with port 0 (UDP only: ESP has no ports).
  const bool any_port = (kinds_ & kAnyPortEntries) != 0 && port != kEspPort && port != 0;
  const uint64_t any_key = key & ~(uint64_t(0x1ffff) << 32);
  if ((kinds_ & kSourceEntries) != 0 && source != 0) {
    if (const RuleEntry* r = probe(key, source)) return r;
    if (any_port)
      if (const RuleEntry* r = probe(any_key, source)) return r;
  }
  if (const RuleEntry* r = probe(key, 0)) return r;
  if (any_port)
    if (const RuleEntry* r = probe(any_key, 0)) return r;
  if ((kinds_ & kAnyGroupEntries) == 0) return nullptr;
  // The input's (*,*) entry takes routable multicast only (not 224.0.0.0/24).
  const uint32_t any = inputs[key >> 56].any_group_rule;
  const uint32_t group = ntohl(uint32_t(key));
  if (any == TableInput::kNoRule || (group >> 28) != 0xe || (group >> 8) == 0xe00000) return nullptr;
  return &rules[any];
}

}  // namespace mcr
