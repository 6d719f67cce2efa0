// SPDX-License-Identifier: MIT
// Scenario 1, throughput (1 hop): the maximum lossless rate of mcr (1 and 2 workers) and every
// peer, for 64, 512, 1400 and 8000-byte payloads (jumbo MTU for 8000), each search run in the
// same topology right after the generator's own maximum was measured.
import { Progress } from '../progress';
import { PEERS, THROUGHPUT_RELAYS } from '../relays/registry';
import { ONE_HOP_PATH } from '../traffic';
import { oneHop } from '../topology';
import type { ScenarioResult, SearchSummary, Trial } from '../types';
import { genMaxFor, onePlan, pickRelays, searchConfig, searchRelay, type BenchContext } from './common';

export const THROUGHPUT_SIZES = [64, 512, 1400, 8000];

export interface Ratio {
  value: number | null;
  /** mcr was generator-limited: the true ratio is at least this */
  lowerBound: boolean;
}

export function ratio(mcr: SearchSummary | undefined, peer: SearchSummary | undefined): Ratio | undefined {
  if (!mcr || !peer || mcr.skipped || peer.skipped) return undefined;
  if (peer.maxLosslessPps <= 0) return { value: null, lowerBound: true };
  return { value: mcr.maxLosslessPps / peer.maxLosslessPps, lowerBound: mcr.generatorLimited && !peer.generatorLimited };
}

export async function throughput(ctx: BenchContext): Promise<ScenarioResult<'throughput'>> {
  const t0 = Date.now();
  const sizes = ctx.sizes ?? THROUGHPUT_SIZES;
  const trials: Trial[] = [];
  const searches: SearchSummary[] = [];
  const notes: string[] = [];
  const topo = await oneHop('tp');
  const path = ONE_HOP_PATH(topo);
  const { run, skipped } = pickRelays(ctx, THROUGHPUT_RELAYS);
  const progress = new Progress('throughput', sizes.length * (run.length + 0.3));
  try {
    for (const size of sizes) {
      const mtu = size + 28 > 1500 ? 9000 : 1500;
      await topo.setMtu(mtu);
      // measured again here, whatever an earlier scenario measured: the MTU may differ
      delete ctx.genMax[String(size)];
      const gmax = await genMaxFor(ctx, path, size, progress);
      for (const relay of run) {
        const workers = relay.id === 'mcr-2w' ? 2 : 1;
        const plan = onePlan(topo, ctx.dir, { workers });
        const s = await searchRelay(ctx, relay, plan, path, size, searchConfig(ctx, gmax), progress, trials, `${size} B`);
        searches.push(s);
      }
    }
  } finally {
    await topo.destroy();
  }
  for (const [id, why] of Object.entries(skipped)) notes.push(`${id} skipped: ${why}`);
  const ratios: Record<string, Record<string, Ratio>> = {};
  for (const size of sizes) {
    const get = (id: string): SearchSummary | undefined => searches.find((s) => s.size === size && s.relay === id);
    for (const m of ['mcr-1w', 'mcr-2w']) {
      for (const peer of PEERS) {
        const r = ratio(get(m), get(peer));
        if (r) {
          const bySize = ratios[`${size}`] ?? {};
          bySize[`${m}/${peer}`] = r;
          ratios[`${size}`] = bySize;
        }
      }
    }
  }
  const disagree = trials.filter((t) => t.countersAgree === false);
  if (disagree.length > 0)
    notes.push(`${disagree.length} trial(s) where a relay's own counters disagreed with the kernel's (see trials[].mismatch)`);
  progress.finish(`${searches.length} searches, ${trials.length} trials`);
  return {
    trials,
    summary: { searches, ratios, generatorMaxPps: Object.fromEntries(sizes.map((s) => [String(s), ctx.genMax[String(s)]])), skipped },
    notes,
    durationS: (Date.now() - t0) / 1000,
  };
}
