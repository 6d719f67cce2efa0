// SPDX-License-Identifier: MIT
// The daemon's learned routing: IGMP (querier, listeners, igmpproxy mode) feeding the routing
// table, and the views of both (`mcrctl igmp groups`, `mcrctl mroute`). Static rules stay in the
// RuleRegistry; this adds what the network taught and tells RuleChanges when the table changed.
import type { Config, IgmpConfig } from '../config/types';
import type { IgmpGroupsResult, MrouteResult } from '../control/protocol';
import type { Logger } from '../lib/logger';
import type { RoutingMetrics } from '../telemetry/metrics';
import { IgmpService, type IgmpCounters, type MembershipEvent } from '../routing/igmp/service';
import { proxyRoutes } from '../routing/igmp/proxy';
import { LearnedRoutes, type SlotSource } from '../routing/learned';
import { describeMatch, type RouteEntry } from '../routing/table';
import type { EventSink, RouteEventFields } from './events';
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
}

/** Route changes as counted for telemetry (mcr_route_changes_total{origin}). */
export type RouteChangeCounts = Record<string, number>;

export function routeEvent(type: 'route.add' | 'route.remove', entry: RouteEntry): RouteEventFields & { type: typeof type } {
  const m = entry.match;
  return {
    type,
    route: describeMatch({ ...m, port: 0, protocol: 'udp' }),
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
  private readonly learned: LearnedRoutes;
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
    this.igmpConfig = config.igmp;
    if (!config.igmp) return;
    this.igmp = new IgmpService(config.igmp, this.parts.log.child('igmp'), (changes) => this.membershipChanged(changes));
    this.igmp.start();
  }

  /** A reload: a changed igmp section restarts IGMP (listeners are learned again from the startup queries). */
  reconfigure(next: Config): void {
    if (JSON.stringify(next.igmp) === JSON.stringify(this.igmpConfig)) return;
    this.parts.log.info('igmp settings changed: restarting IGMP');
    this.stop();
    this.start(next);
    this.relearn();
  }

  stop(): void {
    this.igmp?.stop();
    this.igmp = undefined;
  }

  igmpCounters(): IgmpCounters | null {
    return this.igmp?.counts() ?? null;
  }

  /** The routing side's metrics (src/telemetry/metrics.ts). */
  metrics(): RoutingMetrics {
    const igmp = this.igmpCounters();
    return {
      igmpGroups: this.groupCounts(),
      igmpReceived: igmp?.received ?? {},
      igmpSent: igmp?.sent ?? {},
      igmpErrors: igmp?.errors ?? {},
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
  }

  /** Recomputes the learned routes and hands the compiled table to the data plane. */
  private relearn(): void {
    const upstream = this.igmpConfig?.upstream;
    const routes = upstream !== undefined && this.igmp ? proxyRoutes(upstream, this.igmp.listeners()) : [];
    const notes: RouteChangeNote[] = [];
    try {
      const { added, removed } = this.learned.replace('igmp', routes);
      for (const e of removed) notes.push(this.routeChanged('route.remove', e));
      for (const e of added) notes.push(this.routeChanged('route.add', e));
    } catch (err) {
      this.parts.log.error(`igmp: routes not updated: ${(err as Error).message}`);
      return;
    }
    this.parts.changes.routesChanged(notes).catch((err: Error) => this.parts.log.error(`cannot apply the learned routes: ${err.message}`));
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
    if (!this.igmp) return { enabled: false, counters: { received: {}, sent: {}, errors: {}, ignored: {} }, interfaces: [] };
    const now = this.igmp.clock();
    const seconds = (at: number | null): number | null => (at === null ? null : Math.max(0, Math.round((at - now) / 100) / 10));
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

  /** `mcrctl mroute`: every entry of the compiled table, with its packets. */
  mroute(): MrouteResult {
    const compiled = this.parts.registry.compile();
    const counts = this.parts.ruleCounters(compiled.map((c) => c.rule.slot));
    return {
      routes: compiled.map((c, i) => ({
        route: describeMatch({ ...c.rule, port: 0, protocol: 'udp' }),
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
