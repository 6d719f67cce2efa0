// SPDX-License-Identifier: MIT
// Egress sockets and the per-batch sendmmsg grouping.
#include "mcr/egress.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include <cstring>

#include "mcr/drill.h"
#include "mcr/fail.h"
#include "mcr/rule_table.h"

namespace mcr {

namespace {
constexpr uint32_t kMaxMessagesPerCall = 1024;  // UIO_MAXIOV, the kernel's sendmmsg limit

// errno's reason for `what`, with the half-configured socket closed.
int close_and_fail(int fd, std::string* error, const std::string& what) {
  const int err = errno;
  if (fd >= 0) ::close(fd);
  return fail(error, what, err);
}
}  // namespace

int open_egress_socket(const EgressKey& key, const std::string& ifname, int sndbuf_bytes, std::string* error) {
  const std::string where = " for output interface " + ifname;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return close_and_fail(fd, error, "socket(AF_INET)" + where);
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(), socklen_t(ifname.size())) != 0)
    return close_and_fail(fd, error, "setsockopt(SO_BINDTODEVICE)" + where);
  ip_mreqn mif{};
  mif.imr_ifindex = key.ifindex;
  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mif, sizeof(mif)) != 0)
    return close_and_fail(fd, error, "setsockopt(IP_MULTICAST_IF)" + where);
  int ttl = key.ttl;
  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) != 0)
    return close_and_fail(fd, error, "setsockopt(IP_MULTICAST_TTL)" + where);
  if (setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) != 0)
    return close_and_fail(fd, error, "setsockopt(IP_TTL)" + where);
  int off = 0;
  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &off, sizeof(off)) != 0)
    return close_and_fail(fd, error, "setsockopt(IP_MULTICAST_LOOP)" + where);
  // SO_SNDBUFFORCE ignores net.core.wmem_max (we run as root); fall back when not permitted.
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf_bytes, sizeof(sndbuf_bytes)) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf_bytes, sizeof(sndbuf_bytes));
  // The socket only sends; keep what it could receive on its ephemeral port small.
  int rcvbuf = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  if (key.source != 0) {
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = key.source;
    if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0) {
      char text[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &key.source, text, sizeof(text));
      return close_and_fail(fd, error, std::string("bind(source ") + text + ")" + where);
    }
  }
  return fd;
}

void SendBatcher::count_error(int err, uint32_t first, uint32_t n, WorkerBlock& counters) {
  WorkerCounter which;
  switch (err) {
    case EAGAIN: which = tx_err_eagain; break;
    case ENOBUFS: which = tx_err_enobufs; break;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN: which = tx_err_unreachable; break;
    case EMSGSIZE: which = tx_err_emsgsize; break;
    case EPERM:
    case EACCES: which = tx_err_eperm; break;
    default: which = tx_err_other; break;
  }
  bump(counters.counters[which], n);
  for (uint32_t i = first; i < first + n; ++i) bump(counters.outputs[pending_[order_[i]].output_slot][out_errors]);
}

void SendBatcher::flush(const RuleTable& table, WorkerBlock& counters, SendLog* log) {
  if (count_ == 0) return;
  // Counting sort by egress socket, so each socket's messages are contiguous.
  const uint32_t egress_count = uint32_t(table.egress_fds.size());
  std::memset(per_egress_, 0, sizeof(uint32_t) * (egress_count + 1));
  for (uint32_t i = 0; i < count_; ++i) per_egress_[pending_[i].egress_index + 1]++;
  for (uint32_t e = 0; e < egress_count; ++e) per_egress_[e + 1] += per_egress_[e];
  for (uint32_t i = 0; i < count_; ++i) {
    uint32_t pos = per_egress_[pending_[i].egress_index]++;
    order_[pos] = i;
    const Pending& p = pending_[i];
    iovs_[pos].iov_base = const_cast<uint8_t*>(p.payload);
    iovs_[pos].iov_len = p.len;
    msghdr& h = msgs_[pos].msg_hdr;
    h.msg_name = const_cast<sockaddr_in*>(p.dest);
    h.msg_namelen = sizeof(sockaddr_in);
    h.msg_iov = &iovs_[pos];
    h.msg_iovlen = 1;
    h.msg_control = nullptr;
    h.msg_controllen = 0;
    h.msg_flags = 0;
    if (any_ttl_ != 0 && p.ttl != 0) {
      // The kernel takes IP_TTL from a control message over the socket's (multicast) TTL.
      h.msg_control = ttl_controls_[pos].bytes;
      h.msg_controllen = sizeof(ttl_controls_[pos].bytes);
      cmsghdr* cm = CMSG_FIRSTHDR(&h);
      cm->cmsg_level = IPPROTO_IP;
      cm->cmsg_type = IP_TTL;
      cm->cmsg_len = CMSG_LEN(sizeof(int));
      const int ttl = p.ttl;
      std::memcpy(CMSG_DATA(cm), &ttl, sizeof(ttl));
    }
  }
  // After the scatter pass per_egress_[e] is the end of socket e's run.
  uint32_t begin = 0;
  for (uint32_t e = 0; e < egress_count; ++e) {
    const uint32_t end = per_egress_[e];
    const int fd = table.egress_fds[e];
    uint32_t at = begin;
    while (at < end) {
      const uint32_t want = end - at < kMaxMessagesPerCall ? end - at : kMaxMessagesPerCall;
      // Traced batch: this call's slot in the span record (nullptr when untraced or full).
      SpanSend* traced = nullptr;
#if MCR_ENABLE_SPANS
      if (log != nullptr) [[unlikely]] {
        if (*log->count < kSpanSendSlots) {
          traced = &log->sends[*log->count];
          *traced = SpanSend{};
          traced->ifindex = e < table.egress_ifindex.size() ? uint32_t(table.egress_ifindex[e]) : 0;
          traced->start_ns = realtime_ns();
        }
        ++*log->count;
      }
#else
      (void)log;
#endif
      int sent = send_(fd, &msgs_[at], want, MSG_DONTWAIT);
      const int err = sent < 0 ? errno : 0;
      MCR_PROBE4(sendmmsg, fd, want, sent, err);
      if (sent < 0) {
        if (err == EINTR) {
          if (traced) traced->end_ns = realtime_ns(), traced->error = err;
          continue;
        }
        // A full buffer will not drain within this batch: drop the rest for this socket.
        const uint32_t dropped = (err == EAGAIN || err == ENOBUFS) ? end - at : 1;
        count_error(err, at, dropped, counters);
        // The audit drill only (mcr/drill.h; expands to nothing in the shipped build).
        MCR_DRILL(if (err == EAGAIN || err == ENOBUFS) drill::log(
                      drill::Level::critical,
                      drill::format_exhaustion("sendmmsg", err,
                                               counters.counters[tx_err_eagain].load(std::memory_order_relaxed) +
                                                   counters.counters[tx_err_enobufs].load(std::memory_order_relaxed)));)
        if (traced) {
          traced->end_ns = realtime_ns();
          traced->errors = dropped;
          traced->error = err;
        }
        at += dropped;
        continue;
      }
      uint64_t bytes = 0;
      for (uint32_t i = at; i < at + uint32_t(sent); ++i) {
        const Pending& p = pending_[order_[i]];
        bytes += p.len;
        bump(counters.outputs[p.output_slot][out_packets]);
        bump(counters.outputs[p.output_slot][out_bytes], p.len);
      }
      bump(counters.counters[tx_packets], uint64_t(sent));
      bump(counters.counters[tx_bytes], bytes);
      if (traced) {
        traced->end_ns = realtime_ns();
        traced->packets = uint32_t(sent);
        traced->bytes = uint32_t(bytes);
      }
      at += uint32_t(sent);
    }
    begin = end;
  }
  count_ = 0;
  any_ttl_ = 0;
}

}  // namespace mcr
