// SPDX-License-Identifier: MIT
// The drill scenario's pure parts: the pipe line tally, the addon a process mapped, the Egress
// FINAL line, MCR-1's figures from FINAL lines minus the warm-up, the medians and ratios per
// build, the checks, the round order, and the report and terminal tables from synthetic runs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { DRILL_LINE_PREFIX, LineTally, mappedAddon, ticksOf } from '../../bench/relays/mcr-drill';
import { renderReport, terminalSummary } from '../../bench/report';
import {
  drillFailures,
  type DrillSearch,
  type DrillSeedRun,
  type DrillSummary,
  mcr1Figures,
  median,
  parseEgressFinal,
  roundOrder,
  summarizeRows,
  type Build,
} from '../../bench/scenarios/drill';
import { SEED } from '../../bench/scenarios/pipeline';
import type { Results } from '../../bench/types';
import type { Counters } from '../../src/control/protocol';
import { finalLines, parseFinal } from '../../src/daemon/stats';
import { benchMeta } from '../helpers/bench-results';

describe('the pipe line tally', () => {
  test('counts drill lines split across chunks once, other lines apart, and a last line without newline at end()', () => {
    const t = new LineTally(DRILL_LINE_PREFIX, 32);
    t.feed('[critical] mcr-worker: Buffer exhausted (sendmmsg, EAGAIN)! Total exhaustions: 1\n[crit');
    assert.equal(t.matched, 1);
    t.feed('ical] mcr-worker: Buffer exhausted (sendmmsg, EAGAIN)! Total exhaustions: 2\nmcrd: warning: something\n');
    assert.equal(t.matched, 2);
    assert.equal(t.lines, 3);
    t.feed('[critical] mcr-worker: no newline yet');
    assert.equal(t.matched, 2);
    t.end();
    assert.equal(t.matched, 3);
    assert.equal(t.lines, 4);
    t.end(); // idempotent
    assert.equal(t.lines, 4);
    // the tail is bounded and is the end of the text
    assert.equal(t.tail.length, 32);
    assert.ok('[critical] mcr-worker: no newline yet'.endsWith(t.tail));
    assert.equal(
      t.bytes,
      Buffer.byteLength(
        '[critical] mcr-worker: Buffer exhausted (sendmmsg, EAGAIN)! Total exhaustions: 1\n[critical] mcr-worker: Buffer exhausted (sendmmsg, EAGAIN)! Total exhaustions: 2\nmcrd: warning: something\n[critical] mcr-worker: no newline yet',
      ),
    );
  });

  test('a line that only contains the prefix later is not a drill line', () => {
    const t = new LineTally(DRILL_LINE_PREFIX);
    t.feed(`mcrd: ${DRILL_LINE_PREFIX}quoted\n\n`);
    assert.equal(t.matched, 0);
    assert.equal(t.lines, 2);
  });
});

describe('/proc/PID/stat', () => {
  test('utime + stime, whatever the command name holds', () => {
    const line = '4242 (node (a) b) S 1 4242 4242 0 -1 4194304 100 0 0 0 1234 567 99 88 20 0 11 0 300 1000000 2000';
    assert.equal(ticksOf(line), 1234 + 567);
    assert.ok(ticksOf(readFileSync('/proc/self/stat', 'utf8')) >= 0);
    assert.throws(() => ticksOf('garbage'), /not a \/proc\/PID\/stat line/);
  });
});

describe('the addon a process mapped', () => {
  const maps = [
    '5581f6a00000-5581f6a01000 r--p 00000000 fd:01 123 /usr/bin/node',
    '7f10a0000000-7f10a0010000 r--p 00000000 fd:01 456 /work/main/build-drill/mcr_native.node',
    '7f10a0010000-7f10a0050000 r-xp 00010000 fd:01 456 /work/main/build-drill/mcr_native.node',
    '7ffd1000000-7ffd1021000 rw-p 00000000 00:00 0 [stack]',
  ].join('\n');
  test('the path of mcr_native.node, or undefined', () => {
    assert.equal(mappedAddon(maps), '/work/main/build-drill/mcr_native.node');
    assert.equal(mappedAddon(maps.replace(/build-drill/g, 'build/Release')), '/work/main/build/Release/mcr_native.node');
    assert.equal(mappedAddon('7f10a0000000-7f10a0010000 r--p 00000000 fd:01 456 /lib/x86_64-linux-gnu/libc.so.6\n'), undefined);
    assert.equal(mappedAddon(''), undefined);
  });
});

/** mcrd's FINAL lines (src/daemon/stats.ts finalLines) for given counts. */
function finalText(c: { rx: number; tx: number; bufExhaust: number; txErrors: number; txBytes: number }): string {
  const counters = {
    rxFrames: c.rx,
    matched: c.rx,
    txPackets: c.tx,
    filtered: 0,
    noMatch: 0,
    bufExhaust: c.bufExhaust,
    txErrors: c.txErrors,
    txBytes: c.txBytes,
  } as unknown as Counters;
  return `mcrd: stopping\n${finalLines({ uptimeSeconds: 1, totals: counters, workers: [{ worker: 0, ...counters }], rules: [] }).join('\n')}\n`;
}

describe('FINAL lines', () => {
  test("parseEgressFinal reads mcrd's own Egress lines, total or one worker", () => {
    const text = finalText({ rx: 1000, tx: 900, bufExhaust: 100, txErrors: 7, txBytes: 1_260_000 });
    assert.deepEqual(parseEgressFinal(text), { sent: 900, errors: 7, bytes: 1_260_000 });
    assert.deepEqual(parseEgressFinal(text, 'worker 0'), { sent: 900, errors: 7, bytes: 1_260_000 });
    assert.equal(parseEgressFinal(text, 'worker 1'), undefined);
    assert.equal(parseEgressFinal('[STATS:Ingress FINAL] total: recv=1\n'), undefined);
    assert.equal(parseEgressFinal('[STATS:Egress FINAL] total: sent=1 errors=2\n'), undefined);
  });

  test("MCR-1's figures: FINAL minus the warm-up, per second of the generator's time, buf_exhaust of the offered", () => {
    const text = finalText({ rx: 1_001_000, tx: 801_000, bufExhaust: 250_000, txErrors: 0, txBytes: 0 });
    const ingress = parseFinal(text);
    const egress = parseEgressFinal(text);
    assert.ok(ingress && egress);
    const f = mcr1Figures({ ingress, egress, before: { rx: 1000, tx: 1000, bufExhaust: 0 }, elapsedS: 4, offered: 1_250_000 });
    assert.deepEqual(f, {
      recv: 1_000_000,
      egrSent: 800_000,
      bufExhaust: 250_000,
      ingressPps: 250_000,
      egressPps: 200_000,
      bufExhaustPct: 20,
    });
    assert.throws(
      () => mcr1Figures({ ingress, egress, before: { rx: 2_000_000, tx: 0 }, elapsedS: 4, offered: 1 }),
      /below the counts read before/,
    );
  });
});

function search(build: Build, round: number, pps: number, pipeLines = 0): DrillSearch {
  return {
    relay: build === 'drill' ? 'mcr-1w-drill' : 'mcr-1w',
    label: build,
    size: 1400,
    streams: 1,
    fanout: 1,
    workers: 1,
    maxLosslessPps: pps,
    outputPps: pps,
    generatorLimited: false,
    bracket: [pps, pps * 1.03],
    trials: 8,
    build,
    round,
    pipeLines,
    addon: build === 'drill' ? '/r/build-drill/mcr_native.node' : '/r/build/Release/mcr_native.node',
  };
}

function run(
  build: Build,
  round: number,
  ingressPps: number,
  egressPps: number,
  bufExhaust: number,
  pipeLines: number[],
  cpuNs = 0,
): DrillSeedRun {
  const elapsedS = 10;
  return {
    build,
    round,
    addon: build,
    startedAt: '2026-12-02T14:00:00.000Z',
    loadavg1: 1.5,
    count: 3_000_000,
    targetPps: 1_000_000,
    sent: 3_000_000,
    generatorPps: 300_000,
    elapsedS,
    offered: 3_000_000,
    delivered: egressPps * elapsedS,
    endToEndLossPct: 100 - (100 * egressPps * elapsedS) / 3_000_000,
    mcr1: {
      recv: ingressPps * elapsedS,
      egrSent: egressPps * elapsedS,
      bufExhaust,
      ingressPps,
      egressPps,
      bufExhaustPct: (100 * bufExhaust) / 3_000_000,
    },
    hops: [
      {
        hop: 'mcr1',
        recv: ingressPps * elapsedS,
        egrSent: egressPps * elapsedS,
        bufExhaust,
        dataplaneCpuNs: cpuNs * ingressPps * elapsedS,
        cpuNsPerPacket: cpuNs,
      },
    ],
    final: `[STATS:Ingress FINAL] total: recv=${ingressPps * elapsedS} (${build})`,
    pipeLines,
  };
}

describe('the summary', () => {
  test('median of odd, even and no values', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([]), null);
  });

  test('rounds alternate which build goes first', () => {
    assert.deepEqual(roundOrder(0), ['shipped', 'drill']);
    assert.deepEqual(roundOrder(1), ['drill', 'shipped']);
    assert.deepEqual(roundOrder(2), ['shipped', 'drill']);
  });

  const searches = [
    search('shipped', 0, 300_000),
    search('drill', 0, 60_000, 5),
    search('drill', 1, 80_000, 7),
    search('shipped', 1, 320_000),
  ];
  const runs = [
    run('shipped', 0, 200_000, 200_000, 1_000_000, [0, 0, 0], 1000),
    run('drill', 0, 50_000, 40_000, 2_500_000, [900_000, 10, 0], 3000),
    run('drill', 1, 70_000, 60_000, 2_300_000, [800_000, 20, 0], 4000),
    run('shipped', 1, 220_000, 210_000, 800_000, [0, 0, 0], 1200),
  ];

  test('medians per build and drill / shipped', () => {
    const { rows, ratios } = summarizeRows([...searches, { ...search('drill', 2, 0), skipped: 'did not start' }], runs);
    assert.equal(rows.shipped.maxLosslessPps, 310_000);
    assert.deepEqual(rows.drill.maxLosslessRuns, [60_000, 80_000]);
    assert.equal(rows.drill.maxLosslessPps, 70_000);
    assert.equal(rows.shipped.ingressPps, 210_000);
    assert.equal(rows.drill.ingressPps, 60_000);
    assert.equal(rows.drill.egressPps, 50_000);
    assert.equal(rows.drill.bufExhaust, 2_400_000);
    assert.equal(rows.drill.pipeLines, (900_010 + 800_020) / 2);
    assert.equal(rows.shipped.pipeLines, 0);
    assert.equal(rows.drill.seedRuns, 2);
    assert.equal(ratios.maxLossless, 70_000 / 310_000);
    assert.equal(ratios.ingress, 60_000 / 210_000);
    assert.equal(ratios.egress, 50_000 / 205_000);
    assert.equal(rows.shipped.mcr1CpuNsPerPacket, 1100);
    assert.equal(rows.drill.mcr1CpuNsPerPacket, 3500);
    assert.equal(ratios.mcr1CpuNsPerPacket, 3500 / 1100);
    const none = summarizeRows([], []);
    assert.deepEqual(none.ratios, { maxLossless: null, ingress: null, egress: null, mcr1CpuNsPerPacket: null });
  });

  test('the shipped build writing a drill line fails the run; the drill writing them does not', () => {
    assert.deepEqual(drillFailures(searches, runs), []);
    assert.deepEqual(drillFailures([search('shipped', 1, 1, 3)], [run('shipped', 0, 1, 1, 0, [0, 2, 0])]), [
      'round 2 search: the shipped build wrote 3 drill lines',
      'round 1 3-hop run: the shipped build wrote 2 drill lines',
    ]);
  });

  test("report.md and the terminal show the seed's table with both builds", () => {
    const summary: DrillSummary = {
      size: 1400,
      targetPps: 1_000_000,
      count: 3_000_000,
      rounds: 2,
      addons: {
        shipped: '/r/build/Release/mcr_native.node',
        drill: '/r/build-drill/mcr_native.node',
        drillBuildS: 1.5,
        drillSha256: 'ab'.repeat(32),
      },
      generatorMaxPps: 400_000,
      startedAt: '2026-12-02T14:00:00.000Z',
      endedAt: '2026-12-02T14:06:00.000Z',
      loadBefore: [1, 1, 1],
      loadAfter: [2, 1, 1],
      searches,
      seedRuns: runs,
      ...summarizeRows(searches, runs),
      seed: SEED,
    };
    const results: Results = {
      meta: benchMeta({ scenariosRun: ['drill'] }),
      scenarios: { drill: { trials: [], summary, notes: ['a note'], durationS: 360 } },
    };
    const md = renderReport(results, []);
    assert.match(md, /## The seed's incident, reproduced/);
    assert.match(md, /\| seed, regressed \(MCR-1\) \| 779,000 \| 123,000 \| 83,000 \| 32% \| 512,945 \|/);
    assert.match(md, /\| mcr, shipped build \(MCR-1\) \| 300,000 \| 210,000 \| 205,000 \| 900,000 \(30\.0%\) \| 0 \| 1,100 \|/);
    assert.match(
      md,
      /\| mcr, drill build \(seed anti-pattern\) \(MCR-1\) \| 300,000 \| 60,000 \| 50,000 \| 2,400,000 \(80\.0%\) \| 850,015 \| 3,500 \|/,
    );
    assert.match(
      md,
      /MCR-1 ingress \*\*0\.29x\*\*, egress \*\*0\.24x\*\* .*; MCR-1's data plane CPU per packet \*\*3\.18x\*\*; buf_exhaust share \*\*2\.67x\*\*/,
    );
    assert.match(md, /\| drill build \(seed anti-pattern\) \| 70,000 \| 60,000, 80,000 \| no \|/);
    assert.match(md, /Drill \/ shipped: \*\*0\.23x\*\*/);
    assert.match(
      md,
      /\| 2 \| drill \| 14:00:00 \| 1\.50 \| 3,000,000 \| 300,000 \| 700,000 \| 600,000 \| 2,300,000 \| 600,000 \| 80\.0% \| 800,000 \/ 20 \/ 0 \| 4,000 \|/,
    );
    assert.match(
      md,
      /\| round \| build \| started \| load \| sent \| generator pps \| MCR-1 recv \| MCR-1 egr_sent \| MCR-1 buf_exhaust \| delivered \| end-to-end loss \| pipe lines \(mcr1\/2\/3\) \| data plane ns\/packet \(mcr1\/2\/3\) \|\n(\|[-:]+){13}\|/,
    );
    assert.match(md, /- a note/);
    const term = terminalSummary(results);
    assert.match(term, /mcr drill\s+300,000\s+60,000\s+50,000\s+2,400,000 \(80\.0%\)\s+3,500\s+70,000/);
    assert.match(term, /drill \/ shipped\s+0\.29x\s+0\.24x\s+3\.18x\s+0\.23x/);
  });
});
