// SPDX-License-Identifier: MIT
// The IGMP packet socket of one interface: every IGMP message that arrives on it (reports for
// groups this host never joined included), and IGMP messages sent to a group's multicast MAC.
// Plain C++ for the control plane (the binding polls it on the JS thread); no threads of its own.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

struct sock_fprog;

namespace mcr {

// One received IGMP datagram: the IPv4 packet (header first), where and from whom it came.
struct IgmpPacket {
  std::vector<uint8_t> data;
  int ifindex = 0;
  uint8_t source_mac[6] = {};
  // The packet was longer than the receive buffer; `data` holds its start only.
  bool truncated = false;
};

// The Ethernet address IPv4 multicast `group` (network order) maps to: 01:00:5e + its low 23 bits.
void ipv4_multicast_mac(uint32_t group, uint8_t mac[6]);

// The classic BPF program the socket attaches: IPv4, IP protocol 2, not PACKET_OUTGOING.
// Exposed so the tests can attach it to other sockets.
const sock_fprog* igmp_socket_filter();

class IgmpSocket {
 public:
  // The largest datagram received whole (larger ones are truncated and flagged).
  static constexpr size_t kReceiveBytes = 65536;

  IgmpSocket() = default;
  ~IgmpSocket() { close(); }
  IgmpSocket(const IgmpSocket&) = delete;
  IgmpSocket& operator=(const IgmpSocket&) = delete;

  // Opens the socket on `ifname`: 0, or -errno with *error naming the interface and the step.
  int open(const std::string& ifname, std::string* error);
  // Takes up to `max` waiting packets (appended to *out): how many, 0 when none waits, or -errno
  // (ENETDOWN once when the interface went down; the socket works again when it comes back).
  int receive(std::vector<IgmpPacket>* out, size_t max, std::string* error);
  // Sends one IPv4 packet (header first, as built by the caller) to `group`'s multicast MAC
  // (group in network order): bytes sent, or -errno.
  ssize_t send(const uint8_t* packet, size_t length, uint32_t group, std::string* error);
  // Idempotent; leaves the ALLMULTI membership (the kernel drops it with the socket).
  void close();

  int fd() const { return fd_; }
  int ifindex() const { return ifindex_; }
  const std::string& ifname() const { return ifname_; }

 private:
  int fd_ = -1;
  int ifindex_ = 0;
  int pending_errno_ = 0;  // an error met after packets were taken, for the next receive()
  std::string ifname_;
  std::vector<uint8_t> buffer_;
};

}  // namespace mcr
