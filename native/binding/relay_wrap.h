// SPDX-License-Identifier: MIT
// JS class Relay: one forwarding core (worker threads + rule table) per data-plane process.
#pragma once
#include <napi.h>

#include <memory>

#include "mcr/relay.h"

namespace mcr::binding {

class RelayWrap : public Napi::ObjectWrap<RelayWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit RelayWrap(const Napi::CallbackInfo& info);
  ~RelayWrap() override;

 private:
  Napi::Value JS_start(const Napi::CallbackInfo& info);
  Napi::Value JS_setRules(const Napi::CallbackInfo& info);
  Napi::Value JS_reconcile(const Napi::CallbackInfo& info);
  Napi::Value JS_pollKernelStats(const Napi::CallbackInfo& info);
  Napi::Value JS_stop(const Napi::CallbackInfo& info);
  Napi::Value JS_workers(const Napi::CallbackInfo& info);
  Napi::Value JS_inputs(const Napi::CallbackInfo& info);
  Napi::Value JS_xdp(const Napi::CallbackInfo& info);

  RelayOptions options_;
  std::unique_ptr<Relay> relay_;
};

}  // namespace mcr::binding
