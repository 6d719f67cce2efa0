// SPDX-License-Identifier: MIT
// The flame graph of `npm run profile -- js` as numbers. Reads V8's preprocessed tick log (the
// JSON `node --prof-process --preprocess` makes, which 0x writes beside the log when it renders
// it): one sample per tick of mcrd's main thread, each with the VM state V8 was in and its stack.
// Prints how the samples split by state (idle in the event loop, JS, GC, compiling, native
// calls), the top functions by self samples, and the share of samples under each part of mcrd.
//
//   node dist/profiling/js-ticks.js OUT/js/isolate-…-v8.log.json [--top 15] [--from-ms A] [--to-ms B]
// --from-ms/--to-ms keep the ticks in that window, in ms from the first tick (as 0x's
// --collect-delay counts), so start-up and shutdown stay out of the figures.
import { readFileSync } from 'node:fs';

export interface CodeEntry {
  name: string;
  /** JS, CODE (V8 builtins and stubs), CPP (node's and V8's C++), SHARED_LIB */
  type: string;
  kind?: string;
}

export interface PreprocessedLog {
  code: CodeEntry[];
  /** vm: V8's StateTag; s: [code index, pc offset] pairs from the leaf to the root (-1: unknown) */
  ticks: { tm: number; vm: number; s: number[] }[];
}

/** V8's StateTag (include/v8-unwinder.h, V8 11.3 in Node 20). */
export const VM_STATES = ['JS', 'GC', 'PARSER', 'BYTECODE_COMPILER', 'COMPILER', 'OTHER', 'EXTERNAL', 'ATOMICS_WAIT', 'IDLE', 'LOGGING'];
const IDLE = VM_STATES.indexOf('IDLE');

export interface TickSummary {
  ticks: number;
  /** ticks by VM state name, most first */
  states: [string, number][];
  /** non-idle ticks */
  busy: number;
  /** [frame, ticks] of busy ticks by the innermost frame V8 could name, most first */
  topLeaf: [string, number][];
  /** [JS function, ticks] of busy ticks by the innermost JS frame (native callees charged to it) */
  topJs: [string, number][];
  /** [part, busy ticks with a frame of that part anywhere on the stack], most first */
  inclusive: [string, number][];
}

/** A frame's name with its location shortened: "fn /abs/dist/src/a/b.js:12:3" -> "fn src/a/b.js:12". */
export function frameLabel(frame: CodeEntry): string {
  if (frame.type !== 'JS') return frame.name;
  const m = /^(.*?) ?(\S+):(\d+):\d+$/.exec(frame.name);
  if (!m) return frame.name;
  const fn = m[1] === '' ? '(anonymous)' : (m[1] ?? '');
  let file = m[2] ?? '';
  const nodeModules = file.lastIndexOf('/node_modules/');
  const dist = file.lastIndexOf('/dist/');
  if (nodeModules >= 0) file = file.slice(nodeModules + '/node_modules/'.length);
  else if (dist >= 0) file = file.slice(dist + '/dist/'.length);
  return `${fn} ${file}:${m[3]}`;
}

/** Which part a JS frame belongs to, for the inclusive shares (undefined: not JS). */
export function framePart(frame: CodeEntry): string | undefined {
  if (frame.type !== 'JS') return undefined;
  const own = /\/dist\/src\/([a-z-]+)\//.exec(frame.name);
  if (own) return `mcr src/${own[1]}/`;
  const otel = /\/node_modules\/(@opentelemetry\/[a-z-]+)\//.exec(frame.name);
  if (otel) return otel[1];
  if (frame.name.includes('/node_modules/')) return 'other node_modules';
  if (/ node:/.test(frame.name)) return 'Node.js core (node:*)';
  return 'other JS';
}

/** The whole export path as one part: mcr's telemetry code, the span-ring drain, OpenTelemetry. */
export const TELEMETRY = 'telemetry, all of it (src/telemetry/, src/daemon/span-records, @opentelemetry/*)';
function isTelemetry(frame: CodeEntry, part: string): boolean {
  return part === 'mcr src/telemetry/' || part.startsWith('@opentelemetry/') || frame.name.includes('/dist/src/daemon/span-records.js');
}

const count = (m: Map<string, number>, key: string): void => {
  m.set(key, (m.get(key) ?? 0) + 1);
};
const most = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));

/** The ticks from fromMs to toMs after the first one (tm is in microseconds). */
export function windowed(log: PreprocessedLog, fromMs: number, toMs = Number.POSITIVE_INFINITY): PreprocessedLog {
  const first = log.ticks[0]?.tm ?? 0;
  return { code: log.code, ticks: log.ticks.filter((t) => t.tm - first >= fromMs * 1000 && t.tm - first <= toMs * 1000) };
}

export function summarize(log: PreprocessedLog, top = 15): TickSummary {
  const states = new Map<string, number>();
  const leaf = new Map<string, number>();
  const js = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  for (const tick of log.ticks) {
    count(states, VM_STATES[tick.vm] ?? `state ${tick.vm}`);
    if (tick.vm === IDLE) continue;
    busy++;
    // Leaf first, as 0x reads them: code indices at even positions, unknown ones (-1) left out.
    const stack: CodeEntry[] = [];
    for (let i = 0; i < tick.s.length; i += 2) {
      const code = log.code[tick.s[i] ?? -1];
      if (code) stack.push(code);
    }
    const innermost = stack[0];
    count(leaf, innermost ? frameLabel(innermost) : '(no frame V8 could name)');
    const innermostJs = stack.find((f) => f.type === 'JS');
    count(js, innermostJs ? frameLabel(innermostJs) : '(no JavaScript on the stack)');
    const parts = new Set<string>();
    for (const frame of stack) {
      const part = framePart(frame);
      if (part) parts.add(part);
      if (part && isTelemetry(frame, part)) parts.add(TELEMETRY);
    }
    for (const part of parts) count(inclusive, part);
  }
  return {
    ticks: log.ticks.length,
    states: most(states),
    busy,
    topLeaf: most(leaf).slice(0, top),
    topJs: most(js).slice(0, top),
    inclusive: most(inclusive),
  };
}

export function formatSummary(s: TickSummary): string {
  const pct = (n: number, of: number): string => `${((n / Math.max(1, of)) * 100).toFixed(1)}%`.padStart(6);
  const rows = (list: [string, number][], of: number): string[] =>
    list.map(([name, n]) => `  ${String(n).padStart(6)} ${pct(n, of)}  ${name}`);
  return [
    `V8 ticks of mcrd's main thread: ${s.ticks}, busy (not IDLE in the event loop) ${s.busy} = ${pct(s.busy, s.ticks).trim()}`,
    `  by VM state: ${s.states.map(([state, n]) => `${state} ${n}`).join(', ')}`,
    '',
    'busy ticks by the JS function on top of the stack (native code it called charged to it):',
    ...rows(s.topJs, s.busy),
    '',
    'busy ticks by the innermost frame (JS, V8 builtins, C++, libc):',
    ...rows(s.topLeaf, s.busy),
    '',
    'busy ticks with a frame of each part anywhere on the stack (inclusive; parts overlap):',
    ...rows(s.inclusive, s.busy),
  ].join('\n');
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const opt = (name: string, fallback: number): number => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : fallback;
  };
  const file = argv[0];
  if (!file || file.startsWith('--')) {
    process.stderr.write('usage: js-ticks.js PREPROCESSED_V8_LOG_JSON [--top N] [--from-ms A] [--to-ms B]\n');
    process.exit(2);
  }
  const fromMs = opt('--from-ms', 0);
  const toMs = opt('--to-ms', Number.POSITIVE_INFINITY);
  const log = windowed(JSON.parse(readFileSync(file, 'utf8')) as PreprocessedLog, fromMs, toMs);
  if (fromMs > 0 || Number.isFinite(toMs))
    process.stdout.write(`ticks from ${fromMs} ms to ${toMs} ms after the first (the load window)\n`);
  process.stdout.write(`${formatSummary(summarize(log, opt('--top', 15)))}\n`);
}
