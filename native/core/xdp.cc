// SPDX-License-Identifier: MIT
// The XDP path's control side: loading, attaching, map updates and counters (mcr/xdp.h).
#include "mcr/xdp.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "mcr/fail.h"
#include "mcr/xdp_maps.h"

namespace mcr {

namespace {
// libbpf's own messages go nowhere: every failure is reported through *error instead.
int silent_print(enum libbpf_print_level, const char*, va_list) { return 0; }

std::string ifname_of(int ifindex) {
  char name[IF_NAMESIZE] = {};
  return if_indextoname(unsigned(ifindex), name) ? std::string(name) : "ifindex " + std::to_string(ifindex);
}
}  // namespace

XdpPath::~XdpPath() { close(); }

int XdpPath::open(const std::string& object_path, WorkerBlock* into, std::string* error) {
  close();
  libbpf_set_print(silent_print);
  bpf_object* object = bpf_object__open_file(object_path.c_str(), nullptr);
  if (object == nullptr) return fail(error, "loading " + object_path, errno);
  if (int rc = bpf_object__load(object); rc != 0) {
    bpf_object__close(object);
    return fail(error, "loading the XDP programs into the kernel (" + object_path + ")", -rc);
  }
  object_ = object;
  auto program = [&](const char* name) {
    bpf_program* p = bpf_object__find_program_by_name(object, name);
    return p ? bpf_program__fd(p) : -1;
  };
  ingress_fd_ = program("mcr_xdp_ingress");
  egress_fd_ = program("mcr_xdp_egress");
  rules_fd_ = bpf_object__find_map_fd_by_name(object, "rules");
  sets_fd_ = bpf_object__find_map_fd_by_name(object, "sets");
  outputs_fd_ = bpf_object__find_map_fd_by_name(object, "outputs");
  rule_counters_fd_ = bpf_object__find_map_fd_by_name(object, "rule_counters");
  output_counters_fd_ = bpf_object__find_map_fd_by_name(object, "output_counters");
  totals_fd_ = bpf_object__find_map_fd_by_name(object, "totals");
  if (ingress_fd_ < 0 || egress_fd_ < 0 || rules_fd_ < 0 || sets_fd_ < 0 || outputs_fd_ < 0 || rule_counters_fd_ < 0 ||
      output_counters_fd_ < 0 || totals_fd_ < 0) {
    close();
    if (error) *error = object_path + " lacks a program or map mcr needs (a build from other sources?)";
    return -EINVAL;
  }
  cpus_ = libbpf_num_possible_cpus();
  if (cpus_ < 1) cpus_ = 1;
  set_used_.assign(MCR_XDP_MAX_SETS, false);
  into_ = into;
  base_ = std::make_unique<WorkerBlock>();
  for (size_t i = 0; i < kWorkerCounterSlots; ++i) base_->counters[i].store(into->counters[i].load());
  for (size_t s = 0; s < kMaxRuleSlots; ++s)
    for (size_t c = 0; c < kRuleCounterCount; ++c) base_->rules[s][c].store(into->rules[s][c].load());
  for (size_t s = 0; s < kMaxOutputSlots; ++s)
    for (size_t c = 0; c < kOutputCounterCount; ++c) base_->outputs[s][c].store(into->outputs[s][c].load());
  return 0;
}

void XdpPath::close() {
  if (object_ == nullptr) return;
  read_counters();
  while (!attached_.empty()) detach(attached_.begin()->first);
  for (auto& [key, installed] : installed_) ::close(installed.devmap_fd);
  installed_.clear();
  bpf_object__close(object_);
  object_ = nullptr;
  into_ = nullptr;
}

int XdpPath::attach(int ifindex, std::string* error) {
  if (attached_.count(ifindex)) return 0;
  // Never replace a program someone else attached: that would silently break their setup.
  int rc = bpf_xdp_attach(ifindex, ingress_fd_, XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr);
  if (rc == 0) {
    attached_[ifindex] = "native";
    return 0;
  }
  if (rc == -EBUSY || rc == -EEXIST)
    return fail(error, "attaching XDP to " + ifname_of(ifindex) + " (another XDP program is attached)", -rc);
  rc = bpf_xdp_attach(ifindex, ingress_fd_, XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr);
  if (rc != 0) return fail(error, "attaching XDP to " + ifname_of(ifindex), -rc);
  attached_[ifindex] = "generic";
  return 0;
}

void XdpPath::detach(int ifindex) {
  auto it = attached_.find(ifindex);
  if (it == attached_.end()) return;
  const uint32_t mode = it->second == "native" ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
  // Only our own program: the interface may be gone, or someone may have replaced it.
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = ingress_fd_);
  bpf_xdp_detach(ifindex, mode | XDP_FLAGS_REPLACE, &opts);
  attached_.erase(it);
}

int XdpPath::install_set(const XdpRule& rule, uint32_t set, int* devmap_fd, std::string* error) {
  const int fd = bpf_map_create(BPF_MAP_TYPE_DEVMAP_HASH, "mcr_set", sizeof(uint32_t), sizeof(bpf_devmap_val),
                                MCR_XDP_MAX_SET_OUTPUTS, nullptr);
  if (fd < 0) return fail(error, "creating an XDP output set", errno);
  for (const XdpOutput& o : rule.outputs) {
    mcr_xdp_output value{};
    std::memcpy(value.dst_mac, o.dst_mac, 6);
    std::memcpy(value.src_mac, o.src_mac, 6);
    value.source = o.source;
    value.group = o.group;
    value.src_port = htons(o.src_port);
    value.dst_port = htons(o.dst_port);
    value.ttl = o.ttl;
    value.counter_slot = o.counter_slot % MCR_XDP_OUTPUT_SLOTS;
    mcr_xdp_output_key key{set, uint32_t(o.ifindex)};
    bpf_devmap_val entry{};
    entry.ifindex = uint32_t(o.ifindex);
    entry.bpf_prog.fd = egress_fd_;
    const uint32_t dev_key = uint32_t(o.ifindex);
    if (bpf_map_update_elem(outputs_fd_, &key, &value, BPF_ANY) != 0 ||
        bpf_map_update_elem(fd, &dev_key, &entry, BPF_ANY) != 0) {
      const int err = errno;
      ::close(fd);
      return fail(error, "adding output " + ifname_of(o.ifindex) + " to an XDP output set", err);
    }
  }
  if (bpf_map_update_elem(sets_fd_, &set, &fd, BPF_ANY) != 0) {
    const int err = errno;
    ::close(fd);
    return fail(error, "installing an XDP output set", err);
  }
  *devmap_fd = fd;
  return 0;
}

void XdpPath::remove_set(const Installed& installed) {
  for (const XdpOutput& o : installed.rule.outputs) {
    mcr_xdp_output_key key{installed.set, uint32_t(o.ifindex)};
    bpf_map_delete_elem(outputs_fd_, &key);
  }
  // An ARRAY_OF_MAPS entry is deleted, not overwritten, to drop its reference to the devmap.
  bpf_map_delete_elem(sets_fd_, &installed.set);
  ::close(installed.devmap_fd);
  set_used_[installed.set] = false;
}

size_t XdpPath::update(const std::vector<XdpRule>& rules, std::string* error) {
  if (object_ == nullptr) return 0;
  std::map<RuleKey, const XdpRule*> wanted;
  for (const XdpRule& r : rules) wanted.emplace(RuleKey{r.ifindex, r.group, r.port}, &r);

  // Rules going away, or whose outputs changed, leave the rules map first, so no packet is sent
  // to a set that is being taken apart.
  for (auto it = installed_.begin(); it != installed_.end();) {
    auto w = wanted.find(it->first);
    if (w != wanted.end() && w->second->outputs == it->second.rule.outputs) {
      ++it;
      continue;
    }
    mcr_xdp_rule_key key{uint32_t(it->first.ifindex), it->first.group, it->first.port};
    bpf_map_delete_elem(rules_fd_, &key);
    remove_set(it->second);
    it = installed_.erase(it);
  }

  std::set<int> inputs;
  size_t count = 0;
  for (const auto& [key, rule] : wanted) {
    auto have = installed_.find(key);
    uint32_t set;
    if (have != installed_.end()) {
      set = have->second.set;
      have->second.rule = *rule;  // counter slots and the size limit may change in place
    } else {
      set = 0;
      while (set < set_used_.size() && set_used_[set]) ++set;
      if (set == set_used_.size()) {
        if (error && error->empty()) *error = "more than " + std::to_string(MCR_XDP_MAX_SETS) + " XDP rules";
        continue;
      }
      std::string err;
      if (!attached_.count(rule->ifindex) && attach(rule->ifindex, &err) != 0) {
        if (error && error->empty()) *error = err;
        continue;
      }
      int devmap_fd = -1;
      if (install_set(*rule, set, &devmap_fd, &err) != 0) {
        if (error && error->empty()) *error = err;
        continue;
      }
      set_used_[set] = true;
      installed_[key] = Installed{set, devmap_fd, *rule};
    }
    mcr_xdp_rule_key map_key{uint32_t(rule->ifindex), rule->group, rule->port};
    mcr_xdp_rule value{rule->counter_slot % MCR_XDP_RULE_SLOTS, set, rule->max_payload, uint32_t(rule->outputs.size())};
    if (bpf_map_update_elem(rules_fd_, &map_key, &value, BPF_ANY) != 0) {
      if (error && error->empty()) *error = std::string("installing an XDP rule: ") + std::strerror(errno);
      remove_set(installed_[key]);
      installed_.erase(key);
      continue;
    }
    inputs.insert(rule->ifindex);
    ++count;
  }
  for (auto it = attached_.begin(); it != attached_.end();) {
    const int ifindex = (it++)->first;
    if (!inputs.count(ifindex)) detach(ifindex);
  }
  return count;
}

void XdpPath::read_counters() {
  if (object_ == nullptr || into_ == nullptr) return;
  std::vector<mcr_xdp_count> per_cpu(static_cast<size_t>(cpus_));
  auto sum = [&](int fd, uint32_t key, uint64_t* packets, uint64_t* bytes) {
    *packets = *bytes = 0;
    if (bpf_map_lookup_elem(fd, &key, per_cpu.data()) != 0) return false;
    for (const mcr_xdp_count& c : per_cpu) *packets += c.packets, *bytes += c.bytes;
    return true;
  };
  auto store = [](std::atomic<uint64_t>& to, const std::atomic<uint64_t>& base, uint64_t value) {
    to.store(base.load(std::memory_order_relaxed) + value, std::memory_order_relaxed);
  };
  std::set<uint32_t> rule_slots, output_slots;
  for (const auto& [key, installed] : installed_) {
    rule_slots.insert(installed.rule.counter_slot % MCR_XDP_RULE_SLOTS);
    for (const XdpOutput& o : installed.rule.outputs) output_slots.insert(o.counter_slot % MCR_XDP_OUTPUT_SLOTS);
  }
  // Slots of rules removed since keep their last values (a slot's counts never go back).
  for (uint32_t slot : rule_slots) {
    uint64_t packets, bytes;
    if (!sum(rule_counters_fd_, slot, &packets, &bytes)) continue;
    store(into_->rules[slot][rule_packets], base_->rules[slot][rule_packets], packets);
    store(into_->rules[slot][rule_bytes], base_->rules[slot][rule_bytes], bytes);
  }
  for (uint32_t slot : output_slots) {
    uint64_t packets, bytes;
    if (!sum(output_counters_fd_, slot, &packets, &bytes)) continue;
    store(into_->outputs[slot][out_packets], base_->outputs[slot][out_packets], packets);
    store(into_->outputs[slot][out_bytes], base_->outputs[slot][out_bytes], bytes);
  }
  std::vector<uint64_t> totals(static_cast<size_t>(cpus_));
  uint64_t value[MCR_XDP_TOTALS] = {};
  for (uint32_t t = 0; t < MCR_XDP_TOTALS; ++t)
    if (bpf_map_lookup_elem(totals_fd_, &t, totals.data()) == 0)
      for (uint64_t v : totals) value[t] += v;
  store(into_->counters[rx_frames], base_->counters[rx_frames], value[MCR_XDP_RX_FRAMES]);
  store(into_->counters[rx_bytes], base_->counters[rx_bytes], value[MCR_XDP_RX_BYTES]);
  store(into_->counters[matched], base_->counters[matched], value[MCR_XDP_RX_FRAMES]);
  store(into_->counters[tx_packets], base_->counters[tx_packets], value[MCR_XDP_TX_PACKETS]);
  store(into_->counters[tx_bytes], base_->counters[tx_bytes], value[MCR_XDP_TX_BYTES]);
  store(into_->counters[ttl_expired], base_->counters[ttl_expired], value[MCR_XDP_TTL_EXPIRED]);
}

}  // namespace mcr
