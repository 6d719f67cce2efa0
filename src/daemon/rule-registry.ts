// SPDX-License-Identifier: MIT
// The supervisor's authoritative rule set: ids, counter slots, and the last status the data
// plane reported. The data plane holds only a copy, so it can be restarted at any time.
import { createHash } from 'node:crypto';
import { ruleMatchKey, type RuleSpec } from '../config/types';
import type { NativeRule, NativeRuleStatus } from '../native/addon';
import { McrError } from '../lib/errors';
import { compileRoutes, type CompiledRoute, type ListenerLookup, type RouteEntry } from '../routing/table';

/**
 * A rule's identity, derived from the input match only (interface, group, port, and source and
 * protocol where given: ruleMatchKey), so a rule keeps its id across reloads, restarts and output
 * edits, and two rules can never share an input match. Rules without source or protocol keep the
 * ids they had before those existed.
 */
export function ruleId(spec: RuleSpec): string {
  return createHash('sha256').update(ruleMatchKey(spec.input)).digest('hex').slice(0, 12);
}

export interface RuleRecord {
  id: string;
  spec: RuleSpec;
  slot: number;
  outputSlots: number[];
  status: NativeRuleStatus | null;
}

/** The counter slot of a record's output i: outputSlots is built one per spec.outputs, in order. */
function outputSlot(r: RuleRecord, i: number): number {
  const slot = r.outputSlots[i];
  if (slot === undefined)
    throw new Error(`rule ${r.id}: output ${i} has no counter slot (${r.outputSlots.length} slots for ${r.spec.outputs.length} outputs)`);
  return slot;
}

/**
 * Counter slots are recycled oldest-freed-first; a recycled slot's counters keep the previous
 * rule's totals, so the stats code subtracts the value seen when the slot was handed out.
 */
export class SlotPool {
  private readonly free: number[] = [];
  private next = 0;

  constructor(
    private readonly size: number,
    private readonly what: string,
  ) {}

  take(): number {
    if (this.next < this.size) return this.next++;
    const slot = this.free.shift();
    if (slot === undefined) throw new McrError('EINVAL', `no free ${this.what} counter slot (at most ${this.size})`);
    return slot;
  }

  give(slot: number): void {
    this.free.push(slot);
  }

  available(): number {
    return this.size - this.next + this.free.length;
  }
}

/** What the routing table adds to the static rules: learned routes, and listeners for gated outputs. */
export interface RouteContext {
  learned(): RouteEntry[];
  hasListener: ListenerLookup;
}

export class RuleRegistry {
  /** Set by the daemon when IGMP runs; without it the data plane gets the static rules only. */
  routes: RouteContext = { learned: () => [], hasListener: () => false };
  private readonly rules = new Map<string, RuleRecord>();
  /** Rule counter slot -> the rule holding it (span records name rules by slot). */
  private readonly slots = new Map<number, RuleRecord>();

  constructor(
    private readonly ruleSlots: SlotPool,
    private readonly outputSlots: SlotPool,
  ) {}

  list(): RuleRecord[] {
    return [...this.rules.values()];
  }

  get size(): number {
    return this.rules.size;
  }

  byId(id: string): RuleRecord | undefined {
    return this.rules.get(id);
  }

  bySlot(slot: number): RuleRecord | undefined {
    return this.slots.get(slot);
  }

  byName(name: string): RuleRecord | undefined {
    return this.list().find((r) => r.spec.name === name);
  }

  /** Creates a record with fresh counter slots; does not insert it. */
  allocate(spec: RuleSpec): RuleRecord {
    if (this.outputSlots.available() < spec.outputs.length || this.ruleSlots.available() < 1)
      throw new McrError('EINVAL', 'counter slots exhausted: remove rules first');
    return {
      id: ruleId(spec),
      spec,
      slot: this.ruleSlots.take(),
      outputSlots: spec.outputs.map(() => this.outputSlots.take()),
      status: null,
    };
  }

  /**
   * The same rule (same id) with an edited spec: it keeps its rule slot and the slots of the
   * outputs that did not change, so its counters continue. Returns the record and the output
   * slots that are new (release them on rollback) and freed (release them on commit).
   */
  reshape(old: RuleRecord, spec: RuleSpec): { record: RuleRecord; added: number[]; freed: number[] } {
    const key = (o: { group: string; port: number; interface: string }): string => `${o.group}:${o.port}:${o.interface}`;
    const oldSlots = new Map(old.spec.outputs.map((o, i) => [key(o), outputSlot(old, i)]));
    const added: number[] = [];
    const outputSlots = spec.outputs.map((o) => {
      const reused = oldSlots.get(key(o));
      if (reused !== undefined) {
        oldSlots.delete(key(o));
        return reused;
      }
      const slot = this.outputSlots.take();
      added.push(slot);
      return slot;
    });
    return { record: { id: old.id, spec, slot: old.slot, outputSlots, status: null }, added, freed: [...oldSlots.values()] };
  }

  releaseOutputSlots(slots: number[]): void {
    for (const s of slots) this.outputSlots.give(s);
  }

  release(record: RuleRecord): void {
    this.ruleSlots.give(record.slot);
    for (const s of record.outputSlots) this.outputSlots.give(s);
  }

  insert(record: RuleRecord): void {
    this.rules.set(record.id, record);
    this.slots.set(record.slot, record);
  }

  delete(id: string): void {
    const record = this.rules.get(id);
    this.rules.delete(id);
    if (record && this.slots.get(record.slot) === record) this.slots.delete(record.slot);
  }

  /** The rule set as the data plane takes it (in registry order, which statuses follow). */
  toNative(records: RuleRecord[] = this.list()): NativeRule[] {
    return records.map((r) => {
      const { source, protocol } = r.spec.input;
      // ESP is forwarded as a router does: the packet keeps its source, group and SPI.
      const esp = protocol === 'esp';
      return {
        interface: r.spec.input.interface,
        group: r.spec.input.group,
        port: esp ? 0 : r.spec.input.port,
        ...(source ? { source } : {}),
        ...(esp ? { protocol } : {}),
        slot: r.slot,
        outputs: r.spec.outputs.map((o, i) => ({
          interface: o.interface,
          group: o.group,
          port: o.port,
          ttl: o.ttl ?? 16,
          ...(o.source ? { source: o.source } : {}),
          slot: outputSlot(r, i),
          ...(esp ? { routed: true } : {}),
        })),
      };
    });
  }

  /**
   * The routing table compiled for the data plane: the static rules first, in registry order (so
   * statuses map back to records by index), with learned routes and gated outputs merged in.
   */
  compile(records: RuleRecord[] = this.list()): CompiledRoute[] {
    const entries: RouteEntry[] = this.toNative(records).map((rule, i) => {
      const spec = records[i]?.spec;
      return {
        match: {
          interface: rule.interface,
          group: rule.group,
          port: rule.port,
          ...(rule.source ? { source: rule.source } : {}),
          ...(rule.protocol ? { protocol: rule.protocol } : {}),
        },
        slot: rule.slot,
        origin: 'static',
        outputs: rule.outputs.map((o, j) => {
          const gated = spec?.outputs[j]?.onlyWithListeners === true;
          return { ...o, origin: 'static', ...(gated ? { onlyWithListeners: true } : {}) };
        }),
      };
    });
    return compileRoutes([...entries, ...this.routes.learned()], this.routes.hasListener);
  }

  /** The rule list the data plane takes: compile()'s rules. */
  forDataPlane(records: RuleRecord[] = this.list()): NativeRule[] {
    return this.compile(records).map((c) => c.rule);
  }

  applyStatuses(statuses: NativeRuleStatus[], records: RuleRecord[] = this.list()): void {
    records.forEach((r, i) => {
      r.status = statuses[i] ?? null;
    });
  }
}
