// SPDX-License-Identifier: MIT
// Turns the shared counter file into the protocol's Stats and the FINAL lines. Reads happen at
// scrape time only (mcrctl stats, the 1 s watchdog, shutdown); the data plane never pushes.
import type { Addon, NativeCounters } from '../native/addon';
import { spanHistogram as histogram } from '../lib/histogram';
import type { Counters, OutputStats, RuleStats, Stats } from '../control/protocol';
import type { RuleRecord } from './rule-registry';

const camel = (name: string): string => name.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());

const FILTER_REASONS: Record<string, string> = {
  filtered_truncated: 'truncated',
  filtered_bad_ip_header: 'badIpHeader',
  filtered_bad_ip_checksum: 'badIpChecksum',
  filtered_fragment: 'fragment',
  filtered_not_udp: 'notUdp',
  filtered_bad_udp_length: 'badUdpLength',
  filtered_not_ipv4: 'notIpv4',
  filtered_oversize: 'oversize',
};

const TX_ERRORS: Record<string, string> = {
  tx_err_eagain: 'EAGAIN',
  tx_err_enobufs: 'ENOBUFS',
  tx_err_unreachable: 'unreachable',
  tx_err_emsgsize: 'EMSGSIZE',
  tx_err_eperm: 'EPERM',
  tx_err_other: 'other',
  // a routed output's IP packet over the output MTU (mcr does not fragment routed packets)
  tx_err_too_big: 'tooBig',
};

function emptyCounters(spanNames: string[], bucketCount: number): Counters {
  return {
    spans: Object.fromEntries(spanNames.map((n) => [camel(n), histogram(new Array<number>(bucketCount).fill(0))])),
    rxFrames: 0,
    rxBytes: 0,
    matched: 0,
    noMatch: 0,
    filtered: 0,
    filteredByReason: Object.fromEntries(Object.values(FILTER_REASONS).map((k) => [k, 0])),
    txPackets: 0,
    txBytes: 0,
    txErrors: 0,
    txErrorsByErrno: Object.fromEntries(Object.values(TX_ERRORS).map((k) => [k, 0])),
    ringDrops: 0,
    bufExhaust: 0,
    ttlExpired: 0,
    batches: 0,
    wakeups: 0,
    holdoffs: 0,
    spansWritten: 0,
    spansDropped: 0,
    punted: 0,
    puntRateLimited: 0,
    puntRingFull: 0,
  };
}

/** The plain numeric counters of a `Counters`: what adds up across workers and subtracts between samples. */
export const NUMERIC_COUNTERS = [
  'rxFrames',
  'rxBytes',
  'matched',
  'noMatch',
  'filtered',
  'txPackets',
  'txBytes',
  'txErrors',
  'ringDrops',
  'bufExhaust',
  'ttlExpired',
  'batches',
  'wakeups',
  'holdoffs',
  'spansWritten',
  'spansDropped',
  'punted',
  'puntRateLimited',
  'puntRingFull',
] as const;

function addInto(total: Counters, c: Counters): void {
  for (const key of NUMERIC_COUNTERS) total[key] += c[key];
  for (const [k, v] of Object.entries(c.filteredByReason)) total.filteredByReason[k] = (total.filteredByReason[k] ?? 0) + v;
  for (const [k, v] of Object.entries(c.txErrorsByErrno)) total.txErrorsByErrno[k] = (total.txErrorsByErrno[k] ?? 0) + v;
  for (const [k, h] of Object.entries(c.spans)) {
    const into = total.spans[k];
    total.spans[k] = histogram(
      h.buckets.map((v, b) => v + (into?.buckets[b] ?? 0)),
      h.sumUs + (into?.sumUs ?? 0),
    );
  }
}

/** Where the supervisor's parts read counters from (StatsReader; a fake in unit tests). */
export interface CounterSource {
  markBase(record: Pick<RuleRecord, 'slot' | 'outputSlots'>, onlyOutputs?: number[]): void;
  read(records: RuleRecord[], activeWorkers: number, uptimeSeconds: number): Stats;
}

export class StatsReader implements CounterSource {
  private readonly counters: NativeCounters;
  private readonly names: string[];
  private readonly spanNames: string[];
  private readonly spanBuckets: number;
  private readonly maxWorkers: number;
  /**
   * Counter values when a slot was (re)assigned, subtracted on read so a reused slot starts at
   * zero: two per rule slot, three per output slot. Fixed arrays indexed by slot, so their size
   * never depends on how many rules came and went.
   */
  private readonly ruleBases: Float64Array;
  private readonly outputBases: Float64Array;
  /** Highest worker count any data plane used: their counters stay part of the totals. */
  private workersSeen = 1;

  constructor(addon: Addon, path: string) {
    this.counters = new addon.Counters(path, true);
    this.names = addon.Counters.workerCounterNames;
    this.spanNames = addon.Counters.spanNames;
    this.spanBuckets = addon.Counters.spanBuckets;
    this.maxWorkers = addon.Counters.maxWorkers;
    this.ruleBases = new Float64Array(addon.Counters.maxRuleSlots * 2);
    this.outputBases = new Float64Array(addon.Counters.maxOutputSlots * 3);
  }

  /** The counter file itself, for the span rings and trace switches (src/daemon/span-records.ts). */
  get counterFile(): NativeCounters {
    return this.counters;
  }

  /** Workers whose blocks and span rings may hold data: the highest count any data plane used. */
  get workerCount(): number {
    return this.workersSeen;
  }

  noteWorkers(count: number): void {
    this.workersSeen = Math.max(this.workersSeen, count);
  }

  markBase(record: Pick<RuleRecord, 'slot' | 'outputSlots'>, onlyOutputs?: number[]): void {
    const outputs = onlyOutputs ?? record.outputSlots;
    const snap = this.counters.snapshot(this.maxWorkers, Uint32Array.of(record.slot), Uint32Array.from(outputs));
    if (!onlyOutputs) this.ruleBases.set(snap.rules.subarray(0, 2), record.slot * 2);
    for (const [i, slot] of outputs.entries()) this.outputBases.set(snap.outputs.subarray(i * 3, i * 3 + 3), slot * 3);
  }

  read(records: RuleRecord[], activeWorkers: number, uptimeSeconds: number): Stats {
    const ruleSlots = Uint32Array.from(records.map((r) => r.slot));
    const outputSlots = Uint32Array.from(records.flatMap((r) => r.outputSlots));
    // Rule and output slots are summed over every possible worker, so a slot's total does not
    // depend on how many workers have run; per-worker rows stop at the highest count used.
    const snap = this.counters.snapshot(this.maxWorkers, ruleSlots, outputSlots);
    const totals = this.empty();
    const workers: ({ worker: number } & Counters)[] = [];
    snap.workers.slice(0, this.workersSeen).forEach((values, worker) => {
      const c = this.decode(values, snap.spans[worker], snap.spanSumsNs[worker]);
      addInto(totals, c);
      if (worker < activeWorkers) workers.push({ worker, ...c });
    });
    // What the XDP path forwarded counts in the totals (it has no worker of its own).
    if (snap.xdp) addInto(totals, this.decode(snap.xdp, undefined, undefined));
    let outIndex = 0;
    const rules = records.map((r, i): RuleStats => {
      const rb = r.slot * 2;
      const outputs = r.spec.outputs.map((o, j): OutputStats => {
        const at = (outIndex + j) * 3;
        const ob = (r.outputSlots[j] ?? 0) * 3;
        const delta = (k: number): number => (snap.outputs[at + k] ?? 0) - (this.outputBases[ob + k] ?? 0);
        return { group: o.group, port: o.port, interface: o.interface, txPackets: delta(0), txBytes: delta(1), txErrors: delta(2) };
      });
      outIndex += r.outputSlots.length;
      return {
        id: r.id,
        ...(r.spec.name ? { name: r.spec.name } : {}),
        matchedPackets: (snap.rules[i * 2] ?? 0) - (this.ruleBases[rb] ?? 0),
        matchedBytes: (snap.rules[i * 2 + 1] ?? 0) - (this.ruleBases[rb + 1] ?? 0),
        outputs,
      };
    });
    return { uptimeSeconds, totals, workers, rules };
  }

  /** Packets and bytes counted in rule slots since each was handed out (mcrctl mroute). */
  ruleTotals(slots: number[]): Array<{ packets: number; bytes: number }> {
    const snap = this.counters.snapshot(this.maxWorkers, Uint32Array.from(slots), new Uint32Array(0));
    return slots.map((slot, i) => ({
      packets: (snap.rules[i * 2] ?? 0) - (this.ruleBases[slot * 2] ?? 0),
      bytes: (snap.rules[i * 2 + 1] ?? 0) - (this.ruleBases[slot * 2 + 1] ?? 0),
    }));
  }

  close(): void {
    this.counters.close();
  }

  private empty(): Counters {
    return emptyCounters(this.spanNames, this.spanBuckets);
  }

  private decode(values: Float64Array, spans: Float64Array | undefined, sumsNs: Float64Array | undefined): Counters {
    const c = this.empty();
    this.spanNames.forEach((name, i) => {
      const at = i * this.spanBuckets;
      c.spans[camel(name)] = histogram(
        Array.from(spans?.subarray(at, at + this.spanBuckets) ?? new Float64Array(this.spanBuckets)),
        (sumsNs?.[i] ?? 0) / 1000,
      );
    });
    const get = (name: string): number => values[this.names.indexOf(name)] ?? 0;
    c.rxFrames = get('rx_frames');
    c.rxBytes = get('rx_bytes');
    c.matched = get('matched');
    c.noMatch = get('no_match');
    for (const [native, key] of Object.entries(FILTER_REASONS)) {
      c.filteredByReason[key] = get(native);
      c.filtered += get(native);
    }
    c.txPackets = get('tx_packets');
    c.batches = get('batches');
    c.wakeups = get('wakeups');
    c.holdoffs = get('holdoffs');
    c.ttlExpired = get('ttl_expired');
    c.spansWritten = get('spans_written');
    c.spansDropped = get('spans_dropped');
    c.punted = get('punted');
    c.puntRateLimited = get('punt_rate_limited');
    c.puntRingFull = get('punt_ring_full');
    c.txBytes = get('tx_bytes');
    for (const [native, key] of Object.entries(TX_ERRORS)) {
      c.txErrorsByErrno[key] = get(native);
      c.txErrors += get(native);
    }
    c.ringDrops = values[this.names.length] ?? 0;
    // Packets lost because a ring or a buffer was full: kernel ring drops, full socket send
    // buffers, and batches larger than the worker's scratch space.
    c.bufExhaust = c.ringDrops + get('tx_err_eagain') + get('tx_err_enobufs') + get('pending_overflow');
    return c;
  }
}

/** The lines the seed report's scripts grep for, per worker and in total. */
export function finalLines(stats: Stats): string[] {
  const ingress = (c: Counters): string =>
    `recv=${c.rxFrames} matched=${c.matched} egr_sent=${c.txPackets} filtered=${c.filtered} no_match=${c.noMatch} buf_exhaust=${c.bufExhaust}`;
  const egress = (c: Counters): string => `sent=${c.txPackets} errors=${c.txErrors} bytes=${c.txBytes}`;
  const lines: string[] = [];
  for (const w of stats.workers) lines.push(`[STATS:Ingress FINAL] worker ${w.worker}: ${ingress(w)}`);
  lines.push(`[STATS:Ingress FINAL] total: ${ingress(stats.totals)}`);
  for (const w of stats.workers) lines.push(`[STATS:Egress FINAL] worker ${w.worker}: ${egress(w)}`);
  lines.push(`[STATS:Egress FINAL] total: ${egress(stats.totals)}`);
  return lines;
}

/** The fields of one `[STATS:Ingress FINAL]` line. */
export interface FinalLine {
  recv: number;
  matched: number;
  egr_sent: number;
  filtered: number;
  no_match: number;
  buf_exhaust: number;
}

/** The name=N fields of the first "[STATS:`kind` FINAL] `which`:" line in mcrd's output. */
export function finalFields(output: string, kind: 'Ingress' | 'Egress', which = 'total'): Record<string, number> | undefined {
  const line = output.split('\n').find((l) => l.includes(`[STATS:${kind} FINAL] ${which}:`));
  if (!line) return undefined;
  return Object.fromEntries([...line.matchAll(/(\w+)=(\d+)/g)].map((m) => [m[1], Number(m[2])]));
}

/** Parses "[STATS:Ingress FINAL] total: recv=N ..." (or `which` = "worker 0") out of mcrd's output. */
export function parseFinal(output: string, which = 'total'): FinalLine | undefined {
  return finalFields(output, 'Ingress', which) as unknown as FinalLine | undefined;
}
