// SPDX-License-Identifier: MIT
// One trial: run mcrgen in the generator namespace (one process per stream), wait until the sink's
// counter stops moving, and turn kernel interface counter deltas (offered = relay input rx,
// delivered = sink rx / fan-out) plus the relay's own counters into a Trial.
import type { Relay, RelayCounters, RelayInstance, RelayPlan } from './relays/relay';
import { inputGroup } from './relays/relay';
import { existsSync } from 'node:fs';
import { lastJsonLine, recvArgs, sendArgs, sendResults } from '../lab/mcrgen';
import { LAT_RECV, MCRGEN } from './paths';
import { sleep, type Proc } from './proc';
import type { IfCounters, Topology } from './topology';
import type { Trial } from './types';

/** Where a trial's traffic enters and leaves: generator, relay input and sink interfaces. */
export interface TrafficPath {
  topo: Topology;
  genNs: string;
  genIf: string;
  source: string;
  inNs: string;
  inIf: string;
  sinkNs: string;
  sinkIf: string;
}

export const ONE_HOP_PATH = (topo: Topology): TrafficPath => ({
  topo,
  genNs: 'gen',
  genIf: 'g0',
  source: '10.0.1.1',
  inNs: 'relay',
  inIf: 'r0',
  sinkNs: 'sink',
  sinkIf: 's0',
});

/**
 * CPU pinning for the whole run (run.ts sets it): the generator on one CPU,
 * relays on the other (RelayPlan.cpus), so the relay never shares its CPU with the generator.
 */
export const pinning: { gen?: number; relay?: number[] } = {};

function onGenCpu(cmd: string, args: string[]): [string, string[]] {
  return pinning.gen === undefined ? [cmd, args] : ['taskset', ['-c', String(pinning.gen), cmd, ...args]];
}

/** mcrgen recv is left to the scheduler. (The latency probe shares the generator's CPU instead:
 *  the relay's CPU stays the relay's, as on a router, and the probe's kernel receive timestamps
 *  do not count its own scheduling.) */
function unpinned(cmd: string, args: string[]): [string, string[]] {
  return [cmd, args];
}

export interface GenResult {
  sent: number;
  elapsedS: number;
  sendErrors: number;
}

export interface GenSpec {
  streams: number;
  /** aggregate rate (0 = unlimited) */
  rate: number;
  /** aggregate count */
  count: number;
  size: number;
  port: number;
  stampGroup?: number;
  /** packets per paced sendmmsg batch (mcrgen default: rate/1000, so 1 ms bursts) */
  batch?: number;
}

function genArgs(p: TrafficPath, s: GenSpec, k: number, rate: number, count: number): string[] {
  // Many slow generators: wake each ~250 times a second instead of 1000 (2 cores).
  const batch = s.batch ? s.batch : s.streams > 1 && rate > 0 ? Math.min(64, Math.max(1, Math.ceil(rate / 250))) : undefined;
  return sendArgs({
    group: inputGroup(k),
    port: s.port,
    source: p.source,
    rate,
    count,
    size: s.size,
    stream: k,
    batch,
    stampGroup: s.stampGroup,
  });
}

/** The senders' results added up (one JSON line per mcrgen process). */
function sumGenResults(out: string): GenResult {
  const lines = sendResults(out);
  return {
    sent: lines.reduce((n, j) => n + j.sent, 0),
    elapsedS: lines.reduce((m, j) => Math.max(m, j.elapsed_s), 0),
    sendErrors: lines.reduce((n, j) => n + j.send_errors, 0),
  };
}

/** Starts the generator(s); with several streams one shell forks them all at once. */
export function startGenerator(p: TrafficPath, s: GenSpec): { proc: Proc; result: Promise<GenResult> } {
  let proc: Proc;
  if (s.streams === 1) {
    proc = p.topo.spawn(p.genNs, 'mcrgen send', ...onGenCpu(MCRGEN, genArgs(p, s, 0, Math.round(s.rate), s.count)));
  } else {
    const per = Math.max(1, Math.round(s.count / s.streams));
    const rate = s.rate === 0 ? 0 : Math.max(1, Math.round(s.rate / s.streams));
    const quote = (a: string): string => `'${a}'`;
    const script =
      Array.from({ length: s.streams }, (_, k) => `${quote(MCRGEN)} ${genArgs(p, s, k, rate, per).map(quote).join(' ')} &`).join('\n') +
      '\nwait\n';
    proc = p.topo.spawn(p.genNs, 'mcrgen send xN', ...onGenCpu('sh', ['-c', script]));
  }
  const result = proc.exited.then((code) => {
    if (code !== 0) throw new Error(`mcrgen send exited ${code}: ${proc.stderr.trim()}`);
    return sumGenResults(proc.stdout);
  });
  result.catch(() => undefined);
  return { proc, result };
}

export async function generate(p: TrafficPath, s: GenSpec): Promise<GenResult> {
  return startGenerator(p, s).result;
}

interface Snapshot {
  gen: IfCounters;
  input: IfCounters;
  sink: IfCounters;
  relay?: RelayCounters;
}

function snapshot(p: TrafficPath): Omit<Snapshot, 'relay'> {
  return { gen: p.topo.counter(p.genNs, p.genIf), input: p.topo.counter(p.inNs, p.inIf), sink: p.topo.counter(p.sinkNs, p.sinkIf) };
}

/** Waits until the sink's rx counter has not moved for `stableMs` (at most maxMs). */
export async function quiesce(p: TrafficPath, stableMs = 150, maxMs = 4000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = p.topo.counter(p.sinkNs, p.sinkIf).rxPackets;
  let since = Date.now();
  while (Date.now() < deadline) {
    await sleep(25);
    const now = p.topo.counter(p.sinkNs, p.sinkIf).rxPackets;
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= stableMs) {
      return;
    }
  }
}

function diff(a: RelayCounters, b: RelayCounters): RelayCounters {
  const d = (x?: number, y?: number): number | undefined => (x === undefined || y === undefined ? undefined : y - x);
  return {
    rx: b.rx - a.rx,
    tx: b.tx - a.tx,
    bufExhaust: d(a.bufExhaust, b.bufExhaust),
    ringDrops: d(a.ringDrops, b.ringDrops),
    txErrors: d(a.txErrors, b.txErrors),
  };
}

export interface TrialContext {
  path: TrafficPath;
  relay: Relay;
  inst: RelayInstance;
  plan: RelayPlan;
  size: number;
}

/**
 * Runs one trial at `rate` (0 = unlimited) for `count` packets in all. Lossless means mcrgen sent
 * every packet, the relay's input interface received all of them (offered) and the sink received
 * offered x fan-out (delivered); a relay with counters must also agree with the kernel.
 */
export async function runTrial(
  ctx: TrialContext,
  rate: number,
  count: number,
  opts: { stampGroup?: number; batch?: number } = {},
): Promise<Trial> {
  const p = ctx.path;
  const wall0 = Date.now();
  // several streams: every generator sends the same share
  count = ctx.plan.streams === 1 ? count : Math.max(1, Math.round(count / ctx.plan.streams)) * ctx.plan.streams;
  const relay0 = await ctx.inst.counters();
  const c0 = snapshot(p);
  const gen = await generate(p, {
    streams: ctx.plan.streams,
    rate,
    count,
    size: ctx.size,
    port: ctx.plan.port,
    stampGroup: opts.stampGroup,
    batch: opts.batch,
  });
  await quiesce(p);
  let c1 = snapshot(p);
  let relay1 = await ctx.inst.counters();
  const fanout = ctx.plan.fanout;
  const offered = c1.input.rxPackets - c0.input.rxPackets;
  let deliveredRaw = c1.sink.rxPackets - c0.sink.rxPackets;
  // Every offered frame is either read by the relay or counted as a ring drop; every packet the
  // relay sent reached the sink.
  const agrees = (r1: RelayCounters | undefined): boolean =>
    relay0 === undefined ||
    r1 === undefined ||
    (r1.rx - relay0.rx + ((r1.ringDrops ?? 0) - (relay0.ringDrops ?? 0)) === offered && r1.tx - relay0.tx === deliveredRaw);
  if (!agrees(relay1)) {
    // mcr folds kernel ring drops into its counters every 250 ms: give late counters a chance
    await sleep(400);
    c1 = snapshot(p);
    deliveredRaw = c1.sink.rxPackets - c0.sink.rxPackets;
    relay1 = await ctx.inst.counters();
  }
  const delivered = deliveredRaw / fanout;
  const elapsed = gen.elapsedS > 0 ? gen.elapsedS : 1e-9;
  const t: Trial = {
    relay: ctx.relay.id,
    label: ctx.relay.label,
    size: ctx.size,
    streams: ctx.plan.streams,
    fanout,
    workers: ctx.relay.id.startsWith('mcr') ? ctx.plan.workers : undefined,
    requestedPps: rate,
    count,
    sent: gen.sent,
    genElapsedS: gen.elapsedS,
    sendErrors: gen.sendErrors,
    offered,
    offeredPps: offered / elapsed,
    deliveredRaw,
    delivered,
    deliveredPps: delivered / elapsed,
    vethDrops: c1.gen.txDropped - c0.gen.txDropped,
    inputRxDropped: c1.input.rxDropped - c0.input.rxDropped,
    sinkRxDropped: c1.sink.rxDropped - c0.sink.rxDropped,
    lossless: false,
    loss: Math.max(0, gen.sent - delivered),
    lossPct: gen.sent > 0 ? (100 * Math.max(0, gen.sent - delivered)) / gen.sent : 0,
    wallS: 0,
  };
  if (relay0 && relay1) {
    t.relayDelta = diff(relay0, relay1);
    const problems: string[] = [];
    const seen = t.relayDelta.rx + (t.relayDelta.ringDrops ?? 0);
    if (seen !== offered)
      problems.push(`relay rx ${t.relayDelta.rx} + ring drops ${t.relayDelta.ringDrops ?? 0} != kernel offered ${offered}`);
    if (t.relayDelta.tx !== deliveredRaw) problems.push(`relay tx ${t.relayDelta.tx} != kernel delivered ${deliveredRaw}`);
    t.countersAgree = problems.length === 0;
    if (problems.length) t.mismatch = problems.join('; ');
  }
  t.lossless = gen.sent === count && offered === gen.sent && deliveredRaw === offered * fanout && t.countersAgree !== false;
  t.wallS = (Date.now() - wall0) / 1000;
  return t;
}

export interface Percentiles {
  p50: number | null;
  p90: number | null;
  p99: number | null;
  p999: number | null;
  max: number | null;
}

export interface RecvReport {
  unique: number;
  lost: number;
  /** from the kernel's receive timestamp at the sink (null with the mcrgen recv fallback) */
  wire: Percentiles | null;
  /** from the time the receiving process got the packet */
  app: Percentiles;
  tool: 'lat-recv' | 'mcrgen recv';
}

/**
 * Starts the latency receiver in a namespace (build/bench/lat-recv, or `mcrgen recv` if the probe
 * was not built) and resolves `ready` once it has joined.
 */
export function startReceiver(
  topo: Topology,
  ns: string,
  o: { group: string; port: number; iface: string; count: number; timeoutS: number },
): { ready: Promise<void>; result: Promise<RecvReport>; proc: Proc } {
  const probe = existsSync(LAT_RECV);
  const proc = probe
    ? topo.spawn(
        ns,
        'lat-recv',
        ...onGenCpu(LAT_RECV, [
          '--group',
          o.group,
          '--port',
          String(o.port),
          '--interface',
          o.iface,
          '--count',
          String(o.count),
          '--timeout',
          String(o.timeoutS),
        ]),
      )
    : topo.spawn(ns, 'mcrgen recv', ...unpinned(MCRGEN, recvArgs(o)));
  const ready = (async () => {
    const deadline = Date.now() + 10_000;
    while (!proc.stderr.includes('receiving')) {
      if (!proc.running) throw new Error(`${proc.label} exited: ${proc.stderr.trim()}`);
      if (Date.now() > deadline) throw new Error(`${proc.label} did not start`);
      await sleep(20);
    }
  })();
  const result = proc.exited.then((): RecvReport => {
    const j = lastJsonLine<{ unique: number; lost: number; wire_us?: Percentiles; app_us?: Percentiles; latency_us?: Percentiles }>(
      proc.stdout,
    );
    return probe
      ? { unique: j.unique, lost: j.lost, wire: j.wire_us ?? null, app: j.app_us as Percentiles, tool: 'lat-recv' }
      : { unique: j.unique, lost: j.lost, wire: null, app: j.latency_us as Percentiles, tool: 'mcrgen recv' };
  });
  ready.catch(() => undefined);
  result.catch(() => undefined);
  return { ready, result, proc };
}

/** Measures what mcrgen reaches unlimited at this size with nothing forwarding (same run). */
export async function generatorMax(p: TrafficPath, size: number, seconds: number): Promise<number> {
  const count = Math.round(Math.min(1_000_000, size <= 1500 ? 800_000 : 250_000) * seconds);
  const r = await generate(p, { streams: 1, rate: 0, count, size, port: 5001 });
  return r.sent / r.elapsedS;
}
