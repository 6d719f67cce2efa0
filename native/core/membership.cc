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

namespace {

// MCAST_JOIN_SOURCE_GROUP / MCAST_LEAVE_SOURCE_GROUP (RFC 3678) name the interface by index.
group_source_req source_group_request(const MembershipKey& key) {
  group_source_req req{};
  req.gsr_interface = uint32_t(key.ifindex);
  auto* g = reinterpret_cast<sockaddr_in*>(&req.gsr_group);
  g->sin_family = AF_INET;
  g->sin_addr.s_addr = key.group;
  auto* s = reinterpret_cast<sockaddr_in*>(&req.gsr_source);
  s->sin_family = AF_INET;
  s->sin_addr.s_addr = key.source;
  return req;
}

}  // namespace

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

bool Membership::holds_group(size_t holder, int ifindex, uint32_t group) const {
  for (auto it = where_.lower_bound({ifindex, group, 0}); it != where_.end(); ++it) {
    if (it->first.ifindex != ifindex || it->first.group != group) break;
    if (it->second == holder) return true;
  }
  return false;
}

int Membership::join(const MembershipKey& key, std::string* error) {
  if (joined(key)) return 0;
  if ((ntohl(key.group) >> 28) != 0xe) return 0;  // unicast input: nothing to join
  const int limit = max_per_socket();
  size_t holder = holders_.size();
  for (size_t i = 0; i < holders_.size(); ++i)
    if (holders_[i].count < limit && !holds_group(i, key.ifindex, key.group)) {
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
  // MCAST_JOIN_SOURCE_GROUP (RFC 3678) takes the interface by index, as ip_mreqn does for any-source joins.
  int rc;
  if (key.source == 0) {
    ip_mreqn mreq{};
    mreq.imr_multiaddr.s_addr = key.group;
    mreq.imr_ifindex = key.ifindex;
    rc = setsockopt(holders_[holder].fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq));
  } else {
    const group_source_req req = source_group_request(key);
    rc = setsockopt(holders_[holder].fd, IPPROTO_IP, MCAST_JOIN_SOURCE_GROUP, &req, sizeof(req));
  }
  if (rc != 0) {
    const int err = errno;
    char group[INET_ADDRSTRLEN], source[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &key.group, group, sizeof(group));
    inet_ntop(AF_INET, &key.source, source, sizeof(source));
    return fail(error,
                key.source == 0 ? std::string("setsockopt(IP_ADD_MEMBERSHIP ") + group + ")"
                                : std::string("setsockopt(MCAST_JOIN_SOURCE_GROUP ") + source + ", " + group + ")",
                err);
  }
  holders_[holder].count++;
  where_[key] = holder;
  return 0;
}

void Membership::leave(const MembershipKey& key) {
  auto it = where_.find(key);
  if (it == where_.end()) return;
  // Fails only if the interface is gone, which already dropped the membership.
  if (key.source == 0) {
    ip_mreqn mreq{};
    mreq.imr_multiaddr.s_addr = key.group;
    mreq.imr_ifindex = key.ifindex;
    setsockopt(holders_[it->second].fd, IPPROTO_IP, IP_DROP_MEMBERSHIP, &mreq, sizeof(mreq));
  } else {
    const group_source_req req = source_group_request(key);
    setsockopt(holders_[it->second].fd, IPPROTO_IP, MCAST_LEAVE_SOURCE_GROUP, &req, sizeof(req));
  }
  holders_[it->second].count--;
  where_.erase(it);
}

std::vector<MembershipKey> Membership::all() const {
  std::vector<MembershipKey> out;
  for (auto& [key, holder] : where_) out.push_back(key);
  return out;
}

}  // namespace mcr
