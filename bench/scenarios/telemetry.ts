// SPDX-License-Identifier: MIT
// Scenario telemetry (not in the standard suite): what OpenTelemetry export costs mcr, in CPU per
// forwarded packet (issue #9's "Cost", measured with issue #11's method). mcr with one worker
// forwards a paced 1400-byte stream 1:1 at a fixed rate, alternately without telemetry ("off")
// and with OTLP traces and metrics plus a Prometheus scrape every second ("on"), every batch
// traced in both (spanSampleEvery 1); rounds of generator-alone trials give the baseline. Each trial
// starts a fresh mcrd, lets it settle, and measures a window in the middle of a continuous stream:
// the machine's busy CPU (/proc/stat), mcrd's, its data plane's and the sink's (/proc/PID/stat),
// and the packets delivered in the window. Figures, medians and the noise band come from the pure
// functions at the end (tests/unit/telemetry-bench.test.ts).
import * as os from 'node:os';
import { formatCompact } from '../../src/cli/table';
import { median, ratioOf, relayAddedNsPerPacket, spread, ticksToNs, type MachineCpu, type Spread } from '../cpu';
import { TELEMETRY_SINK } from '../paths';
import { Progress } from '../progress';
import { interrupted, sleep, type Proc } from '../proc';
import { mcrRelay, type McrInstance } from '../relays/mcr';
import type { RelayCounters } from '../relays/relay';
import type { ScrapeValues, SinkCounts, SinkSnapshot } from '../tools/telemetry-sink';
import { clockTicks, loadavg1 as currentLoad, streamTrial } from '../stream-trial';
import { ONE_HOP_PATH, pinning, type TrafficPath } from '../traffic';
import { oneHop, type Topology } from '../topology';
import type { ScenarioResult } from '../types';
import { onePlan, startWarm, type BenchContext } from './common';

export const TELEMETRY_DEFAULT_RATE = 50_000;
export const TELEMETRY_DEFAULT_TRIAL_S = 4;
export const TELEMETRY_DEFAULT_ROUNDS = 7;
const SIZE = 1400;
/** stream before the window opens (the relay in steady state) and after it closes */
const PRE_ROLL_S = 1.5;
const POST_ROLL_S = 0.5;
/** after mcrd's warm-up, before the stream: its start-up work (and the first exports) done */
const SETTLE_MS = 2000;
/** in the relay namespace, where mcrd's loopback is */
const OTLP_LISTEN = '127.0.0.1:4318';
const METRICS_LISTEN = '127.0.0.1:9464';
const SCRAPE_INTERVAL_MS = 1000;

export type TelemetryConfigId = 'gen' | 'off' | 'on';

/** mcrd's config keys beyond the plain one-rule config, per configuration. */
export function telemetryMcrConfig(config: 'off' | 'on'): Record<string, unknown> {
  return config === 'on'
    ? {
        spanSampleEvery: 1,
        telemetry: { otlpEndpoint: `http://${OTLP_LISTEN}`, metricsListen: METRICS_LISTEN, metricExportIntervalMs: 1000 },
      }
    : { spanSampleEvery: 1 };
}

/** What the sink counted over the window (deltas), and what mcrd's /metrics said. */
export interface SinkWindow {
  traces: SinkCounts;
  metrics: SinkCounts;
  scrapes: { ok: number; failed: number; bytes: number; lastError?: string };
  /** mcr_spans_exported_total between the last scrapes before the window's start and end */
  spansExported: number | null;
  spansDroppedRate: number | null;
  exportFailures: number | null;
  /** seconds between those two scrapes */
  scrapeSpanS: number | null;
}

/** The raw readings of one trial (figures are derived from them by deriveTrial). */
export interface TelemetryTrial {
  config: TelemetryConfigId;
  round: number;
  /** position in the run, from 1 */
  order: number;
  startedAt: string;
  /** 1-minute load average when the trial started */
  loadavg1: number;
  ratePps: number;
  count: number;
  sent: number;
  genElapsedS: number;
  /** the whole stream: r0 and s0 rx_packets deltas */
  offered: number;
  delivered: number;
  /** mcr's own counters over the whole stream */
  mcr?: RelayCounters;
  /** delivery exact over the whole stream (gen: every packet sent reached r0) */
  exact: boolean;
  /** why the trial is set aside (loss, counters, pacing, telemetry not exporting) */
  problems: string[];
  window: {
    s: number;
    offered: number;
    delivered: number;
    /** /proc/stat deltas in ticks; busy = CPUs x window - idle - iowait */
    machine: MachineCpu;
    /** utime + stime deltas in ticks */
    procTicks: { mcrd?: number; dataplane?: number; sink?: number; generator?: number };
  };
  sink?: SinkWindow;
  /** filled by deriveTrial */
  figures?: TrialFigures;
}

export interface TrialFigures {
  machineBusyMsPerS: number;
  relayAddedNsPerPacket: number | null;
  /** mcrd + its data plane (utime + stime) per packet: blind to kernel work charged elsewhere, but not to neighbours */
  mcrProcessesNsPerPacket: number | null;
  mcrdMsPerS: number | null;
  mcrdNsPerPacket: number | null;
  dataplaneMsPerS: number | null;
  dataplaneNsPerPacket: number | null;
  sinkMsPerS: number | null;
  generatorMsPerS: number | null;
  spansExportedPerS: number | null;
  spansDroppedRatePerS: number | null;
  tracesRequestsPerS: number | null;
  tracesKBPerS: number | null;
  metricsRequestsPerS: number | null;
  metricsKBPerS: number | null;
  scrapesPerS: number | null;
}

export interface ConfigFigures {
  trials: number;
  /** trials whose figures count (exact delivery, paced, exporting when on) */
  valid: number;
  relayAddedNsPerPacket: Spread;
  mcrProcessesNsPerPacket: Spread;
  machineBusyMsPerS: Spread;
  mcrdMsPerS: Spread;
  mcrdNsPerPacket: Spread;
  dataplaneMsPerS: Spread;
  dataplaneNsPerPacket: Spread;
  sinkMsPerS: Spread;
  spansExportedPerS: Spread;
  spansDroppedRatePerS: Spread;
  tracesRequestsPerS: Spread;
  tracesKBPerS: Spread;
  metricsRequestsPerS: Spread;
  metricsKBPerS: Spread;
  scrapesPerS: Spread;
}

export interface TelemetrySummary {
  size: number;
  ratePps: number;
  trialS: number;
  preRollS: number;
  rounds: number;
  clkTck: number;
  mcrdConfig: { off: Record<string, unknown>; on: Record<string, unknown> };
  startedAt: string;
  endedAt: string;
  /** load averages (1, 5, 15 min) before the first and after the last trial */
  loadBefore: number[];
  loadAfter: number[];
  baseline: { trials: number; valid: number; busyMsPerS: Spread; generatorMsPerS: Spread };
  off: ConfigFigures;
  on: ConfigFigures;
  /** on / off of the medians */
  ratios: {
    relayAddedNsPerPacket: number | null;
    mcrProcessesNsPerPacket: number | null;
    mcrdMsPerS: number | null;
    dataplaneMsPerS: number | null;
  };
  /** on median minus off median, ns per packet */
  deltaNsPerPacket: number | null;
  /** the spread (min-max) of the off trials' relay-added ns per packet: differences inside it are noise */
  noiseBand: { min: number | null; max: number | null; widthNsPerPacket: number | null; widthPctOfMedian: number | null };
  /** whether on's median lies outside the off trials' range */
  onOutsideNoise: boolean | null;
  setAside: Array<{ order: number; config: TelemetryConfigId; problems: string[] }>;
  /** trials that could not run (mcrd did not start...) */
  errors: Array<{ order: number; config: TelemetryConfigId; error: string }>;
  trials: TelemetryTrial[];
}

// --- measuring ---------------------------------------------------------------------------------

type Pids = { mcrd?: number; dataplane?: number; sink?: number };

/** The sink process and its counts on demand (SIGUSR2 -> one JSON line). */
class Sink {
  private seq = 0;

  constructor(readonly proc: Proc) {}

  static async start(topo: Topology): Promise<Sink> {
    const args = [
      TELEMETRY_SINK,
      '--listen',
      OTLP_LISTEN,
      '--scrape',
      `http://${METRICS_LISTEN}/metrics`,
      '--interval-ms',
      String(SCRAPE_INTERVAL_MS),
    ];
    // on the generator's CPU, like the soak's receivers: the relay's CPU stays the relay's
    const proc =
      pinning.gen === undefined
        ? topo.spawn('relay', 'telemetry sink', process.execPath, args)
        : topo.spawn('relay', 'telemetry sink', 'taskset', ['-c', String(pinning.gen), process.execPath, ...args]);
    const deadline = Date.now() + 10_000;
    while (!proc.stderr.includes('listening')) {
      if (!proc.running) throw new Error(`telemetry sink exited: ${proc.stderr.trim()}`);
      if (Date.now() > deadline) throw new Error('telemetry sink did not start');
      await sleep(20);
    }
    return new Sink(proc);
  }

  async snapshot(): Promise<SinkSnapshot> {
    const want = this.seq++;
    this.proc.child.kill('SIGUSR2');
    const deadline = Date.now() + 5000;
    for (;;) {
      const line = this.proc.stdout.split('\n').find((l) => l.startsWith(`{"seq":${want},`));
      if (line) return JSON.parse(line) as SinkSnapshot;
      if (!this.proc.running) throw new Error(`telemetry sink exited: ${this.proc.stderr.trim()}`);
      if (Date.now() > deadline) throw new Error('telemetry sink did not answer SIGUSR2');
      await sleep(5);
    }
  }
}

export function sinkWindow(a: SinkSnapshot, b: SinkSnapshot): SinkWindow {
  const d = (x: SinkCounts, y: SinkCounts): SinkCounts => ({ requests: y.requests - x.requests, bytes: y.bytes - x.bytes });
  const dv = (k: keyof Omit<ScrapeValues, 'atMs'>): number | null => {
    const x = a.last?.[k];
    const y = b.last?.[k];
    return x === null || x === undefined || y === null || y === undefined ? null : y - x;
  };
  return {
    traces: d(a.traces, b.traces),
    metrics: d(a.metrics, b.metrics),
    scrapes: {
      ok: b.scrapes.ok - a.scrapes.ok,
      failed: b.scrapes.failed - a.scrapes.failed,
      bytes: b.scrapes.bytes - a.scrapes.bytes,
      ...(b.scrapes.lastError ? { lastError: b.scrapes.lastError } : {}),
    },
    spansExported: dv('spansExported'),
    spansDroppedRate: dv('spansDroppedRate'),
    exportFailures: dv('exportFailures'),
    scrapeSpanS: a.last && b.last ? (b.last.atMs - a.last.atMs) / 1000 : null,
  };
}

interface TrialPlan {
  config: TelemetryConfigId;
  round: number;
  order: number;
  ratePps: number;
  trialS: number;
}

/** One trial: (mcrd with or without telemetry, or nothing), a continuous stream, a window in its middle. */
async function runOne(ctx: BenchContext, topo: Topology, path: TrafficPath, p: TrialPlan, clkTck: number): Promise<TelemetryTrial> {
  const startedAt = new Date().toISOString();
  const loadavg1 = currentLoad();
  let sink: Sink | undefined;
  let inst: McrInstance | undefined;
  const pids: Pids = {};
  const relay = mcrRelay(1);
  const plan = p.config === 'gen' ? undefined : onePlan(topo, ctx.dir, { mcrConfig: telemetryMcrConfig(p.config) });
  try {
    if (p.config === 'on') {
      sink = await Sink.start(topo);
      pids.sink = sink.proc.pid;
    }
    if (plan) {
      inst = (await startWarm(relay, plan, path, SIZE)) as McrInstance;
      pids.mcrd = inst.pid;
      const workers = await inst.client.request('workers');
      pids.dataplane = workers.dataplane.pid ?? undefined;
      await sleep(SETTLE_MS);
    }
    let sa: SinkSnapshot | undefined;
    let sb: SinkSnapshot | undefined;
    const raw = await streamTrial(
      topo,
      path,
      {
        ratePps: p.ratePps,
        size: SIZE,
        trialS: p.trialS,
        preRollS: PRE_ROLL_S,
        postRollS: POST_ROLL_S,
        port: plan?.port ?? 5001,
        forwarding: plan !== undefined,
        pids,
        counters: inst ? () => (inst as McrInstance).counters() : undefined,
        onWindowStart: async () => {
          sa = sink ? await sink.snapshot() : undefined;
        },
        onWindowEnd: async () => {
          sb = sink ? await sink.snapshot() : undefined;
        },
      },
      clkTck,
    );
    const problems = raw.problems;
    const sw = sa && sb ? sinkWindow(sa, sb) : undefined;
    if (p.config === 'on') {
      if (!sw || sw.traces.requests === 0) problems.push('no OTLP trace request reached the sink in the window');
      if (!sw || sw.metrics.requests === 0) problems.push('no OTLP metrics request reached the sink in the window');
      if (!sw || sw.scrapes.ok === 0)
        problems.push(`no /metrics scrape succeeded in the window${sw?.scrapes.lastError ? ` (${sw.scrapes.lastError})` : ''}`);
    }
    const m = raw.relayCounters;
    return {
      config: p.config,
      round: p.round,
      order: p.order,
      startedAt,
      loadavg1,
      ratePps: p.ratePps,
      count: raw.count,
      sent: raw.sent,
      genElapsedS: raw.genElapsedS,
      offered: raw.offered,
      delivered: raw.delivered,
      mcr: m ? { rx: m.rx, tx: m.tx, ringDrops: m.ringDrops ?? 0, txErrors: m.txErrors ?? 0 } : undefined,
      exact: raw.exact,
      problems,
      window: raw.window,
      sink: sw,
    };
  } finally {
    if (inst) await inst.stop().catch(() => undefined);
    if (sink) await sink.proc.stop('SIGTERM', 3000);
  }
}

/** The trial order: rounds of generator alone, then off and on alternating which comes first. */
export function trialOrder(rounds: number): Array<{ config: TelemetryConfigId; round: number }> {
  const out: Array<{ config: TelemetryConfigId; round: number }> = [];
  for (let round = 1; round <= rounds; round++) {
    const pair: TelemetryConfigId[] = round % 2 === 1 ? ['off', 'on'] : ['on', 'off'];
    for (const config of ['gen', ...pair] as TelemetryConfigId[]) out.push({ config, round });
  }
  return out;
}

export async function telemetry(ctx: BenchContext): Promise<ScenarioResult<'telemetry'>> {
  const t0 = Date.now();
  const ratePps = ctx.telemetryRatePps ?? TELEMETRY_DEFAULT_RATE;
  const trialS = ctx.telemetryTrialS ?? (ctx.quick ? 1 : TELEMETRY_DEFAULT_TRIAL_S);
  const rounds = ctx.telemetryRounds ?? (ctx.quick ? 2 : TELEMETRY_DEFAULT_ROUNDS);
  const clkTck = await clockTicks();
  const order = trialOrder(rounds);
  const progress = new Progress('telemetry', order.length);
  const topo = await oneHop('tm');
  const path = ONE_HOP_PATH(topo);
  const trials: TelemetryTrial[] = [];
  const errors: TelemetrySummary['errors'] = [];
  const startedAt = new Date().toISOString();
  const loadBefore = os.loadavg().map((x) => Math.round(x * 100) / 100);
  try {
    for (const [i, o] of order.entries()) {
      progress.status(`round ${o.round}/${rounds}: ${o.config === 'gen' ? 'generator alone' : `telemetry ${o.config}`}`, 0);
      let t: TelemetryTrial;
      try {
        t = await runOne(ctx, topo, path, { ...o, order: i + 1, ratePps, trialS }, clkTck);
      } catch (err) {
        if (interrupted()) throw err;
        const error = (err as Error).message;
        errors.push({ order: i + 1, config: o.config, error });
        progress.item(`#${i + 1} ${o.config.padEnd(3)} round ${o.round}: FAILED: ${error}`);
        continue;
      }
      trials.push(t);
      const busy = ticksToNs(t.window.machine.busy, clkTck) / 1e6 / t.window.s;
      progress.item(
        `#${t.order} ${o.config.padEnd(3)} round ${o.round}: window ${t.window.s.toFixed(2)} s, ${formatCompact(t.window.offered)} offered, machine busy ${busy.toFixed(0)} ms/s${
          t.window.procTicks.mcrd !== undefined
            ? `, mcrd ${(ticksToNs(t.window.procTicks.mcrd, clkTck) / 1e6 / t.window.s).toFixed(1)} ms/s`
            : ''
        }${t.sink?.spansExported != null && t.sink.scrapeSpanS ? `, ${Math.round(t.sink.spansExported / t.sink.scrapeSpanS)} spans/s` : ''}, load ${t.loadavg1.toFixed(2)}${
          t.problems.length ? `; SET ASIDE: ${t.problems.join('; ')}` : ''
        }`,
      );
    }
  } finally {
    await topo.destroy();
  }
  const summary = summarizeTelemetry(trials, {
    ratePps,
    trialS,
    rounds,
    clkTck,
    startedAt,
    endedAt: new Date().toISOString(),
    loadBefore,
    loadAfter: os.loadavg().map((x) => Math.round(x * 100) / 100),
    errors,
  });
  const notes = [
    `mcr with one worker (pinned to CPU ${pinning.relay?.[0] ?? '-'}; its Node threads, the generator and the sink on CPU ${pinning.gen ?? '-'}), one 1400-byte stream 1:1 at ${ratePps} pps, paced in 1 ms bursts. Each trial starts a fresh mcrd (warm-up stream, then ${SETTLE_MS / 1000} s idle), then streams for ${PRE_ROLL_S} + ${trialS} + ${POST_ROLL_S} s and measures the ${trialS} s window in the middle.`,
    `off: mcrd config ${JSON.stringify(summary.mcrdConfig.off)}; on: ${JSON.stringify(summary.mcrdConfig.on)} (telemetry.spansPerSecond at its default: 1,000 spans a second, a batch's tree being 4 spans), with the sink (bench/tools/telemetry-sink.ts, in the relay namespace) answering every OTLP request with 200 and GETting /metrics every ${SCRAPE_INTERVAL_MS} ms.`,
    `Relay-added CPU per packet = (machine busy CPU over the window: CPUs x wall time - idle - iowait from /proc/stat) - (median generator-alone busy CPU per second x window) - (the sink's utime + stime), / packets delivered to s0 in the window. Process CPU from /proc/PID/stat (utime + stime, all threads; ${clkTck} ticks/s). Medians over the valid trials; spread min-max.`,
  ];
  progress.finish(
    `off ${fmtNs(summary.off.relayAddedNsPerPacket.median)} ns/pkt, on ${fmtNs(summary.on.relayAddedNsPerPacket.median)} ns/pkt (x${summary.ratios.relayAddedNsPerPacket?.toFixed(2) ?? '?'}), mcrd ${summary.off.mcrdMsPerS.median?.toFixed(1) ?? '?'} -> ${summary.on.mcrdMsPerS.median?.toFixed(1) ?? '?'} ms/s`,
  );
  return { trials: [], summary, notes, durationS: (Date.now() - t0) / 1000 };
}

const fmtNs = (x: number | null): string => (x === null ? '?' : Math.round(x).toLocaleString('en-US'));

// --- the arithmetic (pure) ---------------------------------------------------------------------

/** A trial's figures, given the baseline (median generator-alone busy CPU, ns per second). */
export function deriveTrial(t: TelemetryTrial, baselineBusyNsPerS: number | null, clkTck: number): TrialFigures {
  const w = t.window;
  const ns = (ticks: number | undefined): number | null => (ticks === undefined ? null : ticksToNs(ticks, clkTck));
  const perS = (x: number | null): number | null => (x === null || w.s <= 0 ? null : x / w.s);
  const msPerS = (ticks: number | undefined): number | null => {
    const v = perS(ns(ticks));
    return v === null ? null : v / 1e6;
  };
  const perPacket = (ticks: number | undefined): number | null => {
    const v = ns(ticks);
    return v === null || w.delivered <= 0 ? null : v / w.delivered;
  };
  const busyNs = ticksToNs(w.machine.busy, clkTck);
  const s = t.sink;
  const spanS = s?.scrapeSpanS ?? null;
  return {
    machineBusyMsPerS: busyNs / 1e6 / w.s,
    relayAddedNsPerPacket:
      t.config === 'gen' || baselineBusyNsPerS === null
        ? null
        : relayAddedNsPerPacket({
            busyNs,
            windowS: w.s,
            baselineBusyNsPerS,
            helperNs: ns(w.procTicks.sink) ?? 0,
            delivered: w.delivered,
          }),
    mcrProcessesNsPerPacket:
      w.procTicks.mcrd === undefined || w.procTicks.dataplane === undefined ? null : perPacket(w.procTicks.mcrd + w.procTicks.dataplane),
    mcrdMsPerS: msPerS(w.procTicks.mcrd),
    mcrdNsPerPacket: perPacket(w.procTicks.mcrd),
    dataplaneMsPerS: msPerS(w.procTicks.dataplane),
    dataplaneNsPerPacket: perPacket(w.procTicks.dataplane),
    sinkMsPerS: msPerS(w.procTicks.sink),
    generatorMsPerS: msPerS(w.procTicks.generator),
    spansExportedPerS: s?.spansExported != null && spanS ? s.spansExported / spanS : null,
    spansDroppedRatePerS: s?.spansDroppedRate != null && spanS ? s.spansDroppedRate / spanS : null,
    tracesRequestsPerS: s ? s.traces.requests / w.s : null,
    tracesKBPerS: s ? s.traces.bytes / 1000 / w.s : null,
    metricsRequestsPerS: s ? s.metrics.requests / w.s : null,
    metricsKBPerS: s ? s.metrics.bytes / 1000 / w.s : null,
    scrapesPerS: s ? s.scrapes.ok / w.s : null,
  };
}

function configFigures(trials: TelemetryTrial[]): ConfigFigures {
  const valid = trials.filter((t) => t.problems.length === 0 && t.figures);
  const of = (k: keyof TrialFigures): Spread => spread(valid.map((t) => t.figures?.[k]));
  return {
    trials: trials.length,
    valid: valid.length,
    relayAddedNsPerPacket: of('relayAddedNsPerPacket'),
    mcrProcessesNsPerPacket: of('mcrProcessesNsPerPacket'),
    machineBusyMsPerS: of('machineBusyMsPerS'),
    mcrdMsPerS: of('mcrdMsPerS'),
    mcrdNsPerPacket: of('mcrdNsPerPacket'),
    dataplaneMsPerS: of('dataplaneMsPerS'),
    dataplaneNsPerPacket: of('dataplaneNsPerPacket'),
    sinkMsPerS: of('sinkMsPerS'),
    spansExportedPerS: of('spansExportedPerS'),
    spansDroppedRatePerS: of('spansDroppedRatePerS'),
    tracesRequestsPerS: of('tracesRequestsPerS'),
    tracesKBPerS: of('tracesKBPerS'),
    metricsRequestsPerS: of('metricsRequestsPerS'),
    metricsKBPerS: of('metricsKBPerS'),
    scrapesPerS: of('scrapesPerS'),
  };
}

/**
 * The scenario's summary from its raw trials: the baseline (median busy CPU per second of the
 * valid generator-alone trials), each trial's figures, medians and spreads per configuration,
 * on/off ratios and the noise band (the off trials' min-max).
 */
export function summarizeTelemetry(
  raw: TelemetryTrial[],
  o: {
    ratePps: number;
    trialS: number;
    rounds: number;
    clkTck: number;
    startedAt: string;
    endedAt: string;
    loadBefore: number[];
    loadAfter: number[];
    errors?: TelemetrySummary['errors'];
  },
): TelemetrySummary {
  const gens = raw.filter((t) => t.config === 'gen' && t.problems.length === 0);
  const baselineNsPerS = median(gens.map((t) => ticksToNs(t.window.machine.busy, o.clkTck) / t.window.s));
  const trials = raw.map((t) => ({ ...t, figures: deriveTrial(t, baselineNsPerS, o.clkTck) }));
  const off = configFigures(trials.filter((t) => t.config === 'off'));
  const on = configFigures(trials.filter((t) => t.config === 'on'));
  const genFigures = configFigures(trials.filter((t) => t.config === 'gen'));
  const band = off.relayAddedNsPerPacket;
  const width = band.min !== null && band.max !== null ? band.max - band.min : null;
  const onMedian = on.relayAddedNsPerPacket.median;
  const offMedian = off.relayAddedNsPerPacket.median;
  return {
    size: SIZE,
    ratePps: o.ratePps,
    trialS: o.trialS,
    preRollS: PRE_ROLL_S,
    rounds: o.rounds,
    clkTck: o.clkTck,
    mcrdConfig: { off: telemetryMcrConfig('off'), on: telemetryMcrConfig('on') },
    startedAt: o.startedAt,
    endedAt: o.endedAt,
    loadBefore: o.loadBefore,
    loadAfter: o.loadAfter,
    baseline: {
      trials: raw.filter((t) => t.config === 'gen').length,
      valid: gens.length,
      busyMsPerS: genFigures.machineBusyMsPerS,
      generatorMsPerS: spread(trials.filter((t) => t.config === 'gen' && t.problems.length === 0).map((t) => t.figures.generatorMsPerS)),
    },
    off,
    on,
    ratios: {
      relayAddedNsPerPacket: ratioOf(onMedian, offMedian),
      mcrProcessesNsPerPacket: ratioOf(on.mcrProcessesNsPerPacket.median, off.mcrProcessesNsPerPacket.median),
      mcrdMsPerS: ratioOf(on.mcrdMsPerS.median, off.mcrdMsPerS.median),
      dataplaneMsPerS: ratioOf(on.dataplaneMsPerS.median, off.dataplaneMsPerS.median),
    },
    deltaNsPerPacket: onMedian !== null && offMedian !== null ? onMedian - offMedian : null,
    noiseBand: {
      min: band.min,
      max: band.max,
      widthNsPerPacket: width,
      widthPctOfMedian: width !== null && offMedian ? (100 * width) / offMedian : null,
    },
    onOutsideNoise: onMedian === null || band.min === null || band.max === null ? null : onMedian < band.min || onMedian > band.max,
    setAside: trials.filter((t) => t.problems.length > 0).map((t) => ({ order: t.order, config: t.config, problems: t.problems })),
    errors: o.errors ?? [],
    trials,
  };
}
