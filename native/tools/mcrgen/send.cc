// SPDX-License-Identifier: MIT
// mcrgen send (the default command): a paced UDP stream of numbered, checksummed payloads
// (payload.h), sent in sendmmsg batches, with a summary of what the kernel took.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common.h"
#include "payload.h"

namespace mcrgen {

const char kSendUsage[] =
    "Usage: mcrgen [send] --group G --port P --interface SRC_IP [options]\n"
    "Send a paced stream of numbered, checksummed UDP payloads (the format is in mcrgen's\n"
    "source, native/tools/mcrgen/payload.h).\n"
    "  --group G          destination IPv4 address, multicast or unicast\n"
    "  --port P           destination UDP port\n"
    "  --interface IP     source IPv4 address: the socket binds to it and multicast leaves\n"
    "                     through the interface that owns it\n"
    "  --rate PPS         packets per second (default 1000; 0 = as fast as possible)\n"
    "  --size BYTES       UDP payload size, 32..8972 (default 1400)\n"
    "  --count N          packets to send (default 0 = until SIGINT/SIGTERM)\n"
    "  --ttl T            IP TTL, multicast and unicast (default 16)\n"
    "  --stream ID        stream id written into every payload (default 0)\n"
    "  --batch N          packets per paced sendmmsg batch (default: rate/1000, 1..64)\n"
    "  --stamp-group N    packets per send timestamp and sendmmsg call (default: the whole\n"
    "                     batch, for the highest rate; a packet's timestamp is early by the time\n"
    "                     the packets before it in its group take to send, so use 1..4 when\n"
    "                     measuring latency)\n"
    "  --json             print the summary as one JSON line\n"
    "  --quiet            no progress or warning lines on stderr\n";

namespace {

namespace payload = mcr::payload;

constexpr size_t kMaxPayload = 8972;    // 9000-byte MTU minus IPv4 and UDP headers
constexpr size_t kMaxSendBatch = 1024;  // UIO_MAXIOV, the kernel's sendmmsg limit
constexpr int kSndBuf = 8 << 20;

struct SendOptions {
  in_addr group{};
  bool have_group = false;
  uint16_t port = 0;
  in_addr source{};
  bool have_source = false;
  uint64_t rate = 1000;
  size_t size = 1400;
  uint64_t count = 0;
  int ttl = 16;
  uint32_t stream = 0;
  size_t batch = 0;        // 0: derived from rate
  size_t stamp_group = 0;  // packets per timestamp and sendmmsg call; 0: the whole batch
  bool json = false;
  bool quiet = false;
};

SendOptions parse_send_options(int argc, char** argv) {
  enum {
    kGroup = 256,
    kPort,
    kInterface,
    kRate,
    kSize,
    kCount,
    kTtl,
    kStream,
    kBatch,
    kStampGroup,
    kJson,
    kQuiet,
    kHelp
  };
  static const option options[] = {
      {"group", required_argument, nullptr, kGroup},
      {"port", required_argument, nullptr, kPort},
      {"interface", required_argument, nullptr, kInterface},
      {"rate", required_argument, nullptr, kRate},
      {"size", required_argument, nullptr, kSize},
      {"count", required_argument, nullptr, kCount},
      {"ttl", required_argument, nullptr, kTtl},
      {"stream", required_argument, nullptr, kStream},
      {"batch", required_argument, nullptr, kBatch},
      {"stamp-group", required_argument, nullptr, kStampGroup},
      {"json", no_argument, nullptr, kJson},
      {"quiet", no_argument, nullptr, kQuiet},
      {"help", no_argument, nullptr, kHelp},
      {nullptr, 0, nullptr, 0},
  };
  SendOptions opts;
  bool have_port = false;
  parse_flags("send", argc, argv, options, [&](int c, const char* arg) {
    switch (c) {
      case kGroup:
        opts.group = parse_ipv4("--group", arg);
        opts.have_group = true;
        break;
      case kPort:
        opts.port = static_cast<uint16_t>(parse_uint("--port", arg, 1, 65535));
        have_port = true;
        break;
      case kInterface:
        if (in_addr a; inet_pton(AF_INET, arg, &a) != 1)
          usage_error(
              "--interface: expected the source IPv4 address (e.g. 10.0.1.1; the stream leaves through the interface "
              "that owns it), got \"%s\"",
              arg);
        opts.source = parse_ipv4("--interface", arg);
        opts.have_source = true;
        break;
      case kRate: opts.rate = parse_uint("--rate", arg, 0, 100000000); break;
      case kSize: opts.size = parse_uint("--size", arg, payload::kHeaderSize, kMaxPayload); break;
      case kCount: opts.count = parse_uint("--count", arg, 0, UINT64_MAX); break;
      case kTtl: opts.ttl = static_cast<int>(parse_uint("--ttl", arg, 0, 255)); break;
      case kStream: opts.stream = static_cast<uint32_t>(parse_uint("--stream", arg, 0, UINT32_MAX)); break;
      case kBatch: opts.batch = parse_uint("--batch", arg, 1, kMaxSendBatch); break;
      case kStampGroup: opts.stamp_group = parse_uint("--stamp-group", arg, 1, kMaxSendBatch); break;
      case kJson: opts.json = true; break;
      case kQuiet: opts.quiet = true; break;
      case 'h':
      case kHelp: fputs(kSendUsage, stdout); exit(0);
    }
  });
  if (!opts.have_group) usage_error("send: --group is required");
  if (!have_port) usage_error("send: --port is required");
  if (!opts.have_source) usage_error("send: --interface (the source IPv4 address) is required");
  return opts;
}

struct SendStats {
  uint64_t sent = 0;
  uint64_t send_errors = 0;
};

class Sender {
 public:
  Sender(int fd, const SendOptions& opts, size_t batch)
      : fd_(fd), opts_(opts), storage_(batch * opts.size), msgs_(batch), iov_(batch) {
    memset(&dest_, 0, sizeof dest_);
    dest_.sin_family = AF_INET;
    dest_.sin_addr = opts.group;
    dest_.sin_port = htons(opts.port);
    for (size_t i = 0; i < batch; ++i) {
      uint8_t* buf = storage_.data() + i * opts.size;
      payload::fill(buf, opts.size, opts.stream, 0, 0);
      iov_[i].iov_base = buf;
      iov_[i].iov_len = opts.size;
      memset(&msgs_[i], 0, sizeof msgs_[i]);
      // Unconnected on purpose: a connected UDP socket would turn ICMP port-unreachable
      // from a unicast receiver that is not up yet into send errors.
      msgs_[i].msg_hdr.msg_name = &dest_;
      msgs_[i].msg_hdr.msg_namelen = sizeof dest_;
      msgs_[i].msg_hdr.msg_iov = &iov_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
    }
  }

  // Sends packets first_seq .. first_seq+n-1 (n <= batch), stamping each small group just
  // before its sendmmsg.
  void send_batch(uint64_t first_seq, size_t n) {
    size_t per_call = opts_.stamp_group == 0 ? n : opts_.stamp_group;
    for (size_t start = 0; start < n && !g_stop; start += per_call) {
      size_t group = std::min(per_call, n - start);
      uint64_t send_ns = now_ns();
      for (size_t i = start; i < start + group; ++i) {
        payload::stamp(storage_.data() + i * opts_.size, opts_.size, first_seq + i, send_ns);
      }
      send_all(start, group);
    }
  }

  const SendStats& stats() const { return stats_; }

 private:
  // Retries until the kernel has taken every packet or refused it with a hard error.
  void send_all(size_t first, size_t n) {
    size_t done = 0;
    while (done < n && !g_stop) {
      int sent = sendmmsg(fd_, &msgs_[first + done], static_cast<unsigned>(n - done), 0);
      if (sent > 0) {
        done += sent;
        stats_.sent += sent;
        continue;
      }
      int err = sent < 0 ? errno : EAGAIN;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        pollfd pfd = {fd_, POLLOUT, 0};
        poll(&pfd, 1, 10);
        continue;
      }
      if (err == ENOBUFS) {
        // The qdisc or device queue is full and POLLOUT does not reflect that: back off briefly.
        sleep_until(now_ns() + 50000);
        continue;
      }
      // Hard error for the first remaining packet: it is skipped (its seq stays unused).
      ++stats_.send_errors;
      ++done;
      if (!opts_.quiet && err >= 0 && err < 256 && !reported_[err]) {
        reported_[err] = true;
        fprintf(stderr, "mcrgen: sendmmsg to %s:%u: %s (counted in send_errors from now on)\n",
                ipv4_text(opts_.group).c_str(), opts_.port, strerror(err));
      }
    }
  }

  int fd_;
  const SendOptions& opts_;
  sockaddr_in dest_;
  std::vector<uint8_t> storage_;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iov_;
  SendStats stats_;
  bool reported_[256] = {};
};

// Offset of packet seq from the start under a constant rate; 128-bit so it never overflows.
uint64_t schedule_offset_ns(uint64_t seq, uint64_t rate) {
  return static_cast<uint64_t>(static_cast<unsigned __int128>(seq) * kNsPerSec / rate);
}

}  // namespace

int run_send(int argc, char** argv) {
  SendOptions opts = parse_send_options(argc, argv);
  size_t batch = opts.batch;
  if (batch == 0) batch = opts.rate == 0 ? 64 : std::clamp<uint64_t>(opts.rate / 1000, 1, 64);

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die_errno("socket(AF_INET, SOCK_DGRAM)");
  sockaddr_in src;
  memset(&src, 0, sizeof src);
  src.sin_family = AF_INET;
  src.sin_addr = opts.source;
  if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
    die_errno("bind(%s)", ipv4_text(opts.source).c_str());
  }
  ip_mreqn mreq;
  memset(&mreq, 0, sizeof mreq);
  mreq.imr_address = opts.source;
  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof mreq) != 0) {
    die_errno("setsockopt(IP_MULTICAST_IF) to %s", ipv4_text(opts.source).c_str());
  }
  set_int_option(fd, IPPROTO_IP, IP_MULTICAST_TTL, opts.ttl, "IP_MULTICAST_TTL");
  if (opts.ttl > 0) set_int_option(fd, IPPROTO_IP, IP_TTL, opts.ttl, "IP_TTL");  // 0 invalid here
  set_int_option(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 0, "IP_MULTICAST_LOOP");
  set_buffer_size(fd, SO_SNDBUFFORCE, SO_SNDBUF, kSndBuf, "SO_SNDBUF");
  // The default 50 us timer slack would make every paced sleep overshoot.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

  if (!opts.quiet) {
    fprintf(stderr, "mcrgen: sending %zu-byte payloads to %s:%u from %s at %s%s, stream %u\n", opts.size,
            ipv4_text(opts.group).c_str(), opts.port, ipv4_text(opts.source).c_str(),
            opts.rate == 0 ? "max" : std::to_string(opts.rate).c_str(), opts.rate == 0 ? " rate" : " pps", opts.stream);
  }

  Sender sender(fd, opts, batch);
  uint64_t seq = 0;
  const uint64_t start = now_ns();
  while (!g_stop && (opts.count == 0 || seq < opts.count)) {
    size_t n = batch;
    if (opts.count != 0) n = std::min<uint64_t>(n, opts.count - seq);
    // Absolute deadlines: a late wake-up shortens the next wait, so the average stays exact.
    if (opts.rate != 0) {
      sleep_until(start + schedule_offset_ns(seq, opts.rate));
      if (g_stop) break;
    }
    sender.send_batch(seq, n);
    seq += n;
  }
  // The run spans count/rate seconds: wait out the last batch's slot so the averages match.
  if (opts.rate != 0 && !g_stop) sleep_until(start + schedule_offset_ns(seq, opts.rate));
  const uint64_t end = now_ns();
  close(fd);

  const SendStats& stats = sender.stats();
  double elapsed = static_cast<double>(end - start) / 1e9;
  double pps = elapsed > 0 ? static_cast<double>(stats.sent) / elapsed : 0;
  double gbps = pps * static_cast<double>(opts.size) * 8 / 1e9;
  if (opts.json) {
    printf(
        "{\"sent\":%llu,\"elapsed_s\":%.6f,\"pps\":%.1f,\"gbps\":%.6f,\"send_errors\":%llu,"
        "\"target_pps\":%llu,\"size\":%zu}\n",
        static_cast<unsigned long long>(stats.sent), elapsed, pps, gbps,
        static_cast<unsigned long long>(stats.send_errors), static_cast<unsigned long long>(opts.rate), opts.size);
  } else {
    printf("Total packets sent: %llu\n", static_cast<unsigned long long>(stats.sent));
    printf("Elapsed time: %.2fs\n", elapsed);
    if (opts.rate == 0) {
      printf("Actual packet rate: %.0f pps (target: unlimited)\n", pps);
    } else {
      printf("Actual packet rate: %.0f pps (target: %llu pps)\n", pps, static_cast<unsigned long long>(opts.rate));
    }
    printf("Actual throughput: %.2f Gbps\n", gbps);
    if (stats.send_errors != 0) {
      printf("Send errors: %llu\n", static_cast<unsigned long long>(stats.send_errors));
    }
  }
  return 0;
}

}  // namespace mcrgen
