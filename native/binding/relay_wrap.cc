// SPDX-License-Identifier: MIT
// Converts JS rule objects to core RuleConfig (the TypeScript side has validated them; these
// checks are a backstop so a bad call is a TypeError, never undefined behaviour).
#include "relay_wrap.h"

#include <arpa/inet.h>

#include "errors.h"

namespace mcr::binding {

namespace {
uint32_t require_ipv4(Napi::Env env, Napi::Object obj, const char* key, const std::string& where,
                      bool optional = false) {
  Napi::Value v = obj.Get(key);
  if (optional && (v.IsUndefined() || v.IsNull())) return 0;
  if (!v.IsString()) type_error(env, "an IPv4 address string", where + "." + key);
  in_addr addr{};
  if (inet_pton(AF_INET, v.As<Napi::String>().Utf8Value().c_str(), &addr) != 1)
    type_error(env, "an IPv4 address", where + "." + key);
  return addr.s_addr;
}

Napi::Array status_array(Napi::Env env, const std::vector<RuleStatus>& status) {
  Napi::Array out = Napi::Array::New(env, status.size());
  for (size_t i = 0; i < status.size(); ++i) {
    Napi::Object s = Napi::Object::New(env);
    s.Set("input", status[i].input_up ? "up" : "waiting-for-interface");
    Napi::Array outs = Napi::Array::New(env, status[i].outputs_up.size());
    for (size_t o = 0; o < status[i].outputs_up.size(); ++o)
      outs.Set(uint32_t(o), status[i].outputs_up[o] ? "up" : "waiting-for-interface");
    s.Set("outputs", outs);
    if (!status[i].error.empty()) s.Set("error", status[i].error);
    out.Set(uint32_t(i), s);
  }
  return out;
}
}  // namespace

Napi::Function RelayWrap::Define(Napi::Env env) {
  return DefineClass(
      env, "Relay",
      {InstanceMethod("start", &RelayWrap::JS_start), InstanceMethod("setRules", &RelayWrap::JS_setRules),
       InstanceMethod("reconcile", &RelayWrap::JS_reconcile),
       InstanceMethod("pollKernelStats", &RelayWrap::JS_pollKernelStats), InstanceMethod("stop", &RelayWrap::JS_stop),
       InstanceMethod("workers", &RelayWrap::JS_workers), InstanceMethod("inputs", &RelayWrap::JS_inputs),
       InstanceMethod("xdp", &RelayWrap::JS_xdp)});
}

RelayWrap::RelayWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RelayWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) type_error(env, "an options object", "options");
  Napi::Object opts = info[0].As<Napi::Object>();
  options_.workers = require_uint(env, opts, "workers", "options", kMaxWorkers);
  options_.ring_bytes = size_t(require_uint(env, opts, "ringBytes", "options", 1u << 30));
  options_.counters_path = require_string(env, opts, "countersPath", "options");
  if (!opts.Get("xdpObject").IsUndefined()) options_.xdp_object = require_string(env, opts, "xdpObject", "options");
  if (!opts.Get("realtimePriority").IsUndefined())
    options_.realtime_priority = int(require_uint(env, opts, "realtimePriority", "options", 99));
  if (!opts.Get("busyPoll").IsUndefined()) {
    if (!opts.Get("busyPoll").IsBoolean()) type_error(env, "a boolean", "options.busyPoll");
    options_.busy_poll = opts.Get("busyPoll").As<Napi::Boolean>();
  }
  if (!opts.Get("wakeupHoldoffUs").IsUndefined())
    options_.wakeup_holdoff_us = require_uint(env, opts, "wakeupHoldoffUs", "options", 1000);
  if (!opts.Get("packetEgress").IsUndefined()) {
    if (!opts.Get("packetEgress").IsBoolean()) type_error(env, "a boolean", "options.packetEgress");
    options_.packet_egress = opts.Get("packetEgress").As<Napi::Boolean>();
  }
  if (!opts.Get("spanSampleEvery").IsUndefined())
    options_.span_sample_every = require_uint(env, opts, "spanSampleEvery", "options", 1u << 20);
  if (opts.Get("cpus").IsArray())
    options_.cpus = require_int_array(env, opts.Get("cpus"), "a CPU number", "options.cpus");
  relay_ = std::make_unique<Relay>();
}

RelayWrap::~RelayWrap() {
  if (relay_) relay_->stop();
}

Napi::Value RelayWrap::JS_start(const Napi::CallbackInfo& info) {
  std::string error;
  if (int rc = relay_->start(options_, &error); rc != 0) throw errno_error(info.Env(), rc, error);
  return info.Env().Undefined();
}

Napi::Value RelayWrap::JS_setRules(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) type_error(env, "an array of rules", "rules");
  Napi::Array list = info[0].As<Napi::Array>();
  std::vector<RuleConfig> rules;
  rules.reserve(list.Length());
  for (uint32_t i = 0; i < list.Length(); ++i) {
    const std::string where = "rules[" + std::to_string(i) + "]";
    if (!list.Get(i).IsObject()) type_error(env, "an object", where);
    Napi::Object r = list.Get(i).As<Napi::Object>();
    RuleConfig rule;
    rule.input_interface = require_string(env, r, "interface", where);
    rule.group = require_ipv4(env, r, "group", where);
    rule.port = uint16_t(require_uint(env, r, "port", where, 65535));
    rule.source = require_ipv4(env, r, "source", where, true);
    if (rule.source != 0 && (IN_MULTICAST(ntohl(rule.source)) || rule.source == INADDR_BROADCAST))
      type_error(env, "a unicast IPv4 address", where + ".source");
    Napi::Value protocol = r.Get("protocol");
    if (!protocol.IsUndefined()) {
      const std::string name = protocol.IsString() ? protocol.As<Napi::String>().Utf8Value() : "";
      if (name == "esp")
        rule.protocol = Protocol::esp;
      else if (name != "udp")
        type_error(env, "\"udp\" or \"esp\"", where + ".protocol");
    }
    if (rule.protocol == Protocol::esp && rule.port != 0) type_error(env, "0 (ESP has no ports)", where + ".port");
    if (Napi::Value punt = r.Get("punt"); !punt.IsUndefined()) {
      const std::string name = punt.IsString() ? punt.As<Napi::String>().Utf8Value() : "";
      for (uint8_t k = 1; k < kPuntReasonCount; ++k)
        if (name == punt_reason_name(k)) rule.punt = PuntReason(k);
      if (rule.punt == PuntReason::none)
        type_error(env, "\"new_source\", \"register\" or \"wrong_interface\"", where + ".punt");
    }
    if (Napi::Value join = r.Get("joinGroup"); !join.IsUndefined()) {
      if (!join.IsBoolean()) type_error(env, "a boolean", where + ".joinGroup");
      rule.join_group = join.As<Napi::Boolean>().Value();
    }
    // Group 0.0.0.0: the input's (*,*) entry (mcr/rule_table.h), only as a punting rule.
    if (rule.group == 0 &&
        (rule.punt == PuntReason::none || rule.port != 0 || rule.source != 0 || rule.protocol != Protocol::udp ||
         (r.Get("outputs").IsArray() && r.Get("outputs").As<Napi::Array>().Length() != 0)))
      type_error(env, "a multicast group (0.0.0.0 only for a punting rule with port 0, no source and no outputs)",
                 where + ".group");
    rule.counter_slot = require_uint(env, r, "slot", where, kMaxRuleSlots - 1);
    Napi::Value outs = r.Get("outputs");
    if (!outs.IsArray()) type_error(env, "an array", where + ".outputs");
    Napi::Array olist = outs.As<Napi::Array>();
    for (uint32_t j = 0; j < olist.Length(); ++j) {
      const std::string owhere = where + ".outputs[" + std::to_string(j) + "]";
      if (!olist.Get(j).IsObject()) type_error(env, "an object", owhere);
      Napi::Object o = olist.Get(j).As<Napi::Object>();
      OutputConfig out;
      out.interface = require_string(env, o, "interface", owhere);
      out.group = require_ipv4(env, o, "group", owhere);
      out.port = uint16_t(require_uint(env, o, "port", owhere, 65535));
      if (o.Get("ttl").IsString() && o.Get("ttl").As<Napi::String>().Utf8Value() == "decrement") {
        out.decrement_ttl = true;
        out.ttl = 1;
      } else {
        out.ttl = uint8_t(require_uint(env, o, "ttl", owhere, 255));
      }
      out.source = require_ipv4(env, o, "source", owhere, true);
      out.counter_slot = require_uint(env, o, "slot", owhere, kMaxOutputSlots - 1);
      Napi::Value routed = o.Get("routed");
      if (!routed.IsUndefined()) {
        if (!routed.IsBoolean()) type_error(env, "a boolean", owhere + ".routed");
        out.routed = routed.As<Napi::Boolean>();
      }
      if (rule.protocol == Protocol::esp && !routed.IsUndefined() && !out.routed)
        type_error(env, "true or absent (an ESP rule's outputs are always routed)", owhere + ".routed");
      if (out.port == 0 && rule.port != 0 && !out.routed && rule.protocol == Protocol::udp)
        type_error(env, "a port from 1 to 65535 (port 0 keeps the datagram's port: rules with port 0 only)",
                   owhere + ".port");
      rule.outputs.push_back(out);
    }
    rules.push_back(std::move(rule));
  }
  bool all_or_nothing = false;
  if (info.Length() >= 2 && !info[1].IsUndefined()) {
    if (!info[1].IsBoolean()) type_error(env, "a boolean", "allOrNothing");
    all_or_nothing = info[1].As<Napi::Boolean>();
  }
  std::vector<RuleStatus> status;
  std::string error;
  const int rc = relay_->set_rules(rules, &status, &error, all_or_nothing);
  if (rc < 0) throw errno_error(env, rc, error);
  Napi::Object out = Napi::Object::New(env);
  out.Set("applied", rc == kRulesApplied);
  out.Set("statuses", status_array(env, status));
  return out;
}

Napi::Value RelayWrap::JS_reconcile(const Napi::CallbackInfo& info) {
  std::vector<RuleStatus> status;
  std::string error;
  int rc = relay_->reconcile(&status, &error);
  if (rc < 0) throw errno_error(info.Env(), rc, error);
  if (rc == 0) return info.Env().Null();
  return status_array(info.Env(), status);
}

Napi::Value RelayWrap::JS_pollKernelStats(const Napi::CallbackInfo& info) {
  relay_->poll_kernel_stats();
  return info.Env().Undefined();
}

Napi::Value RelayWrap::JS_stop(const Napi::CallbackInfo& info) {
  relay_->stop();
  return info.Env().Undefined();
}

Napi::Value RelayWrap::JS_workers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, relay_->worker_count());
  for (unsigned i = 0; i < relay_->worker_count(); ++i) {
    Napi::Object w = Napi::Object::New(env);
    w.Set("worker", i);
    w.Set("cpu", relay_->worker_cpu(i));
    w.Set("tid", relay_->worker_tid(i));
    w.Set("realtime", relay_->worker_realtime(i));
    w.Set("pinned", relay_->worker_pinned(i));
    out.Set(i, w);
  }
  return out;
}

Napi::Value RelayWrap::JS_inputs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<InputInfo> inputs = relay_->inputs();
  Napi::Array out = Napi::Array::New(env, inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("interface", inputs[i].interface);
    o.Set("ifindex", inputs[i].ifindex);
    o.Set("rings", inputs[i].rings);
    o.Set("fanoutGroup", inputs[i].fanout_group < 0 ? env.Null() : Napi::Number::New(env, inputs[i].fanout_group));
    o.Set("xdp", inputs[i].xdp.empty() ? env.Null() : Napi::String::New(env, inputs[i].xdp));
    out.Set(uint32_t(i), o);
  }
  return out;
}

// xdp() -> { rules: number, status: string | null }: what the XDP path forwards, and why not more.
Napi::Value RelayWrap::JS_xdp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("rules", double(relay_->xdp_rules()));
  o.Set("status", relay_->xdp_status().empty() ? env.Null() : Napi::String::New(env, relay_->xdp_status()));
  return o;
}

}  // namespace mcr::binding
