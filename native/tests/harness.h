// SPDX-License-Identifier: MIT
// The core tests' harness: CHECK inside a run() body marks the case failed and goes on, run()
// prints one "ok"/"FAIL" line per case and counts it. core_tests_main.cc prints the
// "N passed, N failed" line scripts/test.js reads.
#pragma once

#include <cstdio>
#include <functional>

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::printf("  check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      ok = false;                                                              \
    }                                                                          \
  } while (0)

namespace mcr_test {

inline int passed = 0;
inline int failed = 0;

inline void run(const char* name, const std::function<void(bool&)>& body) {
  bool ok = true;
  body(ok);
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", name);
  (ok ? passed : failed)++;
}

// One function per unit, each in its own file; main runs them in this order.
void parse_tests();
void rule_table_tests();
void counter_tests();
void batcher_tests();
void forward_tests();
void packet_egress_tests();
void ring_tests();
void igmp_socket_tests();
void pim_socket_tests();
void ip_sender_tests();
void route_lookup_tests();

}  // namespace mcr_test
