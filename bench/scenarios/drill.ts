// SPDX-License-Identifier: MIT
// The seed's incident, reproduced (issue #10, point 4): the audit drill build (per-packet trace
// message formatted into a std::string before the level check, a line to the supervisor's pipe on
// every buffer exhaustion; profiling/audit.ts builds it into build-drill/) next to the shipped
// build, in the same run:
//   (a) the maximum lossless rate at 1400 B, one hop, mcr-1w against mcr-1w-drill (scenario 1's
//       search), rounds alternating which build goes first;
//   (b) the seed's 3-hop table: gen -> MCR-1 -> MCR-2 -> MCR-3, all three hops the same build,
//       `count` packets at a 1M pps target; MCR-1's ingress and egress rates and buf_exhaust from
//       its `[STATS:Ingress FINAL]` / `[STATS:Egress FINAL]` lines, as the seed computed them
//       (packets / the generator's elapsed time), minus the warm-up's counts.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { buildDrill } from '../../profiling/audit';
import { formatCompact } from '../../src/cli/table';
import { finalFields, parseFinal, type FinalLine } from '../../src/daemon/stats';
import { Progress } from '../progress';
import { sleep } from '../proc';
import { SHIPPED_ADDON, startTalliedMcrd, talliedMcrRelay, type TalliedMcrInstance } from '../relays/mcr-drill';
import type { RelayCounters } from '../relays/relay';
import { oneHop } from '../topology';
import { generate, ONE_HOP_PATH, quiesce, runTrial, type TrafficPath, type TrialContext } from '../traffic';
import type { ScenarioResult, SearchSummary, Trial } from '../types';
import { genMaxFor, onePlan, searchConfig, searchRelay, type BenchContext } from './common';
import { hopPlan, LINKS, pipelineInstance, SEED, threeHop } from './pipeline';

export const DRILL_SIZE = 1400;
export const DRILL_TARGET_PPS = 1_000_000;
export const DRILL_DEFAULT_COUNT = 3_000_000;
export const DRILL_QUICK_COUNT = 1_000_000;
export const DRILL_DEFAULT_ROUNDS = 2;

export type Build = 'shipped' | 'drill';
export const BUILDS: readonly Build[] = ['shipped', 'drill'];

/** Which build goes first in round `round` (0-based): shipped first in even rounds. */
export function roundOrder(round: number): Build[] {
  return round % 2 === 0 ? ['shipped', 'drill'] : ['drill', 'shipped'];
}

/** The fields of one `[STATS:Egress FINAL]` line. */
export interface EgressFinal {
  sent: number;
  errors: number;
  bytes: number;
}

/** Parses "[STATS:Egress FINAL] total: sent=N errors=N bytes=N" (or `which` = "worker 0") out of mcrd's output. */
export function parseEgressFinal(output: string, which = 'total'): EgressFinal | undefined {
  const f = finalFields(output, 'Egress', which);
  if (f?.sent === undefined || f.errors === undefined || f.bytes === undefined) return undefined;
  return { sent: f.sent, errors: f.errors, bytes: f.bytes };
}

/** MCR-1's row of the seed's table. */
export interface Mcr1Figures {
  /** frames MCR-1 read from its ring during the run (FINAL recv minus the warm-up's) */
  recv: number;
  /** packets MCR-1 sent (FINAL Egress sent minus the warm-up's) */
  egrSent: number;
  /** ring drops + full send buffers (FINAL buf_exhaust minus the warm-up's) */
  bufExhaust: number;
  ingressPps: number;
  egressPps: number;
  /** buf_exhaust as a share of the packets that reached MCR-1's interface (kernel counter) */
  bufExhaustPct: number;
}

/**
 * MCR-1's figures from its FINAL lines (cumulative over the mcrd's life) minus its counters read
 * just before the run (`before`: the warm-up), per second of the generator's elapsed time.
 */
export function mcr1Figures(o: {
  ingress: FinalLine;
  egress: EgressFinal;
  before: RelayCounters;
  elapsedS: number;
  offered: number;
}): Mcr1Figures {
  const recv = o.ingress.recv - o.before.rx;
  const egrSent = o.egress.sent - o.before.tx;
  const bufExhaust = o.ingress.buf_exhaust - (o.before.bufExhaust ?? 0);
  if (recv < 0 || egrSent < 0 || bufExhaust < 0) throw new Error('the FINAL counts are below the counts read before the run');
  return {
    recv,
    egrSent,
    bufExhaust,
    ingressPps: o.elapsedS > 0 ? recv / o.elapsedS : 0,
    egressPps: o.elapsedS > 0 ? egrSent / o.elapsedS : 0,
    bufExhaustPct: o.offered > 0 ? (100 * bufExhaust) / o.offered : 0,
  };
}

export interface DrillSearch extends SearchSummary {
  build: Build;
  round: number;
  /** drill lines the data plane wrote to its stderr pipe over the relay's life */
  pipeLines: number;
  addon: string;
}

export interface DrillSeedRun {
  build: Build;
  round: number;
  addon: string;
  startedAt: string;
  loadavg1: number;
  count: number;
  targetPps: number;
  sent: number;
  generatorPps: number;
  elapsedS: number;
  /** kernel: packets that reached MCR-1's interface, and the sink's */
  offered: number;
  delivered: number;
  endToEndLossPct: number;
  mcr1: Mcr1Figures;
  /** MCR-1, MCR-2, MCR-3 live counter deltas over the run (control socket) */
  hops: Array<{ hop: string; recv: number; egrSent: number; bufExhaust: number; dataplaneCpuNs: number; cpuNsPerPacket: number | null }>;
  /** MCR-1's FINAL lines as printed */
  final: string;
  /** drill lines each hop's data plane wrote to its pipe (whole life) */
  pipeLines: number[];
}

export interface DrillRow {
  /** median of the rounds' maximum lossless rates (null: no search finished) */
  maxLosslessPps: number | null;
  maxLosslessRuns: number[];
  /** a search whose first trial (generator unlimited) was lossless */
  generatorLimited: boolean;
  /** medians of the 3-hop runs */
  generatorPps: number | null;
  ingressPps: number | null;
  egressPps: number | null;
  bufExhaust: number | null;
  bufExhaustPct: number | null;
  endToEndLossPct: number | null;
  pipeLines: number | null;
  /** MCR-1's data plane CPU per packet it received (median of the runs) */
  mcr1CpuNsPerPacket: number | null;
  seedRuns: number;
}

export interface DrillSummary {
  size: number;
  targetPps: number;
  count: number;
  rounds: number;
  /** drill: where buildDrill() put it (the run loads a copy of it, of this sha256) */
  addons: { shipped: string; drill: string; drillBuildS: number; drillSha256: string };
  generatorMaxPps: number;
  startedAt: string;
  endedAt: string;
  loadBefore: number[];
  loadAfter: number[];
  searches: DrillSearch[];
  seedRuns: DrillSeedRun[];
  rows: Record<Build, DrillRow>;
  /** drill / shipped of the medians (null where either is missing or shipped is 0) */
  ratios: { maxLossless: number | null; ingress: number | null; egress: number | null; mcr1CpuNsPerPacket: number | null };
  seed: typeof SEED;
}

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? null) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

/** Per build: the medians of its searches and 3-hop runs; and drill / shipped. */
export function summarizeRows(searches: DrillSearch[], runs: DrillSeedRun[]): Pick<DrillSummary, 'rows' | 'ratios'> {
  const row = (build: Build): DrillRow => {
    const ss = searches.filter((s) => s.build === build && !s.skipped);
    const rs = runs.filter((r) => r.build === build);
    const m = (f: (r: DrillSeedRun) => number): number | null => median(rs.map(f));
    return {
      maxLosslessPps: median(ss.map((s) => s.maxLosslessPps)),
      maxLosslessRuns: ss.map((s) => s.maxLosslessPps),
      generatorLimited: ss.some((s) => s.generatorLimited),
      generatorPps: m((r) => r.generatorPps),
      ingressPps: m((r) => r.mcr1.ingressPps),
      egressPps: m((r) => r.mcr1.egressPps),
      bufExhaust: m((r) => r.mcr1.bufExhaust),
      bufExhaustPct: m((r) => r.mcr1.bufExhaustPct),
      endToEndLossPct: m((r) => r.endToEndLossPct),
      pipeLines: m((r) => r.pipeLines.reduce((a, b) => a + b, 0)),
      mcr1CpuNsPerPacket: median(
        rs.flatMap((r) => {
          const c = r.hops[0]?.cpuNsPerPacket;
          return c === null || c === undefined ? [] : [c];
        }),
      ),
      seedRuns: rs.length,
    };
  };
  const rows = { shipped: row('shipped'), drill: row('drill') };
  return {
    rows,
    ratios: {
      maxLossless: ratio(rows.drill.maxLosslessPps, rows.shipped.maxLosslessPps),
      ingress: ratio(rows.drill.ingressPps, rows.shipped.ingressPps),
      egress: ratio(rows.drill.egressPps, rows.shipped.egressPps),
      mcr1CpuNsPerPacket: ratio(rows.drill.mcr1CpuNsPerPacket, rows.shipped.mcr1CpuNsPerPacket),
    },
  };
}

/** Checks that make the run fail: the shipped build must never write a drill line to its pipe. */
export function drillFailures(searches: DrillSearch[], runs: DrillSeedRun[]): string[] {
  const out: string[] = [];
  for (const s of searches)
    if (s.build === 'shipped' && s.pipeLines > 0)
      out.push(`round ${s.round + 1} search: the shipped build wrote ${s.pipeLines} drill lines`);
  for (const r of runs) {
    const n = r.pipeLines.reduce((a, b) => a + b, 0);
    if (r.build === 'shipped' && n > 0) out.push(`round ${r.round + 1} 3-hop run: the shipped build wrote ${n} drill lines`);
  }
  return out;
}

/** Waits (at most 2 s) until mcrd's stdout is closed: its FINAL lines are then all read. */
async function outputClosed(inst: TalliedMcrInstance): Promise<void> {
  const out = inst.proc.child.stdout;
  if (!out || out.closed) return;
  await Promise.race([new Promise((resolve) => out.once('close', resolve)), sleep(2000)]);
}

/** One 3-hop run of the seed's test with every hop running `addon` (undefined: shipped). */
async function seedRun(
  ctx: BenchContext,
  build: Build,
  addon: string | undefined,
  round: number,
  count: number,
  progress: Progress,
): Promise<DrillSeedRun> {
  const topo = await threeHop('dh');
  const path: TrafficPath = { topo, genNs: 'gen', genIf: 'g0', source: '10.0.1.1', inNs: 'h1', inIf: 'a0', sinkNs: 'sink', sinkIf: 's0' };
  const hops: TalliedMcrInstance[] = [];
  try {
    progress.status(`round ${round + 1} 3-hop ${build}: starting mcr1, mcr2, mcr3`, 0.05);
    for (let i = 0; i < 3; i++)
      hops.push(await startTalliedMcrd(hopPlan(topo, ctx.dir, i), `mcrd hop${i + 1}${addon ? ' (drill)' : ''}`, addon));
    const relay = talliedMcrRelay(addon);
    const tctx: TrialContext = {
      path,
      relay: { ...relay, id: `${relay.id}-3hop` },
      inst: pipelineInstance(hops),
      plan: hopPlan(topo, ctx.dir, 0),
      size: DRILL_SIZE,
    };
    const warm = await runTrial(tctx, 10_000, 1000);
    if (warm.deliveredRaw !== warm.offered)
      throw new Error(`the 3-hop ${build} pipeline did not forward the warm-up (offered ${warm.offered}, delivered ${warm.deliveredRaw})`);
    await quiesce(path, 200, 2000);
    const before = await Promise.all(hops.map((h) => h.counters()));
    const cpu0 = hops.map((h) => h.dataplaneCpuNs());
    const k0 = LINKS.map((l) => topo.counter(l.to, l.up));
    const startedAt = new Date().toISOString();
    const loadavg1 = os.loadavg()[0] ?? 0;
    progress.status(
      `round ${round + 1} 3-hop ${build}: ${formatCompact(count)} packets at a ${formatCompact(DRILL_TARGET_PPS)} pps target`,
      0.2,
    );
    const gen = await generate(path, { streams: 1, rate: DRILL_TARGET_PPS, count, size: DRILL_SIZE, port: 5001 });
    await quiesce(path, 200, 5000);
    await sleep(400); // ring drops are folded into mcr's counters every 250 ms
    const after = await Promise.all(hops.map((h) => h.counters()));
    const cpu1 = hops.map((h) => h.dataplaneCpuNs());
    const k1 = LINKS.map((l) => topo.counter(l.to, l.up));
    const kIn = (i: number): number => (k1[i]?.rxPackets ?? 0) - (k0[i]?.rxPackets ?? 0);
    progress.status(`round ${round + 1} 3-hop ${build}: stopping the hops`, 0.9);
    const stopped = hops.splice(0);
    for (const h of stopped) await h.stop();
    const first = stopped[0];
    if (!first) throw new Error('the pipeline ran no hop');
    await outputClosed(first);
    const out = first.proc.stdout;
    const ingress = parseFinal(out);
    const egress = parseEgressFinal(out);
    const before1 = before[0];
    if (!ingress || !egress || !before1) throw new Error(`mcr1 (${build}) printed no FINAL lines: ${out.trim().slice(-500)}`);
    const offered = kIn(0);
    const delivered = kIn(3);
    return {
      build,
      round,
      addon: first.addon,
      startedAt,
      loadavg1,
      count,
      targetPps: DRILL_TARGET_PPS,
      sent: gen.sent,
      generatorPps: gen.sent / gen.elapsedS,
      elapsedS: gen.elapsedS,
      offered,
      delivered,
      endToEndLossPct: gen.sent > 0 ? (100 * (gen.sent - delivered)) / gen.sent : 0,
      mcr1: mcr1Figures({ ingress, egress, before: before1, elapsedS: gen.elapsedS, offered }),
      hops: stopped.map((_, i) => {
        const d = (f: (c: RelayCounters) => number | undefined): number =>
          (f(after[i] ?? { rx: 0, tx: 0 }) ?? 0) - (f(before[i] ?? { rx: 0, tx: 0 }) ?? 0);
        const recv = d((c) => c.rx);
        const dataplaneCpuNs = (cpu1[i] ?? 0) - (cpu0[i] ?? 0);
        return {
          hop: `mcr${i + 1}`,
          recv,
          egrSent: d((c) => c.tx),
          bufExhaust: d((c) => c.bufExhaust),
          dataplaneCpuNs,
          cpuNsPerPacket: recv > 0 ? dataplaneCpuNs / recv : null,
        };
      }),
      final: out
        .split('\n')
        .filter((l) => l.includes('FINAL] total'))
        .join('\n'),
      pipeLines: stopped.map((h) => h.pipe.matched),
    };
  } finally {
    for (const h of hops) await h.stop().catch(() => undefined);
    await topo.destroy();
  }
}

export async function drill(ctx: BenchContext): Promise<ScenarioResult<'drill'>> {
  const t0 = Date.now();
  const startedAt = new Date().toISOString();
  const loadBefore = os.loadavg().map((x) => Number(x.toFixed(2)));
  const rounds = ctx.quick ? 1 : DRILL_DEFAULT_ROUNDS;
  const count = ctx.quick ? DRILL_QUICK_COUNT : DRILL_DEFAULT_COUNT;
  const notes: string[] = [];
  const trials: Trial[] = [];
  const progress = new Progress('drill', 1 + rounds * 4);

  progress.status('building the drill addon (profiling/audit.ts buildDrill, incremental)', 0);
  const built = await buildDrill();
  // The run loads a private copy: build-drill/ is the audit's, which may rebuild it meanwhile.
  const drillAddon = nodePath.join(ctx.dir, 'drill', 'mcr_native.node');
  mkdirSync(nodePath.dirname(drillAddon), { recursive: true });
  copyFileSync(built.addon, drillAddon);
  const drillSha256 = createHash('sha256').update(readFileSync(drillAddon)).digest('hex');
  progress.item(
    `drill addon ${built.addon} ready in ${built.seconds.toFixed(1)} s (sha256 ${drillSha256.slice(0, 12)}), copied to ${drillAddon}`,
  );
  const addonOf = (b: Build): string | undefined => (b === 'drill' ? drillAddon : undefined);

  // (a) maximum lossless rate, one hop, 1400 B
  const searches: DrillSearch[] = [];
  const topo = await oneHop('dr');
  let gmax = 0;
  try {
    const path = ONE_HOP_PATH(topo);
    delete ctx.genMax[String(DRILL_SIZE)]; // this topology's own (an earlier scenario may have had another MTU)
    gmax = await genMaxFor(ctx, path, DRILL_SIZE, progress);
    for (let round = 0; round < rounds; round++) {
      for (const build of roundOrder(round)) {
        let last: TalliedMcrInstance | undefined;
        const relay = talliedMcrRelay(addonOf(build), (inst) => {
          last = inst;
        });
        const plan = onePlan(topo, ctx.dir, { workers: 1 });
        const s = await searchRelay(
          ctx,
          relay,
          plan,
          path,
          DRILL_SIZE,
          searchConfig(ctx, gmax),
          progress,
          trials,
          `round ${round + 1} ${DRILL_SIZE} B`,
        );
        const inst = last as TalliedMcrInstance | undefined;
        searches.push({ ...s, build, round, pipeLines: inst?.pipe.matched ?? 0, addon: inst?.addon ?? '' });
      }
    }
  } finally {
    await topo.destroy();
  }

  // (b) the seed's 3-hop table
  const seedRuns: DrillSeedRun[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const build of roundOrder(round)) {
      const r = await seedRun(ctx, build, addonOf(build), round, count, progress);
      seedRuns.push(r);
      progress.item(
        `round ${round + 1} 3-hop ${build}: generator ${formatCompact(r.generatorPps)} pps; mcr1 in ${formatCompact(r.mcr1.ingressPps)} out ${formatCompact(r.mcr1.egressPps)} pps, buf_exhaust ${r.mcr1.bufExhaust.toLocaleString('en-US')} (${r.mcr1.bufExhaustPct.toFixed(1)}%); ${r.pipeLines.reduce((a, b) => a + b, 0).toLocaleString('en-US')} pipe lines`,
      );
    }
  }

  const { rows, ratios } = summarizeRows(searches, seedRuns);
  const failures = drillFailures(searches, seedRuns);
  notes.push(
    `drill addon: ${built.addon} (profiling/audit.ts buildDrill, MCR_DRILL_SEED_ANTIPATTERN=1, ${built.seconds.toFixed(1)} s), loaded from a private copy (sha256 ${drillSha256}); shipped: ${SHIPPED_ADDON}; each mcrd's data plane was checked in /proc/PID/maps to have mapped the addon asked for`,
    `${rounds} round(s), alternating which build goes first; ${DRILL_SIZE} B; the 3-hop runs send ${count.toLocaleString('en-US')} packets at a ${DRILL_TARGET_PPS.toLocaleString('en-US')} pps target with all three hops running the same build; rates = packets / the generator's elapsed time, as the seed computed them`,
    "This machine's generator is the limit (2 vCPUs shared by the generator and every relay), so absolute rates are far below the seed's; the ratio drill / shipped is the point.",
    'The data planes write their drill lines to stderr, a pipe the bench reads (as the seed\'s supervisor did); it counts them ("pipe lines") and keeps only a tail.',
  );
  const disagree = trials.filter((t) => t.countersAgree === false);
  if (disagree.length) notes.push(`${disagree.length} trial(s) where mcr's counters disagreed with the kernel's (see trials[].mismatch)`);
  progress.finish(
    `max lossless ${formatCompact(rows.shipped.maxLosslessPps ?? 0)} vs drill ${formatCompact(rows.drill.maxLosslessPps ?? 0)} pps; mcr1 ingress ${formatCompact(rows.shipped.ingressPps ?? 0)} vs ${formatCompact(rows.drill.ingressPps ?? 0)} pps`,
  );
  return {
    trials,
    summary: {
      size: DRILL_SIZE,
      targetPps: DRILL_TARGET_PPS,
      count,
      rounds,
      addons: { shipped: SHIPPED_ADDON, drill: built.addon, drillBuildS: built.seconds, drillSha256 },
      generatorMaxPps: gmax,
      startedAt,
      endedAt: new Date().toISOString(),
      loadBefore,
      loadAfter: os.loadavg().map((x) => Number(x.toFixed(2))),
      searches,
      seedRuns,
      rows,
      ratios,
      seed: SEED,
    },
    notes,
    durationS: (Date.now() - t0) / 1000,
    ...(failures.length ? { failures } : {}),
  };
}
