// SPDX-License-Identifier: MIT
// PIM's I/O edge in mcrd: one raw PIM socket and one Hello/neighbour engine (PimNeighbors) per
// interface of `pim.interfaces`, and the engines' timers. Everything protocol-shaped is in the
// engine; this only moves bytes and time, counts messages, and reports neighbour and DR changes.
// Routing (Join/Prune, Register, Register-Stop, the routes of origin `pim`) is the PimRouter's
// (router.ts), which this feeds with messages and neighbour changes and lends its sockets to.
// Assert messages go to the router too.
import { performance } from 'node:perf_hooks';
import type { PimConfig, PimInterfaceConfig } from '../../config/types';
import type { Logger } from '../../lib/logger';
import { InterfaceSessions } from '../interface-sessions';
import { bump, emptyMessageCounters, type MessageCounters, sumMessageCounters } from '../message-counters';
import { parsePimMessage, type PimMessage } from './codec';
import { type PimRouterInterface, type PimRouterIo, PimRouter } from './router';
import { type PimNeighborChange, PimNeighbors, type PimNeighborResult, type PimNeighborsView, pimNeighborsConfig } from './neighbors';
import { type PimPacket, PimPacketSocket } from './socket';

/** A neighbour or DR change as the rest of the daemon sees it (events). */
export type PimChange =
  | { type: 'neighbor_up'; interface: string; neighbor: string; drPriority: number | null; generationId: number | null }
  | { type: 'neighbor_down'; interface: string; neighbor: string; reason: string }
  | { type: 'neighbor_restart'; interface: string; neighbor: string; generationId: number }
  | { type: 'dr_changed'; interface: string; dr: string | null; self: boolean };

/** PIM's message counters (types: hello, join_prune, register, ...; ignored not_hello: a type not handled yet). */
export type PimCounters = MessageCounters;

export interface PimInterfaceStatus {
  interface: string;
  settings: PimInterfaceConfig;
  /** why PIM is not running on it (missing interface, no IPv4 address, socket error); null when it runs */
  waiting: string | null;
  view: PimNeighborsView | null;
  counters: PimCounters;
}

interface Running {
  name: string;
  address: string;
  socket: PimPacketSocket;
  engine: PimNeighbors;
  timer: NodeJS.Timeout | undefined;
}

/** The counter key of a message type: the codec's own names (hello, join_prune, ...). */
export function pimMessageKind(m: PimMessage): string {
  return m.type;
}

/** What the router needs from the rest of mcrd: everything of PimRouterIo but the PIM sockets. */
export type PimRoutingHooks = Omit<PimRouterIo, 'interfaces' | 'send' | 'count'>;

export class PimService {
  private readonly sessions: InterfaceSessions<Running>;
  readonly router: PimRouter;
  private routerTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Per interface, kept across restarts of PIM on it (address change, link gone). */
  private readonly counters = new Map<string, PimCounters>();

  constructor(
    private readonly config: PimConfig,
    private readonly log: Logger,
    /** Neighbour and DR changes, in the order the engines reported them. */
    private readonly onChange: (changes: PimChange[]) => void,
    hooks: PimRoutingHooks,
    private readonly now: () => number = () => performance.now(),
    private readonly random: () => number = Math.random,
  ) {
    this.router = new PimRouter(
      config.rp ?? [],
      config.joinPruneInterval * 1000,
      {
        ...hooks,
        interfaces: () => this.routerInterfaces(),
        send: (iface, destination, message, bytes) => this.sendMessage(iface, destination, message, bytes),
        count: (kind, reason) => bump(this.totalsExtra[kind], reason),
      },
      random,
    );
    for (const i of config.interfaces) this.counters.set(i.name, emptyMessageCounters());
    const settings = new Map(config.interfaces.map((i) => [i.name, i]));
    this.sessions = new InterfaceSessions(
      'PIM',
      config.interfaces.map((i) => i.name),
      log,
      {
        open: (name, address) => this.open(name, address, settings.get(name) as PimInterfaceConfig),
        // Stopping or restarting on a new address alike: a holdtime-0 Hello, then close.
        close: (r) => this.close(r),
      },
    );
  }

  start(): void {
    this.sessions.start();
  }

  /**
   * Prunes what the router joined, then a holdtime-0 Hello on every interface, so neighbours
   * forget us at once (RFC 7761 4.3.1), and closes.
   */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.routerTimer);
    this.router.stop(this.now());
    this.sessions.stop();
  }

  /** Listeners, unicast routes or MSDP's sources changed: the router looks again. */
  update(): void {
    if (this.stopped) return;
    this.router.update(this.now());
    this.scheduleRouter();
  }

  /** A packet a PIM route punted, with the route's input interface. */
  punted(p: Parameters<PimRouter['punted']>[0], iface: string): void {
    if (this.stopped) return;
    this.router.punted(p, iface, this.now());
    this.scheduleRouter();
  }

  /** Per configured interface: its settings, state and counters. */
  status(): PimInterfaceStatus[] {
    return this.config.interfaces.map((settings) => {
      const r = this.sessions.running.get(settings.name);
      return {
        interface: settings.name,
        settings,
        waiting: this.sessions.waitingReason(settings.name),
        view: r ? r.engine.view() : null,
        counters: this.countersOf(settings.name),
      };
    });
  }

  /** Every interface's counters added up, with the router's own errors and ignored messages. */
  totals(): PimCounters {
    return sumMessageCounters([...this.counters.values(), this.totalsExtra]);
  }

  /** The router's errors and ignored messages (not tied to one interface's socket). */
  private readonly totalsExtra: PimCounters = emptyMessageCounters();

  private routerInterfaces(): Map<string, PimRouterInterface> {
    const out = new Map<string, PimRouterInterface>();
    for (const [name, r] of this.sessions.running) {
      const view = r.engine.view();
      if (!view.started) continue;
      out.set(name, {
        name,
        address: r.address,
        isDr: r.engine.isDr(),
        neighborCount: view.neighbors.length,
        lanDelay: r.engine.lanDelay(),
        neighborFor: (address) => r.engine.neighborFor(address),
      });
    }
    return out;
  }

  /** The router's messages: a Hello first where RFC 7761 4.3.1 wants one, then the message. */
  private sendMessage(iface: string, destination: string, message: PimMessage, bytes: Uint8Array): void {
    const r = this.sessions.running.get(iface);
    const counters = this.countersOf(iface);
    if (!r) {
      bump(counters.errors, 'send_no_interface');
      return;
    }
    this.apply(r, r.engine.helloBeforeSending(this.now()));
    try {
      r.socket.send(bytes, destination);
      bump(counters.sent, pimMessageKind(message));
    } catch (err) {
      bump(counters.errors, 'send_failed');
      this.log.debug(`${iface}: ${message.type} to ${destination} failed: ${(err as Error).message}`);
    }
  }

  private scheduleRouter(): void {
    clearTimeout(this.routerTimer);
    this.routerTimer = undefined;
    const at = this.router.nextDeadline();
    if (at === null || this.stopped) return;
    this.routerTimer = setTimeout(
      () => {
        this.router.tick(this.now());
        this.scheduleRouter();
      },
      Math.max(0, Math.ceil(at - this.now())),
    );
  }

  /** Milliseconds on the engines' clock, for turning their times into seconds. */
  clock(): number {
    return this.now();
  }

  private countersOf(name: string): PimCounters {
    let c = this.counters.get(name);
    if (!c) {
      c = emptyMessageCounters();
      this.counters.set(name, c);
    }
    return c;
  }

  private open(name: string, address: string, settings: PimInterfaceConfig): Running {
    const engine = new PimNeighbors(pimNeighborsConfig(address, settings), this.random);
    const socket = new PimPacketSocket(name);
    const r: Running = { name, address, socket, engine, timer: undefined };
    socket.onPacket((p) => this.receive(r, p));
    // ENETDOWN once per link down: the socket receives again when the link is back.
    socket.onError((err) => this.log.warn(`${name}: ${err.message}`));
    this.log.info(`on ${name} (${address}), hello every ${settings.helloInterval}s, DR priority ${settings.drPriority}`);
    this.apply(r, engine.start(this.now()));
    // The session table holds the interface only once this returns: the router looks again then.
    setImmediate(() => this.update());
    return r;
  }

  private close(r: Running): void {
    if (r.timer) clearTimeout(r.timer);
    r.timer = undefined;
    // The engine's stop sends the holdtime-0 Hello and reports the neighbours down and no DR.
    this.apply(r, r.engine.stop(), false);
    r.socket.close();
    setImmediate(() => this.update());
  }

  private receive(r: Running, packet: PimPacket): void {
    const counters = this.countersOf(r.name);
    const parsed = parsePimMessage(packet.data);
    if (!parsed.ok) {
      bump(counters.errors, parsed.reason);
      return;
    }
    const message = parsed.message;
    bump(counters.received, pimMessageKind(message));
    const now = this.now();
    switch (message.type) {
      case 'hello': {
        const result = r.engine.receive({ ip: { source: packet.source, destination: packet.destination, ttl: packet.ttl }, message }, now);
        if (result.ignored) bump(counters.ignored, result.ignored);
        this.apply(r, result);
        return;
      }
      case 'join_prune':
        this.router.receiveJoinPrune(r.name, packet.source, message, now);
        break;
      case 'register':
        this.router.receiveRegister(r.name, packet.source, packet.destination, message, now);
        break;
      case 'register_stop':
        this.router.receiveRegisterStop(message, now);
        break;
      case 'assert':
        this.router.receiveAssert(r.name, packet.source, message, now);
        break;
    }
    this.scheduleRouter();
  }

  private apply(r: Running, result: PimNeighborResult, reschedule = true): void {
    const counters = this.countersOf(r.name);
    for (const s of result.send) {
      try {
        r.socket.send(s.bytes, s.destination);
        bump(counters.sent, pimMessageKind(s.message));
      } catch (err) {
        bump(counters.errors, 'send_failed');
        this.log.debug(`${r.name}: send to ${s.destination} failed: ${(err as Error).message}`);
      }
    }
    if (result.changes.length > 0) this.changed(r, result.changes);
    if (reschedule) this.schedule(r);
    // Neighbours and DRs decide RPF' and where local members count: the router looks again.
    if (result.changes.length > 0 && !this.stopped) {
      const now = this.now();
      for (const c of result.changes) if (c.type === 'neighbor_restart') this.router.neighborRestarted(r.name, c.address, now);
      this.router.update(now);
      this.scheduleRouter();
    }
  }

  private changed(r: Running, changes: PimNeighborChange[]): void {
    const view = r.engine.view();
    const out: PimChange[] = [];
    for (const c of changes) {
      switch (c.type) {
        case 'neighbor_up': {
          const n = view.neighbors.find((x) => x.address === c.address);
          this.log.info(`${r.name}: neighbour ${c.address} up`);
          out.push({
            type: 'neighbor_up',
            interface: r.name,
            neighbor: c.address,
            drPriority: n?.drPriority ?? null,
            generationId: n?.generationId ?? null,
          });
          break;
        }
        case 'neighbor_down':
          this.log.info(`${r.name}: neighbour ${c.address} down (${c.reason})`);
          out.push({ type: 'neighbor_down', interface: r.name, neighbor: c.address, reason: c.reason });
          break;
        case 'neighbor_restart':
          this.log.info(`${r.name}: neighbour ${c.address} restarted (generation ID ${c.generationId})`);
          out.push({ type: 'neighbor_restart', interface: r.name, neighbor: c.address, generationId: c.generationId });
          break;
        case 'dr_changed':
          if (c.dr !== null) this.log.info(`${r.name}: DR ${c.dr}${c.isUs ? ' (this router)' : ''}`);
          out.push({ type: 'dr_changed', interface: r.name, dr: c.dr, self: c.isUs });
          break;
      }
    }
    this.onChange(out);
  }

  private schedule(r: Running): void {
    if (r.timer) clearTimeout(r.timer);
    r.timer = undefined;
    const at = r.engine.nextDeadline();
    if (at === null || this.sessions.isStopped) return;
    r.timer = setTimeout(() => this.apply(r, r.engine.tick(this.now())), Math.max(0, Math.ceil(at - this.now())));
  }
}
