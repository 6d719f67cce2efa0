// SPDX-License-Identifier: MIT
// The forwarding loop. Per frame: process_frame (mcr/forward.h: parse, count, look up, queue one
// send per output). Per batch: one sendmmsg per egress socket, then the ring slots go back to
// the kernel. The payload is sent straight out of the ring slot, so it is never copied in
// userspace.
#include "mcr/worker.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "mcr/drill.h"
#include "mcr/fail.h"
#include "mcr/forward.h"
#include "mcr/ingress_ring.h"

namespace mcr {

namespace {
// Tells the CPU this is a spin loop (saves power, frees the sibling hyperthread).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}
#if defined(MCR_DRILL_SEED_ANTIPATTERN) && MCR_DRILL_SEED_ANTIPATTERN
thread_local uint64_t drill_ring_full_ = 0;  // the drill's "total exhaustions" for ring-full frames
#endif
}  // namespace

Worker::Worker(unsigned index, const WorkerSettings& settings, WorkerBlock* counters, SpanRing* spans,
               TraceControl* trace, PuntRing* punts, const PuntControl* punt_control, std::atomic<RuleTable*>* table,
               std::atomic<uint64_t>* generation)
    : index_(index),
      settings_(settings),
      counters_(counters),
      trace_(index, counters, spans, trace),
      punter_(punts, punt_control),
      table_(table),
      generation_(generation),
      batcher_(std::make_unique<SendBatcher>()) {
  batcher_->set_punter(&punter_);
}

Worker::~Worker() {
  stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

int Worker::start(std::string* error) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return fail(error, "eventfd", errno);
  stopping_.store(false);
  thread_ = std::thread([this] { run(); });
  // Wait until the thread has applied its CPU and priority, so callers can report them.
  while (!started_.load()) std::this_thread::yield();
  return 0;
}

void Worker::stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  wake();
  thread_.join();
}

void Worker::wake() {
  uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!write(wake_fd_, &one, sizeof(one));
}

uint32_t Worker::drain_ring(const RuleTable& table, uint32_t input_index) {
  IngressRing* ring = table.inputs[input_index].rings[index_];
  if (ring == nullptr) return 0;
  WorkerBlock& c = *counters_;
  SendBatcher& batcher = *batcher_;
  tpacket2_hdr* held[kBatch];
  tpacket2_hdr* oldest = ring->head_frame();
  if (oldest == nullptr) return 0;
  const uint32_t ifindex = uint32_t(table.inputs[input_index].ifindex);
  // Traced batches (sampled, or chased by rule): how long the oldest frame sat in the ring, the
  // parse/match, each sendmmsg, and the release; see mcr/trace.h.
  trace_.begin(oldest->tp_sec, oldest->tp_nsec, ifindex);
  uint32_t n = 0;
  while (n < kBatch) {
    tpacket2_hdr* hdr = ring->head_frame();
    if (hdr == nullptr) break;
    held[n++] = hdr;
    // The audit drill only (mcr/drill.h; expands to nothing in the shipped build): the kernel
    // marks frames received while the ring was full.
    MCR_DRILL(if (hdr->tp_status & TP_STATUS_LOSING) drill::log(
                  drill::Level::critical, drill::format_exhaustion("ingress ring full", ENOBUFS, ++drill_ring_full_));)
    ring->advance();
    process_frame(table, input_index, reinterpret_cast<const uint8_t*>(hdr) + hdr->tp_mac, hdr->tp_snaplen, hdr->tp_len,
                  batcher, c, (hdr->tp_status & TP_STATUS_CSUMNOTREADY) != 0);
  }
  flush_batch(table, batcher, c, trace_);
  if (trace_.active()) [[unlikely]]
    for (uint32_t i = 0; i < n; ++i)
      trace_rules(table, input_index, reinterpret_cast<const uint8_t*>(held[i]) + held[i]->tp_mac, held[i]->tp_snaplen,
                  held[i]->tp_len, trace_);
  for (uint32_t i = 0; i < n; ++i) IngressRing::release(held[i]);
  trace_.end(n);
  MCR_PROBE3(batch, index_, ifindex, n);
  return n;
}

void Worker::run() {
  tid_.store(int(syscall(SYS_gettid)));
  if (settings_.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(settings_.cpu, &set);
    pinned_.store(pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0);
  }
  if (settings_.realtime_priority > 0) {
    sched_param param{};
    param.sched_priority = settings_.realtime_priority;
    realtime_.store(pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0);
  }
  char name[16];
  snprintf(name, sizeof(name), "mcr-worker-%u", index_);
  pthread_setname_np(pthread_self(), name);
  started_.store(true);

  const uint64_t holdoff_ns = uint64_t(settings_.wakeup_holdoff_us) * 1000;
  const uint64_t dense_sleep_ns = holdoff_ns * kDenseSleepFactor;
  // The default 50 µs timer slack would double a 50 µs holdoff.
  if (holdoff_ns != 0) prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  const RuleTable* last = nullptr;
  [[maybe_unused]] uint64_t last_idle_ns = 0;  // busyPoll: when the previous idle pass ended, 0 after work
  pollfd fds[1 + kMaxInputs];
  nfds_t nfds = 0;
  while (!stopping_.load(std::memory_order_relaxed)) {
    // Generation before table: seeing generation g guarantees seeing table g or newer.
    const uint64_t generation = generation_->load(std::memory_order_acquire);
    const RuleTable* table = table_->load(std::memory_order_acquire);
    if (table != last) {
      bump(counters_->counters[table_swaps]);
      last = table;
      nfds = 0;
      fds[nfds++] = pollfd{wake_fd_, POLLIN, 0};
      if (table)
        for (const TableInput& in : table->inputs)
          if (in.rings[index_]) fds[nfds++] = pollfd{in.rings[index_]->fd(), POLLIN | POLLERR, 0};
    }
    uint32_t work = 0;
    if (table)
      for (uint32_t i = 0; i < table->inputs.size(); ++i) work += drain_ring(*table, i);
    // Done with everything older than `generation`: the control thread may free it.
    observed_.store(generation, std::memory_order_release);
    if (work == 0 && settings_.busy_poll) {
      // Never sleep: no wake-up latency, at the price of the whole CPU (dedicated cores only).
      cpu_relax();
#if MCR_ENABLE_SPANS
      // Timing every idle pass costs nothing that matters (the CPU is spinning anyway) and shows
      // when something else (an interrupt, another task, the hypervisor) took the CPU away.
      if (trace_.sampling()) {
        const uint64_t now = realtime_ns();
        if (last_idle_ns != 0) trace_.idle_pass(now - last_idle_ns);
        last_idle_ns = now;
      }
#endif
    } else if (work == 0) {
      // Only when every ring is empty: sleep until a frame, a wake-up or the timeout.
      const uint64_t sleep_started_ns = holdoff_ns != 0 ? monotonic_ns() : 0;
      int ready = poll(fds, nfds, kIdlePollMs);
      bump(counters_->counters[wakeups]);
      if (ready > 0 && (fds[0].revents & POLLIN)) {
        uint64_t drained;
        (void)!read(wake_fd_, &drained, sizeof(drained));
      } else if (ready > 0 && holdoff_ns != 0 && monotonic_ns() - sleep_started_ns <= dense_sleep_ns) {
        // Coalesced wake-ups: the frames of the next holdoff interval ride on this one.
        const timespec holdoff{0, long(holdoff_ns)};
        clock_nanosleep(CLOCK_MONOTONIC, 0, &holdoff, nullptr);
        bump(counters_->counters[holdoffs]);
      }
    }
#if MCR_ENABLE_SPANS
    if (work != 0) last_idle_ns = 0;  // a pass that forwarded is a batch span, not an idle one
#endif
  }
  observed_.store(~uint64_t(0), std::memory_order_release);
}

}  // namespace mcr
