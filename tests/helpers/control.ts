// SPDX-License-Identifier: MIT
// Typed views of mcrd's control-protocol results (docs/control-protocol.md) for tests, and
// polling helpers: wait for a state with a deadline, then let the test assert exact values.
import * as net from 'node:net';
import type { CommandResult } from '../../lab/proc';
import { sleep, type DaemonHandle } from './netns';

// The result types are the protocol's own (src/control/protocol.ts), so tests and daemon cannot drift.
import type { RuleView, Stats, WorkersResult } from '../../src/control/protocol';
export type { Counters, Stats, RuleView as Rule, WorkersResult as Workers } from '../../src/control/protocol';

export const stats = (d: DaemonHandle): Promise<Stats> => d.request('stats');
export const workers = (d: DaemonHandle): Promise<WorkersResult> => d.request('workers');
export const rules = async (d: DaemonHandle): Promise<RuleView[]> => (await d.request('list')).rules;

/** `mcrctl stats --json`, parsed: the CLI's view of the counters. */
export const mcrctlStats = async (d: DaemonHandle): Promise<Stats> => JSON.parse((await d.ctl(['stats', '--json'])).stdout) as Stats;

/** `mcrctl stats --json` once mcrd has counted at least `rxFrames` received frames. */
export const mcrctlStatsAfterRx = (d: DaemonHandle, rxFrames: number): Promise<Stats> =>
  pollUntil(
    () => mcrctlStats(d),
    (s) => s.totals.rxFrames >= rxFrames,
    `mcrd counted ${rxFrames} frames`,
  );

/** `mcrctl add`: r0's `group`:`port` to `outputs` ("group:port:interface", comma-separated), named when `name` is given. */
export function mcrctlAdd(d: DaemonHandle, group: string, port: number, outputs: string, name?: string): Promise<CommandResult> {
  const named = name === undefined ? [] : ['--name', name];
  return d.ctl(['add', '--input-interface', 'r0', '--input-group', group, '--input-port', String(port), '--outputs', outputs, ...named]);
}

/** Calls fn until pred holds (returns that value) or the deadline passes (throws with the last value). */
export async function pollUntil<T>(
  fn: () => Promise<T>,
  pred: (v: T) => boolean,
  what: string,
  timeoutMs = 5_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await fn();
      if (pred(last)) return last;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last: ${last === undefined ? String(lastError) : JSON.stringify(last)}`,
      );
    await sleep(everyMs);
  }
}

/**
 * Stats once the data plane has taken in `rxFrames` frames in total (the injected or sent frames
 * are processed asynchronously), after a short settle so a late extra frame would show too.
 */
export async function statsAfterRx(d: DaemonHandle, rxFrames: number, settleMs = 250): Promise<Stats> {
  await pollUntil(
    () => stats(d),
    (s) => s.totals.rxFrames >= rxFrames,
    `rxFrames >= ${rxFrames}`,
  );
  await sleep(settleMs);
  return stats(d);
}

/** A raw line-oriented client of the control socket, for protocol-level tests. */
export class RawClient {
  readonly socket: net.Socket;
  readonly lines: string[] = [];
  closed = false;
  readonly closedAt: Promise<number>;
  private buffer = '';
  private waiters: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
        this.lines.push(this.buffer.slice(0, nl));
        this.buffer = this.buffer.slice(nl + 1);
      }
      this.notify();
    });
    socket.on('error', () => undefined);
    this.closedAt = new Promise((resolve) =>
      socket.on('close', () => {
        this.closed = true;
        this.notify();
        resolve(Date.now());
      }),
    );
  }

  static connect(path: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(path);
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  write(text: string): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(text, (err) => (err ? reject(err) : resolve())));
  }

  /** Waits until at least n lines have arrived (or the connection closed); returns them parsed. */
  async replies(n: number, timeoutMs = 5_000): Promise<Record<string, unknown>[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length < n && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`only ${this.lines.length} of ${n} replies within ${timeoutMs} ms: ${this.lines.join(' | ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.lines.slice(0, n).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Sends one request and waits for the next reply line. */
  async call(request: unknown): Promise<Record<string, unknown>> {
    const before = this.lines.length;
    await this.write(`${JSON.stringify(request)}\n`);
    const reply = (await this.replies(before + 1))[before];
    if (!reply) throw new Error(`the connection closed before the reply to ${JSON.stringify(request)}`);
    return reply;
  }

  close(): void {
    this.socket.destroy();
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
