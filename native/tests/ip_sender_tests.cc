// SPDX-License-Identifier: MIT
// The IP sender (mcr/ip_sender.h): the packet checks (short, not IPv4, header and total length
// against the bytes given, unicast destination) with errors that say which, the refusal of lo
// (not Ethernet: it needs CAP_NET_RAW to get that far) and of a missing interface, and a closed
// sender. Sending needs an Ethernet interface, i.e. two namespaces and a veth:
// tests/integration/ip-sender.test.ts.
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "harness.h"
#include "mcr/ip_sender.h"

namespace mcr_test {
namespace {

// A 28-byte IPv4/UDP packet from 10.77.0.99 to `destination` (checksums left 0: not checked).
std::vector<uint8_t> packet_to(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return {0x45, 0, 0, 28, 0, 1, 0, 0, 8, 17, 0, 0, 10, 77, 0, 99, a, b, c, d, 0x9c, 0x40, 0x13, 0x88, 0, 8, 0, 0};
}

bool says(const std::string& error, const char* what) { return error.find(what) != std::string::npos; }

}  // namespace

void ip_sender_tests() {
  run("ip sender: a multicast IPv4 packet passes the checks, 224.0.0.0/4 edges included", [](bool& ok) {
    std::string error;
    for (auto p : {packet_to(239, 9, 9, 9), packet_to(224, 0, 0, 1), packet_to(239, 255, 255, 255)})
      CHECK(mcr::check_ipv4_multicast_packet(p.data(), p.size(), &error) == 0);
  });

  run("ip sender: short, not IPv4, lengths that disagree and unicast are EINVAL, saying which", [](bool& ok) {
    std::string error;
    std::vector<uint8_t> p = packet_to(239, 9, 9, 9);
    CHECK(mcr::check_ipv4_multicast_packet(p.data(), 19, &error) == -EINVAL);
    CHECK(says(error, "19 bytes is shorter than an IPv4 header"));

    p[0] = 0x65;
    CHECK(mcr::check_ipv4_multicast_packet(p.data(), p.size(), &error) == -EINVAL);
    CHECK(says(error, "not IPv4 (version 6)"));

    p[0] = 0x44;  // IHL 4: 16 bytes
    CHECK(mcr::check_ipv4_multicast_packet(p.data(), p.size(), &error) == -EINVAL);
    CHECK(says(error, "header length 16"));
    p[0] = 0x48;  // IHL 8: 32 bytes, more than the 28 given
    CHECK(mcr::check_ipv4_multicast_packet(p.data(), p.size(), &error) == -EINVAL);
    CHECK(says(error, "header length 32 does not fit a 28-byte packet"));
    p[0] = 0x45;

    CHECK(mcr::check_ipv4_multicast_packet(p.data(), p.size() - 1, &error) == -EINVAL);
    CHECK(says(error, "total length 28 is not the packet's 27 bytes"));
    p[3] = 40;
    CHECK(mcr::check_ipv4_multicast_packet(p.data(), p.size(), &error) == -EINVAL);
    CHECK(says(error, "total length 40 is not the packet's 28 bytes"));
    p[3] = 28;

    for (auto u : {packet_to(10, 77, 0, 2), packet_to(223, 255, 255, 255), packet_to(240, 0, 0, 1),
                   packet_to(255, 255, 255, 255)}) {
      CHECK(mcr::check_ipv4_multicast_packet(u.data(), u.size(), &error) == -EINVAL);
      CHECK(says(error, "is not multicast (224.0.0.0/4)"));
    }
    std::vector<uint8_t> u = packet_to(10, 77, 0, 2);
    mcr::check_ipv4_multicast_packet(u.data(), u.size(), &error);
    CHECK(says(error, "destination 10.77.0.2 "));
  });

  run("ip sender: a missing interface is ENODEV and a bad name EINVAL; closed, send is EBADF", [](bool& ok) {
    mcr::IpSender s;
    std::string error;
    CHECK(s.open("mcrnoif0", &error) == -ENODEV);
    CHECK(says(error, "IP sender on mcrnoif0: no such interface"));
    CHECK(s.open("", &error) == -EINVAL);
    CHECK(s.open("an-interface-name-too-long", &error) == -EINVAL);
    CHECK(s.fd() < 0);
    std::vector<uint8_t> p = packet_to(239, 9, 9, 9);
    CHECK(s.send(p.data(), p.size(), &error) == -EBADF);
    s.close();
    s.close();
  });

  mcr::IpSender lo;
  std::string error;
  const int rc = lo.open("lo", &error);
  if (rc == -EPERM || rc == -EACCES) {
    std::printf("skip ip sender on lo: %s\n", error.c_str());
    return;
  }
  run("ip sender: lo is refused (not Ethernet: no multicast MAC to send to), EINVAL naming it", [&](bool& ok) {
    CHECK(rc == -EINVAL);
    CHECK(says(error, "IP sender on lo: not an Ethernet interface"));
    CHECK(lo.fd() < 0);
  });
}

}  // namespace mcr_test
