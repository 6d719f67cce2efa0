// SPDX-License-Identifier: MIT
// routeLookup and RouteMonitor for JS. A lookup is a synchronous netlink round trip (the kernel
// answers at once; bounded to about a second per request), cheap enough for the JS thread at the
// rate PIM asks: when a watched address is added and when the monitor reports a change.
#include "route_lookup_wrap.h"

#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <cerrno>
#include <string>

#include "errors.h"
#include "mcr/address_text.h"

namespace mcr::binding {

namespace {

// The rtm_type names `ip route` prints.
const char* type_name(uint8_t type) {
  switch (type) {
    case RTN_UNICAST: return "unicast";
    case RTN_LOCAL: return "local";
    case RTN_BROADCAST: return "broadcast";
    case RTN_ANYCAST: return "anycast";
    case RTN_MULTICAST: return "multicast";
    case RTN_BLACKHOLE: return "blackhole";
    case RTN_UNREACHABLE: return "unreachable";
    case RTN_PROHIBIT: return "prohibit";
    case RTN_THROW: return "throw";
    case RTN_NAT: return "nat";
    case RTN_XRESOLVE: return "xresolve";
    default: return "unspec";
  }
}

}  // namespace

Napi::Value RouteLookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) type_error(env, "an IPv4 address string", "address");
  const std::string text = info[0].As<Napi::String>().Utf8Value();
  in_addr destination{};
  if (inet_pton(AF_INET, text.c_str(), &destination) != 1)
    type_error(env, "an IPv4 address (got \"" + text + "\")", "address");
  RouteAnswer answer;
  std::string error;
  if (int rc = route_lookup(destination.s_addr, &answer, &error); rc < 0) throw errno_error(env, rc, error);
  char name[IF_NAMESIZE] = {};
  // An interface gone since the answer has no name: "" (the next change notification follows).
  if (answer.ifindex == 0 || !if_indextoname(unsigned(answer.ifindex), name)) name[0] = '\0';
  Napi::Object out = Napi::Object::New(env);
  out.Set("interface", std::string(name));
  out.Set("ifindex", answer.ifindex);
  if (answer.gateway != 0) out.Set("gateway", address_text(answer.gateway));
  if (answer.preferred_source != 0) out.Set("preferredSource", address_text(answer.preferred_source));
  out.Set("type", type_name(answer.type));
  out.Set("prefixLength", answer.prefix_length);
  return out;
}

Napi::Function RouteMonitorWrap::Define(Napi::Env env) {
  return DefineClass(env, "RouteMonitor", {InstanceMethod("close", &RouteMonitorWrap::JS_close)});
}

// new RouteMonitor(onChange: (count: number, error?: Error) => void)
RouteMonitorWrap::RouteMonitorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RouteMonitorWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) type_error(env, "a function", "onChange");
  std::string error;
  if (int rc = monitor_.open(&error); rc < 0) throw errno_error(env, rc, error);
  if (int rc = poll_.start(env, monitor_.poll_fd(), on_poll, this); rc < 0) {
    monitor_.close();
    throw errno_error(env, rc, std::string("route monitor: uv_poll: ") + uv_strerror(rc));
  }
  callback_ = Napi::Persistent(info[0].As<Napi::Function>());
  Ref();
  holding_ = true;
}

RouteMonitorWrap::~RouteMonitorWrap() {
  // Finalizer (GC, or the environment's teardown at exit): no JS is called.
  poll_.stop();
  monitor_.close();
}

void RouteMonitorWrap::stop() {
  poll_.stop();
  monitor_.close();
  callback_.Reset();
  if (holding_) {
    holding_ = false;
    Unref();
  }
}

void RouteMonitorWrap::on_poll(uv_poll_t* handle, int status, int) {
  auto* self = static_cast<RouteMonitorWrap*>(handle->data);
  if (!self || self->callback_.IsEmpty()) return;
  Napi::Env env = self->Env();
  Napi::HandleScope scope(env);
  int changes = 0;
  napi_value failure = nullptr;
  if (status < 0) {
    failure = errno_error(env, status, std::string("route monitor: uv_poll: ") + uv_strerror(status)).Value();
  } else {
    std::string error;
    changes = self->monitor_.drain(&error);
    if (changes < 0) failure = errno_error(env, changes, error).Value();
    if (changes == 0) return;  // notifications of nothing it counts
  }
  // A failed read or poll is not retried (it would fail again at once): the callback hears of it
  // once, with the monitor closed.
  Napi::Object receiver = self->Value();
  Napi::FunctionReference callback;
  if (failure) {
    callback = Napi::Persistent(self->callback_.Value());
    self->stop();
  }
  Napi::Function function = failure ? callback.Value() : self->callback_.Value();
  try {
    if (failure)
      function.MakeCallback(receiver, {Napi::Number::New(env, 0), failure});
    else
      function.MakeCallback(receiver, {Napi::Number::New(env, changes)});
  } catch (const Napi::Error& e) {
    // Nothing in JS called us: an exception from the callback is the process's uncaught exception.
    napi_fatal_exception(env, e.Value());
  }
}

// close(): stops the callbacks and closes the socket; idempotent.
Napi::Value RouteMonitorWrap::JS_close(const Napi::CallbackInfo& info) {
  stop();
  return info.Env().Undefined();
}

}  // namespace mcr::binding
