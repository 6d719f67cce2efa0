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

std::vector<int> int_array(Napi::Env env, const Napi::Value& value, const char* name) {
  if (!value.IsArray()) mcr::binding::type_error(env, "an array of integers", name);
  Napi::Array array = value.As<Napi::Array>();
  std::vector<int> out;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value v = array.Get(i);
    if (!v.IsNumber()) mcr::binding::type_error(env, "an array of integers", name);
    out.push_back(v.As<Napi::Number>().Int32Value());
  }
  return out;
}

// confineThreads(workerCpus: number[], keepTids: number[]) -> threads moved
Napi::Value ConfineThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<int> cpus = int_array(env, info[0], "workerCpus");
  std::vector<int> keep = int_array(env, info[1], "keepTids");
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
