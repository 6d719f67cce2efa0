// SPDX-License-Identifier: MIT
// The routing table every origin feeds (docs/igmp.md, "One path for every route"): static rules
// and learned routes go in, one compiled rule list for the core comes out. The core looks up one
// entry per packet (the most specific: (S,G,port), (S,G,any), (*,G,port), (*,G,any)), so
// compiling merges into each entry every output of the less specific entries that also want its
// packets, and adds the (S,G,port) intersections an (S,G,any) and a (*,G,port) entry imply.
import type { NativeOutput, NativeRule, PuntReason } from '../native/addon';

/** Who put a route in the table. */
export type RouteOrigin = 'static' | 'igmp' | 'pim';
export type RouteProtocol = 'udp' | 'esp';

/** What a route matches on one input interface. port 0: any UDP port; source absent: any source. */
export interface RouteMatch {
  interface: string;
  group: string;
  port: number;
  source?: string;
  protocol?: RouteProtocol;
}

export interface RouteOutput extends NativeOutput {
  origin: RouteOrigin;
  /** Forward only while `group` has a listener on `interface` (config `onlyWithListeners`). */
  onlyWithListeners?: boolean;
  /** Sources this output does not want (an IGMPv3 EXCLUDE filter): their (S,G) entries leave it out. */
  excludeSources?: readonly string[];
}

/** One origin's route: a static rule, or what IGMP learned. slot: its rule counter slot. */
export interface RouteEntry {
  match: RouteMatch;
  slot: number;
  origin: RouteOrigin;
  outputs: readonly RouteOutput[];
  /** Also copy its packets to mcrd (PIM's data-driven events); group 0.0.0.0: the input's (*,*) entry. */
  punt?: PuntReason;
  /** false: the core does not join the group on the input (PIM's routes: Join/Prune brings the traffic). */
  joinGroup?: false;
}

/** A compiled entry: what the core gets (rule), and where it came from (for mroute and statuses). */
export interface CompiledRoute {
  rule: NativeRule;
  origins: RouteOrigin[];
  outputOrigins: RouteOrigin[];
  /** Index into the entries given to compileRoutes of the entry that owns the match, or -1 for an implied intersection. */
  entry: number;
}

/** Whether `group` has a listener on `interface` (IGMP membership). */
export type ListenerLookup = (iface: string, group: string) => boolean;

export function matchKey(m: RouteMatch): string {
  return `${m.interface}|${m.protocol ?? 'udp'}|${m.source ?? '*'}|${m.group}|${m.port}`;
}

/** The group of an input's (*,*) entry (PIM's watch for new sources, src/routing/pim/router.ts). */
export const ANY_GROUP = '0.0.0.0';

/** "(S,G)" or "(*,G)" with the port when it is not any. */
export function describeMatch(m: RouteMatch): string {
  const port = m.port === 0 ? '' : `:${m.port}`;
  return `(${m.source ?? '*'},${m.group}${port})${m.protocol === 'esp' ? ' esp' : ''}`;
}

/** A route as routers name it: "(S,G)", or "(*,G)" without a source. */
export function routeName(source: string | undefined, group: string): string {
  return `(${source ?? '*'},${group === ANY_GROUP ? '*' : group})`;
}

/** Whether entry `general` wants the packets of match `specific`: same input, protocol and group, and no narrower. */
function covers(general: RouteMatch, specific: RouteMatch): boolean {
  return (
    general.interface === specific.interface &&
    (general.protocol ?? 'udp') === (specific.protocol ?? 'udp') &&
    general.group === specific.group &&
    (general.source === undefined || general.source === specific.source) &&
    (general.port === 0 || general.port === specific.port)
  );
}

function outputKey(o: NativeOutput): string {
  return `${o.interface}|${o.group}|${o.port}|${o.routed ? 'routed' : 'republished'}`;
}

/**
 * Compiles the entries (static rules first, in registry order, so rule statuses map back by
 * index) into the core's rule list. The first entry of each match owns it (its slot counts the
 * packets); later entries with the same match only add outputs. Entries whose merged outputs are
 * empty are kept (they still stop a less specific entry from taking an excluded source's packets).
 */
export function compileRoutes(entries: readonly RouteEntry[], hasListener: ListenerLookup): CompiledRoute[] {
  const owners = new Map<string, number>();
  entries.forEach((e, i) => {
    const key = matchKey(e.match);
    if (!owners.has(key)) owners.set(key, i);
  });
  // (S,G,any) with (*,G,port) on the same input: their packets from S to port need an entry of their own.
  const implied = new Map<string, { match: RouteMatch; slot: number }>();
  for (const withSource of entries) {
    if (withSource.match.source === undefined || withSource.match.port !== 0) continue;
    for (const withPort of entries) {
      const m = withPort.match;
      if (m.source !== undefined || m.port === 0) continue;
      if (m.interface !== withSource.match.interface || m.group !== withSource.match.group) continue;
      if ((m.protocol ?? 'udp') !== (withSource.match.protocol ?? 'udp')) continue;
      const match: RouteMatch = { ...m, source: withSource.match.source };
      const key = matchKey(match);
      if (owners.has(key) || implied.has(key)) continue;
      // Counted in the port entry's slot: a static rule keeps counting the packets it asked for.
      implied.set(key, { match, slot: withPort.slot });
    }
  }

  const compiled: CompiledRoute[] = [];
  const compile = (match: RouteMatch, slot: number, entry: number): void => {
    const outputs: NativeOutput[] = [];
    const outputOrigins: RouteOrigin[] = [];
    const origins = new Set<RouteOrigin>();
    const seen = new Set<string>();
    // Own entries first (same match, in order), then the less specific ones.
    const contributors = entries.filter((e) => matchKey(e.match) === matchKey(match));
    // PIM computes each (S,G)'s outputs whole (inherited_olist: the (*,G)'s less (S,G,rpt) prunes
    // and lost Asserts), so a wider PIM entry adds nothing to a PIM entry; other origins still do.
    const pimOwned = contributors.length > 0 && contributors.every((e) => e.origin === 'pim');
    for (const e of entries)
      if (!contributors.includes(e) && covers(e.match, match) && !(pimOwned && e.origin === 'pim')) contributors.push(e);
    for (const e of contributors) {
      origins.add(e.origin);
      for (const o of e.outputs) {
        if (o.onlyWithListeners && !hasListener(o.interface, o.group)) continue;
        if (match.source !== undefined && o.excludeSources?.includes(match.source)) continue;
        const { origin, onlyWithListeners: _gate, excludeSources: _excluded, ...native } = o;
        // A port-keeping output (port 0) of an any-port entry, merged into an entry for one port:
        // every packet it gets there has that port. The core takes port 0 only on any-port rules.
        if (native.port === 0 && !native.routed && match.port !== 0) native.port = match.port;
        const key = outputKey(native);
        if (seen.has(key)) continue;
        seen.add(key);
        outputs.push(native);
        outputOrigins.push(origin);
      }
    }
    const rule: NativeRule = { interface: match.interface, group: match.group, port: match.port, slot, outputs };
    if (match.source !== undefined) rule.source = match.source;
    // Punting and joining are the owning match's own: a wider entry's outputs merge in, its punt does not.
    const own = contributors.filter((e) => matchKey(e.match) === matchKey(match));
    const punt = own.find((e) => e.punt !== undefined)?.punt;
    if (punt !== undefined) rule.punt = punt;
    if (own.length > 0 && own.every((e) => e.joinGroup === false)) rule.joinGroup = false;
    if (match.protocol !== undefined && match.protocol !== 'udp') rule.protocol = match.protocol;
    compiled.push({ rule, origins: [...origins], outputOrigins, entry });
  };
  entries.forEach((e, i) => {
    if (owners.get(matchKey(e.match)) === i) compile(e.match, e.slot, i);
  });
  for (const { match, slot } of implied.values()) compile(match, slot, -1);
  return compiled;
}
