// SPDX-License-Identifier: MIT
// The soak scenario's pure parts. The growth rule (bench/memory.ts): a least-squares line through
// memory after the warm-up, judged over its second half, must flag a leak of 1 KiB per control
// operation (50 operations a second), also one that starts late, and must not flag a GC sawtooth
// or a process that grows only while warming up or settling into its working set. The
// report and the chart must show a failed soak as failed, with its reasons.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { writeCharts } from '../../bench/charts';
import { DEFAULT_GROWTH_RULE, fitLine, growthCheck, parseStatus, warmupFor, type MemSample } from '../../bench/memory';
import { renderReport, terminalSummary } from '../../bench/report';
import type { SoakSummary } from '../../bench/scenarios/soak';
import type { Results } from '../../bench/types';
import { benchMeta } from '../helpers/bench-results';

/** One sample a second for `seconds`, VmRSS = f(t) MiB. */
function series(seconds: number, f: (t: number) => number): MemSample[] {
  return Array.from({ length: seconds + 1 }, (_, t) => {
    const kib = Math.round(f(t) * 1024);
    return { t, rssKiB: kib, hwmKiB: kib, anonKiB: kib, fileKiB: 0, shmemKiB: 0 };
  });
}

const rule = (durationS: number) => ({ ...DEFAULT_GROWTH_RULE, warmupS: warmupFor(durationS) });
/** a V8-like sawtooth: the heap fills for `period` seconds, then a collection gives back `amp` MiB */
const saw = (t: number, amp: number, period: number): number => amp * ((t % period) / period);
/** 1 KiB per operation at 50 operations a second */
const LEAK_MIB_PER_S = (50 * 1) / 1024;

describe('soak growth rule', () => {
  test('fitLine recovers a line exactly', () => {
    const xs = [0, 1, 2, 3, 4];
    const f = fitLine(
      xs,
      xs.map((x) => 3 + 0.5 * x),
    );
    assert.equal(f.n, 5);
    assert.ok(Math.abs(f.slope - 0.5) < 1e-12 && Math.abs(f.intercept - 3) < 1e-12);
    assert.deepEqual(fitLine([1, 1], [2, 5]), { slope: 0, intercept: 3.5, n: 2 });
  });

  test('warm-up is 20% of the run, at most 60 s', () => {
    assert.deepEqual([warmupFor(60), warmupFor(180), warmupFor(600), warmupFor(3600)], [12, 36, 60, 60]);
  });

  test('a flat process with a 4 MiB GC sawtooth passes (10 minutes and 1 hour)', () => {
    for (const d of [600, 3600]) {
      const v = growthCheck(
        series(d, (t) => 70 + saw(t, 4, 45)),
        rule(d),
      );
      assert.equal(v.growing, false, `${d} s: growth ${v.growthMiB} MiB > ${v.thresholdMiB}`);
    }
  });

  test('growth during the warm-up only passes', () => {
    const v = growthCheck(
      series(600, (t) => (t < 40 ? 40 + t : 80) + saw(t, 2, 30)),
      rule(600),
    );
    assert.equal(v.growing, false);
    assert.equal(v.startMiB, 40);
  });

  test('a leak of 1 KiB per control operation fails a 180 s, a 10-minute and a 1-hour run', () => {
    for (const d of [180, 600, 3600]) {
      const v = growthCheck(
        series(d, (t) => 70 + saw(t, 4, 45) + LEAK_MIB_PER_S * t),
        rule(d),
      );
      assert.equal(v.growing, true, `${d} s: growth ${v.growthMiB} MiB <= ${v.thresholdMiB}`);
      assert.ok(Math.abs(v.slopeKiBPerS - 50) < 5, `slope ${v.slopeKiBPerS} KiB/s`);
    }
  });

  test('growth in steps over the first half that then stays flat passes (the 1-hour shape)', () => {
    // measured on mcrd: RssAnon 11 -> 57 MiB in steps over the first 30 minutes, then flat
    const steps = (t: number): number => 11 + 46 * Math.min(1, Math.floor(t / 300) / 6);
    const v = growthCheck(
      series(3600, (t) => steps(t) + saw(t, 2, 60)),
      rule(3600),
    );
    assert.equal(v.growing, false, `second half ${v.tailGrowthMiB} MiB > ${v.thresholdMiB}`);
    assert.ok(v.growthMiB > v.thresholdMiB, 'the whole window alone would have flagged it');
  });

  test('a leak that starts in the second half fails', () => {
    const v = growthCheck(
      series(600, (t) => 70 + saw(t, 4, 45) + (t > 400 ? LEAK_MIB_PER_S * (t - 400) : 0)),
      rule(600),
    );
    assert.equal(v.growing, true, `second half ${v.tailGrowthMiB} MiB <= ${v.thresholdMiB}`);
  });

  test('the threshold is max(2 MiB, 5% of the warm RSS)', () => {
    assert.equal(
      growthCheck(
        series(600, () => 20),
        rule(600),
      ).thresholdMiB,
      2,
    );
    assert.equal(
      growthCheck(
        series(600, () => 100),
        rule(600),
      ).thresholdMiB,
      5,
    );
  });

  test('parseStatus reads /proc/self/status and names a missing field', () => {
    const s = parseStatus(readFileSync('/proc/self/status', 'utf8'), 1);
    assert.ok(s.rssKiB > 0 && s.hwmKiB >= s.rssKiB && s.anonKiB > 0);
    assert.equal(s.rssKiB, s.anonKiB + s.fileKiB + s.shmemKiB);
    assert.throws(() => parseStatus('Name:\tnode\n', 0), /no VmRSS line/);
  });
});

describe('soak report and chart', () => {
  const d = 600;
  const rule = { ...DEFAULT_GROWTH_RULE, warmupS: warmupFor(d) };
  const mcrd = series(d, (t) => 20 + saw(t, 4, 45) + LEAK_MIB_PER_S * t);
  const dataplane = series(d, () => 8);
  const failure = 'mcrd memory keeps growing: (the scenario words it)';
  const timing = { n: 10000, p50: 1, p99: 9, max: 40, mean: 1.5 };
  const summary: SoakSummary = {
    durationS: d,
    ratePps: 20000,
    rateSource: '--rate',
    size: 1400,
    fanout: 2,
    count: 12_000_000,
    sent: 12_000_000,
    genElapsedS: 600,
    offered: 12_000_000,
    offeredPps: 20000,
    sinkPackets: 23_999_990,
    outputs: [
      {
        group: '239.2.2.2',
        port: 5002,
        received: 12_000_000,
        unique: 12_000_000,
        duplicates: 0,
        corrupted: 0,
        reordered: 0,
        mcrTx: 12_000_000,
        exact: true,
      },
      {
        group: '239.2.2.3',
        port: 5003,
        received: 11_999_990,
        unique: 11_999_990,
        duplicates: 0,
        corrupted: 0,
        reordered: 0,
        mcrTx: 11_999_990,
        exact: false,
      },
    ],
    mcr: { rx: 12_000_000, tx: 23_999_990, ringDrops: 0, bufExhaust: 10, txErrors: 10, finalRecv: 12_000_000, finalEgrSent: 23_999_990 },
    control: {
      targetOpsPerS: 50,
      ops: 30000,
      opsPerS: 50,
      errors: 0,
      errorsByOp: { add: 0, remove: 0, stats: 0 },
      errorSamples: [],
      slotsSkipped: 0,
      latencyMs: { add: timing, remove: timing, stats: timing },
    },
    timeline: [],
    dropSeconds: 0,
    memory: {
      pids: { mcrd: 100, dataplane: 101 },
      dataplaneRestarts: 0,
      intervalS: 1,
      mcrd,
      dataplane,
      growth: { mcrd: growthCheck(mcrd, rule, 'anonKiB'), dataplane: growthCheck(dataplane, rule, 'anonKiB') },
      rssGrowth: { mcrd: growthCheck(mcrd, rule), dataplane: growthCheck(dataplane, rule) },
      rule,
    },
    exact: false,
    failures: ['output 239.2.2.3:5003: 10 missing', failure],
  };
  const results = {
    meta: benchMeta({ durationS: 700, scenariosRun: ['soak'] }),
    scenarios: { soak: { trials: [], summary, notes: [], durationS: 700, failures: summary.failures } },
  } as Results;

  test('the report says FAILED with every reason, the numbers per output and per process', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'soak-report-'));
    try {
      const charts = await writeCharts(results, dir);
      assert.deepEqual(
        charts.map((c) => c.file),
        ['soak-rss.svg'],
      );
      const svg = readFileSync(path.join(dir, 'soak-rss.svg'), 'utf8');
      assert.match(svg, /mcrd VmRSS/);
      assert.match(svg, /GROWING/);
      const md = renderReport(results, charts);
      assert.match(md, /## Soak/);
      assert.match(md, /\*\*FAILED\*\*/);
      for (const f of summary.failures) assert.ok(md.includes(f), f);
      assert.match(md, /delivered to 239\.2\.2\.3:5003 \| 11,999,990 distinct/);
      assert.match(md, /\*\*growing\*\*/);
      assert.match(md, /!\[Soak: RSS over time\]\(soak-rss\.svg\)/);
      const text = terminalSummary(results);
      assert.match(text, /NOT EXACT/);
      assert.match(text, /mcrd .* GROWING/);
      assert.match(text, /scenario soak FAILED:/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
