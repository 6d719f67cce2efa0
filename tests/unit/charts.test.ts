// SPDX-License-Identifier: MIT
// The bench charts from a small results set: every chart kind is drawn (Vega-Lite through vega,
// headless), in report order, with its axis titles, the registry's labels and colours, the log
// axes' tick labels, and the markers for skipped and generator-limited results.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeCharts, type Chart } from '../../bench/charts';
import { relayInfo } from '../../bench/relays/registry';
import type { LatencyPoint, Results, SearchSummary, Trial } from '../../bench/types';
import { benchMeta } from '../helpers/bench-results';

const RELAYS = ['mcr-1w', 'kernel', 'socat'];
const MAX: Record<string, number> = { 'mcr-1w': 420_000, kernel: 380_000, socat: 35_000 };

function trial(relay: string, offeredPps: number, size = 1400): Trial {
  const deliveredPps = Math.min(offeredPps, MAX[relay] ?? 0);
  const lossless = offeredPps <= (MAX[relay] ?? 0);
  return {
    relay,
    label: relayInfo(relay).label,
    size,
    streams: 1,
    fanout: 1,
    requestedPps: offeredPps,
    count: offeredPps * 2,
    sent: offeredPps * 2,
    genElapsedS: 2,
    sendErrors: 0,
    offered: offeredPps * 2,
    offeredPps,
    deliveredRaw: deliveredPps * 2,
    delivered: deliveredPps * 2,
    deliveredPps,
    vethDrops: 0,
    inputRxDropped: 0,
    sinkRxDropped: 0,
    lossless,
    loss: (offeredPps - deliveredPps) * 2,
    lossPct: (100 * (offeredPps - deliveredPps)) / offeredPps,
    wallS: 2.5,
  };
}

function search(relay: string, over: Partial<SearchSummary> = {}): SearchSummary {
  const pps = MAX[relay] ?? 0;
  return {
    relay,
    label: relayInfo(relay).label,
    size: 1400,
    streams: 1,
    fanout: 1,
    maxLosslessPps: pps,
    outputPps: pps,
    generatorLimited: false,
    bracket: [pps, null],
    trials: 5,
    ...over,
  };
}

function point(relay: string, loadPct: number, p50: number): LatencyPoint {
  return {
    relay,
    label: relayInfo(relay).label,
    loadPct,
    ratePps: loadPct * 4000,
    offeredPps: loadPct * 3900,
    received: 1000,
    sent: 1000,
    lost: 0,
    p50,
    p90: p50 * 2,
    p99: p50 * 5,
    p999: p50 * 40,
    max: p50 * 100,
    app: { p50, p99: p50 * 6, p999: p50 * 50 },
    tool: 'lat-recv',
  };
}

const timing = (p50: number, p99: number) => ({ n: 200, p50, p99, max: p99 * 2, mean: p50 });

const results: Results = {
  meta: benchMeta({
    scenariosRun: ['throughput', 'pipeline', 'fanout', 'streams', 'latency', 'control'],
    generatorMaxPps: { '1400': 820_000 },
  }),
  scenarios: {
    throughput: {
      trials: RELAYS.flatMap((r) => [820_000, (MAX[r] ?? 0) * 0.9, MAX[r] ?? 0, (MAX[r] ?? 0) * 1.05].map((o) => trial(r, o))),
      summary: {
        searches: [search('mcr-1w', { generatorLimited: true }), search('kernel'), search('socat', { skipped: 'not installed' })],
        ratios: {},
        generatorMaxPps: { '1400': 820_000 },
        skipped: {},
      },
      notes: [],
      durationS: 1,
    },
    pipeline: {
      trials: [],
      summary: {
        seed: {
          historical: { ingressPps: 490_000, egressPps: 307_000, generatorPps: 733_000, bufExhaustPct: 37 },
          regressed: { ingressPps: 123_000, egressPps: 83_000, generatorPps: 779_000, bufExhaustPct: 32 },
          caveat: '',
        },
        seedRun: {
          count: 2e6,
          targetPps: 1e6,
          sent: 2e6,
          generatorPps: 700_000,
          elapsedS: 2.9,
          delivered: 2e6,
          endToEndLoss: 0,
          endToEndLossPct: 0,
          hops: ['mcr1', 'mcr2', 'mcr3'].map((hop) => ({
            hop,
            kernelIn: 2e6,
            kernelOut: 2e6,
            recv: 2e6,
            egrSent: 2e6,
            bufExhaust: 0,
            ringDrops: 0,
            loss: 0,
            lossPct: 0,
            ingressPps: 690_000,
            egressPps: 690_000,
            countersAgree: true,
          })),
        },
      },
      notes: [],
      durationS: 1,
    },
    fanout: {
      trials: [],
      summary: {
        searches: [1, 50].map((n) => search('mcr-1w', { fanout: n, maxLosslessPps: 600_000 / n, outputPps: 600_000 })),
        ratiosVsCRelay: {},
        goal10k: [],
        skipped: {},
      },
      notes: [],
      durationS: 1,
    },
    streams: {
      trials: [],
      summary: { searches: [1, 100].map((n) => search('kernel', { streams: n })), ratiosVsCRelay: {}, skipped: {} },
      notes: [],
      durationS: 1,
    },
    latency: {
      trials: [],
      summary: {
        points: ['mcr-1w', 'direct'].flatMap((r) => [10, 50, 90].map((l) => point(r, l, r === 'direct' ? 12 : 30))),
        maxRates: {},
        mcrAddedUs: {},
        skipped: {},
        stampGroup: 4,
      },
      notes: [],
      durationS: 1,
    },
    control: {
      trials: [],
      summary: {
        n: 200,
        idle: { protocol: { add: timing(0.3, 0.9), remove: timing(0.25, 0.8), stats: timing(0.2, 0.5) } },
        load: {
          protocol: { add: timing(0.6, 3), remove: timing(0.5, 2.5), stats: timing(0.4, 1.8) },
          cli: { add: timing(90, 140), remove: timing(85, 130), stats: timing(80, 120) },
        },
      },
      notes: [],
      durationS: 1,
    },
  },
};

describe('bench charts', () => {
  let dir = '';
  let charts: Chart[] = [];
  const svg = (file: string): string => readFileSync(path.join(dir, file), 'utf8');
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'bench-charts-'));
    charts = await writeCharts(results, dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('every chart kind is drawn, in report order', () => {
    assert.deepEqual(
      charts.map((c) => c.file),
      ['throughput-1400B.svg', 'throughput-max.svg', 'pipeline.svg', 'fanout.svg', 'streams.svg', 'latency.svg', 'control.svg'],
    );
    for (const c of charts) assert.match(svg(c.file), /^<svg[^>]*width="\d+"/, c.file);
  });

  test('delivered vs offered: both panels, log ticks, registry labels and colours, the diagonal', () => {
    const s = svg('throughput-1400B.svg');
    for (const text of [
      'offered rate (packets/s, log scale)',
      'delivered rate (packets/s)',
      'all relays (log-log)',
      '>10k<',
      '>1M<',
      'delivered = offered',
      relayInfo('kernel').label,
    ])
      assert.ok(s.includes(text), text);
    assert.ok(s.includes(relayInfo('mcr-1w').color), 'mcr colour');
  });

  test('bars: values written on them, * for generator-limited, n/a for skipped', () => {
    const s = svg('throughput-max.svg');
    for (const text of ['>420k*<', '>380k<', '>n/a<', 'UDP payload size', 'max lossless rate (packets/s)'])
      assert.ok(s.includes(text), text);
    assert.ok(svg('fanout.svg').includes('>12k, out 600k<'));
    assert.ok(svg('pipeline.svg').includes('seed: historical'));
  });

  test('latency and control: log axes in µs/ms and ms, the p99 goal line', () => {
    const l = svg('latency.svg');
    for (const text of ['>10 µs<', '>1 ms<', 'goal: p99 &lt; 100 µs at 50%', relayInfo('direct').label, 'p99.9'])
      assert.ok(l.includes(text), text);
    const c = svg('control.svg');
    for (const text of ['milliseconds (log scale)', '>0.1<', '>p50 90<', 'mcrctl CLI, under load']) assert.ok(c.includes(text), text);
  });
});
