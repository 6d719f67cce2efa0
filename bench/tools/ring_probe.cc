// SPDX-License-Identifier: MIT
// ring_probe: receives UDP frames on one interface through an AF_PACKET ring, TPACKET_V2 or
// TPACKET_V3, and reports frames/s, kernel drops and the latency from mcrgen's send timestamp
// to the moment userspace sees the frame. It exists to measure the ring-version choice the
// relay made (docs/performance.md), with everything else held equal. How it waits for frames is
// the relay worker's choice too: poll() (default), a holdoff after a wake-up from a short sleep
// (--holdoff-us, like `wakeupHoldoffUs`), or never sleeping (--busy-poll).
#include <arpa/inet.h>
#include <getopt.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "mcr/parse.h"
#include "mcr/worker.h"  // the holdoff's dense-sleep threshold
#include "payload.h"     // native/tools/mcrgen/, on the include path

namespace {
uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "ring_probe: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

struct Results {
  uint64_t frames = 0;
  std::vector<uint32_t> latency_us;  // bounded by --count; this is a bench tool
  uint64_t first_ns = 0, last_ns = 0;
};

void account(Results& r, const uint8_t* frame, uint32_t snaplen, uint32_t len, uint64_t seen_ns) {
  mcr::UdpDatagram d;
  if (mcr::parse_udp_frame(frame, snaplen, len, &d) != mcr::matched) return;
  mcr::payload::Header h;
  if (mcr::payload::verify(d.payload, d.payload_len, &h) != mcr::payload::Verdict::ok) return;
  if (r.frames == 0) r.first_ns = seen_ns;
  r.last_ns = seen_ns;
  r.frames++;
  r.latency_us.push_back(uint32_t(seen_ns > h.send_ns ? (seen_ns - h.send_ns) / 1000 : 0));
}
}  // namespace

constexpr const char* kUsage =
    "usage: ring_probe --device IF [--version 2|3] [--count N] [--timeout S] [--block-tov-ms MS]\n"
    "                  [--holdoff-us US | --busy-poll] [--so-busy-poll-us US]\n";

int main(int argc, char** argv) {
  const char* device = nullptr;
  int version = 2;
  uint64_t count = 100000;
  double timeout_s = 3;
  unsigned block_tov_ms = 0;  // 0: the kernel's default (derived from link speed)
  unsigned holdoff_us = 0;
  bool busy_poll = false;
  int so_busy_poll_us = 0;
  static option opts[] = {{"device", required_argument, nullptr, 'd'},
                          {"version", required_argument, nullptr, 'v'},
                          {"count", required_argument, nullptr, 'c'},
                          {"timeout", required_argument, nullptr, 't'},
                          {"block-tov-ms", required_argument, nullptr, 'b'},
                          {"holdoff-us", required_argument, nullptr, 'h'},
                          {"busy-poll", no_argument, nullptr, 'p'},
                          {"so-busy-poll-us", required_argument, nullptr, 's'},
                          {nullptr, 0, nullptr, 0}};
  for (int c; (c = getopt_long(argc, argv, "", opts, nullptr)) != -1;) {
    switch (c) {
      case 'd': device = optarg; break;
      case 'v': version = std::atoi(optarg); break;
      case 'c': count = std::strtoull(optarg, nullptr, 10); break;
      case 't': timeout_s = std::atof(optarg); break;
      case 'b': block_tov_ms = unsigned(std::atoi(optarg)); break;
      case 'h': holdoff_us = unsigned(std::atoi(optarg)); break;
      case 'p': busy_poll = true; break;
      case 's': so_busy_poll_us = std::atoi(optarg); break;
      default: std::fputs(kUsage, stderr); return 2;
    }
  }
  if (!device || (version != 2 && version != 3) || (busy_poll && holdoff_us != 0)) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  int fd = socket(AF_PACKET, SOCK_RAW, 0);
  if (fd < 0) die("socket");
  int v = version == 2 ? TPACKET_V2 : TPACKET_V3;
  if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) != 0) die("PACKET_VERSION");
  // Same memory for both: 32 MiB in 128 KiB blocks of 2 KiB frames.
  const unsigned block_size = 128u << 10, block_nr = 256, frame_size = 2048;
  size_t map_len = size_t(block_size) * block_nr;
  if (version == 2) {
    tpacket_req req{block_size, block_nr, frame_size, block_size / frame_size * block_nr};
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) != 0) die("PACKET_RX_RING");
  } else {
    tpacket_req3 req{};
    req.tp_block_size = block_size;
    req.tp_block_nr = block_nr;
    req.tp_frame_size = frame_size;
    req.tp_frame_nr = block_size / frame_size * block_nr;
    req.tp_retire_blk_tov = block_tov_ms;
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) != 0) die("PACKET_RX_RING");
  }
  auto* map = static_cast<uint8_t*>(mmap(nullptr, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  if (map == MAP_FAILED) die("mmap");
  sock_filter code[] = {BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12), BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 3),
                        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 23), BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 1),
                        BPF_STMT(BPF_RET | BPF_K, 0xffffffff),  BPF_STMT(BPF_RET | BPF_K, 0)};
  sock_fprog prog{6, code};
  // SO_BUSY_POLL: poll() spins on the socket's NAPI instance first (with net.core.busy_poll set).
  if (so_busy_poll_us != 0) {
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &so_busy_poll_us, sizeof(so_busy_poll_us)) != 0) die("SO_BUSY_POLL");
    if (setsockopt(fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof(one)) != 0) die("SO_PREFER_BUSY_POLL");
  }
  if (holdoff_us != 0) prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) != 0) die("SO_ATTACH_FILTER");
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_IP);
  addr.sll_ifindex = int(if_nametoindex(device));
  if (addr.sll_ifindex == 0) die(device);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) die("bind");
  std::fprintf(stderr, "ring_probe: listening on %s (TPACKET_V%d)\n", device, version);

  Results r;
  r.latency_us.reserve(count);
  pollfd pfd{fd, POLLIN, 0};
  uint64_t idle_since = now_ns();
  unsigned frame_idx = 0, block_idx = 0;
  const unsigned frame_nr = block_size / frame_size * block_nr;
  while (r.frames < count) {
    bool got = false;
    if (version == 2) {
      auto* h = reinterpret_cast<tpacket2_hdr*>(map + size_t(frame_idx) * frame_size);
      if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) {
        account(r, reinterpret_cast<uint8_t*>(h) + h->tp_mac, h->tp_snaplen, h->tp_len, now_ns());
        __atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        frame_idx = (frame_idx + 1) % frame_nr;
        got = true;
      }
    } else {
      auto* b = reinterpret_cast<tpacket_block_desc*>(map + size_t(block_idx) * block_size);
      if (__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) {
        const uint64_t seen = now_ns();
        auto* h = reinterpret_cast<tpacket3_hdr*>(reinterpret_cast<uint8_t*>(b) + b->hdr.bh1.offset_to_first_pkt);
        for (uint32_t i = 0; i < b->hdr.bh1.num_pkts; ++i) {
          account(r, reinterpret_cast<uint8_t*>(h) + h->tp_mac, h->tp_snaplen, h->tp_len, seen);
          h = reinterpret_cast<tpacket3_hdr*>(reinterpret_cast<uint8_t*>(h) + h->tp_next_offset);
        }
        __atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        block_idx = (block_idx + 1) % block_nr;
        got = true;
      }
    }
    if (got) {
      idle_since = now_ns();
      continue;
    }
    if (double(now_ns() - idle_since) / 1e9 > timeout_s) break;
    if (busy_poll) continue;
    const uint64_t sleep_started = now_ns();
    if (poll(&pfd, 1, 100) > 0 && holdoff_us != 0 &&
        now_ns() - sleep_started <= uint64_t(mcr::Worker::kDenseSleepFactor) * holdoff_us * 1000) {
      const timespec holdoff{0, long(holdoff_us) * 1000};
      clock_nanosleep(CLOCK_MONOTONIC, 0, &holdoff, nullptr);
    }
  }
  tpacket_stats_v3 st{};
  socklen_t len = sizeof(st);
  getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len);
  std::sort(r.latency_us.begin(), r.latency_us.end());
  auto pct = [&](double p) -> double {
    if (r.latency_us.empty()) return -1;
    return r.latency_us[std::min(r.latency_us.size() - 1, size_t(p * double(r.latency_us.size())))];
  };
  const double secs = r.frames > 1 ? double(r.last_ns - r.first_ns) / 1e9 : 0;
  std::printf(
      "{\"version\":%d,\"frames\":%llu,\"kernel_drops\":%u,\"pps\":%.0f,\"latency_us\":{\"p50\":%.0f,\"p99\":%.0f,"
      "\"p999\":%.0f,\"max\":%.0f}}\n",
      version, (unsigned long long)r.frames, st.tp_drops, secs > 0 ? double(r.frames - 1) / secs : 0.0, pct(0.5),
      pct(0.99), pct(0.999), r.latency_us.empty() ? -1.0 : double(r.latency_us.back()));
  return 0;
}
