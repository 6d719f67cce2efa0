// SPDX-License-Identifier: MIT
// mcrd's supervisor: owns the config, the rule registry, the counter file, the control socket
// and the data-plane process, and wires them to the parts that act on them: RuleChanges (the
// add, remove and reload transactions), the protocol handlers and the counter watch.
import * as os from 'node:os';
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import { ConfigError, configWarnings, loadConfigFile } from '../config/validate';
import { packageVersion } from '../lib/version';
import type { Config, LogFormat, LogLevel } from '../config/types';
import { ProtocolError, type ReloadResult, type Stats } from '../control/protocol';
import { ControlServer } from '../control/server';
import type { GroupEntry } from '../lib/groups';
import type { Logger } from '../lib/logger';
import { loadAddon, type NativeRule, type NativeRuleStatus } from '../native/addon';
import { DataPlaneProcess } from './dataplane-process';
import { EventBus, InterfaceStates, staticRouteEvent } from './events';
import { handlers, paramChecks } from './handlers';
import { RuleChanges, type ConfigHost, type DataPlaneKey } from './rule-changes';
import { RuleRegistry, SlotPool } from './rule-registry';
import { PuntReader } from './punts';
import { DaemonRouting } from './routing';
import { finalLines, StatsReader } from './stats';
import { CounterWatch } from './watch';
import { SpanRecords } from './span-records';
import { InterfaceNames } from '../lib/interfaces';
import { startTelemetry, type Telemetry, type TelemetrySources } from '../telemetry/index';
import { resolveTelemetrySettings, type TelemetrySettings } from '../telemetry/settings';

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
  /** --otlp-endpoint: OTLP/HTTP base URL, over the file's telemetry.otlpEndpoint and OTEL_* variables. */
  otlpEndpoint?: string;
  /** --metrics-listen: HOST:PORT of GET /metrics, over the file's telemetry.metricsListen. */
  metricsListen?: string;
}

export class Daemon implements ConfigHost {
  /** The event stream (`mcrctl events`): every part of the daemon emits into it. */
  readonly events = new EventBus();
  /** Interface up/down as the rules' statuses show it, turned into events. */
  private readonly interfaceStates = new InterfaceStates();
  /** The data plane is being stopped for a reload's restart: its exit is not a crash. */
  private plannedRestart = false;
  private current: Config;
  private readonly registry: RuleRegistry;
  private readonly stats: StatsReader;
  private readonly dataPlane: DataPlaneProcess;
  private readonly changes: RuleChanges;
  /** IGMP and the routes it learns. */
  private readonly routing: DaemonRouting;
  private readonly watch: CounterWatch;
  /** The workers' span rings and trace switches (mcrctl trace, the traces exporter). */
  private readonly spans: SpanRecords;
  private readonly interfaces = new InterfaceNames();
  private readonly server: ControlServer;
  private readonly countersPath: string;
  private readonly startedAt = Date.now();
  private stopping: Promise<void> | undefined;
  private started = false;
  /** The rule set the data plane was last started with (JSON), to catch changes made meanwhile. */
  private startRules = '';
  /** Metrics and traces export; undefined when none is configured (nothing of OpenTelemetry loaded). */
  private telemetry: Telemetry | undefined;
  private telemetrySettings: TelemetrySettings;
  private readonly telemetrySources: TelemetrySources;

  constructor(
    private readonly options: DaemonOptions,
    private readonly log: Logger,
    config: Config,
  ) {
    this.current = this.withOverrides(config);
    // Throws TelemetrySettingsError for a bad OTEL_* variable (mcrd exits 2).
    this.telemetrySettings = this.resolveTelemetry();
    const addon = loadAddon();
    this.countersPath = options.countersPath ?? `/dev/shm/mcrd-${process.pid}.counters`;
    this.removeStaleCounterFiles(addon);
    this.stats = new StatsReader(addon, this.countersPath);
    this.spans = new SpanRecords(this.stats.counterFile, () => this.stats.workerCount);
    const ruleSlots = new SlotPool(addon.Counters.maxRuleSlots, 'rule');
    const outputSlots = new SlotPool(addon.Counters.maxOutputSlots, 'output');
    this.registry = new RuleRegistry(ruleSlots, outputSlots);
    this.dataPlane = new DataPlaneProcess(log.child('supervisor'), () => ({
      type: 'init',
      workers: this.config.workers,
      ...(this.config.cpus ? { cpus: this.config.cpus } : {}),
      ringBytes: this.config.ringMiB << 20,
      realtimePriority: this.config.realtimePriority,
      spanSampleEvery: this.config.spanSampleEvery,
      busyPoll: this.config.busyPoll,
      wakeupHoldoffUs: this.config.wakeupHoldoffUs,
      packetEgress: this.config.egress === 'packet',
      xdp: this.config.xdp,
      countersPath: this.countersPath,
      logLevel: this.log.level,
      logFormat: this.config.logFormat,
      rules: this.rulesSentAtStart(),
    }));
    this.dataPlane.on('ready', (statuses: NativeRuleStatus[]) => {
      this.registry.applyStatuses(statuses);
      this.stats.noteWorkers(this.config.workers);
      if (this.config.realtimePriority > 0 && this.dataPlane.workers.some((w) => !w.realtime))
        this.log.warn(
          `realtimePriority ${this.config.realtimePriority}: the kernel refused SCHED_FIFO for the workers (needs CAP_SYS_NICE); they run with normal scheduling`,
        );
      for (const w of this.dataPlane.workers.filter((w) => this.config.cpus && !w.pinned))
        this.log.warn(
          `cpus[${w.worker}]: the kernel refused to pin worker ${w.worker} to CPU ${this.config.cpus?.[w.worker]} (outside this process's cpuset?); it runs unpinned`,
        );
      // The data plane set the configured sampling rate as it started: an override has ended.
      this.spans.resetSample(this.config.spanSampleEvery);
      if (this.dataPlane.restarts > 0)
        this.log.info(`data plane restarted; ${this.registry.size} rules restored`, { pid: this.dataPlane.pid });
      // Rules changed while it was starting (accepted into the registry) go in now.
      if (JSON.stringify(this.registry.forDataPlane()) !== this.startRules)
        void this.changes
          .catchUp()
          .then(() => this.logRuleProblems())
          .catch((err: Error) => this.log.error(`cannot apply the rules changed during start-up: ${err.message}`));
      else this.logRuleProblems();
      this.interfaceStates.observe(this.registry.list(), this.events);
    });
    this.dataPlane.on('status', (statuses: NativeRuleStatus[]) => {
      this.registry.applyStatuses(statuses);
      this.log.info('interface change picked up', { rulesUp: statuses.filter((s) => s.input === 'up').length });
      this.logRuleProblems();
      this.interfaceStates.observe(this.registry.list(), this.events);
    });
    this.changes = new RuleChanges({
      registry: this.registry,
      dataPlane: this.dataPlane,
      counters: this.stats,
      host: this,
      log: this.log,
      span: (name, attributes, fn) => (this.telemetry ? this.telemetry.controlSpan(name, attributes, fn) : fn(() => {})),
      committed: ({ added, changed, removed }) => {
        for (const r of removed) this.events.emit(staticRouteEvent('route.remove', r));
        // A rule with new outputs: route.add again, with all of them.
        for (const r of [...added, ...changed]) this.events.emit(staticRouteEvent('route.add', r));
        this.routing.countStaticChanges(added.length + changed.length + removed.length);
        this.interfaceStates.observe(this.registry.list(), this.events);
      },
    });
    // A crash (a reload's restart and mcrd's stop say so themselves); the pid is still the old one.
    this.dataPlane.on('exit', (code: number | null, signal: NodeJS.Signals | null) => {
      if (!this.started || this.stopping || this.plannedRestart) return;
      const pid = this.dataPlane.pid;
      this.events.emit({
        type: 'dataplane.restart',
        reason: `exited unexpectedly (${signal ?? `code ${code}`})`,
        ...(pid !== undefined ? { pid } : {}),
      });
    });
    // A data plane that died: a control-plane span from its exit to its replacement's ready.
    this.dataPlane.on('exit', (code: number | null, signal: NodeJS.Signals | null) => {
      if (!this.started || this.stopping || !this.telemetry) return;
      const ready = new Promise<void>((resolve) => this.dataPlane.once('ready', () => resolve()));
      void this.telemetry.controlSpan('mcr.dataplane.restart', { 'mcr.dataplane.exit': signal ?? `code ${code}` }, () => ready);
    });
    this.routing = new DaemonRouting({
      registry: this.registry,
      changes: this.changes,
      counters: this.stats,
      ruleSlots,
      outputSlots,
      events: this.events,
      log: this.log,
      ruleCounters: (slots) => this.stats.ruleTotals(slots),
      punts: new PuntReader(this.stats.counterFile, () => this.stats.workerCount),
    });
    this.watch = new CounterWatch(() => this.readStats().totals, this.log);
    const methods = {
      checks: paramChecks(this),
      handlers: handlers({
        registry: this.registry,
        changes: this.changes,
        dataPlane: this.dataPlane,
        host: this,
        log: this.log,
        startedAt: this.startedAt,
        readStats: () => this.readStats(),
        spans: this.spans,
        interfaces: this.interfaces,
        events: this.events,
        routing: this.routing,
      }),
    };
    this.server = new ControlServer(options.controlSocket, methods, log.child('control'), options.controlSocketGroup);
    this.telemetrySources = {
      readStats: (maxRules) => this.readStats(maxRules),
      ruleCount: () => this.registry.size,
      dataPlaneRestarts: () => this.dataPlane.restarts,
      routing: () => this.routing.metrics(),
      traces: {
        workers: () => this.stats.workerCount,
        drainSpans: (worker, max) => this.spans.drain(worker, max),
        skipSpans: (worker) => this.spans.skip(worker),
        ruleForSlot: (slot) => {
          const r = this.registry.bySlot(slot);
          return r ? { id: r.id, ...(r.spec.name ? { name: r.spec.name } : {}) } : undefined;
        },
        interfaceName: (ifindex) => this.interfaces.name(ifindex),
        setRecordsEnabled: (on) => this.spans.setExporting(on),
      },
    };
  }

  /** ConfigHost: the config in force (the file's, with the command line's overrides). */
  get config(): Config {
    return this.current;
  }

  get configPath(): string | undefined {
    return this.options.configPath;
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
    for (const warning of configWarnings(this.config)) this.log.warn(warning);
    this.keepOffWorkerCpus();
    this.changes.seed(this.config.rules);
    // Before the data plane, so its first batches are traced and counted from the start (the
    // counter file exists already); a failing exporter only ever costs telemetry, never
    // forwarding. A Prometheus address that cannot be bound fails the start before anything forwards.
    this.telemetry = await startTelemetry(this.telemetrySettings, this.telemetrySources, this.log.child('telemetry'));
    await this.server.listen();
    await this.dataPlane.start();
    this.started = true;
    // The config's rules are the first static route changes.
    this.routing.countStaticChanges(this.registry.size);
    // After the data plane: learned routes go in through RuleChanges like every later change.
    this.routing.start(this.config);
    this.log.info(`mcrd ${packageVersion()} running`, {
      rules: this.registry.size,
      workers: this.config.workers,
      socket: this.options.controlSocket,
      dataplane: this.dataPlane.pid,
    });
    this.watch.start();
  }

  /** Graceful stop: FINAL lines to stdout, socket and counter file removed. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.watch.stop();
      this.spans.stop();
      this.routing.stop();
      await this.dataPlane.stop();
      // A daemon that never forwarded has no FINAL figures to report.
      if (this.started) for (const line of finalLines(this.readStats())) process.stdout.write(`${line}\n`);
      // Last OTLP export (the final counters), while the counter file is still open.
      await this.telemetry?.stop();
      await this.server.close();
      this.stats.close();
      await fs.rm(this.countersPath, { force: true });
    })();
    return this.stopping;
  }

  /** SIGHUP and `config reload`: an invalid file changes nothing. */
  reload(): Promise<ReloadResult> {
    return this.changes.reload();
  }

  /** ConfigHost: the file, with the command line's overrides, checked against this machine. */
  loadConfig(): Config {
    if (!this.options.configPath) throw new ProtocolError('EINVAL', 'mcrd was started without --config: nothing to reload');
    const next = this.withOverrides(loadConfigFile(this.options.configPath));
    this.checkMachine(next);
    return next;
  }

  /** ConfigHost: a reloaded config (its rules already in the registry) takes effect. */
  async commitConfig(next: Config, restartFor: DataPlaneKey[]): Promise<void> {
    this.log.setLevel(next.logLevel);
    this.dataPlane.setLogLevel(this.log.level);
    this.current = next;
    for (const warning of configWarnings(next)) this.log.warn(warning);
    // spanSampleEvery needs no restart: the workers read it per batch. A reload ends an override.
    this.spans.resetSample(next.spanSampleEvery);
    if (restartFor.length > 0) {
      this.log.info(`${restartFor.join(', ')} changed: restarting the data plane`);
      this.events.emit({
        type: 'dataplane.restart',
        reason: `config reload changed ${restartFor.join(', ')}`,
        ...(this.dataPlane.pid !== undefined ? { pid: this.dataPlane.pid } : {}),
      });
      this.plannedRestart = true;
      try {
        await this.dataPlane.stop();
      } finally {
        this.plannedRestart = false;
      }
      this.keepOffWorkerCpus();
      await this.dataPlane.start();
    }
    this.routing.reconfigure(next);
    await this.reloadTelemetry();
  }

  /**
   * `config reload` / SIGHUP with a changed telemetry section: the exporters and the Prometheus
   * endpoint are stopped (flushed) and started again with the new settings; forwarding is not
   * touched. A new address that cannot be bound leaves telemetry off, logged as an error.
   */
  private async reloadTelemetry(): Promise<void> {
    const next = this.resolveTelemetry();
    if (JSON.stringify(next) === JSON.stringify(this.telemetrySettings)) return;
    const log = this.log.child('telemetry');
    log.info('telemetry settings changed: restarting telemetry');
    this.telemetrySettings = next;
    const old = this.telemetry;
    this.telemetry = undefined;
    await old?.stop();
    try {
      this.telemetry = await startTelemetry(next, this.telemetrySources, log);
      if (!this.telemetry) log.info('telemetry off: nothing to export');
    } catch (err) {
      log.error(`telemetry is off until the next reload: ${(err as Error).message}`);
    }
  }

  /** Telemetry settings: OTEL_* variables, then the config in force, then the command line. */
  private resolveTelemetry(): TelemetrySettings {
    return resolveTelemetrySettings(process.env, this.config.telemetry, {
      ...(this.options.otlpEndpoint ? { otlpEndpoint: this.options.otlpEndpoint } : {}),
      ...(this.options.metricsListen ? { metricsListen: this.options.metricsListen } : {}),
    });
  }

  private rulesSentAtStart(): NativeRule[] {
    const rules = this.registry.forDataPlane();
    this.startRules = JSON.stringify(rules);
    return rules;
  }

  /** The supervisor's threads (and so the data plane's, forked from it) stay off the worker CPUs. */
  private keepOffWorkerCpus(): void {
    try {
      const moved = loadAddon().confineThreads(this.config.cpus ?? [], []);
      if (this.config.cpus && moved === 0)
        this.log.warn(
          `cpus ${JSON.stringify(this.config.cpus)}: every CPU mcrd may use is a worker CPU, so its control threads share them`,
        );
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

  /** Counters with the first `maxRules` rules' rows (telemetry's limit); totals and per-worker rows are always complete. */
  private readStats(maxRules = Number.MAX_SAFE_INTEGER): Stats {
    // Every worker that has run is listed, so the rows add up to the totals after `workers` shrank.
    const stats = this.stats.read(this.registry.list().slice(0, maxRules), Number.MAX_SAFE_INTEGER, (Date.now() - this.startedAt) / 1000);
    const protocols = this.routing?.protocolCounters();
    if (protocols && Object.keys(protocols).length > 0) stats.protocols = protocols;
    return stats;
  }

  private logRuleProblems(): void {
    for (const r of this.registry.list()) {
      const label = r.spec.name ?? r.id;
      // A refused rule's outputs are all reported down: the error is the one thing to say.
      if (r.status?.error) {
        this.log.error(`rule ${label} is not forwarding: ${r.status.error}`);
        continue;
      }
      if (r.status?.input !== 'up')
        this.log.warn(`rule ${label}: input interface ${r.spec.input.interface} does not exist yet; waiting for it`);
      r.status?.outputs.forEach((s, i) => {
        if (s !== 'up') this.log.warn(`rule ${label}: output interface ${r.spec.outputs[i]?.interface} does not exist yet; waiting for it`);
      });
    }
  }
}
