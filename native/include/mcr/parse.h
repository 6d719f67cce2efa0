// SPDX-License-Identifier: MIT
// Ethernet/IPv4/UDP frame parser for the receive path: no allocation, no exceptions, a verdict
// for every frame. Malformed frames get the counter that names why.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mcr/counters.h"

namespace mcr {

// What an ESP datagram's "port" is (UdpDatagram::dst_port, the rule table's key): beyond every
// UDP port, so ESP entries and UDP entries never share a key.
constexpr uint32_t kEspPort = 0x10000;

// A UDP datagram, or an ESP packet (IP protocol 50, RFC 4303): dst_port kEspPort, payload the
// IP payload (SPI, sequence number, encrypted data), which mcr forwards without reading.
struct UdpDatagram {
  uint32_t src_addr;  // network byte order
  uint32_t dst_addr;  // network byte order
  uint32_t dst_port;  // host byte order; kEspPort for ESP
  uint8_t ttl;        // as received
  uint16_t payload_len;
  const uint8_t* payload;
  const uint8_t* ip;  // the IPv4 header (packet egress reads the addresses its checksum update needs)
};

// frame: the captured bytes starting at the Ethernet header; captured_len: bytes present;
// wire_len: the frame's length on the wire (larger than captured_len when the ring slot was
// too small). Returns `matched` for a well-formed IPv4 UDP datagram or ESP packet (the caller
// decides matched/no_match), otherwise the filtered_* counter that names the reason: other IP
// protocols are filtered_not_udp, ESP shorter than its 8-byte header (SPI, sequence number)
// filtered_truncated.
WorkerCounter parse_udp_frame(const uint8_t* frame, size_t captured_len, size_t wire_len, UdpDatagram* out);

// RFC 1071 checksum over an IPv4 header, for tests and frame builders.
uint16_t ipv4_header_checksum(const uint8_t* header, size_t len);

}  // namespace mcr
