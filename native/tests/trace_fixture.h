// SPDX-License-Identifier: MIT
// A BatchTrace with its own trace switches and span ring, for the core tests, the fuzzer and
// the replay harness (in the relay they live in the counter file).
#pragma once

#include <cstdint>
#include <memory>

#include "mcr/trace.h"

namespace mcr_test {

struct TraceFixture {
  // sample_every 0: nothing traced; otherwise one batch in sample_every, with records.
  explicit TraceFixture(mcr::WorkerBlock* counters, uint32_t sample_every = 0, uint32_t worker = 0)
      : trace(worker, counters, ring.get(), control.get()) {
    control->sample_every.store(sample_every);
    control->records_enabled.store(sample_every != 0 ? 1 : 0);
  }
  // The supervisor's side: takes every record written so far (returns how many).
  uint64_t drain() {
    const uint64_t head = ring->head.load();
    const uint64_t taken = head - ring->tail.load();
    ring->tail.store(head);
    return taken;
  }

  std::unique_ptr<mcr::SpanRing> ring = std::make_unique<mcr::SpanRing>();
  std::unique_ptr<mcr::TraceControl> control = std::make_unique<mcr::TraceControl>();
  mcr::BatchTrace trace;
};

}  // namespace mcr_test
