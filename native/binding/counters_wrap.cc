// SPDX-License-Identifier: MIT
// Sums per-worker counter blocks into typed arrays, one N-API call per scrape.
#include "counters_wrap.h"

#include "errors.h"

namespace mcr::binding {

Napi::Function CountersWrap::Define(Napi::Env env) {
  Napi::Function cls = DefineClass(
      env, "Counters",
      {InstanceMethod("snapshot", &CountersWrap::JS_snapshot),
       InstanceMethod("drainSpans", &CountersWrap::JS_drainSpans),
       InstanceMethod("skipSpans", &CountersWrap::JS_skipSpans), InstanceMethod("setTrace", &CountersWrap::JS_setTrace),
       InstanceMethod("traceState", &CountersWrap::JS_traceState),
       InstanceMethod("drainPunts", &CountersWrap::JS_drainPunts), InstanceMethod("setPunt", &CountersWrap::JS_setPunt),
       InstanceMethod("close", &CountersWrap::JS_close)});
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
//     xdp: Float64Array (the XDP path's worker counters),
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
  Napi::Array per_worker_sums = Napi::Array::New(env, workers);
  for (uint32_t w = 0; w < workers; ++w) {
    Napi::Float64Array values = Napi::Float64Array::New(env, kSpanCount);
    for (uint32_t s = 0; s < kSpanCount; ++s) values[s] = load(region_.worker(w).span_sums_ns[s]);
    per_worker_sums.Set(w, values);
  }
  out.Set("spanSumsNs", per_worker_sums);
  Napi::Float64Array xdp = Napi::Float64Array::New(env, kWorkerCounterCount);
  for (uint32_t c = 0; c < kWorkerCounterCount; ++c) xdp[c] = load(region_.xdp().counters[c]);
  out.Set("xdp", xdp);

  Napi::Float64Array rules = Napi::Float64Array::New(env, rule_slots.ElementLength() * kRuleCounterCount);
  for (size_t i = 0; i < rule_slots.ElementLength(); ++i) {
    uint32_t slot = rule_slots[i] % kMaxRuleSlots;
    for (uint32_t w = 0; w < workers; ++w)
      for (uint32_t c = 0; c < kRuleCounterCount; ++c)
        rules[i * kRuleCounterCount + c] += load(region_.worker(w).rules[slot][c]);
    for (uint32_t c = 0; c < kRuleCounterCount; ++c)
      rules[i * kRuleCounterCount + c] += load(region_.xdp().rules[slot][c]);
  }
  out.Set("rules", rules);

  Napi::Float64Array outputs = Napi::Float64Array::New(env, output_slots.ElementLength() * kOutputCounterCount);
  for (size_t i = 0; i < output_slots.ElementLength(); ++i) {
    uint32_t slot = output_slots[i] % kMaxOutputSlots;
    for (uint32_t w = 0; w < workers; ++w)
      for (uint32_t c = 0; c < kOutputCounterCount; ++c)
        outputs[i * kOutputCounterCount + c] += load(region_.worker(w).outputs[slot][c]);
    for (uint32_t c = 0; c < kOutputCounterCount; ++c)
      outputs[i * kOutputCounterCount + c] += load(region_.xdp().outputs[slot][c]);
  }
  out.Set("outputs", outputs);
  out.Set("dataplaneStarts", load(control.dataplane_starts));
  return out;
}

namespace {
// CLOCK_REALTIME nanoseconds as the OpenTelemetry HrTime [seconds, nanoseconds]: two doubles,
// exact (a nanosecond count since 1970 does not fit a double's 53 bits).
Napi::Array hr_time(Napi::Env env, uint64_t ns) {
  Napi::Array t = Napi::Array::New(env, 2);
  t.Set(uint32_t(0), double(ns / 1000000000u));
  t.Set(uint32_t(1), double(ns % 1000000000u));
  return t;
}

Napi::Object span_record_object(Napi::Env env, const SpanRecord& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("worker", r.worker);
  o.Set("inputIfindex", r.input_ifindex);
  o.Set("packets", r.packets);
  o.Set("bytes", r.bytes);
  o.Set("oldestFrame", hr_time(env, r.oldest_frame_ns));
  o.Set("pickup", hr_time(env, r.pickup_ns));
  o.Set("classified", hr_time(env, r.classified_ns));
  o.Set("released", hr_time(env, r.released_ns));
  const uint32_t rules = r.rule_count < kSpanRuleSlots ? r.rule_count : kSpanRuleSlots;
  Napi::Array slots = Napi::Array::New(env, rules);
  for (uint32_t i = 0; i < rules; ++i) slots.Set(i, r.rule_slots[i]);
  o.Set("ruleSlots", slots);
  o.Set("rulesMatched", rules + r.rules_more);
  const uint32_t kept = r.send_count < kSpanSendSlots ? r.send_count : kSpanSendSlots;
  Napi::Array sends = Napi::Array::New(env, kept);
  for (uint32_t i = 0; i < kept; ++i) {
    const SpanSend& s = r.sends[i];
    Napi::Object so = Napi::Object::New(env);
    so.Set("start", hr_time(env, s.start_ns));
    so.Set("end", hr_time(env, s.end_ns));
    so.Set("ifindex", s.ifindex);
    so.Set("packets", s.packets);
    so.Set("bytes", s.bytes);
    so.Set("errors", s.errors);
    so.Set("errno", s.error);
    sends.Set(i, so);
  }
  o.Set("sends", sends);
  o.Set("sendsOverflow", r.send_count - kept);
  o.Set("sampled", (r.flags & span_sampled) != 0);
  o.Set("chased", (r.flags & span_chased) != 0);
  return o;
}
}  // namespace

// drainSpans(worker, max) -> NativeSpanRecord[]: the oldest records of that worker's span ring,
// taken out (the ring's single consumer; mcrd calls it from one place).
Napi::Value CountersWrap::JS_drainSpans(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!region_.region()) throw Napi::Error::New(env, "counter file is closed");
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
    type_error(env, "(worker: number, max: number)", "drainSpans arguments");
  const uint32_t worker = info[0].As<Napi::Number>().Uint32Value();
  if (worker >= kMaxWorkers) throw Napi::RangeError::New(env, "drainSpans: worker out of range");
  const uint64_t max = info[1].As<Napi::Number>().Uint32Value();
  SpanRing& ring = region_.span_ring(worker);
  const uint64_t tail = ring.tail.load(std::memory_order_relaxed);
  const uint64_t head = ring.head.load(std::memory_order_acquire);
  // A data plane that started over with an older head (never: the ring lives in this file)
  // or a corrupted file must not make us read garbage.
  const uint64_t available = head > tail ? head - tail : 0;
  const uint64_t take = available < max ? available : max;
  Napi::Array out = Napi::Array::New(env, take);
  for (uint64_t i = 0; i < take; ++i)
    out.Set(uint32_t(i), span_record_object(env, ring.records[(tail + i) % kSpanRingRecords]));
  ring.tail.store(tail + take, std::memory_order_release);
  return out;
}

// skipSpans(worker) -> number: discards every record in that worker's ring without reading it
// (what the exporter's rate limit would drop anyway, at no cost per record).
Napi::Value CountersWrap::JS_skipSpans(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!region_.region()) throw Napi::Error::New(env, "counter file is closed");
  if (info.Length() < 1 || !info[0].IsNumber()) type_error(env, "(worker: number)", "skipSpans arguments");
  const uint32_t worker = info[0].As<Napi::Number>().Uint32Value();
  if (worker >= kMaxWorkers) throw Napi::RangeError::New(env, "skipSpans: worker out of range");
  SpanRing& ring = region_.span_ring(worker);
  const uint64_t tail = ring.tail.load(std::memory_order_relaxed);
  const uint64_t head = ring.head.load(std::memory_order_acquire);
  if (head <= tail) return Napi::Number::New(env, 0);
  ring.tail.store(head, std::memory_order_release);
  return Napi::Number::New(env, double(head - tail));
}

// drainPunts(worker, max) -> NativePunt[]: the oldest records of that worker's punt ring, taken
// out (mcrd's one reader, src/daemon/punts.ts). The packet is copied: the slot is the worker's
// again once the tail moves.
Napi::Value CountersWrap::JS_drainPunts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!region_.region()) throw Napi::Error::New(env, "counter file is closed");
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
    type_error(env, "(worker: number, max: number)", "drainPunts arguments");
  const uint32_t worker = info[0].As<Napi::Number>().Uint32Value();
  if (worker >= kMaxWorkers) throw Napi::RangeError::New(env, "drainPunts: worker out of range");
  const uint64_t max = info[1].As<Napi::Number>().Uint32Value();
  PuntRing& ring = region_.punt_ring(worker);
  const uint64_t tail = ring.tail.load(std::memory_order_relaxed);
  const uint64_t head = ring.head.load(std::memory_order_acquire);
  const uint64_t available = head > tail ? head - tail : 0;
  const uint64_t take = available < max ? available : max;
  Napi::Array out = Napi::Array::New(env, take);
  for (uint64_t i = 0; i < take; ++i) {
    const PuntRecord& r = ring.records[(tail + i) % kPuntRingRecords];
    const uint32_t length = r.length < kPuntPacketBytes ? r.length : kPuntPacketBytes;
    Napi::Object o = Napi::Object::New(env);
    o.Set("timeNs", Napi::Number::New(env, double(r.time_ns)));
    o.Set("ifindex", r.ifindex);
    o.Set("ruleSlot", r.rule_slot);
    o.Set("reason", punt_reason_name(r.reason));
    o.Set("wireLength", r.wire_length);
    o.Set("packet", Napi::Buffer<uint8_t>::Copy(env, r.packet, length));
    out.Set(uint32_t(i), o);
  }
  ring.tail.store(tail + take, std::memory_order_release);
  return out;
}

// setPunt({ perSecond?, burst? }): each worker's punt rate (tokens per second) and bucket size.
Napi::Value CountersWrap::JS_setPunt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!region_.region()) throw Napi::Error::New(env, "counter file is closed");
  if (info.Length() < 1 || !info[0].IsObject()) type_error(env, "(settings: object)", "setPunt arguments");
  Napi::Object o = info[0].As<Napi::Object>();
  PuntControl& p = region_.punt();
  if (o.Has("perSecond")) p.per_second.store(o.Get("perSecond").As<Napi::Number>().Uint32Value());
  if (o.Has("burst")) p.burst.store(o.Get("burst").As<Napi::Number>().Uint32Value());
  return env.Undefined();
}

// setTrace({ sampleEvery?, recordsEnabled?, chaseRuleSlot?, chaseRemaining? })
Napi::Value CountersWrap::JS_setTrace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!region_.region()) throw Napi::Error::New(env, "counter file is closed");
  if (info.Length() < 1 || !info[0].IsObject()) type_error(env, "(settings: object)", "setTrace arguments");
  Napi::Object o = info[0].As<Napi::Object>();
  TraceControl& t = region_.trace();
  if (o.Has("sampleEvery")) t.sample_every.store(o.Get("sampleEvery").As<Napi::Number>().Uint32Value());
  if (o.Has("recordsEnabled")) t.records_enabled.store(o.Get("recordsEnabled").ToBoolean() ? 1 : 0);
  // The slot before the count, so a worker that sees the count sees the slot meant with it.
  if (o.Has("chaseRuleSlot")) t.chase_rule_slot.store(o.Get("chaseRuleSlot").As<Napi::Number>().Uint32Value());
  if (o.Has("chaseRemaining")) t.chase_remaining.store(o.Get("chaseRemaining").As<Napi::Number>().Int64Value());
  return env.Undefined();
}

Napi::Value CountersWrap::JS_traceState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!region_.region()) throw Napi::Error::New(env, "counter file is closed");
  const TraceControl& t = region_.trace();
  Napi::Object o = Napi::Object::New(env);
  o.Set("sampleEvery", t.sample_every.load());
  o.Set("recordsEnabled", t.records_enabled.load() != 0);
  o.Set("chaseRuleSlot", t.chase_rule_slot.load());
  const int64_t remaining = t.chase_remaining.load();
  o.Set("chaseRemaining", double(remaining > 0 ? remaining : 0));
  return o;
}

Napi::Value CountersWrap::JS_close(const Napi::CallbackInfo& info) {
  region_.close();
  return info.Env().Undefined();
}

}  // namespace mcr::binding
