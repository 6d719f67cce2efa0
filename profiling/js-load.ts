// SPDX-License-Identifier: MIT
// The control-socket load of `npm run profile -- js|doctor` (profiling/profile-js.sh): for a fixed
// time it reads `stats` at --stats-rate per second and adds and removes rules at --rule-rate per
// second each (a rule added on one tick is removed on the next), through the same client mcrctl
// uses, and measures the supervisor's CPU (and its data plane's) over that window from
// /proc/PID/stat. It prints a short text summary and writes the figures as JSON to --json.
//
//   node dist/profiling/js-load.js --socket S --pid MCRD_PID [--seconds 10] [--stats-rate 100]
//     [--rule-rate 10] [--input-interface r0] [--output-interface r1] [--json FILE]
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { ControlClient } from '../src/control/client';

/** /proc exposes CPU times in USER_HZ, which Linux fixes at 100 per second for user space. */
const USER_HZ = 100;
/** Stats reads in flight at once: beyond this the load is behind and says so instead of piling up. */
const MAX_STATS_IN_FLIGHT = 8;

export interface LoadOptions {
  socket: string;
  pid: number;
  seconds: number;
  statsRate: number;
  ruleRate: number;
  inputInterface: string;
  outputInterface: string;
}

export interface RequestCounts {
  ok: number;
  failed: number;
  /** first failure message, if any */
  error?: string;
}

export interface CpuTimes {
  /** user + system milliseconds over the window */
  ms: number;
  /** of one CPU, over the window */
  percent: number;
}

export interface LoadResult {
  seconds: number;
  stats: RequestCounts & { skipped: number; p50Ms: number; p99Ms: number; maxMs: number };
  adds: RequestCounts;
  removes: RequestCounts;
  /** the profiled mcrd process (the supervisor), all its threads */
  supervisor: CpuTimes;
  /** the supervisor's threads by name (main thread, libuv pool, V8 platform threads) */
  supervisorThreads: Record<string, number>;
  /** the data plane process (forwarding workers), for comparison; null when it could not be read */
  dataplane: CpuTimes | null;
  dataplanePid: number | null;
  rxFrames: number;
  txPackets: number;
}

/** utime + stime in USER_HZ ticks from a /proc/.../stat line (the comm field may hold spaces). */
export function statTicks(statLine: string): number {
  const fields = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
  // fields[0] is the state (field 3 of proc(5)); utime and stime are fields 14 and 15.
  return Number(fields[11]) + Number(fields[12]);
}

function processTicks(pid: number): number | null {
  try {
    return statTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** Ticks per thread name (threads of one name added up: the four libuv workers are one line). */
function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const ticks = statTicks(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      out.set(name, (out.get(name) ?? 0) + ticks);
    } catch {
      // the thread ended between readdir and read
    }
  }
  return out;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/** A group per add: 239.100.x.y from the add's sequence number, never one the stream uses. */
export function loadRuleGroup(n: number): string {
  return `239.100.${(n >> 8) & 255}.${n & 255}`;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const client = new ControlClient(o.socket, 5000);
  await client.connect();
  const workers = await client.request('workers');
  const dataplanePid = workers.dataplane.pid;

  const stats: LoadResult['stats'] = { ok: 0, failed: 0, skipped: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 };
  const adds: RequestCounts = { ok: 0, failed: 0 };
  const removes: RequestCounts = { ok: 0, failed: 0 };
  const latencies: number[] = [];
  const failed = (counts: RequestCounts, err: unknown): void => {
    counts.failed++;
    counts.error ??= (err as Error).message;
  };

  let statsIssued = 0;
  let statsInFlight = 0;
  let rulesIssued = 0;
  let lastAdded: Promise<string | undefined> | undefined;
  const inFlight = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>): void => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  const readStats = async (): Promise<void> => {
    statsInFlight++;
    const t0 = performance.now();
    try {
      await client.request('stats');
      stats.ok++;
      latencies.push(performance.now() - t0);
    } catch (err) {
      failed(stats, err);
    } finally {
      statsInFlight--;
    }
  };

  // One rule tick: add a new rule, then remove the one the previous tick added.
  const ruleTick = (): void => {
    const n = rulesIssued++;
    const previous = lastAdded;
    const name = `js-load-${n}`;
    lastAdded = client
      .request('add', {
        name,
        input: { interface: o.inputInterface, group: loadRuleGroup(n), port: 6000 },
        outputs: [{ group: '239.200.0.1', port: 6001, interface: o.outputInterface }],
      })
      .then(
        () => {
          adds.ok++;
          return name;
        },
        (err: unknown) => {
          failed(adds, err);
          return undefined;
        },
      );
    track(lastAdded);
    if (previous) track(previous.then((added) => (added ? removeRule(added) : undefined)));
  };
  const removeRule = async (name: string): Promise<void> => {
    try {
      await client.request('remove', { name });
      removes.ok++;
    } catch (err) {
      failed(removes, err);
    }
  };

  const stats0 = await client.request('stats');
  const cpu0 = { sup: processTicks(o.pid), dp: dataplanePid === null ? null : processTicks(dataplanePid), threads: threadTicks(o.pid) };
  const t0 = performance.now();
  const endMs = o.seconds * 1000;
  // A 5 ms tick issues whatever the elapsed time says is due, so the rates hold on average even
  // when a tick comes late.
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = Math.min(performance.now() - t0, endMs);
      const statsDue = Math.floor((elapsed / 1000) * o.statsRate);
      for (; statsIssued < statsDue; statsIssued++) {
        if (statsInFlight >= MAX_STATS_IN_FLIGHT) stats.skipped++;
        else track(readStats());
      }
      const rulesDue = Math.floor((elapsed / 1000) * o.ruleRate);
      while (rulesIssued < rulesDue) ruleTick();
      if (elapsed >= endMs) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  const wallMs = performance.now() - t0;
  const cpu1 = { sup: processTicks(o.pid), dp: dataplanePid === null ? null : processTicks(dataplanePid), threads: threadTicks(o.pid) };
  while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
  // The last rule added has no next tick to remove it.
  const last = lastAdded ? await lastAdded : undefined;
  if (last) await removeRule(last);
  const stats1 = await client.request('stats');
  client.close();

  const sorted = latencies.sort((a, b) => a - b);
  stats.p50Ms = round1(percentile(sorted, 50));
  stats.p99Ms = round1(percentile(sorted, 99));
  stats.maxMs = round1(sorted[sorted.length - 1] ?? 0);
  const cpu = (a: number | null, b: number | null): CpuTimes | null => {
    if (a === null || b === null) return null;
    const ms = ((b - a) * 1000) / USER_HZ;
    return { ms, percent: round1((ms / wallMs) * 100) };
  };
  const supervisorThreads: Record<string, number> = {};
  for (const [name, ticks] of cpu1.threads) {
    const ms = ((ticks - (cpu0.threads.get(name) ?? 0)) * 1000) / USER_HZ;
    if (ms > 0) supervisorThreads[name] = ms;
  }
  return {
    seconds: round1(wallMs / 1000),
    stats,
    adds,
    removes,
    supervisor: cpu(cpu0.sup, cpu1.sup) ?? { ms: 0, percent: 0 },
    supervisorThreads,
    dataplane: cpu(cpu0.dp, cpu1.dp),
    dataplanePid,
    rxFrames: stats1.totals.rxFrames - stats0.totals.rxFrames,
    txPackets: stats1.totals.txPackets - stats0.totals.txPackets,
  };
}

export function formatLoad(r: LoadResult, o: LoadOptions): string {
  const fails = (c: RequestCounts): string => (c.failed > 0 ? `, ${c.failed} failed (${c.error})` : '');
  const threads = Object.entries(r.supervisorThreads)
    .sort((a, b) => b[1] - a[1])
    .map(([name, ms]) => `${name} ${ms} ms`)
    .join(', ');
  return [
    `control load over ${r.seconds} s: stats ${r.stats.ok} read (asked ${o.statsRate}/s${r.stats.skipped > 0 ? `, ${r.stats.skipped} skipped: ${MAX_STATS_IN_FLIGHT} in flight` : ''}${fails(r.stats)}; latency p50 ${r.stats.p50Ms} ms, p99 ${r.stats.p99Ms} ms, max ${r.stats.maxMs} ms)`,
    `  rules: ${r.adds.ok} added${fails(r.adds)}, ${r.removes.ok} removed${fails(r.removes)} (asked ${o.ruleRate}/s each)`,
    `  stream through the relay in the window: ${r.rxFrames} frames in, ${r.txPackets} packets out`,
    `supervisor (mcrd pid ${o.pid}) CPU: ${r.supervisor.ms} ms = ${r.supervisor.percent}% of one CPU; by thread: ${threads || 'none'}`,
    `data plane (pid ${r.dataplanePid ?? '?'}) CPU: ${r.dataplane ? `${r.dataplane.ms} ms = ${r.dataplane.percent}% of one CPU` : 'not readable'}`,
  ].join('\n');
}

function parseArgs(argv: string[]): LoadOptions & { json?: string } {
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string, fallback: number): number => {
    const text = opt(name);
    const n = text === undefined ? fallback : Number(text);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: expected a number > 0, got ${text}`);
    return n;
  };
  const socket = opt('--socket');
  if (!socket) throw new Error('--socket is required');
  return {
    socket,
    pid: num('--pid', Number.NaN),
    seconds: num('--seconds', 10),
    statsRate: num('--stats-rate', 100),
    ruleRate: num('--rule-rate', 10),
    inputInterface: opt('--input-interface') ?? 'r0',
    outputInterface: opt('--output-interface') ?? 'r1',
    json: opt('--json'),
  };
}

if (require.main === module) {
  let options: ReturnType<typeof parseArgs>;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`js-load: ${(err as Error).message}\n`);
    process.exit(2);
  }
  runLoad(options).then(
    (result) => {
      if (options.json) writeFileSync(options.json, `${JSON.stringify(result, null, 2)}\n`);
      process.stdout.write(`${formatLoad(result, options)}\n`);
    },
    (err: Error) => {
      process.stderr.write(`js-load: ${err.message}\n`);
      process.exit(1);
    },
  );
}
