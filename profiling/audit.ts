// SPDX-License-Identifier: MIT
// The per-packet audit (issue #10): forwards exact, paced streams through the real mcrd (one
// worker) in the one-hop lab and counts, per forwarded packet, what the seed incident paid on its
// hot path: heap allocations, syscalls by name, write(2) calls (to pipes and files), context
// switches and CPU time, plus the replay gate's instructions per packet. It compares them with
// profiling/budgets.json and exits 1 naming every budget exceeded, with the stacks responsible.
//
//   sudo npm run profile -- audit [--rate PPS] [--count N] [--exhaust-count N] [--drill] [--out DIR]
//
// Three phases, each on its own stream (docs/profiling.md, "The audit"):
//   clean      nothing attached: CPU time and context switches from /proc, exact delivery
//   traced     uprobes on the libc allocator (perf stat per thread), every syscall of the data
//              plane (perf trace -s, per thread), stacks of the worker's allocations and writes
//              (perf record, DWARF unwinding)
//   exhaustion the output shaped to a trickle (tbf on r1), so the worker's sendmmsg runs out of
//              socket buffer (EAGAIN): the rare path where the seed wrote to its pipe, traced the same way
// --drill builds the addon with MCR_DRILL_SEED_ANTIPATTERN=1 into build-drill/ (build/ untouched)
// and audits mcrd running that addon (MCR_ADDON); it must fail.
import { Command } from 'commander';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type DaemonHandle, startMcrd } from '../lab/mcrd';
import { send } from '../lab/mcrgen';
import { buildOneHop, NO_IPV6, Topology } from '../lab/netns';
import { MCRD, MCRGEN, ROOT } from '../lab/paths';
import { cleanup, installSignalHandlers, sh, sleep } from '../lab/proc';
import type { Counters } from '../src/control/protocol';
import { diffFlameSvg, flameSvg, fold, parsePerfScript as parseSampleScript } from './flamegraph';

// ---------------------------------------------------------------------------------------------
// Budgets

export interface Budget {
  max: number;
  note: string;
}

export interface Budgets {
  /** worker thread(s), clean and traced streams, per forwarded packet */
  workerAllocationsPerPacket: Budget;
  workerWritesPerPacket: Budget;
  workerSyscallsPerPacket: Budget;
  /** syscalls other than `expectedSyscalls`, per forwarded packet */
  workerOtherSyscallsPerPacket: Budget & { expected: string[] };
  workerContextSwitchesPerPacket: Budget;
  /** the whole data-plane process (utime + stime), clean stream */
  processCpuNsPerPacket: Budget;
  /** exhaustion phase, per packet the worker could not send (EAGAIN/ENOBUFS) */
  exhaustionAllocationsPerEvent: Budget;
  exhaustionWritesPerEvent: Budget;
  /** the replay harness under callgrind: at most baseline x (1 + max) */
  instructionsOverBaseline: Budget;
}

export function loadBudgets(file: string): Budgets {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const keys: (keyof Budgets)[] = [
    'workerAllocationsPerPacket',
    'workerWritesPerPacket',
    'workerSyscallsPerPacket',
    'workerOtherSyscallsPerPacket',
    'workerContextSwitchesPerPacket',
    'processCpuNsPerPacket',
    'exhaustionAllocationsPerEvent',
    'exhaustionWritesPerEvent',
    'instructionsOverBaseline',
  ];
  for (const k of keys) {
    const b = raw[k] as Budget | undefined;
    if (!b || typeof b.max !== 'number' || !(b.max >= 0)) throw new Error(`${file}: ${k}.max must be a number >= 0`);
  }
  const other = raw.workerOtherSyscallsPerPacket as { expected?: unknown };
  if (!Array.isArray(other.expected) || !other.expected.every((s) => typeof s === 'string'))
    throw new Error(`${file}: workerOtherSyscallsPerPacket.expected must list syscall names`);
  return raw as unknown as Budgets;
}

// ---------------------------------------------------------------------------------------------
// /proc: CPU time and context switches

interface TaskSample {
  comm: string;
  voluntary: number;
  nonvoluntary: number;
  /** on-CPU time, ns (schedstat) */
  runNs: number;
}

interface ProcSample {
  /** utime + stime of the whole process, clock ticks */
  cpuTicks: number;
  tasks: Map<number, TaskSample>;
}

const CLOCK_TICK_HZ = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function readProc(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // fields after "(comm)": state is field 3, utime 14, stime 15
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  const tasks = new Map<number, TaskSample>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
      const field = (name: string): number => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
      tasks.set(Number(t), {
        comm: readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim(),
        voluntary: field('voluntary_ctxt_switches'),
        nonvoluntary: field('nonvoluntary_ctxt_switches'),
        runNs: Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]),
      });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return { cpuTicks, tasks };
}

interface ThreadDelta extends TaskSample {
  tid: number;
}

function procDelta(a: ProcSample, b: ProcSample): { cpuNs: number; threads: ThreadDelta[] } {
  const threads: ThreadDelta[] = [];
  for (const [tid, t1] of b.tasks) {
    const t0 = a.tasks.get(tid) ?? { comm: t1.comm, voluntary: 0, nonvoluntary: 0, runNs: 0 };
    threads.push({
      tid,
      comm: t1.comm,
      voluntary: t1.voluntary - t0.voluntary,
      nonvoluntary: t1.nonvoluntary - t0.nonvoluntary,
      runNs: t1.runNs - t0.runNs,
    });
  }
  return { cpuNs: ((b.cpuTicks - a.cpuTicks) * 1e9) / CLOCK_TICK_HZ, threads };
}

// ---------------------------------------------------------------------------------------------
// perf: uprobes on the allocator, syscalls per thread, stacks

const LIBC = '/lib/x86_64-linux-gnu/libc.so.6';
/** The libc allocator's entry points; operator new (libstdc++) calls malloc, so it is counted there. */
const ALLOCATORS = ['malloc', 'calloc', 'realloc', 'posix_memalign', 'aligned_alloc', 'memalign', 'valloc'];

/** Adds uprobe events GROUP:<allocator>; returns the event names. Removed by removeProbes. */
function addProbes(group: string): string[] {
  const events: string[] = [];
  for (const fn of ALLOCATORS) {
    const r = spawnSync('perf', ['probe', '-q', '-x', LIBC, '-a', `${group}:${fn}=${fn}`], { encoding: 'utf8' });
    if (r.status === 0) events.push(`${group}:${fn}`);
    else if (fn === 'malloc') throw new Error(`perf probe on ${LIBC} malloc failed: ${r.stderr.trim()}`);
  }
  return events;
}

function removeProbes(group: string): void {
  spawnSync('perf', ['probe', '-q', '-d', `${group}:*`], { encoding: 'utf8' });
}

interface Tracers {
  procs: { name: string; child: ChildProcess; stderr: string }[];
  statFile: string;
  traceFile: string;
  recordFile: string;
}

/** perf processes that have opened their perf events (anon_inode:[perf_event] fds). */
function perfEventFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`).includes('perf_event');
      } catch {
        return false;
      }
    }).length;
  } catch {
    return 0;
  }
}

async function startTracers(dir: string, dpPid: number, workerTids: number[], allocEvents: string[]): Promise<Tracers> {
  const t: Tracers = {
    procs: [],
    statFile: path.join(dir, 'perf-stat.csv'),
    traceFile: path.join(dir, 'perf-trace.txt'),
    recordFile: path.join(dir, 'perf-record.data'),
  };
  const start = (name: string, args: string[]): void => {
    const child = spawn('perf', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const entry = { name, child, stderr: '' };
    child.stderr?.on('data', (d: Buffer) => (entry.stderr += d.toString()));
    const hook = cleanup.add(name, () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    child.on('exit', () => cleanup.remove(hook));
    t.procs.push(entry);
  };
  const allocList = allocEvents.join(',');
  // Exact counts per thread of the data-plane process (poll: a coverage check against the worker's wakeups counter).
  start('perf stat', [
    'stat',
    '--per-thread',
    '-x',
    ',',
    '-p',
    String(dpPid),
    '-e',
    `${allocList},syscalls:sys_enter_poll`,
    '-o',
    t.statFile,
  ]);
  // Every syscall of every data-plane thread, by name.
  start('perf trace', ['trace', '-s', '-p', String(dpPid), '-o', t.traceFile]);
  // Stacks of the workers' allocations and write(2)s: every hit, DWARF-unwound (libc and libstdc++
  // have no frame pointers, and the frame-pointer walk from a function's entry loses its caller).
  start('perf record', [
    'record',
    '-q',
    '--no-buildid',
    '--no-buildid-cache',
    '-e',
    `${allocList},syscalls:sys_enter_write`,
    '--call-graph',
    'dwarf,4096',
    '-t',
    workerTids.join(','),
    '-o',
    t.recordFile,
    '--max-size',
    '64M',
  ]);
  // Wait until each has opened its events, then a margin for enabling them.
  const deadline = Date.now() + 15_000;
  for (const p of t.procs) {
    while (perfEventFds(p.child.pid ?? 0) === 0) {
      if (p.child.exitCode !== null) throw new Error(`${p.name} exited: ${p.stderr.trim()}`);
      if (Date.now() > deadline) throw new Error(`${p.name} did not attach within 15 s: ${p.stderr.trim()}`);
      await sleep(50);
    }
  }
  await sleep(700);
  return t;
}

async function stopTracers(t: Tracers): Promise<void> {
  for (const p of t.procs) p.child.kill('SIGINT');
  for (const p of t.procs) {
    if (p.child.exitCode !== null) continue;
    const stopped = await Promise.race([
      new Promise<boolean>((resolve) => p.child.once('exit', () => resolve(true))),
      sleep(60_000).then(() => false),
    ]);
    if (!stopped) {
      p.child.kill('SIGKILL');
      throw new Error(`${p.name} did not stop within 60 s of SIGINT: ${p.stderr.trim()}`);
    }
  }
}

/** "mcraudit123:malloc" -> "malloc" (the probe group is per run); tracepoints keep their group. */
function eventName(raw: string): string {
  return raw.startsWith('syscalls:') ? raw : raw.replace(/^[^:]+:/, '');
}

/** perf stat -x, --per-thread: "comm-tid,count,,event,..." -> tid -> event -> count */
export function parsePerfStat(text: string): Map<number, Map<string, number>> {
  const out = new Map<number, Map<string, number>>();
  for (const line of text.split('\n')) {
    const m = /^(.+)-(\d+),([^,]*),[^,]*,([^,]+),/.exec(line);
    if (!m) continue;
    const tid = Number(m[2]);
    const count = /^\d+$/.test(m[3] ?? '') ? Number(m[3]) : 0; // "<not counted>": the thread never ran
    const event = eventName(m[4] ?? '');
    const events = out.get(tid) ?? new Map<string, number>();
    out.set(tid, events);
    events.set(event, (events.get(event) ?? 0) + count);
  }
  return out;
}

/** perf trace -s: per thread " comm (tid), N events" then "   name  calls  errors ..." rows. */
export function parsePerfTraceSummary(text: string): Map<number, Map<string, { calls: number; errors: number }>> {
  const out = new Map<number, Map<string, { calls: number; errors: number }>>();
  let current: Map<string, { calls: number; errors: number }> | undefined;
  for (const line of text.split('\n')) {
    const head = /^ (.+) \((\d+)\), \d+ events/.exec(line);
    if (head) {
      current = new Map();
      out.set(Number(head[2]), current);
      continue;
    }
    const row = /^\s+([a-z_0-9]+)\s+(\d+)\s+(\d+)\s+[\d.]+/.exec(line);
    if (row && current) current.set(row[1] ?? '?', { calls: Number(row[2]), errors: Number(row[3]) });
  }
  return out;
}

interface StackHit {
  event: string;
  /** write(2): the file descriptor */
  fd?: number;
  /** leaf first */
  frames: { sym: string; dso: string }[];
}

/** perf script of the record: one hit per block, the event and its leaf-first stack. */
export function parsePerfScript(text: string): StackHit[] {
  const hits: StackHit[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    const header = lines.shift();
    if (!header) continue;
    const ev = /\s([\w]+:[\w]+):\s?(.*)$/.exec(header);
    if (!ev) continue;
    const event = eventName(ev[1] ?? '');
    const fdMatch = /\bfd: (0x[0-9a-f]+|\d+)/.exec(ev[2] ?? '');
    const frames = lines
      .map((l) => /^\s*[0-9a-f]+\s+(.+?)\s+\((.*)\)\s*$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ sym: (m[1] ?? '[unknown]').replace(/\+0x[0-9a-f]+$/, ''), dso: path.basename(m[2] ?? '') }));
    hits.push({ event, fd: fdMatch ? Number(fdMatch[1]) : undefined, frames });
  }
  return hits;
}

/** The first frame in mcr's own code (the addon), leaf first: the function responsible. */
export function responsible(frames: StackHit['frames']): string | undefined {
  return frames.find((f) => f.dso.startsWith('mcr_native') && f.sym !== '[unknown]')?.sym;
}

// ---------------------------------------------------------------------------------------------
// The replay gate's instruction count

interface Instructions {
  perPacket: number;
  baseline: number;
  allocationsInLoop: number;
  binary: string;
}

function replayInstructions(binary: string): Instructions {
  const tmp = path.join(os.tmpdir(), `mcr-audit-callgrind-${process.pid}.out`);
  const r = spawnSync(
    'valgrind',
    ['--tool=callgrind', '--instr-atstart=no', '--collect-atstart=no', `--callgrind-out-file=${tmp}`, binary],
    { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 },
  );
  const profile = existsSync(tmp) ? readFileSync(tmp, 'utf8') : '';
  spawnSync('rm', ['-f', tmp]);
  // The harness exits 1 when its measured loop allocated (the drill does) but still prints its summary.
  const jsonLine = (r.stdout ?? '').split('\n').find((l) => l.startsWith('{'));
  if (!jsonLine) throw new Error(`${binary} under callgrind printed no summary (${r.status ?? r.signal}): ${r.stderr}`);
  const summary = JSON.parse(jsonLine) as { packets: number; allocationsInLoop: { operatorNew: number; malloc: number } };
  const events = (/^events:\s*(.+)$/m.exec(profile)?.[1] ?? '').trim().split(/\s+/);
  const totals = (/^totals:\s*(.+)$/m.exec(profile) ?? /^summary:\s*(.+)$/m.exec(profile))?.[1];
  const ir = Number(totals?.trim().split(/\s+/)[events.indexOf('Ir')]);
  if (!(ir > 0)) throw new Error(`${binary}: callgrind counted no instructions`);
  const baseline = JSON.parse(readFileSync(path.join(ROOT, 'native/tests/hot-path/baseline-instructions.json'), 'utf8')) as {
    instructionsPerPacket: number;
  };
  return {
    perPacket: ir / summary.packets,
    baseline: baseline.instructionsPerPacket,
    allocationsInLoop: summary.allocationsInLoop.operatorNew + summary.allocationsInLoop.malloc,
    binary,
  };
}

// ---------------------------------------------------------------------------------------------
// The drill build, aside in build-drill/ with the shipped build's own flags

/** A variable of a node-gyp generated makefile (build/<target>.target.mk), as compiler arguments. */
function makeVar(mk: string, name: string): string[] {
  const m = new RegExp(`^${name} :=((?:.*\\\\\\n)*.*)$`, 'm').exec(mk);
  if (!m) return [];
  return (m[1] ?? '')
    .replace(/\\\n/g, ' ')
    .split(/\s+/)
    .filter(Boolean)
    .map((a) => a.replace(/^'(.*)'$/, '$1').replace(/\$\(srcdir\)/g, ROOT));
}

function targetFlags(target: string): { cxx: string[]; ld: string[] } {
  const file = path.join(ROOT, 'build', `${target}.target.mk`);
  if (!existsSync(file)) throw new Error(`${file} is missing: build the shipped addon first (npm install)`);
  const mk = readFileSync(file, 'utf8');
  return {
    cxx: [
      ...makeVar(mk, 'DEFS_Release'),
      ...makeVar(mk, 'INCS_Release'),
      ...makeVar(mk, 'CFLAGS_Release'),
      ...makeVar(mk, 'CFLAGS_CC_Release'),
    ],
    ld: makeVar(mk, 'LDFLAGS_Release'),
  };
}

export const DRILL_DIR = path.join(ROOT, 'build-drill');
const DRILL_DEFINE = '-DMCR_DRILL_SEED_ANTIPATTERN=1';
/**
 * The drill compiles what the shipped build does: the core library's and the addon's sources, read
 * from binding.gyp (its JSON with `#` comment lines), so a source added there is never missing here.
 */
function gypSources(target: string): string[] {
  const gyp = JSON.parse(readFileSync(path.join(ROOT, 'binding.gyp'), 'utf8').replace(/^\s*#.*$/gm, '')) as {
    targets: Array<{ target_name: string; sources?: string[] }>;
  };
  const sources = gyp.targets.find((t) => t.target_name === target)?.sources;
  if (!sources) throw new Error(`binding.gyp has no sources for target ${target}`);
  return sources.filter((f) => f.endsWith('.cc'));
}
const CORE_SOURCES = gypSources('mcr_core');
const BINDING_SOURCES = gypSources('mcr_native');

/** Compiles in parallel (one job per CPU); an object newer than its source and every header is kept. */
async function compileAll(jobs: { src: string; obj: string; flags: string[] }[]): Promise<void> {
  const headers = [path.join(ROOT, 'native/include/mcr'), path.join(ROOT, 'build')].flatMap((d) =>
    readdirSync(d)
      .filter((f) => f.endsWith('.h') || f.endsWith('.mk'))
      .map((f) => statSync(path.join(d, f)).mtimeMs),
  );
  const newestHeader = Math.max(...headers);
  const todo = jobs.filter(
    (j) => !existsSync(j.obj) || statSync(j.obj).mtimeMs < Math.max(newestHeader, statSync(path.join(ROOT, j.src)).mtimeMs),
  );
  const parallel = Math.max(1, os.cpus().length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < todo.length) {
      const j = todo[next++];
      if (!j) return;
      mkdirSync(path.dirname(j.obj), { recursive: true });
      await sh('g++', [...j.flags, '-c', path.join(ROOT, j.src), '-o', j.obj], { timeoutMs: 300_000 });
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** Builds build-drill/mcr_native.node and build-drill/mcr_replay with the drill compiled in. */
export async function buildDrill(): Promise<{ addon: string; replay: string; seconds: number }> {
  const t0 = Date.now();
  const core = targetFlags('mcr_core');
  const native = targetFlags('mcr_native');
  const replay = targetFlags('mcr_replay');
  const obj = (src: string, kind: string): string => path.join(DRILL_DIR, 'obj', kind, src.replace(/\.cc$/, '.o'));
  const coreJobs = [...CORE_SOURCES, 'native/drill/drill.cc'].map((src) => ({
    src,
    obj: obj(src, 'core'),
    flags: [...core.cxx, DRILL_DEFINE],
  }));
  const bindingJobs = BINDING_SOURCES.map((src) => ({ src, obj: obj(src, 'binding'), flags: [...native.cxx, DRILL_DEFINE] }));
  const replayJob = { src: 'native/tests/hot-path/replay.cc', obj: obj('replay.cc', 'replay'), flags: [...replay.cxx, DRILL_DEFINE] };
  await compileAll([...coreJobs, ...bindingJobs, replayJob]);
  const archive = path.join(DRILL_DIR, 'mcr_core.a');
  spawnSync('rm', ['-f', archive]);
  await sh('ar', ['crs', archive, ...coreJobs.map((j) => j.obj)]);
  const addon = path.join(DRILL_DIR, 'mcr_native.node');
  await sh('g++', [
    '-shared',
    ...native.ld,
    '-Wl,-soname=mcr_native.node',
    '-o',
    addon,
    '-Wl,--start-group',
    ...bindingJobs.map((j) => j.obj),
    archive,
    '-Wl,--end-group',
    '-lbpf',
  ]);
  const replayBinary = path.join(DRILL_DIR, 'mcr_replay');
  await sh('g++', [...replay.ld, '-o', replayBinary, '-Wl,--start-group', replayJob.obj, archive, '-Wl,--end-group', '-lbpf']);
  return { addon, replay: replayBinary, seconds: (Date.now() - t0) / 1000 };
}

// ---------------------------------------------------------------------------------------------
// Phases

interface PhaseResult {
  name: 'clean' | 'traced' | 'exhaustion';
  sent: number;
  /** worker counters over the phase */
  rx: number;
  forwarded: number;
  exhausted: number;
  wakeups: number;
  sinkReceived: number;
  seconds: number;
  cpuNs: number;
  threads: ThreadDelta[];
  /** traced phases: tid -> allocator calls (all allocator entry points summed) */
  allocations?: Map<number, number>;
  /** tid -> poll calls seen by perf stat (coverage check) */
  polls?: Map<number, number>;
  syscalls?: Map<number, Map<string, { calls: number; errors: number }>>;
  hits?: StackHit[];
}

interface Lab {
  topology: Topology;
  daemon: DaemonHandle;
  dpPid: number;
  workerTids: number[];
}

function sumWorkers(c: { workers: ({ worker: number } & Counters)[] }): Counters {
  const w = c.workers[0];
  if (!w) throw new Error('mcrd reports no worker');
  return w;
}

async function runPhase(
  lab: Lab,
  name: PhaseResult['name'],
  o: { rate: number; count: number; size: number },
  trace: { dir: string; allocEvents: string[] } | undefined,
): Promise<PhaseResult> {
  const { topology: t, daemon: d, dpPid } = lab;
  const tracers = trace ? await startTracers(path.join(trace.dir), dpPid, lab.workerTids, trace.allocEvents) : undefined;
  const c0 = sumWorkers(await d.request('stats'));
  const sink0 = await t.stat('sink', 's0', 'rx_packets');
  const p0 = readProc(dpPid);
  const t0 = process.hrtime.bigint();
  await send(t, 'gen', { group: '239.1.1.1', port: 5001, source: '10.0.1.1', rate: o.rate, count: o.count, size: o.size });
  // The worker has taken every frame off its ring (or the kernel dropped it): a clean phase ends
  // when rxFrames has grown by `count`, within 5 s.
  let c1 = sumWorkers(await d.request('stats'));
  for (let i = 0; i < 100 && c1.rxFrames - c0.rxFrames < o.count; i++) {
    await sleep(50);
    c1 = sumWorkers(await d.request('stats'));
  }
  await sleep(100); // the last batch's sendmmsg and poll
  c1 = sumWorkers(await d.request('stats'));
  const p1 = readProc(dpPid);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const sink1 = await t.stat('sink', 's0', 'rx_packets');
  const { cpuNs, threads } = procDelta(p0, p1);
  const result: PhaseResult = {
    name,
    sent: o.count,
    rx: c1.rxFrames - c0.rxFrames,
    forwarded: c1.txPackets - c0.txPackets,
    exhausted: c1.bufExhaust - c0.bufExhaust,
    wakeups: c1.wakeups - c0.wakeups,
    sinkReceived: sink1 - sink0,
    seconds,
    cpuNs,
    threads,
  };
  if (tracers && trace) {
    // Named for the write fds: read them while the process lives.
    await stopTracers(tracers);
    const stat = parsePerfStat(readFileSync(tracers.statFile, 'utf8'));
    result.allocations = new Map();
    result.polls = new Map();
    for (const [tid, events] of stat) {
      let n = 0;
      for (const [event, count] of events)
        if (event === 'syscalls:sys_enter_poll') result.polls.set(tid, count);
        else n += count;
      result.allocations.set(tid, n);
    }
    result.syscalls = parsePerfTraceSummary(readFileSync(tracers.traceFile, 'utf8'));
    const script = spawnSync('perf', ['script', '-i', tracers.recordFile, '-F', 'comm,tid,event,trace,ip,sym,dso'], {
      encoding: 'utf8',
      maxBuffer: 512 << 20,
    });
    writeFileSync(path.join(trace.dir, 'perf-script.txt'), script.stdout ?? '');
    result.hits = parsePerfScript(script.stdout ?? '');
  }
  return result;
}

/**
 * Where the worker's CPU goes during a stream: `perf record -e cpu-clock --call-graph dwarf` on
 * the worker thread(s), folded into DIR/stacks.folded and drawn as DIR/flamegraph.svg; the
 * --drill run compares two of these.
 */
async function profilePhase(
  lab: Lab,
  o: { rate: number; count: number; size: number },
  dir: string,
  title: string,
): Promise<Map<string, number>> {
  mkdirSync(dir, { recursive: true });
  const data = path.join(dir, 'perf.data');
  const perf = spawn(
    'perf',
    [
      'record',
      '-q',
      '--no-buildid',
      '--no-buildid-cache',
      '--sample-cpu',
      '-e',
      'cpu-clock',
      '-F',
      '999',
      // DWARF, not frame pointers: libc (snprintf, malloc) has none, and its samples would lose
      // the mcr function that called it.
      '--call-graph',
      'dwarf,8192',
      '-t',
      lab.workerTids.join(','),
      '-o',
      data,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  perf.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const hook = cleanup.add('perf record (profile)', () => {
    if (perf.exitCode === null) perf.kill('SIGKILL');
  });
  const deadline = Date.now() + 15_000;
  while (perfEventFds(perf.pid ?? 0) === 0) {
    if (perf.exitCode !== null) throw new Error(`perf record (profile) exited: ${stderr.trim()}`);
    if (Date.now() > deadline) throw new Error(`perf record (profile) did not attach within 15 s: ${stderr.trim()}`);
    await sleep(50);
  }
  await send(lab.topology, 'gen', { group: '239.1.1.1', port: 5001, source: '10.0.1.1', rate: o.rate, count: o.count, size: o.size });
  await sleep(200);
  perf.kill('SIGINT');
  const stopped = await Promise.race([new Promise<boolean>((r) => perf.once('exit', () => r(true))), sleep(60_000).then(() => false)]);
  cleanup.remove(hook);
  if (!stopped) {
    perf.kill('SIGKILL');
    throw new Error('perf record (profile) did not stop within 60 s of SIGINT');
  }
  const script = spawnSync('perf', ['script', '-i', data, '-F', 'comm,tid,cpu,ip,sym,dso'], { encoding: 'utf8', maxBuffer: 512 << 20 });
  const folded = fold(parseSampleScript(script.stdout ?? ''));
  writeFileSync(path.join(dir, 'stacks.folded'), `${[...folded].map(([k, v]) => `${k} ${v}`).join('\n')}\n`);
  writeFileSync(path.join(dir, 'flamegraph.svg'), flameSvg(folded, title));
  return folded;
}

/** A path as the audit prints it: relative inside the checkout, absolute outside it. */
function shown(file: string): string {
  const rel = path.relative(ROOT, file);
  return rel.startsWith('..') ? file : rel;
}

/** The shipped build, for the drill's differential flame graph: its own mcrd, profiled the same way. */
async function profileShipped(
  topology: Topology,
  configFile: string,
  out: string,
  stream: { rate: number; count: number; size: number },
): Promise<Map<string, number>> {
  const daemon = await startMcrd(topology, 'relay', { socket: path.join(out, 'mcrd-shipped.sock'), configFile, rules: 1 });
  try {
    const dpPid = await daemon.dataplanePid();
    const workerTids = (await daemon.request('workers')).workers.map((w) => w.tid).filter((t): t is number => t !== null);
    return await profilePhase(
      { topology, daemon, dpPid, workerTids },
      stream,
      path.join(out, 'shipped'),
      'shipped build: the worker thread',
    );
  } finally {
    await daemon.proc.stop('SIGTERM', 10_000);
  }
}

function fdTarget(pid: number, fd: number): string {
  try {
    const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
    if (link.startsWith('pipe:')) return `pipe ${link.slice(5)}`;
    if (statSync(`/proc/${pid}/fd/${fd}`).isFIFO()) return `pipe (fd ${fd}, FIFO ${link})`;
    if (link.startsWith('socket:')) return `socket ${link.slice(7)}`;
    if (link.startsWith('anon_inode:')) return link.slice(11);
    return `file ${link}`;
  } catch {
    return 'closed';
  }
}

// ---------------------------------------------------------------------------------------------
// Report

interface Row {
  what: string;
  value: string;
  budget: string;
  ok: boolean | undefined;
}

interface Violation {
  budget: keyof Budgets;
  text: string;
  stacks: string[];
}

const f2 = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(n < 0.01 ? 5 : n < 10 ? 3 : 1));

/** The top stacks of one kind of hit, with the function responsible and counts. */
function topStacks(hits: StackHit[], limit: number): string[] {
  const byStack = new Map<string, { count: number; culprit: string | undefined; event: string }>();
  for (const h of hits) {
    const frames = h.frames.slice(0, 12).map((f) => `${f.sym} (${f.dso})`);
    const key = `${h.event}\n${frames.join('\n')}`;
    const e = byStack.get(key) ?? { count: 0, culprit: responsible(h.frames), event: h.event };
    e.count++;
    byStack.set(key, e);
  }
  return [...byStack.entries()]
    .sort((a, b) => b[1].count - a[1].count)
    .slice(0, limit)
    .map(([key, e]) => {
      const [, ...frames] = key.split('\n');
      return `${e.count} x ${e.event}, in ${e.culprit ?? '(no mcr frame in the stack)'}:\n${frames.map((f) => `      ${f}`).join('\n')}`;
    });
}

/** Every distinct function responsible (first mcr frame) of these hits, most frequent first. */
function culprits(hits: StackHit[]): string[] {
  const n = new Map<string, number>();
  for (const h of hits) {
    const c = responsible(h.frames) ?? '(no mcr frame)';
    n.set(c, (n.get(c) ?? 0) + 1);
  }
  return [...n.entries()].sort((a, b) => b[1] - a[1]).map(([c, k]) => `${c} (${k})`);
}

async function main(): Promise<number> {
  const program = new Command()
    .name('npm run profile -- audit')
    .description('per-packet audit of mcr forwarding against profiling/budgets.json')
    .option('--rate <pps>', 'stream rate', '10000')
    .option('--count <n>', 'packets per stream (clean and traced)', '20000')
    .option('--exhaust-count <n>', 'packets of the exhaustion stream', '8000')
    .option('--size <bytes>', 'UDP payload', '1400')
    .option('--drill', 'audit the drill build (MCR_DRILL_SEED_ANTIPATTERN=1, built into build-drill/): must fail')
    .option('--budgets <file>', 'budgets', path.join(ROOT, 'profiling', 'budgets.json'))
    .option('--out <dir>', 'results directory (default profiling/results/audit-<time>[-drill])')
    .parse(process.argv);
  const opts = program.opts<{
    rate: string;
    count: string;
    exhaustCount: string;
    size: string;
    drill?: boolean;
    budgets: string;
    out?: string;
  }>();
  const whole = (name: string, v: string, min = 1): number => {
    if (!/^\d+$/.test(v) || Number(v) < min) {
      console.error(`audit: --${name}: expected a whole number >= ${min}, got "${v}"`);
      process.exit(2);
    }
    return Number(v);
  };
  const rate = whole('rate', opts.rate);
  const count = whole('count', opts.count, 100);
  const exhaustCount = whole('exhaust-count', opts.exhaustCount, 100);
  const size = whole('size', opts.size, 32);
  if (process.getuid?.() !== 0) {
    console.error('audit: needs root (network namespaces, perf uprobes)');
    return 2;
  }
  for (const tool of ['perf', 'valgrind', 'tc']) {
    if (spawnSync(tool, ['--version']).error) {
      console.error(`audit: ${tool} is not installed`);
      return 2;
    }
  }
  for (const f of [MCRGEN, MCRD, path.join(ROOT, 'build/Release/mcr_replay')])
    if (!existsSync(f)) {
      console.error(`audit: ${f} is missing: run npm install (or npm run build) first`);
      return 2;
    }
  const budgets = loadBudgets(opts.budgets);
  const stamp = new Date().toISOString().replace(/[:.]/g, '').slice(0, 17);
  const out = path.resolve(opts.out ?? path.join(ROOT, 'profiling', 'results', `audit-${stamp}${opts.drill ? '-drill' : ''}`));
  mkdirSync(out, { recursive: true });
  installSignalHandlers();
  const started = Date.now();

  let addon = path.join(ROOT, 'build/Release/mcr_native.node');
  let replayBinary = path.join(ROOT, 'build/Release/mcr_replay');
  let buildSeconds: number | undefined;
  if (opts.drill) {
    console.log(`audit: building the drill (MCR_DRILL_SEED_ANTIPATTERN=1) into ${path.relative(ROOT, DRILL_DIR)}/ ...`);
    const b = await buildDrill();
    addon = b.addon;
    replayBinary = b.replay;
    buildSeconds = b.seconds;
    console.log(`audit: drill built in ${b.seconds.toFixed(1)} s`);
    process.env.MCR_ADDON = addon; // mcrd and its data-plane child load this addon
  } else {
    delete process.env.MCR_ADDON;
  }

  const group = `mcraudit${process.pid}`;
  const allocEvents = addProbes(group);
  cleanup.add('perf probes', () => removeProbes(group));
  const topology = await buildOneHop(new Topology(`mcra${process.pid % 100000}`, { sysctls: NO_IPV6 }));
  const ncpu = os.cpus().length;
  const configFile = path.join(out, 'mcr.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      workers: 1,
      ...(ncpu >= 2 ? { cpus: [ncpu - 1] } : {}),
      logLevel: 'warn',
      rules: [
        {
          name: 'audited',
          input: { interface: 'r0', group: '239.1.1.1', port: 5001 },
          outputs: [{ group: '239.2.2.2', port: 5002, interface: 'r1' }],
        },
      ],
    }),
  );
  let exitCode = 0;
  // The CPU profile wants samples: a busier stream than the counted ones (2 s at 50k pps by default).
  const profileStream = { rate: Math.max(rate, 50_000), count: Math.max(count, 100_000), size };
  try {
    // The drill is compared with the shipped build: profile that first, with MCR_ADDON unset.
    let shippedProfile: Map<string, number> | undefined;
    if (opts.drill) {
      console.log('audit: profiling the shipped build for the differential flame graph ...');
      const drillAddon = process.env.MCR_ADDON;
      delete process.env.MCR_ADDON;
      shippedProfile = await profileShipped(topology, configFile, out, profileStream);
      process.env.MCR_ADDON = drillAddon;
    }
    // mcrd's stderr, which its data plane shares (fork with stdio inherit), is a pipe the audit
    // drains into mcrd.log: a FIFO, since Node's own stdio "pipes" are socket pairs. In the drill
    // this is the worker's pipe to the supervisor side.
    const fifo = path.join(out, 'mcrd.stderr.fifo');
    rmSync(fifo, { force: true });
    await sh('mkfifo', [fifo]);
    const stderrLog = createWriteStream(path.join(out, 'mcrd.stderr.log'));
    createReadStream(fifo).pipe(stderrLog);
    process.env.MCR_AUDIT_STDERR = fifo;
    const daemon = await startMcrd(topology, 'relay', {
      socket: path.join(out, 'mcrd.sock'),
      configFile,
      rules: 1,
      command: ['bash', '-c', 'exec "$0" "$@" 2>"$MCR_AUDIT_STDERR"', 'node', MCRD],
    });
    const dpPid = await daemon.dataplanePid();
    const workerTids = (await daemon.request('workers')).workers.map((w) => w.tid).filter((t): t is number => t !== null);
    if (workerTids.length === 0) throw new Error('mcrd reports no worker thread ids');
    const loaded = readFileSync(`/proc/${dpPid}/maps`, 'utf8').includes(addon);
    if (!loaded) throw new Error(`the data plane (pid ${dpPid}) did not load ${addon}`);
    const lab: Lab = { topology, daemon, dpPid, workerTids };
    const stream = { rate, count, size };
    console.log(
      `audit: ${opts.drill ? 'DRILL build' : 'shipped build'}, ${path.relative(ROOT, addon)}; data plane pid ${dpPid}, worker tid ${workerTids.join(',')}`,
    );
    console.log(`audit: clean stream, ${count} packets of ${size} B at ${rate} pps ...`);
    const clean = await runPhase(lab, 'clean', stream, undefined);
    console.log('audit: traced stream (perf stat uprobes, perf trace, perf record) ...');
    const tracedDir = path.join(out, 'traced');
    mkdirSync(tracedDir, { recursive: true });
    const traced = await runPhase(lab, 'traced', stream, { dir: tracedDir, allocEvents });
    // The exhaustion phase: r1 sends at a trickle, so its queue holds the socket's buffer and sendmmsg gets EAGAIN.
    console.log(`audit: exhaustion stream, ${exhaustCount} packets, output shaped to 1 Mbit/s ...`);
    await topology.exec('relay', 'tc', [
      'qdisc',
      'replace',
      'dev',
      'r1',
      'root',
      'tbf',
      'rate',
      '1mbit',
      'burst',
      '16kb',
      'limit',
      '256mb',
    ]);
    const exhaustDir = path.join(out, 'exhaustion');
    mkdirSync(exhaustDir, { recursive: true });
    const exhaustion = await runPhase(lab, 'exhaustion', { rate, count: exhaustCount, size }, { dir: exhaustDir, allocEvents });
    await topology.exec('relay', 'tc', ['qdisc', 'del', 'dev', 'r1', 'root'], { allowFail: true });
    // fd targets of the workers' writes, while the data plane lives
    const fdNames = new Map<number, string>();
    for (const h of [...(traced.hits ?? []), ...(exhaustion.hits ?? [])])
      if (h.event === 'syscalls:sys_enter_write' && h.fd !== undefined && !fdNames.has(h.fd)) fdNames.set(h.fd, fdTarget(dpPid, h.fd));
    console.log('audit: CPU profile of the worker (perf record -e cpu-clock, DWARF stacks) ...');
    const profile = await profilePhase(
      lab,
      profileStream,
      path.join(out, 'profile'),
      `${opts.drill ? 'drill' : 'shipped'} build: the worker thread`,
    );
    if (shippedProfile) {
      writeFileSync(
        path.join(out, 'diff.svg'),
        diffFlameSvg(shippedProfile, profile, 'drill against the shipped build: the worker thread'),
      );
      console.log(
        `audit: flame graphs: ${shown(path.join(out, 'shipped', 'flamegraph.svg'))}, ${shown(path.join(out, 'profile', 'flamegraph.svg'))}; differential: ${shown(path.join(out, 'diff.svg'))}`,
      );
    } else console.log(`audit: flame graph: ${shown(path.join(out, 'profile', 'flamegraph.svg'))}`);
    console.log(`audit: ${path.relative(ROOT, replayBinary)} under callgrind ...`);
    const instructions = replayInstructions(replayBinary);
    const stopCode = await daemon.proc.stop('SIGTERM', 10_000);
    writeFileSync(path.join(out, 'mcrd.stdout.log'), daemon.stdout);
    rmSync(fifo, { force: true });

    exitCode = report({
      out,
      dpPid,
      budgets,
      clean,
      traced,
      exhaustion,
      workerTids,
      fdNames,
      instructions,
      drill: !!opts.drill,
      buildSeconds,
      addon,
      started,
      stopCode,
    });
  } finally {
    await cleanup.runAll();
  }
  return exitCode;
}

interface ReportInput {
  out: string;
  dpPid: number;
  budgets: Budgets;
  clean: PhaseResult;
  traced: PhaseResult;
  exhaustion: PhaseResult;
  workerTids: number[];
  fdNames: Map<number, string>;
  instructions: Instructions;
  drill: boolean;
  buildSeconds: number | undefined;
  addon: string;
  started: number;
  stopCode: number | null;
}

function report(r: ReportInput): number {
  const { budgets: b, clean, traced, exhaustion, workerTids } = r;
  const isWorker = (tid: number): boolean => workerTids.includes(tid);
  const rows: Row[] = [];
  const violations: Violation[] = [];
  const errors: string[] = [];
  const check = (
    key: keyof Budgets,
    what: string,
    value: number,
    unit: string,
    stacks: () => string[] = () => [],
    exact?: { counted: number; recorded: number },
  ): void => {
    const max = b[key].max;
    const ok = value <= max;
    rows.push({ what, value: `${f2(value)} ${unit}`, budget: `<= ${f2(max)}`, ok });
    if (ok) return;
    // perf record stops at --max-size: the counts are exact, the stacks cover the first hits.
    const cover =
      exact && exact.recorded < exact.counted
        ? [`(stacks of the first ${exact.recorded} of ${exact.counted} hits; perf record stops at 64 MB)`]
        : [];
    violations.push({ budget: key, text: `${what}: ${f2(value)} ${unit}, budget ${f2(max)} (${key})`, stacks: [...cover, ...stacks()] });
  };
  const info = (what: string, value: string): void => {
    rows.push({ what, value, budget: '', ok: undefined });
  };

  // The streams must have gone through whole (clean and traced) and the exhaustion phase must have exhausted.
  for (const p of [clean, traced]) {
    if (p.rx !== p.sent || p.forwarded !== p.sent || p.sinkReceived !== p.sent)
      errors.push(
        `${p.name} stream not delivered whole: sent ${p.sent}, worker received ${p.rx}, forwarded ${p.forwarded}, sink received ${p.sinkReceived}`,
      );
  }
  if (exhaustion.exhausted === 0)
    errors.push(
      `the exhaustion stream exhausted nothing (worker received ${exhaustion.rx}, forwarded ${exhaustion.forwarded}): that path went unchecked`,
    );
  // Coverage: perf stat saw as many of the worker's poll() calls as the worker counted wake-ups.
  for (const p of [traced, exhaustion]) {
    const polls = workerTids.reduce((s, tid) => s + (p.polls?.get(tid) ?? 0), 0);
    if (polls + 2 < p.wakeups)
      errors.push(`${p.name}: perf saw ${polls} of the worker's ${p.wakeups} poll() wake-ups: the tracers missed part of the stream`);
  }

  const perPkt = (n: number, p: PhaseResult): number => n / Math.max(1, p.forwarded);
  const workerSum = (m: Map<number, number> | undefined): number => workerTids.reduce((s, tid) => s + (m?.get(tid) ?? 0), 0);
  const hitsOf = (p: PhaseResult, event: (e: string) => boolean): StackHit[] => (p.hits ?? []).filter((h) => event(h.event));
  const isWrite = (e: string): boolean => e === 'syscalls:sys_enter_write';
  const isAlloc = (e: string): boolean => !e.startsWith('syscalls:');

  // Worker, traced stream
  const allocs = workerSum(traced.allocations);
  check(
    'workerAllocationsPerPacket',
    'worker heap allocations (traced stream)',
    perPkt(allocs, traced),
    `/pkt (${allocs} calls)`,
    () => topStacks(hitsOf(traced, isAlloc), 3),
    { counted: allocs, recorded: hitsOf(traced, isAlloc).length },
  );
  const workerSys = new Map<string, { calls: number; errors: number }>();
  for (const tid of workerTids)
    for (const [name, v] of traced.syscalls?.get(tid) ?? []) {
      const e = workerSys.get(name) ?? { calls: 0, errors: 0 };
      e.calls += v.calls;
      e.errors += v.errors;
      workerSys.set(name, e);
    }
  const writes = workerSys.get('write')?.calls ?? 0;
  const writeHits = hitsOf(traced, isWrite);
  const writeTargets = [...new Set(writeHits.map((h) => r.fdNames.get(h.fd ?? -1) ?? `fd ${h.fd}`))];
  check(
    'workerWritesPerPacket',
    'worker write(2) calls (traced stream)',
    perPkt(writes, traced),
    `/pkt (${writes} calls${writeTargets.length ? `, to ${writeTargets.join(', ')}` : ''})`,
    () => topStacks(writeHits, 3),
  );
  const totalSys = [...workerSys.values()].reduce((s, v) => s + v.calls, 0);
  check('workerSyscallsPerPacket', 'worker syscalls, all (traced stream)', perPkt(totalSys, traced), '/pkt');
  const expected = new Set(b.workerOtherSyscallsPerPacket.expected);
  const others = [...workerSys.entries()].filter(([n]) => !expected.has(n));
  const otherCalls = others.reduce((s, [, v]) => s + v.calls, 0);
  check(
    'workerOtherSyscallsPerPacket',
    `worker syscalls other than ${[...expected].join('/')}`,
    perPkt(otherCalls, traced),
    `/pkt${others.length ? ` (${others.map(([n, v]) => `${n} ${v.calls}`).join(', ')})` : ''}`,
    () => (others.some(([n]) => n === 'write') ? topStacks(writeHits, 3) : []),
  );
  for (const [name, v] of [...workerSys.entries()].sort((a, c) => c[1].calls - a[1].calls))
    info(`  worker ${name}`, `${f2(perPkt(v.calls, traced))} /pkt (${v.calls} calls, ${v.errors} errors)`);

  // Worker, clean stream: context switches and CPU
  const workerThreads = clean.threads.filter((t) => isWorker(t.tid));
  const ctx = workerThreads.reduce((s, t) => s + t.voluntary + t.nonvoluntary, 0);
  check(
    'workerContextSwitchesPerPacket',
    'worker context switches (clean stream)',
    perPkt(ctx, clean),
    `/pkt (${workerThreads.reduce((s, t) => s + t.voluntary, 0)} voluntary, ${workerThreads.reduce((s, t) => s + t.nonvoluntary, 0)} involuntary)`,
  );
  check('processCpuNsPerPacket', 'data-plane process CPU, utime+stime (clean stream)', perPkt(clean.cpuNs, clean), 'ns/pkt');
  // Per thread from schedstat (ns, exact); utime+stime above is in clock ticks (10 ms).
  const workerRun = workerThreads.reduce((s, t) => s + t.runNs, 0);
  const restRun = clean.threads.filter((t) => !isWorker(t.tid)).reduce((s, t) => s + t.runNs, 0);
  info('  the worker thread (schedstat)', `${f2(perPkt(workerRun, clean))} ns/pkt`);
  info(
    '  the rest of the data plane (schedstat)',
    `${f2(perPkt(restRun, clean))} ns/pkt (JS thread, V8/libuv helpers: timers, not packets)`,
  );

  // Exhaustion phase
  const exAllocs = workerSum(exhaustion.allocations);
  let exWrites = 0;
  for (const tid of workerTids) exWrites += exhaustion.syscalls?.get(tid)?.get('write')?.calls ?? 0;
  const events = Math.max(1, exhaustion.exhausted);
  info(
    'exhaustion stream',
    `${exhaustion.rx} received, ${exhaustion.forwarded} sent, ${exhaustion.exhausted} refused (EAGAIN/ENOBUFS) by the socket`,
  );
  check(
    'exhaustionAllocationsPerEvent',
    'worker heap allocations (exhaustion stream)',
    exAllocs / events,
    `/refused pkt (${exAllocs} calls)`,
    () => topStacks(hitsOf(exhaustion, isAlloc), 3),
    { counted: exAllocs, recorded: hitsOf(exhaustion, isAlloc).length },
  );
  const exWriteHits = hitsOf(exhaustion, isWrite);
  const exTargets = [...new Set(exWriteHits.map((h) => r.fdNames.get(h.fd ?? -1) ?? `fd ${h.fd}`))];
  check(
    'exhaustionWritesPerEvent',
    'worker write(2) calls (exhaustion stream)',
    exWrites / events,
    `/refused pkt (${exWrites} calls${exTargets.length ? `, to ${exTargets.join(', ')}` : ''})`,
    () => topStacks(exWriteHits, 3),
  );

  // Instructions
  const over = r.instructions.perPacket / r.instructions.baseline - 1;
  rows.push({
    what: `replay gate instructions (${path.relative(ROOT, r.instructions.binary)})`,
    value: `${f2(r.instructions.perPacket)} /pkt (${over >= 0 ? '+' : ''}${(over * 100).toFixed(1)}% on ${r.instructions.baseline})`,
    budget: `<= +${(b.instructionsOverBaseline.max * 100).toFixed(0)}%`,
    ok: over <= b.instructionsOverBaseline.max,
  });
  if (over > b.instructionsOverBaseline.max)
    violations.push({
      budget: 'instructionsOverBaseline',
      text: `replay gate instructions: ${f2(r.instructions.perPacket)}/pkt, ${(over * 100).toFixed(1)}% over the baseline ${r.instructions.baseline} (budget +${(b.instructionsOverBaseline.max * 100).toFixed(0)}%); the replay's measured loop allocated ${r.instructions.allocationsInLoop} times`,
      stacks: [],
    });

  // Other threads of the data plane (information: what is not the worker)
  const otherAllocs = [...(traced.allocations ?? [])].filter(([tid]) => !isWorker(tid)).reduce((s, [, n]) => s + n, 0);
  const otherSys = [...(traced.syscalls ?? [])]
    .filter(([tid]) => !isWorker(tid))
    .reduce((s, [, m]) => s + [...m.values()].reduce((a, v) => a + v.calls, 0), 0);
  info(
    'rest of the data plane (traced stream)',
    `${otherAllocs} allocations, ${otherSys} syscalls in ${f2(traced.seconds)} s (not per packet: timers)`,
  );

  const width = Math.max(...rows.map((x) => x.what.length));
  const vwidth = Math.max(...rows.map((x) => x.value.length));
  const lines: string[] = [];
  lines.push(
    `mcr audit ${new Date().toISOString()}, ${r.drill ? 'DRILL build (MCR_DRILL_SEED_ANTIPATTERN=1)' : 'shipped build'} ${path.relative(ROOT, r.addon)}, kernel ${os.release()}, ${os.cpus().length} CPUs`,
  );
  lines.push(
    `streams: clean ${clean.sent} and traced ${traced.sent} packets (${f2(clean.seconds)} s, ${f2(traced.seconds)} s), exhaustion ${exhaustion.sent}; per packet = per packet the worker forwarded`,
  );
  for (const p of [clean, traced, exhaustion])
    lines.push(
      `  ${p.name}: sent ${p.sent}, worker received ${p.rx}, forwarded ${p.forwarded}, refused ${p.exhausted}, sink received ${p.sinkReceived}, worker wake-ups ${p.wakeups}`,
    );
  lines.push('');
  lines.push(`${'measure'.padEnd(width)}  ${'value'.padEnd(vwidth)}  budget`);
  for (const x of rows)
    lines.push(`${x.what.padEnd(width)}  ${x.value.padEnd(vwidth)}  ${x.budget}${x.ok === undefined ? '' : x.ok ? '  ok' : '  EXCEEDED'}`);
  // Every thread of the data-plane process: which figure belongs to which.
  lines.push('', 'data-plane threads (clean stream: CPU, context switches; traced stream: allocations, syscalls):');
  for (const t of [...clean.threads].sort((a, c) => c.runNs - a.runNs)) {
    const sys = [...(traced.syscalls?.get(t.tid)?.values() ?? [])].reduce((s, v) => s + v.calls, 0);
    lines.push(
      `  ${String(t.tid).padStart(7)} ${t.comm.padEnd(16)} ${isWorker(t.tid) ? 'worker ' : t.tid === r.dpPid ? 'JS main' : 'helper '}  cpu ${(t.runNs / 1e6).toFixed(1).padStart(7)} ms  ctx ${t.voluntary}/${t.nonvoluntary}  allocations ${traced.allocations?.get(t.tid) ?? 0}  syscalls ${sys}`,
    );
  }
  const allocHits = [...hitsOf(traced, isAlloc), ...hitsOf(exhaustion, isAlloc)];
  const allWriteHits = [...writeHits, ...exWriteHits];
  if (allocHits.length) lines.push('', `worker allocations by function responsible (perf record): ${culprits(allocHits).join(', ')}`);
  if (allWriteHits.length) lines.push(`worker write(2) by function responsible (perf record): ${culprits(allWriteHits).join(', ')}`);
  lines.push('');
  for (const e of errors) lines.push(`AUDIT ERROR: ${e}`);
  for (const v of violations) {
    lines.push(`BUDGET EXCEEDED: ${v.text}`);
    for (const s of v.stacks) lines.push(`    ${s}`);
  }
  const seconds = (Date.now() - r.started) / 1000;
  lines.push(
    `audit ${violations.length || errors.length ? 'FAILED' : 'passed'}: ${violations.length} budget${violations.length === 1 ? '' : 's'} exceeded, ${errors.length} error${errors.length === 1 ? '' : 's'}; ${f2(seconds)} s${r.buildSeconds !== undefined ? ` including the drill build (${f2(r.buildSeconds)} s)` : ''}; mcrd exited ${r.stopCode}`,
  );
  lines.push(`results: ${r.out}`);
  const text = `${lines.join('\n')}\n`;
  writeFileSync(path.join(r.out, 'audit.txt'), text);
  process.stdout.write(text);
  return violations.length || errors.length ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    async (err: Error) => {
      console.error(`audit: ${err.stack ?? err.message}`);
      await cleanup.runAll();
      process.exit(2);
    },
  );
}
