// SPDX-License-Identifier: MIT
// One paced trial of issue #11's CPU-per-packet method, shared by the scenarios that use it
// (telemetry, efficiency): a continuous paced stream from the generator through whatever the
// relay namespace runs (or nothing: the generator-alone baseline), a measured window in its middle
// (after a pre-roll that brings the relay to steady state, before a post-roll so the generator is
// still sending when it closes), the machine's busy CPU (/proc/stat) and named processes' CPU
// (/proc/PID/stat) at both edges, and exact delivery checked over the whole stream. The caller
// starts and stops the relay; the arithmetic on the readings is in bench/cpu.ts.
import * as os from 'node:os';
import { DEFAULT_CLK_TCK, machineDelta, readPidTicks, readProcStat, type CpuTimes, type MachineCpu } from './cpu';
import { sh, sleep } from './proc';
import type { RelayCounters } from './relays/relay';
import type { Topology } from './topology';
import { quiesce, startGenerator, type TrafficPath } from './traffic';

/** the window's offered rate may be this far off the requested rate before the trial is set aside */
export const PACE_TOLERANCE = 0.05;

export async function sleepUntil(t: number): Promise<void> {
  const left = t - performance.now();
  if (left > 0) await sleep(left);
}

/** USER_HZ from getconf (the unit of /proc/stat), 100 if it cannot say. */
export async function clockTicks(): Promise<number> {
  const r = await sh('getconf', ['CLK_TCK'], { allowFail: true });
  const n = Number(r.stdout.trim());
  return Number.isInteger(n) && n > 0 ? n : DEFAULT_CLK_TCK;
}

/** The 1-minute load average, rounded to 2 decimals: others may be using the machine. */
export function loadavg1(): number {
  return os.loadavg()[0] ?? 0;
}

export const loadAverages = (): number[] => os.loadavg().map((x) => Math.round(x * 100) / 100);

interface Reading<K extends string> {
  machine: CpuTimes;
  procs: Partial<Record<K, number>>;
  r0: number;
  s0: number;
  atMs: number;
}

function readNow<K extends string>(topo: Topology, pids: Partial<Record<K, number>>): Reading<K> {
  // /proc/stat first and last bracket the cheaper reads
  const machine = readProcStat();
  const procs: Partial<Record<K, number>> = {};
  for (const k of Object.keys(pids) as K[]) procs[k] = readPidTicks(pids[k]);
  return {
    machine,
    procs,
    r0: topo.counter('relay', 'r0').rxPackets,
    s0: topo.counter('sink', 's0').rxPackets,
    atMs: performance.now(),
  };
}

export interface StreamTrialPlan<K extends string> {
  ratePps: number;
  size: number;
  /** the measured window, and the stream before and after it */
  trialS: number;
  preRollS: number;
  postRollS: number;
  /** destination port of the stream (the relay's input port) */
  port: number;
  /** datagrams per paced sendmmsg (default: mcrgen's rate/1000, 1 ms bursts) */
  batch?: number;
  /** something forwards to s0 (false: the generator alone; only r0's count is checked) */
  forwarding: boolean;
  /** seconds of /proc/stat just before the stream, nothing sent (0: none): what else keeps the machine busy */
  quietS?: number;
  /** processes whose CPU the window measures (the generator's is added as `generator`) */
  pids: Partial<Record<K, number>>;
  /** the relay's own counters, when they must agree with the interfaces' exactly (mcr) */
  counters?: () => Promise<RelayCounters | undefined>;
  /** called right after each edge of the window is read (the telemetry sink's snapshots) */
  onWindowStart?: () => Promise<void>;
  onWindowEnd?: () => Promise<void>;
}

/** The raw readings of one paced trial. */
export interface StreamTrialRaw<K extends string> {
  count: number;
  sent: number;
  genElapsedS: number;
  /** the whole stream: r0 and s0 rx_packets deltas (delivered 0 without forwarding) */
  offered: number;
  delivered: number;
  /** the relay's own counters over the whole stream (when `counters` was given) */
  relayCounters?: RelayCounters;
  /** delivery exact over the whole stream (generator alone: every packet sent reached r0) */
  exact: boolean;
  /** why the trial is set aside (loss, counters, pacing); callers may add their own */
  problems: string[];
  /** the machine's busy CPU over `quietS` before the stream (the relay idle): others' load */
  quiet?: { s: number; busyMsPerS: number };
  window: {
    s: number;
    offered: number;
    delivered: number;
    /** /proc/stat deltas in ticks; busy = CPUs x window - idle - iowait */
    machine: MachineCpu;
    /** utime + stime deltas in ticks */
    procTicks: Partial<Record<K | 'generator', number>>;
  };
}

/** Counter b - a, the optional fields 0 when missing. */
export function countersDelta(a: RelayCounters, b: RelayCounters): RelayCounters {
  const d = (k: 'bufExhaust' | 'ringDrops' | 'txErrors' | 'batches' | 'wakeups'): number | undefined =>
    a[k] === undefined && b[k] === undefined ? undefined : (b[k] ?? 0) - (a[k] ?? 0);
  const out: RelayCounters = { rx: b.rx - a.rx, tx: b.tx - a.tx };
  for (const k of ['bufExhaust', 'ringDrops', 'txErrors', 'batches', 'wakeups'] as const) {
    const v = d(k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Streams `count` = rate x (pre-roll + window + post-roll) packets and measures the window. */
export async function streamTrial<K extends string>(
  topo: Topology,
  path: TrafficPath,
  p: StreamTrialPlan<K>,
  clkTck: number,
): Promise<StreamTrialRaw<K>> {
  const problems: string[] = [];
  const pids = { ...p.pids } as Partial<Record<K | 'generator', number>>;
  let quiet: StreamTrialRaw<K>['quiet'];
  if (p.quietS) {
    const q0 = readProcStat();
    const at0 = performance.now();
    await sleep(p.quietS * 1000);
    const q1 = readProcStat();
    const qs = (performance.now() - at0) / 1000;
    quiet = { s: qs, busyMsPerS: (machineDelta(q0, q1, qs, clkTck).busy * 1000) / clkTck / qs };
  }
  const counters0 = p.counters ? await p.counters() : undefined;
  const c0 = { r0: topo.counter('relay', 'r0').rxPackets, s0: topo.counter('sink', 's0').rxPackets };
  const count = Math.round(p.ratePps * (p.preRollS + p.trialS + p.postRollS));
  const gen = startGenerator(path, { streams: 1, rate: p.ratePps, count, size: p.size, port: p.port, batch: p.batch });
  pids.generator = gen.proc.pid;
  const t0 = performance.now();
  await sleepUntil(t0 + p.preRollS * 1000);
  const a = readNow(topo, pids);
  await p.onWindowStart?.();
  await sleepUntil(a.atMs + p.trialS * 1000);
  const b = readNow(topo, pids);
  await p.onWindowEnd?.();
  const g = await gen.result;
  await quiesce(path, 150, 3000);
  let counters1 = p.counters ? await p.counters() : undefined;
  let c1 = { r0: topo.counter('relay', 'r0').rxPackets, s0: topo.counter('sink', 's0').rxPackets };
  const offered = c1.r0 - c0.r0;
  const agree = (m1: RelayCounters | undefined): boolean =>
    !counters0 ||
    !m1 ||
    (m1.rx - counters0.rx + ((m1.ringDrops ?? 0) - (counters0.ringDrops ?? 0)) === offered && m1.tx - counters0.tx === c1.s0 - c0.s0);
  if (p.counters && !agree(counters1)) {
    // mcr folds kernel ring drops into its counters every 250 ms
    await sleep(400);
    counters1 = await p.counters();
    c1 = { r0: topo.counter('relay', 'r0').rxPackets, s0: topo.counter('sink', 's0').rxPackets };
  }
  const delivered = c1.s0 - c0.s0;
  const relayCounters = counters0 && counters1 ? countersDelta(counters0, counters1) : undefined;

  // exact delivery over the whole stream
  if (g.sent !== count) problems.push(`the generator sent ${g.sent} of ${count} packets (send errors ${g.sendErrors})`);
  if (offered !== g.sent) problems.push(`r0 received ${offered} of the ${g.sent} packets sent`);
  if (p.forwarding) {
    if (delivered !== offered) problems.push(`lossy: s0 received ${delivered} of ${offered} offered (${offered - delivered} lost)`);
    const m = relayCounters;
    if (m && (m.rx + (m.ringDrops ?? 0) !== offered || m.tx !== delivered))
      problems.push(`the relay's counters: rx ${m.rx} + ring drops ${m.ringDrops} (offered ${offered}), tx ${m.tx} (s0 ${delivered})`);
  }
  const exact = problems.length === 0;
  // the window
  const windowS = (b.atMs - a.atMs) / 1000;
  const windowOffered = b.r0 - a.r0;
  const paced = windowOffered / windowS;
  if (Math.abs(paced / p.ratePps - 1) > PACE_TOLERANCE)
    problems.push(`the generator kept ${Math.round(paced)} pps in the window, not ${p.ratePps} (more than ${PACE_TOLERANCE * 100}% off)`);
  if (b.procs.generator === undefined) problems.push('the generator had finished before the window closed');
  const procTicks: Partial<Record<K | 'generator', number>> = {};
  for (const k of Object.keys(pids) as Array<K | 'generator'>) {
    const x = a.procs[k];
    const y = b.procs[k];
    if (x !== undefined && y !== undefined) procTicks[k] = y - x;
  }
  return {
    count,
    sent: g.sent,
    genElapsedS: g.elapsedS,
    offered,
    delivered: p.forwarding ? delivered : 0,
    relayCounters,
    exact,
    problems,
    ...(quiet ? { quiet } : {}),
    window: {
      s: windowS,
      offered: windowOffered,
      delivered: p.forwarding ? b.s0 - a.s0 : 0,
      machine: machineDelta(a.machine, b.machine, windowS, clkTck),
      procTicks,
    },
  };
}
