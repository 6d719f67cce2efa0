// SPDX-License-Identifier: MIT
// Open-addressing index over the rule table, built on the control path.
#include "mcr/rule_table.h"

namespace mcr {

void RuleTable::build_index() {
  uint32_t capacity = 16;
  while (capacity < rules.size() * 2) capacity <<= 1;
  keys_.assign(capacity, 0);
  index_.assign(capacity, kEmpty);
  index_mask_ = capacity - 1;
  for (uint32_t i = 0; i < rules.size(); ++i) {
    const RuleEntry& r = rules[i];
    uint64_t key = make_key(r.input_index, r.group, r.port);
    uint32_t slot = hash(key) & index_mask_;
    while (index_[slot] != kEmpty && keys_[slot] != key) slot = (slot + 1) & index_mask_;
    keys_[slot] = key;
    index_[slot] = i;  // a duplicate key keeps the later rule; the TypeScript side rejects duplicates
  }
}

}  // namespace mcr
