// SPDX-License-Identifier: MIT
// IP_ADD_MEMBERSHIP on plain UDP sockets that are never bound, so they receive nothing: they
// exist only to make the kernel send IGMP reports and program the NIC's multicast filter.
#include "mcr/membership.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "mcr/fail.h"

namespace mcr {

Membership::~Membership() {
  for (auto& h : holders_) ::close(h.fd);
}

int Membership::max_per_socket() const {
  int limit = 20;
  if (FILE* f = std::fopen("/proc/sys/net/ipv4/igmp_max_memberships", "r")) {
    if (std::fscanf(f, "%d", &limit) != 1 || limit < 1) limit = 20;
    std::fclose(f);
  }
  return limit;
}

int Membership::join(int ifindex, uint32_t group, std::string* error) {
  if (joined(ifindex, group)) return 0;
  if ((ntohl(group) >> 28) != 0xe) return 0;  // unicast input: nothing to join
  const int limit = max_per_socket();
  size_t holder = holders_.size();
  for (size_t i = 0; i < holders_.size(); ++i)
    if (holders_[i].count < limit) {
      holder = i;
      break;
    }
  if (holder == holders_.size()) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      return fail(error, "socket(AF_INET) for group membership", errno);
    }
    holders_.push_back(Holder{fd, 0});
  }
  ip_mreqn mreq{};
  mreq.imr_multiaddr.s_addr = group;
  mreq.imr_ifindex = ifindex;
  if (setsockopt(holders_[holder].fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) != 0) {
    const int err = errno;
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &group, text, sizeof(text));
    return fail(error, std::string("setsockopt(IP_ADD_MEMBERSHIP ") + text + ")", err);
  }
  holders_[holder].count++;
  where_[{ifindex, group}] = holder;
  return 0;
}

void Membership::leave(int ifindex, uint32_t group) {
  auto it = where_.find({ifindex, group});
  if (it == where_.end()) return;
  ip_mreqn mreq{};
  mreq.imr_multiaddr.s_addr = group;
  mreq.imr_ifindex = ifindex;
  // Fails only if the interface is gone, which already dropped the membership.
  setsockopt(holders_[it->second].fd, IPPROTO_IP, IP_DROP_MEMBERSHIP, &mreq, sizeof(mreq));
  holders_[it->second].count--;
  where_.erase(it);
}

std::vector<std::pair<int, uint32_t>> Membership::all() const {
  std::vector<std::pair<int, uint32_t>> out;
  for (auto& [key, holder] : where_) out.push_back(key);
  return out;
}

}  // namespace mcr
