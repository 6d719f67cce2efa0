// SPDX-License-Identifier: MIT
// Why an AF_PACKET SOCK_DGRAM socket: a raw inet socket with IP_HDRINCL would route the packet
// (by destination, from a source the host does not own) and loop it back; a packet socket puts
// the bytes on the named interface as they are, with the link header built by the kernel from
// sll_addr, and still through the interface's qdisc (PACKET_QDISC_BYPASS is not set, so tc
// shaping applies). The MTU is checked here too, so a refusal names it: the kernel's own check on
// a packet socket allows the MTU plus a VLAN tag.
#include "mcr/ip_sender.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mcr/fail.h"
#include "mcr/igmp_socket.h"

namespace mcr {

namespace {

constexpr size_t kIpv4HeaderBytes = 20;

std::string where(const std::string& ifname) { return "IP sender on " + ifname + ": "; }

}  // namespace

int check_ipv4_multicast_packet(const uint8_t* packet, size_t length, std::string* error) {
  if (length < kIpv4HeaderBytes)
    return fail(error, "packet of " + std::to_string(length) + " bytes is shorter than an IPv4 header", EINVAL);
  if ((packet[0] >> 4) != 4)
    return fail(error, "packet is not IPv4 (version " + std::to_string(packet[0] >> 4) + ")", EINVAL);
  const size_t header = size_t(packet[0] & 0x0f) * 4;
  if (header < kIpv4HeaderBytes || header > length)
    return fail(
        error,
        "IPv4 header length " + std::to_string(header) + " does not fit a " + std::to_string(length) + "-byte packet",
        EINVAL);
  const size_t total = (size_t(packet[2]) << 8) | packet[3];
  if (total != length)
    return fail(
        error,
        "IPv4 total length " + std::to_string(total) + " is not the packet's " + std::to_string(length) + " bytes",
        EINVAL);
  if ((packet[16] >> 4) != 0xe) {
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, packet + 16, text, sizeof(text));
    return fail(error, std::string("destination ") + text + " is not multicast (224.0.0.0/4)", EINVAL);
  }
  return 0;
}

int IpSender::open(const std::string& ifname, std::string* error) {
  close();
  const std::string at = where(ifname);
  const int ifindex = interface_index(ifname, at, error);
  if (ifindex < 0) return ifindex;
  // Protocol 0: the socket only sends, so it never has frames queued for it.
  const int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return fail(error, at + (errno == EPERM ? "socket(AF_PACKET) needs CAP_NET_RAW" : "socket(AF_PACKET)"), errno);
  ifreq req{};
  std::memcpy(req.ifr_name, ifname.c_str(), ifname.size());
  if (ioctl(fd, SIOCGIFHWADDR, &req) != 0) {
    const int err = errno;
    ::close(fd);
    return fail(error, at + "ioctl(SIOCGIFHWADDR)", err);
  }
  // The link header is built from a multicast MAC: only Ethernet (veth included) has one.
  if (req.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
    ::close(fd);
    return fail(error, at + "not an Ethernet interface (link type " + std::to_string(req.ifr_hwaddr.sa_family) + ")",
                EINVAL);
  }
  fd_ = fd;
  ifindex_ = ifindex;
  ifname_ = ifname;
  if (int rc = read_mtu(error); rc < 0) {
    close();
    return rc;
  }
  return 0;
}

int IpSender::read_mtu(std::string* error) {
  ifreq req{};
  std::memcpy(req.ifr_name, ifname_.c_str(), ifname_.size());
  if (ioctl(fd_, SIOCGIFMTU, &req) != 0) return fail(error, where(ifname_) + "ioctl(SIOCGIFMTU)", errno);
  mtu_ = req.ifr_mtu;
  return 0;
}

ssize_t IpSender::send(const uint8_t* packet, size_t length, std::string* error) {
  if (fd_ < 0) return fail(error, where(ifname_) + "closed", EBADF);
  if (int rc = check_ipv4_multicast_packet(packet, length, error); rc < 0) {
    if (error) *error = where(ifname_) + *error;
    return rc;
  }
  auto too_big = [&]() {
    return fail(
        error,
        where(ifname_) + "packet of " + std::to_string(length) + " bytes is over the MTU of " + std::to_string(mtu_),
        EMSGSIZE);
  };
  // The MTU may have been raised since it was read: read again before refusing.
  if (length > size_t(mtu_)) {
    if (int rc = read_mtu(error); rc < 0) return rc;
    if (length > size_t(mtu_)) return too_big();
  }
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_IP);
  to.sll_ifindex = ifindex_;
  to.sll_halen = 6;
  uint32_t destination;
  std::memcpy(&destination, packet + 16, 4);
  ipv4_multicast_mac(destination, to.sll_addr);
  for (;;) {
    const ssize_t n = sendto(fd_, packet, length, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EMSGSIZE) {
      // The MTU was lowered since it was read.
      if (int rc = read_mtu(error); rc < 0) return rc;
      return too_big();
    }
    return fail(error, where(ifname_) + "sendto", errno);
  }
}

void IpSender::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace mcr
