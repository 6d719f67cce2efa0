// SPDX-License-Identifier: MIT
// Why a raw IPPROTO_PIM socket per interface (as FRR's pimd has): PIM messages are addressed to
// 224.0.0.13 or unicast to this host, so the kernel delivers them to every raw PIM socket once a
// socket joined 224.0.0.13 on the interface; each raw socket gets its own copy, so this coexists
// with any other PIM speaker in the namespace. The multicast-routing socket (MRT_INIT) is not
// needed: there is one per namespace and the kernel's forwarding is not used.
//
// A raw inet socket is told nothing when its interface goes down (no error, no wakeup: sends just
// fail), while the router must hear of it as the IGMP socket does. A packet socket bound to the
// interface is: the kernel sets ENETDOWN on it at NETDEV_DOWN and rehooks it at NETDEV_UP. So each
// PimSocket keeps one, bound to an EtherType nothing sends (local experimental 1) behind a filter
// that drops everything: it never queues a frame and costs nothing per packet.
#include "mcr/pim_socket.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mcr/fail.h"

namespace mcr {

namespace {

sock_filter kDropAll[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
sock_fprog kDropAllProgram = {1, kDropAll};

constexpr size_t kIpv4HeaderBytes = 20;

std::string where(const std::string& ifname) { return "PIM socket on " + ifname + ": "; }

}  // namespace

int PimSocket::open(const std::string& ifname, std::string* error) {
  close();
  const std::string at = where(ifname);
  const int ifindex = interface_index(ifname, at, error);
  if (ifindex < 0) return ifindex;
  int fd = -1, link_fd = -1, poll_fd = -1;
  auto give_up = [&](const std::string& step) {
    const int err = errno;
    for (int f : {fd, link_fd, poll_fd})
      if (f >= 0) ::close(f);
    return fail(error, at + step, err);
  };
  fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_PIM);
  if (fd < 0)
    return give_up(errno == EPERM ? "socket(AF_INET, SOCK_RAW, IPPROTO_PIM) needs CAP_NET_RAW"
                                  : "socket(AF_INET, SOCK_RAW, IPPROTO_PIM)");
  // Messages that arrive before this on other interfaces may be queued: receive() skips them.
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(), socklen_t(ifname.size())) != 0)
    return give_up("setsockopt(SO_BINDTODEVICE)");
  const int on = 1, off = 0, ttl = 1;
  if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)) != 0) return give_up("setsockopt(IP_PKTINFO)");
  ip_mreqn mreq{};
  mreq.imr_ifindex = ifindex;
  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof(mreq)) != 0)
    return give_up("setsockopt(IP_MULTICAST_IF)");
  // Link-local PIM (Hello, Join/Prune, Assert) never crosses a router.
  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) != 0)
    return give_up("setsockopt(IP_MULTICAST_TTL)");
  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &off, sizeof(off)) != 0)
    return give_up("setsockopt(IP_MULTICAST_LOOP)");
  // Room for a burst of Registers; capped by net.core.rmem_max, which is fine.
  const int rcvbuf = 1 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  mreq.imr_multiaddr.s_addr = htonl(kAllPimRouters);
  if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) != 0)
    return give_up("setsockopt(IP_ADD_MEMBERSHIP, 224.0.0.13)");

  // The link watch (see the top of the file). Protocol 0 until the filter is attached.
  link_fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (link_fd < 0) return give_up("socket(AF_PACKET) for the link watch");
  if (setsockopt(link_fd, SOL_SOCKET, SO_ATTACH_FILTER, &kDropAllProgram, sizeof(kDropAllProgram)) != 0)
    return give_up("setsockopt(SO_ATTACH_FILTER) for the link watch");
  sockaddr_ll link_addr{};
  link_addr.sll_family = AF_PACKET;
  link_addr.sll_protocol = htons(ETH_P_802_EX1);
  link_addr.sll_ifindex = ifindex;
  // On an interface that is down already, the kernel sets ENETDOWN here: the first receive() says so.
  if (bind(link_fd, reinterpret_cast<sockaddr*>(&link_addr), sizeof(link_addr)) != 0)
    return give_up("bind(AF_PACKET) for the link watch");

  poll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (poll_fd < 0) return give_up("epoll_create1");
  for (int f : {fd, link_fd}) {
    epoll_event ev{};
    ev.events = EPOLLIN;  // EPOLLERR is always reported
    ev.data.fd = f;
    if (epoll_ctl(poll_fd, EPOLL_CTL_ADD, f, &ev) != 0) return give_up("epoll_ctl");
  }
  fd_ = fd;
  link_fd_ = link_fd;
  poll_fd_ = poll_fd;
  ifindex_ = ifindex;
  ifname_ = ifname;
  buffer_.resize(kReceiveBytes);
  return 0;
}

int PimSocket::receive(std::vector<PimPacket>* out, size_t max, std::string* error) {
  if (fd_ < 0) return fail(error, where(ifname_) + "closed", EBADF);
  if (pending_errno_ != 0) {
    const int err = pending_errno_;
    pending_errno_ = 0;
    return fail(error, where(ifname_) + (err == ENETDOWN ? "interface went down" : "recvmsg"), err);
  }
  int got = 0;
  while (size_t(got) < max) {
    iovec iov{buffer_.data(), buffer_.size()};
    alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(in_pktinfo))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg(fd_, &msg, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      // A socket error is reported once (recvmsg cleared it): messages already taken are
      // returned now and the error by the next call.
      if (got > 0) {
        pending_errno_ = errno;
        return got;
      }
      return fail(error, where(ifname_) + "recvmsg", errno);
    }
    int ifindex = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof(info));
        ifindex = info.ipi_ifindex;
      }
    }
    if (ifindex != ifindex_) continue;  // queued before SO_BINDTODEVICE took effect
    // The kernel checked the header before delivering; checked again so a bad one is skipped.
    const uint8_t* ip = buffer_.data();
    const size_t header = size_t(ip[0] & 0x0f) * 4;
    if (size_t(n) < kIpv4HeaderBytes || (ip[0] >> 4) != 4 || header < kIpv4HeaderBytes || header > size_t(n)) continue;
    PimPacket packet;
    packet.data.assign(ip + header, ip + n);
    std::memcpy(&packet.source, ip + 12, 4);
    std::memcpy(&packet.destination, ip + 16, 4);
    packet.ttl = ip[8];
    packet.ifindex = ifindex;
    out->push_back(std::move(packet));
    ++got;
  }
  if (size_t(got) < max) {
    // The raw socket is drained: now whether the interface went down (reading clears it).
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(link_fd_, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
      if (got > 0) {
        pending_errno_ = err;
        return got;
      }
      return fail(error, where(ifname_) + (err == ENETDOWN ? "interface went down" : "link watch"), err);
    }
  }
  return got;
}

ssize_t PimSocket::send(const uint8_t* message, size_t length, uint32_t destination, std::string* error) {
  if (fd_ < 0) return fail(error, where(ifname_) + "closed", EBADF);
  if (length < kHeaderBytes) return fail(error, where(ifname_) + "message shorter than the 4-byte PIM header", EINVAL);
  if (destination == 0) return fail(error, where(ifname_) + "destination 0.0.0.0", EINVAL);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = destination;
  for (;;) {
    const ssize_t n = sendto(fd_, message, length, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
    if (n >= 0) return n;
    if (errno != EINTR) return fail(error, where(ifname_) + "sendto", errno);
  }
}

void PimSocket::close() {
  for (int* f : {&poll_fd_, &link_fd_, &fd_}) {
    if (*f >= 0) ::close(*f);
    *f = -1;
  }
  pending_errno_ = 0;
}

}  // namespace mcr
