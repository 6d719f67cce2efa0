// SPDX-License-Identifier: MIT
// Scenario 6, control plane under load: while mcr forwards 1400-byte packets at 90% of its
// maximum lossless rate, time rule add/remove and stats through the CLI (wall time of a whole
// `mcrctl` process) and through the protocol (one request's round trip on an open connection),
// and check that the forwarded stream lost nothing meanwhile. The protocol timings are repeated
// with no traffic, for comparison.
import type { RuleSpec } from '../../src/config/types';
import { ControlClient } from '../../src/control/client';
import { MCRCTL } from '../paths';
import { Progress } from '../progress';
import { sh, sleep } from '../proc';
import { mcrRelay, type McrInstance } from '../relays/mcr';
import { ipPlus } from '../relays/relay';
import { ONE_HOP_PATH, quiesce, startGenerator } from '../traffic';
import { oneHop } from '../topology';
import type { ControlSummary, ScenarioResult, Trial } from '../types';
import { formatCompact } from '../../src/cli/table';
import { genMaxFor, onePlan, searchConfig, searchRelay, startWarm, type BenchContext } from './common';

export interface Timing {
  n: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export function timing(ms: number[]): Timing {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? 0;
  const r = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    n: s.length,
    p50: r(q(0.5)),
    p99: r(q(0.99)),
    max: r(s[s.length - 1] ?? 0),
    mean: r(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)),
  };
}

/** One timing per control operation measured (stored in the results as Timings). */
type OpTimings = { add: Timing; remove: Timing; stats: Timing };

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function ruleSpec(k: number): RuleSpec & { name: string } {
  return {
    name: `cp${k}`,
    input: { interface: 'r0', group: ipPlus('239.1.2.1', k), port: 5001 },
    outputs: [{ group: ipPlus('239.2.3.1', k), port: 5002, interface: 'r1' }],
  };
}

async function protocolOps(socket: string, n: number, onStep: (f: number) => void): Promise<OpTimings> {
  const client = new ControlClient(socket);
  await client.connect();
  const add: number[] = [];
  const remove: number[] = [];
  const stats: number[] = [];
  try {
    for (let k = 0; k < n; k++) {
      add.push(await timed(() => client.request('add', ruleSpec(k))));
      remove.push(await timed(() => client.request('remove', { name: `cp${k}` })));
      onStep(k / (2 * n));
    }
    for (let k = 0; k < n; k++) {
      stats.push(await timed(() => client.request('stats')));
      onStep(0.5 + k / (2 * n));
    }
  } finally {
    client.close();
  }
  return { add: timing(add), remove: timing(remove), stats: timing(stats) };
}

async function cliOps(socket: string, n: number, onStep: (f: number) => void): Promise<OpTimings> {
  const ctl = (args: string[]): Promise<unknown> => sh('node', [MCRCTL, '--socket', socket, ...args]);
  const add: number[] = [];
  const remove: number[] = [];
  const stats: number[] = [];
  for (let k = 0; k < n; k++) {
    const r = ruleSpec(1000 + k);
    const input = r.input;
    const out = r.outputs[0]?.group;
    add.push(
      await timed(() =>
        ctl([
          'add',
          '--input-interface',
          'r0',
          '--input-group',
          input.group,
          '--input-port',
          '5001',
          '--outputs',
          `${out}:5002:r1`,
          '--name',
          r.name,
        ]),
      ),
    );
    remove.push(await timed(() => ctl(['remove', '--name', r.name])));
    onStep(k / (2 * n));
  }
  for (let k = 0; k < n; k++) {
    stats.push(await timed(() => ctl(['--json', 'stats'])));
    onStep(0.5 + k / (2 * n));
  }
  return { add: timing(add), remove: timing(remove), stats: timing(stats) };
}

export async function control(ctx: BenchContext): Promise<ScenarioResult<'control'>> {
  const t0 = Date.now();
  const n = ctx.quick ? 10 : 50;
  const trials: Trial[] = [];
  const notes: string[] = [];
  const topo = await oneHop('cp');
  const path = ONE_HOP_PATH(topo);
  const plan = onePlan(topo, ctx.dir);
  const relay = mcrRelay(1);
  const progress = new Progress('control', 4);
  let summary: ControlSummary = {};
  try {
    const known = (ctx.results.throughput?.summary?.searches ?? []).find(
      (s) => s.relay === 'mcr-1w' && s.size === 1400 && !s.skipped && s.maxLosslessPps > 0,
    );
    let max = known?.maxLosslessPps ?? 0;
    let maxSource = 'throughput scenario of this run';
    if (!max) {
      const cfg = searchConfig(ctx, await genMaxFor(ctx, path, 1400, progress), {
        trialSeconds: Math.min(ctx.trialSeconds, 0.5),
        resolution: 0.1,
        maxTrials: 6,
      });
      const s = await searchRelay(ctx, relay, plan, path, 1400, cfg, progress, trials, 'max');
      max = s.maxLosslessPps;
      maxSource = 'short search in this scenario (10% resolution)';
      if (!max) throw new Error('mcr has no lossless rate to load it at');
    } else {
      progress.item();
    }
    const rate = Math.round(max * 0.9);
    const inst = (await startWarm(relay, plan, path, 1400)) as McrInstance;
    try {
      progress.status(`idle: ${n} protocol add/remove/stats`, 0);
      const idle = await protocolOps(inst.socket, n, (f) => progress.status(`idle: ${n} protocol add/remove/stats`, f));
      progress.item();

      // forwarding at 90% while the control plane works
      const relay0 = await inst.counters();
      const c0 = { input: topo.counter('relay', 'r0'), sink: topo.counter('sink', 's0') };
      const gen = startGenerator(path, { streams: 1, rate, count: 0, size: 1400, port: 5001 });
      await sleep(300);
      const label = `under load (${formatCompact(rate)} pps)`;
      // Per phase, what mcr dropped (ring drops + full send buffers) and what reached r0; the
      // total loss below is from kernel counters and exact.
      const at = async (): Promise<{ in: number; dropped: number }> => {
        const c = await inst.counters();
        return { in: topo.counter('relay', 'r0').rxPackets, dropped: c.bufExhaust ?? 0 };
      };
      const p0 = await at();
      const proto = await protocolOps(inst.socket, n, (f) => progress.status(`${label}: protocol`, f));
      await sleep(300); // ring drops are folded into the counters every 250 ms
      const p1 = await at();
      progress.item(`${label}: protocol add p50 ${proto.add.p50} ms, remove p50 ${proto.remove.p50} ms, stats p50 ${proto.stats.p50} ms`);
      const cli = await cliOps(inst.socket, n, (f) => progress.status(`${label}: mcrctl`, f));
      await sleep(300);
      const p2 = await at();
      progress.item(`${label}: mcrctl add p50 ${cli.add.p50} ms, remove p50 ${cli.remove.p50} ms, stats p50 ${cli.stats.p50} ms`);
      await gen.proc.stop('SIGTERM', 5000);
      const g = await gen.result;
      await quiesce(path);
      await sleep(300);
      const relay1 = await inst.counters();
      const offered = topo.counter('relay', 'r0').rxPackets - c0.input.rxPackets;
      const delivered = topo.counter('sink', 's0').rxPackets - c0.sink.rxPackets;
      const mcrRx = relay1.rx - relay0.rx;
      const mcrTx = relay1.tx - relay0.tx;
      const forwarding = {
        ratePps: rate,
        maxLosslessPps: max,
        maxSource,
        sent: g.sent,
        offered,
        delivered,
        loss: g.sent - delivered,
        lossPct: g.sent ? (100 * (g.sent - delivered)) / g.sent : 0,
        durationS: g.elapsedS,
        offeredPps: offered / g.elapsedS,
        mcrRx,
        mcrTx,
        ringDrops: (relay1.ringDrops ?? 0) - (relay0.ringDrops ?? 0),
        bufExhaust: (relay1.bufExhaust ?? 0) - (relay0.bufExhaust ?? 0),
        countersAgree: mcrRx + ((relay1.ringDrops ?? 0) - (relay0.ringDrops ?? 0)) === offered && mcrTx === delivered,
        // per phase: packets into r0 and packets mcr dropped (its bufExhaust: ring drops + full send buffers)
        protocolPhase: { offered: p1.in - p0.in, mcrDropped: p1.dropped - p0.dropped },
        cliPhase: { offered: p2.in - p1.in, mcrDropped: p2.dropped - p1.dropped },
      };
      summary = { n, idle: { protocol: idle }, load: { protocol: proto, cli }, forwarding };
      progress.log(
        `forwarding during the control work: sent ${g.sent}, delivered ${delivered}, loss ${forwarding.loss} (${forwarding.lossPct.toFixed(4)}%)`,
      );
    } finally {
      await inst.stop();
    }
  } finally {
    await topo.destroy();
  }
  notes.push(
    `${n} add + ${n} remove + ${n} stats through the protocol (one open connection: request round trip) and through mcrctl (wall time of a whole \`node mcrctl.js\` process, mostly Node start-up). Added rules are for other groups (239.1.2.x) with outputs on the same interface, removed right after. Each mcrctl process is a Node start-up (~0.2-0.4 s of CPU) on a 2-core machine that also runs the generator and the relay, so loss during the CLI phase says more about CPU starvation than about the control plane; the protocol phase is the control plane alone.`,
  );
  progress.finish('done');
  return { trials, summary, notes, durationS: (Date.now() - t0) / 1000 };
}
