// SPDX-License-Identifier: MIT
// One forwarding thread: drains its receive rings in batches, matches, queues the outputs and
// sends them with sendmmsg. The per-packet path allocates nothing, formats nothing, takes no
// lock and makes no syscall but the batched sends (poll() only when every ring is empty).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "mcr/counters.h"
#include "mcr/egress.h"
#include "mcr/punt.h"
#include "mcr/rule_table.h"
#include "mcr/trace.h"

namespace mcr {

struct WorkerSettings {
  int cpu = -1;               // pin to this CPU, -1 = leave to the scheduler
  int realtime_priority = 0;  // SCHED_FIFO priority, 0 = normal scheduling
  bool busy_poll = false;     // spin on empty rings instead of sleeping in poll()
  // After poll() wakes for a frame, sleep this long before draining, so one wake-up takes the
  // frames of a whole interval instead of one or two (0: drain at once). Only when the sleep that
  // just ended was short (kDenseSleepFactor holdoffs or less): a sparse stream gains nothing from
  // waiting and is forwarded at once, like a NIC's adaptive interrupt moderation.
  uint32_t wakeup_holdoff_us = 0;
};

class Worker {
 public:
  static constexpr uint32_t kBatch = 64;   // frames per ring per batch
  static constexpr int kIdlePollMs = 100;  // bounds how long a table swap waits on us
  static constexpr uint32_t kDenseSleepFactor = 2;

  // counters, spans, punts and their switches live in the counter file (CounterRegion); the
  // worker is the only writer of its block and of its span and punt rings' heads.
  Worker(unsigned index, const WorkerSettings& settings, WorkerBlock* counters, SpanRing* spans, TraceControl* trace,
         PuntRing* punts, const PuntControl* punt_control, std::atomic<RuleTable*>* table,
         std::atomic<uint64_t>* generation);
  ~Worker();

  int start(std::string* error);
  void stop();  // asks the thread to finish its batch and exit, then joins it
  void wake();  // makes a sleeping worker look at the table now (control path)
  // The generation this worker has most recently finished a batch under.
  uint64_t observed_generation() const { return observed_.load(std::memory_order_acquire); }
  bool running() const { return thread_.joinable(); }
  unsigned index() const { return index_; }
  int cpu() const { return settings_.cpu; }
  int tid() const { return tid_.load(); }
  // Whether the thread runs with the SCHED_FIFO priority it was asked to (false if refused).
  bool realtime() const { return realtime_.load(); }
  // Whether the thread runs on the CPU it was asked to (false if the kernel refused, e.g. a cpuset).
  bool pinned() const { return pinned_.load(); }

 private:
  void run();
  uint32_t drain_ring(const RuleTable& table, uint32_t input_index);

  unsigned index_;
  WorkerSettings settings_;
  WorkerBlock* counters_;
  BatchTrace trace_;
  Punter punter_;
  std::atomic<RuleTable*>* table_;
  std::atomic<uint64_t>* generation_;
  std::atomic<uint64_t> observed_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<int> tid_{0};
  std::atomic<bool> realtime_{false};
  std::atomic<bool> pinned_{false};
  std::atomic<bool> started_{false};
  int wake_fd_ = -1;
  std::thread thread_;
  std::unique_ptr<SendBatcher> batcher_;
};

}  // namespace mcr
