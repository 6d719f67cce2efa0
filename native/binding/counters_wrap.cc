// SPDX-License-Identifier: MIT
// Sums per-worker counter blocks into typed arrays, one N-API call per scrape.
#include "counters_wrap.h"

#include "errors.h"

namespace mcr::binding {

Napi::Function CountersWrap::Define(Napi::Env env) {
  Napi::Function cls = DefineClass(
      env, "Counters",
      {InstanceMethod("snapshot", &CountersWrap::JS_snapshot), InstanceMethod("close", &CountersWrap::JS_close)});
  Napi::Array names = Napi::Array::New(env, kWorkerCounterCount);
  for (uint32_t i = 0; i < kWorkerCounterCount; ++i) names.Set(i, worker_counter_name(i));
  cls.Set("workerCounterNames", names);
  Napi::Array spans = Napi::Array::New(env, kSpanCount);
  for (uint32_t i = 0; i < kSpanCount; ++i) spans.Set(i, span_name(i));
  cls.Set("spanNames", spans);
  cls.Set("spanBuckets", kSpanBuckets);
  cls.Set("maxWorkers", uint32_t(kMaxWorkers));
  cls.Set("maxRuleSlots", uint32_t(kMaxRuleSlots));
  cls.Set("maxOutputSlots", uint32_t(kMaxOutputSlots));
  return cls;
}

CountersWrap::CountersWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CountersWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsBoolean())
    type_error(env, "(path: string, create: boolean)", "Counters arguments");
  std::string error;
  if (int rc = region_.open(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Boolean>(), &error); rc != 0)
    throw errno_error(env, rc, error);
}

// snapshot(workers, ruleSlots: Uint32Array, outputSlots: Uint32Array) ->
//   { workers: Float64Array[] (worker counters, then ringDrops, ringPackets),
//     spans: Float64Array[] (per worker: kSpanBuckets per span, in spanNames order),
//     rules: Float64Array (2 per slot), outputs: Float64Array (3 per slot), dataplaneStarts }
Napi::Value CountersWrap::JS_snapshot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!region_.region()) throw Napi::Error::New(env, "counter file is closed");
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsTypedArray() || !info[2].IsTypedArray())
    type_error(env, "(workers: number, ruleSlots: Uint32Array, outputSlots: Uint32Array)", "snapshot arguments");
  uint32_t workers = info[0].As<Napi::Number>().Uint32Value();
  if (workers > kMaxWorkers) workers = kMaxWorkers;
  Napi::Uint32Array rule_slots = info[1].As<Napi::Uint32Array>();
  Napi::Uint32Array output_slots = info[2].As<Napi::Uint32Array>();
  const auto load = [](const std::atomic<uint64_t>& a) { return double(a.load(std::memory_order_relaxed)); };

  Napi::Object out = Napi::Object::New(env);
  Napi::Array per_worker = Napi::Array::New(env, workers);
  const ControlBlock& control = region_.control();
  for (uint32_t w = 0; w < workers; ++w) {
    Napi::Float64Array values = Napi::Float64Array::New(env, kWorkerCounterCount + 2);
    const WorkerBlock& block = region_.worker(w);
    for (uint32_t c = 0; c < kWorkerCounterCount; ++c) values[c] = load(block.counters[c]);
    values[kWorkerCounterCount] = load(control.ring_drops[w]);
    values[kWorkerCounterCount + 1] = load(control.ring_packets[w]);
    per_worker.Set(w, values);
  }
  out.Set("workers", per_worker);
  Napi::Array per_worker_spans = Napi::Array::New(env, workers);
  for (uint32_t w = 0; w < workers; ++w) {
    Napi::Float64Array values = Napi::Float64Array::New(env, size_t(kSpanCount) * kSpanBuckets);
    const WorkerBlock& block = region_.worker(w);
    for (uint32_t s = 0; s < kSpanCount; ++s)
      for (uint32_t b = 0; b < kSpanBuckets; ++b) values[size_t(s) * kSpanBuckets + b] = load(block.spans[s][b]);
    per_worker_spans.Set(w, values);
  }
  out.Set("spans", per_worker_spans);

  Napi::Float64Array rules = Napi::Float64Array::New(env, rule_slots.ElementLength() * kRuleCounterCount);
  for (size_t i = 0; i < rule_slots.ElementLength(); ++i) {
    uint32_t slot = rule_slots[i] % kMaxRuleSlots;
    for (uint32_t w = 0; w < workers; ++w)
      for (uint32_t c = 0; c < kRuleCounterCount; ++c)
        rules[i * kRuleCounterCount + c] += load(region_.worker(w).rules[slot][c]);
  }
  out.Set("rules", rules);

  Napi::Float64Array outputs = Napi::Float64Array::New(env, output_slots.ElementLength() * kOutputCounterCount);
  for (size_t i = 0; i < output_slots.ElementLength(); ++i) {
    uint32_t slot = output_slots[i] % kMaxOutputSlots;
    for (uint32_t w = 0; w < workers; ++w)
      for (uint32_t c = 0; c < kOutputCounterCount; ++c)
        outputs[i * kOutputCounterCount + c] += load(region_.worker(w).outputs[slot][c]);
  }
  out.Set("outputs", outputs);
  out.Set("dataplaneStarts", load(control.dataplane_starts));
  return out;
}

Napi::Value CountersWrap::JS_close(const Napi::CallbackInfo& info) {
  region_.close();
  return info.Env().Undefined();
}

}  // namespace mcr::binding
