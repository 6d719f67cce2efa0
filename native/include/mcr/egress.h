// SPDX-License-Identifier: MIT
// Egress UDP sockets (created on the control path, never per packet) and the per-worker send
// batcher that groups a receive batch's datagrams by socket and sends each group with one
// sendmmsg, pointing every output's iovec at the same bytes in the receive ring (no copy).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "mcr/counters.h"
#include "mcr/trace.h"

namespace mcr {

struct EgressKey {
  int ifindex;
  uint8_t ttl;
  uint32_t source;  // network byte order, 0 = the kernel picks
  bool operator==(const EgressKey&) const = default;
};

// A non-blocking UDP socket bound to the interface: multicast TTL and interface set, multicast
// loopback off (we never hear our own output), large send buffer. Returns the fd or -errno.
int open_egress_socket(const EgressKey& key, const std::string& ifname, int sndbuf_bytes, std::string* error);

class RuleTable;

// Scratch space for one receive batch. Lives inside the worker; fixed size, no allocation.
class SendBatcher {
 public:
  static constexpr uint32_t kMaxPending = 4096;
  static constexpr uint32_t kMaxEgress = 1024;
  // How flush() hands one socket's messages to the kernel: ::sendmmsg in the workers. Tests and
  // the replay harness pass a function that captures or discards them without a syscall.
  using SendFn = int (*)(int fd, mmsghdr* msgs, unsigned n, int flags);

  explicit SendBatcher(SendFn send = ::sendmmsg) : send_(send) {}

  // Queue one datagram; returns false when the batch is full (the caller flushes and retries).
  // ttl 0: the socket's own TTL; otherwise this datagram's TTL (an IP_TTL control message).
  bool add(uint32_t egress_index, uint32_t output_slot, const sockaddr_in* dest, const uint8_t* payload, uint16_t len,
           uint8_t ttl = 0) {
    if (count_ == kMaxPending || egress_index >= kMaxEgress) return false;
    pending_[count_++] = Pending{egress_index, output_slot, dest, payload, len, ttl};
    any_ttl_ |= ttl;
    return true;
  }
  uint32_t size() const { return count_; }

  // Sends everything queued, updating the worker's counters. One send call per egress socket
  // (more only for a partial send or more than UIO_MAXIOV messages). A traced batch passes a
  // SendLog and each call is timed into it.
  void flush(const RuleTable& table, WorkerBlock& counters, SendLog* log = nullptr);

 private:
  struct Pending {
    uint32_t egress_index;
    uint32_t output_slot;
    const sockaddr_in* dest;
    const uint8_t* payload;
    uint16_t len;
    uint8_t ttl;
  };
  // One IP_TTL control message per pending datagram, used only by those with their own TTL.
  struct alignas(cmsghdr) TtlControl {
    uint8_t bytes[CMSG_SPACE(sizeof(int))];
  };
  void count_error(int err, uint32_t first, uint32_t n, WorkerBlock& counters);

  SendFn send_;
  uint32_t count_ = 0;
  uint8_t any_ttl_ = 0;  // non-zero: some pending datagram has its own TTL
  Pending pending_[kMaxPending];
  uint32_t order_[kMaxPending];          // pending indexes sorted by egress socket
  uint32_t per_egress_[kMaxEgress + 1];  // counting-sort buckets
  mmsghdr msgs_[kMaxPending];
  iovec iovs_[kMaxPending];
  TtlControl ttl_controls_[kMaxPending];
};

}  // namespace mcr
