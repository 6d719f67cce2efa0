// SPDX-License-Identifier: MIT
// AF_PACKET + TPACKET_V2 receive ring. V2 rather than V3: V3 hands frames to userspace a block
// at a time and, at low rates, only when the block-retire timer fires (milliseconds), which is
// added latency a relay cannot afford; V2 hands over each frame as soon as it is written.
#include "mcr/ingress_ring.h"

#include "mcr/fail.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

namespace mcr {

namespace {

uint32_t next_pow2(uint32_t v) {
  uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}
}  // namespace

RingGeometry ring_geometry_for(uint32_t mtu, size_t ring_bytes) {
  if (mtu < 1500) mtu = 1500;
  // Slot = tpacket2 header + sockaddr_ll + alignment slack + Ethernet header, VLAN tag, MTU.
  const uint32_t needed = TPACKET_ALIGN(TPACKET2_HDRLEN) + 64 + ETH_HLEN + 4 + mtu;
  RingGeometry g;
  g.frame_size = next_pow2(needed);
  g.block_size = g.frame_size < (128u << 10) ? (128u << 10) : g.frame_size;
  size_t blocks = ring_bytes / g.block_size;
  g.block_count = uint32_t(blocks < 2 ? 2 : blocks);
  return g;
}

IngressRing::~IngressRing() { close(); }

int IngressRing::open(int ifindex, const std::string& ifname, const RingGeometry& geometry, FanoutGroup* fanout,
                      std::string* error) {
  close();
  const std::string where = " on " + ifname;
  // Protocol 0: no frames are queued until bind(), after the ring and filter are in place.
  fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return fail(error, "socket(AF_PACKET)" + where, errno);

  int version = TPACKET_V2;
  if (setsockopt(fd_, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) != 0)
    return fail(error, "setsockopt(PACKET_VERSION)" + where, errno);

  tpacket_req req{};
  req.tp_block_size = geometry.block_size;
  req.tp_block_nr = geometry.block_count;
  req.tp_frame_size = geometry.frame_size;
  req.tp_frame_nr = geometry.frame_count();
  if (setsockopt(fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) != 0)
    return fail(error, "setsockopt(PACKET_RX_RING)" + where, errno);
  map_len_ = size_t(req.tp_block_size) * req.tp_block_nr;
  void* map = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, fd_, 0);
  if (map == MAP_FAILED) map = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (map == MAP_FAILED) {
    map_len_ = 0;
    return fail(error, "mmap(rx ring)" + where, errno);
  }
  map_ = static_cast<uint8_t*>(map);
  geometry_ = geometry;
  frame_count_ = geometry.frame_count();
  head_ = 0;

  // Classic BPF: accept IPv4 UDP, and ESP to a multicast destination (ESP rules; the host's own
  // unicast IPsec traffic stays out of the ring); drop everything else in the kernel.
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),  // EtherType
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 6),
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 23),  // IPv4 protocol
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 3, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_ESP, 0, 3),
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 30),  // first byte of the IPv4 destination
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 224, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
      BPF_STMT(BPF_RET | BPF_K, 0),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof(code) / sizeof(code[0])), code};
  if (setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) != 0)
    return fail(error, "setsockopt(SO_ATTACH_FILTER)" + where, errno);

  // Our own sends on this interface must not come back in (no forwarding loops).
  int one = 1;
  if (setsockopt(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) != 0)
    return fail(error, "setsockopt(PACKET_IGNORE_OUTGOING)" + where, errno);

  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_IP);
  addr.sll_ifindex = ifindex;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return fail(error, "bind(AF_PACKET)" + where, errno);

  // Hash fanout keeps each flow on one worker, so a stream is never reordered. A single worker
  // needs no fanout, and skipping it saves a flow-dissector hash per frame on the receiving CPU.
  if (fanout == nullptr) return 0;
  int arg = fanout->assigned ? (int(fanout->id) | (PACKET_FANOUT_HASH << 16))
                             : ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_UNIQUEID) << 16);
  if (setsockopt(fd_, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) != 0)
    return fail(error, "setsockopt(PACKET_FANOUT)" + where, errno);
  if (!fanout->assigned) {
    const int id = fanout_group();
    if (id < 0)
      return fail(error, "PACKET_FANOUT" + where + ": the kernel reports no group after creating one", EPROTO);
    fanout->id = uint16_t(id);
    fanout->assigned = true;
  }
  // Frames queued between bind() and now were counted as received; that is fine.
  return 0;
}

int IngressRing::fanout_group() const {
  if (fd_ < 0) return -1;
  int value = 0;
  socklen_t len = sizeof(value);
  if (getsockopt(fd_, SOL_PACKET, PACKET_FANOUT, &value, &len) != 0) return -1;
  // The answer is id | type << 16 | flags << 24, and 0 when in no group: group 0 of type HASH
  // without flags also reads 0. Asking for a unique group with a nonzero id tells the two apart
  // without side effects: the kernel checks "already in a group" (EALREADY) before rejecting the
  // id (EINVAL).
  if (value != 0) return value & 0xffff;
  int probe = 1 | ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_UNIQUEID) << 16);
  if (setsockopt(fd_, SOL_PACKET, PACKET_FANOUT, &probe, sizeof(probe)) == 0) return -1;
  return errno == EALREADY ? 0 : -1;
}

void IngressRing::close() {
  if (map_) munmap(map_, map_len_);
  map_ = nullptr;
  map_len_ = 0;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void IngressRing::read_kernel_stats(uint64_t* packets, uint64_t* drops) {
  tpacket_stats stats{};
  socklen_t len = sizeof(stats);
  *packets = *drops = 0;
  if (fd_ >= 0 && getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &stats, &len) == 0) {
    *packets = stats.tp_packets;
    *drops = stats.tp_drops;
  }
}

}  // namespace mcr
