// SPDX-License-Identifier: MIT
// The supervisor's authoritative rule set: ids, counter slots, and the last status the data
// plane reported. The data plane holds only a copy, so it can be restarted at any time.
import { createHash } from 'node:crypto';
import type { RuleSpec } from '../config/types';
import type { NativeRule, NativeRuleStatus } from '../native/addon';
import { McrError } from '../lib/errors';

/**
 * A rule's identity, derived from the input only, so a rule keeps its id across reloads,
 * restarts and output edits, and two rules can never share an input.
 */
export function ruleId(spec: RuleSpec): string {
  const { interface: iface, group, port } = spec.input;
  return createHash('sha256').update(`${iface}|${group}|${port}`).digest('hex').slice(0, 12);
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

export class RuleRegistry {
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
    return records.map((r) => ({
      interface: r.spec.input.interface,
      group: r.spec.input.group,
      port: r.spec.input.port,
      slot: r.slot,
      outputs: r.spec.outputs.map((o, i) => ({
        interface: o.interface,
        group: o.group,
        port: o.port,
        ttl: o.ttl ?? 16,
        ...(o.source ? { source: o.source } : {}),
        slot: outputSlot(r, i),
      })),
    }));
  }

  applyStatuses(statuses: NativeRuleStatus[], records: RuleRecord[] = this.list()): void {
    records.forEach((r, i) => {
      r.status = statuses[i] ?? null;
    });
  }
}
