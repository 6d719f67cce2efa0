// SPDX-License-Identifier: MIT
// The charts of a results set, written as SVG next to results.json: delivered vs offered rate per
// relay (one chart per payload size), maximum lossless rates, latency percentiles, fan-out,
// many streams, the 3-hop pipeline against the seed's figures, control-plane timings, and the
// soak's memory over time. Each chart is a Vega-Lite spec (one small function per kind below)
// rendered to SVG by vega, headless.
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
// vega-lite is an ES module; its types are imported in ESM resolution from this CommonJS build.
type TopLevelSpec = import('vega-lite', { with: { 'resolution-mode': 'import' }}).TopLevelSpec;
import { relayInfo, relayOrder } from './relays/registry';
import { SEED } from './scenarios/pipeline';
import { formatCompact as compact } from '../src/cli/table';
import type { Results, SearchSummary } from './types';

export interface Chart {
  file: string;
  title: string;
  scenario: string;
}

// The spec functions build plain objects and cast them once, at the end, to TopLevelSpec: its
// types want every string literal narrowed ('quantitative', 'log'...). vega-lite warns about or
// rejects what it cannot compile, and tests/unit/charts.test.ts draws every kind and reads its text.
type Spec = TopLevelSpec;
type Row = Record<string, string | number | boolean | null>;

/** A legend entry: the series name, its colour and whether its line is dashed. */
interface SeriesStyle {
  name: string;
  color: string;
  dashed?: boolean;
}

const GRID = '#e8e8e8';
const CONFIG = {
  font: 'DejaVu Sans, Helvetica, Arial, sans-serif',
  background: 'white',
  padding: 16,
  title: { fontSize: 18, subtitleFontSize: 12, subtitleColor: '#555', subtitlePadding: 6, anchor: 'middle', offset: 14 },
  axis: { labelFontSize: 11, titleFontSize: 13, titleFontWeight: 'normal', gridColor: GRID, labelColor: '#333', titleColor: '#222' },
  header: { titleFontSize: 14, labelFontSize: 14, labelFontWeight: 'bold' },
  legend: { labelFontSize: 12, titleFontSize: 12, labelLimit: 0, symbolStrokeWidth: 2.5, symbolSize: 120 },
  view: { stroke: '#888' },
} as const;

/** Axis labels as 10k / 1.5M (d3's SI format without trailing zeros). */
const SI_LABELS = "format(datum.value, '~s')";
/** Microseconds as "50 µs" or "3 ms". */
const US_LABELS = "datum.value >= 1000 ? format(datum.value / 1000, '~s') + ' ms' : format(datum.value, '~s') + ' µs'";

/** The shared colour (and dash) scale of a set of series: one legend, registry colours. */
function seriesScales(series: SeriesStyle[], symbolType: 'stroke' | 'square' = 'stroke') {
  const legend = { title: null, orient: 'right', symbolType };
  return {
    color: { field: 'name', type: 'nominal', scale: { domain: series.map((s) => s.name), range: series.map((s) => s.color) }, legend },
    strokeDash: {
      field: 'name',
      type: 'nominal',
      scale: { domain: series.map((s) => s.name), range: series.map((s) => (s.dashed ? [6, 4] : [1, 0])) },
      legend,
    },
  } as const;
}

/** A log scale over whole decades around `values`, with tick values 1-2-5 (1-3 past 2 decades) apart. */
function logScale(values: number[]): { scale: { type: 'log'; domain: [number, number] }; ticks: number[] } {
  const pos = values.filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...pos)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...pos)) - 1e-9);
  const steps = Math.log10(hi / lo) > 2 ? [1, 3] : [1, 2, 5];
  const ticks: number[] = [];
  for (let d = lo; d <= hi; d *= 10) for (const m of steps) if (d * m <= hi * 1.0001) ticks.push(d * m);
  return { scale: { type: 'log', domain: [lo, hi] }, ticks };
}

function title(text: string, subtitle: string[]) {
  return { text, subtitle };
}

/** Kind 1: rate against rate, one line per relay; filled markers where the trial was lossless. */
function deliveredVsOfferedSpec(o: { title: string; subtitle: string[]; rows: Row[]; series: SeriesStyle[]; maxX: number }): Spec {
  const diagonal: SeriesStyle = { name: 'delivered = offered', color: '#999999', dashed: true };
  const all = [...o.series, diagonal];
  const scales = seriesScales(all);
  const panel = (log: boolean) => {
    const ls = logScale([...o.rows.flatMap((r) => [Number(r.x), Number(r.y)]), o.maxX]);
    const [lo, hi] = log ? ls.scale.domain : [0, o.maxX];
    const axis = (what: string) => ({
      title: `${what} rate (packets/s${log ? ', log scale' : ''})`,
      labelExpr: SI_LABELS,
      grid: true,
      ...(log ? { values: ls.ticks } : {}),
    });
    const scale = log ? { ...ls.scale, clamp: true } : { domain: [0, hi], nice: true };
    const x = { field: 'x', type: 'quantitative', scale, axis: axis('offered') };
    const y = { field: 'y', type: 'quantitative', scale, axis: axis('delivered') };
    const rows = log ? o.rows.filter((r) => Number(r.x) > 0 && Number(r.y) > 0) : o.rows;
    return {
      title: log ? 'all relays (log-log)' : 'the same, linear axes',
      width: 400,
      height: 360,
      layer: [
        {
          data: {
            values: [
              { name: diagonal.name, x: lo || 1, y: lo || 1 },
              { name: diagonal.name, x: hi, y: hi },
            ],
          },
          mark: { type: 'line', strokeWidth: 1.5, clip: true },
          encoding: { x, y, ...scales },
        },
        {
          data: { values: rows },
          mark: { type: 'line', strokeWidth: 2, clip: true },
          encoding: { x, y, order: { field: 'x' }, ...scales },
        },
        // filled markers: lossless trials; hollow (white inside): packets lost
        ...[true, false].map((lossless) => ({
          data: { values: rows.filter((r) => r.lossless === lossless) },
          mark: {
            type: 'point',
            size: 70,
            strokeWidth: 2,
            opacity: 1,
            clip: true,
            filled: lossless,
            ...(lossless ? {} : { fill: 'white' }),
          },
          encoding: { x, y, color: scales.color, tooltip: { field: 'tip' } },
        })),
      ],
    };
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: title(o.title, o.subtitle),
    config: CONFIG,
    bounds: 'flush',
    spacing: 110,
    hconcat: [panel(true), panel(false)],
  } as Spec;
}

/** Kind 2: grouped bars (one bar per series in each group), the value written on each bar. */
function groupedBarSpec(o: {
  title: string;
  subtitle: string[];
  groups: string[];
  groupLabel: string;
  yLabel: string;
  log?: boolean;
  series: SeriesStyle[];
  rows: Row[];
}): Spec {
  const scales = seriesScales(o.series, 'square');
  const present = o.rows.filter((r) => r.value !== null);
  const x = { field: 'group', type: 'nominal', sort: o.groups, axis: { title: o.groupLabel, labelAngle: 0, labelFontSize: 12 } };
  const xOffset = { field: 'name', type: 'nominal', sort: o.series.map((s) => s.name), scale: { paddingInner: 0.06 } };
  const ls = o.log ? logScale(present.map((r) => Number(r.value))) : undefined;
  const y = {
    field: 'value',
    type: 'quantitative',
    // headroom for the labels written above the bars
    scale: ls ? ls.scale : { zero: true, nice: true, domainMax: Math.max(...present.map((r) => Number(r.value))) * 1.2 },
    axis: {
      title: o.yLabel,
      ...(ls
        ? { values: ls.ticks, labelExpr: "datum.value < 1 ? format(datum.value, '~g') : format(datum.value, '~s')" }
        : { labelExpr: SI_LABELS, tickCount: 8 }),
    },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: title(o.title, o.subtitle),
    config: CONFIG,
    width: Math.max(640, o.groups.length * o.series.length * 42),
    height: 400,
    layer: [
      // on a log scale a bar starts at the bottom of the axis, not at 0
      {
        data: { values: present },
        mark: { type: 'bar' },
        encoding: { x, xOffset, y, ...(ls ? { y2: { datum: ls.scale.domain[0] } } : {}), color: scales.color, tooltip: { field: 'label' } },
      },
      {
        data: {
          values: o.rows
            .map((r) => (r.value === null ? { ...r, value: o.log ? null : 0, label: 'n/a' } : r))
            .filter((r) => r.value !== null || !o.log),
        },
        mark: { type: 'text', angle: 270, align: 'left', baseline: 'middle', dx: 4, fontSize: 11, color: '#333' },
        encoding: { x, xOffset, y, text: { field: 'label' } },
      },
    ],
  } as Spec;
}

/** Kind 3: a line per series over a category axis, one panel per percentile, log y in µs. */
function percentilePanelsSpec(o: {
  title: string;
  subtitle: string[];
  loads: string[];
  series: SeriesStyle[];
  panels: Array<{ title: string; rows: Row[]; goal?: { y: number; label: string } }>;
}): Spec {
  const scales = seriesScales(o.series);
  const panel = (p: (typeof o.panels)[number]) => {
    const x = {
      field: 'load',
      type: 'ordinal',
      sort: o.loads,
      axis: { title: "load (% of the relay's max lossless rate)", labelAngle: 0 },
      scale: { padding: 0.5 },
    };
    const ls = logScale(p.rows.map((r) => Number(r.us)));
    const y = {
      field: 'us',
      type: 'quantitative',
      scale: ls.scale,
      axis: { title: 'one-way latency (log scale)', labelExpr: US_LABELS, values: ls.ticks },
    };
    const layers: object[] = [
      {
        mark: { type: 'line', strokeWidth: 2, point: { size: 60, filled: true } },
        encoding: { x, y, ...scales, tooltip: { field: 'tip' } },
      },
    ];
    if (p.goal)
      layers.push(
        {
          data: { values: [{ us: p.goal.y }] },
          mark: { type: 'rule', color: '#c0392b', strokeDash: [4, 3] },
          encoding: { y: { field: 'us', type: 'quantitative' } },
        },
        {
          data: { values: [{ us: p.goal.y, text: p.goal.label }] },
          mark: { type: 'text', color: '#c0392b', align: 'right', baseline: 'bottom', x: 'width', dx: -4, dy: -3, fontSize: 11 },
          encoding: { y: { field: 'us', type: 'quantitative' }, text: { field: 'text' } },
        },
      );
    return { title: p.title, width: 240, height: 360, data: { values: p.rows }, layer: layers };
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: title(o.title, o.subtitle),
    config: CONFIG,
    bounds: 'flush',
    spacing: 100,
    hconcat: o.panels.map(panel),
  } as Spec;
}

/** Kind 4: lines over time (no markers); dashed series for fitted lines. */
function timeLinesSpec(o: { title: string; subtitle: string[]; xLabel: string; yLabel: string; series: SeriesStyle[]; rows: Row[] }): Spec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: title(o.title, o.subtitle),
    config: CONFIG,
    width: 620,
    height: 400,
    data: { values: o.rows },
    mark: { type: 'line', strokeWidth: 2 },
    encoding: {
      x: { field: 'x', type: 'quantitative', scale: { zero: true, nice: false }, axis: { title: o.xLabel } },
      y: { field: 'y', type: 'quantitative', scale: { zero: true, nice: true }, axis: { title: o.yLabel } },
      ...seriesScales(o.series),
    },
  } as Spec;
}

/**
 * Kind 5: one marker per trial against its place in the run, a colour per configuration, each
 * configuration's median as a dashed line across the panel, and optionally a grey noise band.
 */
function trialPanelsSpec(o: {
  title: string;
  subtitle: string[];
  series: SeriesStyle[];
  trials: number;
  panels: Array<{ title: string; yLabel: string; rows: Row[]; medians: Row[]; band?: { lo: number; hi: number; label: string } }>;
}): Spec {
  const base = seriesScales(o.series, 'square').color;
  const color = { ...base, legend: { ...base.legend, orient: 'top', direction: 'horizontal' } };
  const panel = (p: (typeof o.panels)[number]) => {
    const x = {
      field: 'x',
      type: 'quantitative',
      scale: { domain: [0, o.trials + 1], nice: false },
      axis: { title: 'trial, in the order run', tickMinStep: 1, format: 'd' },
    };
    const y = { field: 'y', type: 'quantitative', scale: { zero: true, nice: true }, axis: { title: p.yLabel, labelExpr: SI_LABELS } };
    const layers: object[] = [];
    if (p.band)
      layers.push(
        {
          data: { values: [{ lo: p.band.lo, hi: p.band.hi }] },
          mark: { type: 'rect', color: '#bbbbbb', opacity: 0.35 },
          encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } },
        },
        {
          data: { values: [{ hi: p.band.hi, text: p.band.label }] },
          mark: { type: 'text', color: '#555', align: 'left', baseline: 'bottom', x: 4, dy: -2, fontSize: 11 },
          encoding: { y: { field: 'hi', type: 'quantitative' }, text: { field: 'text' } },
        },
      );
    layers.push(
      {
        data: { values: p.medians },
        mark: { type: 'rule', strokeDash: [6, 4], strokeWidth: 1.5 },
        encoding: { y, color },
      },
      {
        data: { values: p.rows },
        mark: { type: 'point', size: 80, filled: true, opacity: 1 },
        encoding: { x, y, color, shape: { field: 'shape', type: 'nominal', legend: null }, tooltip: { field: 'tip' } },
      },
    );
    return { title: p.title, width: 380, height: 340, layer: layers };
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: title(o.title, o.subtitle),
    config: CONFIG,
    bounds: 'flush',
    spacing: 110,
    resolve: { scale: { color: 'shared' } },
    hconcat: o.panels.map(panel),
  } as Spec;
}

/**
 * Kind 6: a value against the offered rate, one panel per group (payload size), one line per
 * series through its medians, a min-max bar at each median and a small marker per trial.
 */
function ratePanelsSpec(o: {
  title: string;
  subtitle: string[];
  yLabel: string;
  series: SeriesStyle[];
  panels: Array<{ title: string; medians: Row[]; trials: Row[] }>;
}): Spec {
  const scales = seriesScales(o.series);
  const rates = o.panels.flatMap((p) => p.medians.map((r) => Number(r.x)));
  const x = {
    field: 'x',
    type: 'quantitative',
    scale: { domain: [0, Math.max(...rates, 1) * 1.08], nice: false },
    axis: { title: 'offered rate (packets/s)', labelExpr: SI_LABELS, values: [...new Set(rates)].sort((a, b) => a - b) },
  };
  const y = { field: 'y', type: 'quantitative', scale: { zero: true, nice: true }, axis: { title: o.yLabel, labelExpr: SI_LABELS } };
  const panel = (p: (typeof o.panels)[number]) => ({
    title: p.title,
    width: 380,
    height: 340,
    layer: [
      {
        data: { values: p.medians.filter((r) => r.lo !== null && r.hi !== null) },
        mark: { type: 'rule', strokeWidth: 1.5, opacity: 0.6 },
        encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color: scales.color },
      },
      {
        data: { values: p.medians },
        mark: { type: 'line', strokeWidth: 2, point: { size: 60, filled: true } },
        encoding: { x, y, order: { field: 'x' }, ...scales, tooltip: { field: 'tip' } },
      },
      {
        data: { values: p.trials },
        mark: { type: 'point', size: 18, opacity: 0.5 },
        encoding: { x, y, color: scales.color, tooltip: { field: 'tip' } },
      },
    ],
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: title(o.title, o.subtitle),
    config: CONFIG,
    bounds: 'flush',
    spacing: 90,
    resolve: { scale: { y: 'shared' } },
    hconcat: o.panels.map(panel),
  } as Spec;
}

/** The SVG of a Vega-Lite spec (vega and vega-lite are ES modules: loaded with import()). */
async function toSvg(spec: Spec): Promise<string> {
  const [vl, vega] = await Promise.all([import('vega-lite'), import('vega')]);
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const styleOf = (id: string, name = relayInfo(id).label): SeriesStyle => ({ name, color: relayInfo(id).color, dashed: id === 'direct' });

// --- data -> spec, per scenario --------------------------------------------------------------

interface Planned {
  chart: Chart;
  spec: Spec;
}

function throughputCharts(r: Results): Planned[] {
  const sc = r.scenarios.throughput;
  if (!sc || sc.trials.length === 0) return [];
  const out: Planned[] = [];
  const searches = sc.summary?.searches ?? [];
  const sizes = [...new Set(sc.trials.map((t) => t.size))].sort((a, b) => a - b);
  for (const size of sizes) {
    const trials = sc.trials.filter((t) => t.size === size);
    const ids = relayOrder(trials.map((t) => t.relay));
    const gmax = r.meta.generatorMaxPps[String(size)];
    const rows = trials.map((t) => ({
      name: relayInfo(t.relay).label,
      x: t.offeredPps,
      y: t.deliveredPps,
      lossless: t.lossless,
      tip: `offered ${compact(t.offeredPps)} pps, delivered ${compact(t.deliveredPps)} pps, loss ${t.lossPct.toFixed(2)}%`,
    }));
    const file = `throughput-${size}B.svg`;
    out.push({
      chart: { file, title: `Delivered vs offered, ${size} B`, scenario: 'throughput' },
      spec: deliveredVsOfferedSpec({
        title: `Delivered vs offered rate, ${size}-byte payload (1 hop)`,
        subtitle: [
          `every search trial of every relay; ${r.meta.quick ? 'quick run, ' : ''}${r.meta.trialSeconds} s trials${gmax ? `; the generator alone reaches ${compact(gmax)} pps` : ''}`,
          'filled marker: lossless trial; hollow: packets lost. A relay follows the diagonal until it saturates; its highest filled marker is its maximum lossless rate.',
        ],
        rows,
        series: ids.map((id) => styleOf(id)),
        maxX: Math.max(gmax ?? 0, ...trials.map((t) => t.offeredPps)) * 1.05,
      }),
    });
  }
  const ids = relayOrder(searches.map((s) => s.relay));
  out.push({
    chart: { file: 'throughput-max.svg', title: 'Maximum lossless rate by payload size', scenario: 'throughput' },
    spec: groupedBarSpec({
      title: 'Maximum lossless rate by payload size (1 hop)',
      subtitle: [
        'offered rate of the best trial with delivered = offered exactly (kernel interface counters)',
        '* generator-limited: lossless at the highest rate the generator reached; n/a: not run',
      ],
      groups: sizes.map((s) => `${s} B`),
      groupLabel: 'UDP payload size',
      yLabel: 'max lossless rate (packets/s)',
      series: ids.map((id) => styleOf(id)),
      rows: ids.flatMap((id) =>
        sizes.map((size) =>
          searchBar(
            id,
            `${size} B`,
            searches.find((s) => s.relay === id && s.size === size),
          ),
        ),
      ),
    }),
  });
  return out;
}

/** One bar of a search result: its max lossless rate, labelled, * when generator-limited. */
function searchBar(
  id: string,
  group: string,
  s: SearchSummary | undefined,
  label = (x: SearchSummary) => `${compact(x.maxLosslessPps)}${x.generatorLimited ? '*' : ''}`,
): Row {
  const ok = s && !s.skipped;
  return { name: relayInfo(id).label, group, value: ok ? s.maxLosslessPps : null, label: ok ? label(s) : 'n/a' };
}

function latencyChart(r: Results): Planned[] {
  const points = r.scenarios.latency?.summary?.points ?? [];
  if (points.length === 0) return [];
  const ids = relayOrder(points.map((p) => p.relay));
  const loads = [...new Set(points.map((p) => p.loadPct))].sort((a, b) => a - b).map((l) => `${l}%`);
  const panel = (key: 'p50' | 'p99' | 'p999', panelTitle: string) => ({
    title: panelTitle,
    rows: points
      .filter((p) => p[key] !== null)
      .map((p) => ({
        name: relayInfo(p.relay).label,
        load: `${p.loadPct}%`,
        us: p[key],
        tip: `${p.loadPct}% (${compact(p.offeredPps)} pps): ${p[key]} µs`,
      })),
    goal: key === 'p99' ? { y: 100, label: 'goal: p99 < 100 µs at 50%' } : undefined,
  });
  return [
    {
      chart: { file: 'latency.svg', title: 'Latency percentiles', scenario: 'latency' },
      spec: percentilePanelsSpec({
        title: 'One-way latency through each relay (1400-byte payload)',
        subtitle: [
          "generator -> relay -> receiver, send timestamps in the payload, same clock; 10/50/90% of each relay's own max lossless rate",
          "dashed grey: no relay (the generator + kernel + receiver floor, at mcr's rates)",
        ],
        loads,
        series: ids.map((id) => styleOf(id)),
        panels: [panel('p50', 'median (p50)'), panel('p99', 'p99'), panel('p999', 'p99.9')],
      }),
    },
  ];
}

function searchGroupsChart(r: Results, scenario: 'fanout' | 'streams'): Planned[] {
  const searches = r.scenarios[scenario]?.summary?.searches ?? [];
  if (searches.length === 0) return [];
  const fanout = scenario === 'fanout';
  const key = (s: SearchSummary): number => (fanout ? s.fanout : s.streams);
  const groupName = (n: number): string => (fanout ? `1:${n}` : `${n} stream${n > 1 ? 's' : ''}`);
  const groups = [...new Set(searches.map(key))].sort((a, b) => a - b);
  const ids = relayOrder(searches.map((s) => s.relay));
  const title = fanout ? 'Fan-out: maximum lossless input rate' : 'Many streams: maximum lossless aggregate rate';
  const label = (s: SearchSummary): string =>
    fanout && s.fanout > 1
      ? `${compact(s.maxLosslessPps)}, out ${compact(s.outputPps)}`
      : `${compact(s.maxLosslessPps)}${s.generatorLimited ? '*' : ''}`;
  return [
    {
      chart: { file: `${scenario}.svg`, title, scenario },
      spec: groupedBarSpec({
        title,
        subtitle: fanout
          ? [
              '1400 B; one input stream to N output groups on one interface; delivered = sink packets / N',
              'labels: input rate, and the output rate it means (input x N); * generator-limited; n/a: not run',
            ]
          : ['1400 B; N input groups at equal rates, one generator process each', '* generator-limited; n/a: not run'],
        groups: groups.map(groupName),
        groupLabel: fanout ? 'outputs per input' : 'input streams',
        yLabel: fanout ? 'max lossless input rate (packets/s)' : 'max lossless aggregate rate (packets/s)',
        series: ids.map((id) => styleOf(id)),
        rows: ids.flatMap((id) =>
          groups.map((g) =>
            searchBar(
              id,
              groupName(g),
              searches.find((s) => s.relay === id && key(s) === g),
              label,
            ),
          ),
        ),
      }),
    },
  ];
}

function pipelineChart(r: Results): Planned[] {
  const run = r.scenarios.pipeline?.summary?.seedRun;
  if (!run || run.hops.length === 0) return [];
  const bars = [
    { group: 'seed: historical', ingressPps: SEED.historical.ingressPps, egressPps: SEED.historical.egressPps },
    { group: 'seed: regressed', ingressPps: SEED.regressed.ingressPps, egressPps: SEED.regressed.egressPps },
    ...run.hops.map((h) => ({ group: `this run: ${h.hop}`, ingressPps: h.ingressPps, egressPps: h.egressPps })),
  ];
  const groups = bars.map((b) => b.group);
  const series = [
    { name: 'ingress (recv)', color: '#1f5fbf', field: 'ingressPps' as const },
    { name: 'egress (egr_sent)', color: '#7fb3e6', field: 'egressPps' as const },
  ];
  return [
    {
      chart: { file: 'pipeline.svg', title: '3-hop pipeline vs the seed', scenario: 'pipeline' },
      spec: groupedBarSpec({
        title: '3-hop pipeline: per-hop ingress and egress rate',
        subtitle: [
          `gen -> mcr1 -> mcr2 -> mcr3, 1400 B, target 1M pps, ${compact(run.count)} packets; generator reached ${compact(run.generatorPps)} pps.`,
          'Seed: 490k/307k historical, 123k/83k regressed, measured on different hardware; compare shapes, not absolute pps.',
        ],
        groups,
        groupLabel: 'hop (seed figures are for MCR-1 of the old relay)',
        yLabel: 'packets/s (packets / generator elapsed time)',
        series,
        rows: series.flatMap((s) => bars.map((b) => ({ name: s.name, group: b.group, value: b[s.field], label: compact(b[s.field]) }))),
      }),
    },
  ];
}

function controlChart(r: Results): Planned[] {
  const s = r.scenarios.control?.summary;
  if (!s?.load) return [];
  const ops = ['add', 'remove', 'stats'];
  const series = [
    { name: 'protocol, idle', color: '#9bbbe0', t: s.idle?.protocol },
    { name: 'protocol, under load', color: '#1f5fbf', t: s.load.protocol },
    { name: 'mcrctl CLI, under load', color: '#e67e00', t: s.load.cli },
  ];
  const ms = (v: number): string => (v >= 10 ? `${Math.round(v)}` : v.toFixed(2));
  return [
    {
      chart: { file: 'control.svg', title: 'Control plane latency', scenario: 'control' },
      spec: groupedBarSpec({
        title: 'Control plane latency while forwarding at 90% of max',
        subtitle: ['p99 per operation (bar), p50 in the label; protocol = one request on an open connection, CLI = a whole mcrctl process'],
        groups: ops,
        groupLabel: 'operation',
        yLabel: 'milliseconds (log scale)',
        log: true,
        series,
        rows: series.flatMap((x) =>
          ops.map((o) => ({ name: x.name, group: o, value: x.t?.[o]?.p99 ?? null, label: x.t?.[o] ? `p50 ${ms(x.t[o].p50)}` : 'n/a' })),
        ),
      }),
    },
  ];
}

/** RSS of mcrd and of its data plane over the soak, MiB against seconds, with the fitted lines. */
function soakChart(r: Results): Planned[] {
  const s = r.scenarios.soak?.summary;
  if (!s?.memory?.mcrd?.length) return [];
  const procs = [
    { key: 'mcrd', name: 'mcrd', color: '#1f5fbf', light: '#8fb3e8' },
    { key: 'dataplane', name: 'data plane', color: '#e67e00', light: '#f4bf7a' },
  ] as const;
  const series: SeriesStyle[] = [];
  const rows: Row[] = [];
  for (const p of procs) {
    const samples = s.memory[p.key];
    const g = s.memory.growth[p.key];
    const signed = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(2)} KiB/s`;
    const fit = `${p.name} fit: ${signed(g.slopeKiBPerS)}`;
    const tail = `${p.name} second half: ${signed(g.tailSlopeKiBPerS)}${g.growing ? ', GROWING' : ''}`;
    series.push(
      { name: `${p.name} VmRSS`, color: p.color },
      { name: `${p.name} RssAnon`, color: p.light },
      { name: fit, color: p.light, dashed: true },
      { name: tail, color: p.color, dashed: true },
    );
    rows.push(
      ...samples.map((x) => ({ name: `${p.name} VmRSS`, x: x.t, y: x.rssKiB / 1024 })),
      ...samples.map((x) => ({ name: `${p.name} RssAnon`, x: x.t, y: x.anonKiB / 1024 })),
      { name: fit, x: g.fitFrom.t, y: g.fitFrom.mib },
      { name: fit, x: g.fitTo.t, y: g.fitTo.mib },
      { name: tail, x: g.tailFrom.t, y: g.tailFrom.mib },
      { name: tail, x: g.tailTo.t, y: g.tailTo.mib },
    );
  }
  return [
    {
      chart: { file: 'soak-rss.svg', title: 'Soak: RSS over time', scenario: 'soak' },
      spec: timeLinesSpec({
        title: 'Soak: resident memory of mcrd and its data plane',
        subtitle: [
          `${s.durationS} s at ${compact(s.offeredPps)} pps in, 1:2 fan-out, ${s.control.opsPerS} control ops/s; /proc/PID/status every ${s.memory.intervalS} s`,
          `dashed: least-squares lines through RssAnon after the ${s.memory.rule.warmupS} s warm-up and over the second half of that window;`,
          `a process fails when the second half's line rises more than max(${s.memory.rule.minMiB} MiB, ${s.memory.rule.fraction * 100}% of its RssAnon).`,
          'VmRSS also counts shared and file pages (the 14 MB counter file, the addon).',
        ],
        xLabel: 'time since the stream started (s)',
        yLabel: 'MiB',
        series,
        rows,
      }),
    },
  ];
}

/** The telemetry scenario: relay-added CPU per packet and mcrd's CPU, every trial, off against on. */
function telemetryChart(r: Results): Planned[] {
  const s = r.scenarios.telemetry?.summary;
  if (!s?.trials?.length) return [];
  const configs = [
    { id: 'off', name: 'telemetry off', color: '#1f5fbf' },
    { id: 'on', name: 'OTLP export + scraping on', color: '#e67e00' },
  ] as const;
  const valid = s.trials.filter((t) => t.config !== 'gen' && t.problems.length === 0);
  const rowsOf = (value: (t: (typeof valid)[number]) => number | null | undefined, unit: string, digits: number): Row[] =>
    valid.flatMap((t) => {
      const v = value(t);
      const c = configs.find((x) => x.id === t.config);
      return v === null || v === undefined || !c
        ? []
        : [
            {
              name: c.name,
              x: t.order,
              y: v,
              shape: t.config,
              tip: `#${t.order} ${t.config}: ${v.toFixed(digits)} ${unit} (load ${t.loadavg1.toFixed(2)})`,
            },
          ];
    });
  const mediansOf = (key: 'relayAddedNsPerPacket' | 'mcrdMsPerS'): Row[] =>
    configs.flatMap((c) => {
      const m = s[c.id][key].median;
      return m === null ? [] : [{ name: c.name, y: m }];
    });
  const band =
    s.noiseBand.min !== null && s.noiseBand.max !== null
      ? { lo: s.noiseBand.min, hi: s.noiseBand.max, label: "noise band: the off trials' range" }
      : undefined;
  const ratio = (x: number | null): string => (x === null ? '?' : `${x.toFixed(2)}x`);
  return [
    {
      chart: { file: 'telemetry.svg', title: 'Cost of telemetry export', scenario: 'telemetry' },
      spec: trialPanelsSpec({
        title: 'What OTLP export and Prometheus scraping cost mcr',
        subtitle: [
          `mcr, 1 worker, ${s.size} B at ${compact(s.ratePps)} pps 1:1, every batch traced; ${s.rounds} rounds, ${s.trialS} s windows; load average ${s.loadBefore[0]} at the start`,
          `dashed: medians. on/off: relay-added CPU ${ratio(s.ratios.relayAddedNsPerPacket)}, mcrd CPU ${s.off.mcrdMsPerS.median?.toFixed(1) ?? '?'} -> ${s.on.mcrdMsPerS.median?.toFixed(1) ?? '?'} ms/s; spans exported ${s.on.spansExportedPerS.median === null ? '?' : compact(s.on.spansExportedPerS.median)}/s`,
          'relay-added CPU = machine busy CPU - generator alone (median) - the OTLP sink, per packet delivered',
        ],
        series: configs.map((c) => ({ name: c.name, color: c.color })),
        trials: Math.max(...s.trials.map((t) => t.order)),
        panels: [
          {
            title: 'relay-added CPU per packet',
            yLabel: 'ns of CPU per packet',
            rows: rowsOf((t) => t.figures?.relayAddedNsPerPacket, 'ns/packet', 0),
            medians: mediansOf('relayAddedNsPerPacket'),
            band,
          },
          {
            title: "mcrd's own CPU (all its threads)",
            yLabel: 'ms of CPU per second',
            rows: rowsOf((t) => t.figures?.mcrdMsPerS, 'ms/s', 1),
            medians: mediansOf('mcrdMsPerS'),
          },
        ],
      }),
    },
  ];
}

/** The efficiency scenario: relay-added CPU per packet against the offered rate, per relay, one panel per payload size. */
function efficiencyChart(r: Results): Planned[] {
  const s = r.scenarios.efficiency?.summary;
  if (!s?.cells?.length) return [];
  const ids = relayOrder(s.relays);
  const round = (v: number | null): string => (v === null ? '?' : Math.round(v).toLocaleString('en-US'));
  const panels = s.sizes.map((size) => ({
    title: `${size}-byte payload`,
    medians: s.cells.flatMap((c) =>
      c.size !== size || c.relayAddedNsPerPacket.median === null
        ? []
        : [
            {
              name: relayInfo(c.relay).label,
              x: c.ratePps,
              y: c.relayAddedNsPerPacket.median,
              lo: c.relayAddedNsPerPacket.min,
              hi: c.relayAddedNsPerPacket.max,
              tip: `${c.relay} ${size} B ${compact(c.ratePps)} pps: ${round(c.relayAddedNsPerPacket.median)} ns/packet (${round(c.relayAddedNsPerPacket.min)}-${round(c.relayAddedNsPerPacket.max)}), ${c.valid}/${c.trials} trials`,
            },
          ],
    ),
    trials: s.trials.flatMap((t) => {
      const v = t.figures?.relayAddedNsPerPacket;
      return t.size !== size || t.relay === 'gen' || t.problems.length > 0 || v === null || v === undefined
        ? []
        : [
            {
              name: relayInfo(t.relay).label,
              x: t.ratePps,
              y: v,
              tip: `#${t.order} ${t.relay} rep ${t.rep}: ${round(v)} ns/packet (load ${t.loadavg1.toFixed(2)})`,
            },
          ];
    }),
  }));
  return [
    {
      chart: { file: 'efficiency.svg', title: 'Relay-added CPU per packet', scenario: 'efficiency' },
      spec: ratePanelsSpec({
        title: 'Relay-added CPU per forwarded packet',
        subtitle: [
          `one stream 1:1, ${s.repetitions} interleaved repetitions of ${s.trialS} s windows; ${s.setAside.length} of ${s.trials.length} trials set aside (loss or pacing); load average ${s.loadBefore[0]} at the start`,
          'relay-added CPU = (machine busy CPU - the generator alone at the same rate and size, median) / packets delivered',
          'lines: medians; bars: min-max of the valid trials; small markers: each trial. Lower is better.',
        ],
        yLabel: 'ns of CPU per packet',
        series: ids.map((id) => styleOf(id)),
        panels,
      }),
    },
  ];
}

/** Writes every chart the results allow; returns them in report order. */
export async function writeCharts(r: Results, dir: string): Promise<Chart[]> {
  const out: Chart[] = [];
  const kinds: Array<() => Planned[]> = [
    () => throughputCharts(r),
    () => pipelineChart(r),
    () => searchGroupsChart(r, 'fanout'),
    () => searchGroupsChart(r, 'streams'),
    () => latencyChart(r),
    () => controlChart(r),
    () => soakChart(r),
    () => telemetryChart(r),
    () => efficiencyChart(r),
  ];
  for (const kind of kinds) {
    try {
      for (const p of kind()) {
        await writeFile(path.join(dir, p.chart.file), await toSvg(p.spec));
        out.push(p.chart);
      }
    } catch (err) {
      process.stderr.write(`bench: chart failed: ${(err as Error).message}\n`);
    }
  }
  return out;
}
