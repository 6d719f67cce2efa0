// SPDX-License-Identifier: MIT
// PIM-SM upstream Join/Prune state (RFC 7761 4.5.6, 4.5.7; FRR's pim_upstream): for each (*,G)
// and (S,G) whether we are joined towards RPF'(*,G) / RPF'(S,G), the periodic Joins that keep
// the upstream router's state, Join suppression and Prune override on a LAN, and the Join to the
// new and Prune to the old neighbour when the RPF neighbour changes. Every step's Joins and Prunes
// go out aggregated per (interface, upstream neighbour) as FRR's pim_jp_agg does (jp-agg.ts),
// with holdtime 3.5 x t_periodic.
// A pure state machine: events and the time (milliseconds, the caller's clock) in, Join/Prune
// messages out. Randomness (t_suppressed, t_override) comes from an injected function. Each call
// runs the Join Timers due by `now` before it returns, so every deadline left is after `now`.
//
// Implemented rows, (*,G) (4.5.6) and (S,G) (4.5.7) alike:
// - NotJoined, JoinDesired -> true: to Joined, send Join to RPF', JT = t_periodic.
// - Joined, JoinDesired -> false: to NotJoined, send Prune to RPF', JT stops.
// - Joined, JT expires: send Join, JT = t_periodic.
// - Joined, See Join to RPF' (another router's Join for the same entry on the RPF interface):
//   JT = max(JT, t_joinsuppress), t_joinsuppress = min(t_suppressed, the message's holdtime),
//   t_suppressed = rand(1.1, 1.4) x t_periodic, 0 when Suppression_Enabled(I) is false.
// - Joined, See Prune to RPF': JT = min(JT, t_override), t_override = rand(0, Effective_Override_Interval(I)).
//   For (S,G) the prunes seen are Prune(S,G), Prune(S,G,rpt) and Prune(*,G).
// - Joined, RPF' changes due to an Assert: JT = min(JT, t_override) (the Assert engine that would
//   say so does not exist yet: the caller passes dueToAssert).
// - Joined, RPF' changes otherwise: Join to the new, Prune to the old, JT = t_periodic.
// - Joined, RPF' GenID changes (neighborRestarted): JT = min(JT, t_override).
// RPF' null (no route or no PIM neighbour towards RP or S): Joined sends nothing and its JT stops
// until a neighbour appears, which is a change of RPF' (Join to the new).
// Prune(S,G,rpt), simplified from 4.5.8/4.5.9 to what a last hop on the shortest-path tree needs
// (FRR's pim_msg_get_jp_group_size/pim_msg_build_jp_groups do the same): the caller names, per
// group, the sources to prune off the shared tree (setRptPrunes: SPTbit set and RPF'(S,G) !=
// RPF'(*,G)). Every Join(*,G) we send (triggered, periodic, to a new RPF', after an override)
// carries their Prune(S,G,rpt)s in its group record, so the upstream router's (S,G,rpt) Prune
// state is refreshed with the (*,G) Join; a source added while Joined sends Join(*,G) and all the
// prunes at once (JT unchanged). A source taken out is simply left out of the next Join(*,G): at
// the upstream router that Join moves (S,G,rpt) Prune to PruneTmp and, with no Prune(S,G,rpt) in
// the message, End of Message moves it to NoInfo (4.5.4), so no Join(S,G,rpt) is needed. A
// Prune(*,G) carries none: it takes the whole shared tree, S too (4.5.9: RPTJoinDesired(G) ->
// false moves (S,G,rpt) to RPTNotJoined sending nothing; FRR adds them to a (*,G) Join only).
// Not implemented: the SPT bit and the switch from the shared tree (JoinDesired(S,G) -> false does
// not clear an SPTbit here; the caller decides which sources to prune), the rest of the (S,G,rpt)
// upstream machine of 4.5.8/4.5.9 (PruneDesired(S,G,rpt) from an empty inherited olist, the
// Override Timer and its Join(S,G,rpt) on a LAN: another router's Join(*,G) without our prune
// ends the upstream's (S,G,rpt) Prune state on that LAN until our next Join(*,G)), the Keepalive
// Timer's part in JoinDesired(S,G), (*,*,RP), and RP discovery (the caller gives RP(G) with the
// (*,G) RPF').
import { addressValue, isIPv4 } from '../../lib/ipv4';
import type { PimJoinPrune } from './codec';
import {
  aggregateJoinPrune,
  DEFAULT_MAX_JOIN_PRUNE_BYTES,
  type JoinPruneItem,
  type JoinPruneSend,
  joinPruneHoldtimeSeconds,
  sgRptSource,
  sgSource,
  starGSource,
} from './jp-agg';

/** t_periodic default (RFC 7761 4.11). */
export const DEFAULT_JOIN_PRUNE_INTERVAL_MS = 60_000;

export interface PimUpstreamConfig {
  /** t_periodic; default 60 s. */
  joinPruneIntervalMs?: number;
  /** Byte budget per Join/Prune message; default DEFAULT_MAX_JOIN_PRUNE_BYTES. */
  maxMessageBytes?: number;
}

/** RPF'(*,G) or RPF'(S,G): the upstream neighbour and the interface it is on. */
export interface UpstreamRpf {
  interface: string;
  neighbor: string;
}

/** The RFC 7761 4.3.3 values the upstream machines read for an interface (PimNeighbors.lanDelay()). */
export interface UpstreamLanDelay {
  overrideIntervalMs: number;
  suppressionEnabled: boolean;
}

/** (*,G) when source is null. */
export interface UpstreamEntry {
  source: string | null;
  group: string;
}

export type UpstreamState = 'not_joined' | 'joined';

export interface UpstreamView {
  source: string | null;
  group: string;
  /** (*,G) only: RP(G). */
  rp: string | null;
  state: UpstreamState;
  rpf: UpstreamRpf | null;
  joinTimerAt: number | null;
  /** (*,G): the sources whose Prune(S,G,rpt) goes with each Join(*,G), sorted; (S,G): empty. */
  rptPrunes: string[];
}

export interface PimUpstreamResult {
  send: JoinPruneSend[];
}

/**
 * JoinDesired(*,G) or JoinDesired(S,G) as RFC 7761 4.5.6/4.5.7 define it through
 * immediate_olist: some downstream interface joined (PimDownstream.joinedInterfaces) or some
 * interface with local members we are DR for (pim_include). Lost asserts are not modelled.
 */
export function joinDesired(downstreamJoined: readonly string[], localMembers: readonly string[]): boolean {
  return downstreamJoined.length > 0 || localMembers.length > 0;
}

interface Upstream {
  source: string | null;
  group: string;
  rp: string | null;
  state: UpstreamState;
  rpf: UpstreamRpf | null;
  joinTimerAt: number | null;
  /** (*,G) only: setRptPrunes' sources, sorted. */
  rptPrunes: string[];
}

const entryKey = (e: UpstreamEntry) => `${e.source ?? '*'} ${e.group}`;
const describe = (e: UpstreamEntry) => (e.source === null ? `(*,${e.group})` : `(${e.source},${e.group})`);

export class PimUpstream {
  private readonly periodMs: number;
  private readonly maxBytes: number;
  readonly holdtime: number;
  private readonly entries = new Map<string, Upstream>();

  /** `lanDelay(interface)` gives the interface's override interval and Suppression_Enabled; `random` returns [0, 1). */
  constructor(
    config: PimUpstreamConfig,
    private readonly lanDelay: (iface: string) => UpstreamLanDelay,
    private readonly random: () => number = Math.random,
  ) {
    this.periodMs = config.joinPruneIntervalMs ?? DEFAULT_JOIN_PRUNE_INTERVAL_MS;
    if (!Number.isFinite(this.periodMs) || this.periodMs <= 0)
      throw new RangeError(`PIM upstream: joinPruneIntervalMs must be > 0, got ${this.periodMs}`);
    this.maxBytes = config.maxMessageBytes ?? DEFAULT_MAX_JOIN_PRUNE_BYTES;
    this.holdtime = joinPruneHoldtimeSeconds(this.periodMs);
  }

  /**
   * RPF' of an entry changed (or is first known). A (*,G) entry needs `rp` (RP(G)) whenever
   * `rpf` is not null. `dueToAssert`: the change comes from an Assert winner, not the routing table.
   */
  setRpf(
    entry: UpstreamEntry,
    rpf: UpstreamRpf | null,
    now: number,
    options: { rp?: string; dueToAssert?: boolean } = {},
  ): PimUpstreamResult {
    if (entry.source === null && rpf !== null && options.rp === undefined)
      throw new RangeError(`PIM upstream: ${describe(entry)} needs the RP address with its RPF neighbour`);
    const items: JoinPruneItem[] = [];
    const u = this.entry(entry);
    const rp = entry.source === null ? (options.rp ?? u.rp) : null;
    const same = rpf?.interface === u.rpf?.interface && rpf?.neighbor === u.rpf?.neighbor && rp === u.rp;
    if (u.state === 'joined' && !same) {
      if (options.dueToAssert === true && rpf !== null && u.rpf !== null) {
        u.rpf = { ...rpf };
        u.rp = rp;
        this.override(u, now);
      } else {
        if (u.rpf !== null) items.push(...this.items(u, false));
        u.rpf = rpf && { ...rpf };
        u.rp = rp;
        if (u.rpf !== null) items.push(...this.items(u, true));
        u.joinTimerAt = u.rpf === null ? null : now + this.periodMs;
      }
    } else {
      u.rpf = rpf && { ...rpf };
      u.rp = rp;
    }
    return this.finish(items, now);
  }

  /** JoinDesired(*,G) / JoinDesired(S,G) is now `desired` (see joinDesired()). */
  setJoinDesired(entry: UpstreamEntry, desired: boolean, now: number): PimUpstreamResult {
    const items: JoinPruneItem[] = [];
    const u = this.entry(entry);
    if (desired && u.state === 'not_joined') {
      u.state = 'joined';
      if (u.rpf !== null) {
        items.push(...this.items(u, true));
        u.joinTimerAt = now + this.periodMs;
      }
    } else if (!desired && u.state === 'joined') {
      u.state = 'not_joined';
      if (u.rpf !== null) items.push(...this.items(u, false));
      u.joinTimerAt = null;
    }
    return this.finish(items, now);
  }

  /**
   * The sources to prune off the shared tree of (*,G): those with the SPT bit set whose RPF'(S,G)
   * is not RPF'(*,G). A source added while (*,G) is Joined with an RPF' sends Join(*,G) with every
   * Prune(S,G,rpt) of the set to RPF'(*,G) at once (JT unchanged); a source removed sends nothing
   * and is left out of the next Join(*,G), which ends the upstream's (S,G,rpt) Prune state (RFC
   * 7761 4.5.4, End of Message). The set lives with the (*,G) entry: remove() forgets it.
   */
  setRptPrunes(group: string, sources: readonly string[], now: number): PimUpstreamResult {
    if (!isIPv4(group)) throw new RangeError(`PIM upstream: setRptPrunes: group ${JSON.stringify(group)} is not an IPv4 address`);
    for (const s of sources)
      if (!isIPv4(s)) throw new RangeError(`PIM upstream: setRptPrunes (*,${group}): source ${JSON.stringify(s)} is not an IPv4 address`);
    const entry: UpstreamEntry = { source: null, group };
    if (sources.length === 0 && !this.entries.has(entryKey(entry))) return this.finish([], now);
    const u = this.entry(entry);
    const next = [...new Set(sources)].sort((a, b) => addressValue(a) - addressValue(b));
    const gained = next.some((s) => !u.rptPrunes.includes(s));
    u.rptPrunes = next;
    const items: JoinPruneItem[] = [];
    if (gained && u.state === 'joined' && u.rpf !== null) items.push(...this.items(u, true));
    return this.finish(items, now);
  }

  /**
   * A Join/Prune another router sent on `iface` (its Upstream Neighbor Address is not ours):
   * Join suppression and Prune override for the entries joined towards that neighbour there.
   * The caller maps a secondary address in the message to the neighbour's primary one.
   */
  seen(iface: string, message: PimJoinPrune, now: number): PimUpstreamResult {
    let lan: UpstreamLanDelay | undefined;
    for (const u of this.entries.values()) {
      if (u.state !== 'joined' || u.joinTimerAt === null || u.rpf === null) continue;
      if (u.rpf.interface !== iface || u.rpf.neighbor !== message.upstreamNeighbor) continue;
      for (const g of message.groups) {
        if (g.maskLength !== 32 || g.group !== u.group) continue;
        const joined =
          u.source === null
            ? g.joins.some((s) => s.wildcard && s.rpt)
            : g.joins.some((s) => !s.wildcard && !s.rpt && s.address === u.source);
        const pruned =
          u.source === null
            ? g.prunes.some((s) => s.wildcard && s.rpt)
            : g.prunes.some((s) => (s.wildcard && s.rpt) || (!s.wildcard && s.address === u.source));
        lan ??= this.lanDelay(iface);
        if (joined) {
          // Increase JT to t_joinsuppress.
          const suppressed = lan.suppressionEnabled ? (1.1 + 0.3 * this.random()) * this.periodMs : 0;
          const joinSuppressMs = message.holdtime === 0xffff ? suppressed : Math.min(suppressed, message.holdtime * 1000);
          if (u.joinTimerAt !== null && u.joinTimerAt < now + joinSuppressMs) u.joinTimerAt = now + joinSuppressMs;
        }
        if (pruned) this.override(u, now, lan);
      }
    }
    return this.finish([], now);
  }

  /** RPF' of some entries sent a Hello with a new Generation ID: they lost our Joins, resend soon. */
  neighborRestarted(iface: string, neighbor: string, now: number): PimUpstreamResult {
    for (const u of this.entries.values())
      if (u.state === 'joined' && u.rpf?.interface === iface && u.rpf.neighbor === neighbor) this.override(u, now);
    return this.finish([], now);
  }

  /** Runs the Join Timers due by `now`: one periodic Join each, aggregated per neighbour. */
  tick(now: number): PimUpstreamResult {
    return this.finish([], now);
  }

  nextDeadline(): number | null {
    let next: number | null = null;
    for (const u of this.entries.values()) if (u.joinTimerAt !== null && (next === null || u.joinTimerAt < next)) next = u.joinTimerAt;
    return next;
  }

  state(entry: UpstreamEntry): UpstreamState {
    return this.entries.get(entryKey(entry))?.state ?? 'not_joined';
  }

  /** Every entry with state or an RPF', sorted by group then source ((*,G) first). */
  view(): UpstreamView[] {
    return [...this.entries.values()]
      .map((u) => ({ ...u, rpf: u.rpf && { ...u.rpf }, rptPrunes: [...u.rptPrunes] }))
      .sort(
        (a, b) =>
          addressValue(a.group) - addressValue(b.group) ||
          (a.source === null ? -1 : 0) - (b.source === null ? -1 : 0) ||
          (a.source !== null && b.source !== null ? addressValue(a.source) - addressValue(b.source) : 0),
      );
  }

  /** Forgets an entry (no downstream state and no RPF' interest left); sends nothing. */
  remove(entry: UpstreamEntry): void {
    this.entries.delete(entryKey(entry));
  }

  // ---- internals ---------------------------------------------------------------------------

  /** Decrease JT to t_override. */
  private override(u: Upstream, now: number, lan?: UpstreamLanDelay): void {
    if (u.joinTimerAt === null || u.rpf === null) return;
    const overrideMs = this.random() * (lan ?? this.lanDelay(u.rpf.interface)).overrideIntervalMs;
    if (u.joinTimerAt > now + overrideMs) u.joinTimerAt = now + overrideMs;
  }

  /** The Join or Prune of an entry; a Join(*,G) is followed by its Prune(S,G,rpt)s (jp-agg keeps them in its group record). */
  private items(u: Upstream, join: boolean): JoinPruneItem[] {
    const to = { interface: u.rpf!.interface, neighbor: u.rpf!.neighbor, group: u.group };
    const items: JoinPruneItem[] = [{ ...to, source: u.source === null ? starGSource(u.rp!) : sgSource(u.source), join }];
    if (join && u.source === null) for (const s of u.rptPrunes) items.push({ ...to, source: sgRptSource(s), join: false });
    return items;
  }

  /** Adds the periodic Joins due by `now` to `items` and aggregates them. */
  private finish(items: JoinPruneItem[], now: number): PimUpstreamResult {
    for (const u of this.entries.values())
      if (u.state === 'joined' && u.joinTimerAt !== null && u.joinTimerAt <= now && u.rpf !== null) {
        items.push(...this.items(u, true));
        u.joinTimerAt = now + this.periodMs;
      }
    return { send: aggregateJoinPrune(items, this.holdtime, this.maxBytes) };
  }

  private entry(e: UpstreamEntry): Upstream {
    const key = entryKey(e);
    let u = this.entries.get(key);
    if (u === undefined) {
      u = { source: e.source, group: e.group, rp: null, state: 'not_joined', rpf: null, joinTimerAt: null, rptPrunes: [] };
      this.entries.set(key, u);
    }
    return u;
  }
}
