// SPDX-License-Identifier: MIT
// The control path's one way to report a failed step: "<what>: <strerror(err)>" into *error,
// returning -err, so every message names the call and the object it was for.
#pragma once

#include <cstring>
#include <string>

namespace mcr {

inline int fail(std::string* error, const std::string& what, int err) {
  if (error) *error = what + ": " + std::strerror(err);
  return -err;
}

}  // namespace mcr
