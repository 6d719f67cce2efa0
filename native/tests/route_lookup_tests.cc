// SPDX-License-Identifier: MIT
// The kernel route lookup and change monitor (mcr/route_lookup.h). In the host's namespace, only
// what every host has: 127.0.0.1 is a local route on lo. In a network namespace of a thread's own
// (unshare(CLONE_NEWNET) applies to the calling thread only, and the namespace goes with it; needs
// CAP_SYS_ADMIN, skipped with a reason otherwise): with lo down nothing is routed (the kernel's
// ENETUNREACH, the message naming the address), and bringing lo up is seen by the monitor and
// makes 127.0.0.1 local; with the smallest receive buffer, a burst of
// address changes overflows the monitor, which drain() reports as a change, not an error. Routes through gateways,
// changes and unreachable routes: tests/integration/route-lookup.test.ts.
#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "harness.h"
#include "mcr/route_lookup.h"

namespace mcr_test {
namespace {

uint32_t address(const char* text) {
  in_addr a{};
  inet_pton(AF_INET, text, &a);
  return a.s_addr;
}

// Sets lo's IFF_UP in the calling thread's namespace: 0 or -errno.
int lo_up() {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  ifreq request{};
  std::strcpy(request.ifr_name, "lo");
  int rc = ioctl(fd, SIOCGIFFLAGS, &request);
  if (rc == 0) {
    request.ifr_flags |= IFF_UP;
    rc = ioctl(fd, SIOCSIFFLAGS, &request);
  }
  const int err = rc == 0 ? 0 : -errno;
  close(fd);
  return err;
}

// Adds 10.50.0.1 .. 10.50.0.count to lo as aliases lo:1 .. (each an address and its local
// route: two changes at least): 0 or -errno.
constexpr int kAliases = 64;
int add_lo_aliases(int count) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int err = 0;
  for (int i = 1; i <= count && err == 0; ++i) {
    ifreq request{};
    std::snprintf(request.ifr_name, sizeof(request.ifr_name), "lo:%d", i);
    auto* a = reinterpret_cast<sockaddr_in*>(&request.ifr_addr);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(0x0a320000 | uint32_t(i));
    if (ioctl(fd, SIOCSIFADDR, &request) != 0) err = -errno;
  }
  close(fd);
  return err;
}

// Drains `monitor` until it reports a change or 2 s pass: the changes seen.
int wait_for_change(mcr::RouteMonitor& monitor) {
  for (int round = 0; round < 40; ++round) {
    pollfd pfd{monitor.poll_fd(), POLLIN, 0};
    poll(&pfd, 1, 50);
    std::string error;
    const int n = monitor.drain(&error);
    if (n != 0) return n;
  }
  return 0;
}

}  // namespace

void route_lookup_tests() {
  run("route lookup: 127.0.0.1 is a local route on lo, its own preferred source, prefix 32", [](bool& ok) {
    mcr::RouteAnswer answer;
    std::string error;
    const int rc = mcr::route_lookup(address("127.0.0.1"), &answer, &error);
    CHECK(rc == 0);
    if (rc != 0) std::printf("  %s\n", error.c_str());
    CHECK(answer.type == RTN_LOCAL);
    CHECK(answer.ifindex == int(if_nametoindex("lo")));
    CHECK(answer.gateway == 0);
    CHECK(answer.preferred_source == address("127.0.0.1"));
    // The local table holds a host entry for each local address (fibmatch finds it, not 127.0.0.0/8).
    CHECK(answer.prefix_length == 32);
  });

  run("route monitor: a closed monitor refuses to drain (EBADF); open and close are idempotent", [](bool& ok) {
    mcr::RouteMonitor monitor;
    std::string error;
    CHECK(monitor.drain(&error) == -EBADF);
    CHECK(monitor.open(&error) == 0);
    CHECK(monitor.poll_fd() >= 0);
    CHECK(monitor.open(&error) == 0);
    CHECK(monitor.drain(&error) >= 0);
    monitor.close();
    monitor.close();
    CHECK(monitor.poll_fd() < 0);
    CHECK(monitor.drain(&error) == -EBADF);
  });

  // Results of the namespace thread, checked on this one.
  struct {
    int unshare_errno = 0;
    int open_rc = -1, unrouted_rc = 0, lo_rc = -1, changes = 0, local_rc = -1, quiet_changes = -1;
    int aliases_rc = -1, overflow_changes = -1, after_overflow = -1;
    std::string unrouted_error, overflow_error;
    mcr::RouteAnswer local;
  } seen;
  std::thread in_namespace([&seen] {
    if (unshare(CLONE_NEWNET) != 0) {
      seen.unshare_errno = errno;
      return;
    }
    mcr::RouteMonitor monitor;
    std::string error;
    seen.open_rc = monitor.open(&error);
    mcr::RouteAnswer unused;
    seen.unrouted_rc = mcr::route_lookup(address("10.1.2.3"), &unused, &seen.unrouted_error);
    seen.quiet_changes = monitor.drain(&error);
    seen.lo_rc = lo_up();
    seen.changes = wait_for_change(monitor);
    seen.local_rc = mcr::route_lookup(address("127.0.0.1"), &seen.local, &error);
    // The smallest receive buffer the kernel allows, then more changes than it holds.
    const int tiny = 0;
    setsockopt(monitor.poll_fd(), SOL_SOCKET, SO_RCVBUF, &tiny, sizeof(tiny));
    seen.aliases_rc = add_lo_aliases(kAliases);
    seen.overflow_changes = monitor.drain(&seen.overflow_error);
    seen.after_overflow = monitor.drain(&error);
  });
  in_namespace.join();
  if (seen.unshare_errno != 0) {
    std::printf("skip route lookup in a new namespace: unshare(CLONE_NEWNET): %s\n", std::strerror(seen.unshare_errno));
    return;
  }
  run("route lookup: in a fresh namespace (lo down) nothing is routed: ENETUNREACH naming the address",
      [&seen](bool& ok) {
        CHECK(seen.unrouted_rc == -ENETUNREACH);
        CHECK(seen.unrouted_error.find("10.1.2.3") != std::string::npos);
        CHECK(seen.unrouted_error.find("RTM_GETROUTE") != std::string::npos);
      });
  run("route monitor: a lookup is no change; bringing lo up is, and then 127.0.0.1 is local on lo", [&seen](bool& ok) {
    CHECK(seen.open_rc == 0);
    CHECK(seen.quiet_changes == 0);
    CHECK(seen.lo_rc == 0);
    // lo's RTM_NEWLINK, and the local routes of 127.0.0.1 (its address was there, lo down).
    CHECK(seen.changes >= 2);
    CHECK(seen.local_rc == 0);
    CHECK(seen.local.type == RTN_LOCAL);
    CHECK(seen.local.ifindex == 1);  // lo is ifindex 1 in every namespace
  });
  run("route monitor: an overflowed socket (ENOBUFS) is a change, not an error, and is cleared by the read",
      [&seen](bool& ok) {
        CHECK(seen.aliases_rc == 0);
        // Fewer counted than the 2 x 64 changes made: the kernel dropped some, and said so once.
        CHECK(seen.overflow_changes >= 1);
        CHECK(seen.overflow_changes < 2 * kAliases);
        if (seen.overflow_changes < 0) std::printf("  %s\n", seen.overflow_error.c_str());
        CHECK(seen.after_overflow == 0);
      });
}

}  // namespace mcr_test
