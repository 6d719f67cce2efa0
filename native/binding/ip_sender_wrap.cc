// SPDX-License-Identifier: MIT
// The IP sender's JS face: open in the constructor, one synchronous send per packet, close().
#include "ip_sender_wrap.h"

#include <string>

#include "errors.h"

namespace mcr::binding {

Napi::Function IpSenderWrap::Define(Napi::Env env) {
  return DefineClass(env, "IpSender",
                     {InstanceMethod("send", &IpSenderWrap::JS_send), InstanceMethod("close", &IpSenderWrap::JS_close),
                      InstanceAccessor("interface", &IpSenderWrap::JS_interface, nullptr),
                      InstanceAccessor("ifindex", &IpSenderWrap::JS_ifindex, nullptr),
                      InstanceAccessor("mtu", &IpSenderWrap::JS_mtu, nullptr)});
}

IpSenderWrap::IpSenderWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<IpSenderWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) type_error(env, "an interface name", "ifname");
  std::string error;
  if (int rc = sender_.open(info[0].As<Napi::String>().Utf8Value(), &error); rc < 0) throw errno_error(env, rc, error);
}

// send(packet: Uint8Array) -> bytes sent; the packet is a whole IPv4 multicast packet, sent as given.
Napi::Value IpSenderWrap::JS_send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    type_error(env, "a Buffer or Uint8Array", "packet");
  Napi::Uint8Array packet = info[0].As<Napi::Uint8Array>();
  std::string error;
  const ssize_t n = sender_.send(packet.Data(), packet.ByteLength(), &error);
  if (n < 0) throw errno_error(env, int(n), error);
  return Napi::Number::New(env, double(n));
}

// close(): idempotent; send() afterwards throws EBADF.
Napi::Value IpSenderWrap::JS_close(const Napi::CallbackInfo& info) {
  sender_.close();
  return info.Env().Undefined();
}

Napi::Value IpSenderWrap::JS_interface(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), sender_.ifname());
}

Napi::Value IpSenderWrap::JS_ifindex(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), sender_.ifindex());
}

Napi::Value IpSenderWrap::JS_mtu(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), sender_.mtu());
}

}  // namespace mcr::binding
