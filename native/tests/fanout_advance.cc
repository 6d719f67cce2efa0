// SPDX-License-Identifier: MIT
// Test helper: moves the kernel's fanout id counter so that the next PACKET_FANOUT_FLAG_UNIQUEID
// group anyone creates gets id 0, the case a freshly booted machine hands to the first caller
// (and every 65,536th one after). The counter is one global 16-bit value (net/packet/af_packet.c
// fanout_next_id) that every namespace shares; an id is skipped only while a group in the
// caller's namespace holds it, so run this in the namespace the relay will use.
//   fanout_advance [TARGET]   create and close unique groups until one gets TARGET (default 65535)
// Prints the number of groups it created. Needs CAP_NET_RAW. Takes a few seconds.
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace {
// Closing an AF_PACKET socket waits for an RCU grace period (synchronize_net, ~16 ms here), so
// 65,536 closes one after another take 17 minutes. Allocation is fast and must stay in order,
// so one thread allocates a chunk of groups and a thread per socket closes the chunk: concurrent
// waiters share grace periods.
constexpr int kChunk = 512;

void close_all(const std::vector<int>& fds) {
  std::vector<std::thread> closers;
  closers.reserve(fds.size());
  for (int fd : fds) closers.emplace_back([fd] { close(fd); });
  for (auto& t : closers) t.join();
}
}  // namespace

int main(int argc, char** argv) {
  const long target = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 65535;
  if (target < 0 || target > 65535) {
    std::fprintf(stderr, "fanout_advance: TARGET must be 0..65535\n");
    return 2;
  }
  long created = 0;
  std::vector<int> open_fds;
  // One wrap of the counter is enough when nobody else creates groups; others doing so at the
  // same time can make it skip TARGET, so it may go round a few times.
  constexpr long kMaxGroups = 4 * 65536;
  while (created <= kMaxGroups) {
    // A protocol other than 0 makes the socket "running" at once, which PACKET_FANOUT requires.
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_LOOPBACK));
    if (fd < 0) {
      std::fprintf(stderr, "fanout_advance: socket(AF_PACKET): %s\n", std::strerror(errno));
      close_all(open_fds);
      return 1;
    }
    open_fds.push_back(fd);
    int arg = (PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_UNIQUEID) << 16;
    int id = 0;
    socklen_t len = sizeof(id);
    if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) != 0 ||
        getsockopt(fd, SOL_PACKET, PACKET_FANOUT, &id, &len) != 0) {
      std::fprintf(stderr, "fanout_advance: PACKET_FANOUT: %s\n", std::strerror(errno));
      close_all(open_fds);
      return 1;
    }
    ++created;
    if ((id & 0xffff) == target) {
      // Every group this made is closed before returning, so the next id is free to be handed out.
      close_all(open_fds);
      std::printf("%ld\n", created);
      return 0;
    }
    if (open_fds.size() == kChunk) {
      close_all(open_fds);
      open_fds.clear();
    }
  }
  close_all(open_fds);
  std::fprintf(stderr, "fanout_advance: id %ld never came up in %ld groups\n", target, kMaxGroups);
  return 1;
}
