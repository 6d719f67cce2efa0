// SPDX-License-Identifier: MIT
// Receive rings on lo with a fanout group, including the fanout id 0 a freshly booted machine
// hands out (fanout_advance, built next to this binary, makes the kernel get there).
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "harness.h"
#include "mcr/ingress_ring.h"

namespace mcr_test {

// Receive rings on lo with a fanout group. Needs CAP_NET_RAW (npm test runs as root).
void ring_tests() {
  int probe = socket(AF_PACKET, SOCK_RAW, 0);
  if (probe < 0) {
    std::printf("skip ring tests: socket(AF_PACKET): %s (needs CAP_NET_RAW)\n", std::strerror(errno));
    return;
  }
  close(probe);
  const int lo = int(if_nametoindex("lo"));
  const mcr::RingGeometry g = mcr::ring_geometry_for(1500, 1 << 20);
  auto open_set = [&](bool& ok, mcr::FanoutGroup& fanout, std::unique_ptr<mcr::IngressRing>(&rings)[3]) {
    for (auto& r : rings) {
      r = std::make_unique<mcr::IngressRing>();
      std::string err;
      CHECK(r->open(lo, "lo", g, &fanout, &err) == 0);
      if (!err.empty()) std::printf("  %s\n", err.c_str());
    }
  };

  run("a ring without a fanout group reports none", [&](bool& ok) {
    mcr::IngressRing r;
    std::string err;
    CHECK(r.open(lo, "lo", g, nullptr, &err) == 0);
    CHECK(r.fanout_group() == -1);
  });

  run("three rings share the unique fanout group the first one got", [&](bool& ok) {
    mcr::FanoutGroup fanout;
    std::unique_ptr<mcr::IngressRing> rings[3];
    open_set(ok, fanout, rings);
    CHECK(fanout.assigned);
    for (auto& r : rings) CHECK(r->fanout_group() == int(fanout.id));
  });

  // The case a freshly booted machine gives the first relay: the kernel hands out id 0.
  run("when the kernel hands out fanout id 0, every ring joins group 0", [&](bool& ok) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    CHECK(n > 0);
    if (n <= 0) return;
    self[n] = 0;
    std::string tool = std::string(self);
    tool = tool.substr(0, tool.rfind('/')) + "/fanout_advance 65535 >/dev/null";
    CHECK(std::system(tool.c_str()) == 0);
    mcr::FanoutGroup fanout;
    std::unique_ptr<mcr::IngressRing> rings[3];
    open_set(ok, fanout, rings);
    CHECK(fanout.assigned && fanout.id == 0);
    for (auto& r : rings) CHECK(r->fanout_group() == 0);
  });
}

}  // namespace mcr_test
