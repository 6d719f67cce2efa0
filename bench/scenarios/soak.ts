// SPDX-License-Identifier: MIT
// Scenario soak (not in the standard suite): a constant 1400-byte stream through mcrd, fanned out
// 1:2, at half of mcr's maximum lossless 1:2 rate, for --duration seconds (default 600), while a
// control client adds a rule, removes it and reads stats 50 times a second in all. It checks that
// both outputs got every packet exactly once (one mcrgen recv per output, kernel counters, mcr's
// counters and FINAL lines), samples the RSS of mcrd and of its data-plane process every second,
// and fails when either keeps growing after the warm-up (bench/memory.ts).
import { snmpField } from '../../lab/snmp';
import { readFileSync } from 'node:fs';
import type { RuleSpec } from '../../src/config/types';
import { ControlClient, ControlError } from '../../src/control/client';
import type { Stats } from '../../src/control/protocol';
import { MCRGEN } from '../paths';
import { Progress } from '../progress';
import { sleep, type Proc } from '../proc';
import { mcrRelay, type McrInstance } from '../relays/mcr';
import { ipPlus, outputGroup } from '../relays/relay';
import { DEFAULT_GROWTH_RULE, growthCheck, readStatus, warmupFor, type GrowthVerdict, type MemSample } from '../memory';
import { ONE_HOP_PATH, pinning, quiesce, startGenerator } from '../traffic';
import { oneHop, type Topology } from '../topology';
import type { ScenarioResult, Trial } from '../types';
import { formatCompact } from '../../src/cli/table';
import { genMaxFor, onePlan, searchConfig, searchRelay, startWarm, type BenchContext } from './common';
import { timing, type Timing } from './control';

export const SOAK_DEFAULT_S = 600;
const SIZE = 1400;
const FANOUT = 2;
/** control operations per second, all kinds together (add, remove, stats in turn) */
export const SOAK_CONTROL_OPS_PER_S = 50;
const OPS = ['add', 'remove', 'stats'] as const;
type Op = (typeof OPS)[number];

interface RecvJson {
  received: number;
  unique: number;
  duplicates: number;
  reordered: number;
  corrupted: number;
  foreign: number;
  first_seq: number | null;
  max_seq: number | null;
}

export interface SoakOutput {
  group: string;
  port: number;
  /** what mcrgen recv counted for this output */
  received: number;
  unique: number;
  duplicates: number;
  corrupted: number;
  reordered: number;
  /** mcr's own per-output txPackets over the stream */
  mcrTx: number;
  exact: boolean;
}

export interface ControlSummary {
  targetOpsPerS: number;
  ops: number;
  opsPerS: number;
  errors: number;
  errorsByOp: Record<Op, number>;
  /** the first distinct error messages */
  errorSamples: string[];
  /** slots dropped because an operation overran the schedule by more than a second */
  slotsSkipped: number;
  latencyMs: Record<Op, Timing>;
}

export interface SoakSummary {
  durationS: number;
  ratePps: number;
  rateSource: string;
  maxLosslessPps?: number;
  size: number;
  fanout: number;
  count: number;
  sent: number;
  genElapsedS: number;
  offered: number;
  offeredPps: number;
  /** s0 rx_packets delta: both outputs together */
  sinkPackets: number;
  outputs: SoakOutput[];
  mcr: {
    rx: number;
    tx: number;
    ringDrops: number;
    bufExhaust: number;
    txErrors: number;
    finalRecv?: number;
    finalEgrSent?: number;
    finalText?: string;
  };
  sinkUdpRcvbufErrors?: number;
  control: ControlSummary;
  /** once a second: packets so far into r0, into s0, and mcr's ring drops (from the last stats reply) */
  timeline: Array<{ t: number; offered: number; sink: number; ringDrops: number }>;
  /** seconds in which the kernel dropped frames from mcr's ring, and the worst of them */
  dropSeconds: number;
  worstDropSecond?: { t: number; ringDrops: number };
  memory: {
    pids: { mcrd: number; dataplane: number };
    dataplaneRestarts: number;
    intervalS: number;
    mcrd: MemSample[];
    dataplane: MemSample[];
    /** the verdict: private anonymous memory (RssAnon) */
    growth: { mcrd: GrowthVerdict; dataplane: GrowthVerdict };
    /** the same fit over VmRSS, for information (it includes the shared counter file's pages) */
    rssGrowth: { mcrd: GrowthVerdict; dataplane: GrowthVerdict };
    rule: typeof DEFAULT_GROWTH_RULE & { warmupS: number };
  };
  exact: boolean;
  failures: string[];
}

function addSpec(k: number): RuleSpec {
  const slot = k % 16;
  return {
    name: `soak${slot}`,
    input: { interface: 'r0', group: ipPlus('239.1.2.1', slot), port: 5001 },
    outputs: [{ group: ipPlus('239.2.3.1', slot), port: 5002, interface: 'r1' }],
  };
}

/**
 * add, remove, stats in turn, one operation every 1/opsPerS seconds on an absolute schedule (a
 * slow operation delays the next ones, which then catch up; more than a second behind, the missed
 * slots are dropped and counted). Runs until stop() resolves.
 */
function controlLoop(socket: string, opsPerS: number, onStats: (s: Stats) => void): { stop: () => Promise<ControlSummary> } {
  const client = new ControlClient(socket);
  const lat: Record<Op, number[]> = { add: [], remove: [], stats: [] };
  const errorsByOp: Record<Op, number> = { add: 0, remove: 0, stats: 0 };
  const errorSamples: string[] = [];
  let stopping = false;
  let slotsSkipped = 0;
  const periodMs = opsPerS > 0 ? 1000 / opsPerS : 1000;
  const t0 = performance.now();
  const run = (async () => {
    let slot = 0;
    let cycle = 0;
    // --control-rate 0: no control work at all (to tell its effect from the rest of the machine's)
    while (!stopping && opsPerS > 0) {
      const due = t0 + slot * periodMs;
      const now = performance.now();
      if (now - due > 1000) {
        const skip = Math.floor((now - due) / periodMs);
        slotsSkipped += skip;
        slot += skip;
      } else if (due > now) await sleep(due - now);
      if (stopping) break;
      const op = OPS[slot % OPS.length]!;
      const start = performance.now();
      try {
        if (op === 'add') await client.request('add', addSpec(cycle));
        else if (op === 'remove') await client.request('remove', { name: `soak${cycle % 16}` });
        else onStats(await client.request('stats'));
        lat[op].push(performance.now() - start);
      } catch (err) {
        errorsByOp[op]++;
        const msg = `${op}: ${err instanceof ControlError ? `${err.code} ` : ''}${(err as Error).message}`;
        if (errorSamples.length < 5 && !errorSamples.includes(msg)) errorSamples.push(msg);
      }
      if (op === 'stats') cycle++;
      slot++;
    }
  })();
  return {
    async stop() {
      stopping = true;
      await run;
      client.close();
      const elapsedS = (performance.now() - t0) / 1000;
      const ops = lat.add.length + lat.remove.length + lat.stats.length;
      const errors = errorsByOp.add + errorsByOp.remove + errorsByOp.stats;
      return {
        targetOpsPerS: opsPerS,
        ops: ops + errors,
        opsPerS: Math.round(((ops + errors) / elapsedS) * 10) / 10,
        errors,
        errorsByOp,
        errorSamples,
        slotsSkipped,
        latencyMs: { add: timing(lat.add), remove: timing(lat.remove), stats: timing(lat.stats) },
      };
    },
  };
}

/** One `mcrgen recv` per output, in the sink namespace; resolves once it has joined. */
async function startReceiver(topo: Topology, group: string, port: number): Promise<Proc> {
  // On the generator's CPU, like the latency probe: the relay's CPU stays the relay's.
  const args = ['recv', '--group', group, '--port', String(port), '--interface', 's0', '--timeout', '0', '--json'];
  const proc =
    pinning.gen === undefined
      ? topo.spawn('sink', `mcrgen recv ${group}:${port}`, MCRGEN, args)
      : topo.spawn('sink', `mcrgen recv ${group}:${port}`, 'taskset', ['-c', String(pinning.gen), MCRGEN, ...args]);
  const deadline = Date.now() + 10_000;
  while (!proc.stderr.includes('receiving')) {
    if (!proc.running) throw new Error(`${proc.label} exited: ${proc.stderr.trim()}`);
    if (Date.now() > deadline) throw new Error(`${proc.label} did not start`);
    await sleep(20);
  }
  return proc;
}

async function stopReceiver(proc: Proc): Promise<RecvJson> {
  await proc.stop('SIGTERM', 5000);
  const line = proc.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as RecvJson;
  } catch {
    throw new Error(`${proc.label} printed no report: ${proc.stderr.trim() || line}`);
  }
}

/** UDP RcvbufErrors of the namespace a process lives in (the sink's sockets overflowing). */
function udpRcvbufErrors(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  const snmp = readStatusFile(`/proc/${pid}/net/snmp`);
  return snmp === undefined ? undefined : snmpField(snmp, 'Udp', 'RcvbufErrors');
}

function readStatusFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;

export async function soak(ctx: BenchContext): Promise<ScenarioResult<'soak'>> {
  const t0 = Date.now();
  const durationS = ctx.soakDurationS ?? SOAK_DEFAULT_S;
  const controlRate = ctx.soakControlRate ?? SOAK_CONTROL_OPS_PER_S;
  const trials: Trial[] = [];
  const notes: string[] = [];
  const topo = await oneHop('sk');
  const path = ONE_HOP_PATH(topo);
  const plan = onePlan(topo, ctx.dir, { fanout: FANOUT, portPerOutput: true });
  const relay = mcrRelay(1);
  const progress = new Progress('soak', ctx.soakRatePps ? 2 : 3);
  let summary: SoakSummary | undefined;
  try {
    // the rate: given, or half of a short 1:2 search in this run
    let rate = ctx.soakRatePps ?? 0;
    let rateSource = '--rate';
    let maxLossless: number | undefined;
    if (!rate) {
      const cfg = searchConfig(ctx, await genMaxFor(ctx, path, SIZE, progress), {
        trialSeconds: Math.min(ctx.trialSeconds, 0.5),
        resolution: 0.1,
        maxTrials: 6,
      });
      // The receivers run during the search too: delivering to sockets costs the sending CPU
      // (the sink's softirq runs on mcr's CPU), so a maximum measured without them is not the
      // maximum of the soak's set-up.
      const searchReceivers: Proc[] = [];
      let s: Awaited<ReturnType<typeof searchRelay>>;
      try {
        for (let o = 0; o < FANOUT; o++) {
          const d = relay.deliveredGroup(plan, 0, o);
          searchReceivers.push(await startReceiver(topo, d.group, d.port));
        }
        s = await searchRelay(ctx, relay, plan, path, SIZE, cfg, progress, trials, 'max 1:2');
      } finally {
        for (const r of searchReceivers) await r.stop('SIGKILL', 1000);
      }
      if (!s.maxLosslessPps) throw new Error(`mcr has no lossless 1:2 rate to soak at${s.skipped ? `: ${s.skipped}` : ''}`);
      maxLossless = s.maxLosslessPps;
      rate = Math.round(s.maxLosslessPps / 2);
      rateSource = `half of the maximum lossless 1:2 rate, ${formatCompact(s.maxLosslessPps)} pps${s.generatorLimited ? ' (generator-limited: a lower bound)' : ''}, from a short search in this run with both receivers running (0.5 s trials, 10% resolution, at most 6 trials)`;
    }
    const count = Math.round(rate * durationS);
    progress.status(`starting mcrd for ${durationS} s at ${formatCompact(rate)} pps`, 0);
    const inst = (await startWarm(relay, plan, path, SIZE)) as McrInstance;
    const outputs = Array.from({ length: FANOUT }, (_, o) => relay.deliveredGroup(plan, 0, o));
    const receivers: Proc[] = [];
    let stopped = false;
    try {
      const workers = await inst.client.request('workers');
      const mcrdPid = inst.pid;
      const dpPid = workers.dataplane.pid;
      if (!mcrdPid || !dpPid) throw new Error(`no pid for mcrd (${mcrdPid}) or its data plane (${dpPid})`);
      const dpParent = /^PPid:\s+(\d+)/m.exec(readStatusFile(`/proc/${dpPid}/status`) ?? '')?.[1];
      if (Number(dpParent) !== mcrdPid) throw new Error(`data-plane pid ${dpPid} is not a child of mcrd ${mcrdPid} (parent ${dpParent})`);
      for (const o of outputs) receivers.push(await startReceiver(topo, o.group, o.port));
      const base = await inst.client.request('stats');
      const c0 = { input: topo.counter('relay', 'r0'), sink: topo.counter('sink', 's0') };
      const rcvbuf0 = udpRcvbufErrors(receivers[0]?.pid);

      // sampling and control work run for as long as the stream does
      const mem: { mcrd: MemSample[]; dataplane: MemSample[] } = { mcrd: [], dataplane: [] };
      const timeline: SoakSummary['timeline'] = [];
      let lastStats = base;
      const tStream = performance.now();
      const sample = (): void => {
        const t = Math.round((performance.now() - tStream) / 100) / 10;
        const a = readStatus(mcrdPid, t);
        const b = readStatus(dpPid, t);
        if (a) mem.mcrd.push(a);
        if (b) mem.dataplane.push(b);
        timeline.push({
          t,
          offered: topo.counter('relay', 'r0').rxPackets - c0.input.rxPackets,
          sink: topo.counter('sink', 's0').rxPackets - c0.sink.rxPackets,
          ringDrops: lastStats.totals.ringDrops - base.totals.ringDrops,
        });
      };
      sample();
      const sampler = setInterval(sample, 1000);
      const control = controlLoop(inst.socket, controlRate, (st) => (lastStats = st));
      // without control work, the sampler's ring drops come from a stats read of its own
      const dropPoller =
        controlRate > 0
          ? undefined
          : setInterval(
              () =>
                void inst.client.request('stats').then(
                  (st) => (lastStats = st),
                  () => undefined,
                ),
              1000,
            );
      const gen = startGenerator(path, { streams: 1, rate, count, size: SIZE, port: plan.port });
      const ticker = setInterval(() => {
        const s = (performance.now() - tStream) / 1000;
        const last = mem.mcrd[mem.mcrd.length - 1];
        const dp = mem.dataplane[mem.dataplane.length - 1];
        progress.status(
          `${Math.round(s)}/${durationS} s at ${formatCompact(rate)} pps; RSS mcrd ${last ? mib(last.rssKiB) : '?'}, data plane ${dp ? mib(dp.rssKiB) : '?'}`,
          s / durationS,
        );
      }, 1000);
      let g: Awaited<typeof gen.result>;
      try {
        g = await gen.result;
      } finally {
        clearInterval(ticker);
        sample();
        clearInterval(sampler);
        if (dropPoller) clearInterval(dropPoller);
      }
      const ctl = await control.stop();
      await quiesce(path, 300, 10_000);
      await sleep(400); // mcr folds kernel ring drops into its counters every 250 ms
      const end = await inst.client.request('stats');
      const workers1 = await inst.client.request('workers');
      const c1 = { input: topo.counter('relay', 'r0'), sink: topo.counter('sink', 's0') };
      const rcvbuf1 = udpRcvbufErrors(receivers[0]?.pid);
      const recv: RecvJson[] = [];
      for (const r of receivers) recv.push(await stopReceiver(r));
      const fin = await inst.stop();
      stopped = true;

      const offered = c1.input.rxPackets - c0.input.rxPackets;
      const sinkPackets = c1.sink.rxPackets - c0.sink.rxPackets;
      const rule = (s: Stats): Stats['rules'][number] | undefined => s.rules.find((r) => r.name === 's0');
      const mcr = {
        rx: end.totals.rxFrames - base.totals.rxFrames,
        tx: end.totals.txPackets - base.totals.txPackets,
        ringDrops: end.totals.ringDrops - base.totals.ringDrops,
        bufExhaust: end.totals.bufExhaust - base.totals.bufExhaust,
        txErrors: end.totals.txErrors - base.totals.txErrors,
        finalRecv: fin.final ? fin.final.rx - base.totals.rxFrames : undefined,
        finalEgrSent: fin.final ? fin.final.tx - base.totals.txPackets : undefined,
        finalText: fin.text,
      };
      const failures: string[] = [];
      if (g.sent !== count) failures.push(`the generator sent ${g.sent} of ${count} packets (send errors ${g.sendErrors})`);
      if (offered !== g.sent)
        failures.push(`r0 received ${offered} of the ${g.sent} packets sent (the generator's veth dropped ${g.sent - offered})`);
      const outs: SoakOutput[] = outputs.map((o, i) => {
        // one receiver, and so one recv result, per output, in order
        const r = recv[i];
        if (!r) throw new Error(`no receiver result for output ${o.group}:${o.port}`);
        const mcrTx = (rule(end)?.outputs[i]?.txPackets ?? 0) - (rule(base)?.outputs[i]?.txPackets ?? 0);
        const exact = r.unique === g.sent && r.duplicates === 0 && r.corrupted === 0 && mcrTx === g.sent;
        if (!exact) {
          failures.push(
            `output ${o.group}:${o.port}: mcrgen recv counted ${r.unique} distinct of ${g.sent} sent (${g.sent - r.unique} missing), ${r.duplicates} duplicates, ${r.corrupted} corrupted; mcr sent ${mcrTx} on it`,
          );
        }
        return {
          group: o.group,
          port: o.port,
          received: r.received,
          unique: r.unique,
          duplicates: r.duplicates,
          corrupted: r.corrupted,
          reordered: r.reordered,
          mcrTx,
          exact,
        };
      });
      if (sinkPackets !== FANOUT * g.sent)
        failures.push(`the sink interface received ${sinkPackets} packets, not ${FANOUT} x ${g.sent} = ${FANOUT * g.sent}`);
      if (mcr.rx + mcr.ringDrops !== offered || mcr.tx !== FANOUT * offered)
        failures.push(
          `mcr's counters: rx ${mcr.rx} + ring drops ${mcr.ringDrops} (offered ${offered}), tx ${mcr.tx} (expected ${FANOUT * offered})`,
        );
      if (mcr.finalRecv === undefined) failures.push('mcrd printed no [STATS:Ingress FINAL] line on SIGTERM');
      else if (mcr.finalRecv !== offered || mcr.finalEgrSent !== FANOUT * offered)
        failures.push(
          `mcrd's FINAL line: recv ${mcr.finalRecv}, egr_sent ${mcr.finalEgrSent} over the stream (expected ${offered}, ${FANOUT * offered})`,
        );
      const sinkUdpRcvbufErrors = rcvbuf0 !== undefined && rcvbuf1 !== undefined ? rcvbuf1 - rcvbuf0 : undefined;
      if (sinkUdpRcvbufErrors && outs.some((o) => !o.exact) && sinkPackets === FANOUT * g.sent) {
        failures.push(
          `mcr delivered every packet to the sink interface, but the receivers' sockets overflowed (${sinkUdpRcvbufErrors} UDP RcvbufErrors in the sink namespace): the machine was too busy for the receivers`,
        );
      }
      const exact = failures.length === 0;
      if (workers1.dataplane.pid !== dpPid || workers1.dataplane.restarts !== workers.dataplane.restarts) {
        failures.push(
          `the data plane restarted during the soak (pid ${dpPid} -> ${workers1.dataplane.pid}, restarts ${workers.dataplane.restarts} -> ${workers1.dataplane.restarts})`,
        );
      }
      if (ctl.errors > 0) failures.push(`${ctl.errors} control operations failed (${ctl.errorSamples.join('; ')})`);

      const ruleG = { ...DEFAULT_GROWTH_RULE, warmupS: warmupFor(durationS) };
      const growth = { mcrd: growthCheck(mem.mcrd, ruleG, 'anonKiB'), dataplane: growthCheck(mem.dataplane, ruleG, 'anonKiB') };
      const rssGrowth = { mcrd: growthCheck(mem.mcrd, ruleG), dataplane: growthCheck(mem.dataplane, ruleG) };
      for (const [name, v] of Object.entries(growth)) {
        if (v.growing) {
          failures.push(
            `${name} memory keeps growing: RssAnon rose ${v.tailGrowthMiB.toFixed(2)} MiB over the last ${v.tailWindowS} s (${v.tailSlopeKiBPerS.toFixed(2)} KiB/s, least squares; ${v.growthMiB.toFixed(2)} MiB over the ${v.windowS} s after the ${v.warmupS} s warm-up), more than the ${v.thresholdMiB.toFixed(2)} MiB allowed (max(${ruleG.minMiB} MiB, ${ruleG.fraction * 100}% of ${v.warmMiB.toFixed(1)} MiB))`,
          );
        }
      }
      // per second: where in time mcr's ring overflowed, if it did
      let dropSeconds = 0;
      let worstDropSecond: SoakSummary['worstDropSecond'];
      for (const [i, point] of timeline.entries()) {
        const previous = timeline[i - 1];
        if (!previous) continue;
        const d = point.ringDrops - previous.ringDrops;
        if (d > 0) dropSeconds++;
        if (d > (worstDropSecond?.ringDrops ?? 0)) worstDropSecond = { t: point.t, ringDrops: d };
      }
      summary = {
        durationS,
        ratePps: rate,
        rateSource,
        maxLosslessPps: maxLossless,
        size: SIZE,
        fanout: FANOUT,
        count,
        sent: g.sent,
        genElapsedS: g.elapsedS,
        offered,
        offeredPps: Math.round(offered / g.elapsedS),
        sinkPackets,
        outputs: outs,
        mcr,
        sinkUdpRcvbufErrors,
        control: ctl,
        timeline,
        dropSeconds,
        worstDropSecond,
        memory: {
          pids: { mcrd: mcrdPid, dataplane: dpPid },
          dataplaneRestarts: workers1.dataplane.restarts - workers.dataplane.restarts,
          intervalS: 1,
          mcrd: mem.mcrd,
          dataplane: mem.dataplane,
          growth,
          rssGrowth,
          rule: ruleG,
        },
        exact,
        failures,
      };
      progress.item(
        `sent ${g.sent} in ${g.elapsedS.toFixed(1)} s; per output: ${outs.map((o) => `${o.group}:${o.port} ${o.unique} distinct, ${o.duplicates} dup`).join('; ')}: ${exact ? 'exact' : 'NOT EXACT'}`,
      );
      progress.log(
        `control: ${ctl.ops} operations (${ctl.opsPerS}/s), ${ctl.errors} errors; p50/p99 ms add ${ctl.latencyMs.add.p50}/${ctl.latencyMs.add.p99}, remove ${ctl.latencyMs.remove.p50}/${ctl.latencyMs.remove.p99}, stats ${ctl.latencyMs.stats.p50}/${ctl.latencyMs.stats.p99}`,
      );
      if (mcr.ringDrops > 0)
        progress.log(
          `ring drops in ${dropSeconds} of ${timeline.length - 1} seconds${worstDropSecond ? `, worst ${worstDropSecond.ringDrops} in the second before t=${worstDropSecond.t} s` : ''}`,
        );
      for (const [name, v] of Object.entries(growth)) {
        const rv = rssGrowth[name as keyof typeof rssGrowth];
        progress.log(
          `${name} VmRSS ${rv.startMiB} -> ${rv.endMiB} MiB (peak ${rv.peakMiB}, ${rv.slopeKiBPerS} KiB/s after warm-up); RssAnon ${v.startMiB} -> ${v.endMiB} MiB, after ${v.warmupS} s: ${v.slopeKiBPerS} KiB/s = ${v.growthMiB} MiB over ${v.windowS} s, second half ${v.tailGrowthMiB} MiB over ${v.tailWindowS} s (limit ${v.thresholdMiB} MiB): ${v.growing ? 'GROWING' : 'flat'}`,
        );
      }
    } finally {
      for (const r of receivers) await r.stop('SIGKILL', 1000);
      if (!stopped) await inst.stop();
    }
  } finally {
    await topo.destroy();
  }
  if (!summary) throw new Error('soak: no summary');
  notes.push(
    `One 1400-byte stream (239.1.1.1:5001) fanned out by one rule to ${outputs0(plan.outPort)}, one \`mcrgen recv\` per output in the sink namespace, on the generator's CPU (distinct ports, so each receiver reads only its own output). The control client (one open connection, the protocol of docs/control-protocol.md) runs add, remove, stats in turn, ${controlRate} operations a second in all on a fixed schedule${controlRate === SOAK_CONTROL_OPS_PER_S ? '' : ' (--control-rate)'}; the added rule (16 names in rotation, 239.1.2.x -> 239.2.3.x) is removed by the next operation.`,
    "Exact means: mcrgen sent every packet, r0 received all of them, each receiver counted every sequence number once (no loss, no duplicate, no corruption), s0 received exactly 2x, and mcr's counters, per-output counters and FINAL lines say the same.",
    "Memory: VmRSS and RssAnon of mcrd and of its data-plane process (its forked child, pid from `workers`) from /proc/PID/status every second. Growth rule, on RssAnon (private anonymous memory: the JS heap, native allocations): least-squares lines through the samples after the warm-up (20% of the run, at most 60 s) and through the second half of that window; the process fails when the second half's line rises by more than max(2 MiB, 5% of its RssAnon at the end of the warm-up) (growing into a working set and then staying flat is not a leak). VmRSS also counts the shared counter file (/dev/shm, 14 MB), whose pages become resident one by one as rule churn walks the recycled counter slots: bounded, so it is shown but not judged.",
  );
  progress.finish(summary.failures.length ? `FAILED: ${summary.failures.length} check(s)` : 'exact delivery, memory flat');
  return { trials, summary, notes, durationS: (Date.now() - t0) / 1000, failures: summary.failures };
}

function outputs0(port: number): string {
  return Array.from({ length: FANOUT }, (_, o) => `${outputGroup(o)}:${port + o}`).join(' and ');
}
