// SPDX-License-Identifier: MIT
// libFuzzer target over the workers' per-frame step (mcr::process_frame, then SendBatcher::flush)
// into a null sink. Besides ASan/UBSan's checks it asserts what the counters promise: every
// frame lands in exactly one verdict counter, and a matched frame's outputs are each either sent,
// counted as a send error, or (TTL-decrementing outputs, received TTL <= 1) counted as
// ttl_expired; every queued payload lies inside the frame's captured bytes, and a decrementing
// output's datagram carries an IP_TTL control message with the received TTL minus one.
//
// Input layout: byte 0 is a control byte, the rest is the captured frame (snaplen = size - 1,
// in its own exact-size allocation so ASan sees any read past it).
//   bit 0     input interface index (0 or 1; the tables differ per input)
//   bits 1-2  how the null sink behaves: 0 accepts all, 1 accepts half (partial sends),
//             2 fails with EAGAIN (drop the rest), 3 EINTR then EPERM (retry, then drop one)
//   bits 3-7  bytes the frame had on the wire beyond the captured ones (wire_len > snaplen)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "mcr/counters.h"
#include "mcr/egress.h"
#include "mcr/forward.h"
#include "mcr/parse.h"
#include "mcr/rule_table.h"
#include "trace_fixture.h"

namespace {

#define FUZZ_CHECK(cond)                                                                            \
  do {                                                                                              \
    if (!(cond)) {                                                                                  \
      std::fprintf(stderr, "frame_fuzzer: check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                                 \
    }                                                                                               \
  } while (0)

// Rules on input 0. The "huge" ones have more outputs than the batcher's scratch space, so a
// frame that matches them takes process_frame's early-flush path; the "dec" ones have outputs
// with ttl "decrement" (every other one), so they take its TTL-decrementing loop.
constexpr uint32_t kGroupPair = 0xef010101u, kGroupOne = 0xef010102u, kGroupHuge = 0xef010103u;
constexpr uint32_t kGroupDec = 0xef010104u, kGroupHugeDec = 0xef010105u;
constexpr uint16_t kPortPair = 5001, kPortOne = 5002, kPortHuge = 5003, kPortDec = 5004, kPortHugeDec = 5005;
constexpr uint32_t kHugeFanOut = mcr::SendBatcher::kMaxPending + 3;
constexpr int kEgressFds[] = {100, 101, 102};  // never used as fds: the sink stands in for sendmmsg

// The frame under test and its table, for the sink's checks.
const uint8_t* g_frame_begin = nullptr;
const uint8_t* g_frame_end = nullptr;
const mcr::RuleTable* g_table = nullptr;
int g_expected_ttl = 0;  // received TTL - 1, what a decrementing output must send with
unsigned g_sink_mode = 0;
uint32_t g_sink_calls = 0;
volatile uint8_t g_sink_sum = 0;  // keeps the sink's reads

// Checks the messages it consumes: each points at bytes inside the frame (ASan checks the
// first and the last byte; the frame is one allocation, so the bytes between are inside too).
void check_message(const mmsghdr& m) {
  const msghdr& h = m.msg_hdr;
  FUZZ_CHECK(h.msg_iovlen == 1 && h.msg_namelen == sizeof(sockaddr_in));
  FUZZ_CHECK(static_cast<const sockaddr_in*>(h.msg_name)->sin_family == AF_INET);
  const auto* p = static_cast<const uint8_t*>(h.msg_iov[0].iov_base);
  const size_t len = h.msg_iov[0].iov_len;
  FUZZ_CHECK(p >= g_frame_begin && len <= size_t(g_frame_end - p));
  if (len > 0) g_sink_sum = uint8_t(g_sink_sum + p[0] + p[len - 1]);
  // The destination is one of the table's outputs; a decrementing one carries its TTL.
  const auto* dest = static_cast<const sockaddr_in*>(h.msg_name);
  const auto* first = reinterpret_cast<const char*>(&g_table->outputs.front().dest);
  const size_t offset = size_t(reinterpret_cast<const char*>(dest) - first);
  const size_t index = offset / sizeof(mcr::OutputEntry);
  FUZZ_CHECK(reinterpret_cast<const char*>(dest) >= first && index < g_table->outputs.size() &&
             &g_table->outputs[index].dest == dest);
  const mcr::OutputEntry* out = &g_table->outputs[index];
  if (!out->decrement_ttl) {
    FUZZ_CHECK(h.msg_control == nullptr && h.msg_controllen == 0);
    return;
  }
  FUZZ_CHECK(h.msg_control != nullptr);
  const cmsghdr* cm = CMSG_FIRSTHDR(&h);
  FUZZ_CHECK(cm != nullptr && cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_TTL &&
             cm->cmsg_len == CMSG_LEN(sizeof(int)));
  int ttl;
  std::memcpy(&ttl, CMSG_DATA(cm), sizeof(ttl));
  FUZZ_CHECK(ttl == g_expected_ttl && ttl >= 1);
}

int null_send(int fd, mmsghdr* msgs, unsigned n, int flags) {
  FUZZ_CHECK(n > 0 && n <= 1024);
  FUZZ_CHECK(flags == MSG_DONTWAIT);
  FUZZ_CHECK(fd >= kEgressFds[0] && fd <= kEgressFds[2]);
  const uint32_t call = g_sink_calls++;
  unsigned consumed = n;  // messages this call accepts or drops, so each is checked once
  int result = int(n);
  switch (g_sink_mode) {
    case 0: break;
    case 1: consumed = n > 1 ? n / 2 : 1, result = int(consumed); break;
    case 2: errno = EAGAIN, result = -1; break;  // the batcher drops them all
    default:
      if (call % 2 == 0)
        errno = EINTR, consumed = 0, result = -1;  // retried
      else
        errno = EPERM, consumed = 1, result = -1;  // the batcher drops one
  }
  for (unsigned i = 0; i < consumed; ++i) check_message(msgs[i]);
  return result;
}

struct Fixture {
  mcr::RuleTable table;
  std::unique_ptr<mcr::SendBatcher> batcher;
  // Large (~0.5 MB): allocated once, not per input.
  std::unique_ptr<mcr::WorkerBlock> counters;
  std::unique_ptr<mcr_test::TraceFixture> tracing;
};

Fixture& fixture() {
  static Fixture* fx = [] {
    auto* f = new Fixture;
    mcr::RuleTable& t = f->table;
    t.inputs.push_back(mcr::TableInput{1, {}});
    t.inputs.push_back(mcr::TableInput{2, {}});
    t.egress_fds.assign(std::begin(kEgressFds), std::end(kEgressFds));
    auto add_rule = [&](uint32_t input, uint32_t group, uint16_t port, uint32_t outputs, bool decrement = false) {
      mcr::RuleEntry r{};
      r.input_index = input;
      r.group = htonl(group);
      r.port = port;
      r.counter_slot = uint32_t(t.rules.size());
      r.first_output = uint32_t(t.outputs.size());
      r.output_count = outputs;
      r.per_output_work = decrement;
      for (uint32_t o = 0; o < outputs; ++o) {
        mcr::OutputEntry out{};
        out.dest.sin_family = AF_INET;
        out.dest.sin_addr.s_addr = htonl(0xef020000u + r.counter_slot);
        out.dest.sin_port = htons(uint16_t(6000 + o % 1000));
        out.egress_index = (r.counter_slot + o) % uint32_t(t.egress_fds.size());
        out.counter_slot = uint32_t(t.outputs.size());
        out.decrement_ttl = decrement && o % 2 == 0;
        t.outputs.push_back(out);
      }
      t.rules.push_back(r);
    };
    add_rule(0, kGroupPair, kPortPair, 2);
    add_rule(0, kGroupOne, kPortOne, 1);
    add_rule(0, kGroupHuge, kPortHuge, kHugeFanOut);
    add_rule(0, kGroupDec, kPortDec, 3, true);
    add_rule(0, kGroupHugeDec, kPortHugeDec, kHugeFanOut, true);
    add_rule(1, kGroupPair, kPortPair, 1);  // same group and port, other input
    for (uint32_t i = 0; i < 60; ++i) add_rule(i % 2, 0xef050000u + i, uint16_t(7000 + i), 1);  // idle
    t.build_index();
    f->batcher = std::make_unique<mcr::SendBatcher>(null_send);
    f->counters = std::make_unique<mcr::WorkerBlock>();
    f->tracing = std::make_unique<mcr_test::TraceFixture>(f->counters.get(), 1);
    return f;
  }();
  return *fx;
}

uint64_t counter(const mcr::WorkerBlock& c, mcr::WorkerCounter which) {
  return c.counters[which].load(std::memory_order_relaxed);
}

constexpr mcr::WorkerCounter kVerdicts[] = {mcr::matched,
                                            mcr::no_match,
                                            mcr::filtered_truncated,
                                            mcr::filtered_bad_ip_header,
                                            mcr::filtered_bad_ip_checksum,
                                            mcr::filtered_fragment,
                                            mcr::filtered_not_udp,
                                            mcr::filtered_bad_udp_length,
                                            mcr::filtered_not_ipv4,
                                            mcr::filtered_oversize};
constexpr mcr::WorkerCounter kSendOutcomes[] = {mcr::tx_packets,         mcr::tx_err_eagain,   mcr::tx_err_enobufs,
                                                mcr::tx_err_unreachable, mcr::tx_err_emsgsize, mcr::tx_err_eperm,
                                                mcr::tx_err_other};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  Fixture& fx = fixture();
  mcr::WorkerBlock& c = *fx.counters;
  const uint8_t control = data[0];
  const uint32_t input = control & 1u;
  g_sink_mode = (control >> 1) & 3u;
  g_sink_calls = 0;

  // An exact-size copy: the bytes after the frame are ASan's redzone, as after a ring slot's
  // captured bytes there is nothing the parser may read.
  const size_t snaplen = size - 1;
  std::unique_ptr<uint8_t[]> frame(new uint8_t[snaplen ? snaplen : 1]);
  if (snaplen) std::memcpy(frame.get(), data + 1, snaplen);
  const uint32_t wire_len = uint32_t(snaplen) + (control >> 3);
  g_frame_begin = frame.get();
  g_frame_end = frame.get() + snaplen;
  g_table = &fx.table;
  mcr::UdpDatagram d{};
  const mcr::WorkerCounter parsed = mcr::parse_udp_frame(frame.get(), snaplen, wire_len, &d);
  g_expected_ttl = parsed == mcr::matched ? int(d.ttl) - 1 : -1;

  uint64_t verdicts_before[sizeof(kVerdicts) / sizeof(kVerdicts[0])];
  for (size_t i = 0; i < sizeof(kVerdicts) / sizeof(kVerdicts[0]); ++i) verdicts_before[i] = counter(c, kVerdicts[i]);
  uint64_t sends_before = 0;
  for (mcr::WorkerCounter w : kSendOutcomes) sends_before += counter(c, w);
  const uint64_t rx_before = counter(c, mcr::rx_frames);
  const uint64_t overflow_before = counter(c, mcr::pending_overflow);
  const uint64_t expired_before = counter(c, mcr::ttl_expired);

  // Every batch traced, with a record: the trace hooks see every frame the fuzzer makes.
  mcr::BatchTrace& trace = fx.tracing->trace;
  trace.begin(0, 0, 1);
  mcr::process_frame(fx.table, input, frame.get(), uint32_t(snaplen), wire_len, *fx.batcher, c);
  mcr::flush_batch(fx.table, *fx.batcher, c, trace);
  mcr::trace_rules(fx.table, input, frame.get(), uint32_t(snaplen), wire_len, trace);
  trace.end(1);
  FUZZ_CHECK(fx.tracing->drain() == 1);
  FUZZ_CHECK(fx.batcher->size() == 0);

  // The counters' promise: one frame, one verdict.
  FUZZ_CHECK(counter(c, mcr::rx_frames) == rx_before + 1);
  uint64_t verdicts_moved = 0;
  mcr::WorkerCounter verdict = mcr::rx_frames;
  for (size_t i = 0; i < sizeof(kVerdicts) / sizeof(kVerdicts[0]); ++i) {
    const uint64_t d = counter(c, kVerdicts[i]) - verdicts_before[i];
    verdicts_moved += d;
    if (d) verdict = kVerdicts[i];
  }
  FUZZ_CHECK(verdicts_moved == 1);

  // The parser's own answer must agree, and a datagram must lie inside the captured bytes.
  FUZZ_CHECK(parsed == verdict || (parsed == mcr::matched && verdict == mcr::no_match));
  uint64_t expected_sends = 0, expected_expired = 0;
  if (parsed == mcr::matched) {
    FUZZ_CHECK(d.payload >= frame.get() && size_t(d.payload_len) <= size_t(g_frame_end - d.payload));
    const mcr::RuleEntry* rule = fx.table.lookup(input, d.dst_addr, d.dst_port);
    FUZZ_CHECK((rule != nullptr) == (verdict == mcr::matched));
    if (rule) {
      for (uint32_t o = rule->first_output; o < rule->first_output + rule->output_count; ++o) {
        if (fx.table.outputs[o].decrement_ttl && d.ttl <= 1)
          ++expected_expired;
        else
          ++expected_sends;
      }
    }
  }
  // Every output is sent, counted as a send error, or expired; none is lost to the scratch space.
  uint64_t sends_after = 0;
  for (mcr::WorkerCounter w : kSendOutcomes) sends_after += counter(c, w);
  FUZZ_CHECK(sends_after - sends_before == expected_sends);
  FUZZ_CHECK(counter(c, mcr::ttl_expired) - expired_before == expected_expired);
  FUZZ_CHECK(counter(c, mcr::pending_overflow) == overflow_before);
  // For the corpus check in scripts/fuzz.js: which class each seed exercises.
  static const bool print_verdicts = std::getenv("MCR_FUZZ_PRINT_VERDICT") != nullptr;
  if (print_verdicts) std::printf("verdict %s\n", mcr::worker_counter_name(verdict));
  return 0;
}
