// SPDX-License-Identifier: MIT
// Scenario 4, many streams: 1, 10 and 100 input groups (239.1.1.1 upwards) at equal rates, one
// mcrgen per group started together; maximum lossless aggregate rate for mcr (one rule per group),
// the C relay (one socket joined to every group) and kernel routing (one (S,G) route per group).
import { Progress } from '../progress';
import { ONE_HOP_PATH } from '../traffic';
import { oneHop } from '../topology';
import type { ScenarioResult, SearchSummary, Trial } from '../types';
import { formatCompact } from '../../src/cli/table';
import { genMaxFor, onePlan, pickRelays, searchConfig, searchRelay, type BenchContext } from './common';

export const STREAM_COUNTS = [1, 10, 100];
const RELAYS = ['mcr-1w', 'c-relay', 'kernel'];

export async function streams(ctx: BenchContext): Promise<ScenarioResult<'streams'>> {
  const t0 = Date.now();
  const trials: Trial[] = [];
  const searches: SearchSummary[] = [];
  const notes: string[] = [];
  const skipped: Record<string, string> = {};
  const topo = await oneHop('ms');
  const path = ONE_HOP_PATH(topo);
  const cases = STREAM_COUNTS.map((streams) => {
    const plan = onePlan(topo, ctx.dir, { streams });
    return { streams, plan, pick: pickRelays(ctx, RELAYS, plan) };
  });
  const progress = new Progress(
    'streams',
    cases.reduce((a, c) => a + c.pick.run.length, 0),
  );
  try {
    const gmax = await genMaxFor(ctx, path, 1400, progress);
    for (const { streams, plan, pick } of cases) {
      for (const [id, why] of Object.entries(pick.skipped)) skipped[`${id} x${streams}`] = why;
      for (const relay of pick.run) {
        // many generator processes at once cannot reach one process's maximum rate
        const cfg = searchConfig(ctx, gmax, { minRate: Math.max(1000, 100 * streams), minCount: 20 * streams });
        searches.push(await searchRelay(ctx, relay, plan, path, 1400, cfg, progress, trials, `${streams} streams`));
      }
    }
  } finally {
    await topo.destroy();
  }
  for (const [k, why] of Object.entries(skipped)) notes.push(`${k} skipped: ${why}`);
  notes.push(
    'socat and the naive Node relay are not run here: they relay one stream (their one-stream figures are in the throughput scenario).',
  );
  notes.push(
    'N generator processes (one per group, equal shares of the rate, forked at once by one shell) send 1400-byte payloads; rates are aggregates. The C relay sends every stream to one output group, mcr sends stream k to its own output group.',
  );
  const ratios: Record<string, number | null> = {};
  for (const n of STREAM_COUNTS) {
    const m = searches.find((s) => s.streams === n && s.relay === 'mcr-1w');
    const c = searches.find((s) => s.streams === n && s.relay === 'c-relay');
    if (m && c && !m.skipped && !c.skipped) ratios[`${n}`] = c.maxLosslessPps > 0 ? m.maxLosslessPps / c.maxLosslessPps : null;
  }
  progress.finish(searches.map((s) => `${s.relay} x${s.streams} ${formatCompact(s.maxLosslessPps)}`).join(', '));
  return { trials, summary: { searches, ratiosVsCRelay: ratios, skipped }, notes, durationS: (Date.now() - t0) / 1000 };
}
