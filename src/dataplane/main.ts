// SPDX-License-Identifier: MIT
// The data-plane process: hosts the native forwarding core for the supervisor (mcrd). It owns
// the worker threads and sockets; the supervisor owns the rules and reads the counters from
// the shared counter file, so this process can die and be restarted without losing either.
import { Logger } from '../lib/logger';
import { loadAddon, xdpObjectPath, type NativeRelay, type NativeRuleStatus } from '../native/addon';
import type { FromDataPlane, InitMessage, ToDataPlane } from './messages';

const KERNEL_STATS_INTERVAL_MS = 250;
const RECONCILE_INTERVAL_MS = 1000;

function send(message: FromDataPlane): void {
  process.send?.(message);
}

function errorCode(err: unknown): string {
  return typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'EDATAPLANE';
}

class DataPlane {
  private relay: NativeRelay | undefined;
  private timers: NodeJS.Timeout[] = [];
  private log: Logger = Logger.create('info', 'text', 'dataplane');
  /** Input interface -> what was last logged about its rings, so each ring set is logged once. */
  private loggedInputs = new Map<string, string>();
  private loggedXdpStatus: string | null = null;

  init(msg: InitMessage): void {
    this.log = Logger.create(msg.logLevel, msg.logFormat, 'dataplane');
    const { Relay } = loadAddon();
    const { type: _type, logLevel: _level, logFormat: _format, rules: _rules, xdp, ...options } = msg;
    this.relay = new Relay({ ...options, ...(xdp ? { xdpObject: xdpObjectPath() } : {}) });
    this.relay.start();
    // The workers have pinned themselves; everything else in this process keeps off their CPUs.
    if (msg.cpus)
      loadAddon().confineThreads(
        msg.cpus,
        this.relay.workers().map((w) => w.tid),
      );
    // The first table: whatever installs forwards; refused rules are reported and retried.
    const statuses = this.applied(this.relay.setRules(msg.rules).statuses);
    const relay = this.relay;
    this.timers.push(setInterval(() => relay.pollKernelStats(), KERNEL_STATS_INTERVAL_MS));
    this.timers.push(
      setInterval(() => {
        try {
          const changed = relay.reconcile();
          if (changed) send({ type: 'status', statuses: this.applied(changed) });
        } catch (err) {
          this.log.error(`interface re-check failed: ${(err as Error).message}`);
        }
      }, RECONCILE_INTERVAL_MS),
    );
    send({ type: 'ready', statuses, workers: this.relay.workers() });
    this.log.debug('data plane ready', { workers: msg.workers, rules: msg.rules.length });
  }

  /**
   * Logs each newly opened ring set once, with the fanout group the kernel gave it: which id a
   * multi-worker input got is otherwise invisible, and id 0 once duplicated every frame.
   */
  private applied(statuses: NativeRuleStatus[]): NativeRuleStatus[] {
    const open = new Set<string>();
    for (const input of this.relay?.inputs() ?? []) {
      open.add(input.interface);
      const text = `${input.rings} ring${input.rings === 1 ? '' : 's'}, ${input.fanoutGroup === null ? 'no fanout group (one worker)' : `fanout group ${input.fanoutGroup}`}${input.xdp ? `, XDP attached (${input.xdp} mode)` : ''}`;
      const key = `${input.ifindex} ${text}`;
      if (this.loggedInputs.get(input.interface) === key) continue;
      this.loggedInputs.set(input.interface, key);
      this.log.info(`input ${input.interface}: ${text}`);
    }
    for (const name of this.loggedInputs.keys()) if (!open.has(name)) this.loggedInputs.delete(name);
    // The XDP path's trouble, once per change: what it could not load, attach or hold stays on the rings.
    const xdp = this.relay?.xdp();
    if (xdp && xdp.status !== this.loggedXdpStatus) {
      if (xdp.status !== null) this.log.warn(`XDP path: ${xdp.status}; those rules forward on the AF_PACKET path`);
      this.loggedXdpStatus = xdp.status;
    }
    return statuses;
  }

  handle(msg: ToDataPlane): void {
    switch (msg.type) {
      case 'init':
        try {
          this.init(msg);
        } catch (err) {
          send({ type: 'fatal', code: errorCode(err), message: (err as Error).message });
          process.exit(1);
        }
        return;
      case 'setRules':
        try {
          if (!this.relay) throw new Error('data plane not initialised');
          const result = this.relay.setRules(msg.rules, msg.allOrNothing);
          send({ type: 'rulesApplied', requestId: msg.requestId, applied: result.applied, statuses: this.applied(result.statuses) });
        } catch (err) {
          send({ type: 'rulesFailed', requestId: msg.requestId, code: errorCode(err), message: (err as Error).message });
        }
        return;
      case 'setLogLevel':
        this.log.setLevel(msg.level);
        return;
      case 'shutdown':
        this.shutdown(0);
        return;
    }
  }

  shutdown(code: number): never {
    for (const t of this.timers) clearInterval(t);
    // stop() joins the workers and reads the rings' kernel drop counters one last time.
    this.relay?.stop();
    process.exit(code);
  }
}

const dataPlane = new DataPlane();
process.on('message', (msg: ToDataPlane) => dataPlane.handle(msg));
// The supervisor is gone (it crashed or was killed): stop forwarding rather than run unmanaged.
process.on('disconnect', () => dataPlane.shutdown(0));
// The supervisor delivers SIGTERM through the IPC channel; a stray terminal SIGINT is ignored.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => dataPlane.shutdown(0));
