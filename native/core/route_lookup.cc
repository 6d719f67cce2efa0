// SPDX-License-Identifier: MIT
// Why two requests per lookup: a plain RTM_GETROUTE is what `ip route get` sends, and it answers
// with the resolved route as a packet to the address would take it (output interface, gateway,
// preferred source, type) but always with rtm_dst_len 32. RTM_F_FIB_MATCH (Linux 4.13,
// `ip route get fibmatch`) answers with the table entry that matched instead, whose rtm_dst_len is
// the prefix length. A kernel that refuses the flag (EINVAL/EOPNOTSUPP) leaves the length at 32.
//
// A fresh socket per lookup: lookups are rare (PIM asks again only when the monitor says the
// table changed), and a socket of its own never holds a stale answer of an earlier timed-out call.
#include "mcr/route_lookup.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

#include "mcr/address_text.h"
#include "mcr/fail.h"

namespace mcr {

namespace {

// A route answer is a few hundred bytes; a page leaves room for any attribute the kernel adds.
constexpr size_t kAnswerBytes = 8192;
// Change notifications come in bursts of datagrams; link messages are the largest (a few KiB).
constexpr size_t kNotificationBytes = 32768;

std::atomic<uint32_t> next_sequence{1};

// Reads the attributes of one RTM_NEWROUTE into *out.
void parse_route(const nlmsghdr* header, RouteAnswer* out) {
  const auto* route = static_cast<const rtmsg*>(NLMSG_DATA(header));
  out->type = route->rtm_type;
  out->prefix_length = route->rtm_dst_len;
  int length = int(RTM_PAYLOAD(header));
  for (const rtattr* a = RTM_RTA(route); RTA_OK(a, length); a = RTA_NEXT(a, length)) {
    const size_t bytes = RTA_PAYLOAD(a);
    switch (a->rta_type) {
      case RTA_OIF:
        if (bytes >= sizeof(int)) std::memcpy(&out->ifindex, RTA_DATA(a), sizeof(int));
        break;
      case RTA_GATEWAY:
        if (bytes >= 4) std::memcpy(&out->gateway, RTA_DATA(a), 4);
        break;
      case RTA_PREFSRC:
        if (bytes >= 4) std::memcpy(&out->preferred_source, RTA_DATA(a), 4);
        break;
      case RTA_MULTIPATH: {
        // A multipath table entry (fibmatch answers only): its first next hop stands for it.
        if (bytes < sizeof(rtnexthop) || out->ifindex != 0) break;
        const auto* hop = static_cast<const rtnexthop*>(RTA_DATA(a));
        out->ifindex = hop->rtnh_ifindex;
        int hop_length = int(hop->rtnh_len) - int(RTNH_LENGTH(0));
        if (hop->rtnh_len > bytes) break;
        for (const rtattr* h = RTNH_DATA(hop); RTA_OK(h, hop_length); h = RTA_NEXT(h, hop_length))
          if (h->rta_type == RTA_GATEWAY && RTA_PAYLOAD(h) >= 4) std::memcpy(&out->gateway, RTA_DATA(h), 4);
        break;
      }
      default: break;
    }
  }
}

// One RTM_GETROUTE on `fd` and its answer: 0, or -errno (the kernel's, from its NLMSG_ERROR).
int request(int fd, uint32_t destination, bool fib_match, RouteAnswer* out, std::string* error, const std::string& at) {
  struct {
    nlmsghdr header;
    rtmsg route;
    alignas(NLMSG_ALIGNTO) uint8_t attributes[RTA_SPACE(4)];
  } message{};
  const uint32_t sequence = next_sequence.fetch_add(1);
  message.header.nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg)) + RTA_SPACE(4);
  message.header.nlmsg_type = RTM_GETROUTE;
  message.header.nlmsg_flags = NLM_F_REQUEST;
  message.header.nlmsg_seq = sequence;
  message.route.rtm_family = AF_INET;
  message.route.rtm_dst_len = 32;
  message.route.rtm_flags = fib_match ? RTM_F_FIB_MATCH : 0;
  auto* dst = reinterpret_cast<rtattr*>(message.attributes);
  dst->rta_type = RTA_DST;
  dst->rta_len = RTA_LENGTH(4);
  std::memcpy(RTA_DATA(dst), &destination, 4);
  const std::string step = fib_match ? "RTM_GETROUTE (fibmatch)" : "RTM_GETROUTE";

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    if (sendto(fd, &message, message.header.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) >= 0)
      break;
    if (errno != EINTR) return fail(error, at + "send " + step, errno);
  }
  std::vector<uint8_t> buffer(kAnswerBytes);
  for (;;) {
    sockaddr_nl from{};
    socklen_t from_length = sizeof(from);
    const ssize_t n =
        recvfrom(fd, buffer.data(), buffer.size(), MSG_TRUNC, reinterpret_cast<sockaddr*>(&from), &from_length);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return fail(error, at + "no answer to " + step + " within 1 s", ETIMEDOUT);
      return fail(error, at + "receive the answer to " + step, errno);
    }
    if (from.nl_pid != 0) continue;  // not from the kernel
    if (size_t(n) > buffer.size()) return fail(error, at + "the answer to " + step + " was truncated", EMSGSIZE);
    int length = int(n);
    for (const auto* h = reinterpret_cast<const nlmsghdr*>(buffer.data()); NLMSG_OK(h, length);
         h = NLMSG_NEXT(h, length)) {
      if (h->nlmsg_seq != sequence) continue;  // an answer to an earlier request
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr)))
          return fail(error, at + step + ": short error message", EPROTO);
        const int err = -static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
        if (err == 0) continue;  // an acknowledgement; the answer follows or came first
        return fail(error, at + step, err);
      }
      if (h->nlmsg_type != RTM_NEWROUTE) continue;
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(rtmsg))) return fail(error, at + step + ": short answer", EPROTO);
      parse_route(h, out);
      return 0;
    }
  }
}

}  // namespace

int route_lookup(uint32_t destination, RouteAnswer* out, std::string* error) {
  const std::string at = "route lookup of " + address_text(destination) + ": ";
  const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return fail(error, at + "socket(AF_NETLINK, NETLINK_ROUTE)", errno);
  const timeval timeout{1, 0};
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) != 0) {
    const int err = errno;
    ::close(fd);
    return fail(error, at + "setsockopt(SO_RCVTIMEO)", err);
  }
  RouteAnswer resolved;
  int rc = request(fd, destination, false, &resolved, error, at);
  if (rc == 0) {
    RouteAnswer entry;
    std::string entry_error;
    const int entry_rc = request(fd, destination, true, &entry, &entry_error, at);
    if (entry_rc == 0) {
      resolved.prefix_length = entry.prefix_length;
    } else if (entry_rc != -EINVAL && entry_rc != -EOPNOTSUPP) {
      // The route went away between the two requests: the caller looks again at the next change.
      rc = entry_rc;
      if (error) *error = entry_error;
    }
  }
  ::close(fd);
  if (rc == 0) *out = resolved;
  return rc;
}

int RouteMonitor::open(std::string* error) {
  close();
  const std::string at = "route monitor: ";
  const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return fail(error, at + "socket(AF_NETLINK, NETLINK_ROUTE)", errno);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kSocketBufferBytes, sizeof(kSocketBufferBytes));
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = RTMGRP_IPV4_ROUTE | RTMGRP_IPV4_IFADDR | RTMGRP_LINK;
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    const int err = errno;
    ::close(fd);
    return fail(error, at + "bind to the IPv4 route, IPv4 address and link groups", err);
  }
  fd_ = fd;
  return 0;
}

int RouteMonitor::drain(std::string* error) {
  if (fd_ < 0) return fail(error, "route monitor: closed", EBADF);
  std::vector<uint8_t> buffer(kNotificationBytes);
  int changes = 0;
  bool overflowed = false;
  for (;;) {
    sockaddr_nl from{};
    socklen_t from_length = sizeof(from);
    const ssize_t n =
        recvfrom(fd_, buffer.data(), buffer.size(), MSG_TRUNC, reinterpret_cast<sockaddr*>(&from), &from_length);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      // The kernel dropped notifications for want of room: something changed, unknown what.
      if (errno == ENOBUFS) {
        overflowed = true;
        continue;
      }
      return fail(error, "route monitor: recvfrom", errno);
    }
    if (from.nl_pid != 0) continue;  // not from the kernel
    if (size_t(n) > buffer.size()) {
      overflowed = true;  // a datagram larger than the buffer: it was a change all the same
      continue;
    }
    int length = int(n);
    for (const auto* h = reinterpret_cast<const nlmsghdr*>(buffer.data()); NLMSG_OK(h, length);
         h = NLMSG_NEXT(h, length)) {
      switch (h->nlmsg_type) {
        case RTM_NEWROUTE:
        case RTM_DELROUTE:
        case RTM_NEWADDR:
        case RTM_DELADDR:
        case RTM_NEWLINK:
        case RTM_DELLINK: ++changes; break;
        default: break;
      }
    }
  }
  if (overflowed && changes == 0) changes = 1;
  return changes;
}

void RouteMonitor::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace mcr
