// SPDX-License-Identifier: MIT
// PIM-SM routing in mcrd (RFC 7761): what turns neighbours, listeners, Join/Prune messages,
// Registers and punted data into Join/Prune messages, Registers and routes of origin `pim`. The
// protocol machines are the pure engines beside it (downstream.ts 4.5.2-4.5.4, upstream.ts
// 4.5.6-4.5.7, jp-agg.ts); this is their glue and the parts small enough to keep here: the static
// RP map, (S,G) state made by data (first hop, the switch to the shortest-path tree, the RP's
// registered sources) with its Keepalive Timer, the first-hop DR's Register machine (4.4.1) and
// the RP's side of it (4.4.2). I/O goes through PimRouterIo, the clock is the caller's (ms).
//
// Routes it asks for (see routes()):
// - (*,G) on the RPF interface towards RP(G), to joins(*,G) and the interfaces with local members,
//   punting `new_source` where it has local members (the last hop switches to the SPT on a source's
//   first packet, as FRR does by default);
// - (S,G) on the RPF interface towards S (or S's own interface), to the inherited olist, punting
//   `register` while the first-hop DR registers S;
// - (*,*) on each interface where it is DR (and each IGMP-only interface), punting `new_source`: how
//   a first-hop DR hears of a directly connected source.
// None joins the group on its input: PIM's Joins bring the traffic (and the core's IGMP report
// would send it twice through a snooping switch's querier).
import { addressValue } from '../../lib/ipv4';
import { encodeIPv4Packet } from '../../lib/ipv4-packet';
import { forwardCopy } from '../ip-sender';
import type { LearnedRoute } from '../learned';
import { ANY_GROUP } from '../table';
import {
  ALL_PIM_ROUTERS,
  encodePimMessage,
  type PimAssert,
  type PimJoinPrune,
  type PimMessage,
  type PimRegister,
  type PimRegisterStop,
} from './codec';
import { PimDownstream, type PimDownstreamChange, type PimDownstreamResult } from './downstream';
import type { JoinPruneSend } from './jp-agg';
import type { PimLanDelay } from './neighbors';
import { PimUpstream, type UpstreamRpf, type UpstreamView } from './upstream';

/** Keepalive_Period (RFC 7761 4.11): (S,G) state made by data lives this long after its last packet. */
export const KEEPALIVE_PERIOD_MS = 210_000;
/** Register_Suppression_Time and Register_Probe_Time (4.11). */
export const REGISTER_SUPPRESSION_MS = 60_000;
export const REGISTER_PROBE_MS = 5_000;
/** RP_Keepalive_Period: 3 x Register_Suppression_Time + Register_Probe_Time. */
export const RP_KEEPALIVE_PERIOD_MS = 3 * REGISTER_SUPPRESSION_MS + REGISTER_PROBE_MS;
/** Assert_Time and Assert_Override_Interval (4.11): a loser forgets after 180 s, a winner re-asserts 3 s before. */
export const ASSERT_TIME_MS = 180_000;
export const ASSERT_OVERRIDE_INTERVAL_MS = 3_000;
/** A winner answers data on its outgoing interface with at most one Assert per interface and route this often. */
export const ASSERT_RATE_LIMIT_MS = 1_000;
/** The metric of an AssertCancel (4.6.3: infinite preference and metric). */
const ASSERT_CANCEL_PREFERENCE = 0x7fffffff;
const ASSERT_CANCEL_METRIC = 0xffffffff;

/** How often the (S,G) routes' packet counters are read to refresh their Keepalive Timers. */
export const KEEPALIVE_CHECK_MS = 5_000;

/** What the unicast routing table says of an address (src/routing/rpf.ts). */
export interface RpfResult {
  interface: string;
  /** The next hop: the gateway, or the address itself when it is directly connected. */
  neighbor: string;
  /** The address is one of ours. */
  local: boolean;
}

/** A PIM interface as the router needs it (from its Hello engine). */
export interface PimRouterInterface {
  name: string;
  address: string;
  isDr: boolean;
  neighborCount: number;
  lanDelay: PimLanDelay;
  /** The neighbour's primary address for one of its addresses, if it is a neighbour here. */
  neighborFor(address: string): string | undefined;
}

export interface PimRouterIo {
  /** The interfaces PIM runs on now. */
  interfaces(): ReadonlyMap<string, PimRouterInterface>;
  /** Sends one PIM message on `iface` (a Join/Prune to 224.0.0.13, or a unicast Register / Register-Stop). */
  send(iface: string, destination: string, message: PimMessage, bytes: Uint8Array): void;
  rpf(address: string): RpfResult | undefined;
  /** After each update: the addresses whose RPF still matters (the RPs, the sources with state); the rest need not be followed. */
  rpfInUse?(addresses: ReadonlySet<string>): void;
  /** Interfaces with IGMP listeners for `group` (any filter mode). */
  listeners(group: string): readonly string[];
  /** Every group with an IGMP listener somewhere. */
  listenedGroups(): readonly string[];
  /** IGMP interfaces that are not PIM interfaces (a host LAN with IGMP only): always ours. */
  igmpOnlyInterfaces(): readonly string[];
  /** Sends a decapsulated Register's inner packet (TTL already lowered) out of `iface`. */
  forward(iface: string, packet: Uint8Array): void;
  /** Packets counted on a route (its rule slot) since it appeared; undefined when it is not installed. */
  routePackets(route: { source: string; group: string; interface: string }): number | undefined;
  /** The routes PIM wants now (replaces the previous set). */
  setRoutes(routes: LearnedRoute[]): void;
  /** Join state changes, for the event stream. */
  joinChanged(change: PimJoinChange): void;
  /** A registering source at us as RP: MSDP's SA origination. */
  sourceActive?(source: string, group: string, active: boolean): void;
  /** Sources MSDP peers announced, for groups we are RP of. */
  remoteSources?(): ReadonlyArray<{ source: string; group: string }>;
  /** Something counted (errors and ignored messages by reason). */
  count(kind: 'ignored' | 'errors', reason: string): void;
}

export type PimJoinChange =
  | { type: 'join' | 'prune'; direction: 'upstream'; source: string | null; group: string; interface: string; neighbor: string }
  | { type: 'join' | 'prune'; direction: 'downstream'; source: string | null; group: string; interface: string };

/** The first-hop DR's Register state of one (S,G) (RFC 7761 4.4.1); NoInfo is no entry. */
export type RegisterState = 'join' | 'prune' | 'join_pending';

/** (S,G) state that data made (no Join asked for it). */
interface DataSource {
  source: string;
  group: string;
  /** Why it exists: a directly connected source (first hop), the SPT switch at a last hop, a Register or an SA at the RP. */
  kind: 'first_hop' | 'spt' | 'registered' | 'msdp';
  keepaliveAt: number;
  /** Packets on its route when last looked at. */
  packets: number;
  register?: { state: RegisterState; timerAt: number | null; rp: string };
  /** RP only: the first-hop router that registers it, and whether native packets have arrived. */
  registeredBy?: string;
  native?: boolean;
}

/** One interface's Assert state for (S,G) or, source null, (*,G) (RFC 7761 4.6). NoInfo is no entry. */
export interface AssertEntry {
  source: string | null;
  group: string;
  interface: string;
  state: 'winner' | 'loser';
  /** The winner's address (ours when we won). */
  winner: string;
  /** Loser: when the state ends without a refresh; winner: when we assert again. */
  timerAt: number;
  /** Winner: when we last sent an Assert. */
  sentAt: number;
}

/** An Assert metric (4.6.3): the RPT bit, the route's preference and metric, and the sender's address. */
interface AssertMetric {
  rpt: boolean;
  preference: number;
  metric: number;
  address: string;
}

/** Whether `a` beats `b`: SPT over RPT, lower preference, lower metric, then the higher address. */
export function assertWins(a: AssertMetric, b: AssertMetric): boolean {
  if (a.rpt !== b.rpt) return !a.rpt;
  if (a.preference !== b.preference) return a.preference < b.preference;
  if (a.metric !== b.metric) return a.metric < b.metric;
  return addressValue(a.address) > addressValue(b.address);
}

export interface PimRpView {
  groups: string;
  rp: string;
  self: boolean;
  rpf: RpfResult | null;
}

export interface PimJoinsView {
  asserts: AssertEntry[];
  upstream: UpstreamView[];
  downstream: ReturnType<PimDownstream['view']>;
  sources: Array<{
    source: string;
    group: string;
    kind: DataSource['kind'];
    keepaliveAt: number;
    register: RegisterState | null;
    registerTimerAt: number | null;
  }>;
}

const sgKey = (source: string, group: string) => `${source} ${group}`;
const assertKey = (source: string | null, group: string, iface: string) => `${source ?? '*'} ${group} ${iface}`;

function prefixContains(prefix: string, group: string): number | null {
  const [net, len] = prefix.split('/');
  const bits = Number(len);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (addressValue(net ?? '') & mask) >>> 0 === (addressValue(group) & mask) >>> 0 ? bits : null;
}

/** RP(G) from the static map: the longest prefix containing G, or null. */
export function rpFor(rps: ReadonlyArray<{ address: string; groups: string }>, group: string): string | null {
  let best: { address: string; bits: number } | null = null;
  for (const r of rps) {
    const bits = prefixContains(r.groups, group);
    if (bits !== null && (best === null || bits > best.bits)) best = { address: r.address, bits };
  }
  return best?.address ?? null;
}

/** 224.0.0.0/24 is never routed; 232.0.0.0/8 is SSM, which mcr's PIM does not serve (docs/pim.md). */
export function routableGroup(group: string): boolean {
  const v = addressValue(group);
  return v >>> 28 === 0xe && v >>> 8 !== 0xe00000 && v >>> 24 !== 232;
}

export class PimRouter {
  readonly downstream: PimDownstream;
  readonly upstream: PimUpstream;
  private readonly sources = new Map<string, DataSource>();
  /** Assert state by "source-or-* group interface". */
  private readonly asserts = new Map<string, AssertEntry>();
  private lastRoutes = '';
  private nextKeepaliveCheck: number | null = null;
  private upstreamStates = new Map<string, { state: string; interface: string; neighbor: string }>();

  constructor(
    private readonly rps: ReadonlyArray<{ address: string; groups: string }>,
    joinPruneIntervalMs: number,
    private readonly io: PimRouterIo,
    private readonly random: () => number = Math.random,
  ) {
    this.upstream = new PimUpstream(
      { joinPruneIntervalMs },
      (iface) => {
        const i = this.io.interfaces().get(iface);
        return { overrideIntervalMs: i?.lanDelay.overrideIntervalMs ?? 2500, suppressionEnabled: i?.lanDelay.suppressionEnabled ?? true };
      },
      random,
    );
    this.downstream = new PimDownstream(this.upstream.holdtime);
  }

  /** The RP map with what the routing table says of each RP. */
  rpView(): PimRpView[] {
    return this.rps.map((r) => {
      const rpf = this.io.rpf(r.address) ?? null;
      return { groups: r.groups, rp: r.address, self: rpf?.local ?? false, rpf };
    });
  }

  joinsView(): PimJoinsView {
    return {
      asserts: [...this.asserts.values()].map((a) => ({ ...a })),
      upstream: this.upstream.view().filter((u) => u.state === 'joined' || u.rpf !== null),
      downstream: this.downstream.view(),
      sources: [...this.sources.values()].map((s) => ({
        source: s.source,
        group: s.group,
        kind: s.kind,
        keepaliveAt: s.keepaliveAt,
        register: s.register?.state ?? null,
        registerTimerAt: s.register?.timerAt ?? null,
      })),
    };
  }

  /** Interfaces came or went, a DR or neighbour changed, listeners changed, the unicast routes changed: recompute. */
  update(now: number): void {
    const interfaces = this.syncInterfaces();
    for (const v of this.downstream.view())
      if (!interfaces.has(v.interface)) this.applyDownstream(this.downstream.removeInterface(v.interface));

    const sends: JoinPruneSend[] = [];
    const starGroups = new Set<string>();
    for (const g of this.io.listenedGroups()) if (this.localInterfaces(g).length > 0) starGroups.add(g);
    for (const v of this.downstream.view()) if (v.kind === '*,G') starGroups.add(v.group);
    // Every (*,G) the engine holds, so one no longer wanted is pruned and then forgotten.
    for (const u of this.upstream.view()) if (u.source === null) starGroups.add(u.group);
    for (const group of starGroups) {
      const rp = routableGroup(group) ? rpFor(this.rps, group) : null;
      const olist = this.starGOlist(group);
      const rpf = rp === null ? null : this.rpfNeighbor(rp);
      const iAmRp = rp !== null && (this.io.rpf(rp)?.local ?? false);
      const entry = { source: null, group };
      sends.push(...this.upstream.setRpf(entry, rp === null || iAmRp ? null : rpf, now, rp === null ? {} : { rp }).send);
      sends.push(...this.upstream.setJoinDesired(entry, rp !== null && !iAmRp && olist.length > 0, now).send);
      if (this.upstream.state(entry) === 'not_joined' && olist.length === 0) this.upstream.remove(entry);
    }

    // (S,G): joined by a downstream Join(S,G), or by data we keep (SPT switch, RP's sources). A
    // last hop's switch lasts only while someone below still wants the group.
    for (const [key, s] of this.sources)
      if (s.kind === 'spt' && this.sgOlist(s.source, s.group, undefined).length === 0) this.sources.delete(key);
    this.addRemoteSources(now);
    for (const { source, group } of this.sgEntries()) {
      const entry = { source, group };
      const rpf = this.io.rpf(source);
      const connected = rpf !== undefined && rpf.neighbor === source;
      const desired =
        this.sgOlist(source, group, rpf?.interface).length > 0 &&
        (this.downstream.joinedInterfaces(entry).length > 0 || this.sptWanted(source, group));
      sends.push(...this.upstream.setRpf(entry, connected ? null : this.rpfNeighbor(source), now).send);
      sends.push(...this.upstream.setJoinDesired(entry, desired && !connected, now).send);
      if (this.upstream.state(entry) === 'not_joined' && !desired && !this.sources.has(sgKey(source, group))) this.upstream.remove(entry);
    }
    // Sources joined on their own tree through another neighbour than the RP's are pruned off the
    // shared tree (Prune(S,G,rpt) with every Join(*,G), RFC 7761 4.5.9 as upstream.ts has it).
    for (const u of this.upstream.view()) {
      if (u.source !== null || u.rp === null) continue;
      const starRpf = this.rpfNeighbor(u.rp);
      const prunes = this.rptPrunedSources(u.group, starRpf);
      sends.push(...this.upstream.setRptPrunes(u.group, prunes, now).send);
    }
    this.sendJoinPrunes(sends, now);
    this.reportUpstream();
    this.publishRoutes();
    this.io.rpfInUse?.(new Set([...this.rps.map((r) => r.address), ...this.sgEntries().map((s) => s.source)]));
  }

  /** The downstream engine's view of the interfaces (addresses, neighbour counts, override intervals), refreshed. */
  private syncInterfaces(): ReadonlyMap<string, PimRouterInterface> {
    const interfaces = this.io.interfaces();
    for (const i of interfaces.values())
      this.downstream.setInterface({
        name: i.name,
        address: i.address,
        neighborCount: i.neighborCount,
        jpOverrideIntervalMs: i.lanDelay.propagationDelayMs + i.lanDelay.overrideIntervalMs,
      });
    return interfaces;
  }

  /** A Join/Prune message from a neighbour on `iface`. */
  receiveJoinPrune(iface: string, from: string, message: PimJoinPrune, now: number): void {
    // The interface may have come up since the last update: the engine must know it first.
    const i = this.syncInterfaces().get(iface);
    if (!i) return;
    // RFC 7761 4.5: Join/Prunes from a router we have no Hello from are dropped.
    if (i.neighborFor(from) === undefined) {
      this.io.count('ignored', 'join_prune_not_neighbor');
      return;
    }
    if (message.upstreamNeighbor === i.address) {
      const r = this.downstream.receive(iface, message, now);
      for (const x of r.ignored) this.io.count('ignored', `join_prune_${x.reason}`);
      this.applyDownstream(r);
    } else {
      const upstreamNeighbor = i.neighborFor(message.upstreamNeighbor) ?? message.upstreamNeighbor;
      this.sendJoinPrunes(this.upstream.seen(iface, { ...message, upstreamNeighbor }, now).send, now);
    }
    this.update(now);
  }

  /** A neighbour restarted (new Generation ID): the entries joined towards it send their Joins soon. */
  neighborRestarted(iface: string, neighbor: string, now: number): void {
    this.sendJoinPrunes(this.upstream.neighborRestarted(iface, neighbor, now).send, now);
  }

  /** A packet a PIM route punted (src/daemon/punts.ts), with the route's input interface. */
  punted(
    p: { reason: 'new_source' | 'register' | 'wrong_interface'; source: string; group: string; packet: Uint8Array; truncated: boolean },
    iface: string,
    now: number,
  ): void {
    if (!routableGroup(p.group)) return;
    const key = sgKey(p.source, p.group);
    if (p.reason === 'register') {
      const s = this.sources.get(key);
      if (s?.register?.state !== 'join') return;
      if (p.truncated) {
        this.io.count('errors', 'register_truncated');
        return;
      }
      this.sendRegister(s, false, p.packet);
      return;
    }
    if (p.reason === 'wrong_interface') {
      // A directly connected source on a LAN we forward onto is a new source, not another forwarder.
      const from = this.io.rpf(p.source);
      if (!(from !== undefined && from.interface === iface && from.neighbor === p.source)) {
        this.dataOnOutgoing(iface, p.source, p.group, now);
        return;
      }
    }
    if (this.sources.has(key)) return;
    const rp = rpFor(this.rps, p.group);
    if (rp === null) return;
    const rpf = this.io.rpf(p.source);
    const connected = rpf !== undefined && rpf.interface === iface && rpf.neighbor === p.source;
    const ours = this.io.interfaces().get(iface)?.isDr ?? this.io.igmpOnlyInterfaces().includes(iface);
    if (connected && ours) {
      // First hop: a directly connected source. Towards a remote RP it is registered; at the RP
      // itself it is simply a source of the group (and announced to MSDP peers).
      const iAmRp = this.io.rpf(rp)?.local ?? false;
      const s: DataSource = { source: p.source, group: p.group, kind: 'first_hop', keepaliveAt: now + KEEPALIVE_PERIOD_MS, packets: 0 };
      if (!iAmRp) {
        s.register = { state: 'join', timerAt: null, rp };
        if (!p.truncated) this.sendRegister(s, false, p.packet);
      } else this.io.sourceActive?.(p.source, p.group, true);
      this.sources.set(key, s);
    } else if (this.localInterfaces(p.group).length > 0) {
      // Last hop: the source's first packet down the shared tree switches it to the SPT.
      this.sources.set(key, { source: p.source, group: p.group, kind: 'spt', keepaliveAt: now + KEEPALIVE_PERIOD_MS, packets: 0 });
    } else return;
    this.startKeepaliveChecks(now);
    this.update(now);
  }

  /** A Register sent to `to` (one of our addresses). */
  receiveRegister(iface: string, from: string, to: string, message: PimRegister, now: number): void {
    const rp = rpFor(this.rps, message.group);
    if (rp === null || rp !== to || !(this.io.rpf(rp)?.local ?? false) || !routableGroup(message.group)) {
      this.io.count('ignored', 'register_not_rp');
      return;
    }
    const key = sgKey(message.source, message.group);
    let s = this.sources.get(key);
    const fresh = s === undefined;
    if (s === undefined) {
      s = { source: message.source, group: message.group, kind: 'registered', keepaliveAt: 0, packets: 0 };
      this.sources.set(key, s);
      this.io.sourceActive?.(message.source, message.group, true);
    }
    s.registeredBy = from;
    s.keepaliveAt = Math.max(s.keepaliveAt, now + RP_KEEPALIVE_PERIOD_MS);
    const olist = this.starGOlist(message.group);
    if (fresh) {
      this.startKeepaliveChecks(now);
      this.update(now);
    }
    // Register-Stop once native packets arrive on the SPT, or when nobody below wants the group.
    const route = this.sgRouteKey(s);
    const native = s.native === true || (route !== undefined && (this.io.routePackets(route) ?? 0) > 0);
    if (native || olist.length === 0) {
      s.native = native;
      this.sendRegisterStop(iface, from, message);
      return;
    }
    if (message.nullRegister) return;
    const inner = forwardCopy(message.packet);
    if (!inner.ok) {
      this.io.count('errors', `register_inner_${inner.reason}`);
      return;
    }
    const rpfS = this.io.rpf(message.source);
    for (const out of this.withoutLost(olist, message.source, message.group))
      if (out !== rpfS?.interface) this.io.forward(out, inner.packet);
  }

  /** A Register-Stop from the RP: the first hop stops encapsulating (or, with source 0.0.0.0, every source of the group). */
  receiveRegisterStop(message: PimRegisterStop, now: number): void {
    let matched = false;
    for (const s of this.sources.values()) {
      if (s.register === undefined || s.group !== message.group) continue;
      if (message.source !== '0.0.0.0' && message.source !== s.source) continue;
      matched = true;
      if (s.register.state === 'join' || s.register.state === 'join_pending') {
        s.register.state = 'prune';
        const suppression = (0.5 + this.random()) * REGISTER_SUPPRESSION_MS;
        s.register.timerAt = now + suppression - REGISTER_PROBE_MS;
      }
    }
    if (!matched) this.io.count('ignored', 'register_stop_unknown');
    this.publishRoutes();
  }

  /**
   * An Assert from a neighbour on `iface` (4.6): where we forward the same (S,G) or (*,G) onto
   * `iface`, the better metric keeps forwarding and the other stops (a loser takes `iface` out of
   * its olist until Assert_Time passes without the winner's refresh, or the winner cancels).
   */
  receiveAssert(iface: string, from: string, message: PimAssert, now: number): void {
    const source = message.rpt ? null : message.source;
    const key = assertKey(source, message.group, iface);
    const existing = this.asserts.get(key);
    if (message.metricPreference === ASSERT_CANCEL_PREFERENCE && message.metric === ASSERT_CANCEL_METRIC) {
      if (existing?.state === 'loser' && existing.winner === from) {
        this.asserts.delete(key);
        this.publishRoutes();
      }
      return;
    }
    const ours = this.assertMetric(iface, message.rpt ? null : message.source, message.source, message.group);
    if (ours === null) {
      this.io.count('ignored', 'assert_not_forwarding');
      return;
    }
    const theirs: AssertMetric = { rpt: message.rpt, preference: message.metricPreference, metric: message.metric, address: from };
    if (assertWins(theirs, ours)) {
      this.asserts.set(key, {
        source,
        group: message.group,
        interface: iface,
        state: 'loser',
        winner: from,
        timerAt: now + ASSERT_TIME_MS,
        sentAt: 0,
      });
      if (existing?.state !== 'loser' || existing.winner !== from) this.publishRoutes();
    } else this.sendAssert(iface, message.source, message.group, ours, now);
  }

  /** Runs everything due by `now`: the engines' timers, Register timers, Keepalive checks. */
  tick(now: number): void {
    this.applyDownstream(this.downstream.tick(now));
    this.sendJoinPrunes(this.upstream.tick(now).send, now);
    let changed = false;
    for (const s of this.sources.values()) {
      const r = s.register;
      if (r?.timerAt == null || r.timerAt > now) continue;
      if (r.state === 'prune') {
        // Probe: a Null-Register; a Register-Stop in reply keeps the suppression.
        r.state = 'join_pending';
        r.timerAt = now + REGISTER_PROBE_MS;
        this.sendRegister(s, true);
      } else if (r.state === 'join_pending') {
        r.state = 'join';
        r.timerAt = null;
        changed = true;
      }
    }
    for (const [key, a] of this.asserts) {
      if (a.timerAt > now) continue;
      const ours = a.state === 'winner' ? this.assertMetric(a.interface, a.source, a.source ?? '0.0.0.0', a.group) : null;
      if (ours === null) {
        this.asserts.delete(key);
        changed = true;
      } else this.sendAssert(a.interface, a.source ?? '0.0.0.0', a.group, ours, now);
    }
    if (this.nextKeepaliveCheck !== null && this.nextKeepaliveCheck <= now) {
      this.nextKeepaliveCheck = now + KEEPALIVE_CHECK_MS;
      for (const [key, s] of this.sources) {
        const route = this.sgRouteKey(s);
        const packets = route ? this.io.routePackets(route) : undefined;
        if (packets !== undefined && packets > s.packets) {
          s.packets = packets;
          s.keepaliveAt = Math.max(s.keepaliveAt, now + (s.kind === 'registered' ? RP_KEEPALIVE_PERIOD_MS : KEEPALIVE_PERIOD_MS));
          if (s.kind === 'registered') s.native = true;
        }
        if (s.keepaliveAt <= now) {
          this.sources.delete(key);
          if (s.kind === 'registered' || (s.kind === 'first_hop' && !s.register)) this.io.sourceActive?.(s.source, s.group, false);
          changed = true;
        }
      }
      if (this.sources.size === 0) this.nextKeepaliveCheck = null;
    }
    if (changed) this.update(now);
  }

  nextDeadline(): number | null {
    let next: number | null = null;
    const consider = (at: number | null | undefined) => {
      if (at != null && (next === null || at < next)) next = at;
    };
    consider(this.downstream.nextDeadline());
    consider(this.upstream.nextDeadline());
    consider(this.nextKeepaliveCheck);
    for (const s of this.sources.values()) consider(s.register?.timerAt);
    for (const a of this.asserts.values()) consider(a.timerAt);
    return next;
  }

  /** PIM stops: Prunes for everything joined, and no routes. */
  stop(now: number): void {
    const sends: JoinPruneSend[] = [];
    for (const u of this.upstream.view())
      sends.push(...this.upstream.setJoinDesired({ source: u.source, group: u.group }, false, now).send);
    this.sendJoinPrunes(sends, now);
    for (const s of this.sources.values())
      if (s.kind === 'registered' || (s.kind === 'first_hop' && !s.register)) this.io.sourceActive?.(s.source, s.group, false);
    this.sources.clear();
    this.reportUpstream();
    this.io.setRoutes([]);
    this.lastRoutes = '';
  }

  // ---- internals ---------------------------------------------------------------------------

  /** Interfaces with local members we forward to: IGMP-only interfaces, and PIM interfaces where we are DR. */
  private localInterfaces(group: string): string[] {
    if (!routableGroup(group)) return [];
    const interfaces = this.io.interfaces();
    const igmpOnly = new Set(this.io.igmpOnlyInterfaces());
    return this.io.listeners(group).filter((i) => igmpOnly.has(i) || interfaces.get(i)?.isDr === true);
  }

  /** joins(*,G) + local members: the (*,G) olist before the RPF interface is taken out. */
  private starGOlist(group: string): string[] {
    return [...new Set([...this.downstream.joinedInterfaces({ source: null, group }), ...this.localInterfaces(group)])].sort();
  }

  /** inherited_olist(S,G) without the input: joins(S,G) + ((joins(*,G) + local members) - prunes(S,G,rpt)). */
  private sgOlist(source: string, group: string, iif: string | undefined): string[] {
    const pruned = new Set(this.downstream.rptPrunedInterfaces(source, group));
    const out = new Set(this.downstream.joinedInterfaces({ source, group }));
    for (const i of this.starGOlist(group)) if (!pruned.has(i)) out.add(i);
    if (iif !== undefined) out.delete(iif);
    return [...out].sort();
  }

  /** `olist` without the interfaces where we lost an Assert for (S,G) or, for either, for (*,G). */
  private withoutLost(olist: readonly string[], source: string | null, group: string): string[] {
    // An (S,G) Assert's outcome, won or lost, rules S's packets on that interface; only without one
    // does the (*,G) Assert's decide (RFC 7761 4.6: AssertWinner(S,G,I) defaults to (*,G)'s). Else a
    // router that won (S,G) but lost (*,G) would stop S as well as the (S,G) loser, and nobody sends.
    const lost = (i: string): boolean => {
      const sg = source === null ? undefined : this.asserts.get(assertKey(source, group, i));
      return (sg ?? this.asserts.get(assertKey(null, group, i)))?.state === 'loser';
    };
    return olist.filter((i) => !lost(i));
  }

  /**
   * Our Assert metric for data of (`dataSource`, group) on `iface`, or null when we do not forward
   * it there. assertSource null: the (*,G) assert (RPT bit, the metric towards the RP); else (S,G).
   * Preference 0 for a directly connected source or RP, 1 otherwise (a route from the kernel's
   * table, as FRR rates a static route), metric 0: mcr has no routing protocol metric of its own.
   */
  private assertMetric(iface: string, assertSource: string | null, dataSource: string, group: string): AssertMetric | null {
    const address = this.io.interfaces().get(iface)?.address;
    if (address === undefined) return null;
    const metricTowards = (target: string, rpt: boolean): AssertMetric | null => {
      const r = this.io.rpf(target);
      if (r === undefined || r.interface === iface) return null;
      return { rpt, preference: r.local || r.neighbor === target ? 0 : 1, metric: 0, address };
    };
    if (assertSource !== null && this.sgOlist(assertSource, group, this.io.rpf(assertSource)?.interface).includes(iface)) {
      const viaSpt = this.upstream.state({ source: assertSource, group }) === 'joined' || this.sources.has(sgKey(assertSource, group));
      if (viaSpt) return metricTowards(assertSource, false);
    }
    const rp = rpFor(this.rps, group);
    if (rp === null || !this.starGOlist(group).includes(iface)) return null;
    return dataSource === '0.0.0.0' || this.io.rpf(dataSource)?.interface !== iface ? metricTowards(rp, true) : null;
  }

  /** Data of (S,G) arrived on an interface we forward it onto: another router forwards it too. */
  private dataOnOutgoing(iface: string, source: string, group: string, now: number): void {
    const ours = this.assertMetric(iface, source, source, group);
    if (ours === null) return;
    const key = assertKey(ours.rpt ? null : source, group, iface);
    const a = this.asserts.get(key);
    if (a?.state === 'loser' || (a !== undefined && now - a.sentAt < ASSERT_RATE_LIMIT_MS)) return;
    this.sendAssert(iface, source, group, ours, now);
  }

  /** Sends our Assert on `iface` and holds the winner's state until we assert again. */
  private sendAssert(iface: string, source: string, group: string, ours: AssertMetric, now: number): void {
    const message: PimAssert = { type: 'assert', group, source, rpt: ours.rpt, metricPreference: ours.preference, metric: ours.metric };
    this.sendOne(iface, ALL_PIM_ROUTERS, message, encodePimMessage(message));
    const key = assertKey(ours.rpt ? null : source, group, iface);
    this.asserts.set(key, {
      source: ours.rpt ? null : source,
      group,
      interface: iface,
      state: 'winner',
      winner: ours.address,
      timerAt: now + ASSERT_TIME_MS - ASSERT_OVERRIDE_INTERVAL_MS,
      sentAt: now,
    });
  }

  /** Every (S,G) with state: a downstream Join(S,G), an upstream entry, or data we keep. */
  private sgEntries(): Array<{ source: string; group: string }> {
    const sgs = new Map<string, { source: string; group: string }>();
    for (const v of this.downstream.view())
      if (v.kind === 'S,G' && v.source !== null) sgs.set(sgKey(v.source, v.group), { source: v.source, group: v.group });
    for (const u of this.upstream.view()) if (u.source !== null) sgs.set(sgKey(u.source, u.group), { source: u.source, group: u.group });
    for (const s of this.sources.values()) sgs.set(sgKey(s.source, s.group), { source: s.source, group: s.group });
    return [...sgs.values()];
  }

  /** Sources of `group` joined on their own tree (SPT) through another neighbour than RPF'(*,G). */
  private rptPrunedSources(group: string, starRpf: UpstreamRpf | null): string[] {
    if (starRpf === null) return [];
    const out: string[] = [];
    for (const u of this.upstream.view()) {
      if (u.source === null || u.group !== group || u.state !== 'joined' || u.rpf === null) continue;
      if (u.rpf.interface !== starRpf.interface || u.rpf.neighbor !== starRpf.neighbor) out.push(u.source);
    }
    return out;
  }

  /** Whether data state wants the SPT for (S,G): a last hop's switch, or the RP's registered / announced source. */
  private sptWanted(source: string, group: string): boolean {
    const s = this.sources.get(sgKey(source, group));
    return s !== undefined && s.kind !== 'first_hop';
  }

  /** RPF'(x): the PIM neighbour on the RPF interface towards x, or null (no route, ours, or no neighbour there). */
  private rpfNeighbor(address: string): UpstreamRpf | null {
    const r = this.io.rpf(address);
    if (r === undefined || r.local) return null;
    const neighbor = this.io.interfaces().get(r.interface)?.neighborFor(r.neighbor);
    return neighbor === undefined ? null : { interface: r.interface, neighbor };
  }

  /** At the RP, sources MSDP peers announce for groups with (*,G) state join the SPT too (RFC 3618 6). */
  private addRemoteSources(now: number): void {
    for (const { source, group } of this.io.remoteSources?.() ?? []) {
      const key = sgKey(source, group);
      if (this.sources.has(key)) continue;
      const rp = rpFor(this.rps, group);
      if (rp === null || !(this.io.rpf(rp)?.local ?? false) || this.starGOlist(group).length === 0) continue;
      this.sources.set(key, { source, group, kind: 'msdp', keepaliveAt: now + KEEPALIVE_PERIOD_MS, packets: 0 });
      this.startKeepaliveChecks(now);
    }
  }

  private startKeepaliveChecks(now: number): void {
    if (this.nextKeepaliveCheck === null) this.nextKeepaliveCheck = now + KEEPALIVE_CHECK_MS;
  }

  /** The (S,G) route's identity (its input), when the source has a route. */
  private sgRouteKey(s: { source: string; group: string }): { source: string; group: string; interface: string } | undefined {
    const rpf = this.io.rpf(s.source);
    return rpf && !rpf.local ? { source: s.source, group: s.group, interface: rpf.interface } : undefined;
  }

  private applyDownstream(r: PimDownstreamResult): void {
    for (const s of r.send) this.sendOne(s.interface, s.destination, s.message, s.bytes);
    for (const c of r.changes) this.reportDownstream(c);
  }

  private reportDownstream(c: PimDownstreamChange): void {
    if (c.type === 'oif_added' || c.type === 'oif_removed')
      this.io.joinChanged({
        type: c.type === 'oif_added' ? 'join' : 'prune',
        direction: 'downstream',
        source: c.source,
        group: c.group,
        interface: c.interface,
      });
  }

  /** Upstream join state as events: one per entry that joined or left, towards whom. */
  private reportUpstream(): void {
    const now = new Map<string, { state: string; interface: string; neighbor: string; source: string | null; group: string }>();
    for (const u of this.upstream.view())
      if (u.state === 'joined' && u.rpf !== null)
        now.set(sgKey(u.source ?? '*', u.group), { state: u.state, ...u.rpf, source: u.source, group: u.group });
    for (const [key, u] of now) {
      const before = this.upstreamStates.get(key);
      if (!before || before.neighbor !== u.neighbor || before.interface !== u.interface)
        this.io.joinChanged({
          type: 'join',
          direction: 'upstream',
          source: u.source,
          group: u.group,
          interface: u.interface,
          neighbor: u.neighbor,
        });
    }
    for (const [key, before] of this.upstreamStates)
      if (!now.has(key)) {
        const [source, group] = key.split(' ') as [string, string];
        this.io.joinChanged({
          type: 'prune',
          direction: 'upstream',
          source: source === '*' ? null : source,
          group,
          interface: before.interface,
          neighbor: before.neighbor,
        });
      }
    this.upstreamStates = new Map([...now].map(([k, v]) => [k, { state: v.state, interface: v.interface, neighbor: v.neighbor }]));
  }

  private sendJoinPrunes(sends: readonly JoinPruneSend[], _now: number): void {
    for (const s of sends) this.sendOne(s.interface, s.destination, s.message, s.bytes);
  }

  private sendOne(iface: string, destination: string, message: PimMessage, bytes: Uint8Array): void {
    this.io.send(iface, destination, message, bytes);
  }

  /** A Register (the packet encapsulated) or a Null-Register (its header only) to the RP, unicast. */
  private sendRegister(s: DataSource, nullRegister: boolean, packet?: Uint8Array): void {
    const r = s.register;
    if (!r) return;
    const rpf = this.io.rpf(r.rp);
    if (!rpf || rpf.local) return;
    // A Null-Register carries a dummy IP header with the (S,G) (RFC 7761 4.4.1).
    const inner = nullRegister || packet === undefined ? nullRegisterHeader(s.source, s.group) : packet;
    const message: PimRegister = { type: 'register', border: false, nullRegister, packet: inner, source: s.source, group: s.group };
    this.sendOne(rpf.interface, r.rp, message, encodePimMessage(message));
  }

  private sendRegisterStop(iface: string, to: string, register: PimRegister): void {
    const message: PimRegisterStop = { type: 'register_stop', group: register.group, source: register.source };
    this.sendOne(iface, to, message, encodePimMessage(message));
  }

  /** Computes the routes PIM wants and hands them over when they differ from the last set. */
  private publishRoutes(): void {
    const routes = this.routes();
    const text = JSON.stringify(routes);
    if (text === this.lastRoutes) return;
    this.lastRoutes = text;
    this.io.setRoutes(routes);
  }

  private routes(): LearnedRoute[] {
    const routes: LearnedRoute[] = [];
    const interfaces = this.io.interfaces();
    const outputs = (list: readonly string[]) => list.map((i) => ({ interface: i }));
    // (*,G) on the shared tree.
    for (const u of this.upstream.view()) {
      if (u.source !== null || u.rp === null) continue;
      const rpf = this.io.rpf(u.rp);
      if (!rpf || rpf.local) continue;
      const olist = this.withoutLost(this.starGOlist(u.group), null, u.group).filter((i) => i !== rpf.interface);
      if (olist.length === 0) continue;
      const route: LearnedRoute = {
        match: { interface: rpf.interface, group: u.group, port: 0 },
        outputs: outputs(olist),
        joinGroup: false,
      };
      if (this.localInterfaces(u.group).length > 0) route.punt = 'new_source';
      routes.push(route);
    }
    // (S,G): joined, or kept by data.
    for (const { source, group } of this.sgEntries()) {
      const rpf = this.io.rpf(source);
      if (!rpf || rpf.local) continue;
      const s = this.sources.get(sgKey(source, group));
      const registering = s?.register?.state === 'join';
      const olist = this.withoutLost(this.sgOlist(source, group, rpf.interface), source, group);
      // A source nobody wants still gets an entry while it registers (its packets go to the RP) or
      // while its Keepalive Timer runs (its counter shows whether it still sends).
      if (olist.length === 0 && s === undefined) continue;
      const route: LearnedRoute = {
        match: { interface: rpf.interface, group, port: 0, source },
        outputs: outputs(olist),
        joinGroup: false,
      };
      if (registering) route.punt = 'register';
      routes.push(route);
    }
    // A source on its own tree through another interface: its packets still coming down the shared
    // tree (until the upstream router has our Prune(S,G,rpt)) are not forwarded twice.
    for (const u of this.upstream.view()) {
      if (u.source === null || u.state !== 'joined' || u.rpf === null) continue;
      const star = routes.find((r) => r.match.source === undefined && r.match.group === u.group);
      if (!star || star.match.interface === u.rpf.interface) continue;
      if (routes.some((r) => r.match.interface === star.match.interface && r.match.source === u.source && r.match.group === u.group))
        continue;
      routes.push({ match: { ...star.match, source: u.source }, outputs: [], joinGroup: false });
    }
    // A source pruned off the shared tree by a downstream router (Prune(S,G,rpt)) where we have no
    // (S,G) state: its packets leave the (*,G) without that interface.
    for (const v of this.downstream.view()) {
      if (v.kind !== 'S,G,rpt' || v.state !== 'prune' || v.source === null) continue;
      const source = v.source;
      if (routes.some((r) => r.match.source === source && r.match.group === v.group)) continue;
      const star = routes.find((r) => r.match.source === undefined && r.match.group === v.group);
      if (!star) continue;
      routes.push({
        match: { ...star.match, source },
        outputs: outputs(this.withoutLost(this.sgOlist(source, v.group, star.match.interface), source, v.group)),
        joinGroup: false,
      });
    }
    // A source whose (S,G) Assert we lost on an interface the (*,G) still forwards onto: its
    // packets leave the shared tree without that interface.
    for (const a of this.asserts.values()) {
      if (a.state !== 'loser' || a.source === null || routes.some((r) => r.match.source === a.source && r.match.group === a.group))
        continue;
      const star = routes.find((r) => r.match.source === undefined && r.match.group === a.group);
      if (!star) continue;
      routes.push({
        match: { ...star.match, source: a.source },
        outputs: outputs(
          this.withoutLost(
            star.outputs.map((o) => o.interface),
            a.source,
            a.group,
          ),
        ),
        joinGroup: false,
      });
    }
    // Where we forward onto a LAN with other PIM routers, data arriving there means another
    // forwarder: watched, punting wrong_interface (an Assert follows). Pushed last: a route with
    // the same match (an input that is also another route's output) keeps its own entry.
    for (const r of [...routes])
      for (const o of r.outputs)
        if ((interfaces.get(o.interface)?.neighborCount ?? 0) > 0)
          routes.push({
            match: { interface: o.interface, group: r.match.group, port: 0, ...(r.match.source ? { source: r.match.source } : {}) },
            outputs: [],
            punt: 'wrong_interface',
            joinGroup: false,
          });
    // (*,*) where a directly connected source would first show up.
    const watch = new Set<string>(this.io.igmpOnlyInterfaces());
    for (const i of interfaces.values()) if (i.isDr) watch.add(i.name);
    if (this.rps.length > 0)
      for (const name of [...watch].sort())
        routes.push({ match: { interface: name, group: ANY_GROUP, port: 0 }, outputs: [], punt: 'new_source', joinGroup: false });
    return routes;
  }
}

/** The inner header of a Null-Register: a 20-byte IPv4 header of (S,G) with no payload (RFC 7761 4.4.1). */
export function nullRegisterHeader(source: string, group: string): Uint8Array {
  return encodeIPv4Packet(new Uint8Array(0), {
    protocol: 17,
    source,
    destination: group,
    ttl: 0,
    routerAlert: false,
    tos: 0,
    what: 'Null-Register',
  });
}
