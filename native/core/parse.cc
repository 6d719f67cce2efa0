// SPDX-License-Identifier: MIT
// Ethernet/IPv4/UDP parsing with a named verdict for every malformed case.
#include "mcr/parse.h"

#include <arpa/inet.h>

#include <cstring>

namespace mcr {

namespace {
constexpr size_t kEthHeader = 14;
constexpr size_t kIpv4MinHeader = 20;
constexpr size_t kUdpHeader = 8;
constexpr size_t kEspHeader = 8;  // SPI and sequence number
constexpr uint8_t kProtoUdp = 17, kProtoEsp = 50;

inline uint16_t load_be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // stays in network order
  return v;
}
}  // namespace

uint16_t ipv4_header_checksum(const uint8_t* header, size_t len) {
  // 32-bit loads in host byte order: the one's-complement sum is byte-order independent up to
  // a final byte swap (RFC 1071 section 2(B)), and five loads beat ten 16-bit big-endian ones.
  uint64_t sum = 0;
  size_t i = 0;
  for (; i + 4 <= len; i += 4) {
    uint32_t word;
    std::memcpy(&word, header + i, 4);
    sum += word;
  }
  for (; i + 1 < len; i += 2) {
    uint16_t half;
    std::memcpy(&half, header + i, 2);
    sum += half;
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~ntohs(uint16_t(sum)));
}

WorkerCounter parse_udp_frame(const uint8_t* frame, size_t captured_len, size_t wire_len, UdpDatagram* out) {
  if (wire_len > captured_len) return filtered_oversize;
  if (captured_len < kEthHeader + kIpv4MinHeader) return filtered_truncated;
  if (load_be16(frame + 12) != 0x0800) return filtered_not_ipv4;

  const uint8_t* ip = frame + kEthHeader;
  const size_t ip_available = captured_len - kEthHeader;
  if ((ip[0] >> 4) != 4) return filtered_bad_ip_header;
  const size_t ihl = size_t(ip[0] & 0x0f) * 4;
  if (ihl < kIpv4MinHeader) return filtered_bad_ip_header;
  if (ihl > ip_available) return filtered_truncated;
  const size_t total_len = load_be16(ip + 2);
  if (total_len < ihl) return filtered_bad_ip_header;
  // Ethernet pads short frames, so more bytes than total_len is normal; fewer is not.
  if (total_len > ip_available) return filtered_truncated;
  // Summing the header including its checksum field gives 0xffff when it is right.
  if (ipv4_header_checksum(ip, ihl) != 0) return filtered_bad_ip_checksum;
  if ((load_be16(ip + 6) & 0x3fff) != 0) return filtered_fragment;
  if (ip[9] != kProtoUdp) [[unlikely]] {
    if (ip[9] != kProtoEsp) return filtered_not_udp;
    // ESP: the whole IP payload is what is forwarded; only its header's presence is checked.
    const size_t esp_len = total_len - ihl;
    if (esp_len < kEspHeader) return filtered_truncated;
    out->src_addr = load_u32(ip + 12);
    out->dst_addr = load_u32(ip + 16);
    out->dst_port = kEspPort;
    out->ttl = ip[8];
    out->payload_len = uint16_t(esp_len);
    out->payload = ip + ihl;
    out->ip = ip;
    return matched;
  }

  const uint8_t* udp = ip + ihl;  // IP options (IHL > 5) are skipped, not rejected
  const size_t ip_payload = total_len - ihl;
  if (ip_payload < kUdpHeader) return filtered_truncated;
  const size_t udp_len = load_be16(udp + 4);
  if (udp_len < kUdpHeader || udp_len > ip_payload) return filtered_bad_udp_length;

  out->src_addr = load_u32(ip + 12);
  out->dst_addr = load_u32(ip + 16);
  out->dst_port = load_be16(udp + 2);
  out->ttl = ip[8];
  out->payload_len = uint16_t(udp_len - kUdpHeader);
  out->payload = udp + kUdpHeader;
  out->ip = ip;
  return matched;
}

}  // namespace mcr
