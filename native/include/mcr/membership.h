// SPDX-License-Identifier: MIT
// IGMP membership for rule input groups, so `ip maddr` lists them and IGMP-snooping switches
// deliver the streams. The kernel allows net.ipv4.igmp_max_memberships (default 20) groups per
// socket, so groups are spread over as many plain UDP sockets as needed. Control thread only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace mcr {

class Membership {
 public:
  ~Membership();
  // Returns 0 or -errno. Joining a group already joined on that interface is a no-op.
  int join(int ifindex, uint32_t group, std::string* error);
  void leave(int ifindex, uint32_t group);
  bool joined(int ifindex, uint32_t group) const { return where_.count({ifindex, group}) != 0; }
  std::vector<std::pair<int, uint32_t>> all() const;

 private:
  struct Holder {
    int fd;
    int count;
  };
  int max_per_socket() const;
  std::vector<Holder> holders_;
  std::map<std::pair<int, uint32_t>, size_t> where_;  // (ifindex, group) -> holder
};

}  // namespace mcr
