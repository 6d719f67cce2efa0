// SPDX-License-Identifier: MIT
// The frame parser: every fixture of the shared table (tests/fixtures/frames.json, generated into
// frame_fixtures.h at build time) gets its verdict, a good frame's datagram fields are right, and
// no truncation is ever read past its end.
#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "frame_builder.h"
#include "frame_fixtures.h"  // generated from tests/fixtures/frames.json
#include "harness.h"
#include "mcr/counters.h"
#include "mcr/parse.h"

namespace mcr_test {

void parse_tests() {
  // C++ fills unnamed fields from FrameSpec's defaults, TypeScript from the table's: one set.
  run("parse: the fixture table's defaults are FrameSpec's", [](bool& ok) {
    const FrameSpec s{}, &j = kFrameFixtureDefaults;
    CHECK(s.ethertype == j.ethertype && s.version == j.version && s.ihl == j.ihl && s.protocol == j.protocol);
    CHECK(s.frag == j.frag && s.total_len_delta == j.total_len_delta && s.udp_len_delta == j.udp_len_delta);
    CHECK(s.break_checksum == j.break_checksum && std::strcmp(s.src, j.src) == 0 && std::strcmp(s.dst, j.dst) == 0);
    CHECK(s.port == j.port && s.payload == j.payload && s.cut == j.cut && s.ttl == j.ttl);
  });
  // The verdict each fixture is counted under, which the TypeScript tests of the table expect too.
  for (const FrameFixture& c : kFrameFixtures) {
    run((std::string("parse: ") + c.name).c_str(), [&](bool& ok) {
      std::vector<uint8_t> f = build_frame(c.spec);
      mcr::UdpDatagram d{};
      CHECK(mcr::parse_udp_frame(f.data(), f.size(), f.size(), &d) == c.verdict);
      if (c.verdict == mcr::matched) {
        in_addr dst{d.dst_addr};
        CHECK(std::string(inet_ntoa(dst)) == c.spec.dst);
        CHECK(d.dst_port == c.spec.port);
        CHECK(d.payload_len == c.spec.payload + size_t(c.spec.udp_len_delta));
        CHECK(d.payload == f.data() + 14 + std::max<size_t>(20, c.spec.ihl * 4u) + 8);
      }
    });
  }
  run("parse: wire length beyond the captured slot is oversize", [](bool& ok) {
    std::vector<uint8_t> f = build_frame(FrameSpec{});
    mcr::UdpDatagram d{};
    CHECK(mcr::parse_udp_frame(f.data(), f.size(), f.size() + 1, &d) == mcr::filtered_oversize);
  });
  run("parse: every truncation of a good frame is rejected, never read past the end", [](bool& ok) {
    FrameSpec s;
    s.ihl = 6;
    std::vector<uint8_t> f = build_frame(s);
    for (size_t len = 0; len < f.size(); ++len) {
      std::vector<uint8_t> copy(f.begin(), f.begin() + long(len));  // exact-size heap copy for ASan/valgrind
      mcr::UdpDatagram d{};
      CHECK(mcr::parse_udp_frame(copy.data(), len, len, &d) != mcr::matched);
    }
  });

  run("parse: ESP (IP protocol 50) is a datagram with kEspPort whose payload is the IP payload", [](bool& ok) {
    for (uint8_t ihl : {uint8_t(5), uint8_t(7)}) {
      FrameSpec spec;
      spec.protocol = 50;
      spec.ihl = ihl;
      spec.payload = 92;  // the builder's "UDP header" plus this: 100 bytes of ESP
      std::vector<uint8_t> f = build_frame(spec);
      mcr::UdpDatagram d{};
      CHECK(mcr::parse_udp_frame(f.data(), f.size(), f.size(), &d) == mcr::matched);
      CHECK(d.dst_port == mcr::kEspPort);
      CHECK(d.payload == f.data() + 14 + ihl * 4u);
      CHECK(d.payload_len == 100);
      CHECK(d.ip == f.data() + 14 && d.ttl == 64);
      CHECK(d.src_addr == inet_addr("10.0.1.1") && d.dst_addr == inet_addr("239.1.1.1"));
    }
  });
  run("parse: ESP shorter than its 8-byte header is filtered_truncated; other protocols filtered_not_udp",
      [](bool& ok) {
        for (int esp_len : {0, 1, 7, 8}) {
          FrameSpec spec;
          spec.protocol = 50;
          spec.payload = 0;
          spec.total_len_delta = esp_len - 8;  // IP payload esp_len bytes
          std::vector<uint8_t> f = build_frame(spec);
          mcr::UdpDatagram d{};
          CHECK(mcr::parse_udp_frame(f.data(), f.size(), f.size(), &d) ==
                (esp_len < 8 ? mcr::filtered_truncated : mcr::matched));
        }
        for (uint8_t protocol : {uint8_t(6), uint8_t(1), uint8_t(51), uint8_t(2)}) {
          FrameSpec spec;
          spec.protocol = protocol;
          std::vector<uint8_t> f = build_frame(spec);
          mcr::UdpDatagram d{};
          CHECK(mcr::parse_udp_frame(f.data(), f.size(), f.size(), &d) == mcr::filtered_not_udp);
        }
      });
}

}  // namespace mcr_test
