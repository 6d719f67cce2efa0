// SPDX-License-Identifier: MIT
// Sends whole IPv4 multicast packets (header included, as the caller built them) out of one
// Ethernet interface: what PIM's RP needs to forward a decapsulated Register's inner packet down
// the shared tree with its source kept. Control plane only (low rate, on the JS thread): the
// datapath's own egress is native/core/egress.cc.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace mcr {

// 0 when `packet` is an IPv4 packet this sender takes: at least 20 bytes, version 4, a header
// length from 20 bytes that fits, a total length equal to `length`, a multicast destination
// (224.0.0.0/4). Otherwise -EINVAL with *error saying which. The checksum and TTL are the
// caller's and are not looked at.
int check_ipv4_multicast_packet(const uint8_t* packet, size_t length, std::string* error);

class IpSender {
 public:
  IpSender() = default;
  ~IpSender() { close(); }
  IpSender(const IpSender&) = delete;
  IpSender& operator=(const IpSender&) = delete;

  // Opens the sender on `ifname` (an Ethernet interface: lo and other link types are refused
  // with EINVAL) and reads its MTU: 0, or -errno with *error naming the interface and the step.
  // Needs CAP_NET_RAW.
  int open(const std::string& ifname, std::string* error);
  // Sends one packet as given (see check_ipv4_multicast_packet) to its destination's multicast
  // MAC: bytes sent, or -errno. A packet over the interface MTU is -EMSGSIZE.
  ssize_t send(const uint8_t* packet, size_t length, std::string* error);
  // Idempotent.
  void close();

  int fd() const { return fd_; }
  int ifindex() const { return ifindex_; }
  // As last read: at open, and again when a packet did not fit.
  int mtu() const { return mtu_; }
  const std::string& ifname() const { return ifname_; }

 private:
  int read_mtu(std::string* error);

  int fd_ = -1;
  int ifindex_ = 0;
  int mtu_ = 0;
  std::string ifname_;
};

}  // namespace mcr
