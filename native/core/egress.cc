// SPDX-License-Identifier: MIT
// Egress sockets and the per-batch sendmmsg grouping.
#include "mcr/egress.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include <cstring>

#include "mcr/drill.h"
#include "mcr/fail.h"
#include "mcr/rule_table.h"

namespace mcr {

namespace {
constexpr uint32_t kMaxMessagesPerCall = 1024;  // UIO_MAXIOV, the kernel's sendmmsg limit

// errno's reason for `what`, with the half-configured socket closed.
int close_and_fail(int fd, std::string* error, const std::string& what) {
  const int err = errno;
  if (fd >= 0) ::close(fd);
  return fail(error, what, err);
}
}  // namespace

int open_egress_socket(const EgressKey& key, const std::string& ifname, int sndbuf_bytes, std::string* error) {
  const std::string where = " for output interface " + ifname;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return close_and_fail(fd, error, "socket(AF_INET)" + where);
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(), socklen_t(ifname.size())) != 0)
    return close_and_fail(fd, error, "setsockopt(SO_BINDTODEVICE)" + where);
  ip_mreqn mif{};
  mif.imr_ifindex = key.ifindex;
  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mif, sizeof(mif)) != 0)
    return close_and_fail(fd, error, "setsockopt(IP_MULTICAST_IF)" + where);
  int ttl = key.ttl;
  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) != 0)
    return close_and_fail(fd, error, "setsockopt(IP_MULTICAST_TTL)" + where);
  if (setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) != 0)
    return close_and_fail(fd, error, "setsockopt(IP_TTL)" + where);
  int off = 0;
  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &off, sizeof(off)) != 0)
    return close_and_fail(fd, error, "setsockopt(IP_MULTICAST_LOOP)" + where);
  // SO_SNDBUFFORCE ignores net.core.wmem_max (we run as root); fall back when not permitted.
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf_bytes, sizeof(sndbuf_bytes)) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf_bytes, sizeof(sndbuf_bytes));
  // The socket only sends; keep what it could receive on its ephemeral port small.
  int rcvbuf = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  // Bound now, not at the first send, so packet egress knows the source port to use.
  sockaddr_in src{};
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = key.source;
  if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0) {
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &key.source, text, sizeof(text));
    return close_and_fail(fd, error, std::string("bind(source ") + text + ")" + where);
  }
  return fd;
}

uint16_t egress_local_port(int fd) {
  sockaddr_in local{};
  socklen_t len = sizeof(local);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) return 0;
  return ntohs(local.sin_port);
}

int open_packet_egress_socket(int ifindex, const std::string& ifname, int sndbuf_bytes, std::string* error) {
  const std::string where = " for output interface " + ifname;
  // Protocol 0: the socket is in no receive path, so it costs nothing per received frame.
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return close_and_fail(fd, error, "socket(AF_PACKET)" + where);
  int one = 1;
  if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) != 0)
    return close_and_fail(fd, error, "setsockopt(PACKET_VNET_HDR)" + where);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf_bytes, sizeof(sndbuf_bytes)) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf_bytes, sizeof(sndbuf_bytes));
  // Sends without an address go to the bound interface; the kernel reads the EtherType from the
  // frame (a protocol-0 socket), so nothing is looked up per message.
  sockaddr_ll link{};
  link.sll_family = AF_PACKET;
  link.sll_ifindex = ifindex;
  link.sll_protocol = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&link), sizeof(link)) != 0)
    return close_and_fail(fd, error, "bind(AF_PACKET)" + where);
  return fd;
}

void build_packet_template(PacketTemplate* out, const uint8_t src_mac[6], uint32_t source, uint16_t src_port,
                           uint32_t group, uint16_t dst_port, uint8_t ttl) {
  std::memset(out->bytes, 0, sizeof(out->bytes));
  uint8_t* eth = out->bytes + kVnetHeaderLen;
  // RFC 1112: 01:00:5e and the low 23 bits of the group.
  const uint32_t g = ntohl(group);
  const uint8_t dst_mac[6] = {0x01, 0x00, 0x5e, uint8_t((g >> 16) & 0x7f), uint8_t(g >> 8), uint8_t(g)};
  std::memcpy(eth, dst_mac, 6);
  std::memcpy(eth + 6, src_mac, 6);
  eth[12] = 0x08, eth[13] = 0x00;
  uint8_t* ip = out->bytes + kIpOffset;
  ip[0] = 0x45;
  ip[6] = 0x40;  // DF, ID 0: what the kernel sends from an unconnected UDP socket with PMTU discovery
  ip[8] = ttl;
  ip[9] = IPPROTO_UDP;
  std::memcpy(ip + 12, &source, 4);
  std::memcpy(ip + 16, &group, 4);
  uint8_t* udp = out->bytes + kUdpOffset;
  udp[0] = uint8_t(src_port >> 8), udp[1] = uint8_t(src_port);
  udp[2] = uint8_t(dst_port >> 8), udp[3] = uint8_t(dst_port);
  // Partial sums of what never changes per datagram (see fill_packet_header).
  using checksum::load16;
  uint32_t ip_sum = 0;
  for (int i : {0, 4, 6, 12, 14, 16, 18}) ip_sum += load16(ip + i);
  out->ip_sum = ip_sum;
  const uint32_t addresses = uint32_t(load16(ip + 12)) + load16(ip + 14) + load16(ip + 16) + load16(ip + 18);
  out->pseudo_sum = addresses + htons(IPPROTO_UDP);
  out->rewrite_sum = addresses + load16(udp) + load16(udp + 2);
}

void SendBatcher::count_error(int err, uint32_t first, uint32_t n, WorkerBlock& counters) {
  WorkerCounter which;
  switch (err) {
    case EAGAIN: which = tx_err_eagain; break;
    case ENOBUFS: which = tx_err_enobufs; break;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN: which = tx_err_unreachable; break;
    case EMSGSIZE: which = tx_err_emsgsize; break;
    case EPERM:
    case EACCES: which = tx_err_eperm; break;
    default: which = tx_err_other; break;
  }
  bump(counters.counters[which], n);
  for (uint32_t i = first; i < first + n; ++i)
    bump(counters.outputs[pending_[order_[i]].out->counter_slot][out_errors]);
}

void SendBatcher::flush(const RuleTable& table, WorkerBlock& counters, SendLog* log) {
  if (count_ == 0) return;
  // Counting sort by egress socket, so each socket's messages are contiguous.
  const uint32_t egress_count = uint32_t(table.egress_fds.size());
  std::memset(per_egress_, 0, sizeof(uint32_t) * (egress_count + 1));
  for (uint32_t i = 0; i < count_; ++i) per_egress_[pending_[i].egress_index + 1]++;
  for (uint32_t e = 0; e < egress_count; ++e) per_egress_[e + 1] += per_egress_[e];
  for (uint32_t i = 0; i < count_; ++i) {
    uint32_t pos = per_egress_[pending_[i].egress_index]++;
    order_[pos] = i;
    const Pending& p = pending_[i];
    msghdr& h = msgs_[pos].msg_hdr;
    h.msg_iov = iovs_[pos];
    h.msg_control = nullptr;
    h.msg_controllen = 0;
    h.msg_flags = 0;
    if (p.in_ip != nullptr) {
      // Packet egress: the filled-in frame header, then the payload from the ring slot.
      uint8_t* header = frame_headers_[pos].bytes;
      uint32_t header_len = kPacketHeaderLen;
      const uint8_t* rest = p.payload;
      uint32_t rest_len = p.len;
      // One test per mode on the common paths: complete checksum, then partial, then the rest.
      if (p.mode == 0) [[likely]] {
        fill_packet_header(header, p.out->packet_header, p.in_ip, p.payload - 8, p.len, p.ttl, false);
      } else if (p.mode == kPartialChecksum) [[likely]] {
        fill_packet_header(header, p.out->packet_header, p.in_ip, p.payload - 8, p.len, p.ttl, true);
      } else if (p.mode & kRouted) {
        // Everything after the IPv4 header's first 20 bytes, as received (rest = in_ip + 20).
        fill_routed_header(header, p.out->packet_header, p.in_ip, p.ttl, (p.mode & kPartialChecksum) != 0);
        header_len = kRoutedHeaderLen;
        rest_len = uint32_t(p.in_ip[2] << 8 | p.in_ip[3]) - 20;
      } else {
        fill_packet_header<true>(header, p.out->packet_header, p.in_ip, p.payload - 8, p.len, p.ttl,
                                 (p.mode & kPartialChecksum) != 0);
      }
      iovs_[pos][0].iov_base = header;
      iovs_[pos][0].iov_len = header_len;
      iovs_[pos][1].iov_base = const_cast<uint8_t*>(rest);
      iovs_[pos][1].iov_len = rest_len;
      h.msg_name = nullptr;
      h.msg_namelen = 0;
      h.msg_iovlen = 2;
      continue;
    }
    iovs_[pos][0].iov_base = const_cast<uint8_t*>(p.payload);
    iovs_[pos][0].iov_len = p.len;
    h.msg_name = const_cast<sockaddr_in*>(&p.out->dest);
    h.msg_namelen = sizeof(sockaddr_in);
    h.msg_iovlen = 1;
    if (any_extra_ != 0) [[unlikely]] {
      if (p.mode & kKeepPort) {
        // Port 0 on the output: the datagram's own destination port (its UDP header precedes the payload).
        keep_port_dests_[pos] = p.out->dest;
        std::memcpy(&keep_port_dests_[pos].sin_port, p.payload - 6, 2);
        h.msg_name = &keep_port_dests_[pos];
      }
      if (p.ttl != 0) {
        // The kernel takes IP_TTL from a control message over the socket's (multicast) TTL.
        h.msg_control = ttl_controls_[pos].bytes;
        h.msg_controllen = sizeof(ttl_controls_[pos].bytes);
        cmsghdr* cm = CMSG_FIRSTHDR(&h);
        cm->cmsg_level = IPPROTO_IP;
        cm->cmsg_type = IP_TTL;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        const int ttl = p.ttl;
        std::memcpy(CMSG_DATA(cm), &ttl, sizeof(ttl));
      }
    }
  }
  // After the scatter pass per_egress_[e] is the end of socket e's run.
  uint32_t begin = 0;
  for (uint32_t e = 0; e < egress_count; ++e) {
    const uint32_t end = per_egress_[e];
    const int fd = table.egress_fds[e];
    uint32_t at = begin;
    while (at < end) {
      const uint32_t want = end - at < kMaxMessagesPerCall ? end - at : kMaxMessagesPerCall;
      // Traced batch: this call's slot in the span record (nullptr when untraced or full).
      SpanSend* traced = nullptr;
#if MCR_ENABLE_SPANS
      if (log != nullptr) [[unlikely]] {
        if (*log->count < kSpanSendSlots) {
          traced = &log->sends[*log->count];
          *traced = SpanSend{};
          traced->ifindex = e < table.egress_ifindex.size() ? uint32_t(table.egress_ifindex[e]) : 0;
          traced->start_ns = realtime_ns();
        }
        ++*log->count;
      }
#else
      (void)log;
#endif
      int sent = send_(fd, &msgs_[at], want, MSG_DONTWAIT);
      const int err = sent < 0 ? errno : 0;
      MCR_PROBE4(sendmmsg, fd, want, sent, err);
      if (sent < 0) {
        if (err == EINTR) {
          if (traced) traced->end_ns = realtime_ns(), traced->error = err;
          continue;
        }
        // A full buffer will not drain within this batch: drop the rest for this socket.
        const uint32_t dropped = (err == EAGAIN || err == ENOBUFS) ? end - at : 1;
        count_error(err, at, dropped, counters);
        // The audit drill only (mcr/drill.h; expands to nothing in the shipped build).
        MCR_DRILL(if (err == EAGAIN || err == ENOBUFS) drill::log(
                      drill::Level::critical,
                      drill::format_exhaustion("sendmmsg", err,
                                               counters.counters[tx_err_eagain].load(std::memory_order_relaxed) +
                                                   counters.counters[tx_err_enobufs].load(std::memory_order_relaxed)));)
        if (traced) {
          traced->end_ns = realtime_ns();
          traced->errors = dropped;
          traced->error = err;
        }
        at += dropped;
        continue;
      }
      uint64_t bytes = 0;
      for (uint32_t i = at; i < at + uint32_t(sent); ++i) {
        const Pending& p = pending_[order_[i]];
        bytes += p.len;
        const uint32_t slot = p.out->counter_slot;
        bump(counters.outputs[slot][out_packets]);
        bump(counters.outputs[slot][out_bytes], p.len);
      }
      bump(counters.counters[tx_packets], uint64_t(sent));
      bump(counters.counters[tx_bytes], bytes);
      if (traced) {
        traced->end_ns = realtime_ns();
        traced->packets = uint32_t(sent);
        traced->bytes = uint32_t(bytes);
      }
      at += uint32_t(sent);
    }
    begin = end;
  }
  count_ = 0;
  any_extra_ = 0;
}

}  // namespace mcr
