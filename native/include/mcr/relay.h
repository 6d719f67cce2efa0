// SPDX-License-Identifier: MIT
// The forwarding core's control surface: worker threads, rule tables, ingress rings, egress
// sockets and group membership. Everything here runs on the caller's (control) thread; only
// Worker::run runs per packet.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "mcr/counters.h"
#include "mcr/egress.h"
#include "mcr/ingress_ring.h"
#include "mcr/membership.h"
#include "mcr/rule_table.h"
#include "mcr/xdp.h"

namespace mcr {

struct OutputConfig {
  std::string interface;
  uint32_t group;              // network byte order
  uint16_t port;               // 0: the datagram's own destination port (rules with port 0 only)
  uint8_t ttl;                 // fixed TTL; unused when decrement_ttl
  bool decrement_ttl = false;  // the received TTL minus one, per packet
  uint32_t source;             // network byte order, 0 = unset
  uint32_t counter_slot;
  // Forward as a router (mcr/egress.h fill_routed_header): the received IPv4 header kept, TTL - 1;
  // group, port, ttl and source are not used. Needs an Ethernet interface (AF_PACKET egress,
  // whatever RelayOptions::packet_egress says: a UDP socket cannot keep the sender's source).
  bool routed = false;
  bool operator==(const OutputConfig&) const = default;
};

struct RuleConfig {
  std::string input_interface;
  uint32_t group;                      // network byte order
  uint16_t port;                       // 0: any UDP port; ESP: 0
  uint32_t source = 0;                 // network byte order, 0 = any source, else an (S,G) rule
  Protocol protocol = Protocol::udp;   // ESP rules' outputs are always routed
  PuntReason punt = PuntReason::none;  // copy matched packets to mcrd (mcr/punt.h)
  // Join the group on the input (an IGMP report upstream, so switches and a querier send it). A
  // PIM route does not: its Join/Prune messages bring the traffic.
  bool join_group = true;
  uint32_t counter_slot;
  std::vector<OutputConfig> outputs;
  bool operator==(const RuleConfig&) const = default;
};

// Relay::set_rules results besides -errno.
constexpr int kRulesApplied = 0;
constexpr int kRulesRefused = 1;  // all-or-nothing change refused: nothing changed, see the statuses

struct RuleStatus {
  bool input_up = false;
  std::vector<bool> outputs_up;
  std::string error;  // non-empty: the rule could not be installed (and is not forwarding)
  bool operator==(const RuleStatus&) const = default;
};

struct RelayOptions {
  unsigned workers = 1;
  std::vector<int> cpus;          // empty, or one CPU per worker
  size_t ring_bytes = 32u << 20;  // per worker per input interface
  int sndbuf_bytes = 4 << 20;
  int realtime_priority = 0;        // SCHED_FIFO priority for the workers, 0 = normal scheduling
  uint32_t span_sample_every = 16;  // time one receive batch in this many (0 = none), see Span
  bool busy_poll = false;           // workers spin instead of sleeping when their rings are empty
  uint32_t wakeup_holdoff_us = 0;   // see WorkerSettings
  bool packet_egress = true;        // multicast outputs on Ethernet interfaces skip the UDP stack (mcr/egress.h)
  std::string xdp_object;           // the XDP programs (mcr/xdp.h); empty: no XDP path
  std::string counters_path;        // the supervisor's counter file
};

// One input interface as the data plane has it open (mcrctl and the logs report the fanout group,
// so a test can show which id the kernel handed out).
struct InputInfo {
  std::string interface;
  int ifindex;
  unsigned rings;
  int fanout_group;  // -1: none (one worker)
  std::string xdp;   // the XDP path's attach mode: "native", "generic", or empty (not attached)
};

// What packet egress needs of an output interface (mcr/egress.h), read again at every reconcile
// so a change of address, MAC or MTU rebuilds the output's frame template.
struct InterfaceLink {
  bool ethernet = false;
  uint8_t mac[6] = {};
  uint32_t address = 0;  // primary IPv4, network order; 0 = none
  uint32_t mtu = 0;
  bool operator==(const InterfaceLink&) const = default;
};

class Worker;

class Relay {
 public:
  Relay();
  ~Relay();

  // Returns 0 or -errno with *error set.
  int start(const RelayOptions& options, std::string* error);
  // Replaces the whole rule set and returns kRulesApplied, with a status per rule. A rule whose
  // input interface is missing waits (it is installed when the interface appears); one whose
  // rings, group join or egress socket fail is refused. With all_or_nothing, any newly refused
  // rule refuses the whole change (kRulesRefused): nothing is published, only what this call
  // opened is closed, and the running table keeps forwarding; a rule that was refused before and
  // is unchanged does not count. Without it (a data plane's first table) whatever installs is
  // published. -errno with *error for a malformed call.
  int set_rules(const std::vector<RuleConfig>& rules, std::vector<RuleStatus>* status, std::string* error,
                bool all_or_nothing = false);
  // Re-resolves interfaces (appeared, disappeared, re-created, MTU changed) and rebuilds the
  // table if anything differs. Returns 1 if it rebuilt, 0 if not, -errno on error.
  int reconcile(std::vector<RuleStatus>* status, std::string* error);
  // Accumulates PACKET_STATISTICS of every ring into the counter region.
  void poll_kernel_stats();
  void stop();

  unsigned worker_count() const { return options_.workers; }
  int worker_cpu(unsigned index) const;
  int worker_tid(unsigned index) const;
  bool worker_realtime(unsigned index) const;
  bool worker_pinned(unsigned index) const;
  const CounterRegion& counters() const { return counters_; }
  std::vector<InputInfo> inputs() const;
  // Why the XDP path is not (fully) in use: it could not load, or some rules or inputs could not
  // take it. Empty when it is off or everything it could take runs on it.
  const std::string& xdp_status() const { return xdp_status_; }
  // Rules the XDP path forwards.
  size_t xdp_rules() const { return xdp_rules_; }

 private:
  struct RingSet {
    int ifindex;
    uint32_t frame_size;
    int fanout_group = -1;
    std::unique_ptr<IngressRing> rings[kMaxWorkers];
  };
  struct EgressSocket {
    EgressKey key;
    int fd;
  };
  struct Resolved {
    int ifindex;
    RingGeometry geometry;  // inputs only: slots sized from the MTU
    InterfaceLink link;     // outputs only, with packet egress on
    bool operator==(const Resolved&) const = default;
  };
  // What one build opened, so a refused change closes exactly that.
  struct Staging {
    std::map<std::string, RingSet> rings;             // new ring sets, by interface
    std::map<std::string, std::string> input_errors;  // interface -> why its rings failed
    std::vector<EgressSocket> egress;                 // new egress sockets
    std::vector<MembershipKey> joined;                // new memberships
  };
  std::map<std::string, Resolved> resolve(const std::vector<RuleConfig>& rules) const;
  const RingSet* ring_set_for(const std::string& ifname, const Resolved& in, Staging& staged, std::string* error);
  int egress_socket_for(const EgressKey& key, const std::string& ifname, Staging& staged, std::string* error);
  // The table's index for egress socket `fd`, added if new; -1 with *error when the table is full.
  static int table_egress_index(RuleTable& table, int fd, int ifindex, std::string* error);
  void stage_rule(const RuleConfig& rule, const std::map<std::string, Resolved>& resolved, Staging& staged,
                  RuleTable& table, std::map<std::string, uint32_t>& input_index, RuleStatus& st);
  bool refused_before(const RuleConfig& rule) const;
  int build(const std::vector<RuleConfig>& rules, std::vector<RuleStatus>* status, bool all_or_nothing);
  void publish(std::unique_ptr<RuleTable> table);
  std::string check_fanout(const RingSet& set, const std::string& ifname) const;
  void read_ring_stats(RingSet& set);
  void update_xdp();

  RelayOptions options_;
  CounterRegion counters_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<RuleTable*> table_{nullptr};
  std::atomic<uint64_t> generation_{0};
  std::unique_ptr<RuleTable> current_;
  std::map<std::string, RingSet> rings_;  // by interface name
  std::vector<EgressSocket> egress_;
  Membership membership_;
  std::vector<RuleConfig> rules_;
  std::map<std::string, Resolved> resolved_;  // interfaces as the current table saw them
  std::vector<RuleStatus> status_;            // what the current table made of each rule
  XdpPath xdp_;
  std::string xdp_status_;
  size_t xdp_rules_ = 0;
  bool started_ = false;
};

}  // namespace mcr
