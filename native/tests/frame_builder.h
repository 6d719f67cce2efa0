// SPDX-License-Identifier: MIT
// Builds Ethernet + IPv4 (+ NOP options) + UDP frames for the core tests; each field can be
// broken on purpose. tests/fixtures/frames.json names these fields in camelCase with these
// defaults, and fixtureFrame() in tests/helpers/frames.ts builds the same bytes for TypeScript.
#pragma once

#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "mcr/parse.h"

namespace mcr_test {

struct FrameSpec {
  uint16_t ethertype = 0x0800;
  uint8_t version = 4;
  uint8_t ihl = 5;
  uint8_t protocol = 17;
  uint16_t frag = 0x4000;  // DF
  int total_len_delta = 0;
  int udp_len_delta = 0;
  bool break_checksum = false;
  const char* src = "10.0.1.1";
  const char* dst = "239.1.1.1";
  uint16_t port = 5001;
  size_t payload = 100;
  size_t cut = 0;  // bytes removed from the end after building
  uint8_t ttl = 64;
};

inline std::vector<uint8_t> build_frame(const FrameSpec& s) {
  const size_t ip_header = size_t(s.ihl) * 4;
  const size_t ip_header_real = ip_header < 20 ? 20 : ip_header;
  std::vector<uint8_t> f(14 + ip_header_real + 8 + s.payload, 0);
  f[12] = uint8_t(s.ethertype >> 8);
  f[13] = uint8_t(s.ethertype);
  uint8_t* ip = f.data() + 14;
  ip[0] = uint8_t(s.version << 4 | s.ihl);
  const int total = int(ip_header_real + 8 + s.payload) + s.total_len_delta;
  ip[2] = uint8_t(total >> 8);
  ip[3] = uint8_t(total);
  ip[6] = uint8_t(s.frag >> 8);
  ip[7] = uint8_t(s.frag);
  ip[8] = s.ttl;
  ip[9] = s.protocol;
  inet_pton(AF_INET, s.src, ip + 12);
  inet_pton(AF_INET, s.dst, ip + 16);
  for (size_t i = 20; i < ip_header_real; ++i) ip[i] = 1;  // NOP options
  uint16_t sum = mcr::ipv4_header_checksum(ip, ip_header_real);
  if (s.break_checksum) sum ^= 0x5555;
  ip[10] = uint8_t(sum >> 8);
  ip[11] = uint8_t(sum);
  uint8_t* udp = ip + ip_header_real;
  udp[0] = 0x13;
  udp[1] = 0x88;
  udp[2] = uint8_t(s.port >> 8);
  udp[3] = uint8_t(s.port);
  const int udp_len = int(8 + s.payload) + s.udp_len_delta;
  udp[4] = uint8_t(udp_len >> 8);
  udp[5] = uint8_t(udp_len);
  for (size_t i = 0; i < s.payload; ++i) udp[8 + i] = uint8_t(i);
  f.resize(f.size() - s.cut);
  return f;
}

}  // namespace mcr_test
