// SPDX-License-Identifier: MIT
// mcrgen: traffic tool for testing mcr.
//   send (default)  paced UDP stream of numbered, checksummed payloads (mcr/payload.h)
//   recv            receive one stream; report loss, duplicates, reordering, corruption, latency
//   inject          write raw Ethernet frames, given as hex lines, onto a device (malformed input)

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
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

#include "mcr/payload.h"

namespace {

namespace payload = mcr::payload;

constexpr size_t kMaxPayload = 8972;     // 9000-byte MTU minus IPv4 and UDP headers
constexpr size_t kMaxFrame = 9018;       // 9000-byte MTU plus Ethernet header and one VLAN tag
constexpr size_t kMinFrame = ETH_HLEN;   // AF_PACKET SOCK_RAW rejects anything shorter
constexpr size_t kRecvBatch = 64;
constexpr size_t kRecvBufSize = 65536;   // any UDP datagram fits, so oversize input is seen whole
constexpr size_t kMaxSendBatch = 1024;   // UIO_MAXIOV, the kernel's sendmmsg limit
constexpr int kSndBuf = 8 << 20;
constexpr int kRcvBuf = 32 << 20;
constexpr uint64_t kNsPerSec = 1000000000;

volatile sig_atomic_t g_stop = 0;

void on_stop_signal(int) { g_stop = 1; }

[[noreturn]] void usage_error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void usage_error(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("mcrgen: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(2);
}

// Runtime failure of a system call: the message names the call, strerror(errno) follows.
[[noreturn]] void die_errno(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void die_errno(const char* fmt, ...) {
  int err = errno;
  va_list ap;
  va_start(ap, fmt);
  fputs("mcrgen: ", stderr);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, ": %s\n", strerror(err));
  va_end(ap);
  exit(1);
}

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * kNsPerSec + static_cast<uint64_t>(ts.tv_nsec);
}

timespec to_timespec(uint64_t ns) {
  timespec ts;
  ts.tv_sec = static_cast<time_t>(ns / kNsPerSec);
  ts.tv_nsec = static_cast<long>(ns % kNsPerSec);
  return ts;
}

// Sleeps until an absolute CLOCK_MONOTONIC time, or until a stop signal arrives.
void sleep_until(uint64_t deadline_ns) {
  timespec ts = to_timespec(deadline_ns);
  while (!g_stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

void install_stop_handlers() {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls must return so the loops see g_stop
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

std::string ipv4_text(in_addr addr) {
  char text[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &addr, text, sizeof text);
  return text;
}

bool is_multicast(in_addr addr) { return IN_MULTICAST(ntohl(addr.s_addr)); }

// ---- flag parsing -------------------------------------------------------------------------

in_addr parse_ipv4(const char* flag, const char* text) {
  in_addr addr;
  if (inet_pton(AF_INET, text, &addr) != 1) {
    usage_error("%s: expected an IPv4 address, got \"%s\"", flag, text);
  }
  return addr;
}

uint64_t parse_uint(const char* flag, const char* text, uint64_t min, uint64_t max) {
  bool digits_only = *text != '\0';
  for (const char* p = text; *p != '\0'; ++p) digits_only &= *p >= '0' && *p <= '9';
  errno = 0;
  unsigned long long value = digits_only ? strtoull(text, nullptr, 10) : 0;
  if (!digits_only || errno == ERANGE || value < min || value > max) {
    usage_error("%s: expected an integer from %llu to %llu, got \"%s\"", flag,
                static_cast<unsigned long long>(min), static_cast<unsigned long long>(max), text);
  }
  return value;
}

double parse_seconds(const char* flag, const char* text) {
  char* end = nullptr;
  errno = 0;
  double value = strtod(text, &end);
  if (end == text || *end != '\0' || errno == ERANGE || !std::isfinite(value) || value < 0 ||
      value > 1e9) {
    usage_error("%s: expected a number of seconds, got \"%s\"", flag, text);
  }
  return value;
}

// Runs getopt_long over argv and hands each recognised option to on_option. Unknown flags,
// missing values and stray arguments become usage errors naming the offending word.
template <typename OnOption>
void parse_flags(const char* command, int argc, char** argv, const option* options,
                 OnOption on_option) {
  optind = 1;
  opterr = 0;
  for (;;) {
    int index = -1;
    int c = getopt_long(argc, argv, ":h", options, &index);
    if (c == -1) break;
    if (c == '?') {
      if (optopt != 0) usage_error("%s: unknown option -%c", command, optopt);
      std::string word = argv[optind - 1];
      word = word.substr(0, word.find('='));
      usage_error("%s: unknown option %s", command, word.c_str());
    }
    if (c == ':') usage_error("%s: %s needs a value", command, argv[optind - 1]);
    on_option(c, optarg);
  }
  if (optind < argc) usage_error("%s: unexpected argument \"%s\"", command, argv[optind]);
}

// ---- help ---------------------------------------------------------------------------------

constexpr const char* kSendUsage =
    "Usage: mcrgen [send] --group G --port P --interface SRC_IP [options]\n"
    "Send a paced stream of numbered, checksummed UDP payloads (see mcr/payload.h).\n"
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

constexpr const char* kRecvUsage =
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

constexpr const char* kInjectUsage =
    "Usage: mcrgen inject --device IFNAME [--file F] [--repeat N] [--json] [--quiet]\n"
    "Send raw Ethernet frames through an AF_PACKET socket bound to IFNAME. Frames are hex,\n"
    "one per line (whitespace ignored; blank lines and lines starting with # skipped),\n"
    "14..9018 bytes, read from F or stdin. Each frame is sent N times (default 1).\n";

constexpr const char* kMainUsage =
    "Usage: mcrgen [send] --group G --port P --interface SRC_IP [options]\n"
    "       mcrgen recv --group G --port P [options]\n"
    "       mcrgen inject --device IFNAME [--file F] [--repeat N]\n"
    "Traffic tool for testing mcr. 'mcrgen COMMAND --help' shows a command's options.\n"
    "\n";

// ---- send ---------------------------------------------------------------------------------

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
  size_t batch = 0;  // 0: derived from rate
  size_t stamp_group = 0;  // packets per timestamp and sendmmsg call; 0: the whole batch
  bool json = false;
  bool quiet = false;
};

SendOptions parse_send_options(int argc, char** argv) {
  enum { kGroup = 256, kPort, kInterface, kRate, kSize, kCount, kTtl, kStream, kBatch, kStampGroup, kJson,
         kQuiet, kHelp };
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
      case kGroup: opts.group = parse_ipv4("--group", arg); opts.have_group = true; break;
      case kPort: opts.port = static_cast<uint16_t>(parse_uint("--port", arg, 1, 65535)); have_port = true; break;
      case kInterface:
        if (in_addr a; inet_pton(AF_INET, arg, &a) != 1)
          usage_error("--interface: expected the source IPv4 address (e.g. 10.0.1.1; the stream leaves through the interface that owns it), got \"%s\"", arg);
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

void set_int_option(int fd, int level, int name, int value, const char* what) {
  if (setsockopt(fd, level, name, &value, sizeof value) != 0) die_errno("setsockopt(%s)", what);
}

// Big socket buffers absorb scheduling hiccups; FORCE ignores rmem_max/wmem_max but needs
// CAP_NET_ADMIN, so fall back to the capped option.
void set_buffer_size(int fd, int force_name, int name, int bytes, const char* what) {
  if (setsockopt(fd, SOL_SOCKET, force_name, &bytes, sizeof bytes) == 0) return;
  set_int_option(fd, SOL_SOCKET, name, bytes, what);
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
    fprintf(stderr, "mcrgen: sending %zu-byte payloads to %s:%u from %s at %s%s, stream %u\n",
            opts.size, ipv4_text(opts.group).c_str(), opts.port, ipv4_text(opts.source).c_str(),
            opts.rate == 0 ? "max" : std::to_string(opts.rate).c_str(),
            opts.rate == 0 ? " rate" : " pps", opts.stream);
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
    printf("{\"sent\":%llu,\"elapsed_s\":%.6f,\"pps\":%.1f,\"gbps\":%.6f,\"send_errors\":%llu,"
           "\"target_pps\":%llu,\"size\":%zu}\n",
           static_cast<unsigned long long>(stats.sent), elapsed, pps, gbps,
           static_cast<unsigned long long>(stats.send_errors),
           static_cast<unsigned long long>(opts.rate), opts.size);
  } else {
    printf("Total packets sent: %llu\n", static_cast<unsigned long long>(stats.sent));
    printf("Elapsed time: %.2fs\n", elapsed);
    if (opts.rate == 0) {
      printf("Actual packet rate: %.0f pps (target: unlimited)\n", pps);
    } else {
      printf("Actual packet rate: %.0f pps (target: %llu pps)\n", pps,
             static_cast<unsigned long long>(opts.rate));
    }
    printf("Actual throughput: %.2f Gbps\n", gbps);
    if (stats.send_errors != 0) {
      printf("Send errors: %llu\n", static_cast<unsigned long long>(stats.send_errors));
    }
  }
  return 0;
}

// ---- recv ---------------------------------------------------------------------------------

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
  enum { kGroup = 256, kPort, kInterface, kCount, kTimeout, kDuration, kStream, kJson, kQuiet,
         kHelp };
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
      case kGroup: opts.group = parse_ipv4("--group", arg); opts.have_group = true; break;
      case kPort: opts.port = static_cast<uint16_t>(parse_uint("--port", arg, 1, 65535)); have_port = true; break;
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
    if (group_multicast_ &&
        (!destination_of(msg.msg_hdr, &dst) || dst.s_addr != opts_.group.s_addr)) {
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
    die_errno("setsockopt(IP_ADD_MEMBERSHIP) %s on %s", ipv4_text(opts.group).c_str(),
              joined_on->c_str());
  }
  return fd;
}

std::string json_number_or_null(bool present, double value, const char* format) {
  if (!present) return "null";
  char text[64];
  snprintf(text, sizeof text, format, value);
  return text;
}

std::string u64_or_null(bool present, uint64_t value) {
  return present ? std::to_string(value) : "null";
}

void print_recv_report(const RecvOptions& opts, RecvStats& s, double elapsed) {
  uint64_t expected = opts.count != 0 ? opts.count : (s.have_seq ? s.max_seq + 1 : 0);
  uint64_t lost = expected > s.unique ? expected - s.unique : 0;
  double span = static_cast<double>(s.last_ns - s.first_ns) / 1e9;
  double rate = span > 0 ? static_cast<double>(s.unique) / span : 0;
  const LatencyHistogram& lat = s.latency;
  bool have_lat = lat.total() != 0;
  using payload::Verdict;
  auto reason = [&](Verdict v) {
    return static_cast<unsigned long long>(s.corrupted_by_reason[static_cast<int>(v)]);
  };
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
    printf("{\"received\":%llu,\"unique\":%llu,\"lost\":%llu,\"duplicates\":%llu,"
           "\"reordered\":%llu,\"corrupted\":%llu,\"corrupted_by_reason\":{\"too_short\":%llu,"
           "\"bad_magic\":%llu,\"bad_checksum\":%llu,\"bad_fill\":%llu},\"foreign\":%llu,"
           "\"bytes\":%llu,\"first_seq\":%s,\"last_seq\":%s,\"max_seq\":%s,\"rate_pps\":%.1f,"
           "\"latency_us\":{\"p50\":%s,\"p90\":%s,\"p99\":%s,\"p999\":%s,\"max\":%s},"
           "\"elapsed_s\":%.6f}\n",
           u(s.received), u(s.unique), u(lost), u(s.duplicates), u(s.reordered), u(s.corrupted),
           reason(Verdict::too_short), reason(Verdict::bad_magic), reason(Verdict::bad_checksum),
           reason(Verdict::bad_fill), u(s.foreign), u(s.bytes), first_seq.c_str(),
           last_seq.c_str(), max_seq.c_str(), rate, p50.c_str(), p90.c_str(), p99.c_str(),
           p999.c_str(), max.c_str(), elapsed);
    return;
  }
  auto dash = [](const std::string& v) { return v == "null" ? std::string("-") : v; };
  printf("received      %llu\n", u(s.received));
  printf("unique        %llu\n", u(s.unique));
  printf("lost          %llu\n", u(lost));
  printf("duplicates    %llu\n", u(s.duplicates));
  printf("reordered     %llu\n", u(s.reordered));
  printf("corrupted     %llu (too_short %llu, bad_magic %llu, bad_checksum %llu, bad_fill %llu)\n",
         u(s.corrupted), reason(Verdict::too_short), reason(Verdict::bad_magic),
         reason(Verdict::bad_checksum), reason(Verdict::bad_fill));
  printf("foreign       %llu\n", u(s.foreign));
  printf("bytes         %llu\n", u(s.bytes));
  printf("seq           first %s, last %s, max %s\n", dash(first_seq).c_str(),
         dash(last_seq).c_str(), dash(max_seq).c_str());
  printf("rate          %.1f pps\n", rate);
  printf("latency (us)  p50 %s, p90 %s, p99 %s, p99.9 %s, max %s\n", dash(p50).c_str(),
         dash(p90).c_str(), dash(p99).c_str(), dash(p999).c_str(), dash(max).c_str());
  printf("elapsed       %.3f s\n", elapsed);
}

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
      fprintf(stderr, "mcrgen: receiving on 0.0.0.0:%u, joined %s on %s\n", opts.port,
              ipv4_text(opts.group).c_str(), joined_on.c_str());
    } else {
      fprintf(stderr, "mcrgen: receiving on 0.0.0.0:%u (unicast %s)\n", opts.port,
              ipv4_text(opts.group).c_str());
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

// ---- inject -------------------------------------------------------------------------------

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
      usage_error("inject: %s line %zu: frame is %zu bytes, expected %zu..%zu", source, line_no,
                  frame.size(), kMinFrame, kMaxFrame);
    }
    frames.push_back(std::move(frame));
  }
  if (ferror(in)) die_errno("read(%s)", source);
  free(line);
  if (in != stdin) fclose(in);
  if (frames.empty()) usage_error("inject: no frames in %s", source);
  return frames;
}

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
      ssize_t sent = sendto(fd, frame.data(), frame.size(), 0,
                            reinterpret_cast<sockaddr*>(&addr), sizeof addr);
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

}  // namespace

int main(int argc, char** argv) {
  install_stop_handlers();
  if (argc >= 2) {
    const char* command = argv[1];
    if (strcmp(command, "send") == 0) return run_send(argc - 1, argv + 1);
    if (strcmp(command, "recv") == 0) return run_recv(argc - 1, argv + 1);
    if (strcmp(command, "inject") == 0) return run_inject(argc - 1, argv + 1);
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 ||
        strcmp(command, "help") == 0) {
      fputs(kMainUsage, stdout);
      fputs(kSendUsage, stdout);
      fputs("\n", stdout);
      fputs(kRecvUsage, stdout);
      fputs("\n", stdout);
      fputs(kInjectUsage, stdout);
      return 0;
    }
    if (command[0] != '-') {
      usage_error("unknown command \"%s\" (expected send, recv or inject)", command);
    }
  }
  return run_send(argc, argv);  // send is the default: the historical form has flags only
}
