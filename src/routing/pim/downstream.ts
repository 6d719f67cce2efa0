// SPDX-License-Identifier: MIT
// PIM-SM downstream Join/Prune state per interface (RFC 7761 4.5.2-4.5.4; FRR's pim_ifchannel):
// what the routers below us asked for with Join/Prune messages addressed to us, as the
// interfaces joined to each (*,G) and (S,G) and the interfaces pruned from (S,G,rpt).
// A pure state machine like PimNeighbors: parsed messages and the time (milliseconds, the
// caller's clock) in; outgoing-interface changes and PruneEcho messages out. The caller calls
// tick(now) at nextDeadline(); receive() runs timers that a message set to fire at once (the 0 s
// Prune-Pending Timer of a point-to-point link) before it returns, so every deadline left is
// after `now`.
//
// Implemented, every row of each table:
// - 4.5.2 (*,G) downstream: states NoInfo, Join, Prune-Pending; events Receive Join(*,G),
//   Receive Prune(*,G), Prune-Pending Timer expires (PruneEcho(*,G) when the interface has more
//   than one neighbour), Expiry Timer expires.
// - 4.5.3 (S,G) downstream: the same rows for Join(S,G) / Prune(S,G) / PruneEcho(S,G).
// - 4.5.4 (S,G,rpt) downstream: states NoInfo, Prune, Prune-Pending and the transient PruneTmp and
//   Prune-Pending-Tmp; events Receive Join(*,G), Receive Join(S,G,rpt), Receive Prune(S,G,rpt),
//   End of Message, Prune-Pending Timer expires, Expiry Timer expires.
//   Within a message each group's (*,G) join is taken first, then the other joins, then the
//   prunes, and End of Message after the whole message, which is the order the Tmp states need.
// Timers: Expiry Timer = the message's holdtime (0xffff: never expires), ET = max(ET, holdtime)
// on a refresh; Prune-Pending Timer = the interface's J/P_Override_Interval when it has more than
// one PIM neighbour, else 0 (fires at once).
// Not implemented: the RP check of a (*,G) Join (the RFC ignores a Join(*,G) whose RP is not
// RP(G); this takes every one), (*,*,RP) and group ranges (a group with a mask shorter than 32 is
// ignored and reported), Assert's effect on the olists (lost_assert), pim_include (local
// members: the caller adds them), the neighbour check (the caller drops Join/Prunes from a source
// it has no Hello from, RFC 7761 4.5), and a Prune(*,G) has no effect on (S,G,rpt) state here
// (4.5.4 has no such row; FRR's pim_joinprune_recv clears the group's (S,G,rpt) state on one).
import { addressValue } from '../../lib/ipv4';
import type { EncodedSource, PimJoinPrune } from './codec';
import { aggregateJoinPrune, type JoinPruneItem, type JoinPruneSend, sgSource, starGSource } from './jp-agg';

/** A Join/Prune holdtime that never runs out (RFC 7761 4.9.5). */
export const JOIN_PRUNE_HOLDTIME_FOREVER = 0xffff;

/** One interface as the downstream machines need it. */
export interface DownstreamInterface {
  name: string;
  /** Our address on it: Join/Prunes for us carry it as Upstream Neighbor Address; PruneEchoes too. */
  address: string;
  /** PIM neighbours on it: more than one makes it a LAN where prunes wait for overrides. */
  neighborCount: number;
  /** J/P_Override_Interval(I) = Effective_Propagation_Delay(I) + Effective_Override_Interval(I) (RFC 7761 4.11). */
  jpOverrideIntervalMs: number;
}

export type DownstreamState = 'no_info' | 'join' | 'prune_pending';
export type RptDownstreamState = 'no_info' | 'prune' | 'prune_pending' | 'prune_tmp' | 'prune_pending_tmp';

/** (*,G) when source is null. */
export interface DownstreamEntry {
  source: string | null;
  group: string;
}

export type PimDownstreamChange =
  /** The interface joined or left joins(*,G) (source null) or joins(S,G). */
  | { type: 'oif_added' | 'oif_removed'; source: string | null; group: string; interface: string }
  /** The interface joined or left prunes(S,G,rpt): (S,G) traffic on the shared tree is not sent there. */
  | { type: 'rpt_prune_added' | 'rpt_prune_removed'; source: string; group: string; interface: string };

export type PimDownstreamIgnoreReason = 'unknown_interface' | 'not_for_us' | 'group_range' | 'bad_flags';

export interface PimDownstreamResult {
  changes: PimDownstreamChange[];
  /** PruneEchoes, aggregated per interface. */
  send: JoinPruneSend[];
  ignored: { reason: PimDownstreamIgnoreReason; group?: string; source?: string }[];
}

export interface DownstreamChannelView {
  kind: '*,G' | 'S,G' | 'S,G,rpt';
  source: string | null;
  group: string;
  interface: string;
  state: DownstreamState | RptDownstreamState;
  /** null: not running (or, with a state other than no_info, a holdtime of forever). */
  expiresAt: number | null;
  prunePendingAt: number | null;
}

interface Channel {
  kind: '*,G' | 'S,G' | 'S,G,rpt';
  source: string | null;
  group: string;
  iface: string;
  state: DownstreamState | RptDownstreamState;
  expiresAt: number | null;
  prunePendingAt: number | null;
  /** The RP address of the last (*,G) Join/Prune, for the PruneEcho(*,G). */
  rp: string | null;
}

const result = (): PimDownstreamResult => ({ changes: [], send: [], ignored: [] });

/** What a channel contributes to the olists: joins(*,G)/joins(S,G) hold Join and Prune-Pending; prunes(S,G,rpt) holds Prune. */
const inOlist = (c: Channel) => (c.kind === 'S,G,rpt' ? c.state === 'prune' : c.state === 'join' || c.state === 'prune_pending');

export class PimDownstream {
  private readonly interfaces = new Map<string, DownstreamInterface>();
  /** group -> "kind source interface" -> channel; a channel back in NoInfo with no timer is removed. */
  private readonly groups = new Map<string, Map<string, Channel>>();

  /** `holdtime`: seconds in our PruneEchoes (normally joinPruneHoldtimeSeconds of our period). */
  constructor(private readonly pruneEchoHoldtime: number) {}

  /** Adds an interface or updates its neighbour count and override interval (used by timers started later). */
  setInterface(iface: DownstreamInterface): void {
    if (!Number.isFinite(iface.jpOverrideIntervalMs) || iface.jpOverrideIntervalMs < 0)
      throw new RangeError(`PIM downstream: interface ${iface.name}: jpOverrideIntervalMs must be >= 0, got ${iface.jpOverrideIntervalMs}`);
    if (!Number.isInteger(iface.neighborCount) || iface.neighborCount < 0)
      throw new RangeError(`PIM downstream: interface ${iface.name}: neighborCount must be an integer >= 0, got ${iface.neighborCount}`);
    this.interfaces.set(iface.name, { ...iface });
  }

  /** PIM stopped on the interface: all its state goes to NoInfo, its olist memberships are withdrawn. */
  removeInterface(name: string): PimDownstreamResult {
    const out = result();
    this.interfaces.delete(name);
    for (const [group, channels] of this.groups) {
      for (const [key, c] of channels)
        if (c.iface === name) {
          const before = inOlist(c);
          c.state = 'no_info';
          this.report(c, before, out);
          channels.delete(key);
        }
      if (channels.size === 0) this.groups.delete(group);
    }
    return out;
  }

  /** A Join/Prune message received on `ifaceName`; only those whose Upstream Neighbor Address is ours change state. */
  receive(ifaceName: string, message: PimJoinPrune, now: number): PimDownstreamResult {
    const out = result();
    const iface = this.interfaces.get(ifaceName);
    if (iface === undefined) {
      out.ignored.push({ reason: 'unknown_interface' });
      return out;
    }
    if (message.upstreamNeighbor !== iface.address) {
      out.ignored.push({ reason: 'not_for_us' });
      return out;
    }
    const holdtime = message.holdtime;
    const touched = new Map<Channel, boolean>();
    const touch = (c: Channel) => {
      if (!touched.has(c)) touched.set(c, inOlist(c));
      return c;
    };
    const classify = (s: EncodedSource): '*,G' | 'S,G' | 'S,G,rpt' | null =>
      s.wildcard ? (s.rpt ? '*,G' : null) : s.rpt ? 'S,G,rpt' : 'S,G';

    for (const g of message.groups) {
      if (g.maskLength !== 32) {
        out.ignored.push({ reason: 'group_range', group: g.group });
        continue;
      }
      const joins = g.joins.filter((s) => classify(s) !== null);
      const prunes = g.prunes.filter((s) => classify(s) !== null);
      for (const s of [...g.joins, ...g.prunes])
        if (classify(s) === null) out.ignored.push({ reason: 'bad_flags', group: g.group, source: s.address });
      // Join(*,G) first: it moves (S,G,rpt) Prune states to their Tmp states, which a Prune(S,G,rpt) later in the message keeps.
      for (const s of joins.filter((j) => classify(j) === '*,G')) {
        this.joinSgOrStarG(touch(this.channel('*,G', null, g.group, ifaceName)), holdtime, now, s.address);
        for (const c of this.groups.get(g.group)?.values() ?? [])
          if (c.kind === 'S,G,rpt' && c.iface === ifaceName) {
            touch(c);
            if (c.state === 'prune') c.state = 'prune_tmp';
            else if (c.state === 'prune_pending') c.state = 'prune_pending_tmp';
          }
      }
      for (const s of joins) {
        const kind = classify(s);
        if (kind === 'S,G') this.joinSgOrStarG(touch(this.channel('S,G', s.address, g.group, ifaceName)), holdtime, now, null);
        else if (kind === 'S,G,rpt') {
          const c = this.existing('S,G,rpt', s.address, g.group, ifaceName);
          if (c !== undefined && c.state !== 'no_info') {
            touch(c);
            c.state = 'no_info';
            c.expiresAt = c.prunePendingAt = null;
          }
        }
      }
      for (const s of prunes) {
        const kind = classify(s)!;
        if (kind === 'S,G,rpt') this.pruneRpt(touch(this.channel(kind, s.address, g.group, ifaceName)), iface, holdtime, now);
        else {
          const c = this.existing(kind, kind === '*,G' ? null : s.address, g.group, ifaceName);
          // NoInfo: Prune(*,G) / Prune(S,G) changes nothing.
          if (c === undefined || c.state !== 'join') continue;
          touch(c);
          if (kind === '*,G') c.rp = s.address;
          c.state = 'prune_pending';
          c.prunePendingAt = now + (iface.neighborCount > 1 ? iface.jpOverrideIntervalMs : 0);
        }
      }
    }
    // End of Message: the Tmp states a Prune(S,G,rpt) did not claim go to NoInfo.
    for (const c of touched.keys())
      if (c.state === 'prune_tmp' || c.state === 'prune_pending_tmp') {
        c.state = 'no_info';
        c.expiresAt = c.prunePendingAt = null;
      }
    for (const [c, before] of touched) this.report(c, before, out);
    this.prune();
    const due = this.tick(now);
    out.changes.push(...due.changes);
    out.send.push(...due.send);
    return out;
  }

  /** Runs the timers due by `now`. */
  tick(now: number): PimDownstreamResult {
    const out = result();
    const echoes: JoinPruneItem[] = [];
    for (const channels of this.groups.values())
      for (const c of channels.values()) {
        const before = inOlist(c);
        let changed = false;
        for (;;) {
          const ppt = c.prunePendingAt !== null && c.prunePendingAt <= now ? c.prunePendingAt : null;
          const et = c.expiresAt !== null && c.expiresAt <= now ? c.expiresAt : null;
          if (ppt === null && et === null) break;
          changed = true;
          if (ppt !== null && (et === null || ppt <= et)) {
            c.prunePendingAt = null;
            if (c.kind === 'S,G,rpt') {
              c.state = 'prune';
            } else {
              const iface = this.interfaces.get(c.iface);
              if (iface !== undefined && iface.neighborCount > 1)
                echoes.push({
                  interface: c.iface,
                  neighbor: iface.address,
                  group: c.group,
                  source: c.kind === '*,G' ? starGSource(c.rp ?? '0.0.0.0') : sgSource(c.source!),
                  join: false,
                });
              c.state = 'no_info';
              c.expiresAt = null;
            }
          } else {
            c.state = 'no_info';
            c.expiresAt = c.prunePendingAt = null;
          }
        }
        if (changed) this.report(c, before, out);
      }
    this.prune();
    out.send.push(...aggregateJoinPrune(echoes, this.pruneEchoHoldtime));
    return out;
  }

  /** The earliest time tick() has work, or null. */
  nextDeadline(): number | null {
    let next: number | null = null;
    for (const channels of this.groups.values())
      for (const c of channels.values())
        for (const at of [c.expiresAt, c.prunePendingAt]) if (at !== null && (next === null || at < next)) next = at;
    return next;
  }

  /** joins(*,G) (source null) or joins(S,G): interfaces in Join or Prune-Pending, sorted. */
  joinedInterfaces(entry: DownstreamEntry): string[] {
    const kind = entry.source === null ? '*,G' : 'S,G';
    return this.olist(entry.group, (c) => c.kind === kind && c.source === entry.source);
  }

  /** prunes(S,G,rpt): interfaces in the Prune state, sorted. */
  rptPrunedInterfaces(source: string, group: string): string[] {
    return this.olist(group, (c) => c.kind === 'S,G,rpt' && c.source === source);
  }

  /** Every channel not in NoInfo, sorted by group, kind, source, interface. */
  view(): DownstreamChannelView[] {
    const all: DownstreamChannelView[] = [];
    for (const channels of this.groups.values())
      for (const c of channels.values())
        if (c.state !== 'no_info')
          all.push({
            kind: c.kind,
            source: c.source,
            group: c.group,
            interface: c.iface,
            state: c.state,
            expiresAt: c.expiresAt,
            prunePendingAt: c.prunePendingAt,
          });
    const order = (v: DownstreamChannelView) => [addressValue(v.group), v.kind, v.source ?? '', v.interface] as const;
    return all.sort((a, b) => {
      const [x, y] = [order(a), order(b)];
      return x[0] - y[0] || x[1].localeCompare(y[1]) || x[2].localeCompare(y[2]) || x[3].localeCompare(y[3]);
    });
  }

  // ---- transitions -------------------------------------------------------------------------

  /** Receive Join(*,G) / Join(S,G): NoInfo -> Join (ET = HT); Join -> Join, Prune-Pending -> Join (PPT stops) with ET = max(ET, HT). */
  private joinSgOrStarG(c: Channel, holdtime: number, now: number, rp: string | null): void {
    if (rp !== null) c.rp = rp;
    c.expiresAt = c.state === 'no_info' ? this.expiry(holdtime, now) : this.laterExpiry(c.expiresAt, holdtime, now);
    c.state = 'join';
    c.prunePendingAt = null;
  }

  /** Receive Prune(S,G,rpt) (4.5.4). */
  private pruneRpt(c: Channel, iface: DownstreamInterface, holdtime: number, now: number): void {
    switch (c.state) {
      case 'no_info':
        c.state = 'prune_pending';
        c.expiresAt = this.expiry(holdtime, now);
        c.prunePendingAt = now + (iface.neighborCount > 1 ? iface.jpOverrideIntervalMs : 0);
        break;
      case 'prune':
      case 'prune_tmp':
        c.state = 'prune';
        c.expiresAt = this.laterExpiry(c.expiresAt, holdtime, now);
        break;
      case 'prune_pending_tmp':
        c.state = 'prune_pending';
        c.expiresAt = this.laterExpiry(c.expiresAt, holdtime, now);
        break;
      case 'prune_pending':
        break;
    }
  }

  private expiry(holdtime: number, now: number): number | null {
    return holdtime === JOIN_PRUNE_HOLDTIME_FOREVER ? null : now + holdtime * 1000;
  }

  /** max(ET, HT); null is forever. */
  private laterExpiry(current: number | null, holdtime: number, now: number): number | null {
    const next = this.expiry(holdtime, now);
    return current === null || next === null ? null : Math.max(current, next);
  }

  // ---- bookkeeping -------------------------------------------------------------------------

  private report(c: Channel, before: boolean, out: PimDownstreamResult): void {
    const after = inOlist(c);
    if (before === after) return;
    if (c.kind === 'S,G,rpt')
      out.changes.push({ type: after ? 'rpt_prune_added' : 'rpt_prune_removed', source: c.source!, group: c.group, interface: c.iface });
    else out.changes.push({ type: after ? 'oif_added' : 'oif_removed', source: c.source, group: c.group, interface: c.iface });
  }

  private olist(group: string, match: (c: Channel) => boolean): string[] {
    const names: string[] = [];
    for (const c of this.groups.get(group)?.values() ?? []) if (match(c) && inOlist(c)) names.push(c.iface);
    return names.sort();
  }

  private existing(kind: Channel['kind'], source: string | null, group: string, iface: string): Channel | undefined {
    return this.groups.get(group)?.get(`${kind} ${source ?? '*'} ${iface}`);
  }

  private channel(kind: Channel['kind'], source: string | null, group: string, iface: string): Channel {
    let channels = this.groups.get(group);
    if (channels === undefined) {
      channels = new Map();
      this.groups.set(group, channels);
    }
    const key = `${kind} ${source ?? '*'} ${iface}`;
    let c = channels.get(key);
    if (c === undefined) {
      c = { kind, source, group, iface, state: 'no_info', expiresAt: null, prunePendingAt: null, rp: null };
      channels.set(key, c);
    }
    return c;
  }

  /** Drops channels back in NoInfo. */
  private prune(): void {
    for (const [group, channels] of this.groups) {
      for (const [key, c] of channels) if (c.state === 'no_info') channels.delete(key);
      if (channels.size === 0) this.groups.delete(group);
    }
  }
}
