// SPDX-License-Identifier: MIT
// The daemon's learned routing: IGMP (querier, listeners, igmpproxy mode) feeding the routing
// table, PIM (its router: Joins, Registers, Asserts and routes of origin pim; the RPF table, the
// punt reader and the RP's packet senders it needs), MSDP peerings and their SA cache, and
// their views (`mcrctl igmp groups`, `mcrctl pim ...`, `mcrctl msdp ...`, `mcrctl mroute`). Static rules stay in the RuleRegistry; this adds what the
// network taught and tells RuleChanges when the table changed.
import type { Config, IgmpConfig, MsdpConfig, PimConfig } from '../config/types';
import type {
  Stats,
  IgmpGroupsResult,
  MrouteResult,
  MsdpPeersResult,
  MsdpSaResult,
  PimInterfacesResult,
  PimJoinsResult,
  PimNeighborsResult,
  PimRpResult,
} from '../control/protocol';
import type { Logger } from '../lib/logger';
import type { RoutingMetrics } from '../telemetry/metrics';
import { IgmpService, type IgmpCounters, type MembershipEvent } from '../routing/igmp/service';
import { proxyRoutes } from '../routing/igmp/proxy';
import { helloHoldtimeSeconds } from '../routing/pim/neighbors';
import { type PimChange, type PimCounters, PimService } from '../routing/pim/service';
import { type MsdpChange, MsdpService, type MsdpStatus } from '../routing/msdp/service';
import { LearnedRoutes, type SlotSource } from '../routing/learned';
import { emptyMessageCounters } from '../routing/message-counters';
import { type RouteEntry, routeName } from '../routing/table';
import type { EventSink, RouteEventFields } from './events';
import type { PuntReader } from './punts';
import { RpfTable } from '../routing/rpf';
import type { LearnedRoute } from '../routing/learned';
import type { PimJoinChange } from '../routing/pim/router';
import { loadAddon, type NativeIpSender } from '../native/addon';
import type { RouteChangeNote, RuleChanges } from './rule-changes';
import type { RuleRegistry } from './rule-registry';
import type { CounterSource } from './stats';

export interface RoutingParts {
  registry: RuleRegistry;
  changes: Pick<RuleChanges, 'routesChanged'>;
  counters: Pick<CounterSource, 'markBase'>;
  ruleSlots: SlotSource;
  outputSlots: SlotSource;
  events: EventSink;
  log: Logger;
  /** Packets and bytes counted in rule slots (mroute's packets column). */
  ruleCounters: (slots: number[]) => Array<{ packets: number; bytes: number }>;
  /** The workers' punt rings (PIM's data-driven events). */
  punts: PuntReader;
}

/** Seconds (tenths) from `now` to `at`, both ms on one engine's clock; null stays null, the past is 0. */
function secondsUntil(at: number | null, now: number): number | null {
  return at === null ? null : Math.max(0, Math.round((at - now) / 100) / 10);
}

/** Route changes as counted for telemetry (mcr_route_changes_total{origin}). */
export type RouteChangeCounts = Record<string, number>;

export function routeEvent(type: 'route.add' | 'route.remove', entry: RouteEntry): RouteEventFields & { type: typeof type } {
  const m = entry.match;
  return {
    type,
    route: routeName(m.source, m.group),
    interface: m.interface,
    group: m.group,
    ...(m.source ? { source: m.source } : {}),
    port: m.port,
    ...(m.protocol && m.protocol !== 'udp' ? { protocol: m.protocol } : {}),
    outputs: entry.outputs.map((o) => ({ interface: o.interface })),
    origin: entry.origin,
  };
}

export class DaemonRouting {
  private igmp: IgmpService | undefined;
  private igmpConfig: IgmpConfig | undefined;
  private pim: PimService | undefined;
  private pimConfig: PimConfig | undefined;
  /** PIM's view of the unicast routing table (RPF), followed while PIM runs. */
  private rpf: RpfTable | undefined;
  /** The RP's senders of decapsulated Register packets, one per output interface, opened on first use. */
  private readonly ipSenders = new Map<string, NativeIpSender>();
  private msdp: MsdpService | undefined;
  private msdpConfig: MsdpConfig | undefined;
  private msdpRetry: NodeJS.Timeout | undefined;
  private readonly learned: LearnedRoutes;
  /** The input interface of each PIM route, by rule slot (what a punt names). */
  private pimInputBySlot = new Map<number, string>();
  /** Set by stop(): route changes the protocols make as they stop need not reach the data plane. */
  private stopping = false;
  /** route.add + route.remove by origin, since start. */
  readonly routeChanges: RouteChangeCounts = {};

  constructor(private readonly parts: RoutingParts) {
    this.learned = new LearnedRoutes(parts.ruleSlots, parts.outputSlots, (ruleSlot, outputSlots) =>
      parts.counters.markBase({ slot: ruleSlot ?? 0, outputSlots }, ruleSlot === null ? outputSlots : undefined),
    );
    parts.registry.routes = {
      learned: () => this.learned.entries(),
      hasListener: (iface, group) => this.igmp?.hasListener(iface, group) ?? false,
    };
  }

  start(config: Config): void {
    this.startIgmp(config.igmp);
    this.startPim(config.pim);
    this.startMsdp(config.msdp);
  }

  /**
   * A reload: a changed igmp section restarts IGMP (listeners are learned again from the startup
   * queries); a changed pim section restarts PIM (goodbye Hellos, then a new generation ID, and
   * the neighbours are learned again from their Hellos).
   */
  reconfigure(next: Config): void {
    if (JSON.stringify(next.igmp) !== JSON.stringify(this.igmpConfig)) {
      this.parts.log.info('igmp settings changed: restarting IGMP');
      this.stopIgmp();
      this.startIgmp(next.igmp);
      this.relearn();
    }
    if (JSON.stringify(next.pim) !== JSON.stringify(this.pimConfig)) {
      this.parts.log.info('pim settings changed: restarting PIM');
      this.stopPim();
      this.startPim(next.pim);
    }
    if (JSON.stringify(next.msdp) !== JSON.stringify(this.msdpConfig)) {
      this.parts.log.info('msdp settings changed: restarting MSDP');
      this.stopMsdp();
      this.startMsdp(next.msdp);
    }
  }

  stop(): void {
    this.stopping = true;
    this.stopIgmp();
    this.stopPim();
    this.stopMsdp();
  }

  /**
   * Without an msdp section nothing is opened. The listener binds localAddress: while that fails
   * (the address is not configured yet) it tries again every connectRetry seconds.
   */
  private startMsdp(config: MsdpConfig | undefined): void {
    this.msdpConfig = config;
    if (!config) return;
    const peers = new Set(config.peers.map((p) => p.address));
    const service = new MsdpService({
      localAddress: config.localAddress,
      peers: config.peers,
      // Peer-RPF (RFC 3618 10.1.3): without a view of unicast routing (BGP/MRIB) yet, the RPF
      // peer for an RP is the peer that is the RP itself, else none. SAs from a sole peer or a
      // mesh-group member are accepted by the cache's other rules.
      rpfPeer: (rp) => (peers.has(rp) ? rp : null),
      keepAliveMs: config.keepaliveInterval * 1000,
      holdMs: config.holdTime * 1000,
      connectRetryMs: config.connectRetry * 1000,
      onChange: (change) => this.msdpChanged(change),
    });
    this.msdp = service;
    const log = this.parts.log.child('msdp');
    service.start().then(
      () => log.info(`MSDP on ${config.localAddress} with ${config.peers.length} peer(s)`),
      (err: Error) => {
        if (this.msdp !== service) return;
        log.error(`cannot listen on ${config.localAddress}:639: ${err.message}; trying again in ${config.connectRetry} s`);
        service.stop();
        this.msdp = undefined;
        this.msdpRetry = setTimeout(() => {
          this.msdpRetry = undefined;
          if (this.msdpConfig === config && !this.msdp) this.startMsdp(config);
        }, config.connectRetry * 1000);
      },
    );
  }

  /** Closes every session (each peer goes down with reason disabled, its SAs with it) and the listener. */
  private stopMsdp(): void {
    clearTimeout(this.msdpRetry);
    this.msdpRetry = undefined;
    const service = this.msdp;
    this.msdp = undefined;
    service?.stop();
  }

  private msdpChanged(c: MsdpChange): void {
    if (c.type === 'peer_up') this.parts.events.emit({ type: 'msdp.peer.up', peer: c.peer });
    else if (c.type === 'peer_down') this.parts.events.emit({ type: 'msdp.peer.down', peer: c.peer, reason: c.reason });
    if (c.type === 'sa_added' || c.type === 'sa_removed') this.pim?.update();
    if (c.type === 'sa_added') this.parts.events.emit({ type: 'msdp.sa.add', source: c.source, group: c.group, rp: c.rp, peer: c.peer });
    else if (c.type === 'sa_removed')
      this.parts.events.emit({ type: 'msdp.sa.remove', source: c.source, group: c.group, rp: c.rp, peer: c.peer, reason: c.reason });
    // 'state' (listen/connecting/...) is visible in msdp.peers; not an event of its own
  }

  private msdpStatus(): MsdpStatus | undefined {
    return this.msdp?.status();
  }

  /** `mcrctl msdp peers`. */
  msdpPeers(): MsdpPeersResult {
    const counters = { received: {}, sent: {}, errors: {}, rejected: {}, refusedConnections: 0 };
    const config = this.msdpConfig;
    if (!config) return { enabled: false, localAddress: null, counters, peers: [] };
    const status = this.msdpStatus();
    const now = this.msdp?.now() ?? 0;
    const learned: Record<string, number> = {};
    for (const e of status?.sa ?? []) learned[e.peer] = (learned[e.peer] ?? 0) + 1;
    return {
      enabled: true,
      localAddress: config.localAddress,
      counters: status
        ? {
            received: status.counters.received,
            sent: status.counters.sent,
            errors: status.counters.errors,
            rejected: status.counters.rejected,
            refusedConnections: status.counters.refusedConnections,
          }
        : counters,
      // Before the listener is bound (or while it retries) the configured peers show as disabled.
      peers: config.peers.map((p) => {
        const v = status?.peers.find((x) => x.peer === p.address);
        const m = status?.peerMessages[p.address];
        return {
          address: p.address,
          state: v?.state ?? 'disabled',
          role: v?.role ?? 'connect',
          uptime: v?.upSince == null ? null : Math.max(0, Math.round((now - v.upSince) / 1000)),
          meshGroup: p.meshGroup ?? null,
          messagesIn: m?.received ?? 0,
          messagesOut: m?.sent ?? 0,
          saLearned: learned[p.address] ?? 0,
          resets: v?.resets ?? 0,
          lastResetReason: v?.lastDownReason ?? null,
          holdExpiresIn: v?.state === 'established' ? secondsUntil(v.holdAt, now) : null,
        };
      }),
    };
  }

  /** `mcrctl msdp sa`. */
  msdpSa(): MsdpSaResult {
    if (!this.msdpConfig) return { enabled: false, entries: [], originated: [] };
    const status = this.msdpStatus();
    const now = this.msdp?.now() ?? 0;
    return {
      enabled: true,
      entries: (status?.sa ?? []).map((e) => ({
        source: e.source,
        group: e.group,
        rp: e.rp,
        peer: e.peer,
        expiresIn: secondsUntil(e.expiresAt, now) ?? 0,
      })),
      originated: status?.originated ?? [],
    };
  }

  /** Per peer 1 when established, else 0 (mcr_msdp_peer_up{peer}); empty without MSDP. */
  msdpPeerUp(): Record<string, number> {
    const up: Record<string, number> = {};
    const status = this.msdpStatus();
    for (const p of this.msdpConfig?.peers ?? [])
      up[p.address] = status?.peers.some((v) => v.peer === p.address && v.state === 'established') ? 1 : 0;
    return up;
  }

  /** MSDP problems by reason for mcr_msdp_errors_total: parse errors, rejected SAs (sa_<reason>), refused connections. */
  private msdpErrors(status: MsdpStatus | undefined): Record<string, number> {
    if (!status) return {};
    const errors: Record<string, number> = { ...status.counters.errors };
    for (const [reason, n] of Object.entries(status.counters.rejected)) errors[`sa_${reason}`] = n;
    if (status.counters.refusedConnections > 0) errors.refused_connection = status.counters.refusedConnections;
    return errors;
  }

  private startIgmp(config: IgmpConfig | undefined): void {
    this.igmpConfig = config;
    if (!config) return;
    this.igmp = new IgmpService(config, this.parts.log.child('igmp'), (changes) => this.membershipChanged(changes));
    this.igmp.start();
  }

  private stopIgmp(): void {
    this.igmp?.stop();
    this.igmp = undefined;
  }

  /** Without a pim section nothing is opened. */
  private startPim(config: PimConfig | undefined): void {
    this.pimConfig = config;
    if (!config) return;
    const log = this.parts.log.child('pim');
    const rpf = new RpfTable({
      onChange: (changes) => {
        for (const c of changes)
          log.info(`RPF towards ${c.address}: ${c.current ? `${c.current.interface} via ${c.current.neighbor}` : 'no route'}`);
        this.pim?.update();
      },
      onError: (err) => log.error(`unicast routes are no longer followed: ${err.message}`),
    });
    this.rpf = rpf;
    const pimNames = new Set(config.interfaces.map((i) => i.name));
    this.pim = new PimService(config, log, (changes) => this.pimChanged(changes), {
      rpf: (address) => rpf.watch(address),
      // Sources come and go: stop following the routes towards those PIM forgot.
      rpfInUse: (addresses) => {
        for (const a of [...rpf.watched().keys()]) if (!addresses.has(a)) rpf.unwatch(a);
      },
      listeners: (group) => [...(this.igmp?.listeners() ?? [])].filter(([, groups]) => groups.has(group)).map(([iface]) => iface),
      listenedGroups: () => [...new Set([...(this.igmp?.listeners().values() ?? [])].flatMap((groups) => [...groups.keys()]))],
      igmpOnlyInterfaces: () => (this.igmpConfig?.interfaces ?? []).filter((i) => !pimNames.has(i)),
      forward: (iface, packet) => this.forwardPacket(iface, packet, log),
      routePackets: (route) => this.pimRoutePackets(route),
      setRoutes: (routes) => this.setPimRoutes(routes),
      joinChanged: (change) => this.pimJoinChanged(change),
      sourceActive: (source, group, active) => {
        if (active) this.msdp?.originate(source, group);
        else this.msdp?.withdraw(source, group);
      },
      remoteSources: () => this.msdpStatus()?.sa ?? [],
    });
    this.pim.start();
    this.parts.punts.start((p) => {
      const input = this.pimInputBySlot.get(p.ruleSlot);
      if (input !== undefined) this.pim?.punted(p, input);
    });
  }

  /** Prunes what PIM joined, sends the holdtime-0 Hellos and closes the sockets. */
  private stopPim(): void {
    this.parts.punts.stop();
    this.pim?.stop();
    this.pim = undefined;
    this.rpf?.close();
    this.rpf = undefined;
    for (const sender of this.ipSenders.values()) sender.close();
    this.ipSenders.clear();
  }

  /** The RP's copy of a Register's inner packet down one interface of the shared tree. */
  private forwardPacket(iface: string, packet: Uint8Array, log: Logger): void {
    try {
      let sender = this.ipSenders.get(iface);
      if (!sender) {
        sender = new (loadAddon().IpSender)(iface);
        this.ipSenders.set(iface, sender);
      }
      sender.send(packet);
    } catch (err) {
      log.debug(`cannot forward a registered packet on ${iface}: ${(err as Error).message}`);
    }
  }

  /** Packets on a PIM route since it appeared, or undefined when it is not in the table. */
  private pimRoutePackets(route: { source: string; group: string; interface: string }): number | undefined {
    const entry = this.learned
      .entries()
      .find(
        (e) =>
          e.origin === 'pim' && e.match.interface === route.interface && e.match.group === route.group && e.match.source === route.source,
      );
    return entry ? this.parts.ruleCounters([entry.slot])[0]?.packets : undefined;
  }

  private setPimRoutes(routes: LearnedRoute[]): void {
    this.replaceLearned('pim', routes);
    // Punts name their route by rule slot: looked up per punt, so kept as a map.
    this.pimInputBySlot = new Map(
      this.learned.entries().flatMap((e) => (e.origin === 'pim' ? [[e.slot, e.match.interface] as const] : [])),
    );
  }

  private pimJoinChanged(c: PimJoinChange): void {
    this.parts.events.emit({
      type: c.type === 'join' ? 'pim.join' : 'pim.prune',
      route: routeName(c.source ?? undefined, c.group),
      group: c.group,
      ...(c.source ? { source: c.source } : {}),
      direction: c.direction,
      interface: c.interface,
      ...(c.direction === 'upstream' ? { neighbor: c.neighbor } : {}),
    });
  }

  private pimChanged(changes: PimChange[]): void {
    for (const c of changes) {
      if (c.type === 'neighbor_up')
        this.parts.events.emit({
          type: 'pim.neighbor.up',
          interface: c.interface,
          neighbor: c.neighbor,
          ...(c.drPriority === null ? {} : { drPriority: c.drPriority }),
          generationId: c.generationId,
        });
      else if (c.type === 'neighbor_down')
        this.parts.events.emit({ type: 'pim.neighbor.down', interface: c.interface, neighbor: c.neighbor, reason: c.reason });
      else if (c.type === 'dr_changed') this.parts.events.emit({ type: 'pim.dr', interface: c.interface, dr: c.dr, self: c.self });
      // neighbor_restart goes to the router (its Joins towards that neighbour go again soon); the service logs it.
    }
  }

  /** `mcrctl stats`: each running protocol's message counters. */
  protocolCounters(): NonNullable<Stats['protocols']> {
    const pick = (c: { received: Record<string, number>; sent: Record<string, number>; errors: Record<string, number> }) => ({
      received: { ...c.received },
      sent: { ...c.sent },
      errors: { ...c.errors },
    });
    const out: NonNullable<Stats['protocols']> = {};
    const igmp = this.igmpCounters();
    if (igmp) out.igmp = pick(igmp);
    const pim = this.pimCounters();
    if (pim) out.pim = pick(pim);
    const msdp = this.msdpStatus();
    if (msdp) out.msdp = { received: { ...msdp.counters.received }, sent: { ...msdp.counters.sent }, errors: this.msdpErrors(msdp) };
    return out;
  }

  pimCounters(): PimCounters | null {
    return this.pim?.totals() ?? null;
  }

  igmpCounters(): IgmpCounters | null {
    return this.igmp?.counts() ?? null;
  }

  /** The routing side's metrics (src/telemetry/metrics.ts). */
  metrics(): RoutingMetrics {
    const igmp = this.igmpCounters();
    const pim = this.pimCounters();
    const msdp = this.msdpStatus();
    return {
      igmpGroups: this.groupCounts(),
      igmpReceived: igmp?.received ?? {},
      igmpSent: igmp?.sent ?? {},
      igmpErrors: igmp?.errors ?? {},
      pimNeighbors: this.pimNeighborCounts(),
      pimReceived: pim?.received ?? {},
      pimSent: pim?.sent ?? {},
      pimErrors: pim?.errors ?? {},
      msdpPeerUp: this.msdpPeerUp(),
      msdpSaEntries: msdp ? msdp.sa.length : null,
      msdpReceived: msdp?.counters.received ?? {},
      msdpSent: msdp?.counters.sent ?? {},
      msdpErrors: this.msdpErrors(msdp),
      routeChanges: this.routeChanges,
    };
  }

  /** Groups with listeners per IGMP interface (mcr_igmp_groups{interface}). */
  groupCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const name of this.igmpConfig?.interfaces ?? []) counts[name] = 0;
    for (const [iface, groups] of this.igmp?.listeners() ?? []) counts[iface] = groups.size;
    return counts;
  }

  /** Neighbours per PIM interface (mcr_pim_neighbors{interface}); 0 while an interface waits. */
  pimNeighborCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const s of this.pim?.status() ?? []) counts[s.interface] = s.view?.neighbors.length ?? 0;
    return counts;
  }

  private membershipChanged(changes: MembershipEvent[]): void {
    for (const c of changes) {
      if (c.mode === 'none') this.parts.events.emit({ type: 'igmp.leave', interface: c.interface, group: c.group });
      else
        this.parts.events.emit({
          type: 'igmp.join',
          interface: c.interface,
          group: c.group,
          ...(c.mode === 'include' ? { sources: c.sources } : {}),
          ...(c.reporter ? { reporter: c.reporter } : {}),
        });
    }
    this.relearn();
    // Local members make (*,G) joins at a PIM last hop.
    this.pim?.update();
  }

  /** Recomputes the learned routes and hands the compiled table to the data plane. */
  private relearn(): void {
    const upstream = this.igmpConfig?.upstream;
    const routes = upstream !== undefined && this.igmp ? proxyRoutes(upstream, this.igmp.listeners()) : [];
    this.replaceLearned('igmp', routes);
  }

  /** One origin's routes replaced, their changes reported, the compiled table handed to the data plane. */
  private replaceLearned(origin: 'igmp' | 'pim', routes: readonly LearnedRoute[]): void {
    const notes: RouteChangeNote[] = [];
    try {
      const { added, removed } = this.learned.replace(origin, routes);
      for (const e of removed) notes.push(this.routeChanged('route.remove', e));
      for (const e of added) notes.push(this.routeChanged('route.add', e));
    } catch (err) {
      this.parts.log.error(`${origin}: routes not updated: ${(err as Error).message}`);
      return;
    }
    this.parts.changes.routesChanged(notes).catch((err: Error) => {
      // mcrd stopping: the protocols withdraw their routes as the data plane goes; nothing is wrong.
      if (this.stopping) this.parts.log.debug(`learned routes not applied while stopping: ${err.message}`);
      else this.parts.log.error(`cannot apply the learned routes: ${err.message}`);
    });
  }

  private routeChanged(type: 'route.add' | 'route.remove', entry: RouteEntry): RouteChangeNote {
    this.routeChanges[entry.origin] = (this.routeChanges[entry.origin] ?? 0) + 1;
    const event = routeEvent(type, entry);
    this.parts.events.emit(event);
    return { type, route: `${event.route} on ${entry.match.interface}`, origin: entry.origin };
  }

  /** Static rules added, changed (counted as an add) or removed: mcr_route_changes_total{origin="static"}. */
  countStaticChanges(count: number): void {
    if (count > 0) this.routeChanges.static = (this.routeChanges.static ?? 0) + count;
  }

  /** `mcrctl igmp groups`. */
  groups(): IgmpGroupsResult {
    if (!this.igmp) return { enabled: false, counters: emptyMessageCounters(), interfaces: [] };
    const now = this.igmp.clock();
    const seconds = (at: number | null): number | null => secondsUntil(at, now);
    return {
      enabled: true,
      counters: this.igmp.counts(),
      interfaces: this.igmp.status().map((s) => ({
        interface: s.interface,
        waiting: s.waiting,
        querier: s.view
          ? {
              address: s.view.querier.address,
              self: s.view.querier.isQuerier,
              otherQuerierExpiresIn: seconds(s.view.querier.otherQuerierExpiresAt),
            }
          : null,
        groups: (s.view?.groups ?? []).map((g) => ({
          group: g.group,
          mode: g.filterMode,
          sources: g.sources.map((src) => ({ source: src.source, expiresIn: seconds(src.expiresAt), forwarded: src.forwarded })),
          compatibilityVersion: g.compatibilityMode,
          lastReporter: g.lastReporter,
          expiresIn: seconds(g.expiresAt),
        })),
      })),
    };
  }

  /** Seconds from the PIM engines' clock to `at` (ms), tenths; null stays null. */
  private pimSeconds(at: number | null): number | null {
    return this.pim ? secondsUntil(at, this.pim.clock()) : null;
  }

  /** `mcrctl pim neighbors`. */
  pimNeighbors(): PimNeighborsResult {
    if (!this.pim) return { enabled: false, neighbors: [] };
    const now = this.pim.clock();
    return {
      enabled: true,
      neighbors: this.pim.status().flatMap((s) =>
        (s.view?.neighbors ?? []).map((n) => ({
          interface: s.interface,
          address: n.address,
          uptime: Math.max(0, Math.round((now - n.upSince) / 1000)),
          expiresIn: this.pimSeconds(n.expiresAt),
          holdtime: n.holdtime,
          drPriority: n.drPriority,
          generationId: n.generationId,
          dr: s.view?.dr === n.address,
          secondaryAddresses: n.secondaryAddresses,
        })),
      ),
    };
  }

  /** `mcrctl pim interfaces`. */
  pimInterfaces(): PimInterfacesResult {
    if (!this.pim) return { enabled: false, counters: emptyMessageCounters(), interfaces: [] };
    return {
      enabled: true,
      counters: this.pim.totals(),
      interfaces: this.pim.status().map((s) => ({
        interface: s.interface,
        waiting: s.waiting,
        address: s.view?.address ?? null,
        dr: s.view?.dr ? { address: s.view.dr, self: s.view.isDr } : null,
        drPriority: s.settings.drPriority,
        helloInterval: s.settings.helloInterval,
        holdtime: s.view?.holdtime ?? helloHoldtimeSeconds(s.settings.helloInterval * 1000),
        generationId: s.view?.generationId ?? null,
        nextHelloIn: this.pimSeconds(s.view?.nextHelloAt ?? null),
        neighbors: s.view?.neighbors.length ?? 0,
        counters: s.counters,
      })),
    };
  }

  /** `mcrctl pim rp`. */
  pimRp(): PimRpResult {
    if (!this.pim) return { enabled: false, rps: [] };
    return {
      enabled: true,
      rps: this.pim.router.rpView().map((r) => ({
        groups: r.groups,
        rp: r.rp,
        self: r.self,
        rpf: r.rpf ? { interface: r.rpf.interface, neighbor: r.rpf.neighbor, local: r.rpf.local } : null,
      })),
    };
  }

  /** `mcrctl pim joins`. */
  pimJoins(): PimJoinsResult {
    if (!this.pim) return { enabled: false, upstream: [], downstream: [], sources: [], asserts: [] };
    const view = this.pim.router.joinsView();
    return {
      enabled: true,
      upstream: view.upstream.map((u) => ({
        route: routeName(u.source ?? undefined, u.group),
        source: u.source,
        group: u.group,
        rp: u.rp,
        state: u.state,
        rpf: u.rpf ? { interface: u.rpf.interface, neighbor: u.rpf.neighbor } : null,
        joinTimerIn: this.pimSeconds(u.joinTimerAt),
        rptPrunes: u.rptPrunes,
      })),
      downstream: view.downstream.map((d) => ({
        route: routeName(d.source ?? undefined, d.group),
        kind: d.kind,
        source: d.source,
        group: d.group,
        interface: d.interface,
        state: d.state,
        expiresIn: this.pimSeconds(d.expiresAt),
        prunePendingIn: this.pimSeconds(d.prunePendingAt),
      })),
      sources: view.sources.map((s) => ({
        route: routeName(s.source, s.group),
        source: s.source,
        group: s.group,
        kind: s.kind,
        keepaliveIn: this.pimSeconds(s.keepaliveAt) ?? 0,
        register: s.register,
        registerTimerIn: this.pimSeconds(s.registerTimerAt),
      })),
      asserts: view.asserts.map((a) => ({
        route: routeName(a.source ?? undefined, a.group),
        source: a.source,
        group: a.group,
        interface: a.interface,
        state: a.state,
        winner: a.winner,
        timerIn: this.pimSeconds(a.timerAt) ?? 0,
      })),
    };
  }

  /** `mcrctl mroute`: every entry of the compiled table, with its packets. */
  mroute(): MrouteResult {
    const compiled = this.parts.registry.compile();
    const counts = this.parts.ruleCounters(compiled.map((c) => c.rule.slot));
    return {
      routes: compiled.map((c, i) => ({
        route: routeName(c.rule.source, c.rule.group),
        ...(c.rule.source ? { source: c.rule.source } : {}),
        group: c.rule.group,
        port: c.rule.port,
        protocol: c.rule.protocol ?? 'udp',
        interface: c.rule.interface,
        outputs: c.rule.outputs.map((o, j) => ({
          interface: o.interface,
          ...(o.routed ? {} : { group: o.group, port: o.port }),
          forwarding: o.routed ? 'routed' : 'republished',
          origin: c.outputOrigins[j] ?? 'static',
        })),
        origins: c.origins,
        packets: counts[i]?.packets ?? 0,
        bytes: counts[i]?.bytes ?? 0,
      })),
    };
  }
}
