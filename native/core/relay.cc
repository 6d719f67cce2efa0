// SPDX-License-Identifier: MIT
// Control path of the forwarding core: builds rule tables, manages rings, egress sockets and
// group membership, publishes tables and frees old ones once every worker has moved on.
#include "mcr/relay.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <thread>

#include "mcr/worker.h"
#include "mcr/xdp_maps.h"

namespace mcr {

namespace {
uint32_t interface_mtu(const std::string& name) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 1500;
  ifreq req{};
  std::strncpy(req.ifr_name, name.c_str(), IFNAMSIZ - 1);
  uint32_t mtu = 1500;
  if (ioctl(fd, SIOCGIFMTU, &req) == 0) mtu = uint32_t(req.ifr_mtu);
  close(fd);
  return mtu;
}

// An output interface as packet egress sees it: Ethernet or not, its MAC, primary IPv4 address
// and MTU. Anything unreadable leaves the interface to the UDP socket path.
InterfaceLink interface_link(const std::string& name) {
  InterfaceLink link;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return link;
  ifreq req{};
  std::strncpy(req.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFHWADDR, &req) == 0 && req.ifr_hwaddr.sa_family == ARPHRD_ETHER) {
    link.ethernet = true;
    std::memcpy(link.mac, req.ifr_hwaddr.sa_data, 6);
  }
  req = ifreq{};
  std::strncpy(req.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFADDR, &req) == 0 && req.ifr_addr.sa_family == AF_INET)
    link.address = reinterpret_cast<const sockaddr_in*>(&req.ifr_addr)->sin_addr.s_addr;
  req = ifreq{};
  std::strncpy(req.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFMTU, &req) == 0 && req.ifr_mtu > 0) link.mtu = uint32_t(req.ifr_mtu);
  close(fd);
  return link;
}

// ESP rules' outputs are always routed: an ESP packet cannot be republished (its SA is keyed by
// the group, and mcr has no UDP header to write).
bool is_routed(const RuleConfig& rule, const OutputConfig& out) { return out.routed || rule.protocol == Protocol::esp; }
}  // namespace

Relay::Relay() = default;

Relay::~Relay() { stop(); }

int Relay::start(const RelayOptions& options, std::string* error) {
  if (started_) return 0;
  if (options.workers == 0 || options.workers > kMaxWorkers) {
    if (error) *error = "workers must be from 1 to " + std::to_string(kMaxWorkers);
    return -EINVAL;
  }
  if (!options.cpus.empty() && options.cpus.size() != options.workers) {
    if (error) *error = "cpus must list one CPU per worker";
    return -EINVAL;
  }
  options_ = options;
  if (int rc = counters_.open(options.counters_path, false, error); rc != 0) return rc;
  bump(counters_.control().dataplane_starts);
  // The XDP path is an addition: when it cannot load, everything forwards on the AF_PACKET path.
  xdp_status_.clear();
  if (!options.xdp_object.empty())
    if (std::string err; xdp_.open(options.xdp_object, &counters_.xdp(), &err) != 0) xdp_status_ = err;
  // The configured rate; `mcrctl trace --sample` overrides it until the next start or reload.
  counters_.trace().sample_every.store(options.span_sample_every, std::memory_order_relaxed);
  // The punt rate mcrd set survives a data-plane restart (the file is mcrd's); a new file's zeros
  // mean "not set yet".
  if (counters_.punt().per_second.load() == 0 && counters_.punt().burst.load() == 0) {
    counters_.punt().per_second.store(kPuntPerSecondDefault);
    counters_.punt().burst.store(kPuntBurstDefault);
  }
  for (unsigned i = 0; i < options.workers; ++i) {
    WorkerSettings settings;
    settings.cpu = options.cpus.empty() ? -1 : options.cpus[i];
    settings.realtime_priority = options.realtime_priority;
    settings.busy_poll = options.busy_poll;
    settings.wakeup_holdoff_us = options.wakeup_holdoff_us;
    workers_.push_back(std::make_unique<Worker>(i, settings, &counters_.worker(i), &counters_.span_ring(i),
                                                &counters_.trace(), &counters_.punt_ring(i), &counters_.punt(), &table_,
                                                &generation_));
    if (int rc = workers_.back()->start(error); rc != 0) {
      stop();
      return rc;
    }
  }
  started_ = true;
  return 0;
}

std::map<std::string, Relay::Resolved> Relay::resolve(const std::vector<RuleConfig>& rules) const {
  std::map<std::string, Resolved> out;
  auto add = [&](const std::string& name, bool input) {
    auto it = out.find(name);
    if (it != out.end() && !(input && it->second.ifindex > 0 && it->second.geometry.frame_size == 0)) return;
    Resolved r{int(if_nametoindex(name.c_str())), RingGeometry{}, InterfaceLink{}};
    // The MTU is read here, once per interface and build: it sizes the ring slots.
    if (input && r.ifindex > 0) r.geometry = ring_geometry_for(interface_mtu(name), options_.ring_bytes);
    out[name] = r;
  };
  for (const RuleConfig& r : rules) {
    add(r.input_interface, true);
    for (const OutputConfig& o : r.outputs) add(o.interface, false);
  }
  for (const RuleConfig& r : rules)
    for (const OutputConfig& o : r.outputs)
      if (options_.packet_egress || is_routed(r, o))
        if (Resolved& res = out[o.interface]; res.ifindex > 0 && res.link == InterfaceLink{})
          res.link = interface_link(o.interface);
  return out;
}

// The input's ring set for the table being built: the one already open, unless the interface was
// re-created or its MTU outgrew the slots, else a new one opened into `staged`. Returns nullptr
// with *error set when the rings cannot be opened.
const Relay::RingSet* Relay::ring_set_for(const std::string& ifname, const Resolved& in, Staging& staged,
                                          std::string* error) {
  if (auto it = staged.rings.find(ifname); it != staged.rings.end()) return &it->second;
  if (auto it = rings_.find(ifname);
      it != rings_.end() && it->second.ifindex == in.ifindex && it->second.frame_size == in.geometry.frame_size)
    return &it->second;
  RingSet set;
  set.ifindex = in.ifindex;
  set.frame_size = in.geometry.frame_size;
  FanoutGroup fanout;
  for (unsigned w = 0; w < options_.workers && error->empty(); ++w) {
    set.rings[w] = std::make_unique<IngressRing>();
    set.rings[w]->open(in.ifindex, ifname, in.geometry, options_.workers > 1 ? &fanout : nullptr, error);
  }
  if (error->empty() && options_.workers > 1) {
    set.fanout_group = fanout.id;
    *error = check_fanout(set, ifname);
  }
  if (!error->empty()) return nullptr;  // `set` closes what it opened
  return &staged.rings.emplace(ifname, std::move(set)).first->second;
}

// The egress socket for `key`: one already open (by an earlier build or this one), else a new
// one opened into `staged`. Returns the fd or -1 with *error set.
int Relay::egress_socket_for(const EgressKey& key, const std::string& ifname, Staging& staged, std::string* error) {
  for (const EgressSocket& s : egress_)
    if (s.key == key) return s.fd;
  for (const EgressSocket& s : staged.egress)
    if (s.key == key) return s.fd;
  const int fd = key.packet ? open_packet_egress_socket(key.ifindex, ifname, options_.sndbuf_bytes, error)
                            : open_egress_socket(key, ifname, options_.sndbuf_bytes, error);
  if (fd >= 0) staged.egress.push_back(EgressSocket{key, fd});
  return fd < 0 ? -1 : fd;
}

int Relay::table_egress_index(RuleTable& table, int fd, int ifindex, std::string* error) {
  uint32_t index = 0;
  while (index < table.egress_fds.size() && table.egress_fds[index] != fd) ++index;
  if (index < table.egress_fds.size()) return int(index);
  if (index >= SendBatcher::kMaxEgress) {
    *error = "more than " + std::to_string(SendBatcher::kMaxEgress) + " distinct (interface, ttl, source) outputs";
    return -1;
  }
  table.egress_fds.push_back(fd);
  table.egress_ifindex.push_back(ifindex);
  return int(index);
}

bool Relay::refused_before(const RuleConfig& rule) const {
  for (size_t i = 0; i < rules_.size() && i < status_.size(); ++i)
    if (!status_[i].error.empty() && rules_[i] == rule) return true;
  return false;
}

// Adds one rule to the table being built. Sets st.error when it cannot be installed; a rule
// waiting for its input interface is not an error (it is picked up when the interface appears).
void Relay::stage_rule(const RuleConfig& rule, const std::map<std::string, Resolved>& resolved, Staging& staged,
                       RuleTable& table, std::map<std::string, uint32_t>& input_index, RuleStatus& st) {
  st.outputs_up.assign(rule.outputs.size(), false);
  const Resolved& in = resolved.at(rule.input_interface);
  if (in.ifindex <= 0) {
    // Outputs are still reported by whether their own interface exists, so the status names
    // only what is actually missing.
    for (size_t o = 0; o < rule.outputs.size(); ++o)
      st.outputs_up[o] = resolved.at(rule.outputs[o].interface).ifindex > 0;
    return;
  }
  st.input_up = true;

  if (!input_index.count(rule.input_interface)) {
    if (auto e = staged.input_errors.find(rule.input_interface); e != staged.input_errors.end()) {
      st.error = e->second;
      return;
    }
    std::string err;
    const RingSet* set =
        table.inputs.size() >= kMaxInputs ? nullptr : ring_set_for(rule.input_interface, in, staged, &err);
    if (set == nullptr) {
      st.error = err.empty() ? "more than " + std::to_string(kMaxInputs) + " input interfaces" : err;
      staged.input_errors[rule.input_interface] = st.error;
      return;
    }
    TableInput ti{};
    ti.ifindex = in.ifindex;
    for (unsigned w = 0; w < options_.workers; ++w) ti.rings[w] = set->rings[w].get();
    input_index[rule.input_interface] = uint32_t(table.inputs.size());
    table.inputs.push_back(ti);
  }

  // Membership before the rule goes live, so IGMP-snooping switches start sending: source-specific
  // for an (S,G) rule. A rule without outputs (a learned entry that only holds a source back from
  // a wider one) wants nothing, so it joins nothing, unless it punts (PIM wants to see the data).
  std::string err;
  const MembershipKey join{in.ifindex, rule.group, rule.source};
  if (rule.join_group && rule.group != 0 && (!rule.outputs.empty() || rule.punt != PuntReason::none) &&
      !membership_.joined(join)) {
    if (membership_.join(join, &err) != 0) {
      st.error = err + " on " + rule.input_interface;
      return;
    }
    staged.joined.push_back(join);
  }

  RuleEntry entry{};
  entry.input_index = input_index[rule.input_interface];
  entry.group = rule.group;
  entry.port = rule.protocol == Protocol::esp ? 0 : rule.port;
  entry.source = rule.source;
  entry.protocol = rule.protocol;
  entry.punt = rule.punt;
  entry.per_output_work = rule.punt != PuntReason::none;
  entry.counter_slot = rule.counter_slot % kMaxRuleSlots;
  entry.first_output = uint32_t(table.outputs.size());
  for (size_t o = 0; o < rule.outputs.size(); ++o) {
    const OutputConfig& out = rule.outputs[o];
    const Resolved& oi = resolved.at(out.interface);
    if (oi.ifindex <= 0) continue;  // waiting for the interface
    if (is_routed(rule, out)) {
      // A router's copy: the AF_PACKET socket only, with an Ethernet header from the interface's
      // MAC to the group's multicast MAC (the packet's own destination: the rule matched it).
      if (!oi.link.ethernet || oi.link.mtu < 28) {
        st.error = "routed output on " + out.interface + ": needs an Ethernet interface (it sends through AF_PACKET)";
        break;
      }
      const int packet_fd = egress_socket_for(EgressKey{oi.ifindex, 0, 0, true}, out.interface, staged, &err);
      if (packet_fd < 0) {
        st.error = err;
        break;
      }
      const int packet_index = table_egress_index(table, packet_fd, oi.ifindex, &st.error);
      if (packet_index < 0) break;
      OutputEntry oe{};
      oe.dest.sin_family = AF_INET;
      oe.dest.sin_addr.s_addr = rule.group;
      oe.egress_index = uint32_t(packet_index);  // no UDP socket: nothing falls back to one
      oe.packet_egress_index = uint32_t(packet_index);
      oe.counter_slot = out.counter_slot % kMaxOutputSlots;
      oe.decrement_ttl = true;
      oe.routed = true;
      oe.packet_payload_limit = oi.link.mtu + 1;  // IP packets up to the MTU
      build_packet_template(&oe.packet_header, oi.link.mac, 0, 0, rule.group, 0, 1);
      entry.per_output_work = true;
      table.outputs.push_back(oe);
      st.outputs_up[o] = true;
      continue;
    }
    // A decrementing output sets its TTL per datagram, so it shares the TTL-1 socket: the
    // socket's own TTL is then only what a datagram without a control message would get.
    const EgressKey key{oi.ifindex, out.decrement_ttl ? uint8_t(1) : out.ttl, out.source};
    const int fd = egress_socket_for(key, out.interface, staged, &err);
    if (fd < 0) {
      st.error = err;
      break;
    }
    const int egress_index = table_egress_index(table, fd, oi.ifindex, &st.error);
    if (egress_index < 0) break;
    OutputEntry oe{};
    oe.dest.sin_family = AF_INET;
    oe.dest.sin_addr.s_addr = out.group;
    oe.dest.sin_port = htons(out.port);
    oe.egress_index = uint32_t(egress_index);
    oe.counter_slot = out.counter_slot % kMaxOutputSlots;
    oe.decrement_ttl = out.decrement_ttl;
    oe.keep_port = out.port == 0;
    // Packet egress: multicast groups only (unicast needs neighbour resolution, which the UDP
    // socket does), on an Ethernet interface with an IPv4 address to send from.
    const uint32_t source = out.source != 0 ? out.source : oi.link.address;
    if (options_.packet_egress && IN_MULTICAST(ntohl(out.group)) && oi.link.ethernet && source != 0 &&
        oi.link.mtu > kIpUdpHeaderLen) {
      const int packet_fd = egress_socket_for(EgressKey{oi.ifindex, 0, 0, true}, out.interface, staged, &err);
      if (packet_fd < 0) {
        st.error = err;
        break;
      }
      const int packet_index = table_egress_index(table, packet_fd, oi.ifindex, &st.error);
      if (packet_index < 0) break;
      oe.packet_egress_index = uint32_t(packet_index);
      oe.packet_payload_limit = oi.link.mtu - kIpUdpHeaderLen + 1;
      build_packet_template(&oe.packet_header, oi.link.mac, source, egress_local_port(fd), out.group, out.port,
                            out.decrement_ttl ? uint8_t(1) : out.ttl);
    }
    entry.per_output_work = entry.per_output_work || out.decrement_ttl || oe.keep_port;
    table.outputs.push_back(oe);
    st.outputs_up[o] = true;
  }
  if (!st.error.empty()) {
    table.outputs.resize(entry.first_output);
    std::fill(st.outputs_up.begin(), st.outputs_up.end(), false);
    return;
  }
  entry.output_count = uint32_t(table.outputs.size()) - entry.first_output;
  table.rules.push_back(entry);
}

int Relay::build(const std::vector<RuleConfig>& rules, std::vector<RuleStatus>* status, bool all_or_nothing) {
  auto resolved = resolve(rules);
  auto table = std::make_unique<RuleTable>();
  Staging staged;
  std::map<std::string, uint32_t> input_index;  // interface -> TableInput index
  status->assign(rules.size(), RuleStatus{});
  bool refused = false;
  for (size_t r = 0; r < rules.size(); ++r) {
    stage_rule(rules[r], resolved, staged, *table, input_index, (*status)[r]);
    // A rule that was refused before and is unchanged does not block others' changes.
    refused = refused || (!(*status)[r].error.empty() && !refused_before(rules[r]));
  }
  if (all_or_nothing && refused) {
    // Nothing is published: close exactly what this call opened; the running table goes on.
    for (EgressSocket& s : staged.egress) close(s.fd);
    for (const MembershipKey& key : staged.joined) membership_.leave(key);
    return kRulesRefused;  // staged.rings close as they go out of scope
  }
  table->build_index();
  publish(std::move(table));

  // The workers now read the new table only: retire what it replaced and what it no longer uses.
  for (auto& [name, set] : staged.rings) {
    if (auto old = rings_.find(name); old != rings_.end()) {
      read_ring_stats(old->second);
      rings_.erase(old);
    }
    rings_.emplace(name, std::move(set));
  }
  for (auto it = rings_.begin(); it != rings_.end();) {
    if (!input_index.count(it->first)) {
      read_ring_stats(it->second);
      it = rings_.erase(it);
    } else {
      ++it;
    }
  }
  egress_.insert(egress_.end(), staged.egress.begin(), staged.egress.end());
  std::set<int> used_egress(current_->egress_fds.begin(), current_->egress_fds.end());
  for (auto it = egress_.begin(); it != egress_.end();) {
    if (!used_egress.count(it->fd)) {
      close(it->fd);
      it = egress_.erase(it);
    } else {
      ++it;
    }
  }
  std::set<MembershipKey> wanted_joins;
  for (const RuleEntry& e : current_->rules)
    if (e.output_count > 0) wanted_joins.insert({current_->inputs[e.input_index].ifindex, e.group, e.source});
  for (const MembershipKey& key : membership_.all())
    if (!wanted_joins.count(key)) membership_.leave(key);
  resolved_ = std::move(resolved);
  status_ = *status;
  update_xdp();
  return kRulesApplied;
}

// The XDP path takes the rules it can forward exactly like the AF_PACKET path: every output
// multicast on packet egress (so its frame template exists), each on its own interface, none on
// the input. Its limit is the smallest output MTU; larger datagrams stay on the rings. Every rule
// stays in the workers' table too, for what XDP passes on. Its map matches (input, group, port)
// exactly, so rules with a source, any port or ESP, and rules with routed or port-keeping
// outputs, stay on the AF_PACKET path; so does a (*,G,port) rule when an (S,G) rule of the same
// input and group exists, whose source's packets it must not take.
void Relay::update_xdp() {
  if (!xdp_.is_open()) return;
  std::vector<XdpRule> rules;
  const RuleTable& t = *current_;
  std::set<std::pair<uint32_t, uint32_t>> source_groups;  // (input, group) with an (S,G) rule
  for (const RuleEntry& r : t.rules)
    if (r.source != 0) source_groups.insert({r.input_index, r.group});
  size_t richer = 0;  // rules kept off the XDP path by their kind of match or output
  for (const RuleEntry& r : t.rules) {
    if (r.output_count == 0 || r.output_count > MCR_XDP_MAX_SET_OUTPUTS) continue;
    bool plain = r.source == 0 && r.port != 0 && r.protocol == Protocol::udp && r.punt == PuntReason::none &&
                 !source_groups.count({r.input_index, r.group});
    for (uint32_t o = r.first_output; o < r.first_output + r.output_count; ++o)
      plain = plain && !t.outputs[o].routed && !t.outputs[o].keep_port;
    if (!plain) {
      ++richer;
      continue;
    }
    XdpRule x{t.inputs[r.input_index].ifindex, r.group, r.port, r.counter_slot, UINT32_MAX, {}};
    bool eligible = true;
    for (uint32_t o = r.first_output; o < r.first_output + r.output_count && eligible; ++o) {
      const OutputEntry& out = t.outputs[o];
      if (out.packet_payload_limit == 0) {
        eligible = false;
        break;
      }
      const int ifindex = t.egress_ifindex[out.packet_egress_index];
      eligible = ifindex != x.ifindex;
      for (const XdpOutput& other : x.outputs) eligible = eligible && other.ifindex != ifindex;
      const uint8_t* b = out.packet_header.bytes;
      XdpOutput xo{};
      xo.ifindex = ifindex;
      std::memcpy(xo.dst_mac, b + kVnetHeaderLen, 6);
      std::memcpy(xo.src_mac, b + kVnetHeaderLen + 6, 6);
      std::memcpy(&xo.source, b + kIpOffset + 12, 4);
      std::memcpy(&xo.group, b + kIpOffset + 16, 4);
      xo.src_port = uint16_t(b[kUdpOffset] << 8 | b[kUdpOffset + 1]);
      xo.dst_port = uint16_t(b[kUdpOffset + 2] << 8 | b[kUdpOffset + 3]);
      xo.ttl = out.decrement_ttl ? 0 : b[kIpOffset + 8];
      xo.counter_slot = out.counter_slot;
      x.outputs.push_back(xo);
      x.max_payload = std::min(x.max_payload, out.packet_payload_limit - 1);
    }
    if (eligible) rules.push_back(std::move(x));
  }
  std::string err;
  xdp_rules_ = xdp_.update(rules, &err);
  if (richer > 0)
    err += (err.empty() ? "" : "; ") + std::to_string(richer) +
           " rule(s) with a source, any port, ESP, or routed or port-keeping outputs (or beside an (S,G) rule of "
           "their group)";
  xdp_status_ = err;
}

// Every ring of a set must be in the one fanout group, or a frame reaches more than one worker
// and is forwarded more than once. A relay that duplicates is worse than one that refuses.
std::string Relay::check_fanout(const RingSet& set, const std::string& ifname) const {
  for (unsigned w = 0; w < options_.workers; ++w) {
    const int group = set.rings[w]->fanout_group();
    if (group != set.fanout_group)
      return "the ring of worker " + std::to_string(w) + " on " + ifname + " is in fanout group " +
             (group < 0 ? std::string("none") : std::to_string(group)) + ", not " + std::to_string(set.fanout_group) +
             " like the first: refusing the input, which would forward frames more than once";
  }
  return {};
}

std::vector<InputInfo> Relay::inputs() const {
  std::vector<InputInfo> out;
  for (const auto& [name, set] : rings_) {
    unsigned rings = 0;
    for (const auto& r : set.rings) rings += r ? 1 : 0;
    auto xdp = xdp_.attached().find(set.ifindex);
    out.push_back(
        InputInfo{name, set.ifindex, rings, set.fanout_group, xdp == xdp_.attached().end() ? "" : xdp->second});
  }
  return out;
}

void Relay::publish(std::unique_ptr<RuleTable> table) {
  table_.store(table.get(), std::memory_order_release);
  const uint64_t generation = generation_.fetch_add(1, std::memory_order_acq_rel) + 1;
  for (auto& w : workers_) w->wake();
  // Quiescence: each worker finishes its batch and reports the new generation (a sleeping
  // worker is woken above). Bounded by one batch or Worker::kIdlePollMs.
  for (auto& w : workers_)
    while (w->running() && w->observed_generation() < generation)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
  current_ = std::move(table);
}

int Relay::set_rules(const std::vector<RuleConfig>& rules, std::vector<RuleStatus>* status, std::string* error,
                     bool all_or_nothing) {
  if (!started_) {
    if (error) *error = "the relay is not started";
    return -EINVAL;
  }
  for (const RuleConfig& r : rules) {
    if (r.input_interface.empty() || r.input_interface.size() >= IFNAMSIZ) {
      if (error) *error = "invalid input interface name \"" + r.input_interface + "\"";
      return -EINVAL;
    }
    for (const OutputConfig& o : r.outputs)
      if (o.interface.empty() || o.interface.size() >= IFNAMSIZ) {
        if (error) *error = "invalid output interface name \"" + o.interface + "\"";
        return -EINVAL;
      }
  }
  const int rc = build(rules, status, all_or_nothing);
  if (rc == kRulesApplied) rules_ = rules;
  return rc;
}

int Relay::reconcile(std::vector<RuleStatus>* status, std::string* error) {
  if (!started_) {
    if (error) *error = "the relay is not started";
    return -EINVAL;
  }
  // Rebuild when an interface changed, and also while a rule is refused: what refused it (a
  // source address not yet assigned, say) may have been fixed since. Whatever installs now is
  // published; what still fails stays refused.
  bool refused = false;
  for (const RuleStatus& s : status_) refused = refused || !s.error.empty();
  if (!refused && resolve(rules_) == resolved_) return 0;
  std::vector<RuleStatus> before = status_;
  build(rules_, status, false);
  return *status == before ? 0 : 1;
}

void Relay::read_ring_stats(RingSet& set) {
  ControlBlock& control = counters_.control();
  for (unsigned w = 0; w < kMaxWorkers; ++w) {
    if (!set.rings[w]) continue;
    uint64_t packets, drops;
    set.rings[w]->read_kernel_stats(&packets, &drops);
    bump(control.ring_packets[w], packets);
    bump(control.ring_drops[w], drops);
  }
}

void Relay::poll_kernel_stats() {
  if (!counters_.region()) return;
  xdp_.read_counters();
  for (auto& [name, set] : rings_) read_ring_stats(set);
}

void Relay::stop() {
  xdp_.close();  // detached first: what arrives from here on goes to the rings
  for (auto& w : workers_) w->stop();
  poll_kernel_stats();
  workers_.clear();
  table_.store(nullptr);
  current_.reset();
  rings_.clear();
  for (auto& s : egress_) close(s.fd);
  egress_.clear();
  for (const MembershipKey& key : membership_.all()) membership_.leave(key);
  started_ = false;
}

int Relay::worker_cpu(unsigned index) const { return index < workers_.size() ? workers_[index]->cpu() : -1; }
int Relay::worker_tid(unsigned index) const { return index < workers_.size() ? workers_[index]->tid() : 0; }
bool Relay::worker_realtime(unsigned index) const { return index < workers_.size() && workers_[index]->realtime(); }
bool Relay::worker_pinned(unsigned index) const { return index < workers_.size() && workers_[index]->pinned(); }

}  // namespace mcr
