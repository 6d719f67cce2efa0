// SPDX-License-Identifier: MIT
// The efficiency scenario's pure parts (issue #11's CPU per packet): the interleaved trial order,
// each trial's figures against the generator-alone baseline at its rate and size, medians and
// spreads per relay, set-aside trials, mcr/peer ratios with their paired noise bands, the
// regression figures, and the report, terminal table and chart built from synthetic trials with
// known answers.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { writeCharts } from '../../bench/charts';
import { makeBaseline, type Baseline } from '../../bench/compare';
import { spread } from '../../bench/cpu';
import { efficiencySection, efficiencyTerminal } from '../../bench/efficiency-report';
import { allFigures, ratioFigures } from '../../bench/figures';
import { countersDelta } from '../../bench/stream-trial';
import {
  deriveEfficiencyTrial,
  efficiencyOrder,
  pairedBand,
  summarizeEfficiency,
  type EfficiencySummary,
  type EfficiencyTrial,
} from '../../bench/scenarios/efficiency';
import type { Results } from '../../bench/types';
import { benchMeta } from '../helpers/bench-results';

const CLK = 100;

/**
 * A trial at 50k pps with 1400-byte payloads over a 2 s window (100,000 packets delivered, 0 for
 * the generator alone); `busy` in ticks of the 400 the 2 CPUs have in 2 s.
 */
function trial(relay: string, rep: number, order: number, busy: number, o: Partial<EfficiencyTrial> = {}): EfficiencyTrial {
  const gen = relay === 'gen';
  const mcr = relay.startsWith('mcr');
  return {
    relay,
    size: 1400,
    ratePps: 50_000,
    rep,
    order,
    startedAt: `t${order}`,
    loadavg1: 0.25,
    count: 175_000,
    sent: 175_000,
    genElapsedS: 3.5,
    offered: 175_000,
    delivered: gen ? 0 : 175_000,
    lost: 0,
    ...(mcr ? { mcr: { rx: 150_000, tx: 150_000, ringDrops: 0, txErrors: 0, batches: 30_000, wakeups: 50_000 } } : {}),
    exact: true,
    problems: [],
    quiet: { s: 0.5, busyMsPerS: 10 },
    window: {
      s: 2,
      offered: 100_000,
      delivered: gen ? 0 : 100_000,
      machine: { busy, capacity: 400, accounted: 400, idle: 400 - busy, iowait: 0, steal: 0, softirq: 0 },
      procTicks: gen ? { generator: 20 } : { relay: mcr ? 10 : 5, ...(mcr ? { dataplane: 30 } : {}), generator: 20 },
    },
    ...o,
  };
}

/**
 * Three repetitions of gen, mcr-1w, kernel, c-relay (the generator alone costs 50 ticks = 250 ms
 * per s in the median), a fourth mcr trial that lost packets and a generator trial that missed its
 * pace: both set aside, neither in a median.
 */
function trials(): EfficiencyTrial[] {
  const lossy = { lost: 12, delivered: 174_988, exact: false, problems: ['lossy: s0 received 174988 of 175000 offered (12 lost)'] };
  return [
    trial('gen', 1, 1, 40),
    trial('mcr-1w', 1, 2, 90),
    trial('kernel', 1, 3, 60),
    trial('c-relay', 1, 4, 70),
    trial('mcr-1w', 2, 5, 94),
    trial('kernel', 2, 6, 61),
    trial('c-relay', 2, 7, 70),
    trial('gen', 2, 8, 50),
    trial('kernel', 3, 9, 59),
    trial('c-relay', 3, 10, 72),
    trial('gen', 3, 11, 60),
    trial('mcr-1w', 3, 12, 86),
    trial('mcr-1w', 4, 13, 300, lossy),
    trial('gen', 4, 14, 390, { problems: ['the generator kept 40000 pps in the window, not 50000 (more than 5% off)'] }),
  ];
}

function summary(): EfficiencySummary {
  return summarizeEfficiency(trials(), {
    relays: ['mcr-1w', 'kernel', 'c-relay'],
    rates: [50_000],
    sizes: [1400],
    repetitions: 4,
    trialS: 2,
    clkTck: CLK,
    startedAt: 's',
    endedAt: 'e',
    loadBefore: [0.2, 0.1, 0.05],
    loadAfter: [0.9, 0.4, 0.2],
    skipped: { 'mcr-1w-poll': 'not wanted' },
  });
}

describe('efficiency: trial order', () => {
  test('every repetition runs each size and rate block once, the generator alone and the relays rotated by one place', () => {
    const o = efficiencyOrder(['a', 'b'], [1, 2], [10], 3);
    assert.deepEqual(
      o.map((x) => `${x.rep}:${x.ratePps}:${x.relay}`),
      [
        '1:1:gen',
        '1:1:a',
        '1:1:b',
        '1:2:gen',
        '1:2:a',
        '1:2:b',
        '2:1:a',
        '2:1:b',
        '2:1:gen',
        '2:2:a',
        '2:2:b',
        '2:2:gen',
        '3:1:b',
        '3:1:gen',
        '3:1:a',
        '3:2:b',
        '3:2:gen',
        '3:2:a',
      ],
    );
    assert.ok(efficiencyOrder(['a'], [1], [10, 20], 2).every((x) => x.size === 10 || x.size === 20));
    assert.equal(efficiencyOrder(['a', 'b', 'c', 'd'], [1, 2, 3], [1400, 64], 5).length, 5 * 3 * 2 * 5);
  });
});

describe('efficiency: figures', () => {
  test("a trial's relay-added CPU: busy minus the baseline for the window, per delivered packet", () => {
    // 90 ticks = 0.9 s of CPU in 2 s; the baseline 2.5e8 ns per s is 0.5 s of it; 0.4 s / 100,000 packets
    const f = deriveEfficiencyTrial(trial('mcr-1w', 1, 1, 90), 2.5e8, CLK);
    assert.deepEqual(f, {
      machineBusyMsPerS: 450,
      relayAddedNsPerPacket: 4000,
      // mcrd 10 + data plane 30 ticks = 0.4 s
      relayProcessesNsPerPacket: 4000,
      relayProcessesMsPerS: 200,
      generatorMsPerS: 100,
      framesPerWakeup: 3,
      framesPerBatch: 5,
    });
    const c = deriveEfficiencyTrial(trial('c-relay', 1, 1, 70), 2.5e8, CLK);
    assert.equal(c.relayAddedNsPerPacket, 2000);
    assert.equal(c.relayProcessesNsPerPacket, 500);
    assert.equal(c.framesPerWakeup, null);
    // the generator alone has no relay-added figure; nor has anything without a baseline
    assert.equal(deriveEfficiencyTrial(trial('gen', 1, 1, 50), 2.5e8, CLK).relayAddedNsPerPacket, null);
    assert.equal(deriveEfficiencyTrial(trial('kernel', 1, 1, 60), null, CLK).relayAddedNsPerPacket, null);
  });

  test('relay counters as deltas, optional ones only where either side has them', () => {
    assert.deepEqual(
      countersDelta({ rx: 10, tx: 9, batches: 2, wakeups: 1 }, { rx: 110, tx: 109, batches: 22, wakeups: 11, ringDrops: 3 }),
      {
        rx: 100,
        tx: 100,
        ringDrops: 3,
        batches: 20,
        wakeups: 10,
      },
    );
    assert.deepEqual(countersDelta({ rx: 1, tx: 1 }, { rx: 5, tx: 4 }), { rx: 4, tx: 3 });
  });

  test('paired noise band: the quartiles of the per-repetition ratios around the value, at least 10%', () => {
    // quartiles 2 and 2.4: one disturbed repetition (4) does not set the band
    assert.equal(pairedBand(2, spread([1, 2, 2, 2.4, 4])), 0.2);
    // quartiles 1.6 and 2.1 around 2: down by a factor 1.25
    assert.equal(pairedBand(2, spread([1.2, 1.6, 2, 2.1, 2.2])), 0.25);
    assert.equal(pairedBand(4, spread([4, 4, 4])), 0.1);
    assert.equal(pairedBand(null, spread([1])), null);
    assert.equal(pairedBand(2, spread([])), null);
  });
});

describe('efficiency: summary', () => {
  test('baseline from the valid generator-alone trials; medians and spreads per relay; set-aside trials counted, not used', () => {
    const s = summary();
    assert.deepEqual(s.baseline, [
      {
        size: 1400,
        ratePps: 50_000,
        trials: 4,
        valid: 3,
        busyMsPerS: { n: 3, median: 250, min: 200, max: 300, q1: 225, q3: 275 },
        generatorMsPerS: { n: 3, median: 100, min: 100, max: 100, q1: 100, q3: 100 },
      },
    ]);
    const cell = (id: string) => s.cells.find((c) => c.relay === id);
    // mcr: 90, 94, 86 ticks -> 4000, 4400, 3600 ns per packet; the lossy fourth trial set aside
    assert.deepEqual(cell('mcr-1w')?.relayAddedNsPerPacket, { n: 3, median: 4000, min: 3600, max: 4400, q1: 3800, q3: 4200 });
    assert.equal(cell('mcr-1w')?.trials, 4);
    assert.equal(cell('mcr-1w')?.valid, 3);
    assert.equal(cell('mcr-1w')?.setAside, 1);
    assert.equal(cell('mcr-1w')?.lost, 12);
    assert.equal(cell('mcr-1w')?.framesPerWakeup.median, 3);
    assert.deepEqual(cell('c-relay')?.relayAddedNsPerPacket, { n: 3, median: 2000, min: 2000, max: 2200, q1: 2000, q3: 2100 });
    assert.deepEqual(cell('kernel')?.relayAddedNsPerPacket, { n: 3, median: 1000, min: 900, max: 1100, q1: 950, q3: 1050 });
    assert.deepEqual(
      s.setAside.map((x) => `${x.order} ${x.relay} rep ${x.rep}`),
      ['13 mcr-1w rep 4', '14 gen rep 4'],
    );
    assert.deepEqual(s.quietBusyMsPerS.median, 10);
    assert.deepEqual(s.skipped, { 'mcr-1w-poll': 'not wanted' });
  });

  test('mcr over each peer: ratio of the medians, the per-repetition ratios and the band from them', () => {
    const s = summary();
    const r = (peer: string) => s.ratios.find((x) => x.relay === 'mcr-1w' && x.peer === peer);
    // per repetition: 4000/2000, 4400/2000, 3600/2200
    assert.equal(r('c-relay')?.value, 2);
    assert.deepEqual([r('c-relay')?.paired.n, r('c-relay')?.paired.min, r('c-relay')?.paired.max], [3, 3600 / 2200, 2.2]);
    // quartiles 1.818 and 2.1 around 2
    assert.equal(r('c-relay')?.band, 0.1);
    // 4000/1000, 4400/1100, 3600/900: all 4.0, so the 10% floor
    assert.equal(r('kernel')?.value, 4);
    assert.equal(r('kernel')?.band, 0.1);
    // only mcr variants over peers
    assert.equal(s.ratios.length, 2);
  });

  test('regression figures: the ratios with their bands go to the baseline; ns per packet only to comparisons', () => {
    const results: Results = { meta: benchMeta(), scenarios: { efficiency: { trials: [], summary: summary(), notes: [], durationS: 1 } } };
    assert.deepEqual(ratioFigures(results), {
      'efficiency.1400B.50k.mcr-1w/kernel': { value: 4, band: 0.1, unit: 'x', kind: 'cpu-ratio' },
      'efficiency.1400B.50k.mcr-1w/c-relay': { value: 2, band: 0.1, unit: 'x', kind: 'cpu-ratio' },
    });
    const all = allFigures(results);
    assert.deepEqual(all['efficiency.1400B.50k.kernel.nsPerPacket'], { value: 1000, band: 0.5, unit: 'ns', kind: 'cpu' });
    assert.equal(all['efficiency.1400B.50k.mcr-1w.nsPerPacket']?.value, 4000);
  });
});

describe('efficiency: baseline', () => {
  test('--add keeps the other scenarios; --repeat widens each band to the change between the runs', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mcr-eff-base-'));
    try {
      const write = (name: string, s: EfficiencySummary): string => {
        mkdirSync(path.join(dir, name));
        const r: Results = {
          meta: benchMeta({ date: name }),
          scenarios: { efficiency: { trials: [], summary: s, notes: [], durationS: 1 } },
        };
        writeFileSync(path.join(dir, name, 'results.json'), JSON.stringify(r));
        return path.join(dir, name);
      };
      const first = summary();
      // the repeated run: mcr/c-relay 2.5 instead of 2 (+25%), mcr/kernel 4.2 (+5%, inside its 10%)
      const again = summary();
      again.ratios = again.ratios.map((x) => ({ ...x, value: x.peer === 'c-relay' ? 2.5 : 4.2 }));
      const onto: Baseline = {
        comment: 'old',
        source: { date: 'old', gitCommit: 'a'.repeat(40), kernel: 'k', cpuModel: 'c', nproc: 2, quick: false, tuneHostApplied: false },
        figures: {
          'throughput.64B.mcr-1w/kernel': { value: 0.8, band: 0.4, unit: 'x', kind: 'ratio' },
          'efficiency.64B.50k.mcr-1w/kernel': { value: 9, band: 0.1, unit: 'x', kind: 'cpu-ratio' },
        },
      };
      const b = makeBaseline(write('run1', first), onto, [write('run2', again)]);
      assert.deepEqual(b.figures, {
        'throughput.64B.mcr-1w/kernel': { value: 0.8, band: 0.4, unit: 'x', kind: 'ratio' },
        'efficiency.1400B.50k.mcr-1w/kernel': { value: 4, band: 0.1, unit: 'x', kind: 'cpu-ratio' },
        'efficiency.1400B.50k.mcr-1w/c-relay': { value: 2, band: 0.25, unit: 'x', kind: 'cpu-ratio' },
      });
      assert.equal(b.source.date, 'old');
      assert.equal(b.addedSources?.efficiency?.date, 'run1');
      assert.match(b.comment, /Added: efficiency\.\* from .*run1.*widened to the change to the repeated run .*run2/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('efficiency: report, terminal and chart', () => {
  test('report.md section and terminal table show medians, spreads, set-aside counts and ratios', () => {
    const s = summary();
    const md = efficiencySection(s).join('\n');
    assert.match(md, /\| mcr \(1 worker\) \| 4,000 \(3,600-4,400\) \[3\/4\] \|/);
    assert.match(md, /\| C relay \(recvmmsg\/sendmmsg\) \| 2,000 \(2,000-2,200\) \|/);
    assert.match(md, /\| mcr-1w\/c-relay \| 2\.00x \(1\.64-2\.20\) ±10% \|/);
    assert.match(md, /\| generator alone \| 250 \(200-300\) \[3\/4\] \|/);
    assert.match(md, /Set aside \(not in the medians\): 2 of 14 trials/);
    assert.match(md, /- #13 mcr-1w 1400 B 50k pps rep 4: lossy/);
    assert.match(md, /- mcr-1w-poll: not wanted/);
    const term = efficiencyTerminal(s).join('\n');
    assert.match(term, /2 of 14 trials set aside/);
    assert.match(term, /mcr-1w\s+4,000 \(3,600-4,400\) \[3\/4\]/);
    assert.match(term, /mcr-1w\/kernel\s+4\.00x/);
  });

  test('the chart: ns per packet by rate, one line per relay', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mcr-eff-chart-'));
    try {
      const results: Results = {
        meta: benchMeta(),
        scenarios: { efficiency: { trials: [], summary: summary(), notes: [], durationS: 1 } },
      };
      const charts = await writeCharts(results, dir);
      assert.deepEqual(charts, [{ file: 'efficiency.svg', title: 'Relay-added CPU per packet', scenario: 'efficiency' }]);
      const svg = readFileSync(path.join(dir, 'efficiency.svg'), 'utf8');
      for (const text of [
        'Relay-added CPU per forwarded packet',
        '1400-byte payload',
        'mcr (1 worker)',
        'kernel routing (smcroute)',
        'ns of CPU per packet',
      ])
        assert.ok(svg.includes(text), text);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
