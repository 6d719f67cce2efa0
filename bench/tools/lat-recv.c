// SPDX-License-Identifier: MIT
// Latency probe for the benchmark: receives mcrgen payloads (native/tools/mcrgen/payload.h) and
// reports one-way latency percentiles twice: "wire", from the kernel's receive timestamp
// (SO_TIMESTAMPNS, taken when the frame enters the sink's stack, so the probe's own scheduling
// and socket queue are excluded), and "app", from the time recvmmsg returned (which adds the
// probe's own 1 ms read interval, its scheduling and its socket queue). Sender and probe share
// the machine's clocks; CLOCK_REALTIME kernel stamps are moved to CLOCK_MONOTONIC with an offset
// sampled at start.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define BUFSZ 9216
#define MAGIC 0x4752434du

static uint64_t clock_ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t le(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static int cmp_i64(const void* a, const void* b) {
  int64_t x = *(const int64_t*)a, y = *(const int64_t*)b;
  return x < y ? -1 : x > y;
}

static void percentiles(const char* name, int64_t* v, size_t n, int last) {
  if (n == 0) {
    printf("\"%s\":{\"p50\":null,\"p90\":null,\"p99\":null,\"p999\":null,\"max\":null}%s", name, last ? "" : ",");
    return;
  }
  qsort(v, n, sizeof *v, cmp_i64);
  double q[4] = {0.5, 0.9, 0.99, 0.999};
  printf("\"%s\":{", name);
  const char* k[4] = {"p50", "p90", "p99", "p999"};
  for (int i = 0; i < 4; i++) {
    size_t idx = (size_t)(q[i] * (double)n);
    if (idx >= n) idx = n - 1;
    printf("\"%s\":%.1f,", k[i], (double)v[idx] / 1000.0);
  }
  printf("\"max\":%.1f}%s", (double)v[n - 1] / 1000.0, last ? "" : ",");
}

int main(int argc, char** argv) {
  const char *group = NULL, *ifname = NULL;
  unsigned port = 0;
  unsigned long long count = 0;
  double timeout = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--group"))
      group = argv[i + 1];
    else if (!strcmp(argv[i], "--port"))
      port = (unsigned)atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--interface"))
      ifname = argv[i + 1];
    else if (!strcmp(argv[i], "--count"))
      count = strtoull(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--timeout"))
      timeout = atof(argv[i + 1]);
  }
  if (!group || !ifname || !port || !count) {
    fprintf(stderr, "usage: lat-recv --group G --port P --interface IFNAME --count N [--timeout S]\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return perror("socket"), 1;
  int one = 1, buf = 32 << 20;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, group, &a.sin_addr);
  if (bind(fd, (struct sockaddr*)&a, sizeof a) != 0) return perror("bind"), 1;
  struct ip_mreqn m = {.imr_ifindex = (int)if_nametoindex(ifname)};
  inet_pton(AF_INET, group, &m.imr_multiaddr);
  if (IN_MULTICAST(ntohl(m.imr_multiaddr.s_addr)) && setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) != 0)
    return perror("IP_ADD_MEMBERSHIP"), 1;

  // offset between the two clocks, from the tightest of a few sandwiches
  int64_t offset = 0;
  uint64_t best = UINT64_MAX;
  for (int i = 0; i < 20; i++) {
    uint64_t m1 = clock_ns(CLOCK_MONOTONIC), r = clock_ns(CLOCK_REALTIME), m2 = clock_ns(CLOCK_MONOTONIC);
    if (m2 - m1 < best) {
      best = m2 - m1;
      offset = (int64_t)r - (int64_t)((m1 + m2) / 2);
    }
  }

  int64_t *wire = calloc(count, sizeof *wire), *app = calloc(count, sizeof *app);
  unsigned char* seen = calloc((count + 7) / 8, 1);
  static unsigned char bufs[BATCH][BUFSZ];
  static char ctrl[BATCH][256];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  size_t nw = 0, na = 0;
  unsigned long long received = 0, unique = 0, duplicates = 0, foreign = 0, no_stamp = 0;
  fprintf(stderr, "lat-recv: receiving %s:%u on %s\n", group, port, ifname);
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  while (unique < count) {
    int r = poll(&pfd, 1, (int)(timeout * 1000));
    if (r == 0) break;
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < BATCH; i++) {
      iov[i] = (struct iovec){bufs[i], BUFSZ};
      msgs[i] = (struct mmsghdr){
          .msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1, .msg_control = ctrl[i], .msg_controllen = sizeof ctrl[i]}};
    }
    int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) continue;
    uint64_t now = clock_ns(CLOCK_MONOTONIC);
    for (int i = 0; i < n; i++) {
      received++;
      const unsigned char* p = bufs[i];
      if (msgs[i].msg_len < 32 || le(p, 4) != MAGIC) {
        foreign++;
        continue;
      }
      uint64_t seq = le(p + 16, 8), send_ns = le(p + 24, 8);
      if (seq >= count) {
        foreign++;
        continue;
      }
      if (seen[seq / 8] & (1u << (seq % 8))) {
        duplicates++;
        continue;
      }
      seen[seq / 8] |= (unsigned char)(1u << (seq % 8));
      unique++;
      app[na++] = (int64_t)(now - send_ns);
      int stamped = 0;
      for (struct cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          struct timespec ts;
          memcpy(&ts, CMSG_DATA(c), sizeof ts);
          int64_t rx_mono = (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec - offset;
          wire[nw++] = rx_mono - (int64_t)send_ns;
          stamped = 1;
        }
      }
      if (!stamped) no_stamp++;
    }
    // Queue drained: read again in 1 ms rather than waking per datagram. The wire timestamps do
    // not depend on when we read, and sleeping keeps the probe from stealing the CPU it shares
    // with the generator (a per-packet wake-up throttled the generator to half its rate).
    if (n < BATCH) {
      struct timespec pause = {0, 1000000};
      nanosleep(&pause, NULL);
    }
  }
  printf("{\"received\":%llu,\"unique\":%llu,\"lost\":%llu,\"duplicates\":%llu,\"foreign\":%llu,\"no_stamp\":%llu,",
         received, unique, count - unique, duplicates, foreign, no_stamp);
  percentiles("wire_us", wire, nw, 0);
  percentiles("app_us", app, na, 1);
  printf("}\n");
  return 0;
}
