// SPDX-License-Identifier: MIT
// IGMP's I/O edge in mcrd: one packet socket and one engine (IgmpInterface) per interface of
// `igmp.interfaces`, and the engine's timers. Everything protocol-shaped is in the engine; this
// only moves bytes and time. (igmpproxy's joins upstream are the core's: it joins the input
// group of every route it installs, source-specifically for an (S,G) route.)
import { performance } from 'node:perf_hooks';
import type { IgmpConfig } from '../../config/types';
import type { Logger } from '../../lib/logger';
import { InterfaceSessions } from '../interface-sessions';
import { bump, emptyMessageCounters, type MessageCounters } from '../message-counters';
import { parseIgmpPacket, type IgmpMessage } from './codec';
import { IgmpInterface, igmpInterfaceConfig, type IgmpInterfaceView, type IgmpResult, type MembershipFilter } from './interface';
import type { ListenerFilter, Memberships } from './proxy';
import { IgmpPacketSocket } from './socket';

/** A membership change as the rest of the daemon sees it (events, routes). */
export interface MembershipEvent {
  interface: string;
  group: string;
  /** none: the last listener left */
  mode: 'include' | 'exclude' | 'none';
  sources: string[];
  reporter?: string;
}

/** IGMP's message counters (kinds: query_v2, report_v3, leave_v2, ...). */
export type IgmpCounters = MessageCounters;

export interface IgmpInterfaceStatus {
  interface: string;
  /** why IGMP is not running on it (missing interface, no IPv4 address, socket error); null when it runs */
  waiting: string | null;
  view: IgmpInterfaceView | null;
}

interface Running {
  name: string;
  address: string;
  socket: IgmpPacketSocket;
  engine: IgmpInterface;
  timer: NodeJS.Timeout | undefined;
}

export function messageKind(m: IgmpMessage): string {
  switch (m.type) {
    case 'query':
      return `query_v${m.version}`;
    case 'v1_report':
      return 'report_v1';
    case 'v2_report':
      return 'report_v2';
    case 'v2_leave':
      return 'leave_v2';
    case 'v3_report':
      return 'report_v3';
  }
}

export class IgmpService {
  private readonly sessions: InterfaceSessions<Running>;
  private readonly memberships = new Map<string, Map<string, ListenerFilter>>();
  private readonly counters: IgmpCounters = emptyMessageCounters();

  constructor(
    private readonly config: IgmpConfig,
    private readonly log: Logger,
    /** Called after memberships changed (already applied): recompute routes. */
    private readonly onChange: (changes: MembershipEvent[]) => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.sessions = new InterfaceSessions('IGMP', config.interfaces, log, {
      open: (name, address) => this.open(name, address),
      // An interface that lost its address or went away: its listeners are gone with it.
      close: (r, restarting) => this.close(r, restarting),
    });
  }

  start(): void {
    this.sessions.start();
  }

  stop(): void {
    this.sessions.stop();
  }

  /** Whether `group` has a listener on `iface` (any source). */
  hasListener(iface: string, group: string): boolean {
    return this.memberships.get(iface)?.has(group) ?? false;
  }

  listeners(): Memberships {
    return this.memberships;
  }

  counts(): IgmpCounters {
    return this.counters;
  }

  status(): IgmpInterfaceStatus[] {
    return this.config.interfaces.map((name) => {
      const r = this.sessions.running.get(name);
      return { interface: name, waiting: this.sessions.waitingReason(name), view: r ? r.engine.view(this.now()) : null };
    });
  }

  /** Milliseconds on the engines' clock, for turning their expiry times into seconds left. */
  clock(): number {
    return this.now();
  }

  private open(name: string, address: string): Running {
    const engine = new IgmpInterface(igmpInterfaceConfig(address, this.config));
    const socket = new IgmpPacketSocket(name);
    const r: Running = { name, address, socket, engine, timer: undefined };
    socket.onPacket((p) => this.receive(r, p.data));
    // ENETDOWN once per link down: the socket receives again when the link is back.
    socket.onError((err) => this.log.warn(`${name}: ${err.message}`));
    this.log.info(`querier on ${name} (${address}), IGMPv${this.config.version}`);
    this.apply(r, engine.start(this.now()));
    return r;
  }

  private close(r: Running, forget: boolean): void {
    if (r.timer) clearTimeout(r.timer);
    r.socket.close();
    if (!forget) return;
    const groups = this.memberships.get(r.name);
    this.memberships.delete(r.name);
    if (groups && groups.size > 0)
      this.onChange([...groups.keys()].map((group) => ({ interface: r.name, group, mode: 'none', sources: [] })));
  }

  private receive(r: Running, bytes: Uint8Array): void {
    const parsed = parseIgmpPacket(bytes);
    if (!parsed.ok) {
      bump(this.counters.errors, parsed.reason);
      return;
    }
    bump(this.counters.received, messageKind(parsed.packet.message));
    const result = r.engine.receive(parsed.packet, this.now());
    if (result.ignored) bump(this.counters.ignored, result.ignored);
    this.apply(r, result, parsed.packet.ip.source);
  }

  private apply(r: Running, result: IgmpResult, reporter?: string): void {
    for (const s of result.send) {
      try {
        r.socket.send(s.packet, s.destination);
        bump(this.counters.sent, messageKind(s.message));
      } catch (err) {
        bump(this.counters.errors, 'send_failed');
        this.log.debug(`${r.name}: send to ${s.destination} failed: ${(err as Error).message}`);
      }
    }
    if (result.changes.length > 0) this.changed(r.name, result.changes, reporter);
    this.schedule(r);
  }

  private changed(iface: string, changes: MembershipFilter[], reporter?: string): void {
    const groups = this.memberships.get(iface) ?? new Map<string, ListenerFilter>();
    const events: MembershipEvent[] = [];
    for (const c of changes) {
      if (c.mode === 'none') groups.delete(c.group);
      else groups.set(c.group, { mode: c.mode, sources: c.sources });
      events.push({ interface: iface, group: c.group, mode: c.mode, sources: c.sources, ...(reporter ? { reporter } : {}) });
    }
    if (groups.size > 0) this.memberships.set(iface, groups);
    else this.memberships.delete(iface);
    this.onChange(events);
  }

  private schedule(r: Running): void {
    if (r.timer) clearTimeout(r.timer);
    r.timer = undefined;
    const at = r.engine.nextDeadline();
    if (at === null || this.sessions.isStopped) return;
    r.timer = setTimeout(() => this.apply(r, r.engine.tick(this.now())), Math.max(0, Math.ceil(at - this.now())));
  }
}
