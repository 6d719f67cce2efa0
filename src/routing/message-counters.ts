// SPDX-License-Identifier: MIT
// Protocol message counters (IGMP, PIM, MSDP): the same four tallies everywhere, so views,
// metrics and tests read them one way.

/** Messages counted since the protocol started. */
export interface MessageCounters {
  /** received messages by kind (IGMP: query_v3, report_v2, ...; PIM: hello, join_prune, ...) */
  received: Record<string, number>;
  sent: Record<string, number>;
  /** malformed messages dropped, by the codec's reason; send_failed for sends the kernel refused */
  errors: Record<string, number>;
  /** well-formed messages that changed nothing, by the engine's reason */
  ignored: Record<string, number>;
}

export const emptyMessageCounters = (): MessageCounters => ({ received: {}, sent: {}, errors: {}, ignored: {} });

export function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** Several sets of counters added up (per-interface counters into the metrics' totals). */
export function sumMessageCounters(all: Iterable<MessageCounters>): MessageCounters {
  const total = emptyMessageCounters();
  for (const c of all)
    for (const kind of ['received', 'sent', 'errors', 'ignored'] as const)
      for (const [k, v] of Object.entries(c[kind])) total[kind][k] = (total[kind][k] ?? 0) + v;
  return total;
}
