// SPDX-License-Identifier: MIT
// libFuzzer target over the workers' per-frame step (mcr::process_frame, then SendBatcher::flush)
// into a null sink. Besides ASan/UBSan's checks it asserts what the counters promise: every
// frame lands in exactly one verdict counter, the rule it matched is the one a linear scan picks
// (the most specific of (S,G,port), (S,G,any), (*,G,port), (*,G,any); ESP only meets ESP rules),
// and each of that rule's outputs is either sent, counted as a send error, counted as
// ttl_expired (TTL-decrementing or routed outputs, received TTL <= 1) or, for a routed output,
// as tx_err_too_big (IP packet over its MTU). And each message the sink sees is what the output
// should send:
//   UDP socket: the datagram's payload exactly (inside the captured bytes), to the output's
//     address, or with the datagram's port for a port-0 output; an IP_TTL control message with
//     the received TTL minus one exactly when the output decrements.
//   packet egress, republished: the output's template with the lengths, TTL, a valid IP header
//     checksum, the kept port for a port-0 output, and a UDP checksum that verifies whenever
//     the received one did (or the pseudo-header sum the NIC completes, for a partial one).
//   packet egress, routed: the received IPv4 header with TTL - 1 and a valid checksum (options
//     included), then the rest of the received packet from the ring slot, unchanged.
// And the punt path (mcr/punt.h): a frame that matched a punting rule (a routed (*,G,any)
// new_source, an (S,G,any) register, a wrong_interface (S,G) without outputs, input 1's (*,*)
// entry) moves exactly one of punted, punt_rate_limited, punt_ring_full; any other frame (or one
// with no Punter in the batcher) moves none. A copied record holds the frame's IPv4 packet (its
// total length, capped at kPuntPacketBytes), the rule's reason and slot and the input's ifindex;
// a full ring is never written; a fresh bucket with a rate and a burst is never rate-limited, one
// at rate or burst 0 always is; a long-lived bucket that ran dry stays dry at rate or burst 0, and
// one that saw a full ring still holds a token. The (*,*) entry takes routable multicast only
// (224/4 but not 224.0.0.0/24) that no other entry matched.
//
// Input layout: bytes 0 and 1 are control bytes, the rest is the captured frame (snaplen =
// size - 2, in its own exact-size allocation so ASan sees any read past it).
// Byte 0:
//   bit 0     input interface index (0 or 1; the tables differ per input)
//   bits 1-2  how the null sink behaves: 0 accepts all, 1 accepts half (partial sends),
//             2 fails with EAGAIN (drop the rest), 3 EINTR then EPERM (retry, then drop one)
//   bits 3-5  bytes the frame had on the wire beyond the captured ones (wire_len > snaplen)
//   bit 6     the ring marked the frame's UDP checksum partial (TP_STATUS_CSUMNOTREADY)
//   bit 7     which table: 0 the full one (every rule kind), 1 the plain one (its (*,G,port) UDP
//             rules only, which the table looks up with its one-probe path)
// Byte 1, the punt path:
//   bits 0-1  PuntControl per_second: 0, 1, 1000, 0xffffffff
//   bits 2-3  PuntControl burst: 0, 1, 64, 0xffffffff
//   bit 4     the bucket: 0 a fresh Punter (empty, never refilled), 1 the ring's long-lived one
//   bits 5-6  the ring: 0-2 the one the target drains after each frame, with 0, 127 (one slot
//             left) or 128 (full) records unread; 3 the one it never drains (full after 128 copies)
//   bit 7     no Punter in the batcher: punting rules only forward
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "mcr/counters.h"
#include "mcr/egress.h"
#include "mcr/forward.h"
#include "mcr/parse.h"
#include "mcr/punt.h"
#include "mcr/punt_record.h"
#include "mcr/rule_table.h"
#include "trace_fixture.h"

namespace {

// The harness's own checks, run per message (4099 times for a huge fan-out), need no coverage
// guidance: without comparison tracing in them the target runs about N times faster.
#define MCR_FUZZ_UNGUIDED __attribute__((no_sanitize("coverage")))

#define FUZZ_CHECK(cond)                                                                            \
  do {                                                                                              \
    if (!(cond)) {                                                                                  \
      std::fprintf(stderr, "frame_fuzzer: check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                                 \
    }                                                                                               \
  } while (0)

// The plain rules, on both tables. The "huge" ones have more outputs than the batcher's scratch
// space, so a frame that matches them takes process_frame's early-flush path; the "dec" ones
// have outputs with ttl "decrement" (every other one), so they take its per-output loop.
constexpr uint32_t kGroupPair = 0xef010101u, kGroupOne = 0xef010102u, kGroupHuge = 0xef010103u;
constexpr uint32_t kGroupDec = 0xef010104u, kGroupHugeDec = 0xef010105u;
constexpr uint16_t kPortPair = 5001, kPortOne = 5002, kPortHuge = 5003, kPortDec = 5004, kPortHugeDec = 5005;
constexpr uint32_t kHugeFanOut = mcr::SendBatcher::kMaxPending + 3;
// The full table's other rules (sources, any port, ESP, routed and port-keeping outputs).
constexpr uint32_t kSource1 = 0x0a000201u, kSource2 = 0x0a000202u;  // 10.0.2.1, 10.0.2.2
constexpr uint32_t kGroupSg = 0xef010201u;                          // all four kinds of entry
constexpr uint16_t kPortSg = 5101;
constexpr uint32_t kGroupAnyPort = 0xef010202u;  // (*,G,any) with port-keeping outputs
constexpr uint32_t kGroupEsp = 0xef010203u;      // ESP (routed) beside a UDP any-port rule
constexpr uint32_t kGroupRouted = 0xef010204u;   // a UDP rule with a routed output
constexpr uint16_t kPortRouted = 5104;
constexpr uint32_t kGroupUdpOnly = 0xef010205u;    // a UDP any-port rule only: ESP finds nothing
constexpr uint32_t kGroupHugeMixed = 0xef010206u;  // every special kind of output, early flushes
constexpr uint32_t kSmallMtuBytes = 256;           // one routed output's: larger packets are too big
// Punting rules: (*,G,any) new_source and (S1,G,any) register on input 0, both routed; (S2,G,any)
// wrong_interface without outputs on input 1; and input 1's (*,*) entry (new_source).
constexpr uint32_t kGroupPunt = 0xef010207u;
constexpr uint32_t kAnyGroupInput = 1;
// UDP sockets, then packet (AF_PACKET) sockets; never used as fds: the sink stands in for sendmmsg.
constexpr int kEgressFds[] = {100, 101, 102, 103, 104};
constexpr uint32_t kUdpSockets = 3, kPacketSockets = 2;
constexpr uint32_t kTemplateSource = 0x0a090001u;  // a packet egress output's source, 10.9.0.1
constexpr uint16_t kTemplateSrcPort = 4000;
constexpr uint8_t kTemplateTtl = 8;
constexpr uint32_t kKeepPortAddresses = 0xef030000u;  // + the output's index: a port-0 output's address

// The frame under test, its datagram and its rule, for the sink's checks.
const uint8_t* g_frame_begin = nullptr;
const uint8_t* g_frame_end = nullptr;
const mcr::RuleTable* g_table = nullptr;
const mcr::RuleEntry* g_rule = nullptr;  // what the reference lookup picked
mcr::UdpDatagram g_dgram{};
int g_expected_ttl = 0;  // received TTL - 1, what a decrementing or routed output must send with
bool g_checksum_partial = false;
unsigned g_sink_mode = 0;
uint32_t g_sink_calls = 0;
volatile uint8_t g_sink_sum = 0;  // keeps the sink's reads
// Which paths the sink saw this frame (MCR_FUZZ_PRINT_VERDICT: the seeds' classes).
bool g_saw_routed = false, g_saw_keep_port_socket = false, g_saw_keep_port_packet = false, g_saw_packet = false;

uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t load32(const uint8_t* p) {  // as it lies in memory: network order
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// One's complement sum of big-endian 16-bit words (an odd last byte padded with zero).
MCR_FUZZ_UNGUIDED uint32_t sum_be16(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += be16(p + i);
  if (n % 2) sum += uint32_t(p[n - 1]) << 8;
  return sum;
}
MCR_FUZZ_UNGUIDED uint16_t fold16(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(sum);
}
// RFC 768: the pseudo-header, the UDP header with its checksum field and the payload sum to
// 0xffff when the checksum is right.
MCR_FUZZ_UNGUIDED bool udp_checksum_verifies(const uint8_t* ip, const uint8_t* udp_header, const uint8_t* payload,
                                             uint16_t payload_len) {
  uint64_t sum = sum_be16(ip + 12, 8) + IPPROTO_UDP + uint32_t(payload_len + 8);
  sum += sum_be16(udp_header, 8) + sum_be16(payload, payload_len);
  return fold16(sum) == 0xffff;
}

MCR_FUZZ_UNGUIDED const mcr::OutputEntry& output_of_rule(size_t index) {
  FUZZ_CHECK(g_rule != nullptr && index >= g_rule->first_output &&
             index < size_t(g_rule->first_output) + g_rule->output_count);
  return g_table->outputs[index];
}

// A packet egress message: [0] the frame header the batcher filled in, [1] the rest from the
// ring slot. The output is found by its template's Ethernet source (02:00 and its index).
MCR_FUZZ_UNGUIDED void check_packet_message(int fd, const msghdr& h) {
  FUZZ_CHECK(h.msg_iovlen == 2 && h.msg_name == nullptr && h.msg_namelen == 0 && h.msg_control == nullptr);
  const auto* header = static_cast<const uint8_t*>(h.msg_iov[0].iov_base);
  const size_t header_len = h.msg_iov[0].iov_len;
  FUZZ_CHECK(header_len == mcr::kRoutedHeaderLen || header_len == mcr::kPacketHeaderLen);
  const uint8_t* mac = header + mcr::kVnetHeaderLen + 6;
  FUZZ_CHECK(mac[0] == 0x02 && mac[1] == 0x00);
  const mcr::OutputEntry& out = output_of_rule(size_t(mac[2]) << 24 | size_t(mac[3]) << 16 | mac[4] << 8 | mac[5]);
  FUZZ_CHECK(g_table->egress_fds[out.packet_egress_index] == fd);
  FUZZ_CHECK(std::memcmp(header + mcr::kVnetHeaderLen, out.packet_header.bytes + mcr::kVnetHeaderLen, 14) == 0);
  const uint8_t* ip = header + mcr::kIpOffset;
  const uint8_t* in_ip = g_dgram.ip;
  const auto* rest = static_cast<const uint8_t*>(h.msg_iov[1].iov_base);
  const size_t rest_len = h.msg_iov[1].iov_len;
  FUZZ_CHECK(rest >= g_frame_begin && rest_len <= size_t(g_frame_end - rest));
  if (rest_len > 0) g_sink_sum = uint8_t(g_sink_sum + rest[0] + rest[rest_len - 1]);
  const size_t ihl = size_t(in_ip[0] & 0x0f) * 4;

  if (out.routed) {
    // A router's copy: the received header but for TTL - 1 and its checksum, then the rest of
    // the received packet (options, UDP header or ESP, payload) unchanged.
    g_saw_routed = true;
    FUZZ_CHECK(header_len == mcr::kRoutedHeaderLen);
    FUZZ_CHECK(rest == in_ip + 20 && rest_len == size_t(be16(in_ip + 2)) - 20);
    for (int i = 0; i < 20; ++i)
      if (i != 8 && i != 10 && i != 11) FUZZ_CHECK(ip[i] == in_ip[i]);
    FUZZ_CHECK(g_expected_ttl >= 1 && ip[8] == g_expected_ttl);
    uint8_t whole[60];
    std::memcpy(whole, ip, 20);
    std::memcpy(whole + 20, rest, ihl - 20);
    FUZZ_CHECK(mcr::ipv4_header_checksum(whole, ihl) == 0);
    uint16_t start, offset;
    std::memcpy(&start, header + 6, 2);
    std::memcpy(&offset, header + 8, 2);
    if (g_checksum_partial && in_ip[9] == IPPROTO_UDP)
      FUZZ_CHECK(header[0] == 1 && start == 14 + ihl && offset == 6);
    else
      FUZZ_CHECK(header[0] == 0 && start == 0 && offset == 0);
    return;
  }

  // Republished: the output's own headers around the datagram's payload.
  g_saw_packet = true;
  if (out.keep_port) g_saw_keep_port_packet = true;
  FUZZ_CHECK(header_len == mcr::kPacketHeaderLen);
  FUZZ_CHECK(g_dgram.dst_port != mcr::kEspPort);
  FUZZ_CHECK(rest == g_dgram.payload && rest_len == g_dgram.payload_len);
  const uint8_t* tmpl_ip = out.packet_header.bytes + mcr::kIpOffset;
  const uint8_t* udp = header + mcr::kUdpOffset;
  const uint8_t* in_udp = g_dgram.payload - 8;
  FUZZ_CHECK(ip[0] == 0x45 && be16(ip + 2) == g_dgram.payload_len + 28);
  FUZZ_CHECK(std::memcmp(ip + 4, tmpl_ip + 4, 4) == 0 && ip[9] == IPPROTO_UDP);
  FUZZ_CHECK(std::memcmp(ip + 12, tmpl_ip + 12, 8) == 0);
  FUZZ_CHECK(ip[8] == (out.decrement_ttl ? g_expected_ttl : kTemplateTtl) && ip[8] >= 1);
  FUZZ_CHECK(mcr::ipv4_header_checksum(ip, 20) == 0);
  FUZZ_CHECK(be16(udp) == kTemplateSrcPort);
  FUZZ_CHECK(be16(udp + 2) == (out.keep_port ? g_dgram.dst_port : ntohs(out.dest.sin_port)));
  FUZZ_CHECK(be16(udp + 4) == g_dgram.payload_len + 8);
  uint16_t start, offset;
  std::memcpy(&start, header + 6, 2);
  std::memcpy(&offset, header + 8, 2);
  if (g_checksum_partial) {
    // Left to the NIC: the field holds the pseudo-header sum, which the sum over the UDP header
    // and payload completes.
    FUZZ_CHECK(header[0] == 1 && start == mcr::kUdpOffset - mcr::kVnetHeaderLen && offset == 6);
    FUZZ_CHECK(be16(udp + 6) == fold16(sum_be16(ip + 12, 8) + IPPROTO_UDP + be16(udp + 4)));
    return;
  }
  FUZZ_CHECK(header[0] == 0 && start == 0 && offset == 0);
  if (be16(in_udp + 6) == 0) {
    FUZZ_CHECK(be16(udp + 6) == 0);  // none stays none
    return;
  }
  FUZZ_CHECK(be16(udp + 6) != 0);
  // The incremental update keeps a right checksum right (a wrong one is the receiver's to drop).
  if (udp_checksum_verifies(in_ip, in_udp, g_dgram.payload, g_dgram.payload_len))
    FUZZ_CHECK(udp_checksum_verifies(ip, udp, rest, uint16_t(rest_len)));
}

// A UDP socket message: the datagram's payload to the output's address (or, for a port-0
// output, a copy of it with the datagram's port).
MCR_FUZZ_UNGUIDED void check_socket_message(int fd, const msghdr& h) {
  FUZZ_CHECK(h.msg_iovlen == 1 && h.msg_namelen == sizeof(sockaddr_in));
  const auto* p = static_cast<const uint8_t*>(h.msg_iov[0].iov_base);
  const size_t len = h.msg_iov[0].iov_len;
  FUZZ_CHECK(p >= g_frame_begin && len <= size_t(g_frame_end - p));
  FUZZ_CHECK(p == g_dgram.payload && len == g_dgram.payload_len && g_dgram.dst_port != mcr::kEspPort);
  if (len > 0) g_sink_sum = uint8_t(g_sink_sum + p[0] + p[len - 1]);
  const auto* dest = static_cast<const sockaddr_in*>(h.msg_name);
  FUZZ_CHECK(dest->sin_family == AF_INET);
  const auto* first = reinterpret_cast<const char*>(&g_table->outputs.front().dest);
  const auto* last = reinterpret_cast<const char*>(&g_table->outputs.back().dest);
  const auto* at = reinterpret_cast<const char*>(dest);
  const mcr::OutputEntry* out = nullptr;
  if (at >= first && at <= last) {
    const size_t index = size_t(at - first) / sizeof(mcr::OutputEntry);
    out = &output_of_rule(index);
    FUZZ_CHECK(&out->dest == dest && !out->keep_port);
  } else {
    // The batcher's own copy of the address: a port-keeping output's, whose address holds its
    // index (add_rule).
    out = &output_of_rule(ntohl(dest->sin_addr.s_addr) - kKeepPortAddresses);
    FUZZ_CHECK(out->keep_port && out->dest.sin_addr.s_addr == dest->sin_addr.s_addr);
    FUZZ_CHECK(dest->sin_port == htons(uint16_t(g_dgram.dst_port)));
    g_saw_keep_port_socket = true;
  }
  FUZZ_CHECK(!out->routed && g_table->egress_fds[out->egress_index] == fd);
  if (!out->decrement_ttl) {
    FUZZ_CHECK(h.msg_control == nullptr && h.msg_controllen == 0);
    return;
  }
  FUZZ_CHECK(h.msg_control != nullptr);
  const cmsghdr* cm = CMSG_FIRSTHDR(&h);
  FUZZ_CHECK(cm != nullptr && cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_TTL &&
             cm->cmsg_len == CMSG_LEN(sizeof(int)));
  int ttl;
  std::memcpy(&ttl, CMSG_DATA(cm), sizeof(ttl));
  FUZZ_CHECK(ttl == g_expected_ttl && ttl >= 1);
}

MCR_FUZZ_UNGUIDED int null_send(int fd, mmsghdr* msgs, unsigned n, int flags) {
  FUZZ_CHECK(n > 0 && n <= 1024);
  FUZZ_CHECK(flags == MSG_DONTWAIT);
  FUZZ_CHECK(fd >= kEgressFds[0] && fd <= kEgressFds[kUdpSockets + kPacketSockets - 1]);
  FUZZ_CHECK(g_rule != nullptr);  // only a matched frame sends
  const uint32_t call = g_sink_calls++;
  unsigned consumed = n;  // messages this call accepts or drops, so each is checked once
  int result = int(n);
  switch (g_sink_mode) {
    case 0: break;
    case 1: consumed = n > 1 ? n / 2 : 1, result = int(consumed); break;
    case 2: errno = EAGAIN, result = -1; break;  // the batcher drops them all
    default:
      if (call % 2 == 0)
        errno = EINTR, consumed = 0, result = -1;  // retried
      else
        errno = EPERM, consumed = 1, result = -1;  // the batcher drops one
  }
  const bool packet_socket = fd >= kEgressFds[kUdpSockets];
  for (unsigned i = 0; i < consumed; ++i) {
    if (packet_socket)
      check_packet_message(fd, msgs[i].msg_hdr);
    else
      check_socket_message(fd, msgs[i].msg_hdr);
  }
  return result;
}

// What a rule's output does besides being sent to its address.
enum OutputKind : uint8_t {
  kPlain = 0,
  kDecrement = 1,  // ttl "decrement"
  kKeepPort = 2,   // port 0: the datagram's port
  kPacket = 4,     // packet egress (a republished copy with the output's own headers)
  kRouted = 8,     // a router's copy through packet egress (decrements too)
  kSmallMtu = 16,  // with kRouted: an output MTU that larger packets exceed
};

struct RuleSpec {
  uint32_t input;
  uint32_t group;
  uint16_t port;  // 0: any UDP port (ESP rules: ignored)
  uint32_t source = 0;
  mcr::Protocol protocol = mcr::Protocol::udp;
  mcr::PuntReason punt = mcr::PuntReason::none;
};

// Adds a rule with outputs built as the relay builds them (native/core/relay.cc): a routed
// output decrements and sends through a packet socket only; per_output_work when the rule punts
// or any output decrements, is routed or keeps the port.
void add_rule(mcr::RuleTable& t, const RuleSpec& spec, const std::vector<uint8_t>& kinds) {
  mcr::RuleEntry r{};
  r.input_index = spec.input;
  r.group = htonl(spec.group);
  r.port = spec.protocol == mcr::Protocol::esp ? 0 : spec.port;
  r.source = htonl(spec.source);
  r.protocol = spec.protocol;
  r.punt = spec.punt;
  r.per_output_work = spec.punt != mcr::PuntReason::none;
  r.counter_slot = uint32_t(t.rules.size());
  r.first_output = uint32_t(t.outputs.size());
  r.output_count = uint32_t(kinds.size());
  for (uint32_t o = 0; o < kinds.size(); ++o) {
    const uint8_t kind = kinds[o];
    const uint32_t index = uint32_t(t.outputs.size());
    mcr::OutputEntry out{};
    out.dest.sin_family = AF_INET;
    out.dest.sin_addr.s_addr = htonl(0xef020000u + r.counter_slot);
    out.dest.sin_port = htons(uint16_t(6000 + o % 1000));
    out.egress_index = (r.counter_slot + o) % kUdpSockets;
    out.packet_egress_index = kUdpSockets + (r.counter_slot + o) % kPacketSockets;
    out.counter_slot = index;
    out.decrement_ttl = (kind & (kDecrement | kRouted)) != 0;
    // The output's index in its template's Ethernet source, so the sink can tell whose it is.
    const uint8_t mac[6] = {0x02,          0x00, uint8_t(index >> 24), uint8_t(index >> 16), uint8_t(index >> 8),
                            uint8_t(index)};
    if (kind & kRouted) {
      out.routed = true;
      out.dest.sin_addr.s_addr = r.group;
      out.dest.sin_port = 0;
      out.egress_index = out.packet_egress_index;
      out.packet_payload_limit = ((kind & kSmallMtu) ? kSmallMtuBytes : 1500) + 1;
      mcr::build_packet_template(&out.packet_header, mac, 0, 0, r.group, 0, 1);
    } else {
      if (kind & kKeepPort) {
        out.keep_port = true;
        out.dest.sin_addr.s_addr = htonl(kKeepPortAddresses + index);  // the sink finds it by address
        out.dest.sin_port = 0;
      }
      if (kind & kPacket) {
        out.packet_payload_limit = 1500 - mcr::kIpUdpHeaderLen + 1;
        mcr::build_packet_template(&out.packet_header, mac, htonl(kTemplateSource), kTemplateSrcPort,
                                   out.dest.sin_addr.s_addr, ntohs(out.dest.sin_port), kTemplateTtl);
      }
    }
    r.per_output_work = r.per_output_work || out.decrement_ttl || out.routed || out.keep_port;
    t.outputs.push_back(out);
  }
  t.rules.push_back(r);
}

std::vector<uint8_t> repeat(uint32_t n, uint8_t kind) { return std::vector<uint8_t>(n, kind); }
std::vector<uint8_t> every_other(uint32_t n, uint8_t kind) {
  std::vector<uint8_t> kinds(n, kPlain);
  for (uint32_t o = 0; o < n; o += 2) kinds[o] = kind;
  return kinds;
}

// The rules both tables have: (*,G,port) UDP rules only.
void add_plain_rules(mcr::RuleTable& t) {
  add_rule(t, {0, kGroupPair, kPortPair}, repeat(2, kPlain));
  add_rule(t, {0, kGroupOne, kPortOne}, repeat(1, kPlain));
  add_rule(t, {0, kGroupHuge, kPortHuge}, repeat(kHugeFanOut, kPlain));
  add_rule(t, {0, kGroupDec, kPortDec}, every_other(3, kDecrement));
  add_rule(t, {0, kGroupHugeDec, kPortHugeDec}, every_other(kHugeFanOut, kDecrement));
  add_rule(t, {1, kGroupPair, kPortPair}, repeat(1, kPlain));  // same group and port, other input
  for (uint32_t i = 0; i < 60; ++i) add_rule(t, {i % 2, 0xef050000u + i, uint16_t(7000 + i)}, {kPlain});  // idle
}

void add_special_rules(mcr::RuleTable& t) {
  using mcr::Protocol;
  // One group with all four kinds of entry, and a second source with its own (S,G,port).
  add_rule(t, {0, kGroupSg, kPortSg, kSource1}, {kPlain});
  add_rule(t, {0, kGroupSg, 0, kSource1}, {kKeepPort, kRouted});
  add_rule(t, {0, kGroupSg, kPortSg}, {kPlain, kPlain});
  add_rule(t, {0, kGroupSg, 0}, {kKeepPort | kPacket});
  add_rule(t, {0, kGroupSg, kPortSg, kSource2}, {kDecrement});
  add_rule(t, {1, kGroupSg, kPortSg, kSource1}, {kPlain});
  // Any port, republished with the datagram's port through both sockets, and with fixed ports.
  add_rule(t, {0, kGroupAnyPort, 0},
           {kKeepPort, kKeepPort | kPacket, kKeepPort | kPacket | kDecrement, kKeepPort | kDecrement, kPlain, kPacket});
  // ESP: routed only, one output with a small MTU; an (S,G) ESP rule; a UDP any-port rule on
  // the same group that ESP must never match, and a group with only that.
  add_rule(t, {0, kGroupEsp, 0, 0, Protocol::esp}, {kRouted, kRouted | kSmallMtu});
  add_rule(t, {0, kGroupEsp, 0, kSource1, Protocol::esp}, {kRouted});
  add_rule(t, {0, kGroupEsp, 0}, {kPlain});
  add_rule(t, {0, kGroupUdpOnly, 0}, {kPlain});
  // UDP routed beside republished copies (packet egress with and without decrement, a socket).
  add_rule(t, {0, kGroupRouted, kPortRouted}, {kRouted, kPacket, kPacket | kDecrement, kPlain, kRouted | kSmallMtu});
  // More outputs than the scratch space, of every special kind: the per-output loop's early flush.
  std::vector<uint8_t> mixed(kHugeFanOut);
  const uint8_t cycle[] = {kRouted, kKeepPort | kPacket, kKeepPort, kPacket | kDecrement, kPlain};
  for (uint32_t o = 0; o < kHugeFanOut; ++o) mixed[o] = cycle[o % 5];
  add_rule(t, {0, kGroupHugeMixed, 0}, mixed);
  // Punting rules, and input 1's (*,*) entry (group 0), which takes routable multicast that no
  // other entry on input 1 matched.
  using mcr::PuntReason;
  add_rule(t, {0, kGroupPunt, 0, 0, Protocol::udp, PuntReason::new_source}, {kRouted});
  add_rule(t, {0, kGroupPunt, 0, kSource1, Protocol::udp, PuntReason::register_source}, {kRouted | kSmallMtu});
  add_rule(t, {1, kGroupPunt, 0, kSource2, Protocol::udp, PuntReason::wrong_interface}, {});
  add_rule(t, {kAnyGroupInput, 0, 0, 0, Protocol::udp, PuntReason::new_source}, {});
}

struct Fixture {
  mcr::RuleTable full;   // every kind of rule: lookup_specific
  mcr::RuleTable plain;  // (*,G,port) UDP rules only: the one-probe lookup
  std::unique_ptr<mcr::SendBatcher> batcher;
  // Large (~0.5 MB): allocated once, not per input.
  std::unique_ptr<mcr::WorkerBlock> counters;
  std::unique_ptr<mcr_test::TraceFixture> tracing;
  // The punt path: the control the input sets, and two rings (~270 KB each): [0] drained after
  // every frame, [1] never drained; each with a long-lived Punter, and what the target knows of
  // that Punter's bucket from the outcomes it saw.
  mcr::PuntControl punt_control{};
  std::unique_ptr<mcr::PuntRing> punt_rings[2];
  std::unique_ptr<mcr::Punter> lived_punters[2];
  enum class Bucket : uint8_t { unknown, dry, has_token } lived_buckets[2] = {};
};

Fixture& fixture() {
  static Fixture* fx = [] {
    auto* f = new Fixture;
    for (mcr::RuleTable* t : {&f->full, &f->plain}) {
      t->inputs.push_back(mcr::TableInput{1, {}});
      t->inputs.push_back(mcr::TableInput{2, {}});
      t->egress_fds.assign(std::begin(kEgressFds), std::end(kEgressFds));
      add_plain_rules(*t);
    }
    add_special_rules(f->full);
    FUZZ_CHECK(f->full.outputs.size() <= mcr::kMaxOutputSlots && f->full.rules.size() <= mcr::kMaxRuleSlots);
    f->full.build_index();
    f->plain.build_index();
    f->batcher = std::make_unique<mcr::SendBatcher>(null_send);
    f->counters = std::make_unique<mcr::WorkerBlock>();
    f->tracing = std::make_unique<mcr_test::TraceFixture>(f->counters.get(), 1);
    for (int i = 0; i < 2; ++i) {
      f->punt_rings[i] = std::make_unique<mcr::PuntRing>();
      f->lived_punters[i] = std::make_unique<mcr::Punter>(f->punt_rings[i].get(), &f->punt_control);
    }
    return f;
  }();
  return *fx;
}

// Routable multicast: 224.0.0.0/4 but not the link-local 224.0.0.0/24 (network order in).
bool routable_multicast(uint32_t group) {
  const uint32_t g = ntohl(group);
  return (g >> 28) == 0xe && (g >> 8) != 0xe00000;
}

// The lookup's specification, by linear scan: among the rules on the input for the group that
// the datagram's protocol, port and source fit, the most specific; else, for routable multicast
// (UDP or ESP), the input's (*,*) entry (group 0) if it has one.
const mcr::RuleEntry* reference_lookup(const mcr::RuleTable& t, uint32_t input, const mcr::UdpDatagram& d) {
  const bool esp = d.dst_port == mcr::kEspPort;
  const mcr::RuleEntry* best = nullptr;
  const mcr::RuleEntry* any_group = nullptr;
  int best_rank = 4;
  for (const mcr::RuleEntry& r : t.rules) {
    if (r.input_index != input) continue;
    if (r.group == 0) {
      any_group = &r;
      continue;
    }
    if (r.group != d.dst_addr) continue;
    if ((r.protocol == mcr::Protocol::esp) != esp) continue;
    if (!esp && r.port != 0 && r.port != d.dst_port) continue;
    if (r.source != 0 && r.source != d.src_addr) continue;
    const int rank = (r.source != 0 ? 0 : 2) + (esp || r.port == d.dst_port ? 0 : 1);
    if (rank < best_rank) best = &r, best_rank = rank;
  }
  if (best == nullptr && routable_multicast(d.dst_addr)) return any_group;
  return best;
}

uint64_t counter(const mcr::WorkerBlock& c, mcr::WorkerCounter which) {
  return c.counters[which].load(std::memory_order_relaxed);
}

constexpr mcr::WorkerCounter kVerdicts[] = {mcr::matched,
                                            mcr::no_match,
                                            mcr::filtered_truncated,
                                            mcr::filtered_bad_ip_header,
                                            mcr::filtered_bad_ip_checksum,
                                            mcr::filtered_fragment,
                                            mcr::filtered_not_udp,
                                            mcr::filtered_bad_udp_length,
                                            mcr::filtered_not_ipv4,
                                            mcr::filtered_oversize};
constexpr mcr::WorkerCounter kSendOutcomes[] = {mcr::tx_packets,         mcr::tx_err_eagain,   mcr::tx_err_enobufs,
                                                mcr::tx_err_unreachable, mcr::tx_err_emsgsize, mcr::tx_err_eperm,
                                                mcr::tx_err_other};

// An IPv4 ESP packet, whole in the frame, shorter than ESP's 8-byte header (the parser's
// filtered_truncated for ESP).
bool is_short_esp(const uint8_t* frame, size_t snaplen) {
  if (snaplen < 34 || be16(frame + 12) != 0x0800 || frame[14 + 9] != 50) return false;
  const uint8_t* ip = frame + 14;
  const size_t ihl = size_t(ip[0] & 0x0f) * 4, total = be16(ip + 2);
  return (ip[0] >> 4) == 4 && ihl >= 20 && ihl <= total && total <= snaplen - 14 && total - ihl < 8;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  Fixture& fx = fixture();
  mcr::WorkerBlock& c = *fx.counters;
  const uint8_t control = data[0];
  const uint32_t input = control & 1u;
  g_sink_mode = (control >> 1) & 3u;
  g_sink_calls = 0;
  g_checksum_partial = (control & 0x40) != 0;
  const bool plain_table = (control & 0x80) != 0;
  const mcr::RuleTable& table = plain_table ? fx.plain : fx.full;
  g_saw_routed = g_saw_keep_port_socket = g_saw_keep_port_packet = g_saw_packet = false;

  // An exact-size copy: the bytes after the frame are ASan's redzone, as after a ring slot's
  // captured bytes there is nothing the parser may read.
  const size_t snaplen = size - 2;
  std::unique_ptr<uint8_t[]> frame(new uint8_t[snaplen ? snaplen : 1]);
  if (snaplen) std::memcpy(frame.get(), data + 2, snaplen);
  const uint32_t wire_len = uint32_t(snaplen) + ((control >> 3) & 7u);
  g_frame_begin = frame.get();
  g_frame_end = frame.get() + snaplen;
  g_table = &table;
  mcr::UdpDatagram& d = g_dgram;
  d = mcr::UdpDatagram{};
  const mcr::WorkerCounter parsed = mcr::parse_udp_frame(frame.get(), snaplen, wire_len, &d);
  g_expected_ttl = parsed == mcr::matched ? int(d.ttl) - 1 : -1;
  g_rule = parsed == mcr::matched ? reference_lookup(table, input, d) : nullptr;

  uint64_t verdicts_before[sizeof(kVerdicts) / sizeof(kVerdicts[0])];
  for (size_t i = 0; i < sizeof(kVerdicts) / sizeof(kVerdicts[0]); ++i) verdicts_before[i] = counter(c, kVerdicts[i]);
  uint64_t sends_before = 0;
  for (mcr::WorkerCounter w : kSendOutcomes) sends_before += counter(c, w);
  const uint64_t rx_before = counter(c, mcr::rx_frames);
  const uint64_t overflow_before = counter(c, mcr::pending_overflow);
  const uint64_t expired_before = counter(c, mcr::ttl_expired);
  const uint64_t too_big_before = counter(c, mcr::tx_err_too_big);
  const uint64_t rule_packets_before = g_rule ? c.rules[g_rule->counter_slot][mcr::rule_packets].load() : 0;

  // The punt path as byte 1 sets it: the rate and burst, which ring (and how far behind its
  // reader is), a fresh or the long-lived bucket, or no Punter at all.
  const uint8_t punt_control = data[1];
  static constexpr uint32_t kRates[] = {0, 1, 1000, 0xffffffffu};
  static constexpr uint32_t kBursts[] = {0, 1, 64, 0xffffffffu};
  const uint32_t punt_rate = kRates[punt_control & 3u], punt_burst = kBursts[(punt_control >> 2) & 3u];
  fx.punt_control.per_second.store(punt_rate, std::memory_order_relaxed);
  fx.punt_control.burst.store(punt_burst, std::memory_order_relaxed);
  const bool lived_bucket = (punt_control & 0x10) != 0;
  const unsigned ring_mode = (punt_control >> 5) & 3u;
  const int ring_index = ring_mode == 3 ? 1 : 0;
  mcr::PuntRing& ring = *fx.punt_rings[ring_index];
  if (ring_mode < 3) {
    static constexpr uint64_t kUnread[] = {0, mcr::kPuntRingRecords - 1, mcr::kPuntRingRecords};
    ring.tail.store(ring.head.load() - kUnread[ring_mode]);
  }
  mcr::Punter fresh_punter(&ring, &fx.punt_control);
  mcr::Punter* punter = (punt_control & 0x80) ? nullptr
                        : lived_bucket        ? fx.lived_punters[ring_index].get()
                                              : &fresh_punter;
  fx.batcher->set_punter(punter);
  const uint64_t punted_before = counter(c, mcr::punted);
  const uint64_t rate_limited_before = counter(c, mcr::punt_rate_limited);
  const uint64_t ring_full_before = counter(c, mcr::punt_ring_full);
  const uint64_t head_before = ring.head.load(), tail_before = ring.tail.load();
  const bool ring_was_full = head_before - tail_before >= mcr::kPuntRingRecords;

  // Every batch traced, with a record: the trace hooks see every frame the fuzzer makes.
  mcr::BatchTrace& trace = fx.tracing->trace;
  trace.begin(0, 0, 1);
  mcr::process_frame(table, input, frame.get(), uint32_t(snaplen), wire_len, *fx.batcher, c, g_checksum_partial);
  mcr::flush_batch(table, *fx.batcher, c, trace);
  mcr::trace_rules(table, input, frame.get(), uint32_t(snaplen), wire_len, trace);
  trace.end(1);
  FUZZ_CHECK(fx.tracing->drain() == 1);
  FUZZ_CHECK(fx.batcher->size() == 0);
  fx.batcher->set_punter(nullptr);  // the fresh one goes out of scope

  // The counters' promise: one frame, one verdict.
  FUZZ_CHECK(counter(c, mcr::rx_frames) == rx_before + 1);
  uint64_t verdicts_moved = 0;
  mcr::WorkerCounter verdict = mcr::rx_frames;
  for (size_t i = 0; i < sizeof(kVerdicts) / sizeof(kVerdicts[0]); ++i) {
    const uint64_t moved = counter(c, kVerdicts[i]) - verdicts_before[i];
    verdicts_moved += moved;
    if (moved) verdict = kVerdicts[i];
  }
  FUZZ_CHECK(verdicts_moved == 1);

  // The parser's own answer must agree, a datagram must lie inside the captured bytes, and the
  // table must pick the rule the reference scan picks.
  FUZZ_CHECK(parsed == verdict || (parsed == mcr::matched && verdict == mcr::no_match));
  uint64_t expected_sends = 0, expected_expired = 0, expected_too_big = 0;
  bool routed_expired = false;
  if (parsed == mcr::matched) {
    FUZZ_CHECK(d.payload >= frame.get() && size_t(d.payload_len) <= size_t(g_frame_end - d.payload));
    // What the parser promises of a datagram: its IPv4 header at the frame's, and for ESP the
    // whole IP payload (at least SPI and sequence number), for UDP what the UDP length covers.
    FUZZ_CHECK(d.ip == frame.get() + 14);
    const size_t ihl = size_t(d.ip[0] & 0x0f) * 4, ip_total = be16(d.ip + 2);
    FUZZ_CHECK(d.src_addr == load32(d.ip + 12) && d.dst_addr == load32(d.ip + 16) && d.ttl == d.ip[8]);
    if (d.dst_port == mcr::kEspPort) {
      FUZZ_CHECK(d.ip[9] == 50 && d.payload == d.ip + ihl && d.payload_len == ip_total - ihl && d.payload_len >= 8);
    } else {
      FUZZ_CHECK(d.ip[9] == IPPROTO_UDP && d.payload == d.ip + ihl + 8 && d.dst_port == be16(d.ip + ihl + 2));
      FUZZ_CHECK(d.payload_len + 8u == be16(d.ip + ihl + 4) && d.payload_len + 8u <= ip_total - ihl);
    }
    FUZZ_CHECK(table.lookup(input, d.dst_addr, d.dst_port, d.src_addr) == g_rule);
    FUZZ_CHECK((g_rule != nullptr) == (verdict == mcr::matched));
    if (g_rule) {
      FUZZ_CHECK(c.rules[g_rule->counter_slot][mcr::rule_packets].load() == rule_packets_before + 1);
      const uint32_t ip_len = be16(d.ip + 2);
      for (uint32_t o = g_rule->first_output; o < g_rule->first_output + g_rule->output_count; ++o) {
        const mcr::OutputEntry& out = table.outputs[o];
        if (g_rule->per_output_work && out.decrement_ttl && d.ttl <= 1) {
          ++expected_expired;
          routed_expired = routed_expired || out.routed;
        } else if (g_rule->per_output_work && out.routed && ip_len >= out.packet_payload_limit) {
          ++expected_too_big;
        } else {
          ++expected_sends;
        }
      }
    }
  }
  // Every output is sent, counted as a send error, expired or too big; none is lost to the
  // scratch space.
  uint64_t sends_after = 0;
  for (mcr::WorkerCounter w : kSendOutcomes) sends_after += counter(c, w);
  FUZZ_CHECK(sends_after - sends_before == expected_sends);
  FUZZ_CHECK(counter(c, mcr::ttl_expired) - expired_before == expected_expired);
  FUZZ_CHECK(counter(c, mcr::tx_err_too_big) - too_big_before == expected_too_big);
  FUZZ_CHECK(counter(c, mcr::pending_overflow) == overflow_before);

  // The punt path: a frame that matched a punting rule, with a Punter in the batcher, moves
  // exactly one of its three counters; any other frame none, and never the ring's tail.
  const bool punting = g_rule != nullptr && g_rule->punt != mcr::PuntReason::none;
  const uint64_t copied = counter(c, mcr::punted) - punted_before;
  const uint64_t rate_limited = counter(c, mcr::punt_rate_limited) - rate_limited_before;
  const uint64_t ring_full = counter(c, mcr::punt_ring_full) - ring_full_before;
  FUZZ_CHECK(copied + rate_limited + ring_full == (punting && punter != nullptr ? 1u : 0u));
  FUZZ_CHECK(ring.head.load() == head_before + copied && ring.tail.load() == tail_before);
  if (g_rule != nullptr && g_rule->group == 0) {
    // The (*,*) entry: only on its input, only for routable multicast nothing else took.
    FUZZ_CHECK(!plain_table && input == kAnyGroupInput && routable_multicast(d.dst_addr));
  }
  bool copy_capped = false;
  if (copied) {
    // The record: the frame's IPv4 packet from its header, its total length capped, the rule's
    // reason and slot, the input's interface.
    FUZZ_CHECK(!ring_was_full);
    const mcr::PuntRecord& r = ring.records[head_before % mcr::kPuntRingRecords];
    const uint32_t ip_length = be16(d.ip + 2);
    copy_capped = ip_length > mcr::kPuntPacketBytes;
    FUZZ_CHECK(r.wire_length == ip_length && r.length == (copy_capped ? mcr::kPuntPacketBytes : ip_length));
    FUZZ_CHECK(r.length <= size_t(g_frame_end - d.ip) && std::memcmp(r.packet, d.ip, r.length) == 0);
    FUZZ_CHECK(r.reason == uint8_t(g_rule->punt) && r.rule_slot == g_rule->counter_slot);
    FUZZ_CHECK(r.ifindex == uint32_t(table.inputs[input].ifindex) && r.reserved == 0 && r.time_ns != 0);
  }
  if (punting && punter != nullptr) {
    // Past the bucket, the ring decides: a full one is a counted drop, never a write.
    if (!rate_limited) FUZZ_CHECK((ring_full != 0) == ring_was_full);
    const bool no_refill = punt_rate == 0 || punt_burst == 0;
    // Rate 0 punts nothing, whatever the bucket still holds (mcrd's "stop punting").
    if (punt_rate == 0) FUZZ_CHECK(rate_limited);
    if (!lived_bucket) {
      // A fresh bucket was last refilled at time 0: any rate and burst fill it, 0 of either never.
      FUZZ_CHECK((rate_limited != 0) == no_refill);
    } else {
      // Tokens change only here: a rate-limited punt at a rate above 0 leaves none (at rate 0 the
      // bucket is not looked at), a full ring leaves at least one.
      Fixture::Bucket& known = fx.lived_buckets[ring_index];
      if (known == Fixture::Bucket::has_token && punt_rate != 0) FUZZ_CHECK(!rate_limited);
      if (known == Fixture::Bucket::dry && no_refill) FUZZ_CHECK(rate_limited);
      if (punt_rate != 0)
        known = rate_limited ? Fixture::Bucket::dry : ring_full ? Fixture::Bucket::has_token : Fixture::Bucket::unknown;
    }
  }
  if (ring_mode < 3) ring.tail.store(ring.head.load());  // the reader takes what was copied

  // For the corpus check in scripts/fuzz.js: which classes each seed exercises, the verdict and
  // the paths beyond it (scripts/fuzz.js lists the paths the seeds must reach).
  static const bool print_verdicts = std::getenv("MCR_FUZZ_PRINT_VERDICT") != nullptr;
  if (print_verdicts) {
    std::printf("verdict %s\n", mcr::worker_counter_name(verdict));
    auto path = [](const char* name) { std::printf("path %s\n", name); };
    if (parsed == mcr::matched && d.dst_port == mcr::kEspPort) path("esp_accepted");
    if (verdict == mcr::filtered_truncated && is_short_esp(frame.get(), snaplen)) path("esp_truncated");
    if (g_rule && g_rule->protocol == mcr::Protocol::esp) path("esp_match");
    if (g_rule && g_rule->source != 0 && g_rule->protocol == mcr::Protocol::udp)
      path(g_rule->port != 0 ? "sg_port_match" : "sg_any_port_match");
    if (g_rule && g_rule->source == 0 && g_rule->protocol == mcr::Protocol::udp && g_rule->port == 0)
      path("any_port_match");
    if (g_rule && plain_table) path("plain_table_match");
    if (g_saw_routed) path("routed_sent");
    if (routed_expired) path("routed_ttl_expired");
    if (expected_too_big) path("routed_too_big");
    if (g_saw_keep_port_socket) path("keep_port_socket_sent");
    if (g_saw_keep_port_packet) path("keep_port_packet_sent");
    if (g_saw_packet) path("packet_sent");
    if (copied) path("punt_copied");
    if (copy_capped) path("punt_copy_capped");
    if (rate_limited) path("punt_rate_limited");
    if (ring_full) path("punt_ring_full");
    if (punting && punter == nullptr) path("punt_no_punter");
    if (g_rule && g_rule->group == 0) path("any_group_punt");
    if (parsed == mcr::matched && !g_rule && !plain_table && input == kAnyGroupInput) {
      const uint32_t dst = ntohl(d.dst_addr);
      if ((dst >> 8) == 0xe00000) path("any_group_skipped_link_local");
      if ((dst >> 28) != 0xe) path("any_group_skipped_not_multicast");
    }
  }
  return 0;
}
