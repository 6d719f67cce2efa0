// SPDX-License-Identifier: MIT
// The part of every protocol's I/O edge (IGMP, PIM) that follows the interfaces it is configured
// on: a protocol runs on an interface once it exists and has an IPv4 address, is tried again every
// second until then, and starts again when the address changes or the interface goes away.
import { networkInterfaces } from 'node:os';
import type { Logger } from '../lib/logger';

/** The first IPv4 address of `name` in this namespace, or null. */
export function ipv4Address(name: string): string | null {
  return networkInterfaces()[name]?.find((a) => a.family === 'IPv4')?.address ?? null;
}

/** What a protocol runs on one interface: its socket, engine and timers. */
export interface InterfaceSession {
  readonly name: string;
  /** the interface's address the session started with */
  readonly address: string;
}

export interface SessionHooks<S extends InterfaceSession> {
  /** Starts the protocol on `name` with `address`; throws (an Error naming why) to keep it waiting. */
  open(name: string, address: string): S;
  /** Ends a session: `restarting` when the interface's address changed or it went away, else the protocol stops. */
  close(session: S, restarting: boolean): void;
}

export class InterfaceSessions<S extends InterfaceSession> {
  readonly running = new Map<string, S>();
  /** interface -> why the protocol does not run there yet */
  private readonly waiting = new Map<string, string>();
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;

  /** `protocol` names it in log lines ("IGMP", "PIM"); `log` is the protocol's own (its prefix). */
  constructor(
    private readonly protocol: string,
    private readonly names: readonly string[],
    private readonly log: Logger,
    private readonly hooks: SessionHooks<S>,
  ) {}

  start(): void {
    for (const name of this.names) this.waiting.set(name, 'not started');
    this.sync();
    // Interfaces that are missing or have no address yet are tried again every second, as rules' interfaces are.
    this.retry = setInterval(() => this.sync(), 1000);
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearInterval(this.retry);
    for (const s of this.running.values()) this.hooks.close(s, false);
    this.running.clear();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Why the protocol does not run on `name`; null when it runs. */
  waitingReason(name: string): string | null {
    return this.running.has(name) ? null : (this.waiting.get(name) ?? 'not started');
  }

  private sync(): void {
    if (this.stopped) return;
    for (const [name, why] of [...this.waiting]) {
      const address = ipv4Address(name);
      if (address === null) {
        const reason = 'interface missing or without an IPv4 address';
        if (why !== reason) this.log.warn(`${name}: waiting (${reason})`);
        this.waiting.set(name, reason);
        continue;
      }
      let session: S;
      try {
        session = this.hooks.open(name, address);
      } catch (err) {
        const reason = (err as Error).message;
        if (why !== reason) this.log.error(`${name}: ${reason}`);
        this.waiting.set(name, reason);
        continue;
      }
      this.running.set(name, session);
      this.waiting.delete(name);
    }
    for (const s of [...this.running.values()]) {
      const address = ipv4Address(s.name);
      if (address === s.address) continue;
      this.log.warn(
        `${s.name}: ${address === null ? 'gone or without an IPv4 address' : `address changed to ${address}`}; restarting ${this.protocol} on it`,
      );
      this.hooks.close(s, true);
      this.running.delete(s.name);
      this.waiting.set(s.name, 'restarting');
    }
  }
}
