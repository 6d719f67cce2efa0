// SPDX-License-Identifier: MIT
// The send batcher against real loopback UDP sockets: fan-out counted per output, send errors
// counted by errno while the rest still go, and a full batcher refusing instead of overflowing.
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"
#include "mcr/counters.h"
#include "mcr/egress.h"
#include "mcr/rule_table.h"

namespace mcr_test {
namespace {

int udp_receiver(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  int big = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

int drain(int fd, std::vector<std::string>* got) {
  char buf[65536];
  int n = 0;
  for (;;) {
    ssize_t r = recv(fd, buf, sizeof(buf), 0);
    if (r < 0) break;
    if (got) got->emplace_back(buf, size_t(r));
    ++n;
  }
  return n;
}

}  // namespace

void batcher_tests() {
  run("batcher: fan-out to 3 receivers on 2 sockets, counted per output, payload shared", [](bool& ok) {
    uint16_t ports[3];
    int rx[3];
    for (int i = 0; i < 3; ++i) rx[i] = udp_receiver(&ports[i]);
    std::string error;
    mcr::EgressKey k1{int(if_nametoindex("lo")), 16, 0}, k2{int(if_nametoindex("lo")), 8, 0};
    int fd1 = mcr::open_egress_socket(k1, "lo", 1 << 20, &error);
    int fd2 = mcr::open_egress_socket(k2, "lo", 1 << 20, &error);
    CHECK(fd1 >= 0 && fd2 >= 0);
    mcr::RuleTable t;
    t.egress_fds = {fd1, fd2};
    std::vector<mcr::OutputEntry> outs(3);
    for (int i = 0; i < 3; ++i) {
      outs[i].dest.sin_family = AF_INET;
      outs[i].dest.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      outs[i].dest.sin_port = htons(ports[i]);
      outs[i].counter_slot = uint32_t(100 + i);
    }
    auto batcher = std::make_unique<mcr::SendBatcher>();
    auto counters = std::make_unique<mcr::WorkerBlock>();
    const uint8_t payload[] = "relay-me";
    for (int p = 0; p < 10; ++p)
      for (int o = 0; o < 3; ++o) CHECK(batcher->add(o == 1 ? 1 : 0, &outs[o], payload, 8));
    batcher->flush(t, *counters);
    for (int o = 0; o < 3; ++o) {
      std::vector<std::string> got;
      CHECK(drain(rx[o], &got) == 10);
      CHECK(!got.empty() && got[0] == "relay-me");
      CHECK(counters->outputs[100 + o][mcr::out_packets].load() == 10);
      CHECK(counters->outputs[100 + o][mcr::out_bytes].load() == 80);
    }
    CHECK(counters->counters[mcr::tx_packets].load() == 30);
    CHECK(counters->counters[mcr::tx_bytes].load() == 240);
    CHECK(batcher->size() == 0);
    for (int fd : {fd1, fd2, rx[0], rx[1], rx[2]}) close(fd);
  });
  run("batcher: a send error is counted by errno and per output, the rest still go", [](bool& ok) {
    uint16_t port;
    int rx = udp_receiver(&port);
    std::string error;
    mcr::EgressKey key{int(if_nametoindex("lo")), 16, 0};
    int fd = mcr::open_egress_socket(key, "lo", 1 << 20, &error);
    mcr::RuleTable t;
    t.egress_fds = {fd};
    mcr::OutputEntry good{}, bad{};
    good.dest.sin_family = bad.dest.sin_family = AF_INET;
    good.dest.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    good.dest.sin_port = htons(port);
    good.counter_slot = 1;
    bad.dest.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bad.dest.sin_port = 0;  // port 0: EINVAL from the kernel
    bad.counter_slot = 2;
    auto batcher = std::make_unique<mcr::SendBatcher>();
    auto counters = std::make_unique<mcr::WorkerBlock>();
    const uint8_t payload[] = "x";
    batcher->add(0, &good, payload, 1);
    batcher->add(0, &bad, payload, 1);
    batcher->add(0, &good, payload, 1);
    batcher->flush(t, *counters);
    CHECK(drain(rx, nullptr) == 2);
    CHECK(counters->outputs[1][mcr::out_packets].load() == 2);
    CHECK(counters->outputs[2][mcr::out_errors].load() == 1);
    CHECK(counters->counters[mcr::tx_err_other].load() == 1);
    close(fd);
    close(rx);
  });
  run("batcher: refuses more than its scratch space instead of overflowing", [](bool& ok) {
    auto batcher = std::make_unique<mcr::SendBatcher>();
    mcr::OutputEntry d{};
    const uint8_t p[] = "x";
    uint32_t accepted = 0;
    for (uint32_t i = 0; i < mcr::SendBatcher::kMaxPending + 10; ++i) accepted += batcher->add(0, &d, p, 1);
    CHECK(accepted == mcr::SendBatcher::kMaxPending);
    CHECK(!batcher->add(mcr::SendBatcher::kMaxEgress, &d, p, 1) || batcher->size() == mcr::SendBatcher::kMaxPending);
  });
}

}  // namespace mcr_test
