// SPDX-License-Identifier: MIT
// Addon registry: the only place that names what the .node module exports.
// Built with NAPI_CPP_EXCEPTIONS: argument errors surface as JS TypeErrors thrown from C++;
// the forwarding core itself never throws on the packet path.
#include <napi.h>

#include "counters_wrap.h"
#include "relay_wrap.h"

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Relay", mcr::binding::RelayWrap::Define(env));
  exports.Set("Counters", mcr::binding::CountersWrap::Define(env));
  return exports;
}
}  // namespace

NODE_API_MODULE(mcr_native, Init)
