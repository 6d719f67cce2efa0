// SPDX-License-Identifier: MIT
// The IGMP packet socket (mcr/igmp_socket.h): the group-to-MAC mapping, the errors that name the
// interface, and on lo (needs CAP_NET_RAW) what the filter lets through: IGMP that arrives,
// once, with its interface, while UDP and the socket's own outgoing copies stay out.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "harness.h"
#include "mcr/igmp_socket.h"

namespace mcr_test {
namespace {

uint16_t inet_checksum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
  if (n % 2) sum += uint32_t(p[n - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

// An IGMPv2 membership report for `group` from 127.0.0.1: IPv4 with Router Alert, TTL 1.
std::vector<uint8_t> v2_report(uint32_t group) {
  std::vector<uint8_t> p(24 + 8, 0);
  p[0] = 0x46;  // version 4, 6 words (Router Alert)
  p[2] = 0;
  p[3] = uint8_t(p.size());
  p[8] = 1;  // TTL
  p[9] = 2;  // IGMP
  p[12] = 127, p[15] = 1;
  std::memcpy(&p[16], &group, 4);
  p[20] = 0x94, p[21] = 0x04;  // Router Alert, length 4, value 0
  const uint16_t ip_sum = inet_checksum(p.data(), 24);
  p[10] = uint8_t(ip_sum >> 8), p[11] = uint8_t(ip_sum);
  p[24] = 0x16;  // v2 membership report
  std::memcpy(&p[28], &group, 4);
  const uint16_t sum = inet_checksum(&p[24], 8);
  p[26] = uint8_t(sum >> 8), p[27] = uint8_t(sum);
  return p;
}

// Receives until a packet equal to `want` arrives or 1 s passes; every packet taken goes to *seen.
bool wait_for(mcr::IgmpSocket& s, const std::vector<uint8_t>& want, std::vector<mcr::IgmpPacket>* seen) {
  for (int round = 0; round < 20; ++round) {
    pollfd pfd{s.fd(), POLLIN, 0};
    poll(&pfd, 1, 50);
    std::string error;
    const size_t before = seen->size();
    if (s.receive(seen, 16, &error) < 0) return false;
    for (size_t i = before; i < seen->size(); ++i)
      if ((*seen)[i].data == want) return true;
  }
  return false;
}

int copies(const std::vector<mcr::IgmpPacket>& seen, const std::vector<uint8_t>& want) {
  int n = 0;
  for (const auto& p : seen) n += p.data == want;
  return n;
}

}  // namespace

void igmp_socket_tests() {
  run("igmp socket: a group's multicast MAC is 01:00:5e and its low 23 bits", [](bool& ok) {
    struct Case {
      const char* group;
      uint8_t mac[6];
    } cases[] = {
        {"224.0.0.1", {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}},
        {"224.0.0.2", {0x01, 0x00, 0x5e, 0x00, 0x00, 0x02}},
        {"224.0.0.22", {0x01, 0x00, 0x5e, 0x00, 0x00, 0x16}},
        {"239.129.2.3", {0x01, 0x00, 0x5e, 0x01, 0x02, 0x03}},
        {"225.255.255.255", {0x01, 0x00, 0x5e, 0x7f, 0xff, 0xff}},
    };
    for (const auto& c : cases) {
      in_addr a{};
      inet_pton(AF_INET, c.group, &a);
      uint8_t mac[6];
      mcr::ipv4_multicast_mac(a.s_addr, mac);
      CHECK(std::memcmp(mac, c.mac, 6) == 0);
    }
  });

  run("igmp socket: a missing interface is ENODEV, named in the message", [](bool& ok) {
    mcr::IgmpSocket s;
    std::string error;
    CHECK(s.open("mcrnoif0", &error) == -ENODEV);
    CHECK(error.find("mcrnoif0") != std::string::npos);
    CHECK(s.fd() < 0);
    CHECK(s.open("", &error) == -EINVAL);
    std::vector<mcr::IgmpPacket> out;
    CHECK(s.receive(&out, 4, &error) == -EBADF);
  });

  mcr::IgmpSocket rx, tx;
  std::string error;
  if (int rc = rx.open("lo", &error); rc < 0) {
    std::printf("skip igmp socket tests on lo: %s\n", error.c_str());
    return;
  }
  if (tx.open("lo", &error) < 0) std::printf("  %s\n", error.c_str());
  const int lo = int(if_nametoindex("lo"));

  run("igmp socket: non-blocking, close-on-exec, bound to its interface", [&](bool& ok) {
    CHECK(rx.fd() >= 0 && rx.ifindex() == lo && rx.ifname() == "lo");
    CHECK((fcntl(rx.fd(), F_GETFL) & O_NONBLOCK) != 0);
    CHECK((fcntl(rx.fd(), F_GETFD) & FD_CLOEXEC) != 0);
    std::vector<mcr::IgmpPacket> out;
    CHECK(rx.receive(&out, 0, &error) == 0 && out.empty());
  });

  // The filter alone (receive() also skips PACKET_OUTGOING): a bare packet socket with it.
  int bare = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  setsockopt(bare, SOL_SOCKET, SO_ATTACH_FILTER, mcr::igmp_socket_filter(), sizeof(sock_fprog));
  sockaddr_ll bind_to{};
  bind_to.sll_family = AF_PACKET;
  bind_to.sll_protocol = htons(ETH_P_ALL);
  bind_to.sll_ifindex = lo;
  bind(bare, reinterpret_cast<sockaddr*>(&bind_to), sizeof(bind_to));

  run("igmp socket: IGMP sent on lo arrives once per socket, with its ifindex; UDP does not", [&](bool& ok) {
    in_addr group{};
    inet_pton(AF_INET, "239.255.77.13", &group);
    // UDP to a multicast group and to a unicast address on lo, before the marker report.
    int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    in_addr lo_addr{};
    lo_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(udp, IPPROTO_IP, IP_MULTICAST_IF, &lo_addr, sizeof(lo_addr));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(9);
    to.sin_addr = group;
    CHECK(sendto(udp, "udp", 3, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 3);
    to.sin_addr = lo_addr;
    CHECK(sendto(udp, "udp", 3, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 3);
    close(udp);
    const std::vector<uint8_t> report = v2_report(group.s_addr);
    CHECK(tx.send(report.data(), report.size(), group.s_addr, &error) == ssize_t(report.size()));
    std::vector<mcr::IgmpPacket> seen;
    CHECK(wait_for(rx, report, &seen));
    // The sender's socket gets the looped-back copy too, never its PACKET_OUTGOING one.
    std::vector<mcr::IgmpPacket> seen_by_sender;
    CHECK(wait_for(tx, report, &seen_by_sender));
    // Anything still queued is taken before counting: duplicates would be behind the first copy.
    usleep(50'000);
    rx.receive(&seen, 64, &error);
    tx.receive(&seen_by_sender, 64, &error);
    // rx sees tx's transmission as PACKET_OUTGOING (filtered) and as received on lo (kept).
    CHECK(copies(seen, report) == 1);
    CHECK(copies(seen_by_sender, report) == 1);
    for (const auto& p : seen) {
      CHECK(p.data.size() >= 20 && (p.data[0] >> 4) == 4 && p.data[9] == 2);
      CHECK(p.ifindex == lo);
      CHECK(!p.truncated);
    }
    // The filter by itself: only IGMP, and the incoming copy only.
    int bare_copies = 0;
    uint8_t buf[2048];
    for (;;) {
      sockaddr_ll from{};
      socklen_t len = sizeof(from);
      const ssize_t n = recvfrom(bare, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 0) break;
      CHECK(n >= 20 && buf[9] == 2);
      CHECK(from.sll_pkttype != PACKET_OUTGOING);
      bare_copies += size_t(n) == report.size() && std::memcmp(buf, report.data(), report.size()) == 0;
    }
    CHECK(bare_copies == 1);
  });
  close(bare);

  run("igmp socket: send refuses a unicast destination; a closed socket is EBADF", [&](bool& ok) {
    const std::vector<uint8_t> report = v2_report(htonl(0xefff4d0e));
    CHECK(tx.send(report.data(), report.size(), htonl(INADDR_LOOPBACK), &error) == -EINVAL);
    tx.close();
    tx.close();
    CHECK(tx.send(report.data(), report.size(), htonl(0xefff4d0e), &error) == -EBADF);
    CHECK(error.find("lo") != std::string::npos);
  });
}

}  // namespace mcr_test
