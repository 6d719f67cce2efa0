// SPDX-License-Identifier: MIT
// mcrgen's shared helpers (common.h).
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/socket.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace mcrgen {

volatile sig_atomic_t g_stop = 0;

namespace {
void on_stop_signal(int) { g_stop = 1; }
}  // namespace

[[noreturn]] void usage_error(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("mcrgen: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(2);
}

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
    usage_error("%s: expected an integer from %llu to %llu, got \"%s\"", flag, static_cast<unsigned long long>(min),
                static_cast<unsigned long long>(max), text);
  }
  return value;
}

double parse_seconds(const char* flag, const char* text) {
  char* end = nullptr;
  errno = 0;
  double value = strtod(text, &end);
  if (end == text || *end != '\0' || errno == ERANGE || !std::isfinite(value) || value < 0 || value > 1e9) {
    usage_error("%s: expected a number of seconds, got \"%s\"", flag, text);
  }
  return value;
}

void set_int_option(int fd, int level, int name, int value, const char* what) {
  if (setsockopt(fd, level, name, &value, sizeof value) != 0) die_errno("setsockopt(%s)", what);
}

void set_buffer_size(int fd, int force_name, int name, int bytes, const char* what) {
  if (setsockopt(fd, SOL_SOCKET, force_name, &bytes, sizeof bytes) == 0) return;
  set_int_option(fd, SOL_SOCKET, name, bytes, what);
}

}  // namespace mcrgen
