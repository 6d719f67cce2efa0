// SPDX-License-Identifier: MIT
// The PIM socket (mcr/pim_socket.h): the errors that name the interface and the refused sends,
// and on lo (needs CAP_NET_RAW) unicast PIM arriving with the IP header stripped (IP options
// included) and its source, destination, TTL and interface given apart, whether sent by a plain
// raw socket or by another PimSocket. Multicast, other interfaces and the link going down need
// two namespaces: tests/integration/pim-socket.test.ts.
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "harness.h"
#include "mcr/pim_socket.h"

namespace mcr_test {
namespace {

// A PIM Hello-shaped message (version 2, type 0; Holdtime option 105 s); `tag` makes it unique.
std::vector<uint8_t> hello(uint8_t tag) {
  return {0x20, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 0x00, 105, 0xfe, tag};
}

// Receives until a message with these bytes arrives or 1 s passes; every one taken goes to *seen.
bool wait_for(mcr::PimSocket& s, const std::vector<uint8_t>& want, std::vector<mcr::PimPacket>* seen) {
  for (const auto& p : *seen)
    if (p.data == want) return true;  // taken already, with an earlier one
  for (int round = 0; round < 20; ++round) {
    pollfd pfd{s.poll_fd(), POLLIN, 0};
    poll(&pfd, 1, 50);
    std::string error;
    const size_t before = seen->size();
    if (s.receive(seen, 16, &error) < 0) return false;
    for (size_t i = before; i < seen->size(); ++i)
      if ((*seen)[i].data == want) return true;
  }
  return false;
}

const mcr::PimPacket* find(const std::vector<mcr::PimPacket>& seen, const std::vector<uint8_t>& want) {
  for (const auto& p : seen)
    if (p.data == want) return &p;
  return nullptr;
}

int default_ttl() {
  std::ifstream f("/proc/sys/net/ipv4/ip_default_ttl");
  int ttl = 0;
  f >> ttl;
  return ttl;
}

}  // namespace

void pim_socket_tests() {
  run("pim socket: a missing interface is ENODEV, named in the message; a bad name is EINVAL", [](bool& ok) {
    mcr::PimSocket s;
    std::string error;
    CHECK(s.open("mcrnoif0", &error) == -ENODEV);
    CHECK(error.find("mcrnoif0") != std::string::npos);
    CHECK(s.fd() < 0 && s.poll_fd() < 0);
    CHECK(s.open("", &error) == -EINVAL);
    CHECK(s.open("an-interface-name-too-long", &error) == -EINVAL);
    std::vector<mcr::PimPacket> out;
    CHECK(s.receive(&out, 4, &error) == -EBADF);
  });

  mcr::PimSocket rx, tx;
  std::string error;
  if (int rc = rx.open("lo", &error); rc < 0) {
    std::printf("skip pim socket tests on lo: %s\n", error.c_str());
    return;
  }
  if (tx.open("lo", &error) < 0) std::printf("  %s\n", error.c_str());
  const int lo = int(if_nametoindex("lo"));
  const uint32_t loopback = htonl(INADDR_LOOPBACK);

  run("pim socket: non-blocking, close-on-exec, on its interface, nothing waiting", [&](bool& ok) {
    CHECK(rx.fd() >= 0 && rx.poll_fd() >= 0 && rx.ifindex() == lo && rx.ifname() == "lo");
    CHECK((fcntl(rx.fd(), F_GETFL) & O_NONBLOCK) != 0);
    CHECK((fcntl(rx.fd(), F_GETFD) & FD_CLOEXEC) != 0);
    CHECK((fcntl(rx.poll_fd(), F_GETFD) & FD_CLOEXEC) != 0);
    std::vector<mcr::PimPacket> out;
    CHECK(rx.receive(&out, 0, &error) == 0 && out.empty());
  });

  run("pim socket: unicast PIM from a raw socket arrives without its IP header (options too)", [&](bool& ok) {
    const int raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_PIM);
    CHECK(raw >= 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = loopback;
    const std::vector<uint8_t> plain = hello(1), with_options = hello(2);
    CHECK(sendto(raw, plain.data(), plain.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) ==
          ssize_t(plain.size()));
    // Router Alert makes the header 24 bytes (IHL 6): the message must still start after it.
    const uint8_t router_alert[4] = {0x94, 0x04, 0x00, 0x00};
    CHECK(setsockopt(raw, IPPROTO_IP, IP_OPTIONS, router_alert, sizeof(router_alert)) == 0);
    CHECK(sendto(raw, with_options.data(), with_options.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) ==
          ssize_t(with_options.size()));
    close(raw);
    std::vector<mcr::PimPacket> seen;
    CHECK(wait_for(rx, plain, &seen));
    CHECK(wait_for(rx, with_options, &seen));
    for (const auto& want : {plain, with_options}) {
      const mcr::PimPacket* p = find(seen, want);
      CHECK(p != nullptr);
      if (!p) continue;
      CHECK(p->source == loopback);
      CHECK(p->destination == loopback);
      CHECK(p->ttl == default_ttl());
      CHECK(p->ifindex == lo);
    }
    std::vector<mcr::PimPacket> more;
    usleep(50'000);
    rx.receive(&more, 64, &error);
    for (const auto& want : {plain, with_options}) CHECK(find(more, want) == nullptr);  // once each
    tx.receive(&more, 64, &error);  // tx got its copies too; not needed
  });

  run("pim socket: a message sent through one socket reaches another on the same interface", [&](bool& ok) {
    const std::vector<uint8_t> message = hello(3);
    CHECK(tx.send(message.data(), message.size(), loopback, &error) == ssize_t(message.size()));
    std::vector<mcr::PimPacket> seen;
    CHECK(wait_for(rx, message, &seen));
    const mcr::PimPacket* p = find(seen, message);
    CHECK(p && p->source == loopback && p->ttl == default_ttl() && p->ifindex == lo);
  });

  run("pim socket: send refuses a short message and 0.0.0.0; a closed socket is EBADF", [&](bool& ok) {
    const std::vector<uint8_t> message = hello(4);
    CHECK(tx.send(message.data(), 3, loopback, &error) == -EINVAL);
    CHECK(error.find("PIM header") != std::string::npos && error.find("lo") != std::string::npos);
    CHECK(tx.send(message.data(), message.size(), 0, &error) == -EINVAL);
    tx.close();
    tx.close();
    CHECK(tx.fd() < 0 && tx.poll_fd() < 0);
    CHECK(tx.send(message.data(), message.size(), loopback, &error) == -EBADF);
    std::vector<mcr::PimPacket> out;
    CHECK(tx.receive(&out, 4, &error) == -EBADF);
  });
}

}  // namespace mcr_test
