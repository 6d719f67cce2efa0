// SPDX-License-Identifier: MIT
// The per-frame forwarding step, shared by the workers (Worker::drain_ring) and the replay
// harness (native/tests/hot-path) so the harness measures the code the workers run, not a
// copy. Inline so the worker's loop compiles as it did before this was factored out of it.
#pragma once

#include <cstdint>

#include "mcr/counters.h"
#include "mcr/drill.h"
#include "mcr/egress.h"
#include "mcr/parse.h"
#include "mcr/punt.h"
#include "mcr/rule_table.h"
#include "mcr/trace.h"

namespace mcr {

// Queues one output's copy of a datagram: through the output's packet egress when it has one and
// the datagram fits the interface's MTU, else through its UDP socket. mode: the checksum state,
// plus SendBatcher::kKeepPort for an output that keeps the datagram's port.
[[gnu::always_inline]] inline bool queue_output(const OutputEntry& out, const UdpDatagram& dgram, uint8_t ttl,
                                                uint8_t mode, SendBatcher& batcher) {
  if (dgram.payload_len < out.packet_payload_limit) [[likely]]
    return batcher.add_packet(out.packet_egress_index, &out, dgram.payload, dgram.payload_len, ttl, dgram.ip, mode);
  return batcher.add(out.egress_index, &out, dgram.payload, dgram.payload_len, ttl, mode & SendBatcher::kKeepPort);
}

// One output of a rule with per-output work (RuleEntry::per_output_work): TTL - 1 for a
// decrementing or routed output (a copy that would leave with TTL 0 is not sent: ttl_expired),
// the router's path for a routed one (an IP packet over the output MTU is not sent:
// tx_err_too_big), the datagram's port for one that keeps it. Returns false when the batch is full.
[[gnu::always_inline]] inline bool queue_special_output(const OutputEntry& out, const UdpDatagram& dgram,
                                                        bool checksum_partial, SendBatcher& batcher, WorkerBlock& c) {
  uint8_t ttl = 0;
  if (out.decrement_ttl) {
    if (dgram.ttl <= 1) {
      bump(c.counters[ttl_expired]);
      return true;
    }
    ttl = uint8_t(dgram.ttl - 1);
  }
  if (out.routed) {
    const uint32_t ip_len = uint32_t(dgram.ip[2] << 8 | dgram.ip[3]);
    if (ip_len >= out.packet_payload_limit) {
      bump(c.counters[tx_err_too_big]);
      bump(c.outputs[out.counter_slot][out_errors]);
      return true;
    }
    return batcher.add_routed(out.packet_egress_index, &out, dgram.ip, dgram.payload_len, ttl, checksum_partial);
  }
  return queue_output(out, dgram, ttl, uint8_t(checksum_partial | (out.keep_port ? SendBatcher::kKeepPort : 0)),
                      batcher);
}

// A punting rule's packet to the worker's punt ring (mcr/punt.h), when the batcher has one. Out of
// line and cold, with arguments the loop holds anyway: the check in process_frame stays a compare
// and a call that most packets never reach.
[[gnu::noinline, gnu::cold]] inline void punt_packet(SendBatcher& batcher, const RuleEntry& rule,
                                                     const RuleTable& table, uint32_t input_index, const uint8_t* ip,
                                                     WorkerBlock& c) {
  if (Punter* punter = batcher.punter()) punter->punt(rule, table.inputs[input_index].ifindex, ip, c);
}

// One received frame: parse, count, look up, queue one send per output. The queued sends point
// into `frame`, which must stay valid until the next flush. snaplen: bytes captured; wire_len:
// the frame's length on the wire; checksum_partial: the ring marked the frame
// TP_STATUS_CSUMNOTREADY (its UDP checksum is for the NIC to finish). A punting rule's packets also
// go to the batcher's Punter, if it has one. Flushes early only if the batcher's scratch space
// fills up.
// always_inline: at -O2 GCC otherwise keeps it out of line, which costs the worker ~5% more
// instructions per packet (measured with native/tests/hot-path) for the call and lost register
// state.
[[gnu::always_inline]] inline void process_frame(const RuleTable& table, uint32_t input_index, const uint8_t* frame,
                                                 uint32_t snaplen, uint32_t wire_len, SendBatcher& batcher,
                                                 WorkerBlock& c, bool checksum_partial = false) {
  bump(c.counters[rx_frames]);
  bump(c.counters[rx_bytes], wire_len);
  UdpDatagram dgram;
  WorkerCounter verdict = parse_udp_frame(frame, snaplen, wire_len, &dgram);
  if (verdict != matched) {
    bump(c.counters[verdict]);
    return;
  }
  // The audit drill only (mcr/drill.h; expands to nothing in the shipped build).
  MCR_DRILL(drill::log(drill::Level::trace, drill::format_packet_trace(dgram.dst_addr, dgram.dst_port, wire_len));)
  const RuleEntry* rule = table.lookup(input_index, dgram.dst_addr, dgram.dst_port, dgram.src_addr);
  if (rule == nullptr) {
    bump(c.counters[no_match]);
    return;
  }
  bump(c.counters[matched]);
  bump(c.rules[rule->counter_slot][rule_packets]);
  bump(c.rules[rule->counter_slot][rule_bytes], dgram.payload_len);
  const uint32_t end = rule->first_output + rule->output_count;
  if (!rule->per_output_work) [[likely]] {
    for (uint32_t o = rule->first_output; o < end; ++o) {
      const OutputEntry& out = table.outputs[o];
      if (!queue_output(out, dgram, 0, checksum_partial, batcher)) {
        // Scratch full (huge fan-out): send what we have; the caller still holds the frames.
        batcher.flush(table, c);
        if (!queue_output(out, dgram, 0, checksum_partial, batcher)) bump(c.counters[pending_overflow]);
      }
    }
    return;
  }
  // A rule with a TTL-decrementing, routed or port-keeping output (its own loop, so the common
  // case pays nothing). A decrementing output sends with the received TTL minus one, as a router
  // does, which is what ends a forwarding loop: a copy that would leave with TTL 0 is not sent.
  for (uint32_t o = rule->first_output; o < end; ++o) {
    const OutputEntry& out = table.outputs[o];
    if (!queue_special_output(out, dgram, checksum_partial, batcher, c)) {
      batcher.flush(table, c);
      if (!queue_special_output(out, dgram, checksum_partial, batcher, c)) bump(c.counters[pending_overflow]);
    }
  }
  // A punting rule (PIM's) is one of these too: its packets also go to mcrd, within the punt rate.
  if (rule->punt != PuntReason::none) [[unlikely]]
    punt_packet(batcher, *rule, table, input_index, dgram.ip, c);
}

// A traced batch's frames, once more after the batch: which rules they matched, for the span
// record. Done here, on traced batches only, instead of inside process_frame, because even a
// not-taken branch per packet cost about 1% of the worker's instructions (hot-path gate).
inline void trace_rules(const RuleTable& table, uint32_t input_index, const uint8_t* frame, uint32_t snaplen,
                        uint32_t wire_len, BatchTrace& trace) {
  UdpDatagram dgram;
  if (parse_udp_frame(frame, snaplen, wire_len, &dgram) != matched) return;
  if (const RuleEntry* rule = table.lookup(input_index, dgram.dst_addr, dgram.dst_port, dgram.src_addr))
    trace.note_rule(rule->counter_slot);
}

// End of a receive batch: one sendmmsg per egress socket for everything queued, then count the
// batch. The caller may hand the frames back to the kernel after this returns.
inline void flush_batch(const RuleTable& table, SendBatcher& batcher, WorkerBlock& c, BatchTrace& trace) {
  trace.classified();
  batcher.flush(table, c, trace.send_log());
  bump(c.counters[batches]);
}

}  // namespace mcr
