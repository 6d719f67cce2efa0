// SPDX-License-Identifier: MIT
// The rule index: exact match on input, group and port over a thousand rules; an empty table.
#include <arpa/inet.h>

#include <cstdint>

#include "harness.h"
#include "mcr/rule_table.h"

namespace mcr_test {

void rule_table_tests() {
  run("rule table: exact match on input, group and port", [](bool& ok) {
    mcr::RuleTable t;
    for (uint32_t i = 0; i < 1000; ++i) {
      mcr::RuleEntry r{};
      r.input_index = i % 3;
      r.group = htonl(0xef010000u + i);
      r.port = uint16_t(5000 + i);
      r.counter_slot = i;
      t.rules.push_back(r);
    }
    t.build_index();
    for (uint32_t i = 0; i < 1000; ++i) {
      const mcr::RuleEntry* r = t.lookup(i % 3, htonl(0xef010000u + i), uint16_t(5000 + i));
      CHECK(r != nullptr && r->counter_slot == i);
    }
    CHECK(t.lookup(0, htonl(0xef010000u), 5001) == nullptr);  // wrong port
    CHECK(t.lookup(1, htonl(0xef010000u), 5000) == nullptr);  // wrong input
    CHECK(t.lookup(0, htonl(0xef020000u), 5000) == nullptr);  // wrong group
  });
  run("rule table: empty table matches nothing", [](bool& ok) {
    mcr::RuleTable t;
    CHECK(t.lookup(0, 0, 0) == nullptr);
    t.build_index();
    CHECK(t.lookup(0, htonl(0xef010101u), 5001) == nullptr);
  });
}

}  // namespace mcr_test
