// SPDX-License-Identifier: MIT
// The PIM socket's JS face. The readable callback runs on the JS thread from a uv_poll on the
// socket's poll fd (messages waiting, or the interface gone down); the JS side then drains it
// with receive(max), which also reports the interface going down.
#include "pim_socket_wrap.h"

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "errors.h"
#include "mcr/address_text.h"

namespace mcr::binding {

namespace {

constexpr uint32_t kMaxReceive = 1024;

std::string where(const PimSocket& socket) { return "PIM socket on " + socket.ifname() + ": "; }

}  // namespace

Napi::Function PimSocketWrap::Define(Napi::Env env) {
  return DefineClass(
      env, "PimSocket",
      {InstanceMethod("onReadable", &PimSocketWrap::JS_onReadable),
       InstanceMethod("receive", &PimSocketWrap::JS_receive), InstanceMethod("send", &PimSocketWrap::JS_send),
       InstanceMethod("close", &PimSocketWrap::JS_close),
       InstanceAccessor("interface", &PimSocketWrap::JS_interface, nullptr),
       InstanceAccessor("ifindex", &PimSocketWrap::JS_ifindex, nullptr)});
}

PimSocketWrap::PimSocketWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PimSocketWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) type_error(env, "an interface name", "ifname");
  std::string error;
  if (int rc = socket_.open(info[0].As<Napi::String>().Utf8Value(), &error); rc < 0) throw errno_error(env, rc, error);
}

PimSocketWrap::~PimSocketWrap() {
  // Finalizer (GC, or the environment's teardown at exit): the uv handle is closed without
  // calling JS; the strong reference, if any, is the one being finalized.
  poll_.stop();
  socket_.close();
}

int PimSocketWrap::start_poll() { return poll_.start(Env(), socket_.poll_fd(), on_poll, this); }

void PimSocketWrap::on_poll(uv_poll_t* handle, int status, int) {
  auto* self = static_cast<PimSocketWrap*>(handle->data);
  if (!self || self->callback_.IsEmpty()) return;
  Napi::Env env = self->Env();
  Napi::HandleScope scope(env);
  napi_value argument = env.Undefined();
  if (status < 0) {
    // The poll fd is an epoll fd, which raises no POLLERR: socket errors come from receive().
    // libuv stopped the handle; this is the poll itself failing, and it is not restarted.
    self->poll_.stop();
    argument = errno_error(env, status, where(self->socket_) + "uv_poll: " + uv_strerror(status)).Value();
  }
  try {
    self->callback_.MakeCallback(self->Value(), {argument});
  } catch (const Napi::Error& e) {
    // Nothing in JS called us: an exception from the callback is the process's uncaught exception.
    napi_fatal_exception(env, e.Value());
  }
}

// onReadable(callback: (error?: Error) => void): the callback runs whenever messages wait or the
// interface went down (call receive() until it returns fewer than asked; it throws ENETDOWN for
// the latter), or with an error of the poll itself.
Napi::Value PimSocketWrap::JS_onReadable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) type_error(env, "a function", "callback");
  if (socket_.fd() < 0) throw errno_error(env, -EBADF, where(socket_) + "closed");
  callback_ = Napi::Persistent(info[0].As<Napi::Function>());
  if (int rc = start_poll(); rc < 0) throw errno_error(env, rc, where(socket_) + "uv_poll: " + uv_strerror(rc));
  if (!holding_) {
    Ref();
    holding_ = true;
  }
  return env.Undefined();
}

// receive(max) -> [{ data: Buffer, source, destination, ttl, ifindex }]: up to max waiting
// messages (IP header stripped), [] when none.
Napi::Value PimSocketWrap::JS_receive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t max = receive_max_arg(info, kMaxReceive, 64);
  std::vector<PimPacket> packets;
  std::string error;
  if (int rc = socket_.receive(&packets, max, &error); rc < 0) throw errno_error(env, rc, error);
  Napi::Array out = Napi::Array::New(env, packets.size());
  for (size_t i = 0; i < packets.size(); ++i) {
    Napi::Object p = Napi::Object::New(env);
    p.Set("data", Napi::Buffer<uint8_t>::Copy(env, packets[i].data.data(), packets[i].data.size()));
    p.Set("source", address_text(packets[i].source));
    p.Set("destination", address_text(packets[i].destination));
    p.Set("ttl", packets[i].ttl);
    p.Set("ifindex", packets[i].ifindex);
    out.Set(uint32_t(i), p);
  }
  return out;
}

// send(message: Uint8Array, destination: string) -> bytes sent; the message is a whole PIM
// message (header and checksum included), without an IP header.
Napi::Value PimSocketWrap::JS_send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    type_error(env, "a Buffer or Uint8Array", "message");
  if (info.Length() < 2 || !info[1].IsString()) type_error(env, "an IPv4 address string", "destination");
  Napi::Uint8Array message = info[0].As<Napi::Uint8Array>();
  const std::string text = info[1].As<Napi::String>().Utf8Value();
  in_addr destination{};
  if (inet_pton(AF_INET, text.c_str(), &destination) != 1)
    type_error(env, "an IPv4 address (got \"" + text + "\")", "destination");
  std::string error;
  const ssize_t n = socket_.send(message.Data(), message.ByteLength(), destination.s_addr, &error);
  if (n < 0) throw errno_error(env, int(n), error);
  return Napi::Number::New(env, double(n));
}

// close(): stops the callbacks and closes the socket; idempotent.
Napi::Value PimSocketWrap::JS_close(const Napi::CallbackInfo& info) {
  poll_.stop();
  socket_.close();
  callback_.Reset();
  if (holding_) {
    holding_ = false;
    Unref();
  }
  return info.Env().Undefined();
}

Napi::Value PimSocketWrap::JS_interface(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), socket_.ifname());
}

Napi::Value PimSocketWrap::JS_ifindex(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), socket_.ifindex());
}

}  // namespace mcr::binding
