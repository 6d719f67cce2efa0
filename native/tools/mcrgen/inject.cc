// SPDX-License-Identifier: MIT
// mcrgen inject: writes raw Ethernet frames, given as hex lines, onto a device through an
// AF_PACKET socket (the malformed-input tests).
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common.h"

namespace mcrgen {

const char kInjectUsage[] =
    "Usage: mcrgen inject --device IFNAME [--file F] [--repeat N] [--json] [--quiet]\n"
    "Send raw Ethernet frames through an AF_PACKET socket bound to IFNAME. Frames are hex,\n"
    "one per line (whitespace ignored; blank lines and lines starting with # skipped),\n"
    "14..9018 bytes, read from F or stdin. Each frame is sent N times (default 1).\n";

namespace {

constexpr size_t kMaxFrame = 9018;      // 9000-byte MTU plus Ethernet header and one VLAN tag
constexpr size_t kMinFrame = ETH_HLEN;  // AF_PACKET SOCK_RAW rejects anything shorter

struct InjectOptions {
  const char* device = nullptr;
  const char* file = nullptr;
  uint64_t repeat = 1;
  bool json = false;
  bool quiet = false;
};

InjectOptions parse_inject_options(int argc, char** argv) {
  enum { kDevice = 256, kFile, kRepeat, kJson, kQuiet, kHelp };
  static const option options[] = {
      {"device", required_argument, nullptr, kDevice},
      {"file", required_argument, nullptr, kFile},
      {"repeat", required_argument, nullptr, kRepeat},
      {"json", no_argument, nullptr, kJson},
      {"quiet", no_argument, nullptr, kQuiet},
      {"help", no_argument, nullptr, kHelp},
      {nullptr, 0, nullptr, 0},
  };
  InjectOptions opts;
  parse_flags("inject", argc, argv, options, [&](int c, const char* arg) {
    switch (c) {
      case kDevice:
        if (*arg == '\0' || strlen(arg) >= IFNAMSIZ) {
          usage_error("--device: expected an interface name, got \"%s\"", arg);
        }
        opts.device = arg;
        break;
      case kFile: opts.file = arg; break;
      case kRepeat: opts.repeat = parse_uint("--repeat", arg, 1, 1000000000); break;
      case kJson: opts.json = true; break;
      case kQuiet: opts.quiet = true; break;
      case 'h':
      case kHelp: fputs(kInjectUsage, stdout); exit(0);
    }
  });
  if (opts.device == nullptr) usage_error("inject: --device is required");
  return opts;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses every frame before anything is sent, so bad input never leaves a partial injection.
// Input errors exit 2 like other usage errors.
std::vector<std::vector<uint8_t>> read_frames(const InjectOptions& opts) {
  const char* source = opts.file != nullptr ? opts.file : "stdin";
  FILE* in = stdin;
  if (opts.file != nullptr) {
    in = fopen(opts.file, "r");
    if (in == nullptr) die_errno("open(%s)", opts.file);
  }
  std::vector<std::vector<uint8_t>> frames;
  char* line = nullptr;
  size_t capacity = 0;
  size_t line_no = 0;
  while (getline(&line, &capacity, in) >= 0) {
    ++line_no;
    const char* p = line;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') ++p;
    if (*p == '\0' || *p == '#') continue;
    std::vector<uint8_t> frame;
    int high = -1;
    for (; *p != '\0'; ++p) {
      if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') continue;
      int v = hex_value(*p);
      if (v < 0) usage_error("inject: %s line %zu: '%c' is not a hex digit", source, line_no, *p);
      if (high < 0) {
        high = v;
      } else {
        frame.push_back(static_cast<uint8_t>(high << 4 | v));
        high = -1;
      }
    }
    if (high >= 0) usage_error("inject: %s line %zu: odd number of hex digits", source, line_no);
    if (frame.size() < kMinFrame || frame.size() > kMaxFrame) {
      usage_error("inject: %s line %zu: frame is %zu bytes, expected %zu..%zu", source, line_no, frame.size(),
                  kMinFrame, kMaxFrame);
    }
    frames.push_back(std::move(frame));
  }
  if (ferror(in)) die_errno("read(%s)", source);
  free(line);
  if (in != stdin) fclose(in);
  if (frames.empty()) usage_error("inject: no frames in %s", source);
  return frames;
}

}  // namespace

int run_inject(int argc, char** argv) {
  InjectOptions opts = parse_inject_options(argc, argv);
  std::vector<std::vector<uint8_t>> frames = read_frames(opts);

  unsigned ifindex = if_nametoindex(opts.device);
  if (ifindex == 0) die_errno("if_nametoindex(%s)", opts.device);
  // Protocol 0: this socket only sends, so it should not be handed a copy of every frame.
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) die_errno("socket(AF_PACKET, SOCK_RAW)");
  sockaddr_ll addr;
  memset(&addr, 0, sizeof addr);
  addr.sll_family = AF_PACKET;
  addr.sll_ifindex = static_cast<int>(ifindex);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    die_errno("bind(AF_PACKET) to %s", opts.device);
  }

  uint64_t injected = 0;
  for (size_t f = 0; f < frames.size() && !g_stop; ++f) {
    const std::vector<uint8_t>& frame = frames[f];
    addr.sll_halen = ETH_ALEN;
    memcpy(addr.sll_addr, frame.data(), ETH_ALEN);
    for (uint64_t r = 0; r < opts.repeat && !g_stop;) {
      ssize_t sent = sendto(fd, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      if (sent >= 0) {
        ++injected;
        ++r;
        continue;
      }
      if (errno == EINTR) continue;
      if (errno == ENOBUFS || errno == EAGAIN) {
        sleep_until(now_ns() + 50000);  // device queue full: let it drain
        continue;
      }
      die_errno("sendto on %s (frame %zu, %zu bytes)", opts.device, f + 1, frame.size());
    }
  }
  close(fd);
  if (opts.json) {
    printf("{\"injected\":%llu}\n", static_cast<unsigned long long>(injected));
  } else {
    printf("injected %llu frames\n", static_cast<unsigned long long>(injected));
  }
  return 0;
}

}  // namespace mcrgen
