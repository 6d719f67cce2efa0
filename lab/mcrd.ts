// SPDX-License-Identifier: MIT
// mcrd (the real daemon, dist/src/cli/mcrd.js) started inside a lab namespace, and the one wait
// for it to be ready: its control socket answers ping with the data plane running (and, if asked,
// every configured rule is up). The handle talks to it over the typed control client and mcrctl.
import { ControlClient, type RequestArgs } from '../src/control/client';
import type { Method, Methods } from '../src/control/protocol';
import type { Topology } from './netns';
import { MCRCTL, MCRD } from './paths';
import { sh, sleep, type CommandResult, type Proc } from './proc';

export class DaemonHandle {
  readonly exited: Promise<number | null>;

  constructor(
    readonly ns: string,
    readonly socket: string,
    readonly proc: Proc,
  ) {
    // 'close' (after stdout/stderr are drained), so the FINAL lines are complete when it resolves.
    this.exited = new Promise((resolve) => proc.child.on('close', (code) => resolve(code)));
  }

  get child(): Proc['child'] {
    return this.proc.child;
  }

  get stdout(): string {
    return this.proc.stdout;
  }

  get stderr(): string {
    return this.proc.stderr;
  }

  /** Runs mcrctl (the real CLI) against this daemon. */
  ctl(args: string[], allowFail = false): Promise<CommandResult> {
    return sh('node', [MCRCTL, '--socket', this.socket, ...args], { allowFail });
  }

  /** One request on a connection of its own. */
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

  /** Sends `signal` (SIGTERM: a clean stop) and waits; returns the exit code. FINAL lines are then in `stdout`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode !== null) return this.exited;
    // `ip netns exec` execs mcrd, so the child pid is mcrd itself.
    this.child.kill(signal);
    return this.exited;
  }
}

export interface McrdOptions {
  /** the control socket's path */
  socket: string;
  configFile?: string;
  /** further mcrd arguments */
  args?: string[];
  /** what runs mcrd, the control socket and config arguments following (default: node dist/src/cli/mcrd.js) */
  command?: string[];
  /** the process's label in the cleanup registry */
  label?: string;
  /** also wait until this many rules are listed, each with its input and outputs up */
  rules?: number;
  timeoutMs?: number;
  pollMs?: number;
  /** called once mcrd is spawned, before the wait (e.g. to register its cleanup) */
  onStart?: (d: DaemonHandle) => void;
}

/** Starts mcrd in namespace `ns` and waits until it is ready; a daemon that is not ready in time is stopped. */
export async function startMcrd(t: Topology, ns: string, o: McrdOptions): Promise<DaemonHandle> {
  const [cmd, ...rest] = o.command ?? ['node', MCRD];
  if (!cmd) throw new Error('startMcrd: command is empty');
  const args = [...rest, '--control-socket', o.socket, ...(o.configFile ? ['--config', o.configFile] : []), ...(o.args ?? [])];
  const d = new DaemonHandle(ns, o.socket, t.spawn(ns, o.label ?? `mcrd ${ns}`, cmd, args));
  o.onStart?.(d);
  const timeoutMs = o.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (d.child.exitCode !== null) throw new Error(`mcrd exited ${d.child.exitCode}: ${d.stderr}`);
    try {
      if (
        (await d.request('ping', undefined, 1000)).dataplane === 'running' &&
        (o.rules === undefined || rulesUp((await d.request('list')).rules, o.rules))
      )
        return d;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await d.proc.stop('SIGTERM', 10_000);
      throw new Error(`mcrd did not become ready within ${timeoutMs / 1000} s: ${d.stderr.trim()}`);
    }
    await sleep(o.pollMs ?? 50);
  }
}

function rulesUp(rules: Methods['list']['result']['rules'], count: number): boolean {
  return rules.length === count && rules.every((r) => r.status.input === 'up' && r.status.outputs.every((o) => o === 'up'));
}
