// SPDX-License-Identifier: MIT
// Addon registry: the only place that names what the .node module exports.
// Built with NAPI_CPP_EXCEPTIONS: argument errors surface as JS TypeErrors thrown from C++;
// the forwarding core itself never throws on the packet path.
#include <napi.h>

#include "counters_wrap.h"
#include "errors.h"
#include "mcr/affinity.h"
#include "relay_wrap.h"

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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Relay", mcr::binding::RelayWrap::Define(env));
  exports.Set("Counters", mcr::binding::CountersWrap::Define(env));
  exports.Set("confineThreads", Napi::Function::New(env, ConfineThreads, "confineThreads"));
  return exports;
}
}  // namespace

NODE_API_MODULE(mcr_native, Init)
