// SPDX-License-Identifier: MIT
// Scenario efficiency (not in the standard suite): relay-added CPU per forwarded packet, issue #11's
// method. Each relay of the efficiency set (bench/relays/registry.ts: mcr default and busyPoll,
// kernel routing, the C relay) forwards one paced stream 1:1 at 50k, 100k and 250k pps with 1400-
// and 64-byte payloads; the generator alone at the same rate and size is the baseline. Repetitions
// are interleaved: within each, every (size, rate) block runs every relay and the generator alone
// once, in an order rotated from one repetition to the next, so drift hits all alike. Each trial
// starts the relay afresh and measures a window in the middle of a continuous stream
// (bench/stream-trial.ts). Figures, medians, ratios and noise bands come from the pure functions at
// the end (tests/unit/efficiency-bench.test.ts).
import { formatCompact } from '../../src/cli/table';
import { median, ratioOf, relayAddedNsPerPacket, spread, ticksToNs, type MachineCpu, type Spread } from '../cpu';
import { Progress } from '../progress';
import { interrupted, sleep } from '../proc';
import type { McrInstance } from '../relays/mcr';
import { EFFICIENCY_RELAYS, PEERS, relayOrder } from '../relays/registry';
import type { RelayCounters, RelayInstance } from '../relays/relay';
import { clockTicks, loadAverages, loadavg1, streamTrial } from '../stream-trial';
import { ONE_HOP_PATH, pinning, type TrafficPath } from '../traffic';
import { oneHop, type Topology } from '../topology';
import type { ScenarioResult } from '../types';
import { onePlan, pickRelays, startWarm, type BenchContext } from './common';

export const EFFICIENCY_RATES = [50_000, 100_000, 250_000];
export const EFFICIENCY_SIZES = [1400, 64];
export const EFFICIENCY_DEFAULT_REPETITIONS = 5;
export const EFFICIENCY_DEFAULT_TRIAL_S = 3;
/** --quick: a smoke run, not for publishing */
export const EFFICIENCY_QUICK = { rates: [100_000], sizes: [1400], repetitions: 2, trialS: 1 };
/** stream before the window opens (the relay in steady state) and after it closes */
const PRE_ROLL_S = 1;
const POST_ROLL_S = 0.5;
/** after the relay's warm-up, before the stream: its start-up work done */
const SETTLE_MS = 1000;
/** the machine's busy CPU is read over this long just before each stream, nothing sent: others' load */
const QUIET_S = 0.5;
/** a paired ratio's noise band is never taken narrower than this */
export const MIN_RATIO_BAND = 0.1;

/** A relay id of the efficiency set, or 'gen': the generator alone (the baseline). */
export type EfficiencyConfig = string;
export const GEN = 'gen';

/** The raw readings of one trial (figures are derived from them by deriveEfficiencyTrial). */
export interface EfficiencyTrial {
  relay: EfficiencyConfig;
  size: number;
  ratePps: number;
  /** repetition, from 1 */
  rep: number;
  /** position in the run, from 1 */
  order: number;
  startedAt: string;
  /** 1-minute load average when the trial started: others may be using the machine */
  loadavg1: number;
  count: number;
  sent: number;
  genElapsedS: number;
  /** the whole stream: r0 and s0 rx_packets deltas */
  offered: number;
  delivered: number;
  /** offered - delivered over the whole stream (0 for the generator alone) */
  lost: number;
  /** mcr's own counters over the whole stream, with its workers' batches and wake-ups */
  mcr?: RelayCounters;
  exact: boolean;
  /** why the trial is set aside (loss, counters, pacing) */
  problems: string[];
  /** machine busy CPU over QUIET_S just before the stream (relay idle, nothing sent): load from others */
  quiet?: { s: number; busyMsPerS: number };
  window: {
    s: number;
    offered: number;
    delivered: number;
    /** /proc/stat deltas in ticks; busy = CPUs x window - idle - iowait */
    machine: MachineCpu;
    /** utime + stime deltas in ticks: the relay's process (mcrd, c-relay, smcrouted), mcr's data plane, the generator */
    procTicks: { relay?: number; dataplane?: number; generator?: number };
  };
  /** filled by summarizeEfficiency */
  figures?: EfficiencyFigures;
}

export interface EfficiencyFigures {
  machineBusyMsPerS: number;
  /** (machine busy - generator-alone busy at this rate and size, scaled to the window) / delivered */
  relayAddedNsPerPacket: number | null;
  /** the relay's processes (mcr: mcrd + data plane) per delivered packet; blind to kernel work charged elsewhere */
  relayProcessesNsPerPacket: number | null;
  relayProcessesMsPerS: number | null;
  generatorMsPerS: number | null;
  /** mcr over the whole stream: frames received per poll() wake-up, and per receive batch */
  framesPerWakeup: number | null;
  framesPerBatch: number | null;
}

/** One relay at one rate and size. */
export interface EfficiencyCell {
  relay: string;
  size: number;
  ratePps: number;
  trials: number;
  /** trials whose figures count (exact delivery, paced) */
  valid: number;
  setAside: number;
  /** packets lost over every trial of the cell (set-aside ones included) */
  lost: number;
  relayAddedNsPerPacket: Spread;
  relayProcessesNsPerPacket: Spread;
  machineBusyMsPerS: Spread;
  framesPerWakeup: Spread;
  framesPerBatch: Spread;
}

/** mcr (a variant) against a peer at one rate and size, relay-added ns per packet. */
export interface EfficiencyRatio {
  relay: string;
  peer: string;
  size: number;
  ratePps: number;
  /** median / median */
  value: number | null;
  /** per-repetition ratios (both trials of the repetition valid) */
  paired: Spread;
  /** relative noise band from the paired ratios' quartiles around value, at least MIN_RATIO_BAND */
  band: number | null;
}

export interface EfficiencySummary {
  relays: string[];
  rates: number[];
  /** datagrams per paced sendmmsg, when --batch set it (otherwise mcrgen's 1 ms bursts) */
  batch?: number;
  sizes: number[];
  repetitions: number;
  trialS: number;
  preRollS: number;
  clkTck: number;
  startedAt: string;
  endedAt: string;
  /** load averages (1, 5, 15 min) before the first and after the last trial */
  loadBefore: number[];
  loadAfter: number[];
  /** the 1-minute load average over the trials */
  load: Spread;
  /** machine busy CPU just before each stream (relay idle, nothing sent), ms per s: 0-30 on an idle machine */
  quietBusyMsPerS: Spread;
  baseline: Array<{ size: number; ratePps: number; trials: number; valid: number; busyMsPerS: Spread; generatorMsPerS: Spread }>;
  cells: EfficiencyCell[];
  ratios: EfficiencyRatio[];
  /** relays not run, with the reason */
  skipped: Record<string, string>;
  setAside: Array<{ order: number; relay: string; size: number; ratePps: number; rep: number; problems: string[] }>;
  errors: Array<{ order: number; relay: string; size: number; ratePps: number; rep: number; error: string }>;
  trials: EfficiencyTrial[];
}

// --- the trial order -----------------------------------------------------------------------------

export interface PlannedTrial {
  relay: EfficiencyConfig;
  size: number;
  ratePps: number;
  rep: number;
}

/**
 * Repetitions, each running every (size, rate) block once; in each block the generator alone and
 * every relay once, the order rotated by one place per repetition so each takes every position.
 */
export function efficiencyOrder(relays: string[], rates: number[], sizes: number[], repetitions: number): PlannedTrial[] {
  const configs = [GEN, ...relays];
  const out: PlannedTrial[] = [];
  for (let rep = 1; rep <= repetitions; rep++) {
    const shift = (rep - 1) % configs.length;
    const rotated = [...configs.slice(shift), ...configs.slice(0, shift)];
    for (const size of sizes) for (const ratePps of rates) for (const relay of rotated) out.push({ relay, size, ratePps, rep });
  }
  return out;
}

// --- measuring -----------------------------------------------------------------------------------

/** One trial: a fresh relay (or nothing), a continuous stream, a window in its middle. */
async function runOne(
  ctx: BenchContext,
  topo: Topology,
  path: TrafficPath,
  p: PlannedTrial & { order: number; trialS: number },
  clkTck: number,
): Promise<EfficiencyTrial> {
  const startedAt = new Date().toISOString();
  const load = loadavg1();
  const relay = p.relay === GEN ? undefined : ctx.relays.find((r) => r.id === p.relay);
  if (p.relay !== GEN && !relay) throw new Error(`no relay ${p.relay}`);
  const plan = relay ? onePlan(topo, ctx.dir) : undefined;
  const isMcr = p.relay.startsWith('mcr');
  let inst: RelayInstance | undefined;
  const pids: { relay?: number; dataplane?: number } = {};
  try {
    if (relay && plan) {
      inst = await startWarm(relay, plan, path, p.size);
      pids.relay = inst.pid;
      if (isMcr) {
        const workers = await (inst as McrInstance).client.request('workers');
        pids.dataplane = workers.dataplane.pid ?? undefined;
      }
      await sleep(SETTLE_MS);
    }
    const live = inst;
    const raw = await streamTrial(
      topo,
      path,
      {
        ratePps: p.ratePps,
        size: p.size,
        trialS: p.trialS,
        preRollS: PRE_ROLL_S,
        postRollS: POST_ROLL_S,
        port: plan?.port ?? 5001,
        batch: ctx.efficiencyBatch,
        forwarding: plan !== undefined,
        quietS: QUIET_S,
        pids,
        // only mcr's counters count every frame exactly (kernel routes count what they forward)
        counters: live && isMcr ? () => live.counters() : undefined,
      },
      clkTck,
    );
    return {
      relay: p.relay,
      size: p.size,
      ratePps: p.ratePps,
      rep: p.rep,
      order: p.order,
      startedAt,
      loadavg1: load,
      count: raw.count,
      sent: raw.sent,
      genElapsedS: raw.genElapsedS,
      offered: raw.offered,
      delivered: raw.delivered,
      lost: plan ? raw.offered - raw.delivered : 0,
      mcr: raw.relayCounters,
      exact: raw.exact,
      problems: raw.problems,
      quiet: raw.quiet,
      window: raw.window,
    };
  } finally {
    if (inst) await inst.stop().catch(() => undefined);
  }
}

export async function efficiency(ctx: BenchContext): Promise<ScenarioResult<'efficiency'>> {
  const t0 = Date.now();
  const rates = ctx.efficiencyRates ?? (ctx.quick ? EFFICIENCY_QUICK.rates : EFFICIENCY_RATES);
  const sizes = ctx.quick ? EFFICIENCY_QUICK.sizes : EFFICIENCY_SIZES;
  const trialS = ctx.efficiencyTrialS ?? (ctx.quick ? EFFICIENCY_QUICK.trialS : EFFICIENCY_DEFAULT_TRIAL_S);
  const repetitions = ctx.efficiencyRepetitions ?? (ctx.quick ? EFFICIENCY_QUICK.repetitions : EFFICIENCY_DEFAULT_REPETITIONS);
  const clkTck = await clockTicks();
  const topo = await oneHop('ef');
  const path = ONE_HOP_PATH(topo);
  const { run, skipped } = pickRelays(ctx, EFFICIENCY_RELAYS, onePlan(topo, ctx.dir));
  const relays = relayOrder(run.map((r) => r.id));
  const order = efficiencyOrder(relays, rates, sizes, repetitions);
  const progress = new Progress('efficiency', order.length);
  for (const [id, why] of Object.entries(skipped)) progress.log(`${id} skipped: ${why}`);
  const trials: EfficiencyTrial[] = [];
  const errors: EfficiencySummary['errors'] = [];
  const startedAt = new Date().toISOString();
  const loadBefore = loadAverages();
  try {
    for (const [i, o] of order.entries()) {
      const what = `rep ${o.rep}/${repetitions} ${o.size} B ${formatCompact(o.ratePps)} pps ${o.relay}`;
      progress.status(what, 0);
      let t: EfficiencyTrial;
      try {
        t = await runOne(ctx, topo, path, { ...o, order: i + 1, trialS }, clkTck);
      } catch (err) {
        if (interrupted()) throw err;
        const error = (err as Error).message;
        errors.push({ order: i + 1, relay: o.relay, size: o.size, ratePps: o.ratePps, rep: o.rep, error });
        progress.item(`#${i + 1} ${what}: FAILED: ${error}`);
        continue;
      }
      trials.push(t);
      const busy = ticksToNs(t.window.machine.busy, clkTck) / 1e6 / t.window.s;
      const perWake = t.mcr?.wakeups ? `, ${(t.mcr.rx / t.mcr.wakeups).toFixed(2)} frames/wake-up` : '';
      progress.item(
        `#${t.order} ${what}: window ${t.window.s.toFixed(2)} s, machine busy ${busy.toFixed(0)} ms/s (before the stream ${t.quiet?.busyMsPerS.toFixed(0) ?? '?'})${perWake}, load ${t.loadavg1.toFixed(2)}${
          t.problems.length ? `; SET ASIDE: ${t.problems.join('; ')}` : ''
        }`,
      );
    }
  } finally {
    await topo.destroy();
  }
  const summary = summarizeEfficiency(trials, {
    relays,
    rates,
    batch: ctx.efficiencyBatch,
    sizes,
    repetitions,
    trialS,
    clkTck,
    startedAt,
    endedAt: new Date().toISOString(),
    loadBefore,
    loadAfter: loadAverages(),
    skipped,
    errors,
  });
  const notes = [
    `One stream 1:1 through each relay (mcr with one worker, pinned to CPU ${pinning.relay?.[0] ?? '-'}; process relays on the same CPU; the generator on CPU ${pinning.gen ?? '-'}), paced ${ctx.efficiencyBatch ? `in groups of ${ctx.efficiencyBatch} datagrams (mcrgen --batch)` : 'in 1 ms bursts'} at ${rates.map((r) => formatCompact(r)).join(', ')} pps with ${sizes.join(' and ')}-byte payloads; ${repetitions} interleaved repetitions. Each trial starts the relay afresh (warm-up stream, then ${SETTLE_MS / 1000} s idle), streams for ${PRE_ROLL_S} + ${trialS} + ${POST_ROLL_S} s and measures the ${trialS} s window in the middle.`,
    `Relay-added CPU per packet = (machine busy CPU over the window: CPUs x wall time - idle - iowait from /proc/stat) - (median busy CPU per second of the generator-alone trials at the same rate and size, x window), / packets delivered to s0 in the window. Process CPU from /proc/PID/stat (utime + stime, all threads; ${clkTck} ticks/s): kernel routing's forwarding runs in softirq and is charged to no relay process. Medians over the valid trials; spread min-max. A trial with any loss over its whole stream is set aside.`,
    `Load average (1 min) over the trials: ${summary.load.median?.toFixed(2) ?? '?'} median, ${summary.load.min?.toFixed(2) ?? '?'}-${summary.load.max?.toFixed(2) ?? '?'}. Machine busy in the ${QUIET_S} s before each stream (relay idle, nothing sent; others' work): ${summary.quietBusyMsPerS.median?.toFixed(0) ?? '?'} ms per s median, ${summary.quietBusyMsPerS.min?.toFixed(0) ?? '?'}-${summary.quietBusyMsPerS.max?.toFixed(0) ?? '?'}.`,
  ];
  const pick = summary.cells.filter((c) => c.ratePps === 100_000 && c.size === 1400);
  progress.finish(
    `1400 B 100k pps: ${pick.map((c) => `${c.relay} ${fmtNs(c.relayAddedNsPerPacket.median)}`).join(', ') || '-'} ns/pkt; ${summary.setAside.length} trial(s) set aside`,
  );
  return { trials: [], summary, notes, durationS: (Date.now() - t0) / 1000 };
}

const fmtNs = (x: number | null): string => (x === null ? '?' : Math.round(x).toLocaleString('en-US'));

// --- the arithmetic (pure) -------------------------------------------------------------------------

/** A trial's figures, given the baseline (median generator-alone busy CPU at its rate and size, ns per second). */
export function deriveEfficiencyTrial(t: EfficiencyTrial, baselineBusyNsPerS: number | null, clkTck: number): EfficiencyFigures {
  const w = t.window;
  const busyNs = ticksToNs(w.machine.busy, clkTck);
  const ticks = w.procTicks.relay === undefined ? undefined : w.procTicks.relay + (w.procTicks.dataplane ?? 0);
  const procNs = ticks === undefined ? null : ticksToNs(ticks, clkTck);
  const m = t.mcr;
  return {
    machineBusyMsPerS: busyNs / 1e6 / w.s,
    relayAddedNsPerPacket:
      t.relay === GEN || baselineBusyNsPerS === null
        ? null
        : relayAddedNsPerPacket({ busyNs, windowS: w.s, baselineBusyNsPerS, delivered: w.delivered }),
    relayProcessesNsPerPacket: procNs === null || w.delivered <= 0 ? null : procNs / w.delivered,
    relayProcessesMsPerS: procNs === null ? null : procNs / 1e6 / w.s,
    generatorMsPerS: w.procTicks.generator === undefined ? null : ticksToNs(w.procTicks.generator, clkTck) / 1e6 / w.s,
    framesPerWakeup: m?.wakeups ? m.rx / m.wakeups : null,
    framesPerBatch: m?.batches ? m.rx / m.batches : null,
  };
}

const valid = (t: EfficiencyTrial): boolean => t.problems.length === 0;

/**
 * The relative band around `value` that holds the middle half of the per-repetition ratios (up by
 * band, or down by the same factor), at least MIN_RATIO_BAND. Quartiles, not min-max: one
 * repetition disturbed by other work on the machine would otherwise set the band alone.
 */
export function pairedBand(value: number | null, paired: Spread): number | null {
  if (value === null || value <= 0 || paired.q1 === null || paired.q3 === null || paired.q1 <= 0) return null;
  const band = Math.max(paired.q3 / value - 1, value / paired.q1 - 1, MIN_RATIO_BAND);
  return Math.round(band * 100) / 100;
}

/**
 * The scenario's summary from its raw trials: per (size, rate) the baseline (median busy CPU per
 * second of the valid generator-alone trials), each trial's figures, medians and spreads per relay,
 * the ratios of every mcr variant to every peer with their paired noise bands, and what was set aside.
 */
export function summarizeEfficiency(
  raw: EfficiencyTrial[],
  o: {
    relays: string[];
    rates: number[];
    batch?: number;
    sizes: number[];
    repetitions: number;
    trialS: number;
    clkTck: number;
    startedAt: string;
    endedAt: string;
    loadBefore: number[];
    loadAfter: number[];
    skipped?: Record<string, string>;
    errors?: EfficiencySummary['errors'];
  },
): EfficiencySummary {
  const at = (t: { size: number; ratePps: number }, size: number, ratePps: number): boolean => t.size === size && t.ratePps === ratePps;
  const baseline: EfficiencySummary['baseline'] = [];
  const baseNs = new Map<string, number | null>();
  for (const size of o.sizes)
    for (const ratePps of o.rates) {
      const gens = raw.filter((t) => t.relay === GEN && at(t, size, ratePps));
      const ok = gens.filter(valid);
      baseNs.set(`${size}/${ratePps}`, median(ok.map((t) => ticksToNs(t.window.machine.busy, o.clkTck) / t.window.s)));
      baseline.push({
        size,
        ratePps,
        trials: gens.length,
        valid: ok.length,
        busyMsPerS: spread(ok.map((t) => ticksToNs(t.window.machine.busy, o.clkTck) / 1e6 / t.window.s)),
        generatorMsPerS: spread(
          ok.map((t) =>
            t.window.procTicks.generator === undefined ? null : ticksToNs(t.window.procTicks.generator, o.clkTck) / 1e6 / t.window.s,
          ),
        ),
      });
    }
  const trials = raw.map((t) => ({ ...t, figures: deriveEfficiencyTrial(t, baseNs.get(`${t.size}/${t.ratePps}`) ?? null, o.clkTck) }));
  const cells: EfficiencyCell[] = [];
  for (const size of o.sizes)
    for (const ratePps of o.rates)
      for (const relay of o.relays) {
        const all = trials.filter((t) => t.relay === relay && at(t, size, ratePps));
        const ok = all.filter(valid);
        const of = (k: keyof EfficiencyFigures): Spread => spread(ok.map((t) => t.figures[k]));
        cells.push({
          relay,
          size,
          ratePps,
          trials: all.length,
          valid: ok.length,
          setAside: all.length - ok.length,
          lost: all.reduce((sum, t) => sum + t.lost, 0),
          relayAddedNsPerPacket: of('relayAddedNsPerPacket'),
          relayProcessesNsPerPacket: of('relayProcessesNsPerPacket'),
          machineBusyMsPerS: of('machineBusyMsPerS'),
          framesPerWakeup: of('framesPerWakeup'),
          framesPerBatch: of('framesPerBatch'),
        });
      }
  const ratios: EfficiencyRatio[] = [];
  const peers = o.relays.filter((r) => PEERS.includes(r));
  for (const relay of o.relays.filter((r) => r.startsWith('mcr')))
    for (const peer of peers)
      for (const size of o.sizes)
        for (const ratePps of o.rates) {
          const cell = (id: string): EfficiencyCell | undefined => cells.find((c) => c.relay === id && at(c, size, ratePps));
          const value = ratioOf(cell(relay)?.relayAddedNsPerPacket.median, cell(peer)?.relayAddedNsPerPacket.median);
          const perRep = (id: string, rep: number): number | null | undefined =>
            trials.find((t) => t.relay === id && at(t, size, ratePps) && t.rep === rep && valid(t))?.figures.relayAddedNsPerPacket;
          const reps = [...new Set(trials.filter((t) => at(t, size, ratePps)).map((t) => t.rep))].sort((a, b) => a - b);
          const paired = spread(reps.map((rep) => ratioOf(perRep(relay, rep), perRep(peer, rep))));
          ratios.push({ relay, peer, size, ratePps, value, paired, band: pairedBand(value, paired) });
        }
  return {
    relays: o.relays,
    rates: o.rates,
    ...(o.batch !== undefined ? { batch: o.batch } : {}),
    sizes: o.sizes,
    repetitions: o.repetitions,
    trialS: o.trialS,
    preRollS: PRE_ROLL_S,
    clkTck: o.clkTck,
    startedAt: o.startedAt,
    endedAt: o.endedAt,
    loadBefore: o.loadBefore,
    loadAfter: o.loadAfter,
    load: spread(raw.map((t) => t.loadavg1)),
    quietBusyMsPerS: spread(raw.map((t) => t.quiet?.busyMsPerS)),
    baseline,
    cells,
    ratios,
    skipped: o.skipped ?? {},
    setAside: trials
      .filter((t) => !valid(t))
      .map((t) => ({ order: t.order, relay: t.relay, size: t.size, ratePps: t.ratePps, rep: t.rep, problems: t.problems })),
    errors: o.errors ?? [],
    trials,
  };
}
