// SPDX-License-Identifier: MIT
// The kernel route lookup's JS face (mcr/route_lookup.h): the function routeLookup(address), and
// the JS class RouteMonitor, whose netlink socket is polled on the JS thread's event loop and
// drained there, calling onChange(count) after each read that saw changes. While polling it keeps
// the object alive and the loop running, as a net.Socket does; close() or the finalizer stops it.
#pragma once
#include <napi.h>
#include <uv.h>

#include "uv_poll.h"

#include "mcr/route_lookup.h"

namespace mcr::binding {

// routeLookup(address: string) -> { interface, ifindex, gateway?, preferredSource?, type, prefixLength }
Napi::Value RouteLookup(const Napi::CallbackInfo& info);

class RouteMonitorWrap : public Napi::ObjectWrap<RouteMonitorWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit RouteMonitorWrap(const Napi::CallbackInfo& info);
  ~RouteMonitorWrap() override;

 private:
  Napi::Value JS_close(const Napi::CallbackInfo& info);

  static void on_poll(uv_poll_t* handle, int status, int events);
  void stop();

  RouteMonitor monitor_;
  UvPoll poll_;
  Napi::FunctionReference callback_;
  // The poll holds a strong reference on the JS object while armed.
  bool holding_ = false;
};

}  // namespace mcr::binding
