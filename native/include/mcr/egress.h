// SPDX-License-Identifier: MIT
// Egress sockets (created on the control path, never per packet) and the per-worker send
// batcher that groups a receive batch's datagrams by socket and sends each group with one
// sendmmsg, pointing every output's iovec at the same bytes in the receive ring (no copy).
//
// Two kinds of egress socket. A UDP socket per (interface, TTL, source) is the general path: the
// kernel routes, fragments and resolves neighbours. A multicast output on an Ethernet interface
// normally goes through the interface's AF_PACKET socket instead ("packet egress"): its
// Ethernet/IPv4/UDP headers are prebuilt per output (PacketTemplate), only lengths, TTL and
// checksums are filled in per datagram, and the kernel's per-datagram UDP/IP work (a route
// lookup, socket accounting, netfilter, the multicast output path) is skipped.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "mcr/counters.h"
#include "mcr/trace.h"

namespace mcr {

struct EgressKey {
  int ifindex;
  uint8_t ttl;
  uint32_t source;      // network byte order, 0 = the kernel picks
  bool packet = false;  // the interface's AF_PACKET socket (ttl and source 0: they are per output)
  bool operator==(const EgressKey&) const = default;
};

// A non-blocking UDP socket bound to the interface: multicast TTL and interface set, multicast
// loopback off (we never hear our own output), large send buffer, bound to a local port now (so
// packet egress can put the same source port in its headers). Returns the fd or -errno.
int open_egress_socket(const EgressKey& key, const std::string& ifname, int sndbuf_bytes, std::string* error);

// The local port (host order) an egress UDP socket is bound to, or 0.
uint16_t egress_local_port(int fd);

// A non-blocking AF_PACKET socket that only sends, on `ifindex`: protocol 0 (it receives
// nothing), PACKET_VNET_HDR (each message starts with a virtio_net_hdr), large send buffer.
// Returns the fd or -errno.
int open_packet_egress_socket(int ifindex, const std::string& ifname, int sndbuf_bytes, std::string* error);

// What packet egress sends before the payload: virtio_net_hdr, Ethernet, IPv4 (no options), UDP.
constexpr uint32_t kVnetHeaderLen = 10;
constexpr uint32_t kIpOffset = kVnetHeaderLen + 14;
constexpr uint32_t kUdpOffset = kIpOffset + 20;
constexpr uint32_t kPacketHeaderLen = kUdpOffset + 8;
// UDP payload bytes an output's frame header adds to the IP packet: IPv4 + UDP headers.
constexpr uint32_t kIpUdpHeaderLen = 28;

// One output's headers, built on the control path (lengths and checksums zero), with the
// partial one's-complement sums the per-datagram fill starts from.
struct PacketTemplate {
  alignas(8) uint8_t bytes[kPacketHeaderLen];
  uint32_t ip_sum;       // the IPv4 header without total length, TTL/protocol word and checksum
  uint32_t pseudo_sum;   // source, destination and protocol: the UDP pseudo-header without the length
  uint32_t rewrite_sum;  // the new source, destination and ports: what an incremental update adds
};

// Builds an output's template: Ethernet from `src_mac` to the group's multicast MAC, IPv4 from
// `source` to `group` (DF set, ID 0, TOS 0, as the kernel sends from a UDP socket) with `ttl`,
// UDP from `src_port` to `dst_port`. Addresses in network order, ports in host order.
void build_packet_template(PacketTemplate* out, const uint8_t src_mac[6], uint32_t source, uint16_t src_port,
                           uint32_t group, uint16_t dst_port, uint8_t ttl);

namespace checksum {
// One's complement arithmetic on words as they lie in memory (RFC 1071: the sum is byte-order
// independent, and 32-bit words fold to the same 16-bit sum, so nothing is swapped).
inline uint32_t load32(const uint8_t* p) {
  uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}
inline uint16_t load16(const uint8_t* p) {
  uint16_t w;
  std::memcpy(&w, p, 2);
  return w;
}
inline uint16_t fold(uint64_t sum) {
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(sum);
}
}  // namespace checksum

// Writes the frame header for one datagram: the template with lengths, TTL (0 = the template's)
// and checksums filled in. in_ip/in_udp: the received datagram's IPv4 and UDP headers.
// The UDP checksum follows the input's: one the input left for the NIC to finish (its frame
// came with TP_STATUS_CSUMNOTREADY: local senders over veth) is left to the kernel or NIC again
// through the virtio_net_hdr; a complete one is updated incrementally for the new addresses and
// ports (RFC 1624), so the payload is never read; none (0) stays none.
// KeepPort: the template's destination port is 0 and the copy takes the received one (an output
// with port 0 on an any-port rule); the incremental update then adds that port too.
template <bool KeepPort = false>
[[gnu::always_inline]] inline void fill_packet_header(uint8_t* out, const PacketTemplate& tmpl, const uint8_t* in_ip,
                                                      const uint8_t* in_udp, uint16_t payload_len, uint8_t ttl,
                                                      bool checksum_partial) {
  using namespace checksum;
  std::memcpy(out, tmpl.bytes, kPacketHeaderLen);
  uint8_t* ip = out + kIpOffset;
  uint8_t* udp = out + kUdpOffset;
  const uint16_t total = htons(uint16_t(payload_len + kIpUdpHeaderLen));
  const uint16_t udp_len = htons(uint16_t(payload_len + 8));
  std::memcpy(ip + 2, &total, 2);
  if (ttl != 0) ip[8] = ttl;
  const uint16_t ip_sum = uint16_t(~fold(uint64_t(tmpl.ip_sum) + total + load16(ip + 8)));
  std::memcpy(ip + 10, &ip_sum, 2);
  std::memcpy(udp + 4, &udp_len, 2);
  if constexpr (KeepPort) std::memcpy(udp + 2, in_udp + 2, 2);
  uint16_t udp_sum;
  if (checksum_partial) {
    // virtio_net_hdr: VIRTIO_NET_HDR_F_NEEDS_CSUM, csum_start, csum_offset (host order, as the
    // kernel reads PACKET_VNET_HDR on a little-endian host). The field holds the pseudo-header
    // sum, not complemented, which the checksum over the UDP header and payload completes.
    out[0] = 1;
    const uint16_t start = kUdpOffset - kVnetHeaderLen, offset = 6;
    std::memcpy(out + 6, &start, 2);
    std::memcpy(out + 8, &offset, 2);
    udp_sum = fold(uint64_t(tmpl.pseudo_sum) + udp_len);
  } else {
    const uint16_t old = load16(in_udp + 6);
    if (old == 0) {
      udp_sum = 0;
    } else {
      // RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), m the old addresses and ports, m' the new.
      uint64_t s = uint64_t(uint16_t(~old)) + uint32_t(~load32(in_ip + 12)) + uint32_t(~load32(in_ip + 16)) +
                   uint32_t(~load32(in_udp)) + tmpl.rewrite_sum;
      if constexpr (KeepPort) s += load16(in_udp + 2);  // the template's port is 0: add the kept one
      udp_sum = uint16_t(~fold(s));
      if (udp_sum == 0) udp_sum = 0xffff;  // 0 would mean "no checksum" (RFC 768)
    }
  }
  std::memcpy(udp + 6, &udp_sum, 2);
}

// A routed copy's frame header: the virtio_net_hdr, Ethernet from the template (the output
// interface's MAC to the group's multicast MAC), and the received IPv4 header's first 20 bytes
// with TTL `ttl` (the received one minus one) and the header checksum updated for it (RFC 1624
// eqn. 3). Options, the UDP header and the payload (or the ESP packet) follow from the ring slot
// unchanged, so source, destination and ports are the sender's. A UDP checksum the input left
// for the NIC (checksum_partial: its pseudo-header is unchanged, so the partial sum stays valid)
// is left to the kernel or NIC again: csum_start at the UDP header, after the IP options.
constexpr uint32_t kRoutedHeaderLen = kVnetHeaderLen + 14 + 20;
[[gnu::always_inline]] inline void fill_routed_header(uint8_t* out, const PacketTemplate& tmpl, const uint8_t* in_ip,
                                                      uint8_t ttl, bool checksum_partial) {
  using namespace checksum;
  std::memcpy(out, tmpl.bytes, kIpOffset);
  uint8_t* ip = out + kIpOffset;
  std::memcpy(ip, in_ip, 20);
  const uint16_t old_word = load16(ip + 8), old_sum = load16(ip + 10);
  ip[8] = ttl;
  const uint16_t ip_sum = uint16_t(~fold(uint64_t(uint16_t(~old_sum)) + uint16_t(~old_word) + load16(ip + 8)));
  std::memcpy(ip + 10, &ip_sum, 2);
  if (checksum_partial && in_ip[9] == IPPROTO_UDP) {
    out[0] = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM, as in fill_packet_header
    const uint16_t start = uint16_t(14 + (in_ip[0] & 0x0f) * 4), offset = 6;
    std::memcpy(out + 6, &start, 2);
    std::memcpy(out + 8, &offset, 2);
  }
}

class RuleTable;
struct OutputEntry;
class Punter;

// Scratch space for one receive batch. Lives inside the worker; fixed size, no allocation.
class SendBatcher {
 public:
  static constexpr uint32_t kMaxPending = 4096;
  static constexpr uint32_t kMaxEgress = 1024;
  // How flush() hands one socket's messages to the kernel: ::sendmmsg in the workers. Tests and
  // the replay harness pass a function that captures or discards them without a syscall.
  using SendFn = int (*)(int fd, mmsghdr* msgs, unsigned n, int flags);

  explicit SendBatcher(SendFn send = ::sendmmsg) : send_(send) {}

  // The worker's punt ring (mcr/punt.h), for punting rules. Held here, not passed to process_frame:
  // one more pointer live across the per-packet loop cost every packet ~7 instructions (hot-path
  // gate), while the batcher is live there anyway. nullptr: punting rules only forward.
  void set_punter(Punter* punter) { punter_ = punter; }
  Punter* punter() const { return punter_; }

  // Queue one output's copy of a datagram for its UDP socket `egress_index`; returns false when
  // the batch is full (the caller flushes and retries). ttl 0: the socket's own TTL; otherwise
  // this datagram's TTL (an IP_TTL control message).
  bool add(uint32_t egress_index, const OutputEntry* out, const uint8_t* payload, uint16_t len, uint8_t ttl = 0,
           uint8_t mode = 0) {
    return add_packet(egress_index, out, payload, len, ttl, nullptr, mode);
  }
  // The same for packet egress socket `egress_index`, the frame header built from the output's
  // template when the batch is sent (ttl 0: the template's). in_ip: the received datagram's IPv4
  // header (its UDP header sits just before `payload`); mode: kPartialChecksum (see
  // fill_packet_header) and kKeepPort. in_ip nullptr: the UDP socket path (add()).
  bool add_packet(uint32_t egress_index, const OutputEntry* out, const uint8_t* payload, uint16_t len, uint8_t ttl,
                  const uint8_t* in_ip, uint8_t mode) {
    if (count_ == kMaxPending || egress_index >= kMaxEgress) return false;
    pending_[count_++] = Pending{out, payload, in_ip, egress_index, len, ttl, mode};
    any_extra_ |= ttl | (mode & kKeepPort);
    return true;
  }
  // A routed copy (fill_routed_header) of the IPv4 packet at `in_ip` for packet egress socket
  // `egress_index`, sent with TTL `ttl`; payload_len is what the counters count (the UDP payload,
  // or an ESP packet's IP payload).
  bool add_routed(uint32_t egress_index, const OutputEntry* out, const uint8_t* in_ip, uint16_t payload_len,
                  uint8_t ttl, bool checksum_partial) {
    return add_packet(egress_index, out, in_ip + 20, payload_len, ttl, in_ip,
                      uint8_t(kRouted | (checksum_partial ? kPartialChecksum : 0)));
  }
  // Pending modes.
  static constexpr uint8_t kPartialChecksum = 1, kRouted = 2, kKeepPort = 4;
  uint32_t size() const { return count_; }

  // Sends everything queued, updating the worker's counters. One send call per egress socket
  // (more only for a partial send or more than UIO_MAXIOV messages). A traced batch passes a
  // SendLog and each call is timed into it.
  void flush(const RuleTable& table, WorkerBlock& counters, SendLog* log = nullptr);

 private:
  struct Pending {
    const OutputEntry* out;
    const uint8_t* payload;
    const uint8_t* in_ip;  // packet egress; nullptr: the UDP socket
    uint32_t egress_index;
    uint16_t len;
    uint8_t ttl;
    uint8_t mode;  // kPartialChecksum | kRouted | kKeepPort
  };
  // One IP_TTL control message per pending datagram, used only by those with their own TTL.
  struct alignas(cmsghdr) TtlControl {
    uint8_t bytes[CMSG_SPACE(sizeof(int))];
  };
  void count_error(int err, uint32_t first, uint32_t n, WorkerBlock& counters);

  SendFn send_;
  uint32_t count_ = 0;
  uint8_t any_extra_ = 0;  // non-zero: some pending UDP-socket datagram has its own TTL or port
  Pending pending_[kMaxPending];
  uint32_t order_[kMaxPending];          // pending indexes sorted by egress socket
  uint32_t per_egress_[kMaxEgress + 1];  // counting-sort buckets
  mmsghdr msgs_[kMaxPending];
  iovec iovs_[kMaxPending][2];                 // [0]: frame header (packet egress) or payload
  PacketTemplate frame_headers_[kMaxPending];  // packet egress: each datagram's filled-in header
  TtlControl ttl_controls_[kMaxPending];
  sockaddr_in keep_port_dests_[kMaxPending];  // UDP socket, kKeepPort: the output's address, the datagram's port
  Punter* punter_ = nullptr;                  // last: the hot members' offsets stay as they were
};

}  // namespace mcr
