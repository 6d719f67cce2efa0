// SPDX-License-Identifier: MIT
// A small hand-written SVG plotting kit for the bench charts: linear and log axes with "nice"
// ticks and units, line/scatter charts, grouped bar charts and a legend, in readable fonts.
// No dependency; every chart is a standalone .svg file a browser or a Markdown viewer shows.

export const FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";

/** One colour per relay, the same in every chart. */
export const RELAY_COLORS: Record<string, string> = {
  'mcr-1w': '#1f5fbf',
  'mcr-2w': '#8e44ad',
  'mcr-3hop': '#1f5fbf',
  kernel: '#2e9e44',
  'c-relay': '#e67e00',
  node: '#d62728',
  socat: '#795548',
  direct: '#7f7f7f',
};

export function colorOf(id: string): string {
  return RELAY_COLORS[id] ?? '#444444';
}

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Microseconds as "50 µs" or "3 ms". */
export function usShort(v: number): string {
  return v >= 1000 ? `${siShort(v / 1000)} ms` : `${siShort(v)} µs`;
}

/** 1234 -> "1.2k", 1500000 -> "1.5M". */
export function siShort(v: number): string {
  const a = Math.abs(v);
  const trim = (x: number): string => String(Number(x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2)));
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e3) return `${trim(v / 1e3)}k`;
  if (a >= 1 || a === 0) return trim(v);
  return String(Number(v.toPrecision(2)));
}

/** Splits a note into lines of at most `width` characters (at spaces). */
export function wrap(text: string, width = 34): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const word of text.split(/\s+/)) {
    if (cur && (cur + ' ' + word).length > width) {
      lines.push(cur);
      cur = word;
    } else cur = cur ? `${cur} ${word}` : word;
  }
  if (cur) lines.push(cur);
  return lines;
}

function notesSvg(notes: string[], x: number, y: number): string {
  return notes
    .flatMap((n) => [...wrap(n), ''])
    .map((l, i) => (l ? `<text x="${x}" y="${y + i * 17}" font-size="12" fill="#555">${esc(l)}</text>` : ''))
    .join('\n');
}

export interface Axis {
  label: string;
  log?: boolean;
  min?: number;
  max?: number;
  format?: (v: number) => string;
}

interface Scale {
  map: (v: number) => number;
  ticks: number[];
  lo: number;
  hi: number;
}

function niceStep(range: number, target: number): number {
  const raw = range / target;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function makeScale(values: number[], axis: Axis, pxLo: number, pxHi: number): Scale {
  const finite = values.filter((v) => Number.isFinite(v) && (!axis.log || v > 0));
  if (axis.log) {
    let lo = axis.min ?? Math.min(...finite);
    let hi = axis.max ?? Math.max(...finite);
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [1, 10];
    lo = 10 ** Math.floor(Math.log10(lo) + 1e-9);
    hi = 10 ** Math.ceil(Math.log10(hi) - 1e-9);
    if (hi <= lo) hi = lo * 10;
    const decades = Math.log10(hi / lo);
    const mult = decades <= 2 ? [1, 2, 5] : decades <= 4 ? [1, 3] : [1];
    const ticks: number[] = [];
    for (let d = lo; d <= hi * 1.0001; d *= 10) for (const m of mult) if (d * m <= hi * 1.0001) ticks.push(d * m);
    const L = Math.log10(lo);
    const H = Math.log10(hi);
    return { lo, hi, ticks, map: (v) => pxLo + ((Math.log10(Math.max(v, lo)) - L) / (H - L)) * (pxHi - pxLo) };
  }
  const lo = axis.min ?? Math.min(0, ...finite);
  let hi = axis.max ?? Math.max(...finite, lo + 1);
  const step = niceStep(hi - lo || 1, 5);
  hi = Math.ceil(hi / step - 1e-9) * step;
  if (hi <= lo) hi = lo + step;
  const ticks: number[] = [];
  for (let v = lo; v <= hi + step / 1000; v += step) ticks.push(Number(v.toPrecision(12)));
  return { lo, hi, ticks, map: (v) => pxLo + ((v - lo) / (hi - lo)) * (pxHi - pxLo) };
}

export interface Series {
  id: string;
  name: string;
  color: string;
  points: Array<{ x: number; y: number; filled?: boolean; label?: string }>;
  dashed?: boolean;
  /** draw points only, no connecting line */
  noLine?: boolean;
  /** draw the line only, no marker per point (long time series) */
  noMarkers?: boolean;
}

export interface Frame {
  x: number;
  y: number;
  w: number;
  h: number;
}

const W = 960;
const H = 560;

function header(title: string, subtitle: string | undefined, width: number, height: number): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="30" text-anchor="middle" font-size="20" font-weight="bold" fill="#222">${esc(title)}</text>`,
    subtitle ? `<text x="${width / 2}" y="52" text-anchor="middle" font-size="13" fill="#555">${esc(subtitle)}</text>` : '',
  ].join('\n');
}

function axes(f: Frame, xs: Scale, ys: Scale, xAxis: Axis, yAxis: Axis, xCategories?: string[]): string {
  const out: string[] = [];
  const fx = xAxis.format ?? siShort;
  const fy = yAxis.format ?? siShort;
  for (const t of ys.ticks) {
    const y = ys.map(t);
    out.push(`<line x1="${f.x}" y1="${y}" x2="${f.x + f.w}" y2="${y}" stroke="#e3e3e3" stroke-width="1"/>`);
    out.push(`<text x="${f.x - 8}" y="${y + 4}" text-anchor="end" font-size="12" fill="#333">${esc(fy(t))}</text>`);
  }
  if (xCategories) {
    xCategories.forEach((c, i) => {
      const x = f.x + ((i + 0.5) / xCategories.length) * f.w;
      out.push(`<text x="${x}" y="${f.y + f.h + 20}" text-anchor="middle" font-size="13" fill="#333">${esc(c)}</text>`);
    });
  } else {
    for (const t of xs.ticks) {
      const x = xs.map(t);
      out.push(`<line x1="${x}" y1="${f.y}" x2="${x}" y2="${f.y + f.h}" stroke="#eeeeee" stroke-width="1"/>`);
      out.push(`<line x1="${x}" y1="${f.y + f.h}" x2="${x}" y2="${f.y + f.h + 5}" stroke="#333"/>`);
      out.push(`<text x="${x}" y="${f.y + f.h + 20}" text-anchor="middle" font-size="12" fill="#333">${esc(fx(t))}</text>`);
    }
  }
  out.push(`<rect x="${f.x}" y="${f.y}" width="${f.w}" height="${f.h}" fill="none" stroke="#555" stroke-width="1"/>`);
  out.push(`<text x="${f.x + f.w / 2}" y="${f.y + f.h + 44}" text-anchor="middle" font-size="14" fill="#222">${esc(xAxis.label)}</text>`);
  const cy = f.y + f.h / 2;
  out.push(`<text x="${f.x - 62}" y="${cy}" text-anchor="middle" font-size="14" fill="#222" transform="rotate(-90 ${f.x - 62} ${cy})">${esc(yAxis.label)}</text>`);
  return out.join('\n');
}

export interface LegendEntry {
  name: string;
  color: string;
  dashed?: boolean;
  /** box: a filled square; line: a plain line without the marker dot */
  kind?: 'line' | 'box';
}

function legend(entries: LegendEntry[], x: number, y: number): string {
  const out: string[] = [];
  entries.forEach((e, i) => {
    const yy = y + i * 24;
    if (e.kind === 'box') out.push(`<rect x="${x}" y="${yy - 9}" width="22" height="14" fill="${e.color}"/>`);
    else if (e.kind === 'line' && !e.dashed) out.push(`<line x1="${x}" y1="${yy - 2}" x2="${x + 22}" y2="${yy - 2}" stroke="${e.color}" stroke-width="3"/>`);
    else {
      out.push(`<line x1="${x}" y1="${yy - 2}" x2="${x + 22}" y2="${yy - 2}" stroke="${e.color}" stroke-width="3"${e.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
      if (!e.dashed) out.push(`<circle cx="${x + 11}" cy="${yy - 2}" r="4" fill="${e.color}"/>`);
    }
    out.push(`<text x="${x + 30}" y="${yy + 3}" font-size="13" fill="#222">${esc(e.name)}</text>`);
  });
  return out.join('\n');
}

function seriesSvg(s: Series, xs: Scale, ys: Scale): string {
  const out: string[] = [];
  const pts = [...s.points].filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
  if (!s.noLine && pts.length > 1) {
    const d = pts.map((p, i) => `${i ? 'L' : 'M'}${xs.map(p.x).toFixed(1)},${ys.map(p.y).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="7 5"' : ''} stroke-linejoin="round"/>`);
  }
  for (const p of s.noMarkers ? [] : pts) {
    const cx = xs.map(p.x).toFixed(1);
    const cy = ys.map(p.y).toFixed(1);
    out.push(`<circle cx="${cx}" cy="${cy}" r="4.5" fill="${p.filled === false ? '#ffffff' : s.color}" stroke="${s.color}" stroke-width="2"><title>${esc(`${s.name}: ${p.label ?? `${siShort(p.x)}, ${siShort(p.y)}`}`)}</title></circle>`);
  }
  return out.join('\n');
}

export interface LineChart {
  title: string;
  subtitle?: string;
  x: Axis;
  y: Axis;
  series: Series[];
  /** draw y = x (delivered = offered) */
  diagonal?: string;
  /** horizontal reference lines */
  hlines?: Array<{ y: number; label: string; color?: string }>;
  /** extra legend lines under the series (e.g. marker meaning) */
  legendNotes?: string[];
  categoriesX?: string[];
}

/** A line/scatter chart with the legend on the right. */
export function lineChart(c: LineChart): string {
  const f: Frame = { x: 100, y: 75, w: W - 100 - 270, h: H - 75 - 80 };
  return [header(c.title, c.subtitle, W, H), linePanel(c, f), legendBlock(c, f.x + f.w + 24, f.y + 14), '</svg>'].join('\n');
}

function legendBlock(c: LineChart, x: number, y: number): string {
  const entries: LegendEntry[] = c.series.map((s) => ({ name: s.name, color: s.color, dashed: s.dashed, kind: s.noMarkers && !s.dashed ? 'line' : undefined }));
  if (c.diagonal) entries.push({ name: c.diagonal, color: '#999999', dashed: true });
  return [legend(entries, x, y), notesSvg(c.legendNotes ?? [], x, y + entries.length * 24 + 14)].join('\n');
}

/** The plotting area of a line chart (used alone or as one panel of several). */
export function linePanel(c: LineChart, f: Frame): string {
  const xsVals = c.categoriesX ? [0, c.categoriesX.length - 1] : c.series.flatMap((s) => s.points.map((p) => p.x));
  const ysVals = c.series.flatMap((s) => s.points.map((p) => p.y)).concat((c.hlines ?? []).map((h) => h.y));
  if (c.diagonal) ysVals.push(...xsVals);
  const xs = c.categoriesX
    ? { lo: 0, hi: c.categoriesX.length - 1, ticks: [], map: (v: number) => f.x + ((v + 0.5) / (c.categoriesX?.length ?? 1)) * f.w }
    : makeScale(c.diagonal ? xsVals.concat(ysVals) : xsVals, c.x, f.x, f.x + f.w);
  const ys = makeScale(c.diagonal ? ysVals.concat(xsVals) : ysVals, c.y, f.y + f.h, f.y);
  const out = [axes(f, xs, ys, c.x, c.y, c.categoriesX)];
  out.push(`<clipPath id="clip${f.x}"><rect x="${f.x}" y="${f.y}" width="${f.w}" height="${f.h}"/></clipPath>`);
  out.push(`<g clip-path="url(#clip${f.x})">`);
  if (c.diagonal) {
    const lo = Math.max(xs.lo, ys.lo);
    const hi = Math.min(xs.hi, ys.hi);
    out.push(`<line x1="${xs.map(lo)}" y1="${ys.map(lo)}" x2="${xs.map(hi)}" y2="${ys.map(hi)}" stroke="#999" stroke-width="1.5" stroke-dasharray="6 4"/>`);
  }
  for (const h of c.hlines ?? []) {
    const y = ys.map(h.y);
    out.push(`<line x1="${f.x}" y1="${y}" x2="${f.x + f.w}" y2="${y}" stroke="${h.color ?? '#c0392b'}" stroke-width="1.5" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${f.x + f.w - 6}" y="${y - 6}" text-anchor="end" font-size="12" fill="${h.color ?? '#c0392b'}">${esc(h.label)}</text>`);
  }
  for (const s of c.series) out.push(seriesSvg(s, xs, ys));
  out.push('</g>');
  return out.join('\n');
}

/** Several line panels side by side sharing one legend (e.g. p50 | p99 | p99.9). */
export function panels(title: string, subtitle: string | undefined, charts: Array<LineChart & { panelTitle: string }>, legendEntries: LegendEntry[], notes: string[] = []): string {
  const width = 1320;
  const height = 540;
  const legendW = 300;
  const gap = 95;
  const left = 95;
  const pw = (width - left - legendW - gap * (charts.length - 1)) / charts.length;
  const out = [header(title, subtitle, width, height)];
  charts.forEach((c, i) => {
    const f: Frame = { x: left + i * (pw + gap), y: 95, w: pw, h: height - 95 - 80 };
    out.push(`<text x="${f.x + f.w / 2}" y="${f.y - 12}" text-anchor="middle" font-size="15" font-weight="bold" fill="#222">${esc(c.panelTitle)}</text>`);
    out.push(linePanel(c, f));
  });
  const lx = width - legendW + 20;
  out.push(legend(legendEntries, lx, 110));
  out.push(notesSvg(notes, lx, 110 + legendEntries.length * 24 + 16));
  out.push('</svg>');
  return out.join('\n');
}

export interface BarChart {
  title: string;
  subtitle?: string;
  groups: string[];
  groupLabel: string;
  y: Axis;
  bars: Array<{ id: string; name: string; color: string; values: Array<number | null>; labels?: Array<string | null> }>;
  hlines?: Array<{ y: number; label: string; color?: string }>;
  legendNotes?: string[];
}

/** Grouped vertical bars, value printed above each bar; null = not run (a small "n/a"). */
export function barChart(c: BarChart): string {
  const width = c.groups.length * c.bars.length > 14 ? 1100 : W;
  const f: Frame = { x: 100, y: 75, w: width - 100 - 270, h: H - 75 - 80 };
  const gw = f.w / c.groups.length;
  const inner = gw * 0.8;
  const bw = inner / c.bars.length;
  // narrow bars get their value label turned upright, which needs headroom above the tallest bar
  const upright = bw < 46;
  const vals = c.bars.flatMap((b) => b.values.filter((v): v is number => v !== null && v > 0)).concat((c.hlines ?? []).map((h) => h.y));
  const top = Math.max(...(vals.length ? vals : [1]));
  const headroom = upright && !c.y.log ? { max: c.y.max ?? top * 1.22 } : {};
  const ys = makeScale(vals.length ? vals : [1], { ...c.y, ...headroom, min: c.y.min ?? (c.y.log ? undefined : 0) }, f.y + f.h, f.y);
  const out = [header(c.title, c.subtitle, width, H), axes(f, ys, ys, { label: c.groupLabel }, c.y, c.groups)];
  const fy = c.y.format ?? siShort;
  c.groups.forEach((_, g) => {
    c.bars.forEach((b, i) => {
      const v = b.values[g];
      const x = f.x + g * gw + (gw - inner) / 2 + i * bw;
      if (v === null || v === undefined) {
        out.push(`<text x="${x + bw / 2}" y="${f.y + f.h - 6}" text-anchor="middle" font-size="11" fill="#999">n/a</text>`);
        return;
      }
      const y0 = ys.map(c.y.log ? ys.lo : 0);
      const y1 = ys.map(Math.max(v, c.y.log ? ys.lo : 0));
      out.push(`<rect x="${(x + 1).toFixed(1)}" y="${Math.min(y0, y1).toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${Math.abs(y0 - y1).toFixed(1)}" fill="${b.color}"><title>${esc(`${b.name}, ${c.groups[g]}: ${fy(v)}`)}</title></rect>`);
      const label = b.labels?.[g] ?? fy(v);
      if (label && upright) {
        const lx = x + bw / 2 + 4;
        const ly = Math.min(y0, y1) - 5;
        out.push(`<text x="${lx.toFixed(1)}" y="${ly.toFixed(1)}" transform="rotate(-90 ${lx.toFixed(1)} ${ly.toFixed(1)})" font-size="12" fill="#222">${esc(label.replace('\n', ', '))}</text>`);
      } else if (label) {
        const fs = 12;
        const lines = label.split('\n');
        lines.forEach((l, j) => {
          const ly = Math.min(y0, y1) - 5 - (lines.length - 1 - j) * (fs + 2);
          out.push(`<text x="${(x + bw / 2).toFixed(1)}" y="${ly.toFixed(1)}" text-anchor="middle" font-size="${fs}" fill="#222">${esc(l)}</text>`);
        });
      }
    });
  });
  for (const h of c.hlines ?? []) {
    const y = ys.map(h.y);
    out.push(`<line x1="${f.x}" y1="${y}" x2="${f.x + f.w}" y2="${y}" stroke="${h.color ?? '#c0392b'}" stroke-width="1.5" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${f.x + f.w - 6}" y="${y - 6}" text-anchor="end" font-size="12" fill="${h.color ?? '#c0392b'}">${esc(h.label)}</text>`);
  }
  const lx = f.x + f.w + 24;
  out.push(legend(c.bars.map((b) => ({ name: b.name, color: b.color, kind: 'box' as const })), lx, f.y + 14));
  out.push(notesSvg(c.legendNotes ?? [], lx, f.y + 14 + c.bars.length * 24 + 14));
  out.push('</svg>');
  return out.join('\n');
}
