// SPDX-License-Identifier: MIT
// The PIM socket of one interface (RFC 7761 messages, IP protocol 103): every PIM message that
// arrives on it for ALL-PIM-ROUTERS (224.0.0.13) or for this host, and PIM messages sent from it,
// the kernel writing the IP header. Plain C++ for the control plane (the binding polls it on the
// JS thread); no threads of its own.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mcr {

// One received PIM message: its bytes after the IP header, and the header fields a PIM router
// needs (addresses in network order).
struct PimPacket {
  std::vector<uint8_t> data;
  uint32_t source = 0;
  uint32_t destination = 0;
  int ttl = 0;
  int ifindex = 0;
};

class PimSocket {
 public:
  // ALL-PIM-ROUTERS, 224.0.0.13, in host order.
  static constexpr uint32_t kAllPimRouters = 0xe000000d;
  // The largest IPv4 datagram (total length is 16 bits), so nothing is ever truncated.
  static constexpr size_t kReceiveBytes = 65536;
  // The PIM header (version/type, reserved, checksum): the shortest message send() takes.
  static constexpr size_t kHeaderBytes = 4;

  PimSocket() = default;
  ~PimSocket() { close(); }
  PimSocket(const PimSocket&) = delete;
  PimSocket& operator=(const PimSocket&) = delete;

  // Opens the socket on `ifname` and joins 224.0.0.13 there: 0, or -errno with *error naming the
  // interface and the step.
  int open(const std::string& ifname, std::string* error);
  // Takes up to `max` waiting messages (appended to *out): how many, 0 when none waits, or -errno
  // (ENETDOWN once each time the interface goes down; the socket receives again when it is back).
  int receive(std::vector<PimPacket>* out, size_t max, std::string* error);
  // Sends one PIM message (header and checksum included, as built by the caller) to
  // `destination` (network order): TTL 1 to a multicast group, the system default to a unicast
  // address; either way it leaves by this socket's interface. Bytes sent, or -errno.
  ssize_t send(const uint8_t* message, size_t length, uint32_t destination, std::string* error);
  // Idempotent; the kernel drops the membership with the socket.
  void close();

  // Readable (level-triggered) while a message waits or the interface went down: the fd to poll.
  int poll_fd() const { return poll_fd_; }
  // The raw IPPROTO_PIM socket itself.
  int fd() const { return fd_; }
  int ifindex() const { return ifindex_; }
  const std::string& ifname() const { return ifname_; }

 private:
  int fd_ = -1;
  int link_fd_ = -1;  // see pim_socket.cc: a packet socket the kernel tells about the link going down
  int poll_fd_ = -1;  // epoll over fd_ and link_fd_
  int ifindex_ = 0;
  int pending_errno_ = 0;  // an error met after messages were taken, for the next receive()
  std::string ifname_;
  std::vector<uint8_t> buffer_;
};

}  // namespace mcr
