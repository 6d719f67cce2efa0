// SPDX-License-Identifier: MIT
// The maps the XDP path's programs (native/xdp/forward.bpf.c) share with the data plane's
// control thread (native/core/xdp.cc): plain C, included by both.
#ifndef MCR_XDP_MAPS_H
#define MCR_XDP_MAPS_H

#include <linux/types.h>

// Sizes: the rules and output sets the programs hold (a rule beyond them stays on the
// AF_PACKET path), and the counter slots (the counter file's own).
#define MCR_XDP_MAX_RULES 4096
#define MCR_XDP_MAX_SETS 1024
#define MCR_XDP_MAX_SET_OUTPUTS 64
#define MCR_XDP_RULE_SLOTS 4096
#define MCR_XDP_OUTPUT_SLOTS 16384

// rules: which received datagrams the ingress program forwards.
struct mcr_xdp_rule_key {
  __u32 ifindex;  // input interface
  __u32 group;    // destination address, network order
  __u32 port;     // destination port, host order
};
struct mcr_xdp_rule {
  __u32 counter_slot;  // rule counters
  __u32 set;           // output set: index into the sets map (a devmap of the outputs' interfaces)
  __u32 max_payload;   // larger datagrams (they need fragmenting somewhere) are left to the AF_PACKET path
  __u32 outputs;
};

// outputs: what the egress program writes into each copy, keyed by set and output interface.
struct mcr_xdp_output_key {
  __u32 set;
  __u32 ifindex;
};
struct mcr_xdp_output {
  __u8 dst_mac[6];
  __u8 src_mac[6];
  __u32 source;              // network order
  __u32 group;               // network order
  __u16 src_port, dst_port;  // network order
  __u8 ttl;                  // 0: the received TTL minus one (a decrementing output)
  __u8 pad[3];
  __u32 counter_slot;  // output counters
};

// Per-CPU counters, summed by the control thread.
struct mcr_xdp_count {
  __u64 packets;
  __u64 bytes;
};
enum mcr_xdp_total {
  MCR_XDP_RX_FRAMES,  // datagrams a rule matched, forwarded by XDP
  MCR_XDP_RX_BYTES,
  MCR_XDP_TX_PACKETS,  // copies handed to an output interface
  MCR_XDP_TX_BYTES,
  MCR_XDP_TTL_EXPIRED,  // copies of a decrementing output not sent: TTL 1 or 0
  MCR_XDP_PASSED,       // matched, but left to the AF_PACKET path (malformed, IP options, too large)
  MCR_XDP_TOTALS
};

#endif
