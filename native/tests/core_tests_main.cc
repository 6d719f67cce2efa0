// SPDX-License-Identifier: MIT
// Unit tests of the forwarding core without Node, one file per unit (parse, rule table,
// counters, send batcher, per-frame forwarding, receive rings) over harness.h. Prints
// "N passed, N failed" (scripts/test.js reads it) and exits non-zero on any failure.
#include <cstdio>

#include "harness.h"

int main() {
  mcr_test::parse_tests();
  mcr_test::rule_table_tests();
  mcr_test::counter_tests();
  mcr_test::batcher_tests();
  mcr_test::forward_tests();
  mcr_test::packet_egress_tests();
  mcr_test::ring_tests();
  mcr_test::igmp_socket_tests();
  mcr_test::pim_socket_tests();
  mcr_test::ip_sender_tests();
  mcr_test::route_lookup_tests();
  std::printf("%d passed, %d failed\n", mcr_test::passed, mcr_test::failed);
  return mcr_test::failed == 0 ? 0 : 1;
}
