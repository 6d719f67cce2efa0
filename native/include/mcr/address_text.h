// SPDX-License-Identifier: MIT
// An IPv4 address (network byte order) as dotted-quad text, for control-path messages and the
// binding's results. Never on the per-packet path (it builds a string).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <string>

namespace mcr {

inline std::string address_text(uint32_t address) {
  char text[INET_ADDRSTRLEN];
  in_addr a{};
  a.s_addr = address;
  inet_ntop(AF_INET, &a, text, sizeof(text));
  return text;
}

}  // namespace mcr
