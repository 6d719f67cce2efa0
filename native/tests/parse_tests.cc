// SPDX-License-Identifier: MIT
// The frame parser: every malformed case gets its one verdict, a good frame's datagram fields
// are right, and no truncation is ever read past its end.
#include <arpa/inet.h>

#include <algorithm>
#include <string>
#include <vector>

#include "frame_builder.h"
#include "harness.h"
#include "mcr/counters.h"
#include "mcr/parse.h"

namespace mcr_test {

void parse_tests() {
  struct Case {
    const char* name;
    FrameSpec spec;
    mcr::WorkerCounter verdict;
  };
  auto spec = [](auto edit) {
    FrameSpec s;
    edit(s);
    return s;
  };
  const Case cases[] = {
      {"well-formed UDP", FrameSpec{}, mcr::matched},
      {"IP options (IHL 7) are skipped", spec([](FrameSpec& s) { s.ihl = 7; }), mcr::matched},
      {"IHL 15 (40 option bytes)", spec([](FrameSpec& s) { s.ihl = 15; }), mcr::matched},
      {"zero-length UDP payload", spec([](FrameSpec& s) { s.payload = 0; }), mcr::matched},
      {"Ethernet padding after total length", spec([](FrameSpec& s) { s.total_len_delta = -10; s.udp_len_delta = -10; }), mcr::matched},
      {"jumbo 8972-byte payload", spec([](FrameSpec& s) { s.payload = 8972; }), mcr::matched},
      {"not IPv4 (ARP)", spec([](FrameSpec& s) { s.ethertype = 0x0806; }), mcr::filtered_not_ipv4},
      {"IP version 6 in an IPv4 frame", spec([](FrameSpec& s) { s.version = 6; }), mcr::filtered_bad_ip_header},
      {"IHL 4", spec([](FrameSpec& s) { s.ihl = 4; }), mcr::filtered_bad_ip_header},
      {"total length below IHL", spec([](FrameSpec& s) { s.total_len_delta = -(8 + 100 + 1); }), mcr::filtered_bad_ip_header},
      {"total length beyond the frame", spec([](FrameSpec& s) { s.total_len_delta = 50; }), mcr::filtered_truncated},
      {"frame cut inside the IP header", spec([](FrameSpec& s) { s.cut = 8 + 100 + 5; }), mcr::filtered_truncated},
      {"frame cut inside the options", spec([](FrameSpec& s) { s.ihl = 15; s.payload = 0; s.cut = 8 + 30; }), mcr::filtered_truncated},
      {"frame of 10 bytes", spec([](FrameSpec& s) { s.cut = 14 + 20 + 8 + 100 - 10; }), mcr::filtered_truncated},
      {"IP payload shorter than a UDP header", spec([](FrameSpec& s) { s.payload = 0; s.total_len_delta = -4; }), mcr::filtered_truncated},
      {"bad header checksum", spec([](FrameSpec& s) { s.break_checksum = true; }), mcr::filtered_bad_ip_checksum},
      {"first fragment (MF)", spec([](FrameSpec& s) { s.frag = 0x2000; }), mcr::filtered_fragment},
      {"later fragment (offset)", spec([](FrameSpec& s) { s.frag = 0x00b9; }), mcr::filtered_fragment},
      {"TCP", spec([](FrameSpec& s) { s.protocol = 6; }), mcr::filtered_not_udp},
      {"UDP length 7", spec([](FrameSpec& s) { s.udp_len_delta = -(8 + 100) + 7; }), mcr::filtered_bad_udp_length},
      {"UDP length beyond IP payload", spec([](FrameSpec& s) { s.udp_len_delta = 1; }), mcr::filtered_bad_udp_length},
  };
  for (const Case& c : cases) {
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
}

}  // namespace mcr_test
