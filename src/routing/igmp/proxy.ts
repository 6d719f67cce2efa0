// SPDX-License-Identifier: MIT
// igmpproxy mode, pure: the listeners learned on the downstream interfaces become routes from
// the upstream interface. The joins upstream follow from the routes: the core joins every route's
// group on its input, source-specifically for an (S,G) route (native/core/membership.cc).
import type { LearnedRoute } from '../learned';

/** Who listens to a group on one interface (IGMPv3 filter; a v1/v2 listener is EXCLUDE {}). */
export interface ListenerFilter {
  mode: 'include' | 'exclude';
  sources: readonly string[];
}

/** Interface -> group -> filter, for groups with a listener only. */
export type Memberships = ReadonlyMap<string, ReadonlyMap<string, ListenerFilter>>;

function byGroup(memberships: Memberships): Map<string, Array<{ iface: string; filter: ListenerFilter }>> {
  const groups = new Map<string, Array<{ iface: string; filter: ListenerFilter }>>();
  for (const [iface, perGroup] of [...memberships].sort(([a], [b]) => a.localeCompare(b)))
    for (const [group, filter] of perGroup) {
      const list = groups.get(group) ?? [];
      list.push({ iface, filter });
      groups.set(group, list);
    }
  return new Map([...groups].sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Every group with a listener is routed from `upstream`, any UDP port. An INCLUDE listener gets
 * (S,G) routes for its sources; an EXCLUDE listener the (*,G) route minus its excluded sources
 * (which get (S,G) entries of their own, so the core does not give their packets to it).
 */
export function proxyRoutes(upstream: string, memberships: Memberships): LearnedRoute[] {
  const routes: LearnedRoute[] = [];
  for (const [group, listeners] of byGroup(memberships)) {
    const any: LearnedRoute['outputs'] = [];
    const perSource = new Map<string, LearnedRoute['outputs']>();
    const sourceRoute = (s: string): LearnedRoute['outputs'] => {
      const outputs = perSource.get(s) ?? [];
      perSource.set(s, outputs);
      return outputs;
    };
    for (const { iface, filter } of listeners) {
      if (filter.mode === 'include') {
        for (const s of filter.sources) sourceRoute(s).push({ interface: iface });
      } else {
        any.push(filter.sources.length > 0 ? { interface: iface, excludeSources: [...filter.sources] } : { interface: iface });
        for (const s of filter.sources) sourceRoute(s);
      }
    }
    if (any.length > 0) routes.push({ match: { interface: upstream, group, port: 0 }, outputs: any });
    for (const [source, outputs] of [...perSource].sort(([a], [b]) => a.localeCompare(b)))
      routes.push({ match: { interface: upstream, group, port: 0, source }, outputs });
  }
  return routes;
}
