// SPDX-License-Identifier: MIT
// The userspace floor for the benchmark: the simplest multicast relay one can write in C.
// One UDP socket joined to the input group(s), recvmmsg a batch of up to 64 datagrams, sendmmsg
// each to every output through a second socket (IP_MULTICAST_IF, TTL 16). No parsing, no rules.
// Counters are printed as one JSON line on SIGINT/SIGTERM.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BATCH 64
#define MAX_OUTPUTS 256
#define MAX_PAYLOAD 9000
#define SEND_CHUNK 1024 /* UIO_MAXIOV: most messages one sendmmsg takes */

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static void die(const char* what) {
  fprintf(stderr, "c-relay: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void usage(void) {
  fprintf(stderr,
          "usage: c-relay --in-addr IP --group G [--streams N] [--port P] --out-addr IP\n"
          "               --out-group G [--fanout N] [--out-port P] [--ttl T] [--rcvbuf BYTES]\n"
          "  --streams N   join N consecutive groups starting at --group (all share the outputs)\n"
          "  --fanout N    send every datagram to N consecutive groups starting at --out-group\n");
  exit(2);
}

static struct in_addr addr_arg(const char* s) {
  struct in_addr a;
  if (inet_pton(AF_INET, s, &a) != 1) usage();
  return a;
}

static struct in_addr addr_plus(struct in_addr base, unsigned k) {
  struct in_addr a = {htonl(ntohl(base.s_addr) + k)};
  return a;
}

int main(int argc, char** argv) {
  struct in_addr in_addr = {0}, group = {0}, out_addr = {0}, out_group = {0};
  unsigned streams = 1, fanout = 1, port = 5001, out_port = 5002, ttl = 16;
  int rcvbuf = 8 << 20;
  for (int i = 1; i < argc; i++) {
    const char* o = argv[i];
    if (i + 1 >= argc) usage();
    const char* v = argv[++i];
    if (!strcmp(o, "--in-addr"))
      in_addr = addr_arg(v);
    else if (!strcmp(o, "--group"))
      group = addr_arg(v);
    else if (!strcmp(o, "--streams"))
      streams = (unsigned)atoi(v);
    else if (!strcmp(o, "--port"))
      port = (unsigned)atoi(v);
    else if (!strcmp(o, "--out-addr"))
      out_addr = addr_arg(v);
    else if (!strcmp(o, "--out-group"))
      out_group = addr_arg(v);
    else if (!strcmp(o, "--fanout"))
      fanout = (unsigned)atoi(v);
    else if (!strcmp(o, "--out-port"))
      out_port = (unsigned)atoi(v);
    else if (!strcmp(o, "--ttl"))
      ttl = (unsigned)atoi(v);
    else if (!strcmp(o, "--rcvbuf"))
      rcvbuf = atoi(v);
    else
      usage();
  }
  if (!group.s_addr || !out_group.s_addr || fanout < 1 || fanout > MAX_OUTPUTS || streams < 1) usage();

  int in = socket(AF_INET, SOCK_DGRAM, 0);
  if (in < 0) die("socket");
  int one = 1;
  setsockopt(in, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(in, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf); /* capped by net.core.rmem_max */
  struct sockaddr_in bind_addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (bind(in, (struct sockaddr*)&bind_addr, sizeof bind_addr) != 0) die("bind");
  for (unsigned k = 0; k < streams; k++) {
    struct ip_mreqn m = {.imr_multiaddr = addr_plus(group, k), .imr_address = in_addr};
    if (setsockopt(in, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) != 0) die("IP_ADD_MEMBERSHIP");
  }

  int out = socket(AF_INET, SOCK_DGRAM, 0);
  if (out < 0) die("socket");
  struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr = out_addr};
  if (bind(out, (struct sockaddr*)&src, sizeof src) != 0) die("bind output");
  struct ip_mreqn mif = {.imr_address = out_addr};
  if (setsockopt(out, IPPROTO_IP, IP_MULTICAST_IF, &mif, sizeof mif) != 0) die("IP_MULTICAST_IF");
  int t = (int)ttl, zero = 0;
  setsockopt(out, IPPROTO_IP, IP_MULTICAST_TTL, &t, sizeof t);
  setsockopt(out, IPPROTO_IP, IP_MULTICAST_LOOP, &zero, sizeof zero);

  struct sockaddr_in dests[MAX_OUTPUTS];
  for (unsigned k = 0; k < fanout; k++) {
    dests[k] =
        (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(out_port), .sin_addr = addr_plus(out_group, k)};
  }

  static char bufs[MAX_BATCH][MAX_PAYLOAD];
  struct iovec iov[MAX_BATCH];
  struct mmsghdr rx[MAX_BATCH];
  static struct mmsghdr tx[MAX_BATCH * MAX_OUTPUTS];
  static struct iovec tx_iov[MAX_BATCH];
  for (int i = 0; i < MAX_BATCH; i++) {
    iov[i] = (struct iovec){bufs[i], MAX_PAYLOAD};
    rx[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
  }

  struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: recvmmsg returns EINTR */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  fprintf(stderr, "c-relay: ready\n");

  unsigned long long rx_count = 0, tx_count = 0, tx_errors = 0, batches = 0;
  while (!stop) {
    int n = recvmmsg(in, rx, MAX_BATCH, MSG_WAITFORONE, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("recvmmsg");
    }
    rx_count += (unsigned)n;
    batches++;
    unsigned m = 0;
    for (int i = 0; i < n; i++) {
      tx_iov[i] = (struct iovec){bufs[i], rx[i].msg_len};
      for (unsigned k = 0; k < fanout; k++) {
        tx[m++] = (struct mmsghdr){
            .msg_hdr = {.msg_name = &dests[k], .msg_namelen = sizeof dests[k], .msg_iov = &tx_iov[i], .msg_iovlen = 1}};
      }
    }
    for (unsigned done = 0; done < m;) {
      unsigned chunk = m - done > SEND_CHUNK ? SEND_CHUNK : m - done;
      int s = sendmmsg(out, &tx[done], chunk, 0);
      if (s < 0) {
        if (errno == EINTR) continue;
        tx_errors++; /* skip the message that failed */
        done++;
        continue;
      }
      tx_count += (unsigned)s;
      done += (unsigned)s;
    }
  }
  printf("{\"rx\":%llu,\"tx\":%llu,\"tx_errors\":%llu,\"batches\":%llu}\n", rx_count, tx_count, tx_errors, batches);
  return 0;
}
