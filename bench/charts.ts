// SPDX-License-Identifier: MIT
// The charts of a results set, written as SVG next to results.json: delivered vs offered rate per
// relay (one chart per payload size), maximum lossless rates, latency percentiles, fan-out,
// many streams, the 3-hop pipeline against the seed's figures, control-plane timings, and the
// soak's memory over time.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { SEED } from './scenarios/pipeline';
import { barChart, colorOf, lineChart, panels, siShort, usShort, type LegendEntry, type Series } from './svg';
import type { Results, SearchSummary } from './types';

export interface Chart {
  file: string;
  title: string;
  scenario: string;
}

const RELAY_ORDER = ['mcr-1w', 'mcr-2w', 'mcr-1w-poll', 'kernel', 'c-relay', 'node', 'socat', 'direct'];
const order = (ids: string[]): string[] => [...new Set(ids)].sort((a, b) => RELAY_ORDER.indexOf(a) - RELAY_ORDER.indexOf(b));

function labelOf(id: string, searches: Array<{ relay: string; label: string }>): string {
  return searches.find((s) => s.relay === id)?.label ?? id;
}

const pps = (v: number): string => `${siShort(v)}`;

function throughputCharts(r: Results, out: Chart[], dir: string): void {
  const sc = r.scenarios.throughput;
  if (!sc || sc.trials.length === 0) return;
  const searches = sc.summary?.searches ?? [];
  const sizes = [...new Set(sc.trials.map((t) => t.size))].sort((a, b) => a - b);
  for (const size of sizes) {
    const trials = sc.trials.filter((t) => t.size === size);
    const series: Series[] = order(trials.map((t) => t.relay)).map((id) => ({
      id,
      name: labelOf(id, searches),
      color: colorOf(id),
      points: trials
        .filter((t) => t.relay === id)
        .map((t) => ({ x: t.offeredPps, y: t.deliveredPps, filled: t.lossless, label: `offered ${siShort(t.offeredPps)} pps, delivered ${siShort(t.deliveredPps)} pps, loss ${t.lossPct.toFixed(2)}%` })),
    }));
    const gmax = r.meta.generatorMaxPps[String(size)];
    const file = `throughput-${size}B.svg`;
    const maxX = Math.max(gmax ?? 0, ...trials.map((t) => t.offeredPps)) * 1.05;
    writeFileSync(
      path.join(dir, file),
      panels(
        `Delivered vs offered rate, ${size}-byte payload (1 hop)`,
        `every search trial of every relay; ${r.meta.quick ? 'quick run, ' : ''}${r.meta.trialSeconds} s trials${gmax ? `; the generator alone reaches ${siShort(gmax)} pps` : ''}`,
        [
          {
            panelTitle: 'all relays (log-log)',
            title: '',
            x: { label: 'offered rate (packets/s, log scale)', log: true },
            y: { label: 'delivered rate (packets/s, log scale)', log: true },
            series,
            diagonal: 'delivered = offered',
          },
          {
            panelTitle: 'the same, linear axes',
            title: '',
            x: { label: 'offered rate (packets/s)', min: 0, max: maxX },
            y: { label: 'delivered rate (packets/s)', min: 0, max: maxX },
            series,
            diagonal: 'delivered = offered',
          },
        ],
        [...series.map((s) => ({ name: s.name, color: s.color })), { name: 'delivered = offered', color: '#999999', dashed: true }],
        ['filled marker: lossless trial; hollow: packets lost.', 'A relay follows the diagonal until it saturates; its highest filled marker is its maximum lossless rate.'],
      ),
    );
    out.push({ file, title: `Delivered vs offered, ${size} B`, scenario: 'throughput' });
  }
  const ids = order(searches.map((s) => s.relay));
  const file = 'throughput-max.svg';
  writeFileSync(
    path.join(dir, file),
    barChart({
      title: 'Maximum lossless rate by payload size (1 hop)',
      subtitle: 'offered rate of the best trial with delivered = offered exactly (kernel interface counters)',
      groups: sizes.map((s) => `${s} B`),
      groupLabel: 'UDP payload size',
      y: { label: 'max lossless rate (packets/s)' },
      bars: ids.map((id) => {
        const vals = sizes.map((size) => searches.find((s) => s.relay === id && s.size === size));
        return {
          id,
          name: labelOf(id, searches),
          color: colorOf(id),
          values: vals.map((s) => (s && !s.skipped ? s.maxLosslessPps : null)),
          labels: vals.map((s) => (s && !s.skipped ? `${pps(s.maxLosslessPps)}${s.generatorLimited ? '*' : ''}` : null)),
        };
      }),
      legendNotes: ['* generator-limited: lossless at the highest rate the generator reached', 'n/a: not run'],
    }),
  );
  out.push({ file, title: 'Maximum lossless rate by payload size', scenario: 'throughput' });
}

function latencyChart(r: Results, out: Chart[], dir: string): void {
  const sc = r.scenarios.latency;
  const points = sc?.summary?.points ?? [];
  if (points.length === 0) return;
  const ids = order(points.map((p) => p.relay));
  const loads = [...new Set(points.map((p) => p.loadPct))].sort((a, b) => a - b);
  const panel = (key: 'p50' | 'p99' | 'p999', title: string) => ({
    panelTitle: title,
    title,
    x: { label: "load (% of the relay's max lossless rate)" },
    y: { label: 'one-way latency (log scale)', log: true, format: usShort },
    categoriesX: loads.map((l) => `${l}%`),
    series: ids.map((id) => ({
      id,
      name: labelOf(id, points),
      color: colorOf(id),
      dashed: id === 'direct',
      points: points
        .filter((p) => p.relay === id && p[key] !== null)
        .map((p) => ({ x: loads.indexOf(p.loadPct), y: p[key] as number, label: `${p.loadPct}% (${siShort(p.offeredPps)} pps): ${p[key]} µs` })),
    })),
    hlines: key === 'p99' ? [{ y: 100, label: 'goal: p99 < 100 µs at 50%' }] : undefined,
  });
  const legend: LegendEntry[] = ids.map((id) => ({ name: labelOf(id, points), color: colorOf(id), dashed: id === 'direct' }));
  const file = 'latency.svg';
  writeFileSync(
    path.join(dir, file),
    panels(
      'One-way latency through each relay (1400-byte payload)',
      'generator -> relay -> receiver, send timestamps in the payload, same clock; 10/50/90% of each relay\'s own max lossless rate',
      [panel('p50', 'median (p50)'), panel('p99', 'p99'), panel('p999', 'p99.9')],
      legend,
      ['dashed grey: no relay (the generator + kernel + receiver floor, at mcr\'s rates)'],
    ),
  );
  out.push({ file, title: 'Latency percentiles', scenario: 'latency' });
}

function groupedSearchChart(
  r: Results,
  out: Chart[],
  dir: string,
  scenario: 'fanout' | 'streams',
  title: string,
  subtitle: string,
  groupLabel: string,
  key: (s: SearchSummary) => number,
  groupName: (n: number) => string,
): void {
  const sc = r.scenarios[scenario];
  const searches = sc?.summary?.searches ?? [];
  if (searches.length === 0) return;
  const groups = [...new Set(searches.map(key))].sort((a, b) => a - b);
  const ids = order(searches.map((s) => s.relay));
  const file = `${scenario}.svg`;
  writeFileSync(
    path.join(dir, file),
    barChart({
      title,
      subtitle,
      groups: groups.map(groupName),
      groupLabel,
      y: { label: scenario === 'fanout' ? 'max lossless input rate (packets/s)' : 'max lossless aggregate rate (packets/s)' },
      bars: ids.map((id) => {
        const vals = groups.map((g) => searches.find((s) => s.relay === id && key(s) === g));
        return {
          id,
          name: labelOf(id, searches),
          color: colorOf(id),
          values: vals.map((s) => (s && !s.skipped ? s.maxLosslessPps : null)),
          labels: vals.map((s) =>
            s && !s.skipped ? (scenario === 'fanout' && s.fanout > 1 ? `${pps(s.maxLosslessPps)}\nout ${pps(s.outputPps)}` : `${pps(s.maxLosslessPps)}${s.generatorLimited ? '*' : ''}`) : null,
          ),
        };
      }),
      legendNotes: scenario === 'fanout' ? ['labels: input rate, and the output rate it means (input x N)', '* generator-limited', 'n/a: not run'] : ['* generator-limited', 'n/a: not run'],
    }),
  );
  out.push({ file, title, scenario });
}

function pipelineChart(r: Results, out: Chart[], dir: string): void {
  const run = r.scenarios.pipeline?.summary?.seedRun;
  const hops = run?.hops;
  if (!hops || hops.length === 0) return;
  const groups = ['seed: historical', 'seed: regressed', ...hops.map((h) => `this run: ${h.hop}`)];
  const ingress = [SEED.historical.ingressPps, SEED.regressed.ingressPps, ...hops.map((h) => h.ingressPps)];
  const egress = [SEED.historical.egressPps, SEED.regressed.egressPps, ...hops.map((h) => h.egressPps)];
  const file = 'pipeline.svg';
  writeFileSync(
    path.join(dir, file),
    barChart({
      title: '3-hop pipeline: per-hop ingress and egress rate',
      subtitle: `gen -> mcr1 -> mcr2 -> mcr3, 1400 B, target 1M pps, ${siShort(run?.count ?? 0)} packets; generator reached ${siShort(run?.generatorPps ?? 0)} pps. Seed figures: other hardware.`,
      groups,
      groupLabel: 'hop (seed figures are for MCR-1 of the old relay)',
      y: { label: 'packets/s (packets / generator elapsed time)' },
      bars: [
        { id: 'in', name: 'ingress (recv)', color: '#1f5fbf', values: ingress },
        { id: 'out', name: 'egress (egr_sent)', color: '#7fb3e6', values: egress },
      ],
      legendNotes: ['Seed: 490k/307k historical, 123k/83k regressed, measured on different hardware; compare shapes, not absolute pps.'],
    }),
  );
  out.push({ file, title: '3-hop pipeline vs the seed', scenario: 'pipeline' });
}

function controlChart(r: Results, out: Chart[], dir: string): void {
  const s = r.scenarios.control?.summary;
  if (!s?.load) return;
  const ops = ['add', 'remove', 'stats'];
  const series = [
    { id: 'pi', name: 'protocol, idle', color: '#9bbbe0', t: s.idle?.protocol },
    { id: 'pl', name: 'protocol, under load', color: '#1f5fbf', t: s.load.protocol },
    { id: 'cl', name: 'mcrctl CLI, under load', color: '#e67e00', t: s.load.cli },
  ];
  const file = 'control.svg';
  writeFileSync(
    path.join(dir, file),
    barChart({
      title: 'Control plane latency while forwarding at 90% of max',
      subtitle: 'p99 per operation (bar), p50 in the label; protocol = one request on an open connection, CLI = a whole mcrctl process',
      groups: ops,
      groupLabel: 'operation',
      y: { label: 'milliseconds (log scale)', log: true, format: (v) => (v < 1 ? String(v) : siShort(v)) },
      bars: series.map((x) => ({
        id: x.id,
        name: x.name,
        color: x.color,
        values: ops.map((o) => x.t?.[o]?.p99 ?? null),
        labels: ops.map((o) => (x.t?.[o] ? `p50 ${fmtMs(x.t[o].p50)}` : null)),
      })),
    }),
  );
  out.push({ file, title: 'Control plane latency', scenario: 'control' });
}

/** RSS of mcrd and of its data plane over the soak, MiB against seconds, with the fitted lines. */
function soakChart(r: Results, out: Chart[], dir: string): void {
  const s = r.scenarios.soak?.summary;
  if (!s?.memory?.mcrd?.length) return;
  const procs = [
    { key: 'mcrd', name: 'mcrd', color: '#1f5fbf', light: '#8fb3e8' },
    { key: 'dataplane', name: 'data plane', color: '#e67e00', light: '#f4bf7a' },
  ] as const;
  const series: Series[] = [];
  for (const p of procs) {
    const samples = s.memory[p.key];
    const g = s.memory.growth[p.key];
    series.push({ id: p.key, name: `${p.name} VmRSS`, color: p.color, noMarkers: true, points: samples.map((x) => ({ x: x.t, y: x.rssKiB / 1024 })) });
    series.push({ id: `${p.key}-anon`, name: `${p.name} RssAnon`, color: p.light, noMarkers: true, points: samples.map((x) => ({ x: x.t, y: x.anonKiB / 1024 })) });
    series.push({
      id: `${p.key}-fit`,
      name: `fit: ${g.slopeKiBPerS >= 0 ? '+' : ''}${g.slopeKiBPerS.toFixed(2)} KiB/s${g.growing ? ', GROWING' : ''}`,
      color: p.color,
      dashed: true,
      noMarkers: true,
      points: [
        { x: g.fitFrom.t, y: g.fitFrom.mib },
        { x: g.fitTo.t, y: g.fitTo.mib },
      ],
    });
  }
  const file = 'soak-rss.svg';
  writeFileSync(
    path.join(dir, file),
    lineChart({
      title: 'Soak: resident memory of mcrd and its data plane',
      subtitle: `${s.durationS} s at ${siShort(s.offeredPps)} pps in, 1:2 fan-out, ${s.control.opsPerS} control ops/s; /proc/PID/status every ${s.memory.intervalS} s`,
      x: { label: 'time since the stream started (s)', min: 0 },
      y: { label: 'MiB', min: 0 },
      series,
      legendNotes: [
        `dashed: least-squares line through RssAnon after the ${s.memory.rule.warmupS} s warm-up; a process fails when it rises more than max(${s.memory.rule.minMiB} MiB, ${s.memory.rule.fraction * 100}% of its RssAnon) over the window.`,
        'VmRSS also counts shared and file pages (the 14 MB counter file, the addon).',
      ],
    }),
  );
  out.push({ file, title: 'Soak: RSS over time', scenario: 'soak' });
}

function fmtMs(v: number): string {
  return v >= 10 ? `${Math.round(v)}` : v.toFixed(2);
}

/** Writes every chart the results allow; returns them in report order. */
export function writeCharts(r: Results, dir: string): Chart[] {
  const out: Chart[] = [];
  const guard = (fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      process.stderr.write(`bench: chart failed: ${(err as Error).message}\n`);
    }
  };
  guard(() => throughputCharts(r, out, dir));
  guard(() => pipelineChart(r, out, dir));
  guard(() =>
    groupedSearchChart(r, out, dir, 'fanout', 'Fan-out: maximum lossless input rate', '1400 B; one input stream to N output groups on one interface; delivered = sink packets / N', 'outputs per input', (s) => s.fanout, (n) => `1:${n}`),
  );
  guard(() =>
    groupedSearchChart(r, out, dir, 'streams', 'Many streams: maximum lossless aggregate rate', '1400 B; N input groups at equal rates, one generator process each', 'input streams', (s) => s.streams, (n) => `${n} stream${n > 1 ? 's' : ''}`),
  );
  guard(() => latencyChart(r, out, dir));
  guard(() => controlChart(r, out, dir));
  guard(() => soakChart(r, out, dir));
  return out;
}

