// SPDX-License-Identifier: MIT
// The rule index: exact match on input, group and port over a thousand rules; an empty table;
// the precedence of (S,G,port), (S,G,any), (*,G,port), (*,G,any) and ESP entries.
#include <arpa/inet.h>

#include <cstdint>
#include <cstdio>

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
  run("rule table: the most specific of (S,G,port), (S,G,any), (*,G,port), (*,G,any) wins", [](bool& ok) {
    const uint32_t g = htonl(0xef010101u), s1 = htonl(0x0a000101u), s2 = htonl(0x0a000102u), s3 = htonl(0x0a000103u);
    // Entries by counter slot: 0 (S1,G,5001), 1 (S1,G,any), 2 (*,G,5001), 3 (*,G,any), 4 (S2,G,any),
    // 5 (*,G,ESP), 6 (S3,G,ESP), 7 (S2,G,5002).
    struct E {
      uint32_t source;
      uint16_t port;
      mcr::Protocol protocol;
    };
    const E entries[] = {{s1, 5001, mcr::Protocol::udp}, {s1, 0, mcr::Protocol::udp},   {0, 5001, mcr::Protocol::udp},
                         {0, 0, mcr::Protocol::udp},     {s2, 0, mcr::Protocol::udp},   {0, 0, mcr::Protocol::esp},
                         {s3, 0, mcr::Protocol::esp},    {s2, 5002, mcr::Protocol::udp}};
    mcr::RuleTable t;
    for (uint32_t i = 0; i < 8; ++i) {
      mcr::RuleEntry r{};
      r.group = g;
      r.port = entries[i].port;
      r.source = entries[i].source;
      r.protocol = entries[i].protocol;
      r.counter_slot = i;
      t.rules.push_back(r);
    }
    for (uint32_t i = 0; i < 200; ++i) {  // idle (*,G,port) rules of other groups
      mcr::RuleEntry r{};
      r.group = htonl(0xef020000u + i);
      r.port = uint16_t(7000 + i);
      r.counter_slot = 100 + i;
      t.rules.push_back(r);
    }
    t.build_index();
    auto slot = [&](uint32_t port, uint32_t source, uint32_t input = 0) {
      const mcr::RuleEntry* r = t.lookup(input, g, port, source);
      return r == nullptr ? -1 : int(r->counter_slot);
    };
    // port, source -> the winning entry
    const struct {
      uint32_t port, source;
      int want;
    } cases[] = {
        {5001, s1, 0},           // (S,G,port)
        {5009, s1, 1},           // (S,G,any) over (*,G,any)
        {5001, s2, 4},           // (S,G,any) over (*,G,port)
        {5002, s2, 7},           // (S2,G,5002)
        {5001, s3, 2},           // no (S3,G) UDP entry: (*,G,port)
        {5009, s3, 3},           // (*,G,any)
        {0, s3, 3},              // a UDP datagram to port 0 is an any-port match too
        {mcr::kEspPort, s1, 5},  // ESP: (*,G,ESP); never a UDP any-port entry
        {mcr::kEspPort, s3, 6},  // (S,G,ESP)
    };
    for (const auto& c : cases) {
      const int got = slot(c.port, c.source);
      if (got != c.want)
        std::printf("  port %u source %08x: entry %d, want %d\n", c.port, ntohl(c.source), got, c.want);
      CHECK(got == c.want);
    }
    CHECK(slot(5001, s1, 1) == -1);  // another input
    CHECK(t.lookup(0, htonl(0xef020005u), 7005, s1) != nullptr &&
          t.lookup(0, htonl(0xef020005u), 7005, s1)->counter_slot == 105);
    CHECK(t.lookup(0, htonl(0xef020005u), 7006, s1) == nullptr);

    // Without the any-port and ESP entries, ESP to the group matches nothing.
    mcr::RuleTable plain;
    mcr::RuleEntry r{};
    r.group = g;
    r.port = 5001;
    plain.rules.push_back(r);
    r.port = 0;
    r.source = s1;
    r.counter_slot = 1;
    plain.rules.push_back(r);
    plain.build_index();
    CHECK(plain.lookup(0, g, mcr::kEspPort, s1) == nullptr);
    CHECK(plain.lookup(0, g, 5001, s2) != nullptr && plain.lookup(0, g, 5001, s2)->counter_slot == 0);
    CHECK(plain.lookup(0, g, 5001, s1) != nullptr && plain.lookup(0, g, 5001, s1)->counter_slot == 1);
    CHECK(plain.lookup(0, g, 5002, s2) == nullptr);
  });
  run("rule table: (S,G) entries of many sources for one group, each found, others not", [](bool& ok) {
    mcr::RuleTable t;
    for (uint32_t i = 0; i < 500; ++i) {
      mcr::RuleEntry r{};
      r.group = htonl(0xef010101u);
      r.port = 5001;
      r.source = htonl(0x0a000000u + i + 1);
      r.counter_slot = i;
      t.rules.push_back(r);
    }
    t.build_index();
    int wrong = 0;
    for (uint32_t i = 0; i < 500; ++i) {
      const mcr::RuleEntry* r = t.lookup(0, htonl(0xef010101u), 5001, htonl(0x0a000000u + i + 1));
      if (r == nullptr || r->counter_slot != i) ++wrong;
    }
    CHECK(wrong == 0);
    CHECK(t.lookup(0, htonl(0xef010101u), 5001, htonl(0x0b000001u)) == nullptr);
  });
  run("rule table: empty table matches nothing", [](bool& ok) {
    mcr::RuleTable t;
    CHECK(t.lookup(0, 0, 0) == nullptr);
    t.build_index();
    CHECK(t.lookup(0, htonl(0xef010101u), 5001) == nullptr);
  });
}

}  // namespace mcr_test
