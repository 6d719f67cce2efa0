// SPDX-License-Identifier: MIT
// Scenario 2, the seed report's 3-hop pipeline: gen -> mcr1 -> mcr2 -> mcr3 -> sink, 1 worker per
// hop, 1400-byte payloads, target 1M pps, 10M packets (--quick: 1M). Per hop: ingress and egress
// pps, buf_exhaust and loss from mcr's counters, cross-checked with kernel counters, next to the
// seed's own figures. Then a short lossless search of the whole pipeline.
import { Progress } from '../progress';
import { sleep } from '../proc';
import { mcrRelay, parseFinal, startMcrd, type McrInstance } from '../relays/mcr';
import type { Relay, RelayCounters, RelayInstance, RelayPlan } from '../relays/relay';
import { relayInfo } from '../relays/registry';
import { searchLossless } from '../search';
import { Topology } from '../topology';
import { generate, quiesce, runTrial, type TrafficPath, type TrialContext } from '../traffic';
import type { PipelineSeedRun, ScenarioResult, SearchSummary, Trial } from '../types';
import { formatCompact } from '../../src/cli/table';
import { genMaxFor, searchConfig, type BenchContext } from './common';

export const SEED = {
  historical: { ingressPps: 490_000, egressPps: 307_000, generatorPps: 733_000, bufExhaustPct: 37 },
  regressed: { ingressPps: 123_000, egressPps: 83_000, generatorPps: 779_000, bufExhaustPct: 32 },
  caveat:
    "The seed's figures were measured on other hardware (Fedora, kernel 6.17, unknown CPU), with another generator and the old relay; this run is a 2-vCPU VM where the generator and all three relays share 2 cores. Compare shapes and ratios, not absolute pps.",
};

export interface HopResult {
  hop: string;
  /** kernel: rx_packets delta of the hop's input interface */
  kernelIn: number;
  /** kernel: rx_packets delta of the next host's interface (what the hop put on the wire) */
  kernelOut: number;
  recv: number;
  egrSent: number;
  bufExhaust: number;
  ringDrops: number;
  /** packets that reached the hop's interface but did not leave it */
  loss: number;
  lossPct: number;
  ingressPps: number;
  egressPps: number;
  countersAgree: boolean;
  final?: string;
}

// gen -> h1 -> h2 -> h3 -> sink: link i joins `from`'s downstream interface `down`, 10.0.(i+1).1,
// to `to`'s upstream interface `up`, 10.0.(i+1).2
export const LINKS = [
  { from: 'gen', down: 'g0', to: 'h1', up: 'a0' },
  { from: 'h1', down: 'a1', to: 'h2', up: 'b0' },
  { from: 'h2', down: 'b1', to: 'h3', up: 'c0' },
  { from: 'h3', down: 'c1', to: 'sink', up: 's0' },
];

export async function threeHop(tag = 'pl'): Promise<Topology> {
  const t = new Topology(tag);
  for (const ns of ['gen', ...LINKS.map((l) => l.to)]) await t.addNamespace(ns);
  for (const [i, l] of LINKS.entries()) {
    await t.link(l.from, l.down, `10.0.${i + 1}.1/24`, l.to, l.up, `10.0.${i + 1}.2/24`);
  }
  return t;
}

/** Hop i (mcr(i+1)) receives on link i and sends on link i+1. */
export function hopPlan(topo: Topology, dir: string, i: number): RelayPlan {
  const inLink = LINKS[i];
  const outLink = LINKS[i + 1];
  if (!inLink || !outLink) throw new Error(`the pipeline has no hop ${i} (hops 0 to ${LINKS.length - 2})`);
  return {
    topo,
    ns: inLink.to,
    inIf: inLink.up,
    inAddr: `10.0.${i + 1}.2`,
    outIf: outLink.down,
    outAddr: `10.0.${i + 2}.1`,
    streams: 1,
    fanout: 1,
    port: 5001,
    outPort: 5001,
    source: '10.0.1.1',
    workers: 1,
    dir,
    sameGroupOut: true,
    // three hops and the generator on 2 CPUs: the hops are left to the scheduler (as in the seed)
    cpus: undefined,
  };
}

/** The three hops as one relay for runTrial: rx of the first hop, tx of the last. */
export function pipelineInstance(hops: McrInstance[]): RelayInstance {
  return {
    async counters(): Promise<RelayCounters> {
      const c = await Promise.all(hops.map((h) => h.counters()));
      const first = c[0];
      const last = c.at(-1);
      if (!first || !last) throw new Error('the pipeline has no hop to read counters from');
      const sum = (f: (x: RelayCounters) => number | undefined): number => c.reduce((a, x) => a + (f(x) ?? 0), 0);
      return {
        rx: first.rx,
        tx: last.tx,
        ringDrops: first.ringDrops,
        bufExhaust: sum((x) => x.bufExhaust),
        txErrors: sum((x) => x.txErrors),
      };
    },
    async stop() {
      return {};
    },
  };
}

export async function pipeline(ctx: BenchContext): Promise<ScenarioResult<'pipeline'>> {
  const t0 = Date.now();
  const count = ctx.quick ? 1_000_000 : 10_000_000;
  const target = 1_000_000;
  const trials: Trial[] = [];
  const notes: string[] = [];
  const progress = new Progress('pipeline', 3);
  const topo = await threeHop();
  const path: TrafficPath = { topo, genNs: 'gen', genIf: 'g0', source: '10.0.1.1', inNs: 'h1', inIf: 'a0', sinkNs: 'sink', sinkIf: 's0' };
  const hops: McrInstance[] = [];
  let seedRun: PipelineSeedRun | undefined;
  let search: SearchSummary | undefined;
  try {
    const gmax = await genMaxFor(ctx, path, 1400, progress);
    progress.status('starting mcr1, mcr2, mcr3', 0.1);
    for (let i = 0; i < 3; i++) hops.push(await startMcrd(hopPlan(topo, ctx.dir, i), `mcrd hop${i + 1}`));
    const relay: Relay = { ...mcrRelay(1), id: 'mcr-3hop', label: relayInfo('mcr-3hop').label };
    const tctx: TrialContext = { path, relay, inst: pipelineInstance(hops), plan: hopPlan(topo, ctx.dir, 0), size: 1400 };
    // warm-up: the whole chain forwards
    const warm = await runTrial(tctx, 10_000, 1000);
    if (warm.deliveredRaw !== warm.offered)
      throw new Error(`the 3-hop pipeline did not forward the warm-up (offered ${warm.offered}, delivered ${warm.deliveredRaw})`);

    // The seed's run: 10M packets at a 1M pps target.
    progress.status(`seed run: ${formatCompact(count)} packets at a ${formatCompact(target)} pps target`, 0.3);
    const before = await Promise.all(hops.map((h) => h.counters()));
    // kernel counters of each link's receiving end: hop i's input is link i, its output link i+1
    const k0 = LINKS.map((l) => topo.counter(l.to, l.up));
    const gen = await generate(path, { streams: 1, rate: target, count, size: 1400, port: 5001 });
    await quiesce(path, 200, 5000);
    await sleep(400); // ring drops are folded into mcr's counters every 250 ms
    const after = await Promise.all(hops.map((h) => h.counters()));
    const k1 = LINKS.map((l) => topo.counter(l.to, l.up));
    const elapsed = gen.elapsedS;
    const hopResults: HopResult[] = hops.map((_, i) => {
      // before and after are hops.map(...), k0 and k1 LINKS.map(...), and hop i lies between links i and i+1
      const d = (f: (c: RelayCounters) => number | undefined): number => (f(after[i]!) ?? 0) - (f(before[i]!) ?? 0);
      const kernelIn = k1[i]!.rxPackets - k0[i]!.rxPackets;
      const kernelOut = k1[i + 1]!.rxPackets - k0[i + 1]!.rxPackets;
      const recv = d((c) => c.rx);
      const egrSent = d((c) => c.tx);
      const ringDrops = d((c) => c.ringDrops);
      return {
        hop: `mcr${i + 1}`,
        kernelIn,
        kernelOut,
        recv,
        egrSent,
        bufExhaust: d((c) => c.bufExhaust),
        ringDrops,
        loss: kernelIn - kernelOut,
        lossPct: kernelIn > 0 ? (100 * (kernelIn - kernelOut)) / kernelIn : 0,
        ingressPps: recv / elapsed,
        egressPps: egrSent / elapsed,
        countersAgree: recv + ringDrops === kernelIn && egrSent === kernelOut,
      };
    });
    const lastHop = hopResults.at(-1);
    if (!lastHop) throw new Error('the pipeline ran no hop');
    const delivered = lastHop.kernelOut;
    seedRun = {
      count,
      targetPps: target,
      sent: gen.sent,
      generatorPps: gen.sent / elapsed,
      elapsedS: elapsed,
      delivered,
      endToEndLoss: gen.sent - delivered,
      endToEndLossPct: (100 * (gen.sent - delivered)) / gen.sent,
      hops: hopResults,
    };
    progress.item(
      `seed run: generator ${formatCompact(gen.sent / elapsed)} pps for ${elapsed.toFixed(1)} s; ` +
        hopResults.map((h) => `${h.hop} in ${formatCompact(h.ingressPps)} out ${formatCompact(h.egressPps)}`).join(', ') +
        `; end-to-end loss ${gen.sent - delivered} (${((100 * (gen.sent - delivered)) / gen.sent).toFixed(3)}%)`,
    );

    // The highest rate the whole pipeline carries without loss.
    const outcome = await searchLossless(
      async (rate, n) => {
        const t = await runTrial(tctx, rate, n);
        await quiesce(path, 100, 1000);
        return t;
      },
      searchConfig(ctx, gmax),
      (t, n) =>
        progress.status(
          `3-hop search: trial ${n} @ ${formatCompact(t.offeredPps)} pps: ${t.lossless ? 'lossless' : `loss ${t.lossPct.toFixed(2)}%`}`,
          n / (ctx.maxTrials + 1),
        ),
    );
    trials.push(...outcome.trials);
    search = {
      relay: 'mcr-3hop',
      label: relayInfo('mcr-3hop').label,
      size: 1400,
      streams: 1,
      fanout: 1,
      workers: 1,
      maxLosslessPps: outcome.best?.offeredPps ?? 0,
      outputPps: outcome.best?.offeredPps ?? 0,
      generatorLimited: outcome.generatorLimited,
      bracket: outcome.bracket,
      trials: outcome.trials.length,
      countersAgree: outcome.trials.every((t) => t.countersAgree !== false),
    };
    progress.item(`3-hop max lossless ${formatCompact(search.maxLosslessPps)} pps${search.generatorLimited ? ' (generator-limited)' : ''}`);
  } finally {
    progress.status('stopping the hops', 0.5);
    const finals: string[] = [];
    for (const h of hops) {
      const s = await h.stop().catch(() => ({ text: '' }));
      finals.push(s.text ?? '');
    }
    await topo.destroy();
    if (seedRun) {
      for (const [i, h] of seedRun.hops.entries()) h.final = finals[i];
      // FINAL lines are cumulative over the mcrd's life (warm-up and search included)
      seedRun.finalLines = finals.map((f) => ({ text: f, parsed: parseFinal(f) }));
    }
  }
  progress.finish(search ? `3-hop max lossless ${formatCompact(search.maxLosslessPps)} pps` : 'done');
  notes.push(
    "The three mcrd hops are not pinned (the scheduler spreads them over both CPUs, as in the seed's test); the generator is pinned like everywhere else unless --no-pin.",
  );
  notes.push(
    `seed run: ${count.toLocaleString('en-US')} packets at a ${target.toLocaleString('en-US')} pps target; per-hop rates = packets / generator elapsed time, as the seed computed them`,
  );
  return { trials, summary: { seed: SEED, seedRun, search }, notes, durationS: (Date.now() - t0) / 1000 };
}
