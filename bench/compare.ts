// SPDX-License-Identifier: MIT
// `npm run bench:compare -- A B`: compares two result sets (results directories, results.json
// files, or bench/baseline.json) figure by figure and names every figure that moved more than its
// noise band. A report, not a gate: exit 0 unless an input is unreadable.
// `npm run bench:compare -- --write-baseline RESULTS` makes bench/baseline.json from a result set.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { formatTable } from '../src/cli/table';
import { allFigures, LOWER_IS_BETTER, outsideBand, ratioFigures, type Figure } from './figures';
import { BASELINE } from './paths';
import type { Results } from './types';

export interface Baseline {
  comment: string;
  source: {
    date: string;
    gitCommit: string;
    kernel: string;
    cpuModel: string;
    nproc: number;
    quick: boolean;
    tuneHostApplied: boolean;
    results?: string;
  };
  /** figures added with --write-baseline --add: their scenario (the figures' first name part) -> the run they come from */
  addedSources?: Record<string, Baseline['source']>;
  figures: Record<string, Figure>;
}

interface Loaded {
  label: string;
  figures: Record<string, Figure>;
  isBaseline: boolean;
  quick?: boolean;
}

function load(arg: string): Loaded {
  let file = arg;
  if (existsSync(arg) && statSync(arg).isDirectory()) file = path.join(arg, 'results.json');
  const data = JSON.parse(readFileSync(file, 'utf8')) as Partial<Results> & Partial<Baseline>;
  if (data.figures && data.source)
    return {
      label: `${arg} (baseline of ${data.source.date}, ${data.source.gitCommit.slice(0, 12)})`,
      figures: data.figures,
      isBaseline: true,
    };
  if (data.meta && data.scenarios) {
    const r = data as Results;
    return {
      label: `${arg} (${r.meta.date}, ${r.meta.gitCommit.slice(0, 12)}${r.meta.quick ? ', quick' : ''})`,
      figures: allFigures(r),
      isBaseline: false,
      quick: r.meta.quick,
    };
  }
  throw new Error(`${file}: neither a results.json nor a baseline.json`);
}

function pct(a: number, b: number): number {
  return a === 0 ? (b === 0 ? 0 : Infinity) : (b - a) / Math.abs(a);
}

/** ±30% for the usual bands; a factor (x10) for the wide ones, where a percentage misleads. */
function fmtBand(band: number): string {
  return band >= 1 ? `x${round1(1 + band)}` : `±${Math.round(band * 100)}%`;
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

export function compare(aArg: string, bArg: string): string {
  const a = load(aArg);
  const b = load(bArg);
  const names = [...new Set([...Object.keys(a.figures), ...Object.keys(b.figures)])].sort();
  const common = names.flatMap((n) => {
    const fa = a.figures[n];
    const fb = b.figures[n];
    return fa && fb ? [{ n, fa, fb }] : [];
  });
  const rows: string[][] = [];
  const moved: string[] = [];
  for (const { n, fa, fb } of common) {
    // a baseline's band is the reference; otherwise the wider of the two
    const band = a.isBaseline ? fa.band : b.isBaseline ? fb.band : Math.max(fa.band, fb.band);
    const change = pct(fa.value, fb.value);
    const out = outsideBand(change, band);
    // for latency, control timings and CPU per packet, lower is better
    const better = LOWER_IS_BETTER.includes(fa.kind) ? change < 0 : change > 0;
    // a lower bound (generator-limited mcr, or a peer with no lossless rate) moves only as a bound
    const bound = fa.lowerBound || fb.lowerBound ? ', involves a lower bound' : '';
    const flag = out ? `MOVED (${better ? 'better' : 'worse'}${bound})` : '';
    if (out)
      moved.push(`${n}: ${fmtV(fa)} -> ${fmtV(fb)} (${fmtPct(change)}, band ${fmtBand(band)})${better ? ', better' : ', worse'}${bound}`);
    rows.push([n, fmtV(fa), fmtV(fb), fmtPct(change), fmtBand(band), flag]);
  }
  const lines: string[] = [];
  lines.push(`A: ${a.label}`, `B: ${b.label}`);
  if (a.quick || b.quick) lines.push('note: a quick run is compared; quick trials are short and noisier than the bands assume');
  lines.push('');
  if (rows.length) lines.push(formatTable(['figure', 'A', 'B', 'change', 'band', ''], rows, (column) => column > 0 && column < 5));
  else lines.push('no figure in common');
  const onlyA = names.filter((n) => a.figures[n] && !b.figures[n]);
  const onlyB = names.filter((n) => !a.figures[n] && b.figures[n]);
  if (onlyA.length) lines.push('', `only in A (${onlyA.length}): ${onlyA.join(', ')}`);
  if (onlyB.length) lines.push('', `only in B (${onlyB.length}): ${onlyB.join(', ')}`);
  lines.push(
    '',
    moved.length
      ? `${moved.length} of ${common.length} figures moved beyond their noise band:`
      : `none of ${common.length} figures moved beyond its noise band`,
  );
  for (const m of moved) lines.push(`  ${m}`);
  return `${lines.join('\n')}\n`;
}

function fmtV(f: Figure): string {
  const v = f.unit === 'pps' ? Math.round(f.value).toLocaleString('en-US') : String(f.value);
  return `${f.lowerBound ? '>=' : ''}${v}${f.unit === 'x' ? 'x' : f.unit === 'pps' ? '' : ` ${f.unit}`}`;
}

function fmtPct(x: number): string {
  if (!Number.isFinite(x)) return 'new';
  return `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
}

const BASELINE_COMMENT =
  "Reference figures for `npm run bench:compare`: ratios of mcr's maximum lossless rate to peers measured in the same run (not absolute pps, which depend on the machine), and (efficiency.*) of mcr's relay-added CPU per packet to peers', lower is better, each band from the quartiles of its per-repetition ratios in that run, widened to the change to a repeated run. band = relative noise band; see docs/benchmarks.md. Regenerate with `npm run bench:compare -- --write-baseline bench/results/<run>`; `--add` replaces only the scenarios that run measured (addedSources names the run each came from).";

function sourceOf(r: Results, file: string): Baseline['source'] {
  return {
    date: r.meta.date,
    gitCommit: r.meta.gitCommit,
    kernel: r.meta.kernel,
    cpuModel: r.meta.cpuModel,
    nproc: r.meta.nproc,
    quick: r.meta.quick,
    tuneHostApplied: r.meta.tuneHostApplied,
    results: path.relative(process.cwd(), file),
  };
}

/** The first part of a figure's name: its scenario. */
const scenarioOf = (name: string): string => name.split('.')[0] ?? name;

/**
 * A baseline from one result set: ratio figures only, each with its noise band. With `onto` (an
 * existing baseline), only the scenarios this result set has figures for are replaced; the
 * others stay, with their source.
 */
export function makeBaseline(resultsArg: string, onto?: Baseline, repeats: string[] = []): Baseline {
  const readResults = (arg: string): { file: string; r: Results } => {
    const file = existsSync(arg) && statSync(arg).isDirectory() ? path.join(arg, 'results.json') : arg;
    return { file, r: JSON.parse(readFileSync(file, 'utf8')) as Results };
  };
  const { file, r } = readResults(resultsArg);
  const figures = ratioFigures(r);
  // a repeated run of the same code widens each band to hold the change between the runs
  for (const rep of repeats) {
    const other = ratioFigures(readResults(rep).r);
    for (const [name, f] of Object.entries(figures)) {
      const o = other[name];
      if (!o || o.value <= 0 || f.value <= 0) continue;
      const moved = Math.max(o.value / f.value, f.value / o.value) - 1;
      if (moved > f.band) f.band = Math.ceil(moved * 100) / 100;
    }
  }
  if (!onto) return { comment: BASELINE_COMMENT, source: sourceOf(r, file), figures };
  const replaced = new Set(Object.keys(figures).map(scenarioOf));
  const kept = Object.fromEntries(Object.entries(onto.figures).filter(([n]) => !replaced.has(scenarioOf(n))));
  const addedSources = { ...onto.addedSources };
  for (const sc of replaced) addedSources[sc] = sourceOf(r, file);
  const src = sourceOf(r, file);
  const again = repeats.length
    ? `, bands widened to the change to the repeated run${repeats.length > 1 ? 's' : ''} ${repeats.join(', ')}`
    : '';
  const added = [...replaced]
    .map((sc) => `${sc}.* from ${src.results} (${src.date}, commit ${src.gitCommit.slice(0, 12)}${again})`)
    .join('; ');
  return { comment: `${BASELINE_COMMENT} Added: ${added}.`, source: onto.source, addedSources, figures: { ...kept, ...figures } };
}

function main(argv: string[]): number {
  let code = 0;
  const program: Command = new Command('npm run bench:compare --')
    .usage('A B | RESULTS | --write-baseline RESULTS [--out FILE]')
    .description(
      'A, B, RESULTS: a results directory (bench/results/<timestamp>), its results.json, or a baseline.json.\n' +
        'With A and B: every figure A -> B with its change, flagging those outside their noise band.\n' +
        'With RESULTS alone: the same against bench/baseline.json. Exit 0 unless a file cannot be read.',
    )
    .argument('[a]', 'the earlier results (or the only one, compared with bench/baseline.json)')
    .argument('[b]', 'the later results')
    .option('--write-baseline <results>', 'write the ratio figures of RESULTS as the baseline')
    .option('--out <file>', 'with --write-baseline: where to write it (default bench/baseline.json)')
    .option('--add', "with --write-baseline: replace only the scenarios RESULTS measured, keep the baseline's others")
    .option(
      '--repeat <results>',
      'with --write-baseline: a repeated run of the same code; each band is widened to hold the change between the runs (repeatable)',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .configureOutput({ outputError: (text, write) => write(`bench:compare: ${text.replace(/^error: /, '')}`) })
    .showHelpAfterError()
    .exitOverride()
    .action(
      (a: string | undefined, b: string | undefined, o: { writeBaseline?: string; out?: string; add?: boolean; repeat?: string[] }) => {
        if (o.writeBaseline) {
          const out = o.out ?? BASELINE;
          const onto = o.add ? (JSON.parse(readFileSync(out, 'utf8')) as Baseline) : undefined;
          const base = makeBaseline(o.writeBaseline, onto, o.repeat);
          if (base.source.quick) process.stderr.write('bench:compare: warning: this baseline comes from a quick run\n');
          writeFileSync(out, `${JSON.stringify(base, null, 2)}\n`);
          process.stdout.write(`wrote ${out}: ${Object.keys(base.figures).length} figures from ${o.writeBaseline}\n`);
          return;
        }
        if (!a) return program.error('give A B, or RESULTS, or --write-baseline RESULTS', { exitCode: 2 });
        process.stdout.write(b ? compare(a, b) : compare(BASELINE, a));
      },
    );
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    // commander's own exits (--help 0, usage errors) arrive here as CommanderError
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    process.stderr.write(`bench:compare: ${(err as Error).message}\n`);
    code = 1;
  }
  return code;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
