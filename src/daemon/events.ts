// SPDX-License-Identifier: MIT
// mcrd's event stream (`mcrctl events`, the control protocol's `events` method): the typed
// events every part of the daemon emits, and the bus that fans them out to subscribers. Emitting
// never blocks and never waits for a reader: each subscriber has its own bounded queue; when it
// is full the oldest events go, and the subscriber is told how many with a `dropped` event in
// their place. Memory is bounded by the queue limits, whatever the readers do.
import type { InterfaceStatus } from '../control/protocol';
import { type RouteOrigin, routeName } from '../routing/table';

// ---- the events ------------------------------------------------------------------------------

/** One output of a route: republished (group and port given) or routed (the interface alone). */
export interface RouteEventOutput {
  interface: string;
  group?: string;
  port?: number;
}

/** A route as route.add and route.remove carry it. */
export interface RouteEventFields {
  /** "(S,G)" or "(*,G)", e.g. "(10.0.1.1,239.1.1.1)" or "(*,239.1.1.1)". */
  route: string;
  /** The input interface. */
  interface: string;
  group: string;
  source?: string;
  /** UDP destination port; 0 = any. */
  port: number;
  /** Absent = udp. */
  protocol?: 'udp' | 'esp';
  /** Every output the route has after the change (route.add), or had (route.remove). */
  outputs: RouteEventOutput[];
  origin: RouteOrigin;
  /** A static rule's id and name. */
  rule?: string;
  name?: string;
}

/**
 * Every event without its time, as emit() takes it: `type` discriminates. New kinds (PIM, MSDP)
 * join the union with their own `type`; readers show the fields of a type they do not know.
 */
export type McrEventBody =
  | {
      type: 'igmp.join';
      interface: string;
      group: string;
      /** Source-specific (IGMPv3 INCLUDE) joins: the sources. */
      sources?: string[];
      /** The host whose report caused the join. */
      reporter?: string;
    }
  | { type: 'igmp.leave'; interface: string; group: string }
  | ({ type: 'route.add' } & RouteEventFields)
  | ({ type: 'route.remove' } & RouteEventFields)
  | {
      type: 'pim.neighbor.up';
      interface: string;
      /** The neighbour's primary address (its Hellos' source). */
      neighbor: string;
      /** Absent: its Hellos carry no DR Priority option (the election then goes by address). */
      drPriority?: number;
      /** null: its Hellos carry no Generation ID option. */
      generationId: number | null;
    }
  | {
      type: 'pim.neighbor.down';
      interface: string;
      neighbor: string;
      /** expired (no Hello within its holdtime), holdtime_zero (it said goodbye), stopped (PIM stopped here). */
      reason: string;
    }
  | {
      type: 'pim.dr';
      interface: string;
      /** The elected DR; null when PIM stopped on the interface. */
      dr: string | null;
      /** Whether the DR is this router. */
      self: boolean;
    }
  | {
      /** Join state made (pim.join) or gone (pim.prune): towards an upstream neighbour, or an interface joined from below. */
      type: 'pim.join' | 'pim.prune';
      /** "(S,G)" or "(*,G)". */
      route: string;
      group: string;
      source?: string;
      /** upstream: we joined (or pruned) towards `neighbor` on `interface`; downstream: a neighbour's Join added `interface` to the olist (or its Prune or expiry took it out). */
      direction: 'upstream' | 'downstream';
      interface: string;
      neighbor?: string;
    }
  | {
      type: 'msdp.peer.up';
      /** The peer's address (msdp.peers[].address). */
      peer: string;
    }
  | {
      type: 'msdp.peer.down';
      peer: string;
      /** hold_expired, peer_closed, disabled (MSDP stopped or restarted here), malformed_<parse error>. */
      reason: string;
    }
  | {
      type: 'msdp.sa.add';
      source: string;
      group: string;
      /** The RP that originated the SA. */
      rp: string;
      /** The peer it was learned from. */
      peer: string;
    }
  | {
      type: 'msdp.sa.remove';
      source: string;
      group: string;
      rp: string;
      peer: string;
      /** expired (no SA for it within SG-State-Period), peer_down (its peer's session ended). */
      reason: string;
    }
  | { type: 'interface.up'; interface: string }
  | { type: 'interface.down'; interface: string }
  | {
      type: 'dataplane.restart';
      /** Why, in words: "exited unexpectedly (SIGKILL)", "config reload changed workers". */
      reason: string;
      /** The pid of the data-plane process that ended, when it had one. */
      pid?: number;
    }
  | {
      type: 'dropped';
      /** Events this subscriber lost because its queue was full; they preceded the next event. */
      count: number;
    };

export type McrEventType = McrEventBody['type'];

/** An event as subscribers get it: `time` (ISO 8601, UTC, milliseconds) first, then `type`. */
export type McrEvent = { time: string } & McrEventBody;

/** Where the daemon's parts send events (the EventBus; a recorder in unit tests). */
export interface EventSink {
  emit(event: McrEventBody): void;
}

// ---- the bus ---------------------------------------------------------------------------------

/** A subscriber's queue when the client does not ask for another size. */
export const DEFAULT_QUEUE_LIMIT = 1_000;
/** The largest queue a client may ask for: events are shared, but each queue holds references. */
export const MAX_QUEUE_LIMIT = 10_000;

export class EventBus implements EventSink {
  private readonly subscribers = new Set<EventSubscriber>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  /** Stamps the event and queues it for every subscriber; O(subscribers), never waits. */
  emit(event: McrEventBody): void {
    if (this.subscribers.size === 0) return;
    // One frozen object shared by every queue: the time is the same for all of them.
    const stamped = Object.freeze({ time: this.now().toISOString(), ...event }) as McrEvent;
    for (const s of this.subscribers) s.push(stamped);
  }

  /** A new subscriber, which gets the events emitted from now on until it is closed. */
  subscribe(limit = DEFAULT_QUEUE_LIMIT): EventSubscriber {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_QUEUE_LIMIT)
      throw new RangeError(`queue limit: expected an integer from 1 to ${MAX_QUEUE_LIMIT}, got ${limit}`);
    const subscriber = new EventSubscriber(limit, () => this.subscribers.delete(subscriber));
    this.subscribers.add(subscriber);
    return subscriber;
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }
}

/**
 * One reader's bounded queue (a ring of `limit` events). The reader takes events when it can
 * (the control server: when its socket drains) and is called back when events arrive while it
 * had none to take.
 */
export class EventSubscriber {
  private readonly ring: (McrEvent | undefined)[];
  private head = 0;
  private length = 0;
  /** Events dropped since the reader last took one; reported before the next queued event. */
  private droppedCount = 0;
  /** The time of the newest dropped event: the gap ends there. */
  private droppedUntil = '';
  private listener: (() => void) | undefined;
  private notifyScheduled = false;
  private closed = false;

  constructor(
    readonly limit: number,
    private readonly detach: () => void,
  ) {
    this.ring = new Array<McrEvent | undefined>(limit);
  }

  /** Queued events (the pending `dropped` event not counted). */
  get size(): number {
    return this.length;
  }

  /** Events dropped and not yet reported. */
  get dropped(): number {
    return this.droppedCount;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Called by the bus: queues the event, dropping the oldest when full. */
  push(event: McrEvent): void {
    if (this.closed) return;
    if (this.length === this.limit) {
      const oldest = this.ring[this.head];
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % this.limit;
      this.length--;
      this.droppedCount++;
      if (oldest) this.droppedUntil = oldest.time;
    }
    this.ring[(this.head + this.length) % this.limit] = event;
    this.length++;
    this.scheduleNotify();
  }

  /**
   * The next event to deliver, or undefined when none is queued. After a gap the `dropped`
   * event comes first (its time: the newest event lost), then the events that followed the gap.
   */
  take(): McrEvent | undefined {
    if (this.droppedCount > 0) {
      const dropped: McrEvent = { time: this.droppedUntil, type: 'dropped', count: this.droppedCount };
      this.droppedCount = 0;
      return dropped;
    }
    if (this.length === 0) return undefined;
    const event = this.ring[this.head];
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.limit;
    this.length--;
    return event;
  }

  /**
   * `listener` runs (on a later turn of the event loop, once for any number of events queued
   * meanwhile) when events arrive; the reader then takes as many as it can.
   */
  onReadable(listener: () => void): void {
    this.listener = listener;
    if (this.length > 0 || this.droppedCount > 0) this.scheduleNotify();
  }

  /** Unsubscribes and frees the queue; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listener = undefined;
    this.ring.fill(undefined);
    this.length = 0;
    this.droppedCount = 0;
    this.detach();
  }

  private scheduleNotify(): void {
    if (this.notifyScheduled || this.listener === undefined) return;
    this.notifyScheduled = true;
    setImmediate(() => {
      this.notifyScheduled = false;
      if (!this.closed) this.listener?.();
    });
  }
}

// ---- what the daemon emits -------------------------------------------------------------------

/** The parts of a static rule a route event shows (RuleSpec and its input, as they grow). */
export interface StaticRoute {
  id: string;
  spec: {
    name?: string;
    input: { interface: string; group: string; port: number; source?: string; protocol?: 'udp' | 'esp' };
    outputs: { interface: string; group: string; port: number }[];
  };
}

/** route.add / route.remove for a static rule. */
export function staticRouteEvent(type: 'route.add' | 'route.remove', rule: StaticRoute): McrEventBody {
  const { input, outputs, name } = rule.spec;
  return {
    type,
    route: routeName(input.source, input.group),
    interface: input.interface,
    group: input.group,
    ...(input.source !== undefined ? { source: input.source } : {}),
    port: input.port,
    ...(input.protocol !== undefined ? { protocol: input.protocol } : {}),
    outputs: outputs.map((o) => ({ interface: o.interface, group: o.group, port: o.port })),
    origin: 'static',
    rule: rule.id,
    ...(name !== undefined ? { name } : {}),
  };
}

/** A rule's interfaces as the data plane last reported them (RuleRecord with its status). */
export interface RuleInterfaces {
  spec: { input: { interface: string }; outputs: { interface: string }[] };
  status: { input: InterfaceStatus; outputs: InterfaceStatus[]; error?: string } | null;
}

/**
 * Turns the rules' interface statuses into interface.up / interface.down: an interface is up
 * when a rule reports it up, down when rules report it waiting. Only changes of an interface
 * already seen are events; an interface no rule uses any more is forgotten.
 */
export class InterfaceStates {
  private readonly known = new Map<string, boolean>();

  observe(rules: Iterable<RuleInterfaces>, sink: EventSink): void {
    const now = new Map<string, boolean>();
    const used = new Set<string>();
    const note = (iface: string | undefined, status: InterfaceStatus | undefined): void => {
      // pending: the data plane has not looked yet; says nothing about the interface.
      if (iface === undefined || status === undefined || status === 'pending') return;
      now.set(iface, (now.get(iface) ?? false) || status === 'up');
    };
    for (const r of rules) {
      used.add(r.spec.input.interface);
      for (const o of r.spec.outputs) used.add(o.interface);
      // A refused rule reports its interfaces down whatever they are.
      if (!r.status || r.status.error !== undefined) continue;
      note(r.spec.input.interface, r.status.input);
      r.spec.outputs.forEach((o, i) => {
        note(o.interface, r.status?.outputs[i]);
      });
    }
    for (const [iface, up] of now) {
      const before = this.known.get(iface);
      if (before !== undefined && before !== up) sink.emit({ type: up ? 'interface.up' : 'interface.down', interface: iface });
    }
    // An interface no rule reported on this time (pending, refused) keeps its last state while a
    // rule uses it.
    for (const iface of [...this.known.keys()]) if (!used.has(iface)) this.known.delete(iface);
    for (const [iface, up] of now) this.known.set(iface, up);
  }
}
