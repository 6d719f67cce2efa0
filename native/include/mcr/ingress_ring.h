// SPDX-License-Identifier: MIT
// One AF_PACKET receive socket with a PACKET_MMAP (TPACKET_V2) ring, bound to one interface,
// filtered in the kernel to IPv4 UDP, not seeing our own transmissions, and a member of the
// interface's fanout group. Opened and closed by the control thread; read by one worker.
#pragma once

#include <linux/if_packet.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace mcr {

struct RingGeometry {
  uint32_t frame_size;  // bytes per slot (header + frame), a power of two
  uint32_t block_size;  // multiple of the page size and of frame_size
  uint32_t block_count;
  uint32_t frame_count() const { return block_size / frame_size * block_count; }
  bool operator==(const RingGeometry&) const = default;
};

// Slots large enough for a frame of `mtu` plus headers, totalling about `ring_bytes`.
RingGeometry ring_geometry_for(uint32_t mtu, size_t ring_bytes);

// The fanout group one input's rings share, so each frame goes to exactly one worker. The first
// ring asks the kernel for a unique id and the others join it. "Assigned" is its own flag, not
// id 0: the kernel hands out 0 too (the first unique group after boot, and again every time its
// 16-bit counter wraps), and taking 0 for "none yet" put every ring in a group of its own, so
// every worker forwarded every frame.
struct FanoutGroup {
  bool assigned = false;
  uint16_t id = 0;
};

class IngressRing {
 public:
  IngressRing() = default;
  ~IngressRing();
  IngressRing(const IngressRing&) = delete;
  IngressRing& operator=(const IngressRing&) = delete;

  // fanout: nullptr for no fanout group (one worker). Otherwise, when not yet assigned, asks the
  // kernel for a unique id (PACKET_FANOUT_FLAG_UNIQUEID) and stores it there for the other
  // workers' rings; when assigned, joins that group. Returns 0 or -errno, with *error naming the call.
  int open(int ifindex, const std::string& ifname, const RingGeometry& geometry, FanoutGroup* fanout,
           std::string* error);
  void close();

  // The fanout group the kernel has this socket in, or -1 for none (or a failed query).
  int fanout_group() const;

  int fd() const { return fd_; }
  const RingGeometry& geometry() const { return geometry_; }

  // Worker side. The slot at the head, or nullptr when the kernel has not filled it yet.
  tpacket2_hdr* head_frame() {
    auto* hdr = reinterpret_cast<tpacket2_hdr*>(map_ + size_t(head_) * geometry_.frame_size);
    uint32_t status = __atomic_load_n(&hdr->tp_status, __ATOMIC_ACQUIRE);
    return (status & TP_STATUS_USER) ? hdr : nullptr;
  }
  void advance() { head_ = head_ + 1 == frame_count_ ? 0 : head_ + 1; }
  static void release(tpacket2_hdr* hdr) { __atomic_store_n(&hdr->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE); }

  // Control side: PACKET_STATISTICS since the last call (the kernel resets on read).
  void read_kernel_stats(uint64_t* packets, uint64_t* drops);

 private:
  int fd_ = -1;
  uint8_t* map_ = nullptr;
  size_t map_len_ = 0;
  RingGeometry geometry_{};
  uint32_t frame_count_ = 0;
  uint32_t head_ = 0;  // owned by the worker that reads this ring
};

}  // namespace mcr
