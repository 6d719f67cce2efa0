// SPDX-License-Identifier: MIT
// JS class IpSender: sends whole IPv4 multicast packets out of one Ethernet interface
// (mcr/ip_sender.h), synchronously on the JS thread.
#pragma once
#include <napi.h>

#include "mcr/ip_sender.h"

namespace mcr::binding {

class IpSenderWrap : public Napi::ObjectWrap<IpSenderWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit IpSenderWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value JS_send(const Napi::CallbackInfo& info);
  Napi::Value JS_close(const Napi::CallbackInfo& info);
  Napi::Value JS_interface(const Napi::CallbackInfo& info);
  Napi::Value JS_ifindex(const Napi::CallbackInfo& info);
  Napi::Value JS_mtu(const Napi::CallbackInfo& info);

  IpSender sender_;
};

}  // namespace mcr::binding
