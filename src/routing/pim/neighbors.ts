// SPDX-License-Identifier: MIT
// One interface's PIM Hello protocol and neighbour table (RFC 7761 4.3): periodic and triggered
// Hellos, neighbour liveness, generation IDs, DR election (4.3.2) and the LAN Prune Delay values
// the Join/Prune engine needs (4.3.3).
// A pure state machine like the IGMP engine: it takes parsed packets and the time (milliseconds,
// from the caller's clock) and returns the Hellos to send and the neighbour and DR changes. No
// sockets, no timers: the caller calls tick(now) at nextDeadline(). Randomness (the generation ID
// and the triggered-Hello offsets) comes from an injected function, so tests choose it.
import { addressValue } from '../../lib/ipv4';
import { ALL_PIM_ROUTERS, encodePimMessage, HOLDTIME_FOREVER, type LanPruneDelay, type PimHello, type PimPacket } from './codec';

// ---- RFC 7761 4.11 timer values ----------------------------------------------------------------

/** Triggered_Hello_Delay: the first Hello and triggered ones go out after a random 0..5 s. */
export const TRIGGERED_HELLO_DELAY_MS = 5_000;
/** Default_Hello_Holdtime, for a neighbour whose Hello has no Holdtime option (3.5 x the default 30 s period). */
export const DEFAULT_HELLO_HOLDTIME_S = 105;
/** Propagation_delay_default (4.3.3). */
export const DEFAULT_PROPAGATION_DELAY_MS = 500;
/** t_override_default (4.3.3). */
export const DEFAULT_OVERRIDE_INTERVAL_MS = 2_500;

/** Hello holdtime for a Hello period: 3.5 x the period (RFC 7761 4.11), whole seconds, below HOLDTIME_FOREVER. */
export function helloHoldtimeSeconds(helloIntervalMs: number): number {
  return Math.max(1, Math.min(HOLDTIME_FOREVER - 1, Math.floor((3.5 * helloIntervalMs) / 1000)));
}

// ---- configuration -----------------------------------------------------------------------------

/** The engine's configuration, in milliseconds. */
export interface PimNeighborsConfig {
  /** The interface's primary IPv4 address: the Hellos' source and our side of the DR election. */
  address: string;
  helloIntervalMs: number;
  drPriority: number;
  /** Holdtime in our Hellos, seconds; default helloHoldtimeSeconds(helloIntervalMs). */
  holdtime?: number;
  /** Our LAN Prune Delay option; defaults 500 ms, 2500 ms, T clear (we keep Join suppression). */
  propagationDelayMs?: number;
  overrideIntervalMs?: number;
  trackingSupport?: boolean;
  /** Other addresses of the interface, sent in the Address List option (RFC 7761 4.3.4). */
  secondaryAddresses?: string[];
  /** Default TRIGGERED_HELLO_DELAY_MS. */
  triggeredHelloDelayMs?: number;
}

/** Settings in seconds (config file) -> engine config in milliseconds. */
export function pimNeighborsConfig(address: string, settings: { helloInterval: number; drPriority: number }): PimNeighborsConfig {
  return { address, helloIntervalMs: Math.round(settings.helloInterval * 1000), drPriority: settings.drPriority };
}

// ---- results and views -------------------------------------------------------------------------

export type PimNeighborDownReason = 'expired' | 'holdtime_zero' | 'stopped';

export type PimNeighborChange =
  | { type: 'neighbor_up'; address: string }
  | { type: 'neighbor_down'; address: string; reason: PimNeighborDownReason }
  /**
   * A Hello with a new generation ID: the neighbour restarted and lost its state (RFC 7761 4.3.1),
   * so the Join/Prune engine resends what it has joined through it. A triggered Hello is scheduled.
   */
  | { type: 'neighbor_restart'; address: string; generationId: number; previousGenerationId: number | null }
  /** The elected DR, null when PIM is not running on the interface (start and stop report it too). */
  | { type: 'dr_changed'; dr: string | null; previous: string | null; isUs: boolean };

export interface PimSend {
  /** The PIM message; a raw IPPROTO_PIM socket adds the IPv4 header (TTL 1). */
  bytes: Uint8Array;
  destination: string;
  message: PimHello;
}

/** Why a well-formed message changed nothing; for counters. */
export type PimNeighborIgnoreReason = 'not_hello' | 'not_started' | 'own_hello' | 'unspecified_source';

export interface PimNeighborResult {
  send: PimSend[];
  changes: PimNeighborChange[];
  /** Set when receive() ignored the whole message. */
  ignored?: PimNeighborIgnoreReason;
}

export interface PimNeighborView {
  address: string;
  /** Neighbour Liveness Timer expiry; null: the holdtime was HOLDTIME_FOREVER. */
  expiresAt: number | null;
  /** The holdtime of its last Hello, seconds. */
  holdtime: number;
  /** null: its Hellos have no DR Priority option. */
  drPriority: number | null;
  generationId: number | null;
  /** null: its Hellos have no LAN Prune Delay option. */
  lanPruneDelay: LanPruneDelay | null;
  secondaryAddresses: string[];
  upSince: number;
}

/** RFC 7761 4.3.3's values for this interface. */
export interface PimLanDelay {
  /** lan_delay_enabled(I): every neighbour sends the LAN Prune Delay option. */
  enabled: boolean;
  /** Effective_Propagation_Delay(I). */
  propagationDelayMs: number;
  /** Effective_Override_Interval(I). */
  overrideIntervalMs: number;
  /** Suppression_Enabled(I): false only when LAN delay is enabled and every router, us included, sets T. */
  suppressionEnabled: boolean;
}

export interface PimNeighborsView {
  address: string;
  started: boolean;
  /** Our own Hello settings. */
  helloIntervalMs: number;
  holdtime: number;
  drPriority: number;
  generationId: number | null;
  lanPruneDelay: LanPruneDelay;
  secondaryAddresses: string[];
  nextHelloAt: number | null;
  triggeredHelloAt: number | null;
  /** null when not started. */
  dr: string | null;
  isDr: boolean;
  lanDelay: PimLanDelay;
  /** Sorted by address. */
  neighbors: PimNeighborView[];
}

// ---- the engine --------------------------------------------------------------------------------

const compareAddresses = (a: string, b: string) => addressValue(a) - addressValue(b);

export class PimNeighbors {
  private readonly config: Required<PimNeighborsConfig>;
  private readonly random: () => number;
  private readonly neighbors = new Map<string, PimNeighborView>();

  private started = false;
  private generationId: number | null = null;
  private nextHelloAt: number | null = null;
  private triggeredHelloAt: number | null = null;
  /** Whether a Hello went out since start: none may precede it (RFC 7761 4.3.1). */
  private helloSent = false;
  private reportedDr: string | null = null;

  /** `random` returns [0, 1), as Math.random does: the generation ID and the Hello offsets. */
  constructor(config: PimNeighborsConfig, random: () => number = Math.random) {
    this.config = {
      holdtime: helloHoldtimeSeconds(config.helloIntervalMs),
      propagationDelayMs: DEFAULT_PROPAGATION_DELAY_MS,
      overrideIntervalMs: DEFAULT_OVERRIDE_INTERVAL_MS,
      trackingSupport: false,
      secondaryAddresses: [],
      triggeredHelloDelayMs: TRIGGERED_HELLO_DELAY_MS,
      ...config,
    };
    this.random = random;
  }

  /**
   * Starts PIM on the interface: a new generation ID, and the first Hello after a random
   * 0..Triggered_Hello_Delay (RFC 7761 4.3.1), sent here when that is now. Reports us as DR.
   */
  start(now: number): PimNeighborResult {
    const out = result();
    if (this.started) return out;
    this.started = true;
    this.helloSent = false;
    this.generationId = Math.floor(this.random() * 2 ** 32) >>> 0;
    this.nextHelloAt = now + this.randomDelay();
    this.triggeredHelloAt = null;
    this.reportDr(out);
    this.sendDueHellos(now, out);
    return out;
  }

  /**
   * Stops PIM on the interface: a Hello with holdtime 0 so neighbours forget us at once (RFC 7761
   * 4.3.1), every neighbour reported down, and no DR.
   */
  stop(): PimNeighborResult {
    const out = result();
    if (!this.started) return out;
    this.emitHello(0, out);
    for (const address of [...this.neighbors.keys()].sort(compareAddresses))
      out.changes.push({ type: 'neighbor_down', address, reason: 'stopped' });
    this.neighbors.clear();
    this.started = false;
    this.nextHelloAt = null;
    this.triggeredHelloAt = null;
    this.reportDr(out);
    return out;
  }

  receive(packet: PimPacket, now: number): PimNeighborResult {
    const out = result();
    const { message, ip } = packet;
    if (message.type !== 'hello') return ignore(out, 'not_hello');
    if (!this.started) return ignore(out, 'not_started');
    const from = ip.source;
    if (from === this.config.address || this.config.secondaryAddresses.includes(from)) return ignore(out, 'own_hello');
    if (from === '0.0.0.0') return ignore(out, 'unspecified_source');

    const holdtime = message.holdtime ?? DEFAULT_HELLO_HOLDTIME_S;
    const existing = this.neighbors.get(from);
    if (holdtime === 0) {
      // RFC 7761 4.9.2: holdtime 0 times the neighbour out immediately.
      if (existing !== undefined) {
        this.neighbors.delete(from);
        out.changes.push({ type: 'neighbor_down', address: from, reason: 'holdtime_zero' });
        this.reportDr(out);
      }
      return out;
    }
    const fields = {
      expiresAt: holdtime === HOLDTIME_FOREVER ? null : now + holdtime * 1000,
      holdtime,
      drPriority: message.drPriority ?? null,
      generationId: message.generationId ?? null,
      lanPruneDelay: message.lanPruneDelay ?? null,
      // FRR drops a neighbour's primary address from its own secondary list, and so do we.
      secondaryAddresses: (message.addresses ?? []).filter((a) => a !== from),
    };
    if (existing === undefined) {
      this.neighbors.set(from, { address: from, upSince: now, ...fields });
      out.changes.push({ type: 'neighbor_up', address: from });
      this.triggerHello(now);
    } else {
      // A generation ID where there was none or a different one: the neighbour restarted (as FRR reads it).
      if (fields.generationId !== null && fields.generationId !== existing.generationId) {
        out.changes.push({
          type: 'neighbor_restart',
          address: from,
          generationId: fields.generationId,
          previousGenerationId: existing.generationId,
        });
        this.triggerHello(now);
      }
      Object.assign(existing, fields);
    }
    this.reportDr(out);
    this.sendDueHellos(now, out);
    return out;
  }

  /** Runs every timer due at `now`: neighbour expiry, then periodic and triggered Hellos. */
  tick(now: number): PimNeighborResult {
    const out = result();
    if (!this.started) return out;
    for (const n of [...this.neighbors.values()].sort((a, b) => compareAddresses(a.address, b.address))) {
      if (n.expiresAt === null || now < n.expiresAt) continue;
      this.neighbors.delete(n.address);
      out.changes.push({ type: 'neighbor_down', address: n.address, reason: 'expired' });
    }
    this.reportDr(out);
    this.sendDueHellos(now, out);
    return out;
  }

  /**
   * Call before sending a Join/Prune or Assert on the interface: sends the Hello that RFC 7761
   * 4.3.1 requires first (none sent since start, or a triggered one still waiting for its delay).
   */
  helloBeforeSending(now: number): PimNeighborResult {
    const out = result();
    if (!this.started) return out;
    if (!this.helloSent) {
      this.emitHello(this.config.holdtime, out);
      this.nextHelloAt = now + this.config.helloIntervalMs;
    } else if (this.triggeredHelloAt !== null) {
      this.emitHello(this.config.holdtime, out);
    }
    this.triggeredHelloAt = null;
    return out;
  }

  /** The earliest time tick() has work, or null when nothing is scheduled. */
  nextDeadline(): number | null {
    let next: number | null = null;
    const consider = (at: number | null) => {
      if (at !== null && (next === null || at < next)) next = at;
    };
    consider(this.nextHelloAt);
    consider(this.triggeredHelloAt);
    for (const n of this.neighbors.values()) consider(n.expiresAt);
    return next;
  }

  /** The elected DR, null when not started. */
  dr(): string | null {
    return this.started ? this.electDr() : null;
  }

  isDr(): boolean {
    return this.dr() === this.config.address;
  }

  /** The neighbour whose primary or secondary address this is (RFC 7761 4.3.4), by its primary address. */
  neighborFor(address: string): string | undefined {
    if (this.neighbors.has(address)) return address;
    for (const n of this.neighbors.values()) if (n.secondaryAddresses.includes(address)) return n.address;
    return undefined;
  }

  /** RFC 7761 4.3.3: lan_delay_enabled, Effective_Propagation_Delay, Effective_Override_Interval, Suppression_Enabled. */
  lanDelay(): PimLanDelay {
    const neighbors = [...this.neighbors.values()];
    const enabled = neighbors.every((n) => n.lanPruneDelay !== null);
    if (!enabled)
      return {
        enabled,
        propagationDelayMs: DEFAULT_PROPAGATION_DELAY_MS,
        overrideIntervalMs: DEFAULT_OVERRIDE_INTERVAL_MS,
        suppressionEnabled: true,
      };
    let propagationDelayMs = this.config.propagationDelayMs;
    let overrideIntervalMs = this.config.overrideIntervalMs;
    let everyoneTracks = this.config.trackingSupport;
    for (const n of neighbors) {
      const d = n.lanPruneDelay!;
      propagationDelayMs = Math.max(propagationDelayMs, d.propagationDelayMs);
      overrideIntervalMs = Math.max(overrideIntervalMs, d.overrideIntervalMs);
      everyoneTracks &&= d.trackingSupport;
    }
    return { enabled, propagationDelayMs, overrideIntervalMs, suppressionEnabled: !everyoneTracks };
  }

  view(): PimNeighborsView {
    const dr = this.dr();
    return {
      address: this.config.address,
      started: this.started,
      helloIntervalMs: this.config.helloIntervalMs,
      holdtime: this.config.holdtime,
      drPriority: this.config.drPriority,
      generationId: this.generationId,
      lanPruneDelay: this.ownLanPruneDelay(),
      secondaryAddresses: [...this.config.secondaryAddresses],
      nextHelloAt: this.nextHelloAt,
      triggeredHelloAt: this.triggeredHelloAt,
      dr,
      isDr: dr === this.config.address,
      lanDelay: this.lanDelay(),
      neighbors: [...this.neighbors.values()]
        .sort((a, b) => compareAddresses(a.address, b.address))
        .map((n) => ({
          ...n,
          lanPruneDelay: n.lanPruneDelay && { ...n.lanPruneDelay },
          secondaryAddresses: [...n.secondaryAddresses],
        })),
    };
  }

  // ---- internals ---------------------------------------------------------------------------------

  /**
   * RFC 7761 4.3.2: highest DR priority, then highest address; by address alone when any
   * neighbour's Hello lacks the DR Priority option. We always send ours.
   */
  private electDr(): string {
    const byPriority = [...this.neighbors.values()].every((n) => n.drPriority !== null);
    let dr = this.config.address;
    let drPriority = this.config.drPriority;
    let drValue = addressValue(dr);
    for (const n of this.neighbors.values()) {
      const value = addressValue(n.address);
      const priority = n.drPriority ?? 0;
      const better = byPriority ? priority > drPriority || (priority === drPriority && value > drValue) : value > drValue;
      if (better) {
        dr = n.address;
        drPriority = priority;
        drValue = value;
      }
    }
    return dr;
  }

  private reportDr(out: PimNeighborResult): void {
    const dr = this.dr();
    if (dr === this.reportedDr) return;
    out.changes.push({ type: 'dr_changed', dr, previous: this.reportedDr, isUs: dr === this.config.address });
    this.reportedDr = dr;
  }

  /** RFC 7761 4.3.1: a new neighbour or a new generation ID: a Hello after a random delay, the periodic timer untouched. */
  private triggerHello(now: number): void {
    if (this.triggeredHelloAt !== null) return;
    // Before our first Hello, that Hello's own random timer is the triggered one.
    if (!this.helloSent) return;
    this.triggeredHelloAt = now + this.randomDelay();
  }

  private sendDueHellos(now: number, out: PimNeighborResult): void {
    if (this.nextHelloAt !== null && now >= this.nextHelloAt) {
      this.emitHello(this.config.holdtime, out);
      this.nextHelloAt = now + this.config.helloIntervalMs;
      this.triggeredHelloAt = null; // this Hello is the one the trigger asked for
    } else if (this.triggeredHelloAt !== null && now >= this.triggeredHelloAt) {
      this.emitHello(this.config.holdtime, out);
      this.triggeredHelloAt = null;
    }
  }

  private emitHello(holdtime: number, out: PimNeighborResult): void {
    const message: PimHello = {
      type: 'hello',
      holdtime,
      lanPruneDelay: this.ownLanPruneDelay(),
      drPriority: this.config.drPriority,
      generationId: this.generationId ?? 0,
    };
    if (this.config.secondaryAddresses.length > 0) message.addresses = [...this.config.secondaryAddresses];
    out.send.push({ bytes: encodePimMessage(message), destination: ALL_PIM_ROUTERS, message });
    this.helloSent = true;
  }

  private ownLanPruneDelay(): LanPruneDelay {
    return {
      trackingSupport: this.config.trackingSupport,
      propagationDelayMs: this.config.propagationDelayMs,
      overrideIntervalMs: this.config.overrideIntervalMs,
    };
  }

  private randomDelay(): number {
    return Math.floor(this.random() * this.config.triggeredHelloDelayMs);
  }
}

function result(): PimNeighborResult {
  return { send: [], changes: [] };
}

function ignore(out: PimNeighborResult, reason: PimNeighborIgnoreReason): PimNeighborResult {
  out.ignored = reason;
  return out;
}
