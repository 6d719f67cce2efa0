// SPDX-License-Identifier: MIT
// mcrgen recv: receives one stream and reports loss, duplicates, reordering, corruption and
// one-way latency (sender and receiver share CLOCK_MONOTONIC).
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common.h"
#include "payload.h"

namespace mcrgen {

const char kRecvUsage[] =
    "Usage: mcrgen recv --group G --port P [options]\n"
    "Receive a stream sent by mcrgen send and report loss, duplicates, reordering,\n"
    "corruption and one-way latency (sender and receiver share CLOCK_MONOTONIC).\n"
    "  --group G          IPv4 address to count: a multicast group (joined; datagrams to\n"
    "                     other destinations are 'foreign') or a unicast address\n"
    "  --port P           UDP port to bind (on 0.0.0.0)\n"
    "  --interface I      interface to join on: a name or an IPv4 address (default: any)\n"
    "  --count N          stop after N distinct packets; also the expected total for 'lost'\n"
    "  --timeout S        stop after S seconds without a packet (default 2; 0 = never)\n"
    "  --duration S       stop after S seconds in all\n"
    "  --stream ID        count only this stream id; others are 'foreign'\n"
    "  --json             print the report as one JSON line\n"
    "  --quiet            no 'receiving' line on stderr\n"
    "A line 'mcrgen: receiving ...' on stderr means the socket is bound and the group joined.\n";

namespace {

namespace payload = mcr::payload;

constexpr size_t kRecvBatch = 64;
constexpr size_t kRecvBufSize = 65536;  // any UDP datagram fits, so oversize input is seen whole
constexpr int kRcvBuf = 32 << 20;

struct RecvOptions {
  in_addr group{};
  bool have_group = false;
  uint16_t port = 0;
  const char* interface = nullptr;
  uint64_t count = 0;
  double timeout_s = 2;
  double duration_s = 0;  // 0: no limit
  uint32_t stream = 0;
  bool have_stream = false;
  bool json = false;
  bool quiet = false;
};

RecvOptions parse_recv_options(int argc, char** argv) {
  enum { kGroup = 256, kPort, kInterface, kCount, kTimeout, kDuration, kStream, kJson, kQuiet, kHelp };
  static const option options[] = {
      {"group", required_argument, nullptr, kGroup},
      {"port", required_argument, nullptr, kPort},
      {"interface", required_argument, nullptr, kInterface},
      {"count", required_argument, nullptr, kCount},
      {"timeout", required_argument, nullptr, kTimeout},
      {"duration", required_argument, nullptr, kDuration},
      {"stream", required_argument, nullptr, kStream},
      {"json", no_argument, nullptr, kJson},
      {"quiet", no_argument, nullptr, kQuiet},
      {"help", no_argument, nullptr, kHelp},
      {nullptr, 0, nullptr, 0},
  };
  RecvOptions opts;
  bool have_port = false;
  parse_flags("recv", argc, argv, options, [&](int c, const char* arg) {
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
        if (*arg == '\0' || strlen(arg) >= IFNAMSIZ) {
          usage_error("--interface: expected an interface name or IPv4 address, got \"%s\"", arg);
        }
        opts.interface = arg;
        break;
      case kCount: opts.count = parse_uint("--count", arg, 0, UINT64_MAX); break;
      case kTimeout: opts.timeout_s = parse_seconds("--timeout", arg); break;
      case kDuration:
        opts.duration_s = parse_seconds("--duration", arg);
        if (opts.duration_s == 0) usage_error("--duration: must be more than 0, got \"%s\"", arg);
        break;
      case kStream:
        opts.stream = static_cast<uint32_t>(parse_uint("--stream", arg, 0, UINT32_MAX));
        opts.have_stream = true;
        break;
      case kJson: opts.json = true; break;
      case kQuiet: opts.quiet = true; break;
      case 'h':
      case kHelp: fputs(kRecvUsage, stdout); exit(0);
    }
  });
  if (!opts.have_group) usage_error("recv: --group is required");
  if (!have_port) usage_error("recv: --port is required");
  return opts;
}

// Set of seen sequence numbers: bitmap chunks of 64 Ki seqs created on demand, so a stray
// huge seq costs one 8 KiB chunk rather than a bitmap up to it.
class SeqSet {
 public:
  // Returns whether seq was already present, and marks it present.
  bool test_and_set(uint64_t seq) {
    uint64_t key = seq >> kChunkBits;
    if (key != cached_key_ || cached_ == nullptr) {
      std::vector<uint64_t>& chunk = chunks_[key];
      if (chunk.empty()) chunk.resize(kWordsPerChunk);
      cached_key_ = key;
      cached_ = chunk.data();
    }
    uint64_t bit = seq & ((uint64_t{1} << kChunkBits) - 1);
    uint64_t mask = uint64_t{1} << (bit & 63);
    uint64_t& word = cached_[bit >> 6];
    bool seen = (word & mask) != 0;
    word |= mask;
    return seen;
  }

 private:
  static constexpr unsigned kChunkBits = 16;
  static constexpr size_t kWordsPerChunk = (size_t{1} << kChunkBits) / 64;
  std::unordered_map<uint64_t, std::vector<uint64_t>> chunks_;  // nodes: data() stays valid
  uint64_t cached_key_ = 0;
  uint64_t* cached_ = nullptr;
};

// Latency histogram: 1 us buckets up to 100 ms, then one overflow bucket.
class LatencyHistogram {
 public:
  LatencyHistogram() : buckets_(kBuckets + 1, 0) {}

  void add(uint64_t ns) {
    uint64_t us = ns / 1000;
    ++buckets_[us < kBuckets ? us : kBuckets];
    ++total_;
    max_ns_ = std::max(max_ns_, ns);
  }

  uint64_t total() const { return total_; }
  double max_us() const { return static_cast<double>(max_ns_) / 1000; }

  // Upper edge of the bucket holding the q-quantile, capped at the exact maximum.
  double quantile_us(double q) const {
    uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total_)));
    rank = std::clamp<uint64_t>(rank, 1, total_);
    uint64_t seen = 0;
    for (size_t b = 0; b < kBuckets; ++b) {
      seen += buckets_[b];
      if (seen >= rank) return std::min(static_cast<double>(b + 1), max_us());
    }
    return max_us();
  }

 private:
  static constexpr size_t kBuckets = 100000;
  std::vector<uint64_t> buckets_;
  uint64_t total_ = 0;
  uint64_t max_ns_ = 0;
};

struct RecvStats {
  uint64_t received = 0;
  uint64_t unique = 0;
  uint64_t duplicates = 0;
  uint64_t reordered = 0;
  uint64_t corrupted = 0;
  uint64_t corrupted_by_reason[5] = {};  // indexed by payload::Verdict
  uint64_t foreign = 0;
  uint64_t bytes = 0;
  bool have_seq = false;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint64_t max_seq = 0;
  uint64_t first_ns = 0;
  uint64_t last_ns = 0;
  SeqSet seen;
  LatencyHistogram latency;
};

class Receiver {
 public:
  explicit Receiver(const RecvOptions& opts)
      : opts_(opts),
        group_multicast_(is_multicast(opts.group)),
        buffers_(kRecvBatch * kRecvBufSize),
        control_(kRecvBatch * kControlSize),
        msgs_(kRecvBatch),
        iov_(kRecvBatch) {
    for (size_t i = 0; i < kRecvBatch; ++i) {
      iov_[i].iov_base = buffers_.data() + i * kRecvBufSize;
      iov_[i].iov_len = kRecvBufSize;
    }
  }

  // Receives whatever is queued, up to kRecvBatch datagrams. Returns the number read, 0 when
  // nothing was queued.
  size_t receive_batch(int fd) {
    for (size_t i = 0; i < kRecvBatch; ++i) {
      memset(&msgs_[i], 0, sizeof msgs_[i]);
      msgs_[i].msg_hdr.msg_iov = &iov_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
      msgs_[i].msg_hdr.msg_control = control_.data() + i * kControlSize;
      msgs_[i].msg_hdr.msg_controllen = kControlSize;
    }
    int n = recvmmsg(fd, msgs_.data(), kRecvBatch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
      die_errno("recvmmsg");
    }
    const uint64_t arrival_ns = now_ns();
    bool counted_any = false;
    for (int i = 0; i < n; ++i) counted_any |= account(msgs_[i], arrival_ns);
    if (counted_any) last_activity_ns_ = arrival_ns;
    return n;
  }

  RecvStats& stats() { return stats_; }
  uint64_t last_activity_ns() const { return last_activity_ns_; }
  void set_last_activity_ns(uint64_t ns) { last_activity_ns_ = ns; }

 private:
  static constexpr size_t kControlSize = CMSG_SPACE(sizeof(in_pktinfo));

  static bool destination_of(msghdr& hdr, in_addr* dst) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&hdr); c != nullptr; c = CMSG_NXTHDR(&hdr, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info;
        memcpy(&info, CMSG_DATA(c), sizeof info);
        *dst = info.ipi_addr;  // the IP header's destination, not the local address
        return true;
      }
    }
    return false;
  }

  // Counts one datagram; returns whether it belonged to the stream.
  bool account(mmsghdr& msg, uint64_t arrival_ns) {
    const uint8_t* data = static_cast<const uint8_t*>(msg.msg_hdr.msg_iov->iov_base);
    size_t len = msg.msg_len;
    in_addr dst;
    if (group_multicast_ && (!destination_of(msg.msg_hdr, &dst) || dst.s_addr != opts_.group.s_addr)) {
      ++stats_.foreign;
      return false;
    }
    payload::Header hdr;
    payload::Verdict verdict = payload::verify(data, len, &hdr);
    if (verdict == payload::Verdict::ok && opts_.have_stream && hdr.stream_id != opts_.stream) {
      ++stats_.foreign;
      return false;
    }
    // A corrupted payload's stream id cannot be trusted, so it counts against this stream.
    RecvStats& s = stats_;
    ++s.received;
    s.bytes += len;
    if (verdict != payload::Verdict::ok) {
      ++s.corrupted;
      ++s.corrupted_by_reason[static_cast<int>(verdict)];
      return true;
    }
    if (s.seen.test_and_set(hdr.seq)) {
      ++s.duplicates;
    } else {
      ++s.unique;
      if (s.have_seq && hdr.seq < s.max_seq) ++s.reordered;
    }
    if (!s.have_seq) {
      s.have_seq = true;
      s.first_seq = hdr.seq;
      s.max_seq = hdr.seq;
      s.first_ns = arrival_ns;
    }
    s.max_seq = std::max(s.max_seq, hdr.seq);
    s.last_seq = hdr.seq;
    s.last_ns = arrival_ns;
    // Clocks are shared, so a send time in the future only happens across machines: count 0.
    s.latency.add(arrival_ns > hdr.send_ns ? arrival_ns - hdr.send_ns : 0);
    return true;
  }

  const RecvOptions& opts_;
  bool group_multicast_;
  std::vector<uint8_t> buffers_;
  std::vector<uint8_t> control_;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iov_;
  RecvStats stats_;
  uint64_t last_activity_ns_ = 0;
};

int open_recv_socket(const RecvOptions& opts, std::string* joined_on) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die_errno("socket(AF_INET, SOCK_DGRAM)");
  set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
  set_buffer_size(fd, SO_RCVBUFFORCE, SO_RCVBUF, kRcvBuf, "SO_RCVBUF");
  set_int_option(fd, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO");
  sockaddr_in local;
  memset(&local, 0, sizeof local);
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_ANY);
  local.sin_port = htons(opts.port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    die_errno("bind(0.0.0.0:%u)", opts.port);
  }
  if (!is_multicast(opts.group)) return fd;

  ip_mreqn mreq;
  memset(&mreq, 0, sizeof mreq);
  mreq.imr_multiaddr = opts.group;
  *joined_on = "the default interface";
  if (opts.interface != nullptr) {
    *joined_on = opts.interface;
    if (inet_pton(AF_INET, opts.interface, &mreq.imr_address) != 1) {
      unsigned index = if_nametoindex(opts.interface);
      if (index == 0) die_errno("--interface: if_nametoindex(%s)", opts.interface);
      mreq.imr_ifindex = static_cast<int>(index);
    }
  }
  if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) != 0) {
    die_errno("setsockopt(IP_ADD_MEMBERSHIP) %s on %s", ipv4_text(opts.group).c_str(), joined_on->c_str());
  }
  return fd;
}

std::string json_number_or_null(bool present, double value, const char* format) {
  if (!present) return "null";
  char text[64];
  snprintf(text, sizeof text, format, value);
  return text;
}

std::string u64_or_null(bool present, uint64_t value) { return present ? std::to_string(value) : "null"; }

void print_recv_report(const RecvOptions& opts, RecvStats& s, double elapsed) {
  uint64_t expected = opts.count != 0 ? opts.count : (s.have_seq ? s.max_seq + 1 : 0);
  uint64_t lost = expected > s.unique ? expected - s.unique : 0;
  double span = static_cast<double>(s.last_ns - s.first_ns) / 1e9;
  double rate = span > 0 ? static_cast<double>(s.unique) / span : 0;
  const LatencyHistogram& lat = s.latency;
  bool have_lat = lat.total() != 0;
  using payload::Verdict;
  auto reason = [&](Verdict v) { return static_cast<unsigned long long>(s.corrupted_by_reason[static_cast<int>(v)]); };
  std::string p50 = json_number_or_null(have_lat, have_lat ? lat.quantile_us(0.50) : 0, "%.3f");
  std::string p90 = json_number_or_null(have_lat, have_lat ? lat.quantile_us(0.90) : 0, "%.3f");
  std::string p99 = json_number_or_null(have_lat, have_lat ? lat.quantile_us(0.99) : 0, "%.3f");
  std::string p999 = json_number_or_null(have_lat, have_lat ? lat.quantile_us(0.999) : 0, "%.3f");
  std::string max = json_number_or_null(have_lat, lat.max_us(), "%.3f");
  std::string first_seq = u64_or_null(s.have_seq, s.first_seq);
  std::string last_seq = u64_or_null(s.have_seq, s.last_seq);
  std::string max_seq = u64_or_null(s.have_seq, s.max_seq);
  auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };

  if (opts.json) {
    printf(
        "{\"received\":%llu,\"unique\":%llu,\"lost\":%llu,\"duplicates\":%llu,"
        "\"reordered\":%llu,\"corrupted\":%llu,\"corrupted_by_reason\":{\"too_short\":%llu,"
        "\"bad_magic\":%llu,\"bad_checksum\":%llu,\"bad_fill\":%llu},\"foreign\":%llu,"
        "\"bytes\":%llu,\"first_seq\":%s,\"last_seq\":%s,\"max_seq\":%s,\"rate_pps\":%.1f,"
        "\"latency_us\":{\"p50\":%s,\"p90\":%s,\"p99\":%s,\"p999\":%s,\"max\":%s},"
        "\"elapsed_s\":%.6f}\n",
        u(s.received), u(s.unique), u(lost), u(s.duplicates), u(s.reordered), u(s.corrupted),
        reason(Verdict::too_short), reason(Verdict::bad_magic), reason(Verdict::bad_checksum),
        reason(Verdict::bad_fill), u(s.foreign), u(s.bytes), first_seq.c_str(), last_seq.c_str(), max_seq.c_str(), rate,
        p50.c_str(), p90.c_str(), p99.c_str(), p999.c_str(), max.c_str(), elapsed);
    return;
  }
  auto dash = [](const std::string& v) { return v == "null" ? std::string("-") : v; };
  printf("received      %llu\n", u(s.received));
  printf("unique        %llu\n", u(s.unique));
  printf("lost          %llu\n", u(lost));
  printf("duplicates    %llu\n", u(s.duplicates));
  printf("reordered     %llu\n", u(s.reordered));
  printf("corrupted     %llu (too_short %llu, bad_magic %llu, bad_checksum %llu, bad_fill %llu)\n", u(s.corrupted),
         reason(Verdict::too_short), reason(Verdict::bad_magic), reason(Verdict::bad_checksum),
         reason(Verdict::bad_fill));
  printf("foreign       %llu\n", u(s.foreign));
  printf("bytes         %llu\n", u(s.bytes));
  printf("seq           first %s, last %s, max %s\n", dash(first_seq).c_str(), dash(last_seq).c_str(),
         dash(max_seq).c_str());
  printf("rate          %.1f pps\n", rate);
  printf("latency (us)  p50 %s, p90 %s, p99 %s, p99.9 %s, max %s\n", dash(p50).c_str(), dash(p90).c_str(),
         dash(p99).c_str(), dash(p999).c_str(), dash(max).c_str());
  printf("elapsed       %.3f s\n", elapsed);
}

}  // namespace

int run_recv(int argc, char** argv) {
  RecvOptions opts = parse_recv_options(argc, argv);
  std::string joined_on;
  int fd = open_recv_socket(opts, &joined_on);

  // Stop signals stay blocked except inside ppoll, so one arriving between the g_stop check
  // and the wait still ends the wait.
  sigset_t stop_signals, wait_mask;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop_signals, &wait_mask);
  sigdelset(&wait_mask, SIGINT);
  sigdelset(&wait_mask, SIGTERM);

  if (!opts.quiet) {
    if (is_multicast(opts.group)) {
      fprintf(stderr, "mcrgen: receiving on 0.0.0.0:%u, joined %s on %s\n", opts.port, ipv4_text(opts.group).c_str(),
              joined_on.c_str());
    } else {
      fprintf(stderr, "mcrgen: receiving on 0.0.0.0:%u (unicast %s)\n", opts.port, ipv4_text(opts.group).c_str());
    }
  }

  Receiver receiver(opts);
  const uint64_t timeout_ns = static_cast<uint64_t>(opts.timeout_s * 1e9);
  const uint64_t duration_ns = static_cast<uint64_t>(opts.duration_s * 1e9);
  const uint64_t start = now_ns();
  receiver.set_last_activity_ns(start);
  auto count_reached = [&] { return opts.count != 0 && receiver.stats().unique >= opts.count; };

  while (!g_stop && !count_reached()) {
    uint64_t deadline = UINT64_MAX;
    if (timeout_ns != 0) deadline = receiver.last_activity_ns() + timeout_ns;
    if (duration_ns != 0) deadline = std::min(deadline, start + duration_ns);
    uint64_t now = now_ns();
    if (now >= deadline) break;
    timespec wait = to_timespec(deadline == UINT64_MAX ? kNsPerSec : deadline - now);
    pollfd pfd = {fd, POLLIN, 0};
    int ready = ppoll(&pfd, 1, &wait, &wait_mask);
    if (ready < 0) {
      if (errno == EINTR) continue;
      die_errno("ppoll");
    }
    if (ready == 0) continue;
    // Drain what is queued before waiting again.
    while (!g_stop && !count_reached() && receiver.receive_batch(fd) == kRecvBatch) {
      if (duration_ns != 0 && now_ns() >= start + duration_ns) break;
    }
  }
  const uint64_t end = now_ns();
  close(fd);
  print_recv_report(opts, receiver.stats(), static_cast<double>(end - start) / 1e9);
  return 0;
}

}  // namespace mcrgen
