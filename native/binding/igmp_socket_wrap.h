// SPDX-License-Identifier: MIT
// JS class IgmpSocket: one interface's IGMP packet socket (mcr/igmp_socket.h), polled on the JS
// thread's event loop. While armed (onReadable) the poll keeps the object alive and the loop
// running, as a net.Socket does; close() or the finalizer stops it.
#pragma once
#include <napi.h>
#include <uv.h>

#include "uv_poll.h"

#include "mcr/igmp_socket.h"

namespace mcr::binding {

class IgmpSocketWrap : public Napi::ObjectWrap<IgmpSocketWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit IgmpSocketWrap(const Napi::CallbackInfo& info);
  ~IgmpSocketWrap() override;

 private:
  Napi::Value JS_onReadable(const Napi::CallbackInfo& info);
  Napi::Value JS_receive(const Napi::CallbackInfo& info);
  Napi::Value JS_send(const Napi::CallbackInfo& info);
  Napi::Value JS_close(const Napi::CallbackInfo& info);
  Napi::Value JS_interface(const Napi::CallbackInfo& info);
  Napi::Value JS_ifindex(const Napi::CallbackInfo& info);

  static void on_poll(uv_poll_t* handle, int status, int events);
  int start_poll();

  IgmpSocket socket_;
  UvPoll poll_;
  Napi::FunctionReference callback_;
  // The poll holds a strong reference on the JS object while armed.
  bool holding_ = false;
};

}  // namespace mcr::binding
