// SPDX-License-Identifier: MIT
// mcrgen: traffic tool for testing mcr, one file per command.
//   send (default)  paced UDP stream of numbered, checksummed payloads (payload.h)   send.cc
//   recv            receive one stream; report loss, duplicates, reordering,         recv.cc
//                   corruption, latency
//   inject          write raw Ethernet frames, given as hex lines, onto a device     inject.cc
//                   (malformed input)
#include <cstdio>
#include <cstring>

#include "common.h"

using namespace mcrgen;

namespace {

constexpr const char* kMainUsage =
    "Usage: mcrgen [send] --group G --port P --interface SRC_IP [options]\n"
    "       mcrgen recv --group G --port P [options]\n"
    "       mcrgen inject --device IFNAME [--file F] [--repeat N]\n"
    "Traffic tool for testing mcr. 'mcrgen COMMAND --help' shows a command's options.\n"
    "\n";

}  // namespace

int main(int argc, char** argv) {
  install_stop_handlers();
  if (argc >= 2) {
    const char* command = argv[1];
    if (strcmp(command, "send") == 0) return run_send(argc - 1, argv + 1);
    if (strcmp(command, "recv") == 0) return run_recv(argc - 1, argv + 1);
    if (strcmp(command, "inject") == 0) return run_inject(argc - 1, argv + 1);
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 || strcmp(command, "help") == 0) {
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
