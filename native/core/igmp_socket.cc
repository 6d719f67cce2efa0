// SPDX-License-Identifier: MIT
// Why an AF_PACKET socket and not the multicast-routing socket: a raw IPPROTO_IGMP socket only
// gets IGMP for groups this host joined (and 224.0.0.x), so it misses the v2 reports a querier
// needs; the kernel shows all IGMP to the MRT_INIT socket, but there is one per namespace
// (smcroute, FRR's pimd or igmpproxy in the same namespace would take it or lose it) and it needs
// CAP_NET_ADMIN. A packet socket per interface sees every IGMP frame that reaches the interface,
// coexists with any routing daemon, and needs only CAP_NET_RAW, ALLMULTI included.
#include "mcr/igmp_socket.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "mcr/fail.h"

namespace mcr {

namespace {

constexpr uint8_t kIpProtocolIgmp = 2;

// Offsets are from the IPv4 header: a SOCK_DGRAM packet socket runs its filter with the link
// header already pulled, outgoing frames included.
sock_filter kFilter[] = {
    // Our own transmissions come back to the socket as PACKET_OUTGOING: never ours to read.
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, uint32_t(SKF_AD_OFF + SKF_AD_PKTTYPE)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 7, 0),
    // The socket is created with protocol 0 and bound to ETH_P_IP after the filter is attached, so
    // nothing of another protocol is ever queued; checked anyway, as the filter stands alone.
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, uint32_t(SKF_AD_OFF + SKF_AD_PROTOCOL)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 5),
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),  // version and header length
    BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x40, 0, 2),
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),  // protocol
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kIpProtocolIgmp, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, 0),  // drop
    BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
};

sock_fprog kProgram = {sizeof(kFilter) / sizeof(kFilter[0]), kFilter};

std::string where(const std::string& ifname) { return "IGMP socket on " + ifname + ": "; }

}  // namespace

const sock_fprog* igmp_socket_filter() { return &kProgram; }

void ipv4_multicast_mac(uint32_t group, uint8_t mac[6]) {
  const uint32_t host = ntohl(group);
  mac[0] = 0x01;
  mac[1] = 0x00;
  mac[2] = 0x5e;
  mac[3] = uint8_t((host >> 16) & 0x7f);
  mac[4] = uint8_t(host >> 8);
  mac[5] = uint8_t(host);
}

int IgmpSocket::open(const std::string& ifname, std::string* error) {
  close();
  const std::string at = where(ifname);
  const int ifindex = interface_index(ifname, at, error);
  if (ifindex < 0) return ifindex;
  // Protocol 0: nothing is queued before the filter is attached and the socket bound.
  const int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const int err = errno;
    return fail(error, at + (err == EPERM ? "socket(AF_PACKET) needs CAP_NET_RAW" : "socket(AF_PACKET)"), err);
  }
  auto give_up = [&](const std::string& step) {
    const int err = errno;
    ::close(fd);
    return fail(error, at + step, err);
  };
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &kProgram, sizeof(kProgram)) != 0)
    return give_up("setsockopt(SO_ATTACH_FILTER)");
  // Room for a burst of reports (a querier's general query answered by every host at once);
  // capped by net.core.rmem_max, which is fine.
  const int rcvbuf = 1 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_IP);
  addr.sll_ifindex = ifindex;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return give_up("bind(AF_PACKET)");
  // A NIC drops multicast for groups nobody on the host joined, and reports go to the group
  // itself (v1/v2) or 224.0.0.22 (v3): ALLMULTI for this socket's life (the kernel counts
  // holders and drops ours on close), where SIOCSIFFLAGS IFF_ALLMULTI would need CAP_NET_ADMIN
  // and outlive a crash.
  packet_mreq mreq{};
  mreq.mr_ifindex = ifindex;
  mreq.mr_type = PACKET_MR_ALLMULTI;
  if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) != 0)
    return give_up("setsockopt(PACKET_ADD_MEMBERSHIP, PACKET_MR_ALLMULTI)");
  fd_ = fd;
  ifindex_ = ifindex;
  ifname_ = ifname;
  buffer_.resize(kReceiveBytes);
  return 0;
}

int IgmpSocket::receive(std::vector<IgmpPacket>* out, size_t max, std::string* error) {
  if (fd_ < 0) return fail(error, where(ifname_) + "closed", EBADF);
  if (pending_errno_ != 0) {
    const int err = pending_errno_;
    pending_errno_ = 0;
    return fail(error, where(ifname_) + "recvfrom", err);
  }
  int got = 0;
  while (size_t(got) < max) {
    sockaddr_ll from{};
    socklen_t from_len = sizeof(from);
    const ssize_t n =
        recvfrom(fd_, buffer_.data(), buffer_.size(), MSG_TRUNC, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      // The kernel reports a socket error once (recvfrom cleared it): packets already taken are
      // returned now and the error by the next call.
      if (got > 0) {
        pending_errno_ = errno;
        break;
      }
      return fail(error, where(ifname_) + "recvfrom", errno);
    }
    if (from.sll_pkttype == PACKET_OUTGOING) continue;  // the filter drops these already
    IgmpPacket packet;
    const size_t kept = std::min(size_t(n), buffer_.size());
    packet.data.assign(buffer_.data(), buffer_.data() + kept);
    packet.truncated = size_t(n) > kept;
    packet.ifindex = from.sll_ifindex;
    if (from.sll_halen == 6) std::memcpy(packet.source_mac, from.sll_addr, 6);
    out->push_back(std::move(packet));
    ++got;
  }
  return got;
}

ssize_t IgmpSocket::send(const uint8_t* packet, size_t length, uint32_t group, std::string* error) {
  if (fd_ < 0) return fail(error, where(ifname_) + "closed", EBADF);
  if ((ntohl(group) >> 28) != 0xe) return fail(error, where(ifname_) + "destination is not a multicast group", EINVAL);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_IP);
  to.sll_ifindex = ifindex_;
  to.sll_halen = 6;
  ipv4_multicast_mac(group, to.sll_addr);
  for (;;) {
    const ssize_t n = sendto(fd_, packet, length, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
    if (n >= 0) return n;
    if (errno != EINTR) return fail(error, where(ifname_) + "sendto", errno);
  }
}

void IgmpSocket::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  pending_errno_ = 0;
}

}  // namespace mcr
