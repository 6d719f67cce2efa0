// SPDX-License-Identifier: MIT
// RFC 2544-style search for the maximum lossless rate: a first trial at the generator's own
// maximum, then a bracket [highest lossless, lowest lossy] narrowed (gallop up from a lossless
// point, bisect otherwise) until it is within `resolution`; every trial is kept.
import type { Trial } from './types';

export interface SearchConfig {
  /** the generator's unlimited rate, measured earlier in the same run */
  maxRate: number;
  minRate: number;
  /** stop when (hi - lo) / lo <= resolution */
  resolution: number;
  maxTrials: number;
  trialSeconds: number;
  minCount?: number;
}

export interface SearchOutcome {
  trials: Trial[];
  best: Trial | undefined;
  generatorLimited: boolean;
  bracket: [number, number | null];
}

export type TrialRunner = (rate: number, count: number) => Promise<Trial>;

export function trialCount(rate: number, cfg: SearchConfig): number {
  return Math.max(cfg.minCount ?? 2000, Math.round(rate * cfg.trialSeconds));
}

export async function searchLossless(run: TrialRunner, cfg: SearchConfig, onTrial?: (t: Trial, n: number) => void): Promise<SearchOutcome> {
  const trials: Trial[] = [];
  let shortfalls = 0;
  // The bracket is kept in *measured* offered rates: on a 2-core box the generator does not
  // always reach the requested rate, and a rate it never reached proves nothing.
  const lo = (): number | undefined => {
    const ok = trials.filter((t) => t.lossless).map((t) => t.offeredPps);
    return ok.length ? Math.max(...ok) : undefined;
  };
  const hi = (): number => {
    const l = lo() ?? 0;
    const bad = trials.filter((t) => !t.lossless && t.offeredPps > l).map((t) => t.offeredPps);
    return bad.length ? Math.min(...bad) : cfg.maxRate;
  };
  const doTrial = async (rate: number): Promise<Trial> => {
    const r = Math.max(1, Math.round(rate));
    const t = await run(r, trialCount(r, cfg));
    trials.push(t);
    onTrial?.(t, trials.length);
    if (t.lossless && t.offeredPps < 0.93 * r) shortfalls++;
    return t;
  };
  const outcome = (generatorLimited: boolean): SearchOutcome => {
    const lossless = trials.filter((t) => t.lossless);
    const best = lossless.reduce<Trial | undefined>((b, t) => (b === undefined || t.offeredPps > b.offeredPps ? t : b), undefined);
    const h = hi();
    return { trials, best, generatorLimited, bracket: [lo() ?? 0, h >= cfg.maxRate && !trials.some((t) => !t.lossless) ? null : h] };
  };

  let t = await doTrial(cfg.maxRate);
  if (t.lossless) return outcome(true);
  // What the relay delivered while overloaded is a first estimate of its capacity.
  let rate = Math.min(cfg.maxRate * 0.9, Math.max(cfg.minRate, t.deliveredPps * 0.95));
  let gallop = 1.06;
  while (trials.length < cfg.maxTrials) {
    t = await doTrial(rate);
    const l = lo();
    if (l === undefined) {
      if (rate <= cfg.minRate) break; // lossy even at the floor
      rate = Math.max(cfg.minRate, Math.min(rate * 0.7, t.deliveredPps * 0.9));
      continue;
    }
    // Lossless although the generator fell well short of the request, twice: the generator (the
    // CPU it shares with the relay) is the limit, not the relay.
    if (shortfalls >= 2) return outcome(true);
    const h = hi();
    if ((h - l) / l <= cfg.resolution) break;
    if (t.lossless && h / l > 1.25) {
      rate = Math.min(l * gallop, Math.sqrt(l * h));
      gallop = 1 + (gallop - 1) * 2;
    } else {
      rate = h / l > 1.25 ? Math.sqrt(l * h) : (l + h) / 2;
    }
  }
  return outcome(false);
}
