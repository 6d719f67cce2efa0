// SPDX-License-Identifier: MIT
// Scenario 5, latency: one-way latency through each relay at 10%, 50% and 90% of that relay's
// maximum lossless rate (from the throughput scenario of this run, or a short search), from the
// send timestamps mcrgen writes into every payload (--stamp-group 4; sender and receiver share
// CLOCK_MONOTONIC on this machine). A "direct" row (receiver in the relay namespace, no relay)
// measures the generator + kernel + receiver floor, so relay-added = relay - direct.
import { spanDelta, type SpanHistogram } from '../../src/lib/histogram';
import { Progress } from '../progress';
import { inputGroup } from '../relays/relay';
import { generate, ONE_HOP_PATH, quiesce, runTrial, startReceiver, type RecvReport } from '../traffic';
import { oneHop } from '../topology';
import type { LatencyPoint, ScenarioResult, Trial } from '../types';
import { formatCompact } from '../../src/cli/table';
import { genMaxFor, onePlan, pickRelays, searchConfig, searchRelay, startWarm, type BenchContext } from './common';

export const LOADS = [10, 50, 90];
const RELAYS = ['mcr-1w', 'mcr-1w-poll', 'mcr-1w-noholdoff', 'mcr-1w-xdp', 'kernel', 'c-relay', 'node', 'socat'];
const STAMP_GROUP = 4;

/** Small paced bursts (4 packets), but at most 25k generator wake-ups a second. */
function latencyBatch(rate: number): number {
  return Math.min(64, Math.max(STAMP_GROUP, Math.ceil(rate / 25_000)));
}

function point(
  relay: string,
  label: string,
  loadPct: number,
  ratePps: number,
  offeredPps: number,
  sent: number,
  r: RecvReport,
): LatencyPoint {
  const main = r.wire ?? r.app;
  return {
    relay,
    label,
    loadPct,
    ratePps,
    offeredPps,
    received: r.unique,
    sent,
    lost: r.lost,
    p50: main.p50,
    p90: main.p90,
    p99: main.p99,
    p999: main.p999,
    max: main.max,
    app: { p50: r.app.p50, p99: r.app.p99, p999: r.app.p999 },
    tool: r.tool,
  };
}

/** mcr's own span histograms over one point, reduced to what the report shows. */
function spanWindow(after: Record<string, SpanHistogram>, before?: Record<string, SpanHistogram>): NonNullable<LatencyPoint['spans']> {
  return Object.fromEntries(
    Object.entries(after).map(([name, h]) => {
      const d = spanDelta(h, before?.[name]);
      return [name, { samples: d.samples, p50Us: d.p50Us, p99Us: d.p99Us, maxUs: d.maxUs, buckets: d.buckets }];
    }),
  );
}

export async function latency(ctx: BenchContext): Promise<ScenarioResult<'latency'>> {
  const t0 = Date.now();
  const trials: Trial[] = [];
  const points: LatencyPoint[] = [];
  const notes: string[] = [];
  const topo = await oneHop('lat');
  const path = ONE_HOP_PATH(topo);
  const plan = onePlan(topo, ctx.dir);
  const { run, skipped } = pickRelays(ctx, RELAYS, plan);
  const progress = new Progress('latency', run.length * (LOADS.length + 0.5) + LOADS.length);
  const seconds = ctx.quick ? 1 : 3;
  const fromThroughput = ctx.results.throughput?.summary?.searches ?? [];
  const maxRates: Record<string, { pps: number; source: string }> = {};
  try {
    const gmax = await genMaxFor(ctx, path, 1400, progress);
    for (const relay of run) {
      // this relay's maximum lossless rate at 1400 B
      // The busy-polling variant runs at mcr's default rates, so their rows compare point for point.
      const rateOf = relay.id === 'mcr-1w-poll' ? 'mcr-1w' : relay.id;
      const known = fromThroughput.find((s) => s.relay === rateOf && s.size === 1400 && !s.skipped && s.maxLosslessPps > 0);
      const sibling = maxRates[rateOf];
      let maxRate: { pps: number; source: string };
      if (known) {
        maxRate = {
          pps: known.maxLosslessPps,
          source: `throughput scenario of this run${rateOf !== relay.id ? ` (${rateOf})` : ''}`,
        };
      } else if (sibling && rateOf !== relay.id) {
        maxRate = { pps: sibling.pps, source: `${rateOf}'s rate, ${sibling.source}` };
      } else {
        const cfg = searchConfig(ctx, gmax, { trialSeconds: Math.min(ctx.trialSeconds, 0.5), resolution: 0.1, maxTrials: 6 });
        const s = await searchRelay(ctx, relay, plan, path, 1400, cfg, progress, trials, 'max');
        if (s.skipped || s.maxLosslessPps <= 0) {
          skipped[relay.id] = s.skipped ?? 'no lossless rate found';
          continue;
        }
        maxRate = { pps: s.maxLosslessPps, source: 'short search in this scenario (10% resolution)' };
      }
      maxRates[relay.id] = maxRate;
      const max = maxRate.pps;
      let inst: Awaited<ReturnType<typeof startWarm>>;
      try {
        inst = await startWarm(relay, plan, path, 1400);
      } catch (err) {
        skipped[relay.id] = (err as Error).message;
        continue;
      }
      try {
        for (const load of LOADS) {
          const rate = Math.max(100, Math.round((max * load) / 100));
          const count = Math.max(5000, Math.round(rate * seconds));
          progress.status(`${relay.id} at ${load}% (${formatCompact(rate)} pps)`, 0);
          const dest = relay.deliveredGroup(plan, 0, 0);
          const recv = startReceiver(topo, 'sink', { group: dest.group, port: dest.port, iface: 's0', count, timeoutS: 2 });
          await recv.ready;
          const spansBefore = await inst.spans?.();
          const t = await runTrial({ path, relay, inst, plan, size: 1400 }, rate, count, {
            stampGroup: STAMP_GROUP,
            batch: latencyBatch(rate),
          });
          const r = await recv.result;
          const spansAfter = await inst.spans?.();
          trials.push(t);
          const pt = point(relay.id, relay.label, load, rate, t.offeredPps, t.sent, r);
          if (spansAfter) pt.spans = spanWindow(spansAfter, spansBefore);
          points.push(pt);
          progress.item(
            `${relay.id} at ${load}% (${formatCompact(t.offeredPps)} pps): p50 ${pt.p50} us, p99 ${pt.p99} us, p99.9 ${pt.p999} us${r.lost ? `, lost ${r.lost}` : ''}`,
          );
          await quiesce(path);
        }
      } finally {
        await inst.stop();
      }
    }
    // the floor: generator -> veth -> receiver, no relay, at mcr's rates
    const ref = maxRates['mcr-1w'];
    if (ref) {
      for (const load of LOADS) {
        const rate = Math.max(100, Math.round((ref.pps * load) / 100));
        const count = Math.max(5000, Math.round(rate * seconds));
        progress.status(`direct (no relay) at ${formatCompact(rate)} pps`, 0);
        const recv = startReceiver(topo, 'relay', { group: inputGroup(0), port: 5001, iface: 'r0', count, timeoutS: 2 });
        await recv.ready;
        const g = await generate(path, {
          streams: 1,
          rate,
          count,
          size: 1400,
          port: 5001,
          stampGroup: STAMP_GROUP,
          batch: latencyBatch(rate),
        });
        const r = await recv.result;
        const pt = point('direct', 'no relay (generator -> receiver)', load, rate, g.sent / g.elapsedS, g.sent, r);
        points.push(pt);
        progress.item(`direct at ${formatCompact(rate)} pps: p50 ${pt.p50} us, p99 ${pt.p99} us`);
      }
    }
  } finally {
    await topo.destroy();
  }
  for (const [id, why] of Object.entries(skipped)) notes.push(`${id} skipped: ${why}`);
  notes.push(
    `Loads are percentages of each relay's own maximum lossless rate at 1400 B; ${seconds} s per point (at least 5000 packets); mcrgen send --stamp-group ${STAMP_GROUP} --batch max(4, rate/25000) (small paced bursts, at most 25,000 wake-ups a second, so the generator's default 1 ms batches do not queue up in front of the relay) writes the send time (CLOCK_MONOTONIC, just before each sendmmsg of 4 packets) into the payload.`,
  );
  notes.push(
    "Latency is measured by build/bench/lat-recv in the sink namespace from the kernel receive timestamp (SO_TIMESTAMPNS, taken when the frame enters the sink's network stack), so it covers generator socket -> veth -> relay -> veth and excludes the probe's own wake-up and socket queue; the \"app\" columns are the same packets timed when the probe read them (it drains its socket every 1 ms, so they include up to 1 ms of its own). The probe runs on the generator's CPU and wakes once a millisecond, so the relay's CPU is the relay's alone (as on a router) without throttling the generator; mcr's Node control threads keep off it too (they avoid the CPUs named in `cpus`).",
  );
  const added: Record<string, Record<string, number | null>> = {};
  for (const p of points.filter((x) => x.relay === 'mcr-1w')) {
    const d = points.find((x) => x.relay === 'direct' && x.loadPct === p.loadPct);
    if (!d) continue;
    const sub = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : Math.round((a - b) * 10) / 10);
    added[`${p.loadPct}`] = { p50: sub(p.p50, d.p50), p99: sub(p.p99, d.p99), p999: sub(p.p999, d.p999) };
  }
  progress.finish(`${points.length} points`);
  return {
    trials,
    summary: { points, maxRates, mcrAddedUs: added, skipped, stampGroup: STAMP_GROUP },
    notes,
    durationS: (Date.now() - t0) / 1000,
  };
}
