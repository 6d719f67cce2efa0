// SPDX-License-Identifier: MIT
// mcr itself under test: mcrd (started by lab/mcrd.ts) in the relay namespace with a JSON5 config
// written to the plan's directory, one rule per input stream, counters read over the control
// socket, and the `[STATS:Ingress FINAL]` lines collected on SIGTERM.
import { rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ControlClient } from '../../src/control/client';
import type { SpanHistogram } from '../../src/lib/histogram';
import { startMcrd as startDaemon, type DaemonHandle, type McrdOptions } from '../../lab/mcrd';
import { cleanup, type Proc } from '../proc';
import { inputGroup, outputGroup, type Relay, type RelayCounters, type RelayInstance, type RelayPlan } from './relay';

import { parseFinal } from '../../src/daemon/stats';
export { parseFinal, type FinalLine } from '../../src/daemon/stats';

/** mcrd removes its counter file on a clean stop; after a SIGKILL the bench removes it. */
function removeCounterFile(pid: number | undefined): void {
  if (pid) rmSync(`/dev/shm/mcrd-${pid}.counters`, { force: true });
}

export class McrInstance implements RelayInstance {
  readonly client: ControlClient;

  constructor(
    readonly proc: Proc,
    readonly socket: string,
  ) {
    this.client = new ControlClient(socket);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  async counters(): Promise<RelayCounters> {
    const s = await this.client.request('stats');
    const t = s.totals;
    return {
      rx: t.rxFrames,
      tx: t.txPackets,
      bufExhaust: t.bufExhaust,
      ringDrops: t.ringDrops,
      txErrors: t.txErrors,
      batches: t.batches,
      wakeups: t.wakeups,
    };
  }

  async spans(): Promise<Record<string, SpanHistogram>> {
    const s = await this.client.request('stats');
    return s.totals.spans;
  }

  async stop(): Promise<{ final?: RelayCounters; text?: string }> {
    this.client.close();
    await this.proc.stop('SIGTERM', 10_000);
    removeCounterFile(this.proc.pid);
    const f = parseFinal(this.proc.stdout);
    const text = this.proc.stdout
      .split('\n')
      .filter((l) => l.includes('FINAL'))
      .join('\n');
    return { final: f ? { rx: f.recv, tx: f.egr_sent, bufExhaust: f.buf_exhaust } : undefined, text };
  }
}

export function mcrConfig(plan: RelayPlan): unknown {
  const rules = Array.from({ length: plan.streams }, (_, k) => ({
    name: `s${k}`,
    input: { interface: plan.inIf, group: inputGroup(k), port: plan.port },
    outputs: plan.sameGroupOut
      ? [{ group: inputGroup(k), port: plan.port, interface: plan.outIf }]
      : Array.from({ length: plan.fanout }, (_, o) => ({
          group: outputGroup(plan.streams > 1 ? k : o),
          port: plan.portPerOutput ? plan.outPort + o : plan.outPort,
          interface: plan.outIf,
        })),
  }));
  const cpus = plan.cpus?.length
    ? Array.from({ length: plan.workers }, (_, i) => plan.cpus?.[i % (plan.cpus?.length ?? 1)] ?? 0)
    : undefined;
  return {
    workers: plan.workers,
    ...(plan.busyPoll ? { busyPoll: true } : {}),
    ...(cpus && new Set(cpus).size === cpus.length ? { cpus } : {}),
    logLevel: 'warn',
    ...plan.mcrConfig,
    rules,
  };
}

/**
 * Writes `plan`'s config, starts mcrd with it (lab/mcrd.ts; `command` and `onStart` as there) and
 * waits until the data plane runs and every rule is up. The counter file a SIGKILL leaves behind
 * is removed once mcrd has exited.
 */
export async function launchMcrd(
  plan: RelayPlan,
  label: string,
  o: Pick<McrdOptions, 'command' | 'onStart'> = {},
): Promise<{ daemon: DaemonHandle; socket: string }> {
  const configFile = path.join(plan.dir, `mcr-${plan.ns}.json5`);
  writeFileSync(configFile, `${JSON.stringify(mcrConfig(plan), null, 2)}\n`);
  const socket = path.join(plan.dir, `mcrd-${plan.ns}.sock`);
  const daemon = await startDaemon(plan.topo, plan.ns, {
    socket,
    configFile,
    ...(o.command ? { command: o.command } : {}),
    args: ['--workers', String(plan.workers)],
    label,
    rules: plan.streams,
    timeoutMs: 20_000,
    pollMs: 100,
    onStart: (started) => {
      o.onStart?.(started);
      const { proc } = started;
      const hook = cleanup.add(`mcrd ${proc.pid} counter file`, () => removeCounterFile(proc.pid));
      void proc.exited.then(() =>
        setTimeout(() => {
          removeCounterFile(proc.pid);
          cleanup.remove(hook);
        }, 200),
      );
    },
  });
  return { daemon, socket };
}

/** Starts mcrd (lab/mcrd.ts) and waits until the data plane runs and every rule is up. */
export async function startMcrd(plan: RelayPlan, label: string): Promise<McrInstance> {
  const { daemon, socket } = await launchMcrd(plan, label);
  return new McrInstance(daemon.proc, socket);
}

/**
 * One-worker mcr with extra config keys (issue #11's levers): `id` and `label` as in the registry
 * (bench/relays/registry.ts).
 */
export function mcrVariant(id: string, label: string, config: Record<string, unknown>): Relay {
  const base = mcrRelay(1);
  return { ...base, id, label, start: (plan) => base.start({ ...plan, mcrConfig: { ...plan.mcrConfig, ...config } }) };
}

/** mcr with `workers` workers; `busyPoll` is the dedicated-core configuration (config busyPoll). */
export function mcrRelay(workers: number, busyPoll = false): Relay {
  return {
    id: `mcr-${workers}w${busyPoll ? '-poll' : ''}`,
    label: `mcr (${workers} worker${workers > 1 ? 's' : ''}${busyPoll ? ', busyPoll' : ''})`,
    unavailable: () => undefined,
    unsupported: () => undefined,
    // One stream hashes to one worker; pinning a second worker next to the generator would make
    // the result depend on the luck of the hash, so 2 workers run unpinned.
    start: (plan) => startMcrd({ ...plan, workers, busyPoll, cpus: workers > 1 ? undefined : plan.cpus?.slice(0, 1) }, `mcrd ${plan.ns}`),
    deliveredGroup: (plan, stream, out) =>
      plan.sameGroupOut
        ? { group: inputGroup(stream), port: plan.port }
        : { group: outputGroup(plan.streams > 1 ? stream : out), port: plan.portPerOutput ? plan.outPort + out : plan.outPort },
  };
}
