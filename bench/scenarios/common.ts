// SPDX-License-Identifier: MIT
// What every scenario shares: the run context (quick or not, trial length, relays available,
// the generator's measured maximum), starting a relay with a warm-up that proves it forwards, and
// one full lossless search of one relay turned into a SearchSummary.
import { formatCompact } from '../../src/cli/table';
import type { Progress } from '../progress';
import { sleep } from '../proc';
import type { Relay, RelayInstance, RelayPlan } from '../relays/relay';
import { searchLossless, type SearchConfig } from '../search';
import { generatorMax, pinning, quiesce, runTrial, type TrafficPath, type TrialContext } from '../traffic';
import type { Topology } from '../topology';
import type { ScenarioResults, SearchSummary, Trial } from '../types';

export interface BenchContext {
  quick: boolean;
  /** length of one search trial, in seconds of traffic at the trial's rate */
  trialSeconds: number;
  resolution: number;
  maxTrials: number;
  dir: string;
  /** every relay (mcr and peers), available or not */
  relays: Relay[];
  /** relay ids filtered by --relays, if given */
  onlyRelays?: string[];
  sizes?: number[];
  /** generator (and latency probe) CPU, relay CPUs; undefined = nothing pinned */
  pin?: { gen: number; relay: number[] };
  /** generator maximum by payload size, measured in this run */
  genMax: Record<string, number>;
  results: ScenarioResults;
  log: (line: string) => void;
  /** soak only: --duration and --rate */
  soakDurationS?: number;
  soakRatePps?: number;
  /** soak only: control operations per second (--control-rate; 0 = none) */
  soakControlRate?: number;
  /** telemetry only: --rate, --trial-seconds and --repetitions as given */
  telemetryRatePps?: number;
  telemetryTrialS?: number;
  telemetryRounds?: number;
  /** efficiency only: --trial-seconds and --repetitions as given */
  efficiencyTrialS?: number;
  efficiencyRepetitions?: number;
  /** efficiency only: --rates */
  efficiencyRates?: number[];
  /** efficiency only: --batch (datagrams per paced sendmmsg; default mcrgen's 1 ms bursts) */
  efficiencyBatch?: number;
}

export function relayById(ctx: BenchContext, id: string): Relay {
  const r = ctx.relays.find((x) => x.id === id);
  if (!r) throw new Error(`no relay ${id}`);
  return r;
}

/** Relays of `ids` that may run; the others with the reason they do not. */
export function pickRelays(ctx: BenchContext, ids: string[], plan?: RelayPlan): { run: Relay[]; skipped: Record<string, string> } {
  const run: Relay[] = [];
  const skipped: Record<string, string> = {};
  for (const id of ids) {
    if (ctx.onlyRelays && !ctx.onlyRelays.includes(id)) continue;
    const r = relayById(ctx, id);
    const why = r.unavailable() ?? (plan ? r.unsupported(plan) : undefined);
    if (why) skipped[id] = why;
    else run.push(r);
  }
  return { run, skipped };
}

export function onePlan(topo: Topology, dir: string, o: Partial<RelayPlan> = {}): RelayPlan {
  return {
    topo,
    ns: 'relay',
    inIf: 'r0',
    inAddr: '10.0.1.2',
    outIf: 'r1',
    outAddr: '10.0.2.1',
    streams: 1,
    fanout: 1,
    port: 5001,
    outPort: 5002,
    source: '10.0.1.1',
    workers: 1,
    dir,
    cpus: pinning.relay,
    ...o,
  };
}

/**
 * Starts a relay and sends a small warm-up stream until it is delivered completely (joins,
 * route installation, JIT warm-up), so the first measured trial sees a relay in steady state.
 */
export async function startWarm(relay: Relay, plan: RelayPlan, path: TrafficPath, size: number): Promise<RelayInstance> {
  const inst = await relay.start(plan);
  try {
    const ctx: TrialContext = { path, relay, inst, plan, size };
    let last: Trial | undefined;
    let forwarded = false;
    for (let i = 0; i < 4; i++) {
      last = await runTrial(ctx, 5_000, Math.max(250, 20 * plan.streams));
      if (last.deliveredRaw === last.offered * plan.fanout && last.offered > 0) return inst;
      forwarded ||= last.deliveredRaw > 0;
      await sleep(300);
    }
    // It forwards, but not even the warm-up rate without loss: the search will say how little.
    if (forwarded) return inst;
    throw new Error(
      `${relay.label} did not forward the warm-up stream (offered ${last?.offered}, delivered ${last?.deliveredRaw} / fan-out ${plan.fanout})`,
    );
  } catch (err) {
    await inst.stop().catch(() => undefined);
    throw err;
  }
}

/** The generator's own maximum at this size (nothing forwarding), measured once per run. */
export async function genMaxFor(ctx: BenchContext, path: TrafficPath, size: number, progress?: Progress): Promise<number> {
  const key = String(size);
  if (!ctx.genMax[key]) {
    progress?.status(`${size} B: measuring the generator alone`, 0);
    ctx.genMax[key] = await generatorMax(path, size, ctx.trialSeconds);
    progress?.log(`${size} B: generator alone reaches ${formatCompact(ctx.genMax[key])} pps`);
  }
  return ctx.genMax[key];
}

export function searchConfig(ctx: BenchContext, maxRate: number, o: Partial<SearchConfig> = {}): SearchConfig {
  return { maxRate, minRate: 1000, resolution: ctx.resolution, maxTrials: ctx.maxTrials, trialSeconds: ctx.trialSeconds, ...o };
}

/** One relay: start, warm up, search, stop. Trials go to `trials`; never throws (skips instead). */
export async function searchRelay(
  _ctx: BenchContext,
  relay: Relay,
  plan: RelayPlan,
  path: TrafficPath,
  size: number,
  cfg: SearchConfig,
  progress: Progress,
  trials: Trial[],
  what: string,
): Promise<SearchSummary> {
  const base = {
    relay: relay.id,
    label: relay.label,
    size,
    streams: plan.streams,
    fanout: plan.fanout,
    workers: relay.id.startsWith('mcr') ? plan.workers : undefined,
  };
  progress.status(`${what}: starting ${relay.id}`, 0);
  let inst: RelayInstance;
  try {
    inst = await startWarm(relay, plan, path, size);
  } catch (err) {
    const why = (err as Error).message;
    progress.item(`${what} ${relay.id}: skipped: ${why}`);
    return { ...base, maxLosslessPps: 0, outputPps: 0, generatorLimited: false, bracket: [0, null], trials: 0, skipped: why };
  }
  const ctxT: TrialContext = { path, relay, inst, plan, size };
  let outcome: Awaited<ReturnType<typeof searchLossless>>;
  let relayFinal: SearchSummary['relayFinal'];
  try {
    outcome = await searchLossless(
      async (rate, count) => {
        const t = await runTrial(ctxT, rate, count);
        await quiesce(path, 100, 1000);
        return t;
      },
      cfg,
      (t, n) =>
        progress.status(
          `${what} ${relay.id}: trial ${n} @ ${formatCompact(t.offeredPps)} pps: ${t.lossless ? 'lossless' : `loss ${t.lossPct.toFixed(2)}%`}`,
          n / (cfg.maxTrials + 1),
        ),
    );
  } finally {
    relayFinal = (await inst.stop().catch(() => ({ final: undefined }))).final;
  }
  trials.push(...outcome.trials);
  const best = outcome.best;
  const agree = outcome.trials.every((t) => t.countersAgree !== false);
  const summary: SearchSummary = {
    ...base,
    maxLosslessPps: best ? best.offeredPps : 0,
    outputPps: best ? best.offeredPps * plan.fanout : 0,
    generatorLimited: outcome.generatorLimited,
    bracket: outcome.bracket,
    trials: outcome.trials.length,
    countersAgree: outcome.trials.some((t) => t.countersAgree !== undefined) ? agree : undefined,
    relayFinal,
  };
  progress.item(
    `${what} ${relay.id}: max lossless ${formatCompact(summary.maxLosslessPps)} pps${summary.generatorLimited ? ' (generator-limited)' : ''}, ${summary.trials} trial${summary.trials === 1 ? '' : 's'}${summary.countersAgree === false ? ', COUNTERS DISAGREE' : ''}`,
  );
  return summary;
}
