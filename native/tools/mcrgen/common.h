// SPDX-License-Identifier: MIT
// What mcrgen's commands (send.cc, recv.cc, inject.cc) share: the stop flag set by SIGINT and
// SIGTERM, error exits (usage errors exit 2, failed system calls exit 1), the monotonic clock,
// flag parsing, socket options, and each command's entry point and usage text for main.cc.
#pragma once

#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <time.h>

#include <cstdint>
#include <string>

namespace mcrgen {

constexpr uint64_t kNsPerSec = 1000000000;

// Set by SIGINT/SIGTERM (install_stop_handlers); every loop checks it.
extern volatile sig_atomic_t g_stop;
void install_stop_handlers();

// A bad command line: "mcrgen: " + the message on stderr, exit 2.
[[noreturn]] void usage_error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// Runtime failure of a system call: the message names the call, strerror(errno) follows; exit 1.
[[noreturn]] void die_errno(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

uint64_t now_ns();
timespec to_timespec(uint64_t ns);
// Sleeps until an absolute CLOCK_MONOTONIC time, or until a stop signal arrives.
void sleep_until(uint64_t deadline_ns);

std::string ipv4_text(in_addr addr);
bool is_multicast(in_addr addr);

in_addr parse_ipv4(const char* flag, const char* text);
uint64_t parse_uint(const char* flag, const char* text, uint64_t min, uint64_t max);
double parse_seconds(const char* flag, const char* text);

// Runs getopt_long over argv and hands each recognised option to on_option. Unknown flags,
// missing values and stray arguments become usage errors naming the offending word.
template <typename OnOption>
void parse_flags(const char* command, int argc, char** argv, const option* options, OnOption on_option) {
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

void set_int_option(int fd, int level, int name, int value, const char* what);
// Big socket buffers absorb scheduling hiccups; FORCE ignores rmem_max/wmem_max but needs
// CAP_NET_ADMIN, so fall back to the capped option.
void set_buffer_size(int fd, int force_name, int name, int bytes, const char* what);

// The commands: argv[0] is the command's name (or "mcrgen" for the flags-only send form).
int run_send(int argc, char** argv);
int run_recv(int argc, char** argv);
int run_inject(int argc, char** argv);
extern const char kSendUsage[];
extern const char kRecvUsage[];
extern const char kInjectUsage[];

}  // namespace mcrgen
