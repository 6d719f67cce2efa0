// SPDX-License-Identifier: MIT
// mcrd's side of the workers' punt rings (native/include/mcr/punt.h): the one reader. It runs only
// while a routing protocol wants punts (PIM), polls every worker's ring on a short timer (a worker
// never signals: that would be a syscall per punt) and hands each packet, parsed, to the consumer.
import type { NativeCounters, NativePunt, PuntReason } from '../native/addon';
import { addressAt, IPV4_HEADER_MIN } from '../lib/ipv4-packet';

/** How often the rings are emptied: a new source waits at most this long before PIM hears of it. */
export const PUNT_POLL_MS = 20;
/** Records taken per worker per poll: a ring holds 128, so one poll empties it. */
const DRAIN_MAX = 256;

/** A punted packet as PIM reads it. */
export interface Punt {
  reason: PuntReason;
  /** The rule (route) that punted it: its counter slot. */
  ruleSlot: number;
  ifindex: number;
  source: string;
  group: string;
  ttl: number;
  /** The IPv4 packet from its header on; whole unless `truncated`. */
  packet: Buffer;
  truncated: boolean;
}

export class PuntReader {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly counters: Pick<NativeCounters, 'drainPunts'>,
    /** workers whose rings may hold records (the highest count any data plane used) */
    private readonly workers: () => number,
  ) {}

  /** Starts polling; `onPunt` gets every packet, oldest first per worker. What was punted before start is dropped. */
  start(onPunt: (p: Punt) => void): void {
    this.stop();
    for (let w = 0; w < this.workers(); w++) this.counters.drainPunts(w, DRAIN_MAX);
    this.timer = setInterval(() => this.poll(onPunt), PUNT_POLL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private poll(onPunt: (p: Punt) => void): void {
    for (let w = 0; w < this.workers(); w++)
      for (const record of this.counters.drainPunts(w, DRAIN_MAX)) {
        // A worker punts only what it parsed: a record without an IPv4 header is never expected.
        const punt = parsePunt(record);
        if (punt) onPunt(punt);
      }
  }
}

/** The worker parsed and checked the header before punting; this reads the fields PIM needs. */
export function parsePunt(record: NativePunt): Punt | undefined {
  const p = record.packet;
  if (p.length < IPV4_HEADER_MIN || p[0]! >> 4 !== 4) return undefined;
  return {
    reason: record.reason,
    ruleSlot: record.ruleSlot,
    ifindex: record.ifindex,
    source: addressAt(p, 12),
    group: addressAt(p, 16),
    ttl: p[8]!,
    packet: p,
    truncated: record.wireLength > p.length,
  };
}
