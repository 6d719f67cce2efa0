// SPDX-License-Identifier: MIT
// IGMP membership for rule input groups, so `ip maddr` lists them and IGMP-snooping switches and
// upstream routers deliver the streams: any-source for a (*,G) rule, source-specific (an IGMPv3
// INCLUDE join) for an (S,G) rule. The kernel allows net.ipv4.igmp_max_memberships (default 20)
// groups per socket and cannot mix the two kinds of join of one group on one socket, so joins are
// spread over as many plain UDP sockets as needed, each holding a group at most once. Control
// thread only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace mcr {

// One join: a group on an interface, from one source (network order) or any (0).
struct MembershipKey {
  int ifindex;
  uint32_t group;
  uint32_t source;
  auto operator<=>(const MembershipKey&) const = default;
};

class Membership {
 public:
  ~Membership();
  // Returns 0 or -errno. Joining what is already joined is a no-op; a unicast group joins nothing.
  int join(const MembershipKey& key, std::string* error);
  void leave(const MembershipKey& key);
  bool joined(const MembershipKey& key) const { return where_.count(key) != 0; }
  std::vector<MembershipKey> all() const;

 private:
  struct Holder {
    int fd;
    int count;
  };
  int max_per_socket() const;
  bool holds_group(size_t holder, int ifindex, uint32_t group) const;
  std::vector<Holder> holders_;
  std::map<MembershipKey, size_t> where_;  // join -> holder
};

}  // namespace mcr
