// SPDX-License-Identifier: MIT
// Shared start/stop logic for peers that are one process (C relay, Node relay, socat): start it in
// the relay namespace, wait until it is ready (a "ready" line, or its group membership showing on
// the input interface), stop it with SIGTERM and read the JSON counters line it prints, if any.
import { sleep, type Proc } from '../proc';
import type { RelayCounters, RelayInstance, RelayPlan } from './relay';

export async function waitForMembership(plan: RelayPlan, groups: string[], proc: Proc, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!proc.running) throw new Error(`${proc.label} exited: ${proc.stderr.trim()}`);
    const r = await plan.topo.ip(plan.ns, ['maddr', 'show', 'dev', plan.inIf]);
    if (groups.every((g) => new RegExp(`inet\\s+${g.replace(/\./g, '\\.')}\\b`).test(r.stdout))) return;
    if (Date.now() > deadline) throw new Error(`${proc.label} did not join ${groups.join(', ')} on ${plan.inIf}`);
    await sleep(50);
  }
}

export async function waitForLine(proc: Proc, text: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!proc.stderr.includes(text)) {
    if (!proc.running) throw new Error(`${proc.label} exited: ${proc.stderr.trim()}`);
    if (Date.now() > deadline) throw new Error(`${proc.label} not ready after ${timeoutMs / 1000} s: ${proc.stderr.trim()}`);
    await sleep(20);
  }
}

/** A relay that is a single process and reports counters only when it stops. */
export class ProcessRelayInstance implements RelayInstance {
  constructor(readonly proc: Proc) {}

  get pid(): number | undefined {
    return this.proc.pid;
  }

  counters(): Promise<RelayCounters | undefined> {
    return Promise.resolve(undefined);
  }

  async stop(): Promise<{ final?: RelayCounters; text?: string }> {
    await this.proc.stop('SIGTERM', 5000);
    const last = this.proc.stdout.trim().split('\n').pop() ?? '';
    try {
      const j = JSON.parse(last) as { rx: number; tx: number; tx_errors?: number };
      return { final: { rx: j.rx, tx: j.tx, txErrors: j.tx_errors }, text: last };
    } catch {
      return { text: this.proc.stderr.trim().slice(-500) };
    }
  }
}
