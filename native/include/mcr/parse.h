// SPDX-License-Identifier: MIT
// Ethernet/IPv4/UDP frame parser for the receive path: no allocation, no exceptions, a verdict
// for every frame. Malformed frames get the counter that names why.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mcr/counters.h"

namespace mcr {

struct UdpDatagram {
  uint32_t src_addr;  // network byte order
  uint32_t dst_addr;  // network byte order
  uint16_t dst_port;  // host byte order
  uint8_t ttl;        // as received
  uint16_t payload_len;
  const uint8_t* payload;
  const uint8_t* ip;  // the IPv4 header (packet egress reads the addresses its checksum update needs)
};

// frame: the captured bytes starting at the Ethernet header; captured_len: bytes present;
// wire_len: the frame's length on the wire (larger than captured_len when the ring slot was
// too small). Returns `matched` for a well-formed IPv4 UDP datagram (the caller decides
// matched/no_match), otherwise the filtered_* counter that names the reason.
WorkerCounter parse_udp_frame(const uint8_t* frame, size_t captured_len, size_t wire_len, UdpDatagram* out);

// RFC 1071 checksum over an IPv4 header, for tests and frame builders.
uint16_t ipv4_header_checksum(const uint8_t* header, size_t len);

}  // namespace mcr
