// SPDX-License-Identifier: MIT
// mcrgen (build/Release/mcrgen) in the lab: the arguments of `send` and `recv`, the JSON lines
// they print with --json, and a sender and a receiver run inside a namespace.
import type { Topology } from './netns';
import { MCRGEN } from './paths';

/** What `mcrgen send --json` prints when it is done (one line per process). */
export interface SendResult {
  sent: number;
  elapsed_s: number;
  pps: number;
  send_errors: number;
}

/** What `mcrgen recv --json` prints when it is done. */
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

export interface SendSpec {
  group: string;
  port: number;
  /** the source address (mcrgen's --interface) */
  source: string;
  /** packets per second (0 = unlimited) */
  rate: number;
  count: number;
  size?: number;
  stream?: number;
  ttl?: number;
  /** packets per paced sendmmsg batch */
  batch?: number;
  stampGroup?: number;
}

export function sendArgs(o: SendSpec): string[] {
  const args = [
    'send',
    '--group',
    o.group,
    '--port',
    String(o.port),
    '--interface',
    o.source,
    '--rate',
    String(o.rate),
    '--count',
    String(o.count),
    '--json',
    '--quiet',
  ];
  if (o.size) args.push('--size', String(o.size));
  if (o.ttl !== undefined) args.push('--ttl', String(o.ttl));
  if (o.stream !== undefined) args.push('--stream', String(o.stream));
  if (o.batch) args.push('--batch', String(o.batch));
  if (o.stampGroup) args.push('--stamp-group', String(o.stampGroup));
  return args;
}

export interface RecvSpec {
  group: string;
  port: number;
  iface: string;
  count?: number;
  /** seconds without a packet before it stops (0 = never) */
  timeoutS?: number;
  stream?: number;
}

export function recvArgs(o: RecvSpec): string[] {
  const args = [
    'recv',
    '--group',
    o.group,
    '--port',
    String(o.port),
    '--interface',
    o.iface,
    '--json',
    '--timeout',
    String(o.timeoutS ?? 3),
  ];
  if (o.count) args.push('--count', String(o.count));
  if (o.stream !== undefined) args.push('--stream', String(o.stream));
  return args;
}

/** The last line of a tool's --json output, parsed (throws if it is not JSON). */
export function lastJsonLine<T>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as T;
}

/** Every `mcrgen send --json` result line in the output of one or several senders. */
export function sendResults(stdout: string): SendResult[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as SendResult);
}

/** Runs `mcrgen send` in namespace `ns` to the end. */
export async function send(t: Topology, ns: string, o: SendSpec): Promise<SendResult> {
  const r = await t.exec(ns, MCRGEN, sendArgs(o), { timeoutMs: 120_000 });
  return lastJsonLine<SendResult>(r.stdout);
}

export interface Receiver {
  /** Resolves once the receiver has joined its group. */
  ready: Promise<void>;
  result: Promise<RecvResult>;
}

/** Starts `mcrgen recv` in namespace `ns`; its result comes when it stops (count reached or timeout). */
export function receive(t: Topology, ns: string, o: RecvSpec): Receiver {
  const proc = t.spawn(ns, `mcrgen recv ${o.group}:${o.port}`, MCRGEN, recvArgs(o));
  const ready = new Promise<void>((resolve, reject) => {
    const joined = (): void => {
      if (proc.stderr.includes('joined') || proc.stderr.includes('receiving on')) resolve();
    };
    proc.child.stderr?.on('data', joined);
    proc.child.on('exit', () => reject(new Error(`receiver exited before it was ready: ${proc.stderr}`)));
  });
  ready.catch(() => undefined);
  const result = new Promise<RecvResult>((resolve, reject) => {
    // 'close', not 'exit': 'exit' can come before the last of stdout has been read.
    proc.child.on('close', (code) => {
      try {
        resolve(lastJsonLine<RecvResult>(proc.stdout));
      } catch {
        reject(new Error(`receiver exited ${code}: ${proc.stderr}${proc.stdout}`));
      }
    });
  });
  // A receiver that fails before a test awaits it must fail that test, not crash the runner.
  result.catch(() => undefined);
  return { ready, result };
}
