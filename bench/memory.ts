// SPDX-License-Identifier: MIT
// Memory of a process over time, for the soak scenario: /proc/PID/status samples, a least-squares
// line through them after a warm-up, and the growth verdict (does memory keep growing?). Pure
// except readStatus, so tests/unit/soak.test.ts checks the rule itself.
import { readFileSync } from 'node:fs';

/** One reading of /proc/PID/status, in KiB, at `t` seconds into the soak. */
export interface MemSample {
  t: number;
  rssKiB: number;
  hwmKiB: number;
  anonKiB: number;
  fileKiB: number;
  shmemKiB: number;
}

/** Parses the memory fields of /proc/PID/status (values are in kB there). */
export function parseStatus(text: string, t: number): MemSample {
  const get = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!m) throw new Error(`/proc/PID/status has no ${key} line`);
    return Number(m[1]);
  };
  return { t, rssKiB: get('VmRSS'), hwmKiB: get('VmHWM'), anonKiB: get('RssAnon'), fileKiB: get('RssFile'), shmemKiB: get('RssShmem') };
}

/** The process's memory now, or undefined if it has gone. */
export function readStatus(pid: number, t: number): MemSample | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  return parseStatus(text, t);
}

export interface LineFit {
  /** y units per x unit */
  slope: number;
  intercept: number;
  n: number;
}

/** Ordinary least squares y = intercept + slope x (slope 0 with fewer than two distinct x). */
export function fitLine(xs: number[], ys: number[]): LineFit {
  const n = Math.min(xs.length, ys.length);
  if (n === 0) return { slope: 0, intercept: 0, n: 0 };
  let mx = 0;
  let my = 0;
  // i < n, the shorter length: both xs[i] and ys[i] exist
  for (let i = 0; i < n; i++) {
    mx += xs[i]!;
    my += ys[i]!;
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i]! - mx) ** 2;
    sxy += (xs[i]! - mx) * (ys[i]! - my);
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  return { slope, intercept: my - slope * mx, n };
}

/** The growth rule's parameters (defaults: docs/benchmarks.md, scenario soak). */
export interface GrowthRule {
  /** seconds excluded from the fit at the start (JIT, heap sizing, first rules) */
  warmupS: number;
  /** growth tolerated over the fitted window, whatever the process's size */
  minMiB: number;
  /** growth tolerated as a fraction of the RSS at the end of the warm-up */
  fraction: number;
}

export const DEFAULT_GROWTH_RULE: Omit<GrowthRule, 'warmupS'> = { minMiB: 2, fraction: 0.05 };

/** Warm-up for a soak of `durationS`: 20% of it, at most 60 s. */
export function warmupFor(durationS: number): number {
  return Math.min(60, 0.2 * durationS);
}

/** Which /proc/PID/status figure a verdict is about. */
export type MemField = 'rssKiB' | 'anonKiB';

export interface GrowthVerdict {
  field: MemField;
  samples: number;
  /** samples in the fit (t >= warmupS) */
  fitted: number;
  warmupS: number;
  /** seconds between the first and the last fitted sample */
  windowS: number;
  /** `field` of the first sample, at warm-up end (fitted line), and of the last sample */
  startMiB: number;
  warmMiB: number;
  endMiB: number;
  minMiB: number;
  maxMiB: number;
  /** VmHWM of the last sample */
  peakMiB: number;
  slopeKiBPerS: number;
  /** slope x window: how much the fitted line rose while it was watched */
  growthMiB: number;
  /** the same for the second half of the fitted window, which decides */
  tailWindowS: number;
  tailSlopeKiBPerS: number;
  tailGrowthMiB: number;
  thresholdMiB: number;
  /** tailGrowthMiB > thresholdMiB */
  growing: boolean;
  /** the fitted lines at their windows' ends, for the chart */
  fitFrom: { t: number; mib: number };
  fitTo: { t: number; mib: number };
  tailFrom: { t: number; mib: number };
  tailTo: { t: number; mib: number };
}

const MiB = 1024;

/**
 * Does memory keep growing? Least-squares lines through `field` (default VmRSS) after the
 * warm-up: one over the whole fitted window, reported, and one over its second half, which
 * decides. The process is "growing" when the second half's line rises by more than
 * max(minMiB, fraction x the warm value) over that half. Lines, not first-vs-last, so a GC
 * sawtooth (V8 heap, malloc arenas) averages out, while a leak of a few KiB per control operation
 * at 50 operations a second shows as a steady rise to the end. The second half, not the whole
 * window, because a process that grows into its working set and then stays flat is not leaking:
 * V8 sizes its old generation over many minutes (measured, mcrd's RssAnon rose in steps for the
 * first half hour of a 1-hour soak, then stayed flat to the end).
 */
export function growthCheck(samples: MemSample[], rule: GrowthRule, field: MemField = 'rssKiB'): GrowthVerdict {
  const first = samples[0];
  const last = samples.at(-1);
  if (!first || !last) throw new Error('growthCheck: no samples');
  const fit = samples.filter((s) => s.t >= rule.warmupS);
  const used = fit.length >= 2 ? fit : samples;
  const mib = (s: MemSample): number => s[field] / MiB;
  const line = fitLine(
    used.map((s) => s.t),
    used.map(mib),
  );
  // used is fit with two or more samples, or samples, which has at least one
  const t0 = used[0]!.t;
  const t1 = used.at(-1)!.t;
  const windowS = t1 - t0;
  const warmMiB = line.intercept + line.slope * t0;
  const tailFromT = t0 + windowS / 2;
  const tailSamples = used.filter((s) => s.t >= tailFromT);
  const tail = tailSamples.length >= 2 ? tailSamples : used;
  const tailLine = fitLine(
    tail.map((s) => s.t),
    tail.map(mib),
  );
  const tt0 = tail[0]!.t;
  const tailWindowS = t1 - tt0;
  const tailGrowthMiB = tailLine.slope * tailWindowS;
  const thresholdMiB = Math.max(rule.minMiB, rule.fraction * warmMiB);
  const values = samples.map(mib);
  const r = (x: number, d = 2): number => Number(x.toFixed(d));
  return {
    field,
    samples: samples.length,
    fitted: used.length,
    warmupS: rule.warmupS,
    windowS: r(windowS, 1),
    startMiB: r(mib(first)),
    warmMiB: r(warmMiB),
    endMiB: r(mib(last)),
    minMiB: r(Math.min(...values)),
    maxMiB: r(Math.max(...values)),
    peakMiB: r(last.hwmKiB / MiB),
    slopeKiBPerS: r(line.slope * MiB, 3),
    growthMiB: r(line.slope * windowS, 3),
    tailWindowS: r(tailWindowS, 1),
    tailSlopeKiBPerS: r(tailLine.slope * MiB, 3),
    tailGrowthMiB: r(tailGrowthMiB, 3),
    thresholdMiB: r(thresholdMiB, 3),
    growing: tailGrowthMiB > thresholdMiB,
    fitFrom: { t: t0, mib: r(warmMiB, 3) },
    fitTo: { t: t1, mib: r(line.intercept + line.slope * t1, 3) },
    tailFrom: { t: tt0, mib: r(tailLine.intercept + tailLine.slope * tt0, 3) },
    tailTo: { t: t1, mib: r(tailLine.intercept + tailLine.slope * t1, 3) },
  };
}
