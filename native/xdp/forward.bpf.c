// SPDX-License-Identifier: GPL-2.0 OR MIT
// mcr's XDP path (docs/xdp.md): forwarding inside the kernel's receive path, for the rules the
// data plane's control thread puts in the `rules` map (native/core/xdp.cc).
//
// mcr_xdp_ingress runs on each input interface. A datagram that matches a rule is counted and
// broadcast (BPF_F_BROADCAST) to the rule's output set: a devmap holding one entry per output
// interface, each with mcr_xdp_egress attached. The kernel hands every output its own copy, and
// mcr_xdp_egress rewrites that copy for its output (MACs, addresses, ports, TTL, checksums) from
// the `outputs` map. Everything else (no rule, malformed, IP options, fragments, too large for an
// output's MTU) is passed on unchanged, to the AF_PACKET path that counts and handles it.
//
// Checksums: the IPv4 header checksum is recomputed; a UDP checksum is updated incrementally for
// the new addresses and ports (RFC 1624), so it must be complete on arrival, as it is from a NIC.
// A frame from a local sender over veth with checksum offload carries only a partial checksum,
// which XDP cannot see or finish (docs/xdp.md).
// The kernel's types first: libbpf's helper headers use them.
#include <linux/bpf.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>

#include "mcr/xdp_maps.h"

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, MCR_XDP_MAX_RULES);
  __type(key, struct mcr_xdp_rule_key);
  __type(value, struct mcr_xdp_rule);
} rules SEC(".maps");

// The inner maps are created by the control thread, one per output set (libbpf 1.1 needs the
// sizes spelled out for a devmap declared as an inner map).
struct output_set {
  __uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
  __uint(max_entries, MCR_XDP_MAX_SET_OUTPUTS);
  __uint(key_size, sizeof(__u32));
  __uint(value_size, sizeof(struct bpf_devmap_val));
};
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
  __uint(max_entries, MCR_XDP_MAX_SETS);
  __type(key, __u32);
  __array(values, struct output_set);
} sets SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, MCR_XDP_MAX_SETS* MCR_XDP_MAX_SET_OUTPUTS);
  __type(key, struct mcr_xdp_output_key);
  __type(value, struct mcr_xdp_output);
} outputs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, MCR_XDP_RULE_SLOTS);
  __type(key, __u32);
  __type(value, struct mcr_xdp_count);
} rule_counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, MCR_XDP_OUTPUT_SLOTS);
  __type(key, __u32);
  __type(value, struct mcr_xdp_count);
} output_counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, MCR_XDP_TOTALS);
  __type(key, __u32);
  __type(value, __u64);
} totals SEC(".maps");

static __always_inline void add_total(__u32 which, __u64 by) {
  __u64* v = bpf_map_lookup_elem(&totals, &which);
  if (v) *v += by;
}

static __always_inline __u16 fold(__u64 sum) {
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return (__u16)sum;
}

static __always_inline __u64 ip_header_sum(const struct iphdr* ip) {
  const __u32* w = (const __u32*)ip;
  return (__u64)w[0] + w[1] + w[2] + w[3] + w[4];
}

// The headers of a datagram a rule may match, or NULL: IPv4 without options, UDP, no fragment.
struct parsed {
  struct ethhdr* eth;
  struct iphdr* ip;
  struct udphdr* udp;
};

static __always_inline int parse(struct xdp_md* ctx, struct parsed* p) {
  void* data = (void*)(long)ctx->data;
  void* end = (void*)(long)ctx->data_end;
  p->eth = data;
  if ((void*)(p->eth + 1) > end || p->eth->h_proto != bpf_htons(ETH_P_IP)) return 0;
  p->ip = (void*)(p->eth + 1);
  if ((void*)(p->ip + 1) > end || p->ip->version != 4 || p->ip->ihl != 5 || p->ip->protocol != IPPROTO_UDP) return 0;
  if (p->ip->frag_off & bpf_htons(0x3fff)) return 0;
  p->udp = (void*)(p->ip + 1);
  if ((void*)(p->udp + 1) > end) return 0;
  return 1;
}

SEC("xdp")
int mcr_xdp_ingress(struct xdp_md* ctx) {
  struct parsed p;
  if (!parse(ctx, &p)) return XDP_PASS;
  struct mcr_xdp_rule_key key = {ctx->ingress_ifindex, p.ip->daddr, bpf_ntohs(p.udp->dest)};
  struct mcr_xdp_rule* rule = bpf_map_lookup_elem(&rules, &key);
  if (!rule) return XDP_PASS;
  // What the AF_PACKET path would count as malformed it sees and counts itself.
  const __u32 frame_ip_bytes = (__u32)((long)ctx->data_end - (long)p.ip);
  const __u32 total = bpf_ntohs(p.ip->tot_len);
  const __u32 udp_len = bpf_ntohs(p.udp->len);
  if (total < 28 || total > frame_ip_bytes || udp_len < 8 || udp_len > total - 20 ||
      fold(ip_header_sum(p.ip)) != 0xffff || udp_len - 8 > rule->max_payload) {
    add_total(MCR_XDP_PASSED, 1);
    return XDP_PASS;
  }
  void* set = bpf_map_lookup_elem(&sets, &rule->set);
  if (!set) return XDP_PASS;
  __u32 slot = rule->counter_slot;
  struct mcr_xdp_count* c = bpf_map_lookup_elem(&rule_counters, &slot);
  if (c) {
    c->packets += 1;
    c->bytes += udp_len - 8;
  }
  add_total(MCR_XDP_RX_FRAMES, 1);
  add_total(MCR_XDP_RX_BYTES, (long)ctx->data_end - (long)ctx->data);
  return bpf_redirect_map(set, 0, BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS);
}

SEC("xdp/devmap")
int mcr_xdp_egress(struct xdp_md* ctx) {
  struct parsed p;
  if (!parse(ctx, &p)) return XDP_DROP;
  struct mcr_xdp_rule_key key = {ctx->ingress_ifindex, p.ip->daddr, bpf_ntohs(p.udp->dest)};
  struct mcr_xdp_rule* rule = bpf_map_lookup_elem(&rules, &key);
  if (!rule) return XDP_DROP;  // the rule went away between the two programs
  struct mcr_xdp_output_key okey = {rule->set, ctx->egress_ifindex};
  struct mcr_xdp_output* out = bpf_map_lookup_elem(&outputs, &okey);
  if (!out) return XDP_DROP;
  __u8 ttl = out->ttl;
  if (ttl == 0) {
    if (p.ip->ttl <= 1) {
      add_total(MCR_XDP_TTL_EXPIRED, 1);
      return XDP_DROP;
    }
    ttl = p.ip->ttl - 1;
  }
  __builtin_memcpy(p.eth->h_dest, out->dst_mac, 6);
  __builtin_memcpy(p.eth->h_source, out->src_mac, 6);
  // UDP first, while the old addresses and ports are still in the packet: ~HC + ~m + m'.
  if (p.udp->check != 0) {
    __u64 s = (__u16)~p.udp->check;
    s += (__u32)~p.ip->saddr;
    s += (__u32)~p.ip->daddr;
    s += (__u16)~p.udp->source;
    s += (__u16)~p.udp->dest;
    s += (__u64)out->source + out->group + out->src_port + out->dst_port;
    __u16 c = ~fold(s);
    p.udp->check = c ? c : 0xffff;
  }
  p.udp->source = out->src_port;
  p.udp->dest = out->dst_port;
  p.ip->saddr = out->source;
  p.ip->daddr = out->group;
  p.ip->ttl = ttl;
  p.ip->check = 0;
  p.ip->check = ~fold(ip_header_sum(p.ip));
  const __u32 udp_len = bpf_ntohs(p.udp->len);
  __u32 slot = out->counter_slot;
  struct mcr_xdp_count* c = bpf_map_lookup_elem(&output_counters, &slot);
  if (c) {
    c->packets += 1;
    c->bytes += udp_len - 8;
  }
  add_total(MCR_XDP_TX_PACKETS, 1);
  add_total(MCR_XDP_TX_BYTES, udp_len - 8);
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
