// SPDX-License-Identifier: MIT
// Test hosts for integration tests: real network namespaces joined by veth pairs, the real
// mcrd/mcrctl/mcrgen run inside them, and the kernel's own interface counters to audit against.
// Every topology gets a unique prefix, and destroy() removes all of it (namespaces take their
// veths and processes' sockets with them).
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ControlClient, type RequestArgs } from '../../src/control/client';
import type { Method, Methods } from '../../src/control/protocol';

const run = promisify(execFile);

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const MCRGEN = path.join(ROOT, 'build', 'Release', 'mcrgen');
const MCRD = path.join(ROOT, 'dist', 'src', 'cli', 'mcrd.js');
const MCRCTL = path.join(ROOT, 'dist', 'src', 'cli', 'mcrctl.js');

/** Why integration tests cannot run here, or undefined when they can. */
export function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, AF_PACKET)';
  if (!existsSync('/var/run/netns') && !existsSync('/run')) return 'no /run for ip netns';
  if (!existsSync(MCRGEN)) return `mcrgen not built (${MCRGEN}): run npm install`;
  return undefined;
}

let counter = 0;

export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number;
}

export async function sh(cmd: string, args: string[], opts: { allowFail?: boolean; timeoutMs?: number } = {}): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await run(cmd, args, { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20 });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number | string };
    if (!opts.allowFail) throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr ?? ''}${String(e.code ?? '')}`);
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : 1 };
  }
}

export class Topology {
  readonly prefix: string;
  private readonly namespaces: string[] = [];
  private readonly processes = new Set<ChildProcess>();

  constructor(label: string) {
    this.prefix = `mcrt${process.pid % 10000}${label.slice(0, 4)}${counter++}`;
  }

  /** The real namespace name for a short name ("relay" -> "mcrt123abc0-relay"). */
  ns(name: string): string {
    return `${this.prefix}-${name}`;
  }

  async addNamespace(name: string, sysctls: Record<string, string> = {}): Promise<void> {
    const ns = this.ns(name);
    await sh('ip', ['netns', 'del', ns], { allowFail: true });
    await sh('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    await this.ip(name, ['link', 'set', 'lo', 'up']);
    for (const [key, value] of Object.entries(sysctls)) await this.exec(name, 'sysctl', ['-qw', `${key}=${value}`]);
  }

  /** A veth pair between two namespaces; addresses in CIDR form, e.g. "10.0.1.1/24". */
  async link(a: string, aIf: string, aAddr: string | null, b: string, bIf: string, bAddr: string | null, mtu?: number): Promise<void> {
    await sh('ip', ['link', 'add', aIf, 'netns', this.ns(a), 'type', 'veth', 'peer', 'name', bIf, 'netns', this.ns(b)]);
    for (const [n, ifname, addr] of [[a, aIf, aAddr], [b, bIf, bAddr]] as const) {
      if (mtu) await this.ip(n, ['link', 'set', ifname, 'mtu', String(mtu)]);
      if (addr) await this.ip(n, ['addr', 'add', addr, 'dev', ifname]);
      await this.ip(n, ['link', 'set', ifname, 'up']);
    }
  }

  ip(name: string, args: string[]): Promise<CommandResult> {
    return sh('ip', ['-n', this.ns(name), ...args]);
  }

  exec(name: string, cmd: string, args: string[], opts: { allowFail?: boolean; timeoutMs?: number } = {}): Promise<CommandResult> {
    return sh('ip', ['netns', 'exec', this.ns(name), cmd, ...args], opts);
  }

  spawn(name: string, cmd: string, args: string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns(name), cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.processes.add(child);
    child.on('exit', () => this.processes.delete(child));
    return child;
  }

  /** A kernel interface counter (/sys/class/net/IF/statistics/NAME) read inside the namespace. */
  async counter(name: string, ifname: string, stat: 'rx_packets' | 'tx_packets' | 'rx_dropped' | 'tx_dropped' | 'rx_bytes' | 'tx_bytes'): Promise<number> {
    const r = await this.exec(name, 'cat', [`/sys/class/net/${ifname}/statistics/${stat}`]);
    return Number(r.stdout.trim());
  }

  async destroy(): Promise<void> {
    for (const p of this.processes) p.kill('SIGKILL');
    for (const ns of this.namespaces) await sh('ip', ['netns', 'del', ns], { allowFail: true });
  }
}

/**
 * The topology of most tests (the one in shared/reference/peers-measured.md):
 *   gen: g0 10.0.1.1/24 <-> relay: r0 10.0.1.2/24 | r1 10.0.2.1/24 <-> sink: s0 10.0.2.2/24
 */
export async function oneHop(label: string, opts: { mtu?: number; relaySysctls?: Record<string, string> } = {}): Promise<Topology> {
  const t = new Topology(label);
  await t.addNamespace('gen');
  await t.addNamespace('relay', opts.relaySysctls);
  await t.addNamespace('sink');
  await t.link('gen', 'g0', '10.0.1.1/24', 'relay', 'r0', '10.0.1.2/24', opts.mtu);
  await t.link('relay', 'r1', '10.0.2.1/24', 'sink', 's0', '10.0.2.2/24', opts.mtu);
  return t;
}

export interface SendResult {
  sent: number;
  elapsed_s: number;
  pps: number;
  send_errors: number;
}

export async function send(t: Topology, ns: string, o: { group: string; port: number; source: string; rate: number; count: number; size?: number; stream?: number; ttl?: number }): Promise<SendResult> {
  const args = ['send', '--group', o.group, '--port', String(o.port), '--interface', o.source, '--rate', String(o.rate), '--count', String(o.count), '--json', '--quiet'];
  if (o.size) args.push('--size', String(o.size));
  if (o.ttl !== undefined) args.push('--ttl', String(o.ttl));
  if (o.stream !== undefined) args.push('--stream', String(o.stream));
  const r = await t.exec(ns, MCRGEN, args, { timeoutMs: 120_000 });
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as SendResult;
}

export interface RecvResult {
  received: number;
  unique: number;
  lost: number;
  duplicates: number;
  reordered: number;
  corrupted: number;
  foreign: number;
  bytes: number;
  max_seq: number | null;
  latency_us: { p50: number | null; p99: number | null };
}

export interface Receiver {
  /** Resolves once the receiver has joined its group. */
  ready: Promise<void>;
  result: Promise<RecvResult>;
}

export function receive(t: Topology, ns: string, o: { group: string; port: number; iface: string; count?: number; timeoutS?: number; stream?: number }): Receiver {
  const args = ['recv', '--group', o.group, '--port', String(o.port), '--interface', o.iface, '--json', '--timeout', String(o.timeoutS ?? 3)];
  if (o.count) args.push('--count', String(o.count));
  if (o.stream !== undefined) args.push('--stream', String(o.stream));
  const child = t.spawn(ns, MCRGEN, args);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('joined') || stderr.includes('receiving on')) resolve();
    });
    child.on('exit', () => reject(new Error(`receiver exited before it was ready: ${stderr}`)));
  });
  ready.catch(() => undefined);
  const result = new Promise<RecvResult>((resolve, reject) => {
    // 'close', not 'exit': 'exit' can come before the last of stdout has been read.
    child.on('close', (code) => {
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() as string) as RecvResult);
      } catch {
        reject(new Error(`receiver exited ${code}: ${stderr}${stdout}`));
      }
    });
  });
  // A receiver that fails before a test awaits it must fail that test, not crash the runner.
  result.catch(() => undefined);
  return { ready, result };
}

export { parseFinal, type FinalLine } from '../../src/daemon/stats';

export interface StreamSpec {
  group: string;
  port: number;
  /** Where the relay sends it: the sink's group and port. */
  out: string;
  outPort: number;
  count: number;
  rate?: number;
  source?: string;
}

export interface RunningStream {
  /** True once the generator has sent everything. */
  isDone: () => boolean;
  /** Waits for the end and asserts every packet arrived exactly once, intact. */
  finish: () => Promise<void>;
}

/** Starts a stream gen -> relay -> sink (s0) in the background, the receiver joined first. */
export async function startStream(t: Topology, s: StreamSpec): Promise<RunningStream> {
  const sink = receive(t, 'sink', { group: s.out, port: s.outPort, iface: 's0', count: s.count });
  await sink.ready;
  const sending = send(t, 'gen', { group: s.group, port: s.port, source: s.source ?? '10.0.1.1', rate: s.rate ?? 10_000, count: s.count });
  let done = false;
  void sending.then(() => (done = true), () => undefined);
  return {
    isDone: () => done,
    finish: async () => {
      const sent = await sending;
      const got = await sink.result;
      assert.equal(sent.sent, s.count);
      assert.equal(got.unique, s.count, `${s.group}: every packet arrived`);
      assert.equal(got.lost, 0);
      assert.equal(got.duplicates, 0);
      assert.equal(got.corrupted, 0);
    },
  };
}

/** Sends a stream and asserts the sink got every packet, once, intact. */
export async function streamExactly(t: Topology, s: StreamSpec): Promise<void> {
  await (await startStream(t, s)).finish();
}

export class DaemonHandle {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(readonly ns: string, readonly socket: string, readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => (this.stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    // 'close' (after stdout/stderr are drained), so the FINAL lines are complete when it resolves.
    this.exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  }

  /** Runs mcrctl (the real CLI) against this daemon. */
  ctl(args: string[], allowFail = false): Promise<CommandResult> {
    return sh('node', [MCRCTL, '--socket', this.socket, ...args], { allowFail });
  }

  async request<M extends Method>(method: M, ...args: RequestArgs<Methods[M]['params']>): Promise<Methods[M]['result']> {
    const client = new ControlClient(this.socket);
    try {
      return await client.request(method, ...args);
    } finally {
      client.close();
    }
  }

  async dataplanePid(): Promise<number> {
    const w = await this.request('workers');
    if (w.dataplane.pid === null) throw new Error(`mcrd has no data plane (${w.dataplane.state})`);
    return w.dataplane.pid;
  }

  /** SIGTERM and wait; returns the exit code. FINAL lines are then in `stdout`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode !== null) return this.exited;
    // `ip netns exec` execs mcrd, so the child pid is mcrd itself.
    this.child.kill(signal);
    return this.exited;
  }
}

export async function startDaemon(t: Topology, ns: string, o: { configFile?: string; args?: string[] } = {}): Promise<DaemonHandle> {
  const socket = `/tmp/${t.prefix}-${ns}.sock`;
  const args = [MCRD, '--control-socket', socket, ...(o.configFile ? ['--config', o.configFile] : []), ...(o.args ?? [])];
  const d = new DaemonHandle(ns, socket, t.spawn(ns, 'node', args));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (d.child.exitCode !== null) throw new Error(`mcrd exited ${d.child.exitCode}: ${d.stderr}`);
    try {
      const pong = await d.request('ping');
      if (pong.dataplane === 'running') return d;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`mcrd did not become ready: ${d.stderr}`);
    await sleep(50);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}
