// SPDX-License-Identifier: MIT
// JS class Counters: a read view of the counter file, summed at scrape time.
#pragma once
#include <napi.h>

#include "mcr/counters.h"

namespace mcr::binding {

class CountersWrap : public Napi::ObjectWrap<CountersWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit CountersWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value JS_snapshot(const Napi::CallbackInfo& info);
  Napi::Value JS_drainSpans(const Napi::CallbackInfo& info);
  Napi::Value JS_skipSpans(const Napi::CallbackInfo& info);
  Napi::Value JS_drainPunts(const Napi::CallbackInfo& info);
  Napi::Value JS_setPunt(const Napi::CallbackInfo& info);
  Napi::Value JS_setTrace(const Napi::CallbackInfo& info);
  Napi::Value JS_traceState(const Napi::CallbackInfo& info);
  Napi::Value JS_close(const Napi::CallbackInfo& info);
  CounterRegion region_;
};

}  // namespace mcr::binding
