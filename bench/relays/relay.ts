// SPDX-License-Identifier: MIT
// What every relay under test (mcr and its peers) looks like to the scenarios: where it runs
// (a RelayPlan), how to start and stop it, and which counters of its own it can report.
import type { Topology } from '../topology';
import type { SpanHistogram } from '../../src/lib/histogram';

export interface RelayPlan {
  topo: Topology;
  /** the relay's namespace (short name) */
  ns: string;
  inIf: string;
  inAddr: string;
  outIf: string;
  outAddr: string;
  /** input streams: groups inputGroup(0..streams-1), all on `port` */
  streams: number;
  /** outputs per input: groups outputGroup(0..fanout-1) on `outPort` */
  fanout: number;
  port: number;
  outPort: number;
  /** the generator's source address (smcroute installs (S,G) routes) */
  source: string;
  workers: number;
  /** a private directory for config, pid and socket files */
  dir: string;
  /** pipeline hops forward to the same group and port on the next link */
  sameGroupOut?: boolean;
  /** CPUs to pin the relay to (one per mcr worker; process relays use the first); none = unpinned */
  cpus?: number[];
  /** mcr only: workers spin instead of sleeping (config busyPoll) */
  busyPoll?: boolean;
  /** output o goes to port outPort + o (so one receiver per output gets only its own datagrams) */
  portPerOutput?: boolean;
  /** mcr only: further top-level config keys (telemetry, spanSampleEvery), over the generated ones */
  mcrConfig?: Record<string, unknown>;
}

/** `cmd args` prefixed with taskset when the plan pins the relay. */
export function pinned(plan: RelayPlan, cmd: string, args: string[]): [string, string[]] {
  return plan.cpus?.length ? ['taskset', ['-c', String(plan.cpus[0]), cmd, ...args]] : [cmd, args];
}

/** A relay's own counters (cumulative since it started). */
export interface RelayCounters {
  rx: number;
  tx: number;
  bufExhaust?: number;
  ringDrops?: number;
  txErrors?: number;
  /** mcr only: receive batches and poll() wake-ups of its workers (frames per wake-up, issue #11) */
  batches?: number;
  wakeups?: number;
}

export interface RelayInstance {
  /** Live counters if the relay exposes them (mcr: control socket; kernel: ip -s mroute). */
  counters(): Promise<RelayCounters | undefined>;
  /** Stops the relay; returns its final counters and any final text (mcr's FINAL lines). */
  stop(): Promise<{ final?: RelayCounters; text?: string }>;
  /** The relay's process id (for CPU pinning notes), if it is a process. */
  pid?: number;
  /** mcr only: its sampled span histograms (mcrctl stats), keyed by span name. */
  spans?(): Promise<Record<string, SpanHistogram>>;
}

export interface Relay {
  /** stable id used in results.json and baseline.json: mcr-1w, mcr-2w, kernel, c-relay, node, socat */
  id: string;
  /** human label for tables and charts */
  label: string;
  /** why this relay cannot run at all on this host (missing package...), or undefined */
  unavailable(): string | undefined;
  /** why this relay cannot run this plan (fan-out it cannot do...), or undefined */
  unsupported(plan: RelayPlan): string | undefined;
  start(plan: RelayPlan): Promise<RelayInstance>;
  /** The destination group the sink sees for stream `stream`, output `out`. */
  deliveredGroup(plan: RelayPlan, stream: number, out: number): { group: string; port: number };
}

export function ipPlus(base: string, k: number): string {
  const n = base.split('.').reduce((acc, o) => acc * 256 + Number(o), 0) + k;
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export const INPUT_BASE = '239.1.1.1';
export const OUTPUT_BASE = '239.2.2.2';

export function inputGroup(k: number): string {
  return ipPlus(INPUT_BASE, k);
}

export function outputGroup(k: number): string {
  return ipPlus(OUTPUT_BASE, k);
}
