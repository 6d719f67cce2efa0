// SPDX-License-Identifier: MIT
// Scenario 3, fan-out: one 1400-byte input stream relayed to 1, 10 and 50 output groups on the
// output interface. Maximum lossless input rate (delivered = sink rx / N) and the output pps it
// means, for mcr and the C relay (the only peer that fans out natively), plus a fixed 10k pps
// 1:50 trial for the goal "1:50 without loss at 10k pps".
import { Progress } from '../progress';
import { quiesce, runTrial, ONE_HOP_PATH } from '../traffic';
import { oneHop } from '../topology';
import type { ScenarioResult, SearchSummary, Trial } from '../types';
import { formatCompact } from '../../src/cli/table';
import { genMaxFor, onePlan, pickRelays, searchConfig, searchRelay, startWarm, type BenchContext } from './common';

export const FANOUTS = [1, 10, 50];
const RELAYS = ['mcr-1w', 'c-relay'];

export async function fanout(ctx: BenchContext): Promise<ScenarioResult<'fanout'>> {
  const t0 = Date.now();
  const trials: Trial[] = [];
  const searches: SearchSummary[] = [];
  const notes: string[] = [];
  const skipped: Record<string, string> = {};
  const goal: Trial[] = [];
  const topo = await oneHop('fo');
  const path = ONE_HOP_PATH(topo);
  const cases = FANOUTS.map((fanout) => {
    const plan = onePlan(topo, ctx.dir, { fanout });
    return { fanout, plan, pick: pickRelays(ctx, RELAYS, plan) };
  });
  const progress = new Progress('fanout', cases.reduce((a, c) => a + c.pick.run.length, 0) + 1);
  try {
    const gmax = await genMaxFor(ctx, path, 1400, progress);
    for (const { fanout, plan, pick } of cases) {
      for (const [id, why] of Object.entries(pick.skipped)) skipped[`${id} 1:${fanout}`] = why;
      for (const relay of pick.run) {
        searches.push(await searchRelay(ctx, relay, plan, path, 1400, searchConfig(ctx, gmax), progress, trials, `1:${fanout}`));
      }
    }
    // the goal: 1:50 at 10k pps input, without loss, for a longer trial
    const plan50 = cases.find((c) => c.fanout === 50)?.plan;
    if (!plan50) throw new Error('fanout: FANOUTS has no 1:50 case, which the goal trial needs');
    for (const relay of pickRelays(ctx, ['mcr-1w', 'c-relay'], plan50).run) {
      progress.status(`1:50 at 10k pps: ${relay.id}`, 0.2);
      const inst = await startWarm(relay, plan50, path, 1400);
      try {
        const t = await runTrial(
          { path, relay, inst, plan: plan50, size: 1400 },
          10_000,
          Math.round(10_000 * Math.max(2, ctx.trialSeconds * 2.5)),
        );
        await quiesce(path);
        goal.push(t);
        trials.push(t);
        progress.log(
          `1:50 at 10k pps ${relay.id}: ${t.lossless ? 'no loss' : `LOSS ${t.loss} (${t.lossPct.toFixed(3)}%)`}, ${formatCompact(t.deliveredRaw / t.genElapsedS)} output pps`,
        );
      } finally {
        await inst.stop();
      }
    }
    progress.item();
  } finally {
    await topo.destroy();
  }
  for (const [k, why] of Object.entries(skipped)) notes.push(`${k} skipped: ${why}`);
  notes.push(
    "Only mcr and the C relay run here: kernel routing keeps the input group (it cannot send one stream to N groups), socat sends to one destination, and the naive Node relay's 1:1 ceiling is already in the throughput scenario.",
  );
  notes.push(
    'Delivered = rx_packets delta of the sink interface / N (every output group leaves through the same veth); lossless means exactly N x offered.',
  );
  const ratios: Record<string, number | null> = {};
  for (const n of FANOUTS) {
    const m = searches.find((s) => s.fanout === n && s.relay === 'mcr-1w');
    const c = searches.find((s) => s.fanout === n && s.relay === 'c-relay');
    if (m && c && !m.skipped && !c.skipped) ratios[`1:${n}`] = c.maxLosslessPps > 0 ? m.maxLosslessPps / c.maxLosslessPps : null;
  }
  progress.finish(searches.map((s) => `${s.relay} 1:${s.fanout} ${formatCompact(s.maxLosslessPps)}`).join(', '));
  return { trials, summary: { searches, ratiosVsCRelay: ratios, goal10k: goal, skipped }, notes, durationS: (Date.now() - t0) / 1000 };
}
