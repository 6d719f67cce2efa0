// SPDX-License-Identifier: MIT
// PIM's I/O edge in mcrd: one raw PIM socket and one Hello/neighbour engine (PimNeighbors) per
// interface of `pim.interfaces`, and the engines' timers. Everything protocol-shaped is in the
// engine; this only moves bytes and time, counts messages, and reports neighbour and DR changes.
// So far PIM here is Hello, neighbours and DR election: Join/Prune, Register and Assert messages
// are parsed and counted, and otherwise ignored.
import { performance } from 'node:perf_hooks';
import type { PimConfig, PimInterfaceConfig } from '../../config/types';
import type { Logger } from '../../lib/logger';
import { InterfaceSessions } from '../interface-sessions';
import { bump, emptyMessageCounters, type MessageCounters, sumMessageCounters } from '../message-counters';
import { parsePimMessage, type PimMessage } from './codec';
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

export class PimService {
  private readonly sessions: InterfaceSessions<Running>;
  /** Per interface, kept across restarts of PIM on it (address change, link gone). */
  private readonly counters = new Map<string, PimCounters>();

  constructor(
    private readonly config: PimConfig,
    private readonly log: Logger,
    /** Neighbour and DR changes, in the order the engines reported them. */
    private readonly onChange: (changes: PimChange[]) => void,
    private readonly now: () => number = () => performance.now(),
    private readonly random: () => number = Math.random,
  ) {
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

  /** Sends a holdtime-0 Hello on every interface, so neighbours forget us at once (RFC 7761 4.3.1), and closes. */
  stop(): void {
    this.sessions.stop();
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

  /** Every interface's counters added up. */
  totals(): PimCounters {
    return sumMessageCounters(this.counters.values());
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
    return r;
  }

  private close(r: Running): void {
    if (r.timer) clearTimeout(r.timer);
    r.timer = undefined;
    // The engine's stop sends the holdtime-0 Hello and reports the neighbours down and no DR.
    this.apply(r, r.engine.stop(), false);
    r.socket.close();
  }

  private receive(r: Running, packet: PimPacket): void {
    const counters = this.countersOf(r.name);
    const parsed = parsePimMessage(packet.data);
    if (!parsed.ok) {
      bump(counters.errors, parsed.reason);
      return;
    }
    bump(counters.received, pimMessageKind(parsed.message));
    const result = r.engine.receive(
      { ip: { source: packet.source, destination: packet.destination, ttl: packet.ttl }, message: parsed.message },
      this.now(),
    );
    if (result.ignored) bump(counters.ignored, result.ignored);
    this.apply(r, result);
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
