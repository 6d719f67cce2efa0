// SPDX-License-Identifier: MIT
// Packet egress (mcr/egress.h): the prebuilt frame template, the per-datagram header fill with
// its three checksum cases (complete: updated incrementally; partial: left to the NIC through the
// virtio_net_hdr; none: stays none), each checked against a checksum computed from scratch over
// the frame that would be on the wire, and process_frame's choice between packet egress and
// the UDP socket.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "frame_builder.h"
#include "harness.h"
#include "mcr/counters.h"
#include "mcr/egress.h"
#include "mcr/forward.h"
#include "mcr/parse.h"
#include "mcr/rule_table.h"
#include "trace_fixture.h"

namespace mcr_test {
namespace {

uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

// RFC 768 from scratch: pseudo-header, UDP header with the checksum field zero, payload.
uint16_t udp_checksum(const uint8_t* ip, const uint8_t* udp, const uint8_t* payload, uint16_t payload_len) {
  uint32_t sum = 0;
  auto add = [&](const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) sum += (i % 2 == 0) ? uint32_t(p[i]) << 8 : p[i];
  };
  add(ip + 12, 8);
  sum += IPPROTO_UDP;
  sum += uint32_t(payload_len + 8);
  uint8_t header[8];
  std::memcpy(header, udp, 8);
  header[6] = header[7] = 0;
  add(header, 8);
  add(payload, payload_len);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  const uint16_t c = uint16_t(~sum);
  return c == 0 ? 0xffff : c;
}

// What a NIC does with a CHECKSUM_PARTIAL frame: sums from csum_start to the end (the field
// holds the pseudo-header sum) and stores the complement at csum_start + csum_offset.
uint16_t nic_completed_checksum(const uint8_t* header, const uint8_t* payload, uint16_t payload_len) {
  uint16_t start, offset;
  std::memcpy(&start, header + 6, 2);
  std::memcpy(&offset, header + 8, 2);
  std::vector<uint8_t> frame(header + mcr::kVnetHeaderLen, header + mcr::kPacketHeaderLen);
  frame.insert(frame.end(), payload, payload + payload_len);
  uint32_t sum = 0;
  for (size_t i = start; i < frame.size(); ++i) sum += ((i - start) % 2 == 0) ? uint32_t(frame[i]) << 8 : frame[i];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  (void)offset;
  return uint16_t(~sum);
}

bool ip_checksum_ok(const uint8_t* ip) {
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += be16(ip + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

// A received frame whose UDP checksum is complete and correct.
std::vector<uint8_t> frame_with_checksum(const FrameSpec& spec, uint16_t src_port) {
  std::vector<uint8_t> f = build_frame(spec);
  uint8_t* ip = f.data() + 14;
  uint8_t* udp = ip + 20;
  udp[0] = uint8_t(src_port >> 8), udp[1] = uint8_t(src_port);
  const uint16_t c = udp_checksum(ip, udp, udp + 8, uint16_t(spec.payload));
  udp[6] = uint8_t(c >> 8), udp[7] = uint8_t(c);
  return f;
}

const uint8_t kMac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};

}  // namespace

void packet_egress_tests() {
  run("packet template: multicast MAC from the group's low 23 bits, DF, ID 0, TTL, ports", [](bool& ok) {
    mcr::PacketTemplate t;
    build_packet_template(&t, kMac, inet_addr("10.0.2.1"), 40123, inet_addr("239.130.2.3"), 6000, 7);
    const uint8_t* eth = t.bytes + mcr::kVnetHeaderLen;
    const uint8_t want_dst[6] = {0x01, 0x00, 0x5e, 0x02, 0x02, 0x03};
    CHECK(std::memcmp(eth, want_dst, 6) == 0);
    CHECK(std::memcmp(eth + 6, kMac, 6) == 0);
    CHECK(be16(eth + 12) == 0x0800);
    const uint8_t* ip = t.bytes + mcr::kIpOffset;
    CHECK(ip[0] == 0x45 && ip[1] == 0 && be16(ip + 4) == 0 && be16(ip + 6) == 0x4000);
    CHECK(ip[8] == 7 && ip[9] == IPPROTO_UDP);
    uint32_t src, dst;
    std::memcpy(&src, ip + 12, 4);
    std::memcpy(&dst, ip + 16, 4);
    CHECK(src == inet_addr("10.0.2.1") && dst == inet_addr("239.130.2.3"));
    const uint8_t* udp = t.bytes + mcr::kUdpOffset;
    CHECK(be16(udp) == 40123 && be16(udp + 2) == 6000);
    for (uint32_t i = 0; i < mcr::kVnetHeaderLen; ++i) CHECK(t.bytes[i] == 0);
  });

  run("packet header: complete checksums updated incrementally equal ones computed from scratch (2000 cases)",
      [](bool& ok) {
        std::mt19937 rng(20261202);
        int mismatches = 0, ip_bad = 0, zero_sent = 0;
        for (int i = 0; i < 2000; ++i) {
          FrameSpec spec;
          spec.payload = rng() % 1472;
          char src[32];
          std::snprintf(src, sizeof(src), "10.%u.%u.%u", unsigned(rng() % 256), unsigned(rng() % 256),
                        unsigned(rng() % 256));
          spec.src = src;
          spec.ttl = uint8_t(2 + rng() % 250);
          std::vector<uint8_t> f = frame_with_checksum(spec, uint16_t(rng()));
          for (size_t b = 0; b < spec.payload; ++b) f[14 + 28 + b] = uint8_t(rng());
          uint8_t* udp = f.data() + 14 + 20;
          const uint16_t c = udp_checksum(f.data() + 14, udp, udp + 8, uint16_t(spec.payload));
          udp[6] = uint8_t(c >> 8), udp[7] = uint8_t(c);
          mcr::UdpDatagram d;
          CHECK(mcr::parse_udp_frame(f.data(), f.size(), f.size(), &d) == mcr::matched);
          mcr::PacketTemplate t;
          build_packet_template(&t, kMac, htonl(rng()), uint16_t(rng()), htonl(0xe0000000u | (rng() & 0x0fffffff)),
                                uint16_t(rng()), uint8_t(1 + rng() % 255));
          uint8_t out[mcr::kPacketHeaderLen];
          const uint8_t ttl = (i % 3 == 0) ? uint8_t(spec.ttl - 1) : 0;
          mcr::fill_packet_header(out, t, d.ip, d.payload - 8, d.payload_len, ttl, false);
          const uint8_t* oip = out + mcr::kIpOffset;
          const uint8_t* oudp = out + mcr::kUdpOffset;
          if (!ip_checksum_ok(oip) || be16(oip + 2) != d.payload_len + 28 || (ttl != 0 && oip[8] != ttl)) ++ip_bad;
          if (be16(oudp + 4) != d.payload_len + 8) ++ip_bad;
          if (be16(oudp + 6) != udp_checksum(oip, oudp, d.payload, d.payload_len)) ++mismatches;
          if (be16(oudp + 6) == 0) ++zero_sent;
          if (out[0] != 0) ++mismatches;  // no checksum offload asked for
        }
        CHECK(mismatches == 0);
        CHECK(ip_bad == 0);
        CHECK(zero_sent == 0);
      });

  run("packet header: a checksum that would come out 0 is sent as 0xffff", [](bool& ok) {
    // Search for a case whose correct output checksum is 0xffff (one's complement -0); the
    // incremental update must not send 0 ("no checksum") for it.
    std::mt19937 rng(7);
    bool found = false;
    for (int i = 0; i < 400000 && !found; ++i) {
      FrameSpec spec;
      spec.payload = 4;
      std::vector<uint8_t> f = frame_with_checksum(spec, uint16_t(rng()));
      mcr::UdpDatagram d;
      mcr::parse_udp_frame(f.data(), f.size(), f.size(), &d);
      mcr::PacketTemplate t;
      build_packet_template(&t, kMac, htonl(0x0a000201u), uint16_t(rng()), htonl(0xef020202u), 6000, 16);
      uint8_t out[mcr::kPacketHeaderLen];
      mcr::fill_packet_header(out, t, d.ip, d.payload - 8, d.payload_len, 0, false);
      const uint8_t* oudp = out + mcr::kUdpOffset;
      if (udp_checksum(out + mcr::kIpOffset, oudp, d.payload, d.payload_len) == 0xffff) {
        found = true;
        CHECK(be16(oudp + 6) == 0xffff);
      }
    }
    CHECK(found);
  });

  run("packet header: no checksum (0) stays 0", [](bool& ok) {
    FrameSpec spec;
    std::vector<uint8_t> f = build_frame(spec);  // the builder leaves the UDP checksum 0
    mcr::UdpDatagram d;
    CHECK(mcr::parse_udp_frame(f.data(), f.size(), f.size(), &d) == mcr::matched);
    CHECK(be16(d.payload - 2) == 0);
    mcr::PacketTemplate t;
    build_packet_template(&t, kMac, inet_addr("10.0.2.1"), 40000, inet_addr("239.2.2.2"), 6000, 16);
    uint8_t out[mcr::kPacketHeaderLen];
    mcr::fill_packet_header(out, t, d.ip, d.payload - 8, d.payload_len, 0, false);
    CHECK(be16(out + mcr::kUdpOffset + 6) == 0);
    CHECK(ip_checksum_ok(out + mcr::kIpOffset));
  });

  run("packet header: a partial input checksum is left to the NIC, which completes it correctly", [](bool& ok) {
    std::mt19937 rng(99);
    int bad = 0;
    for (int i = 0; i < 500; ++i) {
      FrameSpec spec;
      spec.payload = rng() % 1472;
      std::vector<uint8_t> f = build_frame(spec);
      for (size_t b = 0; b < spec.payload; ++b) f[14 + 28 + b] = uint8_t(rng());
      // What a local sender over veth leaves in the field: its own pseudo-header sum.
      f[14 + 20 + 6] = uint8_t(rng()), f[14 + 20 + 7] = uint8_t(rng());
      mcr::UdpDatagram d;
      mcr::parse_udp_frame(f.data(), f.size(), f.size(), &d);
      mcr::PacketTemplate t;
      build_packet_template(&t, kMac, htonl(rng()), uint16_t(rng()), htonl(0xef000000u | (rng() & 0xffffff)),
                            uint16_t(rng()), 16);
      uint8_t out[mcr::kPacketHeaderLen];
      mcr::fill_packet_header(out, t, d.ip, d.payload - 8, d.payload_len, 0, true);
      uint16_t start, offset;
      std::memcpy(&start, out + 6, 2);
      std::memcpy(&offset, out + 8, 2);
      if (out[0] != 1 || start != 14 + 20 || offset != 6) ++bad;
      const uint16_t want = udp_checksum(out + mcr::kIpOffset, out + mcr::kUdpOffset, d.payload, d.payload_len);
      uint16_t got = nic_completed_checksum(out, d.payload, d.payload_len);
      if (got == 0) got = 0xffff;
      if (got != want) ++bad;
    }
    CHECK(bad == 0);
  });

  run("process_frame: packet egress below the MTU limit, the UDP socket at or above it", [](bool& ok) {
    mcr::RuleTable t;
    t.inputs.push_back(mcr::TableInput{1, {}});
    t.egress_fds = {7, 8};  // 7: UDP socket, 8: packet egress
    mcr::OutputEntry o{};
    o.dest.sin_family = AF_INET;
    o.dest.sin_addr.s_addr = htonl(0xef020202u);
    o.dest.sin_port = htons(6000);
    o.egress_index = 0;
    o.counter_slot = 3;
    o.packet_egress_index = 1;
    o.packet_payload_limit = 1000 - mcr::kIpUdpHeaderLen + 1;  // MTU 1000
    build_packet_template(&o.packet_header, kMac, inet_addr("10.0.2.1"), 40000, inet_addr("239.2.2.2"), 6000, 16);
    t.outputs.push_back(o);
    t.rules.push_back(mcr::RuleEntry{0, htonl(0xef010101u), 5001, 0, 0, 1});
    t.build_index();
    struct Seen {
      int fd;
      size_t iovlen;
      size_t bytes;
      bool named;
    };
    static std::vector<Seen> seen;
    seen.clear();
    auto batcher = std::make_unique<mcr::SendBatcher>([](int fd, mmsghdr* msgs, unsigned n, int) {
      for (unsigned i = 0; i < n; ++i) {
        size_t bytes = 0;
        for (size_t v = 0; v < msgs[i].msg_hdr.msg_iovlen; ++v) bytes += msgs[i].msg_hdr.msg_iov[v].iov_len;
        seen.push_back(Seen{fd, msgs[i].msg_hdr.msg_iovlen, bytes, msgs[i].msg_hdr.msg_name != nullptr});
      }
      return int(n);
    });
    auto c = std::make_unique<mcr::WorkerBlock>();
    TraceFixture untraced(c.get());
    for (size_t payload : {size_t(972), size_t(973), size_t(0)}) {
      FrameSpec spec;
      spec.payload = payload;
      std::vector<uint8_t> f = build_frame(spec);
      mcr::process_frame(t, 0, f.data(), uint32_t(f.size()), uint32_t(f.size()), *batcher, *c, true);
      mcr::flush_batch(t, *batcher, *c, untraced.trace);
    }
    CHECK(seen.size() == 3);
    if (seen.size() == 3) {
      // 972 + 28 = 1000 fits the MTU: packet egress, header then payload, no address.
      CHECK(seen[0].fd == 8 && seen[0].iovlen == 2 && seen[0].bytes == mcr::kPacketHeaderLen + 972 && !seen[0].named);
      // 973 does not: the UDP socket, which fragments.
      CHECK(seen[1].fd == 7 && seen[1].iovlen == 1 && seen[1].bytes == 973 && seen[1].named);
      CHECK(seen[2].fd == 8 && seen[2].bytes == mcr::kPacketHeaderLen);
    }
    CHECK(c->outputs[3][mcr::out_packets].load() == 3);
    CHECK(c->outputs[3][mcr::out_bytes].load() == 972 + 973);
    CHECK(c->counters[mcr::tx_packets].load() == 3);
  });
}

}  // namespace mcr_test
