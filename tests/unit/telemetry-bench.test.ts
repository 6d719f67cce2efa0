// SPDX-License-Identifier: MIT
// The telemetry scenario's pure parts: /proc/stat and /proc/PID/stat arithmetic, relay-added CPU
// per packet (busy minus the generator-alone baseline scaled to the window, minus the sink), the
// medians and spreads, the trial order, the sink's counters and scrape parsing, and the summary,
// report, terminal table and chart built from synthetic trials with known answers.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { writeCharts } from '../../bench/charts';
import { machineDelta, median, parsePidStat, parseProcStat, quantile, relayAddedNsPerPacket, spread, ticksToNs } from '../../bench/cpu';
import { renderReport, spreadText, terminalSummary } from '../../bench/report';
import { sinkWindow, summarizeTelemetry, trialOrder, type TelemetryConfigId, type TelemetryTrial } from '../../bench/scenarios/telemetry';
import { promValue, scrapeValues, type SinkSnapshot } from '../../bench/tools/telemetry-sink';
import type { Results } from '../../bench/types';
import { benchMeta } from '../helpers/bench-results';

describe('CPU accounting', () => {
  test('busy = CPUs x wall time - idle - iowait; the tick-sampled fields only reported', () => {
    const a = parseProcStat(
      'cpu  100 5 200 1000 10 0 50 3 0 0\ncpu0 50 5 100 500 5 0 25 1 0 0\ncpu1 50 0 100 500 5 0 25 2 0 0\nintr 1 2 3\n',
    );
    const b = parseProcStat('cpu  160 5 260 1700 12 0 90 7 0 0\ncpu0 80 5 130 850 6 0 45 3 0 0\ncpu1 80 0 130 850 6 0 45 4 0 0\n');
    assert.deepEqual(a, { user: 100, nice: 5, system: 200, idle: 1000, iowait: 10, irq: 0, softirq: 50, steal: 3, cpus: 2 });
    // 4 s on 2 CPUs at 100 ticks/s = 800 ticks; idle 700, iowait 2; the fields' own sum is 866
    assert.deepEqual(machineDelta(a, b, 4), { busy: 98, capacity: 800, accounted: 866, idle: 700, iowait: 2, steal: 4, softirq: 40 });
    assert.equal(machineDelta(a, b, 4, 1000).busy, 8000 - 702);
    assert.throws(() => parseProcStat('cpu0 1 2 3\n'), /no aggregate cpu line/);
  });

  test('the real /proc/stat parses, and ticks become nanoseconds at CLK_TCK', () => {
    const s = parseProcStat(readFileSync('/proc/stat', 'utf8'));
    assert.ok(s.idle > 0 && s.user >= 0);
    assert.equal(s.cpus, os.cpus().length);
    assert.equal(ticksToNs(250, 100), 2.5e9);
    assert.equal(ticksToNs(1, 1000), 1e6);
  });

  test('utime + stime of /proc/PID/stat, whatever the command name holds', () => {
    // fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
    const line = '4242 (node (a) b) S 1 4242 4242 0 -1 4194304 100 0 0 0 1234 567 99 88 20 0 11 0 300 1000000 2000';
    assert.equal(parsePidStat(line), 1234 + 567);
    const self = parsePidStat(readFileSync('/proc/self/stat', 'utf8'));
    assert.ok(Number.isInteger(self) && self >= 0);
    assert.throws(() => parsePidStat('1 (x) S'), /not understood/);
  });

  test('relay-added ns per packet: busy minus the baseline for the window, minus the sink, per delivered packet', () => {
    // 3 s of CPU over a 4 s window; the generator alone costs 250 ms per s (1 s over 4 s); the sink 100 ms
    assert.equal(relayAddedNsPerPacket({ busyNs: 3e9, windowS: 4, baselineBusyNsPerS: 2.5e8, helperNs: 1e8, delivered: 200_000 }), 9500);
    // a window 10% longer is charged 10% more baseline
    assert.equal(relayAddedNsPerPacket({ busyNs: 3e9, windowS: 4.4, baselineBusyNsPerS: 2.5e8, delivered: 200_000 }), 9500);
    assert.equal(relayAddedNsPerPacket({ busyNs: 1, windowS: 1, baselineBusyNsPerS: 0, delivered: 0 }), null);
  });
});

describe('medians and spreads', () => {
  test('median of odd and even counts, quartiles interpolated', () => {
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([]), null);
    assert.equal(quantile([1, 2, 3, 4, 5], 0.25), 2);
    assert.equal(quantile([10, 20], 0.25), 12.5);
  });

  test('spread ignores missing values and keeps min, max and quartiles', () => {
    assert.deepEqual(spread([7, null, 1, undefined, 3, 5, Number.NaN]), { n: 4, median: 4, min: 1, max: 7, q1: 2.5, q3: 5.5 });
    assert.deepEqual(spread([]), { n: 0, median: null, min: null, max: null, q1: null, q3: null });
    assert.equal(spreadText(spread([3000, 3100.4, 2900])), '3,000 (2,900-3,100)');
    assert.equal(spreadText(spread([12.34]), 1), '12.3');
    assert.equal(spreadText(spread([])), '-');
  });
});

describe('trial order and the sink', () => {
  test('each round runs the generator alone, then off and on, alternating which goes first', () => {
    const o = trialOrder(3);
    assert.deepEqual(
      o.map((x) => x.config),
      ['gen', 'off', 'on', 'gen', 'on', 'off', 'gen', 'off', 'on'],
    );
    assert.deepEqual(
      o.map((x) => x.round),
      [1, 1, 1, 2, 2, 2, 3, 3, 3],
    );
  });

  test('promValue sums the samples of a metric whose labels match', () => {
    const text = [
      '# HELP mcr_spans_exported_total spans',
      '# TYPE mcr_spans_exported_total counter',
      'mcr_spans_exported_total 4000',
      'mcr_spans_exported_total_other 7',
      'mcr_spans_dropped_total{reason="rate"} 1200',
      'mcr_spans_dropped_total{reason="queue"} 3',
      'mcr_telemetry_export_failures_total{signal="metrics"} 1',
      'mcr_telemetry_export_failures_total{signal="traces"} 2',
    ].join('\n');
    assert.equal(promValue(text, 'mcr_spans_exported_total'), 4000);
    assert.equal(promValue(text, 'mcr_spans_dropped_total', { reason: 'rate' }), 1200);
    assert.equal(promValue(text, 'mcr_telemetry_export_failures_total'), 3);
    assert.equal(promValue(text, 'mcr_rx_packets_total'), null);
    assert.deepEqual(scrapeValues(text, 5), {
      atMs: 5,
      spansExported: 4000,
      spansDroppedRate: 1200,
      spansDroppedQueue: 3,
      exportFailures: 3,
    });
  });

  test('sinkWindow takes deltas of counts and of the scraped counters, with the time between scrapes', () => {
    const snap = (k: number, exported: number | null, atMs: number): SinkSnapshot => ({
      seq: k,
      atMs: atMs + 10,
      traces: { requests: 10 * k, bytes: 1000 * k },
      metrics: { requests: k, bytes: 500 * k },
      other: { requests: 0, bytes: 0 },
      scrapes: { ok: 2 * k, failed: 0, bytes: 300 * k },
      last: { atMs, spansExported: exported, spansDroppedRate: 10 * k, spansDroppedQueue: 0, exportFailures: 0 },
    });
    const w = sinkWindow(snap(1, 1000, 1000), snap(5, 17_000, 5000));
    assert.deepEqual(w, {
      traces: { requests: 40, bytes: 4000 },
      metrics: { requests: 4, bytes: 2000 },
      scrapes: { ok: 8, failed: 0, bytes: 1200 },
      spansExported: 16_000,
      spansDroppedRate: 40,
      exportFailures: 0,
      scrapeSpanS: 4,
    });
    assert.equal(sinkWindow(snap(1, null, 1000), snap(2, 5, 2000)).spansExported, null);
  });
});

/** A trial over a 4 s window with 200,000 packets delivered (50k pps); CPU figures in ticks (100/s). */
function trial(
  config: TelemetryConfigId,
  order: number,
  busy: number,
  o: { mcrd?: number; dp?: number; sink?: number; problems?: string[]; spans?: number } = {},
): TelemetryTrial {
  const relay = config !== 'gen';
  return {
    config,
    round: Math.ceil(order / 3),
    order,
    startedAt: `2026-12-02T14:${String(30 + order).padStart(2, '0')}:00.000Z`,
    loadavg1: 0.5,
    ratePps: 50_000,
    count: 300_000,
    sent: 300_000,
    genElapsedS: 6,
    offered: 300_000,
    delivered: relay ? 300_000 : 0,
    exact: !o.problems?.length,
    problems: o.problems ?? [],
    window: {
      s: 4,
      offered: 200_000,
      delivered: relay ? 200_000 : 0,
      machine: { busy, capacity: 800, accounted: 800, idle: 800 - busy, iowait: 0, steal: 0, softirq: 0 },
      procTicks: { mcrd: o.mcrd, dataplane: o.dp, sink: o.sink, generator: 60 },
    },
    sink:
      config === 'on'
        ? {
            traces: { requests: 20, bytes: 2_000_000 },
            metrics: { requests: 4, bytes: 80_000 },
            scrapes: { ok: 4, failed: 0, bytes: 200_000 },
            spansExported: o.spans ?? 16_000,
            spansDroppedRate: 4000,
            exportFailures: 0,
            scrapeSpanS: 4,
          }
        : undefined,
  };
}

const META = {
  ratePps: 50_000,
  trialS: 4,
  rounds: 3,
  clkTck: 100,
  startedAt: '2026-12-02T14:31:00.000Z',
  endedAt: '2026-12-02T14:40:00.000Z',
  loadBefore: [0.4, 0.6, 1.1],
  loadAfter: [0.9, 0.7, 1.0],
};

// Baseline: gens at 100, 110, 90 ticks over 4 s -> median 100 ticks = 1 s -> 250 ms/s. A fourth gen
// (120) is set aside and must not move it. off: busy 180/190/170 -> relay-added (busy - 100) ticks
// = 0.8/0.9/0.7 s over 200,000 packets = 4000/4500/3500 ns. on: busy 200/210/260 minus sink 10 ->
// 4500/5000/7500 ns, median 5000; a lossy on trial (busy 400) is set aside.
const RAW: TelemetryTrial[] = [
  trial('gen', 1, 100),
  trial('off', 2, 180, { mcrd: 4, dp: 60 }),
  trial('on', 3, 200, { mcrd: 20, dp: 62, sink: 10 }),
  trial('gen', 4, 110),
  trial('on', 5, 210, { mcrd: 22, dp: 61, sink: 10, spans: 15_600 }),
  trial('off', 6, 190, { mcrd: 5, dp: 60 }),
  trial('gen', 7, 90),
  trial('off', 8, 170, { mcrd: 4, dp: 59 }),
  trial('on', 9, 260, { mcrd: 30, dp: 70, sink: 10, spans: 16_400 }),
  trial('on', 10, 400, { mcrd: 90, dp: 60, sink: 10, problems: ['lossy: s0 received 299,000 of 300,000 offered (1,000 lost)'] }),
  trial('gen', 11, 120, { problems: ['the generator kept 45000 pps in the window, not 50000 (more than 5% off)'] }),
];

describe('telemetry summary', () => {
  const s = summarizeTelemetry(RAW, { ...META, errors: [{ order: 12, config: 'off', error: 'mcrd did not become ready' }] });

  test('the baseline is the median of the valid generator-alone trials', () => {
    assert.equal(s.baseline.trials, 4);
    assert.equal(s.baseline.valid, 3);
    assert.equal(s.baseline.busyMsPerS.median, 250);
    assert.equal(s.baseline.generatorMsPerS.median, 150);
  });

  test('per-trial figures: relay-added CPU, process CPU per second and per packet, export rates', () => {
    const f = (order: number) => s.trials.find((t) => t.order === order)?.figures;
    assert.equal(f(2)?.relayAddedNsPerPacket, 4000);
    assert.equal(f(3)?.relayAddedNsPerPacket, 4500);
    assert.equal(f(9)?.relayAddedNsPerPacket, 7500);
    assert.equal(f(1)?.relayAddedNsPerPacket, null);
    assert.equal(f(3)?.mcrdMsPerS, 50);
    assert.equal(f(3)?.mcrdNsPerPacket, 1000);
    assert.equal(f(3)?.dataplaneNsPerPacket, 3100);
    assert.equal(f(3)?.mcrProcessesNsPerPacket, 4100);
    assert.equal(f(1)?.mcrProcessesNsPerPacket, null);
    assert.equal(f(3)?.sinkMsPerS, 25);
    assert.equal(f(3)?.spansExportedPerS, 4000);
    assert.equal(f(3)?.tracesRequestsPerS, 5);
    assert.equal(f(3)?.tracesKBPerS, 500);
    assert.equal(f(2)?.spansExportedPerS, null);
  });

  test('medians, spreads and ratios over the valid trials only; the noise band is the off range', () => {
    assert.deepEqual([s.off.trials, s.off.valid, s.on.trials, s.on.valid], [3, 3, 4, 3]);
    assert.deepEqual(s.off.relayAddedNsPerPacket, { n: 3, median: 4000, min: 3500, max: 4500, q1: 3750, q3: 4250 });
    assert.equal(s.on.relayAddedNsPerPacket.median, 5000);
    assert.equal(s.on.relayAddedNsPerPacket.max, 7500);
    assert.equal(s.ratios.relayAddedNsPerPacket, 1.25);
    assert.equal(s.deltaNsPerPacket, 1000);
    assert.equal(s.off.mcrdMsPerS.median, 10);
    assert.equal(s.on.mcrdMsPerS.median, 55);
    assert.equal(s.ratios.mcrdMsPerS, 5.5);
    // mcrd + data plane: off 64/65/63 ticks -> 3200/3250/3150 ns; on 82/83/100 -> 4100/4150/5000
    assert.equal(s.off.mcrProcessesNsPerPacket.median, 3200);
    assert.equal(s.on.mcrProcessesNsPerPacket.median, 4150);
    assert.equal(s.ratios.mcrProcessesNsPerPacket, 4150 / 3200);
    assert.equal(s.on.spansExportedPerS.median, 4000);
    assert.deepEqual(s.noiseBand, { min: 3500, max: 4500, widthNsPerPacket: 1000, widthPctOfMedian: 25 });
    assert.equal(s.onOutsideNoise, true);
    assert.deepEqual(
      s.setAside.map((x) => [x.order, x.config]),
      [
        [10, 'on'],
        [11, 'gen'],
      ],
    );
  });

  test('an on median inside the off range is reported as within the noise', () => {
    const quiet = summarizeTelemetry(
      RAW.filter((t) => t.order !== 9 && t.order !== 5),
      META,
    );
    // on: only trial 3 (4500), inside 3500-4500
    assert.equal(quiet.on.relayAddedNsPerPacket.median, 4500);
    assert.equal(quiet.onOutsideNoise, false);
    const none = summarizeTelemetry(
      RAW.filter((t) => t.config !== 'gen'),
      META,
    );
    assert.equal(none.off.relayAddedNsPerPacket.median, null);
    assert.equal(none.ratios.relayAddedNsPerPacket, null);
    assert.equal(none.onOutsideNoise, null);
  });

  test('report, terminal table and chart show the figures, the set-aside trials and the load', async () => {
    const results = {
      meta: benchMeta({ durationS: 300, scenariosRun: ['telemetry'] }),
      scenarios: { telemetry: { trials: [], summary: s, notes: ['the method note'], durationS: 300 } },
    } as Results;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'telemetry-report-'));
    try {
      const charts = await writeCharts(results, dir);
      assert.deepEqual(
        charts.map((c) => c.file),
        ['telemetry.svg'],
      );
      const svg = readFileSync(path.join(dir, 'telemetry.svg'), 'utf8');
      assert.match(svg, /relay-added CPU per packet/);
      assert.match(svg, /OTLP export \+ scraping on/);
      assert.match(svg, /1\.25x/);
      assert.match(svg, /mcrd CPU 10\.0 -(&gt;|>) 55\.0 ms\/s/);
      const md = renderReport(results, charts);
      assert.match(md, /## Cost of telemetry export/);
      assert.match(md, /\| \*\*relay-added CPU, ns per packet\*\* \| 4,000 \(3,500-4,500\) \| 5,000 \(4,500-7,500\) \| 1\.25x \|/);
      assert.match(md, /\| mcrd \(supervisor\) CPU, ms per s \| 10\.0 \(10\.0-12\.5\) \| 55\.0 \(50\.0-75\.0\) \| 5\.50x \|/);
      assert.match(
        md,
        /\| mcr's processes \(mcrd \+ data plane\) CPU, ns per packet \| 3,200 \(3,150-3,250\) \| 4,150 \(4,100-5,000\) \| 1\.30x \|/,
      );
      assert.match(md, /On minus off: \*\*\+1,000 ns per packet\*\*/);
      assert.match(md, /\*\*outside\*\* it/);
      assert.match(md, /load average 0\.4 \/ 0\.6 \/ 1\.1 before/);
      assert.match(md, /- #10 on: lossy: s0 received 299,000/);
      assert.match(md, /- #12 off: failed: mcrd did not become ready/);
      assert.match(md, /!\[Cost of telemetry export\]\(telemetry\.svg\)/);
      assert.match(md, /- the method note/);
      const text = terminalSummary(results);
      assert.match(text, /relay-added ns\/pkt +4,000 \(3,500-4,500\) +5,000 \(4,500-7,500\) +1\.25x/);
      assert.match(text, /OUTSIDE the noise band; 3 trial\(s\) set aside/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
