// SPDX-License-Identifier: MIT
// Routes an origin learned (IGMP today; PIM and MSDP next), with counter slots that stay with a
// route while it exists, so `mcrctl mroute` counts a route from when it appeared.
import type { PuntReason } from '../native/addon';
import type { RouteEntry, RouteMatch, RouteOrigin, RouteOutput } from './table';
import { matchKey } from './table';

/** One learned route: the match and the interfaces it forwards to (as a router: source kept, TTL - 1). */
export interface LearnedRoute {
  match: RouteMatch;
  outputs: Array<{ interface: string; excludeSources?: string[] }>;
  punt?: PuntReason;
  joinGroup?: false;
}

/** Counter slots (the registry's SlotPools). */
export interface SlotSource {
  take(): number;
  give(slot: number): void;
}

export interface LearnedChanges {
  added: RouteEntry[];
  removed: RouteEntry[];
}

export class LearnedRoutes {
  private readonly byOrigin = new Map<RouteOrigin, Map<string, RouteEntry>>();

  constructor(
    private readonly ruleSlots: SlotSource,
    private readonly outputSlots: SlotSource,
    /** Called for slots handed out, so their counters start at zero (StatsReader.markBase). */
    private readonly markBase: (ruleSlot: number | null, outputSlots: number[]) => void = () => {},
  ) {}

  entries(): RouteEntry[] {
    return [...this.byOrigin.values()].flatMap((m) => [...m.values()]);
  }

  /**
   * Replaces what `origin` proposes. A route that stays keeps its slots (an output that stays
   * keeps its own); the rest are given back. Throws when slots run out, changing nothing.
   */
  replace(origin: RouteOrigin, routes: readonly LearnedRoute[]): LearnedChanges {
    const old = this.byOrigin.get(origin) ?? new Map<string, RouteEntry>();
    const next = new Map<string, RouteEntry>();
    const taken: { rule: number[]; output: number[] } = { rule: [], output: [] };
    const added: RouteEntry[] = [];
    try {
      for (const route of routes) {
        const key = matchKey(route.match);
        if (next.has(key)) continue;
        const before = old.get(key);
        const oldOutputs = new Map(before?.outputs.map((o) => [o.interface, o.slot]) ?? []);
        let slot = before?.slot;
        const fresh: number[] = [];
        if (slot === undefined) {
          slot = this.ruleSlots.take();
          taken.rule.push(slot);
        }
        const outputs: RouteOutput[] = route.outputs.map((o) => {
          let outSlot = oldOutputs.get(o.interface);
          if (outSlot === undefined) {
            outSlot = this.outputSlots.take();
            taken.output.push(outSlot);
            fresh.push(outSlot);
          }
          const out: RouteOutput = {
            interface: o.interface,
            group: route.match.group,
            port: route.match.port,
            ttl: 'decrement',
            routed: true,
            slot: outSlot,
            origin,
          };
          if (o.excludeSources && o.excludeSources.length > 0) out.excludeSources = [...o.excludeSources];
          return out;
        });
        const entry: RouteEntry = { match: route.match, slot, origin, outputs };
        if (route.punt !== undefined) entry.punt = route.punt;
        if (route.joinGroup === false) entry.joinGroup = false;
        next.set(key, entry);
        if (!before) {
          added.push(entry);
          this.markBase(slot, fresh);
        } else if (fresh.length > 0) this.markBase(null, fresh);
      }
    } catch (err) {
      for (const s of taken.rule) this.ruleSlots.give(s);
      for (const s of taken.output) this.outputSlots.give(s);
      throw err;
    }
    const removed: RouteEntry[] = [];
    for (const [key, entry] of old) {
      const kept = next.get(key);
      const keptOutputs = new Set(kept?.outputs.map((o) => o.slot) ?? []);
      if (!kept) {
        removed.push(entry);
        this.ruleSlots.give(entry.slot);
      }
      for (const o of entry.outputs) if (!keptOutputs.has(o.slot)) this.outputSlots.give(o.slot);
    }
    if (next.size > 0) this.byOrigin.set(origin, next);
    else this.byOrigin.delete(origin);
    return { added, removed };
  }
}
