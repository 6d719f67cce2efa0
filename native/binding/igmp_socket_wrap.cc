// SPDX-License-Identifier: MIT
// The IGMP socket's JS face. The readable callback runs on the JS thread from a uv_poll on the
// socket's fd; the JS side then drains it with receive(max).
#include "igmp_socket_wrap.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "errors.h"

namespace mcr::binding {

namespace {

constexpr uint32_t kMaxReceive = 1024;

std::string mac_text(const uint8_t mac[6]) {
  char text[18];
  std::snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  return text;
}

}  // namespace

Napi::Function IgmpSocketWrap::Define(Napi::Env env) {
  return DefineClass(
      env, "IgmpSocket",
      {InstanceMethod("onReadable", &IgmpSocketWrap::JS_onReadable),
       InstanceMethod("receive", &IgmpSocketWrap::JS_receive), InstanceMethod("send", &IgmpSocketWrap::JS_send),
       InstanceMethod("close", &IgmpSocketWrap::JS_close),
       InstanceAccessor("interface", &IgmpSocketWrap::JS_interface, nullptr),
       InstanceAccessor("ifindex", &IgmpSocketWrap::JS_ifindex, nullptr)});
}

IgmpSocketWrap::IgmpSocketWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<IgmpSocketWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) type_error(env, "an interface name", "ifname");
  std::string error;
  if (int rc = socket_.open(info[0].As<Napi::String>().Utf8Value(), &error); rc < 0) throw errno_error(env, rc, error);
}

IgmpSocketWrap::~IgmpSocketWrap() {
  // Finalizer (GC, or the environment's teardown at exit): the uv handle is closed without
  // calling JS; the strong reference, if any, is the one being finalized.
  poll_.stop();
  socket_.close();
}

int IgmpSocketWrap::start_poll() { return poll_.start(Env(), socket_.fd(), on_poll, this); }

void IgmpSocketWrap::on_poll(uv_poll_t* handle, int status, int) {
  auto* self = static_cast<IgmpSocketWrap*>(handle->data);
  if (!self || self->callback_.IsEmpty()) return;
  Napi::Env env = self->Env();
  Napi::HandleScope scope(env);
  napi_value argument = env.Undefined();
  if (status < 0) {
    // libuv turns POLLERR into UV_EBADF and stops the handle. A packet socket raises POLLERR for a
    // one-shot socket error (ENETDOWN when the interface goes down): read and clear it, report
    // it, and poll again, since the socket works once the interface is back.
    int err = 0;
    socklen_t len = sizeof(err);
    if (self->socket_.fd() >= 0 && getsockopt(self->socket_.fd(), SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
      self->poll_.stop();
      if (self->start_poll() != 0) err = EBADF;
    } else {
      err = -status;
    }
    argument = errno_error(env, -err, "IGMP socket on " + self->socket_.ifname() + ": " + std::strerror(err)).Value();
  }
  try {
    self->callback_.MakeCallback(self->Value(), {argument});
  } catch (const Napi::Error& e) {
    // Nothing in JS called us: an exception from the callback is the process's uncaught exception.
    napi_fatal_exception(env, e.Value());
  }
}

// onReadable(callback: (error?: Error) => void): the callback runs whenever packets wait (call
// receive() until it returns fewer than asked), or with an error the socket reported.
Napi::Value IgmpSocketWrap::JS_onReadable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) type_error(env, "a function", "callback");
  if (socket_.fd() < 0) throw errno_error(env, -EBADF, "IGMP socket on " + socket_.ifname() + ": closed");
  callback_ = Napi::Persistent(info[0].As<Napi::Function>());
  if (int rc = start_poll(); rc < 0)
    throw errno_error(env, rc, "IGMP socket on " + socket_.ifname() + ": uv_poll: " + uv_strerror(rc));
  if (!holding_) {
    Ref();
    holding_ = true;
  }
  return env.Undefined();
}

// receive(max) -> [{ data: Buffer, ifindex, sourceMac }]: up to max waiting packets, [] when none.
Napi::Value IgmpSocketWrap::JS_receive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t max = receive_max_arg(info, kMaxReceive, 64);
  std::vector<IgmpPacket> packets;
  std::string error;
  if (int rc = socket_.receive(&packets, max, &error); rc < 0) throw errno_error(env, rc, error);
  Napi::Array out = Napi::Array::New(env, packets.size());
  for (size_t i = 0; i < packets.size(); ++i) {
    Napi::Object p = Napi::Object::New(env);
    p.Set("data", Napi::Buffer<uint8_t>::Copy(env, packets[i].data.data(), packets[i].data.size()));
    p.Set("ifindex", packets[i].ifindex);
    p.Set("sourceMac", mac_text(packets[i].source_mac));
    out.Set(uint32_t(i), p);
  }
  return out;
}

// send(packet: Uint8Array, group: string) -> bytes sent; the packet is a whole IPv4 datagram.
Napi::Value IgmpSocketWrap::JS_send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    type_error(env, "a Buffer or Uint8Array", "packet");
  if (info.Length() < 2 || !info[1].IsString()) type_error(env, "an IPv4 multicast group string", "group");
  Napi::Uint8Array packet = info[0].As<Napi::Uint8Array>();
  in_addr group{};
  if (inet_pton(AF_INET, info[1].As<Napi::String>().Utf8Value().c_str(), &group) != 1)
    type_error(env, "an IPv4 multicast group", "group");
  std::string error;
  const ssize_t n = socket_.send(packet.Data(), packet.ByteLength(), group.s_addr, &error);
  if (n < 0) throw errno_error(env, int(n), error);
  return Napi::Number::New(env, double(n));
}

// close(): stops the callbacks and closes the socket; idempotent.
Napi::Value IgmpSocketWrap::JS_close(const Napi::CallbackInfo& info) {
  poll_.stop();
  socket_.close();
  callback_.Reset();
  if (holding_) {
    holding_ = false;
    Unref();
  }
  return info.Env().Undefined();
}

Napi::Value IgmpSocketWrap::JS_interface(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), socket_.ifname());
}

Napi::Value IgmpSocketWrap::JS_ifindex(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), socket_.ifindex());
}

}  // namespace mcr::binding
