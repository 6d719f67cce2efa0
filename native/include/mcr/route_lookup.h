// SPDX-License-Identifier: MIT
// The kernel's unicast routing table as PIM's RPF check needs it: which interface and next hop
// the kernel would use toward an address (what `ip route get ADDR` asks, over NETLINK_ROUTE),
// and a socket that wakes when routes, addresses or links change so the caller can look again.
// Plain C++ for the control plane; no threads, nothing on the packet path.
#pragma once

#include <cstdint>
#include <string>

namespace mcr {

// One answer of the kernel's route lookup. Addresses in network order.
struct RouteAnswer {
  int ifindex = 0;
  uint32_t gateway = 0;  // 0: the destination is directly connected (or local)
  uint32_t preferred_source = 0;
  uint8_t type = 0;           // RTN_UNICAST, RTN_LOCAL, RTN_BROADCAST, RTN_MULTICAST, ...
  uint8_t prefix_length = 0;  // of the table entry that matched (0 for the default route)
};

// Looks `destination` (network order) up in the kernel's routing table of this process's network
// namespace: 0, or -errno with *error naming the address and the step. A destination without a
// route is the kernel's own errno: ENETUNREACH (no route), EHOSTUNREACH (an unreachable route),
// EACCES (prohibit), EINVAL (blackhole). Waits at most about a second per netlink request.
int route_lookup(uint32_t destination, RouteAnswer* out, std::string* error);

// A NETLINK_ROUTE socket joined to the IPv4 route, IPv4 address and link groups, non-blocking.
class RouteMonitor {
 public:
  // Room for a burst of notifications between two drains; capped by net.core.rmem_max.
  static constexpr int kSocketBufferBytes = 1 << 20;

  RouteMonitor() = default;
  ~RouteMonitor() { close(); }
  RouteMonitor(const RouteMonitor&) = delete;
  RouteMonitor& operator=(const RouteMonitor&) = delete;

  // 0, or -errno with *error naming the step.
  int open(std::string* error);
  // Reads every waiting notification: how many route, address or link changes they were (0 when
  // none), at least 1 when the socket overflowed (ENOBUFS: changes were lost, so look again), or
  // -errno.
  int drain(std::string* error);
  // Idempotent.
  void close();

  // Readable while notifications wait.
  int poll_fd() const { return fd_; }

 private:
  int fd_ = -1;
};

}  // namespace mcr
