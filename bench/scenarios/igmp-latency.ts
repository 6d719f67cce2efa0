// SPDX-License-Identifier: MIT
// Scenario igmp-latency (not in the standard suite): how long after a listener joins does a relay
// in igmpproxy mode start forwarding its group, and how long after it leaves does it stop.
// One-hop topology (gen g0 10.0.1.1 | relay r0, r1 | sink s0 10.0.2.2, the sink routed back via
// 10.0.2.1); the generator streams one group without pause (mcrgen, RATE pps, SIZE-byte payloads,
// one packet per send). In the sink, bench/tools/igmp-join-probe.py joins with a UDP socket (the
// kernel's IGMP host stack sends the report), waits for the group's first frame on s0, holds,
// leaves (the kernel sends the leave) and waits for the stream to stop, CYCLES times on the same
// group. It reads the frames and the host's own IGMP messages from an AF_PACKET socket on s0 with
// their kernel timestamps, so every time is on one clock (CLOCK_REALTIME, one kernel):
//   join-to-forward = first frame - join call       leave-to-stop = last frame - leave call
// each split at the host's report (or leave) on the wire into the host's part and the relay's.
// mcr runs with short leave timers; kernel routing is driven by igmpproxy (Debian's 0.3, whose
// timers are compiled in), each on a fresh topology (igmpproxy's IGMPv2 queries would otherwise
// leave the sink's host stack in IGMPv2 mode for mcr's run).
import { rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startMcrd, type DaemonHandle } from '../../lab/mcrd';
import { quantile } from '../cpu';
import { MCRCTL, ROOT } from '../paths';
import { Progress } from '../progress';
import { sleep, start, type Proc } from '../proc';
import { inputGroup } from '../relays/relay';
import { which } from '../setup';
import { ONE_HOP_PATH, pinning, startGenerator, type GenResult } from '../traffic';
import { oneHop, type Topology } from '../topology';
import type { ScenarioResult } from '../types';
import type { BenchContext } from './common';

export const IGMP_LATENCY_MCR_CYCLES = 100;
/** igmpproxy 0.3 takes seconds to stop after a leave (its timers: 2 x 10 s), so it gets few cycles */
export const IGMP_LATENCY_IGMPPROXY_CYCLES = 4;
const PROBE = path.join(ROOT, 'bench', 'tools', 'igmp-join-probe.py');
const GROUP = inputGroup(0);
const PORT = 5001;
const RATE = 10_000;
const SIZE = 64;
/** forwarding between the first frame and the leave */
const HOLD_MS = 100;
/** no frame of the group for this long after the last one: stopped (the stream's gap is 0.1 ms) */
const QUIET_MS = 300;
/** mcr's first cycles (the JIT's first run of the IGMP and routing code) are left out */
const MCR_WARMUP = 2;
/** mcr's igmp section; queries every 125 s, so only the leave's own queries run during the cycles */
export const MCR_IGMP = {
  interfaces: ['r1'],
  upstream: 'r0',
  queryInterval: 125,
  queryResponseInterval: 10,
  lastMemberQueryInterval: 0.2,
  robustness: 2,
};
export const IGMPPROXY_CONF = ['phyint r0 upstream ratelimit 0 threshold 1', 'phyint r1 downstream ratelimit 0 threshold 1'];
/**
 * igmpproxy 0.3's leave timers (src/config.c: lastMemberQueryInterval = INTERVAL_QUERY_RESPONSE =
 * 10 s, lastMemberQueryCount = 2; whole seconds on its callout queue), not settable in its config.
 */
const IGMPPROXY_LMQI_S = 10;
const IGMPPROXY_LMQC = 2;

/** One cycle, in ms from the probe's times (null where the probe saw no such message). */
export interface IgmpCycle {
  cycle: number;
  warmup: boolean;
  joinToForwardMs: number;
  /** join call -> the host's report on s0 (the kernel's host stack) */
  joinReportMs: number | null;
  /** the report on s0 -> the first frame (the relay's part, plus the link both ways) */
  reportToForwardMs: number | null;
  leaveToStopMs: number;
  /** leave call -> the host's leave on s0 */
  leaveReportMs: number | null;
  /** the leave on s0 -> the last frame */
  leaveToLastFrameMs: number | null;
  /** mcr only: its route.add event -> the first frame, and its route.remove event -> the last frame (events carry ms) */
  routeAddToForwardMs?: number | null;
  routeRemoveToLastFrameMs?: number | null;
  framesJoined: number;
  framesAfterLeave: number;
}

export interface LatencyStats {
  n: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
  min: number | null;
  mean: number | null;
}

export interface IgmpRelayLatency {
  id: 'mcr' | 'igmpproxy';
  label: string;
  /** mcr's igmp section, or igmpproxy's config file */
  config: unknown;
  /** the leave timers: last member query interval (s) x count = the time a leave is given */
  lastMemberQueryIntervalS: number;
  lastMemberQueryCount: number;
  cyclesRequested: number;
  warmup: number;
  cycles: IgmpCycle[];
  joinToForwardMs: LatencyStats;
  joinReportMs: LatencyStats;
  reportToForwardMs: LatencyStats;
  routeAddToForwardMs?: LatencyStats;
  leaveToStopMs: LatencyStats;
  leaveReportMs: LatencyStats;
  leaveToLastFrameMs: LatencyStats;
  routeRemoveToLastFrameMs?: LatencyStats;
  generator?: GenResult;
  skipped?: string;
  error?: string;
}

export interface IgmpLatencySummary {
  group: string;
  port: number;
  ratePps: number;
  size: number;
  holdMs: number;
  quietMs: number;
  startedAt: string;
  endedAt: string;
  /** load averages (1, 5, 15 min) before and after: the machine is shared */
  loadBefore: number[];
  loadAfter: number[];
  relays: IgmpRelayLatency[];
}

/** p50/p99 by linear interpolation between order statistics (bench/cpu.ts), 2 decimals. */
export function latencyStats(values: Array<number | null | undefined>): LatencyStats {
  const s = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  const r = (x: number | null | undefined): number | null => (x === null || x === undefined ? null : Math.round(x * 100) / 100);
  return {
    n: s.length,
    p50: r(quantile(s, 0.5)),
    p99: r(quantile(s, 0.99)),
    max: r(s[s.length - 1]),
    min: r(s[0]),
    mean: r(s.length ? s.reduce((a, b) => a + b, 0) / s.length : null),
  };
}

/** What the probe prints per cycle (ns, CLOCK_REALTIME). */
export interface ProbeLine {
  cycle: number;
  joinNs: number;
  firstNs?: number;
  leaveNs?: number;
  lastNs?: number;
  joinSentNs?: number | null;
  leaveSentNs?: number | null;
  framesJoined?: number;
  framesAfterLeave?: number;
  error?: string;
}

/** mcr's route events for the group, times in ms since the epoch. */
export interface RouteEvent {
  type: 'route.add' | 'route.remove';
  atMs: number;
}

function parseProbe(stdout: string): ProbeLine[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as ProbeLine);
}

export function parseRouteEvents(stdout: string): RouteEvent[] {
  const out: RouteEvent[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    let e: { type?: string; time?: string; group?: string };
    try {
      e = JSON.parse(line) as typeof e;
    } catch {
      continue; // the last line, cut when mcrctl was stopped
    }
    if ((e.type === 'route.add' || e.type === 'route.remove') && e.group === GROUP && e.time)
      out.push({ type: e.type, atMs: Date.parse(e.time) });
  }
  return out;
}

/** The probe's lines as cycles; `events` (mcr) split the relay's part at its route changes. */
export function toCycles(lines: ProbeLine[], warmup: number, events?: RouteEvent[]): IgmpCycle[] {
  // BigInt-free: ns since the epoch lose sub-µs precision as doubles, which ms figures do not need
  const ms = (a: number | null | undefined, b: number | null | undefined): number | null =>
    a === null || a === undefined || b === null || b === undefined ? null : Math.round((a - b) / 1e3) / 1e3;
  const out: IgmpCycle[] = [];
  for (const l of lines) {
    if (l.error || l.firstNs === undefined || l.leaveNs === undefined || l.lastNs === undefined) continue;
    const c: IgmpCycle = {
      cycle: l.cycle,
      warmup: l.cycle < warmup,
      joinToForwardMs: ms(l.firstNs, l.joinNs) ?? 0,
      joinReportMs: ms(l.joinSentNs, l.joinNs),
      reportToForwardMs: ms(l.firstNs, l.joinSentNs),
      leaveToStopMs: ms(l.lastNs, l.leaveNs) ?? 0,
      leaveReportMs: ms(l.leaveSentNs, l.leaveNs),
      leaveToLastFrameMs: ms(l.lastNs, l.leaveSentNs),
      framesJoined: l.framesJoined ?? 0,
      framesAfterLeave: l.framesAfterLeave ?? 0,
    };
    if (events) {
      // the route change this cycle caused: the first after the join (the leave) call
      const joinMs = l.joinNs / 1e6;
      const leaveMs = l.leaveNs / 1e6;
      const add = events.find((e) => e.type === 'route.add' && e.atMs >= Math.floor(joinMs) && e.atMs < leaveMs);
      const remove = events.find((e) => e.type === 'route.remove' && e.atMs >= Math.floor(leaveMs));
      c.routeAddToForwardMs = add ? Math.round((l.firstNs / 1e6 - add.atMs) * 1000) / 1000 : null;
      c.routeRemoveToLastFrameMs = remove ? Math.round((l.lastNs / 1e6 - remove.atMs) * 1000) / 1000 : null;
    }
    out.push(c);
  }
  return out;
}

export function summarize(base: Omit<IgmpRelayLatency, keyof ReturnType<typeof figures>>, cycles: IgmpCycle[]): IgmpRelayLatency {
  return { ...base, ...figures(cycles) };
}

function figures(cycles: IgmpCycle[]) {
  const m = cycles.filter((c) => !c.warmup);
  const of = (k: keyof IgmpCycle): LatencyStats => latencyStats(m.map((c) => c[k] as number | null | undefined));
  const hasEvents = m.some((c) => c.routeAddToForwardMs !== undefined);
  return {
    cycles,
    joinToForwardMs: of('joinToForwardMs'),
    joinReportMs: of('joinReportMs'),
    reportToForwardMs: of('reportToForwardMs'),
    leaveToStopMs: of('leaveToStopMs'),
    leaveReportMs: of('leaveReportMs'),
    leaveToLastFrameMs: of('leaveToLastFrameMs'),
    ...(hasEvents ? { routeAddToForwardMs: of('routeAddToForwardMs'), routeRemoveToLastFrameMs: of('routeRemoveToLastFrameMs') } : {}),
  };
}

/** The probe in the sink, on the generator's CPU when pinned (the relay's CPU stays the relay's). */
function startProbe(topo: Topology, cycles: number, leaveTimeoutS: number): Proc {
  const args = [
    PROBE,
    '--interface',
    's0',
    '--group',
    GROUP,
    '--port',
    String(PORT),
    '--cycles',
    String(cycles),
    '--hold-ms',
    String(HOLD_MS),
    '--quiet-ms',
    String(QUIET_MS),
    '--leave-timeout-s',
    String(leaveTimeoutS),
  ];
  return pinning.gen === undefined
    ? topo.spawn('sink', 'igmp-join-probe', 'python3', args)
    : topo.spawn('sink', 'igmp-join-probe', 'taskset', ['-c', String(pinning.gen), 'python3', ...args]);
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs: number, alive?: Proc): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (alive && !alive.running) throw new Error(`${alive.label} exited while waiting for ${what}: ${alive.stderr.trim().slice(-500)}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

interface RelayRun {
  lines: ProbeLine[];
  events?: RouteEvent[];
  generator: GenResult;
  probeStderr: string;
}

/**
 * A fresh one-hop topology, the stream, `startRelay`, the probe to the end; everything stopped
 * and the namespaces removed on the way out.
 */
async function runRelay(
  tag: string,
  cycles: number,
  leaveTimeoutS: number,
  startRelay: (topo: Topology) => Promise<{ stop: () => Promise<void>; events?: () => RouteEvent[] }>,
): Promise<RelayRun> {
  const topo = await oneHop(tag);
  try {
    // The sink reaches the sources through the relay, as a LAN behind a router does.
    await topo.ip('sink', ['route', 'add', '10.0.1.0/24', 'via', '10.0.2.1']);
    const gen = startGenerator(ONE_HOP_PATH(topo), { streams: 1, rate: RATE, count: 0, size: SIZE, port: PORT, batch: 1 });
    const relay = await startRelay(topo);
    let lines: ProbeLine[];
    let probeStderr: string;
    try {
      const probe = startProbe(topo, cycles, leaveTimeoutS);
      const code = await probe.exited;
      lines = parseProbe(probe.stdout);
      probeStderr = probe.stderr.trim();
      const failed = lines.find((l) => l.error);
      if (failed) throw new Error(`cycle ${failed.cycle}: ${failed.error}`);
      if (code !== 0 || lines.length !== cycles)
        throw new Error(`the probe exited ${code} after ${lines.length} of ${cycles} cycles: ${probeStderr}`);
    } finally {
      await relay.stop();
    }
    await gen.proc.stop('SIGTERM', 3000);
    const generator = await gen.result;
    return { lines, events: relay.events?.(), generator, probeStderr };
  } finally {
    await topo.destroy();
  }
}

async function startMcrRelay(ctx: BenchContext, topo: Topology) {
  const configFile = path.join(ctx.dir, 'igmp-latency-mcr.json');
  const cpu = pinning.relay?.[0];
  writeFileSync(
    configFile,
    `${JSON.stringify({ workers: 1, ...(cpu !== undefined ? { cpus: [cpu] } : {}), logLevel: 'warn', igmp: MCR_IGMP }, null, 2)}\n`,
  );
  const socket = path.join(ctx.dir, 'igmp-latency-mcrd.sock');
  const daemon: DaemonHandle = await startMcrd(topo, 'relay', {
    socket,
    configFile,
    label: 'mcrd igmp-latency',
    timeoutMs: 20_000,
    pollMs: 100,
  });
  const pid = daemon.proc.pid;
  let events: Proc | undefined;
  try {
    await until(
      'IGMP to run on r1',
      async () =>
        (await daemon.request('igmp.groups')).interfaces.some(
          (i) => i.interface === 'r1' && i.waiting === null && i.querier?.self === true,
        ),
      10_000,
      daemon.proc,
    );
    // mcr's route changes as it reports them, to split its part of the latency
    events = start('mcrctl events', 'node', [MCRCTL, '--socket', socket, 'events', '--json']);
    await sleep(500);
    if (!events.running) throw new Error(`mcrctl events exited: ${events.stderr.trim()}`);
  } catch (err) {
    await events?.stop('SIGTERM', 2000);
    await daemon.stop();
    throw err;
  }
  const ev = events;
  return {
    events: () => parseRouteEvents(ev.stdout),
    async stop() {
      await ev.stop('SIGTERM', 2000);
      await daemon.proc.stop('SIGTERM', 10_000);
      if (pid) rmSync(`/dev/shm/mcrd-${pid}.counters`, { force: true });
    },
  };
}

async function startIgmpproxy(ctx: BenchContext, topo: Topology) {
  const conf = path.join(ctx.dir, 'igmp-latency-igmpproxy.conf');
  writeFileSync(conf, `${IGMPPROXY_CONF.join('\n')}\n`);
  // -d: stay in the foreground, log to stderr; -v: one line per route change, for the record
  const proc = topo.spawn('relay', 'igmpproxy', 'igmpproxy', ['-d', '-v', conf]);
  try {
    await until(
      "igmpproxy's vifs on r0 and r1",
      async () => {
        const vifs = (await topo.exec('relay', 'cat', ['/proc/net/ip_mr_vif'], { allowFail: true })).stdout;
        return /\br0\b/.test(vifs) && /\br1\b/.test(vifs);
      },
      10_000,
      proc,
    );
  } catch (err) {
    await proc.stop('SIGTERM', 2000);
    throw err;
  }
  return {
    async stop() {
      await proc.stop('SIGTERM', 3000);
    },
  };
}

const loadavg = (): number[] => os.loadavg().map((x) => Math.round(x * 100) / 100);

const fmtMs = (x: number | null): string => (x === null ? '-' : x < 100 ? x.toFixed(1) : x.toFixed(0));

export async function igmpLatency(ctx: BenchContext): Promise<ScenarioResult<'igmp-latency'>> {
  const t0 = Date.now();
  const startedAt = new Date().toISOString();
  const loadBefore = loadavg();
  const mcrCycles = ctx.quick ? 10 : IGMP_LATENCY_MCR_CYCLES;
  const proxyCycles = ctx.quick ? 1 : IGMP_LATENCY_IGMPPROXY_CYCLES;
  const wanted = (id: string): boolean => !ctx.onlyRelays || ctx.onlyRelays.includes(id);
  const progress = new Progress('igmp-latency', 2);
  const relays: IgmpRelayLatency[] = [];
  const failures: string[] = [];
  const notes: string[] = [];

  const mcrLmqt = MCR_IGMP.lastMemberQueryInterval * MCR_IGMP.robustness;
  const mcrBase = {
    id: 'mcr' as const,
    label: 'mcr (1 worker, igmpproxy mode)',
    config: { igmp: MCR_IGMP },
    lastMemberQueryIntervalS: MCR_IGMP.lastMemberQueryInterval,
    lastMemberQueryCount: MCR_IGMP.robustness,
    cyclesRequested: mcrCycles,
    warmup: MCR_WARMUP,
  };
  if (!wanted('mcr-1w')) {
    relays.push(summarize({ ...mcrBase, skipped: 'not in --relays (mcr-1w)' }, []));
  } else {
    progress.status(`mcr: ${MCR_WARMUP} + ${mcrCycles} join/leave cycles`, 0);
    try {
      const r = await runRelay('igl-mcr', MCR_WARMUP + mcrCycles, mcrLmqt + 5, (topo) => startMcrRelay(ctx, topo));
      const cycles = toCycles(r.lines, MCR_WARMUP, r.events);
      const res = summarize({ ...mcrBase, generator: r.generator }, cycles);
      relays.push(res);
      // docs/igmp.md: a leave stops forwarding after at most LMQI x robustness plus the table change
      const bound = mcrLmqt * 1000 + 1000;
      if ((res.leaveToStopMs.max ?? 0) > bound)
        failures.push(
          `mcr: a leave took ${res.leaveToStopMs.max} ms to stop the stream, beyond lastMemberQueryInterval x robustness + 1 s (${bound} ms)`,
        );
      progress.item(
        `mcr: join-to-forward p50 ${fmtMs(res.joinToForwardMs.p50)} ms, p99 ${fmtMs(res.joinToForwardMs.p99)} ms; leave-to-stop p50 ${fmtMs(res.leaveToStopMs.p50)} ms, p99 ${fmtMs(res.leaveToStopMs.p99)} ms (${res.joinToForwardMs.n} cycle${res.joinToForwardMs.n === 1 ? '' : 's'})`,
      );
    } catch (err) {
      const error = (err as Error).message;
      relays.push(summarize({ ...mcrBase, error }, []));
      failures.push(`mcr: ${error}`);
      progress.item(`mcr: FAILED: ${error}`);
    }
  }

  const proxyBase = {
    id: 'igmpproxy' as const,
    label: 'kernel routing (igmpproxy 0.3)',
    config: IGMPPROXY_CONF,
    lastMemberQueryIntervalS: IGMPPROXY_LMQI_S,
    lastMemberQueryCount: IGMPPROXY_LMQC,
    cyclesRequested: proxyCycles,
    warmup: 0,
  };
  if (!wanted('kernel')) {
    relays.push(summarize({ ...proxyBase, skipped: 'not in --relays (kernel)' }, []));
  } else if (!which('igmpproxy')) {
    relays.push(summarize({ ...proxyBase, skipped: 'igmpproxy is not installed (apt-get install igmpproxy)' }, []));
    progress.item('igmpproxy: skipped, not installed');
  } else {
    progress.status(`igmpproxy: ${proxyCycles} join/leave cycles (seconds each)`, 0);
    try {
      const r = await runRelay('igl-kernel', proxyCycles, IGMPPROXY_LMQI_S * (IGMPPROXY_LMQC + 1) + 10, (topo) =>
        startIgmpproxy(ctx, topo),
      );
      const res = summarize({ ...proxyBase, generator: r.generator }, toCycles(r.lines, 0));
      relays.push(res);
      progress.item(
        `igmpproxy: join-to-forward p50 ${fmtMs(res.joinToForwardMs.p50)} ms, max ${fmtMs(res.joinToForwardMs.max)} ms; leave-to-stop p50 ${fmtMs(res.leaveToStopMs.p50)} ms, max ${fmtMs(res.leaveToStopMs.max)} ms (${res.joinToForwardMs.n} cycle${res.joinToForwardMs.n === 1 ? '' : 's'})`,
      );
    } catch (err) {
      // a peer that does not work here is a note, not mcr's failure
      const error = (err as Error).message;
      relays.push(summarize({ ...proxyBase, error }, []));
      notes.push(`igmpproxy failed: ${error}`);
      progress.item(`igmpproxy: FAILED: ${error}`);
    }
  }

  for (const r of relays) {
    const thin = r.cycles.filter((c) => !c.warmup && c.framesJoined < (RATE * HOLD_MS) / 1000 / 2);
    if (thin.length)
      notes.push(
        `${r.id}: ${thin.length} cycle(s) forwarded under half the stream while joined (the hold is ${HOLD_MS} ms at ${RATE} pps)`,
      );
    if (r.generator && r.generator.sendErrors > 0) notes.push(`${r.id}: the generator had ${r.generator.sendErrors} send errors`);
  }
  notes.push(
    `Method: one-hop topology (fresh per relay), mcrgen sends ${GROUP}:${PORT} from 10.0.1.1 at ${RATE} pps, ${SIZE}-byte payloads, one packet per send (0.1 ms apart), TTL 16, without pause. In the sink, bench/tools/igmp-join-probe.py repeats on the same group: join (a UDP socket's IP_ADD_MEMBERSHIP on s0: the kernel's host stack sends the report), first frame of the group on s0, ${HOLD_MS} ms of forwarding, leave (IP_DROP_MEMBERSHIP: the kernel sends the leave), stream stopped (no frame for ${QUIET_MS} ms). Frames and the host's own IGMP messages are read from an AF_PACKET socket on s0 with their kernel timestamps (SO_TIMESTAMPNS); the join and leave calls are timed with CLOCK_REALTIME just before the setsockopt, so all times are on one clock. join-to-forward = first frame - join call (late by up to one packet gap, 0.1 ms); leave-to-stop = last frame - leave call (early by up to one gap). Each is split at the host's report (leave) on s0: the host stack sends a report from a timer, about 10 ms after the call here.`,
  );
  notes.push(
    `mcr: one worker, igmp ${JSON.stringify(MCR_IGMP)} (a leave is given lastMemberQueryInterval x robustness = ${mcrLmqt} s of group-specific queries), no static rules; the first ${MCR_WARMUP} cycles are warm-up and left out. Its route.add and route.remove events (mcrctl events, times truncated to the millisecond, so the event -> frame figures are over by up to 1 ms) split its part into the daemon's decision and the table change reaching the workers.`,
  );
  notes.push(
    `kernel routing: igmpproxy 0.3 (Debian) in the relay namespace, config "${IGMPPROXY_CONF.join('; ')}"; it installs kernel multicast routes (MRT_INIT) when a report arrives and removes them after its last-member queries: ${IGMPPROXY_LMQC} queries ${IGMPPROXY_LMQI_S} s apart, compiled in, on a callout queue counted in whole seconds (not settable in its config, so its leave-to-stop is its timers, not its processing). Its queries are IGMPv2, so the sink's host stack joins and leaves with IGMPv2 messages there. ${proxyCycles} cycle${proxyCycles === 1 ? '' : 's'}, as each leave takes seconds.`,
  );
  progress.finish(`${relays.filter((r) => r.cycles.length).length} relay(s) measured`);
  const summary: IgmpLatencySummary = {
    group: GROUP,
    port: PORT,
    ratePps: RATE,
    size: SIZE,
    holdMs: HOLD_MS,
    quietMs: QUIET_MS,
    startedAt,
    endedAt: new Date().toISOString(),
    loadBefore,
    loadAfter: loadavg(),
    relays,
  };
  return { trials: [], summary, notes, durationS: (Date.now() - t0) / 1000, ...(failures.length ? { failures } : {}) };
}
