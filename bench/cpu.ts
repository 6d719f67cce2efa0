// SPDX-License-Identifier: MIT
// CPU accounting for cost-per-packet figures (issue #11's method): busy CPU of the whole machine
// = CPUs x wall time minus idle minus iowait from /proc/stat (the kernel measures those two at idle
// entry and exit, so they are precise where the tick-sampled user/system/softirq fields are not:
// on this VM their sum over one second of wall time ranged from 185 to 204 ticks on 2 CPUs),
// CPU of single processes from /proc/PID/stat (utime + stime, every thread), and the arithmetic
// that turns them into relay-added nanoseconds per packet. Pure except the read* functions, so
// tests/unit/telemetry-bench.test.ts checks the arithmetic itself.
import { readFileSync } from 'node:fs';

/** The aggregate `cpu` line of /proc/stat, in clock ticks (USER_HZ). */
export interface CpuTimes {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
  /** per-CPU lines (CPUs online) */
  cpus: number;
}

/** USER_HZ: the unit of /proc/stat and /proc/PID/stat (100 on every Linux this runs on; run.ts checks getconf). */
export const DEFAULT_CLK_TCK = 100;

export function parseProcStat(text: string): CpuTimes {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('/proc/stat has no aggregate cpu line');
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  if (f.length < 8 || f.some((x) => !Number.isFinite(x))) throw new Error(`/proc/stat cpu line not understood: ${line}`);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
  const cpus = text.split('\n').filter((l) => /^cpu\d+ /.test(l)).length;
  return { user, nice, system, idle, iowait, irq, softirq, steal, cpus };
}

/** What the machine did between two /proc/stat readings, in ticks. */
export interface MachineCpu {
  /** capacity minus idle minus iowait (steal, if any, counts as busy) */
  busy: number;
  /** CPUs x wall time */
  capacity: number;
  /** the sum of every /proc/stat field, for comparison with the capacity (tick-sampled, imprecise) */
  accounted: number;
  idle: number;
  iowait: number;
  /** time the hypervisor ran something else on our vCPUs */
  steal: number;
  softirq: number;
}

/** Busy CPU between two /proc/stat readings `wallS` seconds apart: CPUs x wall time minus idle minus iowait. */
export function machineDelta(a: CpuTimes, b: CpuTimes, wallS: number, clkTck = DEFAULT_CLK_TCK): MachineCpu {
  const sum = (c: CpuTimes): number => c.user + c.nice + c.system + c.idle + c.iowait + c.irq + c.softirq + c.steal;
  const capacity = b.cpus * wallS * clkTck;
  const idle = b.idle - a.idle;
  const iowait = b.iowait - a.iowait;
  return {
    busy: capacity - idle - iowait,
    capacity,
    accounted: sum(b) - sum(a),
    idle,
    iowait,
    steal: b.steal - a.steal,
    softirq: b.softirq - a.softirq,
  };
}

/** utime + stime of a process (all its threads) from /proc/PID/stat, in ticks. */
export function parsePidStat(text: string): number {
  // the command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'
  const rest = text
    .slice(text.lastIndexOf(')') + 2)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state): utime is field 14, stime field 15
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`/proc/PID/stat not understood: ${text.slice(0, 120)}`);
  return utime + stime;
}

export function readProcStat(): CpuTimes {
  return parseProcStat(readFileSync('/proc/stat', 'utf8'));
}

/** The process's CPU ticks so far, or undefined if it has gone. */
export function readPidTicks(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    return parsePidStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

export function ticksToNs(ticks: number, clkTck = DEFAULT_CLK_TCK): number {
  return (ticks * 1e9) / clkTck;
}

/**
 * Relay-added CPU per forwarded packet: the machine's busy CPU over the window, minus what the
 * generator alone costs over a window of the same length (its busy CPU per second, a median of
 * generator-alone trials at the same rate), minus processes that only serve the measurement (the
 * OTLP sink and scraper), divided by the packets delivered in the window.
 */
export function relayAddedNsPerPacket(o: {
  busyNs: number;
  windowS: number;
  baselineBusyNsPerS: number;
  /** CPU of measurement helpers over the window, subtracted */
  helperNs?: number;
  delivered: number;
}): number | null {
  if (o.delivered <= 0) return null;
  return (o.busyNs - o.baselineBusyNsPerS * o.windowS - (o.helperNs ?? 0)) / o.delivered;
}

/** Median and spread of a set of trial figures. */
export interface Spread {
  n: number;
  median: number | null;
  min: number | null;
  max: number | null;
  /** quartiles, linear interpolation between order statistics */
  q1: number | null;
  q3: number | null;
}

/** The p-quantile (0..1) of sorted values, interpolated linearly (the median of an even count is the mean of the middle two). */
export function quantile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const pos = (sorted.length - 1) * p;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

export function median(values: number[]): number | null {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

export function spread(values: Array<number | null | undefined>): Spread {
  const s = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  return {
    n: s.length,
    median: quantile(s, 0.5),
    min: s[0] ?? null,
    max: s[s.length - 1] ?? null,
    q1: quantile(s, 0.25),
    q3: quantile(s, 0.75),
  };
}

/** a / b, or null when either is missing or b is 0. */
export function ratioOf(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return null;
  return a / b;
}
