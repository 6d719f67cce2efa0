// SPDX-License-Identifier: MIT
// The workers' per-frame step (process_frame, flush_batch) with a send function that captures
// instead of sending: every frame counted, outputs queued per egress socket, TTL decrement and
// ttl_expired, send errors counted by errno and per output.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "frame_builder.h"
#include "harness.h"
#include "mcr/counters.h"
#include "mcr/egress.h"
#include "mcr/forward.h"
#include "mcr/rule_table.h"
#include "trace_fixture.h"

namespace mcr_test {
namespace {

// What a capturing SendFn saw: one entry per call, messages copied out while they are valid.
struct CapturedCall {
  int fd;
  int flags;
  std::vector<std::pair<uint16_t, std::pair<const void*, size_t>>> messages;  // port, payload
};
std::vector<CapturedCall> captured;
std::vector<int> captured_ttls;  // per captured message: its IP_TTL control message, 0 without one
int capture_errno = 0;           // non-zero: fail every call with this errno

int capture_send(int fd, mmsghdr* msgs, unsigned n, int flags) {
  if (capture_errno != 0) {
    errno = capture_errno;
    return -1;
  }
  CapturedCall call{fd, flags, {}};
  for (unsigned i = 0; i < n; ++i) {
    const auto* dest = static_cast<const sockaddr_in*>(msgs[i].msg_hdr.msg_name);
    call.messages.push_back(
        {ntohs(dest->sin_port), {msgs[i].msg_hdr.msg_iov[0].iov_base, msgs[i].msg_hdr.msg_iov[0].iov_len}});
    int ttl = 0;
    for (cmsghdr* cm = CMSG_FIRSTHDR(&msgs[i].msg_hdr); cm != nullptr; cm = CMSG_NXTHDR(&msgs[i].msg_hdr, cm))
      if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_TTL) std::memcpy(&ttl, CMSG_DATA(cm), sizeof(ttl));
    captured_ttls.push_back(ttl);
  }
  captured.push_back(call);
  return int(n);
}

// Rule 0: 239.1.1.1:5001 to ports 6000 (egress 0) and 6001 (egress 1); rule 1: 239.1.1.2:5002
// to port 6002 (egress 1). Egress fds are fake: the capturing send never uses them.
mcr::RuleTable forwarding_table() {
  mcr::RuleTable t;
  t.inputs.push_back(mcr::TableInput{1, {}});
  t.egress_fds = {7, 9};
  auto output = [&](uint16_t port, uint32_t egress) {
    mcr::OutputEntry o{};
    o.dest.sin_family = AF_INET;
    o.dest.sin_addr.s_addr = htonl(0xef020202u);
    o.dest.sin_port = htons(port);
    o.egress_index = egress;
    o.counter_slot = uint32_t(t.outputs.size()) + 10;
    t.outputs.push_back(o);
  };
  output(6000, 0);
  output(6001, 1);
  output(6002, 1);
  t.rules.push_back(mcr::RuleEntry{0, htonl(0xef010101u), 5001, 3, 0, 2});
  t.rules.push_back(mcr::RuleEntry{0, htonl(0xef010102u), 5002, 4, 2, 1});
  t.build_index();
  return t;
}

}  // namespace

void forward_tests() {
  run("process_frame: a decrementing output sends TTL-1 and drops TTL 1 as ttl_expired", [](bool& ok) {
    mcr::RuleTable t = forwarding_table();
    t.outputs[1].decrement_ttl = true;  // rule 0: port 6000 fixed, port 6001 decrements
    t.rules[0].per_output_work = true;
    auto batcher = std::make_unique<mcr::SendBatcher>(capture_send);
    auto c = std::make_unique<mcr::WorkerBlock>();
    TraceFixture untraced(c.get());
    captured.clear();
    captured_ttls.clear();
    capture_errno = 0;
    for (uint8_t ttl : {uint8_t(9), uint8_t(2), uint8_t(1), uint8_t(0)}) {
      FrameSpec spec;
      spec.ttl = ttl;
      std::vector<uint8_t> f = build_frame(spec);
      mcr::process_frame(t, 0, f.data(), uint32_t(f.size()), uint32_t(f.size()), *batcher, *c);
      mcr::flush_batch(t, *batcher, *c, untraced.trace);
    }
    // Per frame: the fixed output (no control message), then the decrementing one while TTL > 1.
    CHECK((captured_ttls == std::vector<int>{0, 8, 0, 1, 0, 0}));
    CHECK(c->counters[mcr::ttl_expired].load() == 2);
    CHECK(c->counters[mcr::tx_packets].load() == 6);
    CHECK(c->outputs[11][mcr::out_packets].load() == 2);
  });

  run("process_frame: counts every frame, queues each output, one send per egress socket", [](bool& ok) {
    mcr::RuleTable t = forwarding_table();
    auto batcher = std::make_unique<mcr::SendBatcher>(capture_send);
    auto c = std::make_unique<mcr::WorkerBlock>();
    TraceFixture untraced(c.get());
    captured.clear();
    capture_errno = 0;
    auto with = [](auto edit) {
      FrameSpec s;
      edit(s);
      return build_frame(s);
    };
    const std::vector<std::vector<uint8_t>> frames = {
        with([](FrameSpec& s) { s.payload = 100; }),  // rule 0
        with([](FrameSpec& s) {
          s.dst = "239.1.1.2";
          s.port = 5002;
          s.payload = 50;
        }),                                               // rule 1
        with([](FrameSpec& s) { s.dst = "239.9.9.9"; }),  // no rule
        with([](FrameSpec& s) { s.break_checksum = true; }),
        with([](FrameSpec& s) { s.frag = 0x2000; }),
    };
    uint64_t wire_bytes = 0;
    for (const auto& f : frames) {
      mcr::process_frame(t, 0, f.data(), uint32_t(f.size()), uint32_t(f.size()), *batcher, *c);
      wire_bytes += f.size();
    }
    CHECK(batcher->size() == 3);
    CHECK(captured.empty());  // nothing leaves before the batch ends
    CHECK(c->counters[mcr::rx_frames].load() == 5);
    CHECK(c->counters[mcr::rx_bytes].load() == wire_bytes);
    CHECK(c->counters[mcr::matched].load() == 2);
    CHECK(c->counters[mcr::no_match].load() == 1);
    CHECK(c->counters[mcr::filtered_bad_ip_checksum].load() == 1);
    CHECK(c->counters[mcr::filtered_fragment].load() == 1);
    CHECK(c->rules[3][mcr::rule_packets].load() == 1 && c->rules[3][mcr::rule_bytes].load() == 100);
    CHECK(c->rules[4][mcr::rule_packets].load() == 1 && c->rules[4][mcr::rule_bytes].load() == 50);

    mcr::flush_batch(t, *batcher, *c, untraced.trace);
    CHECK(batcher->size() == 0);
    CHECK(c->counters[mcr::batches].load() == 1);
    CHECK(captured.size() == 2);
    if (captured.size() == 2) {
      const uint8_t* payload0 = frames[0].data() + 14 + 20 + 8;
      const uint8_t* payload1 = frames[1].data() + 14 + 20 + 8;
      CHECK(captured[0].fd == 7 && captured[0].flags == MSG_DONTWAIT);
      CHECK(captured[0].messages.size() == 1);
      CHECK(captured[0].messages[0] ==
            std::make_pair(uint16_t(6000), std::make_pair(static_cast<const void*>(payload0), size_t(100))));
      CHECK(captured[1].fd == 9 && captured[1].messages.size() == 2);
      if (captured[1].messages.size() == 2) {  // queue order kept within a socket
        CHECK(captured[1].messages[0] ==
              std::make_pair(uint16_t(6001), std::make_pair(static_cast<const void*>(payload0), size_t(100))));
        CHECK(captured[1].messages[1] ==
              std::make_pair(uint16_t(6002), std::make_pair(static_cast<const void*>(payload1), size_t(50))));
      }
    }
    CHECK(c->counters[mcr::tx_packets].load() == 3);
    CHECK(c->counters[mcr::tx_bytes].load() == 250);
    CHECK(c->outputs[10][mcr::out_packets].load() == 1 && c->outputs[10][mcr::out_bytes].load() == 100);
    CHECK(c->outputs[11][mcr::out_packets].load() == 1 && c->outputs[11][mcr::out_bytes].load() == 100);
    CHECK(c->outputs[12][mcr::out_packets].load() == 1 && c->outputs[12][mcr::out_bytes].load() == 50);
    mcr::flush_batch(t, *batcher, *c, untraced.trace);  // an empty batch sends nothing
    CHECK(captured.size() == 2);
  });
  run("process_frame: a failing send function is counted by errno and per output", [](bool& ok) {
    mcr::RuleTable t = forwarding_table();
    auto batcher = std::make_unique<mcr::SendBatcher>(capture_send);
    auto c = std::make_unique<mcr::WorkerBlock>();
    TraceFixture untraced(c.get());
    captured.clear();
    capture_errno = EAGAIN;
    std::vector<uint8_t> f = build_frame(FrameSpec{});
    mcr::process_frame(t, 0, f.data(), uint32_t(f.size()), uint32_t(f.size()), *batcher, *c);
    mcr::flush_batch(t, *batcher, *c, untraced.trace);
    capture_errno = 0;
    CHECK(c->counters[mcr::tx_err_eagain].load() == 2);
    CHECK(c->counters[mcr::tx_packets].load() == 0);
    CHECK(c->outputs[10][mcr::out_errors].load() == 1 && c->outputs[11][mcr::out_errors].load() == 1);
    CHECK(batcher->size() == 0);
  });

  run("span record: a sampled batch records its frames, rules, each sendmmsg and ordered times", [](bool& ok) {
    mcr::RuleTable t = forwarding_table();
    t.egress_ifindex = {21, 22};
    auto batcher = std::make_unique<mcr::SendBatcher>(capture_send);
    auto c = std::make_unique<mcr::WorkerBlock>();
    TraceFixture tracing(c.get(), 1, 3);
    captured.clear();
    capture_errno = 0;
    FrameSpec one;
    one.payload = 100;
    FrameSpec two;
    two.dst = "239.1.1.2";
    two.port = 5002;
    two.payload = 50;
    const std::vector<std::vector<uint8_t>> frames = {build_frame(one), build_frame(two), build_frame(one)};
    tracing.trace.begin(1700000000, 5, 1);
    for (const auto& f : frames)
      mcr::process_frame(t, 0, f.data(), uint32_t(f.size()), uint32_t(f.size()), *batcher, *c);
    mcr::flush_batch(t, *batcher, *c, tracing.trace);
    for (const auto& f : frames)
      mcr::trace_rules(t, 0, f.data(), uint32_t(f.size()), uint32_t(f.size()), tracing.trace);
    tracing.trace.end(3);
    CHECK(tracing.ring->head.load() == 1);
    CHECK(c->counters[mcr::spans_written].load() == 1 && c->counters[mcr::spans_dropped].load() == 0);
    const mcr::SpanRecord& r = tracing.ring->records[0];
    CHECK(r.worker == 3 && r.input_ifindex == 1 && r.packets == 3);
    CHECK(r.bytes == frames[0].size() * 2 + frames[1].size());
    CHECK(r.flags == mcr::span_sampled);
    CHECK(r.rule_count == 2 && r.rule_slots[0] == 3 && r.rule_slots[1] == 4 && r.rules_more == 0);
    CHECK(r.oldest_frame_ns == 1700000000ull * 1000000000ull + 5);
    CHECK(r.send_count == 2);
    // egress 0 (ifindex 21): port 6000 twice; egress 1 (ifindex 22): 6001 twice and 6002 once
    CHECK(r.sends[0].ifindex == 21 && r.sends[0].packets == 2 && r.sends[0].bytes == 200 && r.sends[0].error == 0);
    CHECK(r.sends[1].ifindex == 22 && r.sends[1].packets == 3 && r.sends[1].bytes == 250);
    CHECK(r.pickup_ns <= r.classified_ns && r.classified_ns <= r.sends[0].start_ns);
    CHECK(r.sends[0].start_ns <= r.sends[0].end_ns && r.sends[0].end_ns <= r.sends[1].start_ns);
    CHECK(r.sends[1].end_ns <= r.released_ns);
    CHECK(c->spans[mcr::span_batch][mcr::span_bucket(r.released_ns - r.pickup_ns)].load() == 1);
    CHECK(c->span_sums_ns[mcr::span_batch].load() == r.released_ns - r.pickup_ns);
  });

  run("span record: a refused sendmmsg is one send with its errno and error count", [](bool& ok) {
    mcr::RuleTable t = forwarding_table();
    auto batcher = std::make_unique<mcr::SendBatcher>(capture_send);
    auto c = std::make_unique<mcr::WorkerBlock>();
    TraceFixture tracing(c.get(), 1);
    capture_errno = EPERM;
    std::vector<uint8_t> f = build_frame(FrameSpec{});
    tracing.trace.begin(0, 0, 1);
    mcr::process_frame(t, 0, f.data(), uint32_t(f.size()), uint32_t(f.size()), *batcher, *c);
    mcr::flush_batch(t, *batcher, *c, tracing.trace);
    tracing.trace.end(1);
    capture_errno = 0;
    const mcr::SpanRecord& r = tracing.ring->records[0];
    CHECK(r.send_count == 2);
    CHECK(r.sends[0].packets == 0 && r.sends[0].errors == 1 && r.sends[0].error == EPERM);
  });

  run("span record: sampling 1 in 4, records off, a full ring counted as spans_dropped", [](bool& ok) {
    mcr::RuleTable t = forwarding_table();
    auto batcher = std::make_unique<mcr::SendBatcher>([](int, mmsghdr*, unsigned n, int) { return int(n); });
    auto c = std::make_unique<mcr::WorkerBlock>();
    TraceFixture tracing(c.get(), 4);
    std::vector<uint8_t> f = build_frame(FrameSpec{});
    auto batch = [&] {
      tracing.trace.begin(0, 0, 1);
      mcr::process_frame(t, 0, f.data(), uint32_t(f.size()), uint32_t(f.size()), *batcher, *c);
      mcr::flush_batch(t, *batcher, *c, tracing.trace);
      tracing.trace.end(1);
    };
    for (int i = 0; i < 8; ++i) batch();
    CHECK(tracing.drain() == 2);  // batches 4 and 8
    tracing.control->records_enabled.store(0);
    for (int i = 0; i < 8; ++i) batch();
    CHECK(tracing.drain() == 0);
    uint64_t timed = 0;
    for (uint32_t b = 0; b < mcr::kSpanBuckets; ++b) timed += c->spans[mcr::span_batch][b].load();
    CHECK(timed == 4);  // histograms still fed
    tracing.control->records_enabled.store(1);
    tracing.control->sample_every.store(1);
    for (uint32_t i = 0; i < mcr::kSpanRingRecords + 5; ++i) batch();
    CHECK(c->counters[mcr::spans_written].load() == 2 + mcr::kSpanRingRecords);
    CHECK(c->counters[mcr::spans_dropped].load() == 5);
    CHECK(tracing.drain() == mcr::kSpanRingRecords);
  });

  run("span record: a rule chase records the next K batches touching that rule, whatever the sampling", [](bool& ok) {
    mcr::RuleTable t = forwarding_table();
    auto batcher = std::make_unique<mcr::SendBatcher>([](int, mmsghdr*, unsigned n, int) { return int(n); });
    auto c = std::make_unique<mcr::WorkerBlock>();
    TraceFixture tracing(c.get(), 0);
    tracing.control->chase_rule_slot.store(4);  // rule 1: 239.1.1.2:5002
    tracing.control->chase_remaining.store(2);
    FrameSpec other;
    FrameSpec chased;
    chased.dst = "239.1.1.2";
    chased.port = 5002;
    const std::vector<uint8_t> a = build_frame(other), b = build_frame(chased);
    for (const auto* f : {&a, &b, &a, &b, &b}) {
      tracing.trace.begin(0, 0, 1);
      mcr::process_frame(t, 0, f->data(), uint32_t(f->size()), uint32_t(f->size()), *batcher, *c);
      mcr::flush_batch(t, *batcher, *c, tracing.trace);
      if (tracing.trace.active())
        mcr::trace_rules(t, 0, f->data(), uint32_t(f->size()), uint32_t(f->size()), tracing.trace);
      tracing.trace.end(1);
    }
    CHECK(tracing.ring->head.load() == 2);
    CHECK(tracing.ring->records[0].flags == mcr::span_chased && tracing.ring->records[0].rule_slots[0] == 4);
    CHECK(tracing.control->chase_remaining.load() <= 0);
    uint64_t timed = 0;
    for (uint32_t bkt = 0; bkt < mcr::kSpanBuckets; ++bkt) timed += c->spans[mcr::span_batch][bkt].load();
    CHECK(timed == 0);  // a chase is not a sample: the histograms stay as sampling made them
  });

  run("process_frame: a punting rule copies its packets to the punt ring within the rate; others never punt",
      [](bool& ok) {
        mcr::RuleTable t = forwarding_table();
        t.rules[0].punt = mcr::PuntReason::new_source;  // rule 0 punts; rule 1 does not
        t.rules[0].per_output_work = true;
        auto batcher = std::make_unique<mcr::SendBatcher>(capture_send);
        auto c = std::make_unique<mcr::WorkerBlock>();
        auto ring = std::make_unique<mcr::PuntRing>();
        mcr::PuntControl control{};
        control.per_second.store(1);  // one token a second: within the test, only the first burst
        control.burst.store(3);
        mcr::Punter punter(ring.get(), &control);
        batcher->set_punter(&punter);
        TraceFixture untraced(c.get());
        captured.clear();
        capture_errno = 0;
        FrameSpec other;
        other.dst = "239.1.1.2";
        other.port = 5002;
        const std::vector<uint8_t> punting = build_frame(FrameSpec{}), quiet = build_frame(other);
        for (int i = 0; i < 5; ++i) {
          mcr::process_frame(t, 0, punting.data(), uint32_t(punting.size()), uint32_t(punting.size()), *batcher, *c);
          mcr::process_frame(t, 0, quiet.data(), uint32_t(quiet.size()), uint32_t(quiet.size()), *batcher, *c, false);
          mcr::flush_batch(t, *batcher, *c, untraced.trace);
        }
        // Every packet still forwarded (rule 0: two outputs, rule 1: one); three punted, two over the rate.
        CHECK(c->counters[mcr::tx_packets].load() == 15);
        CHECK(c->counters[mcr::punted].load() == 3);
        CHECK(c->counters[mcr::punt_rate_limited].load() == 2);
        CHECK(ring->head.load() == 3);
        const mcr::PuntRecord& r = ring->records[0];
        CHECK(r.reason == uint8_t(mcr::PuntReason::new_source) && r.rule_slot == 3 && r.ifindex == 1);
        CHECK(r.wire_length == punting.size() - 14 && r.length == r.wire_length);
        CHECK(std::memcmp(r.packet, punting.data() + 14, r.length) == 0);
        CHECK(std::string(mcr::punt_reason_name(r.reason)) == "new_source");

        // A full ring (mcrd not reading) costs a counted drop, never a wait or an overwrite.
        control.burst.store(1000);
        control.per_second.store(1000000000);
        for (uint32_t i = 0; i < mcr::kPuntRingRecords; ++i)
          mcr::process_frame(t, 0, punting.data(), uint32_t(punting.size()), uint32_t(punting.size()), *batcher, *c);
        mcr::flush_batch(t, *batcher, *c, untraced.trace);
        CHECK(ring->head.load() == mcr::kPuntRingRecords);
        CHECK(c->counters[mcr::punt_ring_full].load() == 3);
        ring->tail.store(ring->head.load());  // the reader took them: punting goes on
        mcr::process_frame(t, 0, punting.data(), uint32_t(punting.size()), uint32_t(punting.size()), *batcher, *c);
        CHECK(ring->head.load() == mcr::kPuntRingRecords + 1);
      });

  run("process_frame: an input's (*,*) punting entry takes routable multicast no rule matched, nothing else",
      [](bool& ok) {
        mcr::RuleTable t = forwarding_table();
        mcr::RuleEntry any{};
        any.input_index = 0;
        any.group = 0;
        any.counter_slot = 8;
        any.first_output = 0;
        any.output_count = 0;
        any.per_output_work = true;
        any.punt = mcr::PuntReason::new_source;
        t.rules.push_back(any);
        t.build_index();
        auto batcher = std::make_unique<mcr::SendBatcher>(capture_send);
        auto c = std::make_unique<mcr::WorkerBlock>();
        auto ring = std::make_unique<mcr::PuntRing>();
        mcr::PuntControl control{};
        control.per_second.store(1000000);
        control.burst.store(100);
        mcr::Punter punter(ring.get(), &control);
        batcher->set_punter(&punter);
        TraceFixture untraced(c.get());
        captured.clear();
        capture_errno = 0;
        auto send = [&](const char* dst, uint16_t port) {
          FrameSpec spec;
          spec.dst = dst;
          spec.port = port;
          const std::vector<uint8_t> f = build_frame(spec);
          mcr::process_frame(t, 0, f.data(), uint32_t(f.size()), uint32_t(f.size()), *batcher, *c);
          mcr::flush_batch(t, *batcher, *c, untraced.trace);
        };
        send("239.1.1.1", 5001);  // rule 0: forwarded, not punted
        send("239.7.7.7", 5001);  // no rule: the (*,*) entry punts it
        send("224.0.0.9", 520);   // link-local: never routed, so never punted
        send("10.0.9.9", 5001);   // unicast
        CHECK(c->counters[mcr::tx_packets].load() == 2);
        CHECK(c->counters[mcr::punted].load() == 1);
        CHECK(c->counters[mcr::matched].load() == 2);  // the rule's frame and the punted one
        CHECK(c->counters[mcr::no_match].load() == 2);
        CHECK(c->rules[8][mcr::rule_packets].load() == 1);
        CHECK(ring->records[0].packet[16] == 239 && ring->records[0].packet[17] == 7);
      });
}

}  // namespace mcr_test
