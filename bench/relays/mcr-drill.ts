// SPDX-License-Identifier: MIT
// mcr next to its audit drill (issue #10): mcrd started with MCR_ADDON pointing at another build
// of the addon (build-drill/mcr_native.node, the seed's logging anti-pattern compiled in by
// profiling/audit.ts), and the data plane's stderr -- the pipe the drill writes a line to on
// every buffer exhaustion -- read the way a supervisor would, counting those lines and keeping only
// a tail (a drill run writes millions of them; the lab's Proc would keep them all in memory).
import { spawnSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import * as path from 'node:path';
import { MCRD, ROOT } from '../../lab/paths';
import { launchMcrd, McrInstance, mcrRelay } from './mcr';
import type { Relay, RelayPlan } from './relay';
import { relayInfo } from './registry';

export const DRILL_RELAY_ID = 'mcr-1w-drill';
export const SHIPPED_ADDON = path.join(ROOT, 'build', 'Release', 'mcr_native.node');
/** Where profiling/audit.ts's buildDrill() puts the drill addon. */
export const DRILL_ADDON = path.join(ROOT, 'build-drill', 'mcr_native.node');
/** The prefix of the drill's pipe lines (native/drill/drill.cc, log()). */
export const DRILL_LINE_PREFIX = '[critical] mcr-worker: ';

/**
 * A pipe's text arriving in chunks: counts the complete lines that start with `prefix` and keeps
 * the last `tailBytes` of everything (for error messages). A line split across chunks is counted
 * once, when its end arrives; a final line without a newline by `end()`.
 */
export class LineTally {
  matched = 0;
  lines = 0;
  bytes = 0;
  tail = '';
  private partial = '';

  constructor(
    readonly prefix: string,
    readonly tailBytes = 16_384,
  ) {}

  feed(chunk: string): void {
    this.bytes += Buffer.byteLength(chunk);
    const text = this.partial + chunk;
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.count(line);
    // a line longer than the tail is not worth keeping whole: its start is enough to classify it
    if (this.partial.length > this.tailBytes) this.partial = this.partial.slice(0, this.tailBytes);
    this.tail = (this.tail + chunk).slice(-this.tailBytes);
  }

  end(): void {
    if (this.partial !== '') this.count(this.partial);
    this.partial = '';
  }

  private count(line: string): void {
    this.lines++;
    if (line.startsWith(this.prefix)) this.matched++;
  }
}

/** utime + stime of a /proc/PID/stat line (in clock ticks), whatever the command name holds. */
export function ticksOf(stat: string): number {
  // after "pid (comm) ": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`not a /proc/PID/stat line: ${stat.slice(0, 80)}`);
  return utime + stime;
}

let clk: number | undefined;
function clockTicks(): number {
  clk ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  return clk;
}

/** The mcr_native.node a process has mapped, from its /proc/PID/maps text (undefined: none). */
export function mappedAddon(maps: string): string | undefined {
  for (const line of maps.split('\n')) {
    const file = line.trim().split(/\s+/).slice(5).join(' ');
    if (file.endsWith('/mcr_native.node')) return file;
  }
  return undefined;
}

/** mcrd with its data plane's stderr tallied; `addon` is the addon its data plane loaded. */
export class TalliedMcrInstance extends McrInstance {
  addon = '';
  dataplanePid = 0;

  /** CPU time of the data plane process (all its threads: the worker and its Node thread), in ns. */
  dataplaneCpuNs(): number {
    return ticksOf(readFileSync(`/proc/${this.dataplanePid}/stat`, 'utf8')) * (1e9 / clockTicks());
  }

  constructor(
    proc: McrInstance['proc'],
    socket: string,
    readonly pipe: LineTally,
  ) {
    super(proc, socket);
  }
}

/**
 * Starts mcrd like bench/relays/mcr.ts does, with MCR_ADDON=`addon` (undefined: the shipped
 * build, no override), its stderr tallied, and checks in /proc that the data plane mapped the
 * addon asked for (a drill run must never measure the shipped build by mistake, nor the reverse).
 */
export async function startTalliedMcrd(plan: RelayPlan, label: string, addon: string | undefined): Promise<TalliedMcrInstance> {
  const pipe = new LineTally(DRILL_LINE_PREFIX);
  const { daemon, socket } = await launchMcrd(plan, label, {
    // `ip netns exec` execs env, which execs node: the child's pid is still mcrd's
    command: addon ? ['env', `MCR_ADDON=${addon}`, 'node', MCRD] : ['node', MCRD],
    onStart: ({ proc }) => {
      const stderr = proc.child.stderr;
      stderr?.removeAllListeners('data');
      stderr?.on('data', (d: Buffer) => {
        pipe.feed(d.toString());
        proc.stderr = pipe.tail;
      });
      stderr?.on('end', () => pipe.end());
    },
  });
  const inst = new TalliedMcrInstance(daemon.proc, socket, pipe);
  try {
    const dpPid = await daemon.dataplanePid();
    const mapped = mappedAddon(readFileSync(`/proc/${dpPid}/maps`, 'utf8'));
    const want = realpathSync(addon ?? SHIPPED_ADDON);
    if (mapped !== want) throw new Error(`${label}: its data plane (pid ${dpPid}) mapped ${mapped ?? 'no mcr_native.node'}, not ${want}`);
    inst.addon = mapped;
    inst.dataplanePid = dpPid;
  } catch (err) {
    await inst.stop().catch(() => undefined);
    throw err;
  }
  return inst;
}

/**
 * mcr with one worker, as mcr-1w, started through startTalliedMcrd: with `addon` the drill
 * (id mcr-1w-drill), without it the shipped build (id mcr-1w). `onStart` sees every instance.
 */
export function talliedMcrRelay(addon: string | undefined, onStart?: (inst: TalliedMcrInstance) => void): Relay {
  const base = mcrRelay(1);
  return {
    ...base,
    id: addon ? DRILL_RELAY_ID : base.id,
    label: addon ? relayInfo(DRILL_RELAY_ID).label : base.label,
    start: async (plan) => {
      const inst = await startTalliedMcrd(
        { ...plan, workers: 1, cpus: plan.cpus?.slice(0, 1) },
        `mcrd ${plan.ns}${addon ? ' (drill)' : ''}`,
        addon,
      );
      onStart?.(inst);
      return inst;
    },
  };
}
