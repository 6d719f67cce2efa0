// SPDX-License-Identifier: MIT
// `perf script` text -> folded stacks, a flame graph SVG, and the hot-path check: which share of
// the forwarding workers' samples sits under allocation, text formatting or pipe/file writes
// (the seed incident's costs). No downloads: the folding and the SVG are done here.
//
//   node dist/profiling/flamegraph.js PERF_SCRIPT_TXT OUT_DIR [--title TEXT] [--diff-base FOLDED]
//
// Writes OUT_DIR/stacks.folded, OUT_DIR/flamegraph.svg and OUT_DIR/hot-path.txt, and prints the
// hot-path summary. With --diff-base (another run's stacks.folded) also OUT_DIR/diff.svg: this
// run's flame graph coloured by how each frame's share of the samples changed against the base
// (red grew, blue shrank), Brendan Gregg's differential flame graph.
import { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

interface Sample {
  thread: string;
  cpu: number;
  /** root first */
  frames: string[];
}

/**
 * Parses `perf script -F comm,tid,cpu,ip,sym,dso` output: a header line per sample, then one
 * line per frame (leaf first), then a blank line.
 */
export function parsePerfScript(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    const header = lines.shift();
    if (!header) continue;
    const m = /^\s*(.+?)\s+\d+\s+\[(\d+)\]/.exec(header);
    if (!m) continue;
    const frames = lines
      .map((l) => {
        const f = /^\s*[0-9a-f]+\s+(.+?)\s+\((.*)\)\s*$/.exec(l);
        if (!f) return undefined;
        const sym = (f[1] ?? '[unknown]').replace(/\+0x[0-9a-f]+$/, '');
        const dso = f[2] ?? '';
        return sym === '[unknown]' ? `[${path.basename(dso) || 'unknown'}]` : sym + (dso.includes('kernel') ? '_[k]' : '');
      })
      .filter((f): f is string => f !== undefined)
      .reverse();
    samples.push({ thread: (m[1] ?? '?').trim(), cpu: Number(m[2]), frames });
  }
  return samples;
}

/** Thread names with their numbers folded (mcr-worker-0 and -1 stay apart; node threads merge). */
function threadKey(thread: string): string {
  return thread.startsWith('mcr-worker') ? thread : thread.replace(/\d+$/, '');
}

export function fold(samples: Sample[]): Map<string, number> {
  const folded = new Map<string, number>();
  for (const s of samples) {
    const key = [threadKey(s.thread), ...s.frames].join(';');
    folded.set(key, (folded.get(key) ?? 0) + 1);
  }
  return folded;
}

interface Node {
  name: string;
  count: number;
  children: Map<string, Node>;
}

function tree(folded: Map<string, number>): Node {
  const root: Node = { name: 'all', count: 0, children: new Map() };
  for (const [stack, count] of folded) {
    root.count += count;
    let node = root;
    for (const frame of stack.split(';')) {
      let child = node.children.get(frame);
      if (!child) {
        child = { name: frame, count: 0, children: new Map() };
        node.children.set(frame, child);
      }
      child.count += count;
      node = child;
    }
  }
  return root;
}

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Kernel frames orange, mcr's own code green, other userspace yellow, thread roots grey. */
function color(name: string, depth: number): string {
  if (depth === 1) return '#c8c8c8';
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  const v = h % 40;
  if (name.endsWith('_[k]')) return `rgb(${215 + (v % 40)},${100 + v},40)`;
  if (name.includes('mcr::')) return `rgb(${60 + v},${170 + (v % 50)},${70 + v})`;
  return `rgb(${220 + (v % 35)},${190 + v},${60 + v})`;
}

/** How one frame is drawn: its tooltip text and fill colour (plus a thin outline for pale fills). */
interface FrameStyle {
  tip: string;
  fill: string;
  outline?: boolean;
}

/**
 * The flame layout shared by both graphs: the thread at the bottom, callees stacked above their
 * callers, width = share of the root's samples. `style` gets each frame with the names from the
 * thread down to it.
 */
function renderFlame(root: Node, title: string, subtitle: string, style: (node: Node, path: string[]) => FrameStyle): string {
  const width = 1400;
  const rowH = 17;
  const top = 40;
  const depthOf = (node: Node): number => 1 + Math.max(0, ...[...node.children.values()].map(depthOf));
  const height = top + depthOf(root) * rowH + 4;
  const rects: string[] = [];
  const walk = (node: Node, path: string[], x: number): void => {
    const w = (node.count / Math.max(1, root.count)) * width;
    if (w < 0.5) return;
    const depth = path.length;
    if (depth > 0) {
      const y = height - 4 - depth * rowH;
      const label = node.name.replace(/_\[k\]$/, '');
      const fits = Math.floor(w / 7) - 1;
      const text =
        fits >= 4
          ? `<text x="${(x + 3).toFixed(1)}" y="${y + rowH - 5}">${escapeXml(label.length > fits ? `${label.slice(0, fits - 2)}..` : label)}</text>`
          : '';
      const { tip, fill, outline } = style(node, path);
      rects.push(
        `<g><title>${escapeXml(label)}${tip}</title><rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${rowH - 1}" fill="${fill}"${outline ? ' stroke="#ddd" stroke-width="0.5"' : ''}/>${text}</g>`,
      );
    }
    let cx = x;
    for (const child of [...node.children.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      walk(child, [...path, child.name], cx);
      cx += (child.count / Math.max(1, root.count)) * width;
    }
  };
  walk(root, [], 0);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fafafa"/>`,
    `<text x="4" y="16" font-size="13" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="4" y="32" fill="#555">${escapeXml(subtitle)}</text>`,
    ...rects,
    '</svg>',
  ].join('\n');
}

export function flameSvg(folded: Map<string, number>, title: string): string {
  const root = tree(folded);
  return renderFlame(
    root,
    title,
    `${root.count} samples; width = share of all samples; hover for names. Orange: kernel, green: mcr, yellow: other userspace.`,
    (node, path) => ({
      tip: ` (${node.count} samples, ${((100 * node.count) / root.count).toFixed(2)}%)`,
      fill: color(node.name, path.length),
    }),
  );
}

/**
 * A differential flame graph: `next`'s frames laid out as in its own flame graph, each coloured by
 * the change of its share of all samples against `base` (same stack path): red where it grew
 * (white to full red at the largest change), blue where it shrank. Shares, not counts, so two
 * runs of different lengths compare. Frames that vanished entirely are not drawn (they have no
 * width in `next`); their total is named in the subtitle.
 */
export function diffFlameSvg(base: Map<string, number>, next: Map<string, number>, title: string): string {
  const a = tree(base);
  const b = tree(next);
  const share = (n: Node | undefined, root: Node): number => (n ? n.count / Math.max(1, root.count) : 0);
  const inBase = (path: string[]): Node | undefined => {
    let n: Node | undefined = a;
    for (const name of path) n = n?.children.get(name);
    return n;
  };
  // Largest change of any frame, for the colour scale.
  let maxDelta = 0;
  const scan = (nb: Node, na: Node | undefined): void => {
    for (const child of nb.children.values()) {
      const other = na?.children.get(child.name);
      maxDelta = Math.max(maxDelta, Math.abs(share(child, b) - share(other, a)));
      scan(child, other);
    }
  };
  scan(b, a);
  const colorOf = (delta: number): string => {
    const t = maxDelta > 0 ? Math.min(1, Math.abs(delta) / maxDelta) : 0;
    const fade = Math.round(255 * (1 - t));
    return delta > 0 ? `rgb(255,${fade},${fade})` : delta < 0 ? `rgb(${fade},${fade},255)` : 'rgb(255,255,255)';
  };
  let vanished = 0;
  for (const [name, child] of a.children) if (!b.children.has(name)) vanished += child.count;
  return renderFlame(
    b,
    title,
    `${b.count} samples against ${a.count} in the base; width = share now; red: share grew, blue: shrank (darkest = ${(100 * maxDelta).toFixed(2)} points)${vanished ? `; threads only in the base: ${vanished} samples` : ''}. Hover for figures.`,
    (node, path) => {
      const now = 100 * share(node, b);
      const before = 100 * share(inBase(path), a);
      return {
        tip: `: ${now.toFixed(2)}% of samples, was ${before.toFixed(2)}% (${now - before >= 0 ? '+' : ''}${(now - before).toFixed(2)} points)`,
        fill: colorOf((now - before) / 100),
        outline: true,
      };
    },
  );
}

/** The costs the seed incident was made of, by the frames that show them. */
const HOT_PATH_COSTS: Array<[string, RegExp]> = [
  [
    'heap allocation (malloc/new/free)',
    /^(malloc|calloc|realloc|free|cfree|_int_malloc|_int_free|operator new|operator delete|__libc_malloc|__libc_free|tcache_)/,
  ],
  [
    'text formatting (printf family)',
    /^(__vfprintf_internal|vfprintf|vsnprintf|snprintf|__vsnprintf_internal|std::__cxx11::basic_string.*append|std::ostream)/,
  ],
  ['write/pipe syscalls (logging)', /^(pipe_write|ksys_write|__x64_sys_write|vfs_write|__libc_write|write)(_\[k\])?$/],
  ['locks (futex, mutex)', /^(futex_wait|futex_wake|__x64_sys_futex|pthread_mutex_lock|__lll_lock_wait|pthread_mutex_unlock)(_\[k\])?$/],
];

export function hotPathReport(samples: Sample[]): string {
  const workers = samples.filter((s) => s.thread.startsWith('mcr-worker'));
  const lines = [`forwarding-worker samples: ${workers.length} of ${samples.length}`];
  if (workers.length === 0) return lines.concat('no worker samples: was mcr forwarding during the recording?').join('\n');
  for (const [what, re] of HOT_PATH_COSTS) {
    const hits = workers.filter((s) => s.frames.some((f) => re.test(f))).length;
    lines.push(`${what.padEnd(36)} ${String(hits).padStart(7)} samples (${((100 * hits) / workers.length).toFixed(2)}% of the workers')`);
  }
  const user = workers.filter((s) => !(s.frames[s.frames.length - 1] ?? '').endsWith('_[k]')).length;
  lines.push(
    `${'in userspace (leaf frame not kernel)'.padEnd(36)} ${String(user).padStart(7)} samples (${((100 * user) / workers.length).toFixed(2)}%)`,
  );
  return lines.join('\n');
}

/** Reads a stacks.folded file (`frame;frame;... count` per line). */
export function readFolded(text: string): Map<string, number> {
  const folded = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(.*) (\d+)$/.exec(line.trim());
    if (m?.[1]) folded.set(m[1], (folded.get(m[1]) ?? 0) + Number(m[2]));
  }
  return folded;
}

function main(argv: string[]): void {
  const program = new Command('flamegraph.js')
    .argument('<perf-script-txt>', "the text output of 'perf script'")
    .argument('<out-dir>', 'where stacks.folded, flamegraph.svg and hot-path.txt go')
    .option('--title <text>', 'the flame graph title', 'mcr profile')
    .option('--diff-base <folded>', "another run's stacks.folded: also write diff.svg against it")
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  program.parse(argv, { from: 'user' });
  const [input, outDir] = program.args as [string, string];
  const { title, diffBase } = program.opts<{ title: string; diffBase?: string }>();
  const samples = parsePerfScript(readFileSync(input, 'utf8'));
  const folded = fold(samples);
  writeFileSync(path.join(outDir, 'stacks.folded'), `${[...folded].map(([k, v]) => `${k} ${v}`).join('\n')}\n`);
  writeFileSync(path.join(outDir, 'flamegraph.svg'), flameSvg(folded, title));
  if (diffBase)
    writeFileSync(
      path.join(outDir, 'diff.svg'),
      diffFlameSvg(readFolded(readFileSync(diffBase, 'utf8')), folded, `${title}: against ${path.basename(path.dirname(diffBase))}`),
    );
  const report = hotPathReport(samples);
  writeFileSync(path.join(outDir, 'hot-path.txt'), `${report}\n`);
  process.stdout.write(`${report}\n`);
}

if (require.main === module) main(process.argv.slice(2));
