// SPDX-License-Identifier: MIT
// The rule-change transactions: add, remove and reload. Each waits for the one before it, sends
// the data plane the whole new rule set in one round trip (it installs all of it or none of it),
// and changes the registry only once the data plane took the set. A refused or failed change
// leaves the registry as it was and gives back the counter slots it took.
import type { Config, RuleSpec } from '../config/types';
import { ProtocolError, type ReloadResult, type RuleSelector } from '../control/protocol';
import type { Logger } from '../lib/logger';
import type { SpanEventAdder } from '../telemetry/traces';
import type { DataPlane } from './dataplane-process';
import { ruleId, type RuleRecord, type RuleRegistry } from './rule-registry';
import type { CounterSource } from './stats';

/** Config keys the data plane is built with: changing one restarts it. */
export const DATAPLANE_KEYS = ['workers', 'cpus', 'ringMiB', 'realtimePriority', 'busyPoll', 'egress', 'xdp', 'wakeupHoldoffUs'] as const;
export type DataPlaneKey = (typeof DATAPLANE_KEYS)[number];

/** What a reload needs from the daemon, which owns the config. */
export interface ConfigHost {
  /** The config in force. */
  readonly config: Config;
  /** Reads and checks the config file; throws (a ConfigError names the key path) and changes nothing. */
  loadConfig(): Config;
  /** Puts a reloaded config in force: its log level, and a data-plane restart when restartFor is not empty. */
  commitConfig(next: Config, restartFor: DataPlaneKey[]): Promise<void>;
}

/** The parts a rule change touches (the real ones in Daemon, fakes in tests/unit/rule-changes.test.ts). */
export interface RuleChangeParts {
  registry: RuleRegistry;
  dataPlane: Pick<DataPlane, 'state' | 'setRules'>;
  counters: Pick<CounterSource, 'markBase'>;
  host: ConfigHost;
  log: Logger;
  /**
   * Told what each committed change did (the registry holds the result): the daemon turns it
   * into route events and looks at the interface statuses. `changed`: same input, new outputs.
   */
  committed?: (change: CommittedChange) => void;
  /** Runs a change inside a control-plane span (telemetry's controlSpan); absent: just runs it. */
  span?: <T>(name: string, attributes: Record<string, string | number>, fn: (addEvent: SpanEventAdder) => Promise<T>) => Promise<T>;
}

export interface CommittedChange {
  added: RuleRecord[];
  changed: RuleRecord[];
  removed: RuleRecord[];
}

/** A learned route that came or went, for the span of the table change that carries it. */
export interface RouteChangeNote {
  type: 'route.add' | 'route.remove';
  /** "(S,G) on IF" */
  route: string;
  origin: string;
}

export class RuleChanges {
  private queue: Promise<unknown> = Promise.resolve();
  private routesPending: Promise<void> | undefined;
  private readonly routeNotes: RouteChangeNote[] = [];

  constructor(private readonly parts: RuleChangeParts) {}

  /** The config file's rules at start-up, before the first data plane (which starts with them). */
  seed(specs: RuleSpec[]): void {
    for (const spec of specs) this.parts.registry.insert(this.allocate(spec));
  }

  /** A validated rule; refused with EEXIST (same input or name) or EDATAPLANE (the core's reason). */
  add(spec: RuleSpec): Promise<RuleRecord> {
    return this.serial(
      'mcr.control.add',
      { 'mcr.rule.id': ruleId(spec), ...(spec.name ? { 'mcr.rule.name': spec.name } : {}) },
      async () => {
        const { registry, dataPlane, log } = this.parts;
        const id = ruleId(spec);
        const clash = registry.byId(id);
        if (clash)
          throw new ProtocolError(
            'EEXIST',
            `a rule for ${spec.input.interface} ${spec.input.group}:${spec.input.port} exists already (id ${id}${clash.spec.name ? `, name ${clash.spec.name}` : ''})`,
          );
        if (spec.name && registry.byName(spec.name)) throw new ProtocolError('EEXIST', `a rule named "${spec.name}" exists already`);
        const record = this.allocate(spec);
        const next = [...registry.list(), record];
        if (dataPlane.state === 'running') {
          try {
            const result = await dataPlane.setRules(registry.forDataPlane(next));
            if (!result.applied) {
              // Refused as a whole in the data plane: the running rules never stopped forwarding.
              const mine = result.statuses[next.length - 1]; // learned routes follow the static rules
              throw new ProtocolError(
                'EDATAPLANE',
                `rule rejected: ${mine?.error ?? result.statuses.find((s) => s.error)?.error ?? 'refused'}`,
              );
            }
            registry.applyStatuses(result.statuses, next);
          } catch (err) {
            registry.release(record);
            throw err;
          }
        }
        registry.insert(record);
        this.parts.committed?.({ added: [record], changed: [], removed: [] });
        log.info('rule added', {
          id: record.id,
          name: spec.name,
          input: `${spec.input.interface} ${spec.input.group}:${spec.input.port}`,
          outputs: spec.outputs.length,
        });
        return record;
      },
    );
  }

  /** Returns the removed rule; ENOENT when there is none. */
  remove(which: RuleSelector): Promise<RuleRecord> {
    const selector: Record<string, string> = 'id' in which ? { 'mcr.rule.id': which.id } : { 'mcr.rule.name': which.name };
    return this.serial('mcr.control.remove', selector, async () => {
      const { registry, dataPlane, log } = this.parts;
      const record = 'id' in which ? registry.byId(which.id) : registry.byName(which.name);
      if (!record) throw new ProtocolError('ENOENT', 'id' in which ? `no rule with id "${which.id}"` : `no rule named "${which.name}"`);
      const next = registry.list().filter((r) => r !== record);
      if (dataPlane.state === 'running') {
        // Removing closes things; it cannot fail to install anything, but say so if it did.
        const result = await dataPlane.setRules(registry.forDataPlane(next));
        if (!result.applied)
          throw new ProtocolError('EDATAPLANE', `remove refused: ${result.statuses.find((s) => s.error)?.error ?? 'refused'}`);
        registry.applyStatuses(result.statuses, next);
      }
      registry.delete(record.id);
      registry.release(record);
      this.parts.committed?.({ added: [], changed: [], removed: [record] });
      log.info('rule removed', { id: record.id, name: record.spec.name });
      return record;
    });
  }

  /** SIGHUP and `config reload`: an invalid file, or a set the data plane refuses, changes nothing. */
  reload(): Promise<ReloadResult> {
    return this.serial('mcr.control.reload', {}, async () => {
      const { registry, dataPlane, host, log } = this.parts;
      const next = host.loadConfig();
      const oldRecords = registry.list();
      const oldById = new Map(oldRecords.map((r) => [r.id, r]));
      const nextRecords: RuleRecord[] = [];
      const created: RuleRecord[] = [];
      const changed: RuleRecord[] = [];
      const newOutputSlots: number[] = [];
      const freedOutputSlots: number[] = [];
      const restartFor = DATAPLANE_KEYS.filter((k) => JSON.stringify(next[k]) !== JSON.stringify(host.config[k]));
      try {
        for (const spec of next.rules) {
          const old = oldById.get(ruleId(spec));
          if (old && JSON.stringify(old.spec) === JSON.stringify(spec)) {
            nextRecords.push(old);
          } else if (old) {
            // Same input, edited name or outputs: the rule keeps its counters.
            const { record, added, freed } = registry.reshape(old, spec);
            newOutputSlots.push(...added);
            freedOutputSlots.push(...freed);
            this.parts.counters.markBase(record, added);
            changed.push(record);
            nextRecords.push(record);
          } else {
            const record = this.allocate(spec);
            created.push(record);
            nextRecords.push(record);
          }
        }
        if (restartFor.length === 0 && dataPlane.state === 'running') {
          // All or nothing in the data plane: a refused reload changes nothing there, so there
          // is nothing to undo; only the slots allocated for it go back.
          const result = await dataPlane.setRules(registry.forDataPlane(nextRecords));
          if (!result.applied) {
            const failed = result.statuses
              .map((s, i) => (s.error ? `${nextRecords[i]?.spec.name ?? nextRecords[i]?.id ?? 'learned route'}: ${s.error}` : ''))
              .filter(Boolean);
            throw new ProtocolError('EDATAPLANE', `reload refused, running rules unchanged: ${failed.join('; ')}`);
          }
          registry.applyStatuses(result.statuses, nextRecords);
        }
      } catch (err) {
        for (const r of created) registry.release(r);
        registry.releaseOutputSlots(newOutputSlots);
        throw err;
      }
      const nextIds = new Set(nextRecords.map((r) => r.id));
      const removed = oldRecords.filter((r) => !nextIds.has(r.id));
      for (const r of removed) registry.release(r);
      registry.releaseOutputSlots(freedOutputSlots);
      for (const r of oldRecords) registry.delete(r.id);
      for (const r of nextRecords) registry.insert(r);
      this.parts.committed?.({ added: created, changed, removed });
      await host.commitConfig(next, restartFor);
      const counts = { rules: nextRecords.length, added: created.length, changed: changed.length, removed: removed.length };
      // commitConfig has logged the restart itself.
      log.info('configuration reloaded', counts);
      return { ...counts, dataPlaneRestartedFor: restartFor };
    });
  }

  /**
   * After a data plane's start: the rules changed while it was starting (already accepted into
   * the registry) go in. Not a change a client waits on: whatever installs forwards, refusals
   * are reported in the statuses.
   */
  catchUp(): Promise<void> {
    return this.serial(undefined, {}, async () => {
      const { registry, dataPlane } = this.parts;
      registry.applyStatuses((await dataPlane.setRules(registry.forDataPlane(), false)).statuses);
      this.parts.committed?.({ added: [], changed: [], removed: [] });
    });
  }

  /**
   * Learned routes or listeners changed: the compiled table goes in, as after a start (whatever
   * installs forwards). Coalesced: a run that has not started yet covers every change before it.
   */
  routesChanged(changes: RouteChangeNote[] = []): Promise<void> {
    this.routeNotes.push(...changes);
    if (this.routesPending) return this.routesPending;
    const run = this.serial('mcr.control.routes', {}, async (addEvent) => {
      this.routesPending = undefined;
      // The route changes this table carries, as span events of its control-plane span.
      for (const note of this.routeNotes.splice(0)) addEvent(note.type, { 'mcr.route': note.route, 'mcr.route.origin': note.origin });
      const { registry, dataPlane } = this.parts;
      if (dataPlane.state !== 'running') return; // a starting data plane gets the table it is started with
      registry.applyStatuses((await dataPlane.setRules(registry.forDataPlane(), false)).statuses);
    });
    this.routesPending = run;
    return run;
  }

  private allocate(spec: RuleSpec): RuleRecord {
    const record = this.parts.registry.allocate(spec);
    this.parts.counters.markBase(record);
    return record;
  }

  /** One change at a time, in arrival order; `span` names the change's control-plane span. */
  private serial<T>(
    span: string | undefined,
    attributes: Record<string, string | number>,
    body: (addEvent: SpanEventAdder) => Promise<T>,
  ): Promise<T> {
    const traced = this.parts.span;
    const fn = span && traced ? () => traced(span, attributes, body) : () => body(() => {});
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
