// SPDX-License-Identifier: MIT
// Argument checks with fixed wording, and -errno to JS Error conversion.
#pragma once
#include <napi.h>

#include <cstring>
#include <string>
#include <vector>

namespace mcr::binding {

inline Napi::Error errno_error(Napi::Env env, int negative_errno, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  const char* name = strerrorname_np(-negative_errno);
  e.Set("code", Napi::String::New(env, name ? name : "EIO"));
  return e;
}

[[noreturn]] inline void type_error(Napi::Env env, const std::string& what, const std::string& name) {
  throw Napi::TypeError::New(env, "Expected " + what + " for " + name);
}

inline std::string require_string(Napi::Env env, Napi::Object obj, const char* key, const std::string& where) {
  Napi::Value v = obj.Get(key);
  if (!v.IsString()) type_error(env, "a string", where + "." + key);
  return v.As<Napi::String>().Utf8Value();
}

inline uint32_t require_uint(Napi::Env env, Napi::Object obj, const char* key, const std::string& where, uint32_t max) {
  Napi::Value v = obj.Get(key);
  if (!v.IsNumber()) type_error(env, "a number", where + "." + key);
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= max) || d != double(uint32_t(d)))
    type_error(env, "an integer from 0 to " + std::to_string(max), where + "." + key);
  return uint32_t(d);
}

// receive(max)'s argument of the protocol sockets: an integer from 1 to `limit`, `fallback` when absent.
inline uint32_t receive_max_arg(const Napi::CallbackInfo& info, uint32_t limit, uint32_t fallback) {
  if (info.Length() < 1 || info[0].IsUndefined()) return fallback;
  if (!info[0].IsNumber()) type_error(info.Env(), "a number", "max");
  const double d = info[0].As<Napi::Number>().DoubleValue();
  if (!(d >= 1 && d <= limit) || d != double(uint32_t(d)))
    type_error(info.Env(), "an integer from 1 to " + std::to_string(limit), "max");
  return uint32_t(d);
}

// An array of numbers as ints; `element` names what each must be ("a CPU number").
inline std::vector<int> require_int_array(Napi::Env env, const Napi::Value& value, const std::string& element,
                                          const std::string& name) {
  if (!value.IsArray()) type_error(env, "an array", name);
  Napi::Array array = value.As<Napi::Array>();
  std::vector<int> out;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value v = array.Get(i);
    if (!v.IsNumber()) type_error(env, element, name + "[" + std::to_string(i) + "]");
    out.push_back(v.As<Napi::Number>().Int32Value());
  }
  return out;
}

}  // namespace mcr::binding
