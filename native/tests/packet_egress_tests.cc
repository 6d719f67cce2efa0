// SPDX-License-Identifier: MIT
// Packet egress (mcr/egress.h): the prebuilt frame template, the per-datagram header fill with
// its three checksum cases (complete: updated incrementally; partial: left to the NIC through the
// virtio_net_hdr; none: stays none), each checked against a checksum computed from scratch over
// the frame that would be on the wire, and process_frame's choice between packet egress and
// the UDP socket. Routed copies (fill_routed_header: the received IPv4 header with TTL - 1 and
// its checksum updated) and outputs that keep the datagram's port (port 0), likewise checked
// against checksums computed from scratch.
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

  run("routed header: Ethernet to the group's MAC, the received IPv4 header with TTL-1 and a correct checksum",
      [](bool& ok) {
        std::mt19937 rng(4242);
        int bad = 0;
        for (int i = 0; i < 2000; ++i) {
          FrameSpec spec;
          spec.ihl = uint8_t(5 + i % 3);
          spec.payload = rng() % 1400;
          spec.ttl = uint8_t(2 + rng() % 254);
          spec.protocol = (i % 4 == 0) ? 50 : 17;
          char src[32], dst[32];
          std::snprintf(src, sizeof(src), "10.%u.%u.%u", unsigned(rng() % 256), unsigned(rng() % 256),
                        unsigned(1 + rng() % 254));
          std::snprintf(dst, sizeof(dst), "239.%u.%u.%u", unsigned(rng() % 256), unsigned(rng() % 256),
                        unsigned(rng() % 256));
          spec.src = src;
          spec.dst = dst;
          std::vector<uint8_t> f = build_frame(spec);
          f[14 + 4] = uint8_t(rng()), f[14 + 5] = uint8_t(rng());  // an IP ID, as senders set
          uint8_t* in_ip = f.data() + 14;
          in_ip[10] = in_ip[11] = 0;
          const uint16_t sum = mcr::ipv4_header_checksum(in_ip, spec.ihl * 4u);
          in_ip[10] = uint8_t(sum >> 8), in_ip[11] = uint8_t(sum);
          mcr::UdpDatagram d;
          if (mcr::parse_udp_frame(f.data(), f.size(), f.size(), &d) != mcr::matched) {
            ++bad;
            continue;
          }
          mcr::PacketTemplate t;
          build_packet_template(&t, kMac, 0, 0, d.dst_addr, 0, 1);
          uint8_t out[mcr::kPacketHeaderLen];
          mcr::fill_routed_header(out, t, d.ip, uint8_t(d.ttl - 1), false);
          const uint8_t* eth = out + mcr::kVnetHeaderLen;
          const uint32_t g = ntohl(d.dst_addr);
          const uint8_t want_mac[6] = {0x01, 0x00, 0x5e, uint8_t((g >> 16) & 0x7f), uint8_t(g >> 8), uint8_t(g)};
          if (std::memcmp(eth, want_mac, 6) != 0 || std::memcmp(eth + 6, kMac, 6) != 0 || be16(eth + 12) != 0x0800)
            ++bad;
          const uint8_t* oip = out + mcr::kIpOffset;
          // Every byte as received but the TTL and the checksum; the checksum right over the whole
          // header, options included (they follow in the second iovec).
          for (int b = 0; b < 20; ++b)
            if (b != 8 && b != 10 && b != 11 && oip[b] != in_ip[b]) ++bad;
          if (oip[8] != spec.ttl - 1) ++bad;
          std::vector<uint8_t> header(oip, oip + 20);
          header.insert(header.end(), in_ip + 20, in_ip + spec.ihl * 4u);
          if (mcr::ipv4_header_checksum(header.data(), header.size()) != 0) ++bad;
          for (uint32_t b = 0; b < mcr::kVnetHeaderLen; ++b)
            if (out[b] != 0) ++bad;
        }
        CHECK(bad == 0);
      });

  run("process_frame: routed outputs send header + the rest of the packet; TTL 1, too big and partial checksums",
      [](bool& ok) {
        mcr::RuleTable t;
        t.inputs.push_back(mcr::TableInput{1, {}});
        t.egress_fds = {8};  // packet egress only
        mcr::OutputEntry o{};
        o.counter_slot = 5;
        o.egress_index = 0;
        o.packet_egress_index = 0;
        o.routed = true;
        o.decrement_ttl = true;
        o.packet_payload_limit = 1000 + 1;  // MTU 1000
        build_packet_template(&o.packet_header, kMac, 0, 0, inet_addr("239.1.1.1"), 0, 1);
        t.outputs.push_back(o);
        mcr::RuleEntry udp_rule{0, inet_addr("239.1.1.1"), 0, 0, 0, 1, true};  // (*,G,any)
        mcr::RuleEntry esp_rule{0, inet_addr("239.1.1.1"), 0, 1, 0, 1, true, 0, mcr::Protocol::esp};
        t.rules = {udp_rule, esp_rule};
        t.build_index();
        struct Seen {
          std::vector<uint8_t> header;
          const void* rest;
          size_t rest_len;
        };
        static std::vector<Seen> seen;
        seen.clear();
        auto batcher = std::make_unique<mcr::SendBatcher>([](int, mmsghdr* msgs, unsigned n, int) {
          for (unsigned i = 0; i < n; ++i) {
            const msghdr& h = msgs[i].msg_hdr;
            const auto* b = static_cast<const uint8_t*>(h.msg_iov[0].iov_base);
            seen.push_back(Seen{std::vector<uint8_t>(b, b + h.msg_iov[0].iov_len), h.msg_iov[1].iov_base,
                                h.msg_iovlen == 2 ? h.msg_iov[1].iov_len : 0});
          }
          return int(n);
        });
        auto c = std::make_unique<mcr::WorkerBlock>();
        TraceFixture untraced(c.get());
        auto send = [&](const FrameSpec& spec, bool partial) {
          std::vector<uint8_t> f = build_frame(spec);
          seen.clear();
          mcr::process_frame(t, 0, f.data(), uint32_t(f.size()), uint32_t(f.size()), *batcher, *c, partial);
          mcr::flush_batch(t, *batcher, *c, untraced.trace);
          return f;
        };
        FrameSpec udp;
        udp.port = 5123;
        udp.ihl = 6;
        std::vector<uint8_t> f = send(udp, false);
        CHECK(seen.size() == 1);
        if (seen.size() == 1) {
          CHECK(seen[0].header.size() == mcr::kRoutedHeaderLen);
          CHECK(seen[0].rest == f.data() + 14 + 20);
          CHECK(seen[0].rest_len == 4 + 8 + 100);  // options, UDP header, payload
          CHECK(seen[0].header[mcr::kIpOffset + 8] == 63);
          CHECK(seen[0].header[0] == 0);
        }
        // A partial checksum: NEEDS_CSUM from the UDP header (after the options), offset 6.
        send(udp, true);
        CHECK(seen.size() == 1);
        if (seen.size() == 1) {
          uint16_t start, offset;
          std::memcpy(&start, seen[0].header.data() + 6, 2);
          std::memcpy(&offset, seen[0].header.data() + 8, 2);
          CHECK(seen[0].header[0] == 1 && start == 14 + 24 && offset == 6);
        }
        // ESP: the whole IP payload after the header, untouched.
        FrameSpec esp;
        esp.protocol = 50;
        f = send(esp, false);
        CHECK(seen.size() == 1);
        if (seen.size() == 1) {
          CHECK(seen[0].rest == f.data() + 14 + 20 && seen[0].rest_len == 108);
          CHECK(seen[0].header[mcr::kIpOffset + 9] == 50);
        }
        CHECK(c->rules[1][mcr::rule_packets].load() == 1 && c->rules[1][mcr::rule_bytes].load() == 108);
        // TTL 1: not sent, ttl_expired. 1001 bytes of IP packet on an MTU of 1000: not sent, counted.
        FrameSpec expiring;
        expiring.ttl = 1;
        send(expiring, false);
        CHECK(seen.empty() && c->counters[mcr::ttl_expired].load() == 1);
        FrameSpec big;
        big.payload = 1000 - 28 + 1;
        send(big, false);
        CHECK(seen.empty() && c->counters[mcr::tx_err_too_big].load() == 1);
        CHECK(c->outputs[5][mcr::out_errors].load() == 1);
        big.payload = 1000 - 28;
        send(big, false);
        CHECK(seen.size() == 1);
        CHECK(c->outputs[5][mcr::out_packets].load() == 4);
        CHECK(c->counters[mcr::tx_packets].load() == 4);
      });

  run("port 0 outputs keep the datagram's port: incremental checksum equals one from scratch, UDP socket too",
      [](bool& ok) {
        std::mt19937 rng(1624);
        int bad = 0;
        for (int i = 0; i < 1000; ++i) {
          FrameSpec spec;
          spec.payload = rng() % 1472;
          spec.port = uint16_t(1 + rng() % 65535);
          std::vector<uint8_t> f = frame_with_checksum(spec, uint16_t(rng()));
          for (size_t b = 0; b < spec.payload; ++b) f[14 + 28 + b] = uint8_t(rng());
          uint8_t* udp = f.data() + 14 + 20;
          const uint16_t c = udp_checksum(f.data() + 14, udp, udp + 8, uint16_t(spec.payload));
          udp[6] = uint8_t(c >> 8), udp[7] = uint8_t(c);
          mcr::UdpDatagram d;
          mcr::parse_udp_frame(f.data(), f.size(), f.size(), &d);
          mcr::PacketTemplate t;
          build_packet_template(&t, kMac, htonl(rng()), uint16_t(rng()), htonl(0xe0000000u | (rng() & 0x0fffffff)), 0,
                                16);
          uint8_t out[mcr::kPacketHeaderLen];
          mcr::fill_packet_header<true>(out, t, d.ip, d.payload - 8, d.payload_len, 0, false);
          const uint8_t* oudp = out + mcr::kUdpOffset;
          if (be16(oudp + 2) != spec.port) ++bad;
          if (be16(oudp + 6) != udp_checksum(out + mcr::kIpOffset, oudp, d.payload, d.payload_len)) ++bad;
          if (!ip_checksum_ok(out + mcr::kIpOffset)) ++bad;
        }
        CHECK(bad == 0);

        // Through process_frame: packet egress below the MTU, the UDP socket above it, both with the port.
        mcr::RuleTable t;
        t.inputs.push_back(mcr::TableInput{1, {}});
        t.egress_fds = {7, 8};
        mcr::OutputEntry o{};
        o.dest.sin_family = AF_INET;
        o.dest.sin_addr.s_addr = inet_addr("239.2.2.2");
        o.egress_index = 0;
        o.counter_slot = 3;
        o.keep_port = true;
        o.packet_egress_index = 1;
        o.packet_payload_limit = 1000 - mcr::kIpUdpHeaderLen + 1;
        build_packet_template(&o.packet_header, kMac, inet_addr("10.0.2.1"), 40000, inet_addr("239.2.2.2"), 0, 16);
        t.outputs.push_back(o);
        t.rules.push_back(mcr::RuleEntry{0, inet_addr("239.1.1.1"), 0, 0, 0, 1, true});
        t.build_index();
        static std::vector<uint16_t> ports;
        ports.clear();
        auto batcher = std::make_unique<mcr::SendBatcher>([](int fd, mmsghdr* msgs, unsigned n, int) {
          for (unsigned i = 0; i < n; ++i) {
            const msghdr& h = msgs[i].msg_hdr;
            if (fd == 7)
              ports.push_back(ntohs(static_cast<const sockaddr_in*>(h.msg_name)->sin_port));
            else
              ports.push_back(be16(static_cast<const uint8_t*>(h.msg_iov[0].iov_base) + mcr::kUdpOffset + 2));
          }
          return int(n);
        });
        auto counters = std::make_unique<mcr::WorkerBlock>();
        TraceFixture untraced(counters.get());
        for (auto [port, payload] : {std::pair<uint16_t, size_t>{5001, 100}, {6002, 1400}, {7003, 10}}) {
          FrameSpec spec;
          spec.port = port;
          spec.payload = payload;
          std::vector<uint8_t> f = build_frame(spec);
          mcr::process_frame(t, 0, f.data(), uint32_t(f.size()), uint32_t(f.size()), *batcher, *counters);
          mcr::flush_batch(t, *batcher, *counters, untraced.trace);
        }
        CHECK((ports == std::vector<uint16_t>{5001, 6002, 7003}));
        CHECK(t.outputs[0].dest.sin_port == 0);  // the shared address is left alone
      });
}

}  // namespace mcr_test
