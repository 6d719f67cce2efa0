// SPDX-License-Identifier: MIT
// The XDP path's control side (docs/xdp.md): loads native/xdp/forward.bpf.c's programs, attaches
// the ingress program to input interfaces, keeps its maps equal to the rules the relay hands it
// and folds its per-CPU counters into the counter file. Control thread only; nothing here runs per
// packet (the programs do, in the kernel).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mcr/counters.h"

struct bpf_object;

namespace mcr {

struct XdpOutput {
  int ifindex;
  uint8_t dst_mac[6];
  uint8_t src_mac[6];
  uint32_t source;              // network order
  uint32_t group;               // network order
  uint16_t src_port, dst_port;  // host order
  uint8_t ttl;                  // 0: the received TTL minus one
  uint32_t counter_slot;
  bool operator==(const XdpOutput&) const = default;
};

struct XdpRule {
  int ifindex;     // input interface
  uint32_t group;  // network order
  uint16_t port;   // host order
  uint32_t counter_slot;
  uint32_t max_payload;
  std::vector<XdpOutput> outputs;  // one per interface
};

class XdpPath {
 public:
  XdpPath() = default;
  ~XdpPath();
  XdpPath(const XdpPath&) = delete;
  XdpPath& operator=(const XdpPath&) = delete;

  // Loads the BPF object (programs and maps). `into` is the counter block the counters are folded
  // into (its values so far are kept: a restarted data plane's maps start from zero). Returns 0 or
  // -errno with *error saying what failed.
  int open(const std::string& object_path, WorkerBlock* into, std::string* error);
  void close();  // detaches everywhere and frees the programs and maps
  bool is_open() const { return object_ != nullptr; }

  // Makes the programs forward exactly `rules`: attaches the ingress program to every input they
  // name (native mode, else generic), detaches from inputs no rule uses any more, and updates
  // the maps (an unchanged rule keeps its output set, so its traffic never pauses). Rules that do
  // not fit (too many) or whose input cannot take the program are left out, with *error saying
  // why; the caller keeps them on the AF_PACKET path. Returns the number installed.
  size_t update(const std::vector<XdpRule>& rules, std::string* error);

  // The attach mode per input ifindex: "native", "generic".
  const std::map<int, std::string>& attached() const { return attached_; }

  // Sums the per-CPU counters into the counter block (absolute values, single writer).
  void read_counters();

 private:
  struct RuleKey {
    int ifindex;
    uint32_t group;
    uint16_t port;
    auto operator<=>(const RuleKey&) const = default;
  };
  struct Installed {
    uint32_t set;
    int devmap_fd;
    XdpRule rule;
  };
  int attach(int ifindex, std::string* error);
  void detach(int ifindex);
  int install_set(const XdpRule& rule, uint32_t set, int* devmap_fd, std::string* error);
  void remove_set(const Installed& installed);

  bpf_object* object_ = nullptr;
  int ingress_fd_ = -1, egress_fd_ = -1;
  int rules_fd_ = -1, sets_fd_ = -1, outputs_fd_ = -1;
  int rule_counters_fd_ = -1, output_counters_fd_ = -1, totals_fd_ = -1;
  int cpus_ = 1;
  std::map<int, std::string> attached_;
  std::map<RuleKey, Installed> installed_;
  std::vector<bool> set_used_;
  WorkerBlock* into_ = nullptr;
  // What the counter block held at open: the maps count from zero on top of it.
  std::unique_ptr<WorkerBlock> base_;
};

}  // namespace mcr
