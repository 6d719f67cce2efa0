// SPDX-License-Identifier: MIT
// Addon registry: the only place that names what the .node module exports.
// Built with NAPI_CPP_EXCEPTIONS: argument errors surface as JS TypeErrors thrown from C++;
// the forwarding core itself never throws on the packet path.
#include <napi.h>

#include "counters_wrap.h"
#include "errors.h"
#include "igmp_socket_wrap.h"
#include "ip_sender_wrap.h"
#include "mcr/affinity.h"
#include "mcr/counters.h"
#include "pim_socket_wrap.h"
#include "relay_wrap.h"
#include "route_lookup_wrap.h"

namespace {

// confineThreads(workerCpus: number[], keepTids: number[]) -> threads moved
Napi::Value ConfineThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<int> cpus = mcr::binding::require_int_array(env, info[0], "a CPU number", "workerCpus");
  std::vector<int> keep = mcr::binding::require_int_array(env, info[1], "a thread id", "keepTids");
  std::string error;
  int rc = mcr::confine_threads(cpus, keep, &error);
  if (rc < 0) throw mcr::binding::errno_error(env, rc, error);
  return Napi::Number::New(env, rc);
}

// removeStaleCounterFiles(dir) -> paths removed (counter files no live process holds)
Napi::Value RemoveStaleCounterFiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) mcr::binding::type_error(env, "a directory path", "dir");
  std::vector<std::string> removed;
  std::string error;
  if (int rc = mcr::remove_stale_counter_files(info[0].As<Napi::String>().Utf8Value(), &removed, &error); rc < 0)
    throw mcr::binding::errno_error(env, rc, error);
  Napi::Array out = Napi::Array::New(env, removed.size());
  for (size_t i = 0; i < removed.size(); ++i) out.Set(uint32_t(i), removed[i]);
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Relay", mcr::binding::RelayWrap::Define(env));
  exports.Set("Counters", mcr::binding::CountersWrap::Define(env));
  exports.Set("IgmpSocket", mcr::binding::IgmpSocketWrap::Define(env));
  exports.Set("PimSocket", mcr::binding::PimSocketWrap::Define(env));
  exports.Set("IpSender", mcr::binding::IpSenderWrap::Define(env));
  exports.Set("RouteMonitor", mcr::binding::RouteMonitorWrap::Define(env));
  exports.Set("routeLookup", Napi::Function::New(env, mcr::binding::RouteLookup, "routeLookup"));
  exports.Set("confineThreads", Napi::Function::New(env, ConfineThreads, "confineThreads"));
  exports.Set("removeStaleCounterFiles", Napi::Function::New(env, RemoveStaleCounterFiles, "removeStaleCounterFiles"));
  return exports;
}
}  // namespace

NODE_API_MODULE(mcr_native, Init)
