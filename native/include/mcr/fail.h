// SPDX-License-Identifier: MIT
// The control path's one way to report a failed step: "<what>: <strerror(err)>" into *error,
// returning -err, so every message names the call and the object it was for; and the interface
// lookup every socket that opens on one interface starts with.
#pragma once

#include <net/if.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace mcr {

inline int fail(std::string* error, const std::string& what, int err) {
  if (error) *error = what + ": " + std::strerror(err);
  return -err;
}

// The index of interface `ifname` for a socket being opened on it, or -errno with *error naming
// the step after `at` ("<what> on <ifname>: "): EINVAL for a name the kernel cannot hold, ENODEV
// for a missing interface.
inline int interface_index(const std::string& ifname, const std::string& at, std::string* error) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) return fail(error, at + "invalid interface name", EINVAL);
  const int ifindex = int(if_nametoindex(ifname.c_str()));
  if (ifindex == 0) return fail(error, at + "no such interface", errno == ENXIO || errno == 0 ? ENODEV : errno);
  return ifindex;
}

}  // namespace mcr
