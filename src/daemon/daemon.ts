// SPDX-License-Identifier: MIT
// mcrd's supervisor: owns the config, the rule registry, the counter file, the control socket
// and the data-plane process. Rule changes are serialised; each one is applied to the data
// plane as a whole new table and rolled back if the core refuses it.
import * as os from 'node:os';
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import { ConfigError, loadConfigFile, ruleId, validateRuleSpec } from '../config/validate';
import { packageVersion } from '../lib/version';
import { LOG_LEVELS, type Config, type LogFormat, type LogLevel, type RuleSpec } from '../config/types';
import type { GroupEntry } from '../lib/groups';
import type { Logger } from '../lib/logger';
import { loadAddon, type NativeRule, type NativeRuleStatus, type RuleSetResult } from '../native/addon';
import { ControlServer, ProtocolError, type Handler } from './control-server';
import { DataPlaneProcess } from './dataplane-process';
import { RuleRegistry, SlotPool, type RuleRecord } from './rule-registry';
import { finalLines, StatsReader, type Counters, type Stats } from './stats';

export const PROTOCOL_VERSION = 1;

export interface DaemonOptions {
  configPath?: string;
  controlSocket: string;
  /** --control-socket-group: the socket's group (mode 0660); default mcrd's own group. */
  controlSocketGroup?: GroupEntry;
  countersPath?: string;
  /** Command-line overrides of the config file. */
  workers?: number;
  logLevel?: LogLevel;
  logFormat?: LogFormat;
}

const WATCH_INTERVAL_MS = 1_000;
const WARN_EVERY_MS = 10_000;

/** Config keys the data plane is built with: changing one restarts it. */
const DATAPLANE_KEYS = ['workers', 'cpus', 'ringMiB', 'realtimePriority', 'spanSampleEvery', 'busyPoll'] as const;

export class Daemon {
  private config: Config;
  private readonly registry: RuleRegistry;
  private readonly stats: StatsReader;
  private readonly dataPlane: DataPlaneProcess;
  private readonly server: ControlServer;
  private readonly countersPath: string;
  private readonly startedAt = Date.now();
  private queue: Promise<unknown> = Promise.resolve();
  private watchTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  private started = false;
  /** The rule set the data plane was last started with (JSON), to catch changes made meanwhile. */
  private startRules = '';

  constructor(private readonly options: DaemonOptions, private readonly log: Logger, config: Config) {
    this.config = this.withOverrides(config);
    const addon = loadAddon();
    this.countersPath = options.countersPath ?? `/dev/shm/mcrd-${process.pid}.counters`;
    this.removeStaleCounterFiles(addon);
    this.stats = new StatsReader(addon, this.countersPath);
    this.registry = new RuleRegistry(new SlotPool(addon.Counters.maxRuleSlots, 'rule'), new SlotPool(addon.Counters.maxOutputSlots, 'output'));
    this.dataPlane = new DataPlaneProcess(log.child('supervisor'), () => ({
      type: 'init',
      workers: this.config.workers,
      ...(this.config.cpus ? { cpus: this.config.cpus } : {}),
      ringBytes: this.config.ringMiB << 20,
      realtimePriority: this.config.realtimePriority,
      spanSampleEvery: this.config.spanSampleEvery,
      busyPoll: this.config.busyPoll,
      countersPath: this.countersPath,
      logLevel: this.log.level,
      logFormat: this.config.logFormat,
      rules: this.rulesSentAtStart(),
    }));
    this.dataPlane.on('ready', (statuses: NativeRuleStatus[]) => {
      this.registry.applyStatuses(statuses);
      this.stats.noteWorkers(this.config.workers);
      if (this.config.realtimePriority > 0 && this.dataPlane.workers.some((w) => !w.realtime))
        this.log.warn(`realtimePriority ${this.config.realtimePriority}: the kernel refused SCHED_FIFO for the workers (needs CAP_SYS_NICE); they run with normal scheduling`);
      for (const w of this.dataPlane.workers.filter((w) => this.config.cpus && !w.pinned))
        this.log.warn(`cpus[${w.worker}]: the kernel refused to pin worker ${w.worker} to CPU ${this.config.cpus?.[w.worker]} (outside this process's cpuset?); it runs unpinned`);
      if (this.dataPlane.restarts > 0) this.log.info(`data plane restarted; ${this.registry.size} rules restored`, { pid: this.dataPlane.pid });
      // Rules changed while it was starting (accepted into the registry) go in now.
      if (JSON.stringify(this.registry.toNative()) !== this.startRules)
        // Catching up, not a change a client waits on: whatever installs forwards, refusals are reported.
        void this.serial(async () => this.registry.applyStatuses((await this.dataPlane.setRules(this.registry.toNative(), false)).statuses))
          .then(() => this.logRuleProblems())
          .catch((err: Error) => this.log.error(`cannot apply the rules changed during start-up: ${err.message}`));
      else this.logRuleProblems();
    });
    this.dataPlane.on('status', (statuses: NativeRuleStatus[]) => {
      this.registry.applyStatuses(statuses);
      this.log.info('interface change picked up', { rulesUp: statuses.filter((s) => s.input === 'up').length });
      this.logRuleProblems();
    });
    this.server = new ControlServer(options.controlSocket, this.handlers(), log.child('control'), options.controlSocketGroup);
  }

  /**
   * A daemon killed with SIGKILL leaves its counter file (14 MB of tmpfs) behind; each start
   * removes those of dead daemons. A live daemon's file is locked and always kept.
   */
  private removeStaleCounterFiles(addon: ReturnType<typeof loadAddon>): void {
    const dir = path.dirname(this.countersPath);
    try {
      for (const stale of addon.removeStaleCounterFiles(dir)) this.log.info(`removed ${stale}, left by a daemon that is no longer running`);
    } catch (err) {
      this.log.warn(`cannot look for stale counter files in ${dir}: ${(err as Error).message}`);
    }
  }

  async start(): Promise<void> {
    this.checkMachine(this.config);
    this.keepOffWorkerCpus();
    for (const spec of this.config.rules) this.insertNew(spec);
    await this.server.listen();
    await this.dataPlane.start();
    this.started = true;
    this.log.info(`mcrd ${packageVersion()} running`, {
      rules: this.registry.size,
      workers: this.config.workers,
      socket: this.options.controlSocket,
      dataplane: this.dataPlane.pid,
    });
    this.startWatch();
  }

  /** Graceful stop: FINAL lines to stdout, socket and counter file removed. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.watchTimer);
      await this.dataPlane.stop();
      // A daemon that never forwarded has no FINAL figures to report.
      if (this.started) for (const line of finalLines(this.readStats())) process.stdout.write(line + '\n');
      await this.server.close();
      this.stats.close();
      await fs.rm(this.countersPath, { force: true });
    })();
    return this.stopping;
  }

  /** SIGHUP and `config reload`: an invalid file changes nothing. */
  reload(): Promise<{ rules: number; added: number; changed: number; removed: number }> {
    return this.serial(async () => {
      if (!this.options.configPath) throw new ProtocolError('EINVAL', 'mcrd was started without --config: nothing to reload');
      const next = this.withOverrides(loadConfigFile(this.options.configPath));
      this.checkMachine(next);
      const oldRecords = this.registry.list();
      const oldById = new Map(oldRecords.map((r) => [r.id, r]));
      const nextRecords: RuleRecord[] = [];
      const created: RuleRecord[] = [];
      const changed: RuleRecord[] = [];
      const newOutputSlots: number[] = [];
      const freedOutputSlots: number[] = [];
      for (const spec of next.rules) {
        const old = oldById.get(ruleId(spec));
        if (old && JSON.stringify(old.spec) === JSON.stringify(spec)) {
          nextRecords.push(old);
        } else if (old) {
          // Same input, edited name or outputs: the rule keeps its counters.
          const { record, added, freed } = this.registry.reshape(old, spec);
          this.stats.markBase(record, added);
          newOutputSlots.push(...added);
          freedOutputSlots.push(...freed);
          changed.push(record);
          nextRecords.push(record);
        } else {
          const record = this.allocate(spec);
          created.push(record);
          nextRecords.push(record);
        }
      }
      const nextIds = new Set(nextRecords.map((r) => r.id));
      const removed = oldRecords.filter((r) => !nextIds.has(r.id));
      const restartFor = DATAPLANE_KEYS.filter((k) => JSON.stringify(next[k]) !== JSON.stringify(this.config[k]));
      const restartNeeded = restartFor.length > 0;
      if (!restartNeeded && this.dataPlane.state === 'running') {
        // All or nothing in the data plane: a refused reload changes nothing there, so there is
        // nothing to undo; only the slots allocated for it go back.
        const result = await this.dataPlane.setRules(this.registry.toNative(nextRecords));
        if (!result.applied) {
          const failed = result.statuses.map((s, i) => (s.error ? `${nextRecords[i]?.spec.name ?? nextRecords[i]?.id}: ${s.error}` : '')).filter(Boolean);
          for (const r of created) this.registry.release(r);
          this.registry.releaseOutputSlots(newOutputSlots);
          throw new ProtocolError('EDATAPLANE', `reload refused, running rules unchanged: ${failed.join('; ')}`);
        }
        this.registry.applyStatuses(result.statuses, nextRecords);
      }
      for (const r of removed) {
        this.registry.delete(r.id);
        this.registry.release(r);
      }
      this.registry.releaseOutputSlots(freedOutputSlots);
      for (const r of oldRecords) this.registry.delete(r.id);
      for (const r of nextRecords) this.registry.insert(r);
      this.log.setLevel(next.logLevel);
      this.dataPlane.setLogLevel(this.log.level);
      this.config = next;
      if (restartNeeded) {
        this.log.info(`${restartFor.join(', ')} changed: restarting the data plane`);
        await this.dataPlane.stop();
        this.keepOffWorkerCpus();
        await this.dataPlane.start();
      }
      this.log.info('configuration reloaded', { rules: nextRecords.length, added: created.length, changed: changed.length, removed: removed.length });
      return { rules: nextRecords.length, added: created.length, changed: changed.length, removed: removed.length };
    });
  }

  private rulesSentAtStart(): NativeRule[] {
    const rules = this.registry.toNative();
    this.startRules = JSON.stringify(rules);
    return rules;
  }

  /** The supervisor's threads (and so the data plane's, forked from it) stay off the worker CPUs. */
  private keepOffWorkerCpus(): void {
    try {
      const moved = loadAddon().confineThreads(this.config.cpus ?? [], []);
      if (this.config.cpus && moved === 0)
        this.log.warn(`cpus ${JSON.stringify(this.config.cpus)}: every CPU mcrd may use is a worker CPU, so its control threads share them`);
    } catch (err) {
      this.log.warn(`cannot keep mcrd's control threads off the worker CPUs: ${(err as Error).message}`);
    }
  }

  /**
   * What the config file cannot know: whether the CPUs it names exist on this machine, and
   * whether they still fit a --workers given on the command line.
   */
  private checkMachine(config: Config): void {
    if (config.cpus && config.cpus.length !== config.workers) {
      const listed = `${config.cpus.length} CPU${config.cpus.length === 1 ? '' : 's'}`;
      throw new ConfigError(
        [`cpus: lists ${listed} but mcrd --workers asks for ${config.workers} workers (one CPU per worker): change cpus or drop --workers`],
        this.options.configPath,
      );
    }
    // Every CPU the machine has online, not just this process's affinity: an mcrd started
    // under `taskset` may still pin its workers elsewhere (the worker reports if it cannot).
    const cpuCount = os.cpus().length;
    const problems = (config.cpus ?? [])
      .map((cpu, i) => (cpu >= cpuCount ? `cpus[${i}]: CPU ${cpu} does not exist on this machine (CPUs 0 to ${cpuCount - 1})` : ''))
      .filter(Boolean);
    if (problems.length > 0) throw new ConfigError(problems, this.options.configPath);
  }

  private withOverrides(config: Config): Config {
    const merged = { ...config };
    if (this.options.logLevel) merged.logLevel = this.options.logLevel;
    if (this.options.logFormat) merged.logFormat = this.options.logFormat;
    // A cpus list that no longer fits is refused by checkMachine, not dropped: unpinned workers
    // would be a silent change (and with busyPoll, spinning on shared CPUs).
    if (this.options.workers !== undefined) merged.workers = this.options.workers;
    return merged;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private allocate(spec: RuleSpec): RuleRecord {
    const record = this.registry.allocate(spec);
    this.stats.markBase(record);
    return record;
  }

  private insertNew(spec: RuleSpec): void {
    this.registry.insert(this.allocate(spec));
  }

  private readStats(): Stats {
    // Every worker that has run is listed, so the rows add up to the totals after `workers` shrank.
    return this.stats.read(this.registry.list(), Number.MAX_SAFE_INTEGER, (Date.now() - this.startedAt) / 1000);
  }

  private logRuleProblems(): void {
    for (const r of this.registry.list()) {
      const label = r.spec.name ?? r.id;
      if (r.status?.error) this.log.error(`rule ${label} is not forwarding: ${r.status.error}`);
      else if (r.status?.input !== 'up') this.log.warn(`rule ${label}: input interface ${r.spec.input.interface} does not exist yet; waiting for it`);
      r.status?.outputs.forEach((s, i) => {
        if (s !== 'up') this.log.warn(`rule ${label}: output interface ${r.spec.outputs[i]?.interface} does not exist yet; waiting for it`);
      });
    }
  }

  /** The slow path that turns counter deltas into rate-limited log lines. */
  private startWatch(): void {
    let previous: Counters | undefined;
    let pending: Record<string, number> = {};
    let lastWarn = 0;
    this.watchTimer = setInterval(() => {
      const now = this.readStats().totals;
      if (previous) {
        const delta = (pick: (c: Counters) => number): number => pick(now) - pick(previous as Counters);
        const events: Record<string, number> = {
          'receive ring full (kernel dropped)': delta((c) => c.ringDrops),
          'send buffer full (dropped)': delta((c) => c.txErrorsByErrno.EAGAIN ?? 0) + delta((c) => c.txErrorsByErrno.ENOBUFS ?? 0),
          'send errors (other)': delta((c) => c.txErrors) - delta((c) => (c.txErrorsByErrno.EAGAIN ?? 0) + (c.txErrorsByErrno.ENOBUFS ?? 0)),
          'malformed or unsupported frames dropped': delta((c) => c.filtered),
        };
        for (const [what, n] of Object.entries(events)) if (n > 0) pending[what] = (pending[what] ?? 0) + n;
        if (Object.keys(pending).length > 0 && Date.now() - lastWarn >= WARN_EVERY_MS) {
          const seconds = lastWarn === 0 ? WATCH_INTERVAL_MS / 1000 : Math.round((Date.now() - lastWarn) / 1000);
          for (const [what, n] of Object.entries(pending)) this.log.warn(`${what}: ${n} packets in the last ${seconds} s`);
          pending = {};
          lastWarn = Date.now();
        }
      }
      previous = now;
    }, WATCH_INTERVAL_MS);
    this.watchTimer.unref();
  }

  private describe(r: RuleRecord): object {
    return {
      id: r.id,
      ...(r.spec.name ? { name: r.spec.name } : {}),
      input: r.spec.input,
      outputs: r.spec.outputs,
      status: r.status
        ? { input: r.status.input, outputs: r.status.outputs, ...(r.status.error ? { error: r.status.error } : {}) }
        : { input: 'pending', outputs: r.spec.outputs.map(() => 'pending') },
    };
  }

  private find(params: Record<string, unknown>): RuleRecord {
    const { id, name } = params;
    if ((id === undefined) === (name === undefined)) throw new ProtocolError('EINVAL', 'give exactly one of "id" or "name"');
    if (id !== undefined && typeof id !== 'string') throw new ProtocolError('EINVAL', 'id: expected a string');
    if (name !== undefined && typeof name !== 'string') throw new ProtocolError('EINVAL', 'name: expected a string');
    const record = id !== undefined ? this.registry.byId(id) : this.registry.byName(name as string);
    if (!record) throw new ProtocolError('ENOENT', id !== undefined ? `no rule with id "${id}"` : `no rule named "${name}"`);
    return record;
  }

  private add(params: Record<string, unknown>): Promise<object> {
    return this.serial(async () => {
      const spec = validateRuleSpec(params, 'rule', this.config.ttl);
      const id = ruleId(spec);
      const clash = this.registry.byId(id);
      if (clash)
        throw new ProtocolError('EEXIST', `a rule for ${spec.input.interface} ${spec.input.group}:${spec.input.port} exists already (id ${id}${clash.spec.name ? `, name ${clash.spec.name}` : ''})`);
      if (spec.name && this.registry.byName(spec.name)) throw new ProtocolError('EEXIST', `a rule named "${spec.name}" exists already`);
      const record = this.allocate(spec);
      const next = [...this.registry.list(), record];
      if (this.dataPlane.state === 'running') {
        let result: RuleSetResult;
        try {
          result = await this.dataPlane.setRules(this.registry.toNative(next));
        } catch (err) {
          this.registry.release(record);
          throw err;
        }
        if (!result.applied) {
          // Refused as a whole in the data plane: the running rules never stopped forwarding.
          this.registry.release(record);
          const mine = result.statuses[result.statuses.length - 1];
          throw new ProtocolError('EDATAPLANE', `rule rejected: ${mine?.error ?? result.statuses.find((s) => s.error)?.error ?? 'refused'}`);
        }
        this.registry.applyStatuses(result.statuses, next);
      }
      this.registry.insert(record);
      this.log.info('rule added', { id: record.id, name: spec.name, input: `${spec.input.interface} ${spec.input.group}:${spec.input.port}`, outputs: spec.outputs.length });
      return { rule: this.describe(record) };
    });
  }

  private remove(params: Record<string, unknown>): Promise<object> {
    return this.serial(async () => {
      const record = this.find(params);
      const next = this.registry.list().filter((r) => r !== record);
      if (this.dataPlane.state === 'running') {
        // Removing closes things; it cannot fail to install anything, but say so if it did.
        const result = await this.dataPlane.setRules(this.registry.toNative(next));
        if (!result.applied) throw new ProtocolError('EDATAPLANE', `remove refused: ${result.statuses.find((s) => s.error)?.error ?? 'refused'}`);
        this.registry.applyStatuses(result.statuses, next);
      }
      this.registry.delete(record.id);
      this.registry.release(record);
      this.log.info('rule removed', { id: record.id, name: record.spec.name });
      return { removed: this.describe(record) };
    });
  }

  private handlers(): Record<string, Handler> {
    return {
      ping: () => ({ pong: true, dataplane: this.dataPlane.state, uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000) }),
      version: () => ({ version: packageVersion(), protocol: PROTOCOL_VERSION }),
      list: () => ({ rules: this.registry.list().map((r) => this.describe(r)) }),
      add: (p) => this.add(p),
      remove: (p) => this.remove(p),
      stats: () => this.readStats(),
      workers: () => {
        const stats = this.readStats();
        return {
          dataplane: {
            pid: this.dataPlane.pid ?? null,
            state: this.dataPlane.state,
            restarts: this.dataPlane.restarts,
            startedAt: this.dataPlane.startedAt?.toISOString() ?? null,
          },
          workers: stats.workers.map((w) => ({
            worker: w.worker,
            // The CPU it actually runs on: null when not pinned or when the kernel refused.
            cpu: this.dataPlane.workers[w.worker]?.pinned ? this.dataPlane.workers[w.worker]?.cpu : null,
            tid: this.dataPlane.workers[w.worker]?.tid ?? null,
            realtime: this.dataPlane.workers[w.worker]?.realtime ?? false,
            rxFrames: w.rxFrames,
            txPackets: w.txPackets,
            ringDrops: w.ringDrops,
          })),
        };
      },
      'logLevel.get': () => ({ level: this.log.level }),
      'logLevel.set': (p) => {
        const level = p.level;
        if (typeof level !== 'string' || !(LOG_LEVELS as readonly string[]).includes(level))
          throw new ProtocolError('EINVAL', `level: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
        this.log.setLevel(level as LogLevel);
        this.dataPlane.setLogLevel(level as LogLevel);
        return { level };
      },
      'config.show': () => ({
        path: this.options.configPath ?? null,
        config: { ...this.config, logLevel: this.log.level, rules: this.registry.list().map((r) => r.spec) },
      }),
      'config.reload': () => this.reload(),
    };
  }
}

export { ConfigError };
