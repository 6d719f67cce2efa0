// SPDX-License-Identifier: MIT
// Telemetry's one entry point. With neither an OTLP endpoint nor a Prometheus listen address
// configured, startTelemetry returns undefined and NOTHING from @opentelemetry is loaded: this
// module imports only types and ./settings statically; the SDK comes in through import() below.
// tests/integration/prometheus.test.ts checks mcrd's module cache for it.
import type { Stats } from '../control/protocol';
import { McrError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { MetricProducer } from '@opentelemetry/sdk-metrics';
import { ExportFailures } from './failures';
import { telemetryWanted, type TelemetrySettings } from './settings';
import type { RoutingMetrics } from './metrics';
import type { SpanEventAdder, TraceExport, TraceSource } from './traces';

export { resolveTelemetrySettings, telemetryWanted, TelemetrySettingsError, type TelemetrySettings } from './settings';

/** What telemetry reads from the supervisor, always at collection time. */
export interface TelemetrySources {
  /** Counters with the first `maxRules` rules (registry order); totals and per-worker rows are complete. */
  readStats(maxRules: number): Stats;
  /** Rules in force, including any beyond the per-rule metric limit. */
  ruleCount(): number;
  /** Data-plane crashes the supervisor recovered from (DataPlaneProcess.restarts). */
  dataPlaneRestarts(): number;
  /** IGMP and routing-table counts (src/daemon/routing.ts). */
  routing?(): RoutingMetrics;
  /** The workers' span records (src/telemetry/traces.ts): without it no batch spans are exported. */
  traces?: TraceSource;
}

/** How long stop() waits for the last OTLP export. */
const STOP_TIMEOUT_MS = 3_000;

export type SpanAttributes = Record<string, string | number | boolean>;

export interface Telemetry {
  readonly settings: TelemetrySettings;
  /** The Prometheus endpoint's bound address (HOST:PORT), when there is one. */
  readonly metricsAddress: string | undefined;
  /**
   * Runs a control-plane operation (add, remove, reload, data-plane restart) inside a span named
   * `name`. The traces half (src/telemetry/traces.ts) implements it; without traces it only runs fn.
   */
  controlSpan<T>(name: string, attributes: SpanAttributes, fn: (addEvent: SpanEventAdder) => T | Promise<T>): Promise<T>;
  /** Flushes what OTLP export holds and closes the endpoint. */
  stop(): Promise<void>;
}

/** controlSpan for callers that hold no Telemetry (telemetry off): just runs fn. */
export async function untraced<T>(
  _name: string,
  _attributes: SpanAttributes,
  fn: (addEvent: SpanEventAdder) => T | Promise<T>,
): Promise<T> {
  return fn(() => {});
}

/**
 * Starts export as the settings say, or returns undefined (loading nothing) when nothing is to
 * be exported. Throws an McrError when the Prometheus address cannot be bound.
 */
export async function startTelemetry(settings: TelemetrySettings, sources: TelemetrySources, log: Logger): Promise<Telemetry | undefined> {
  if (!telemetryWanted(settings)) return undefined;
  const [{ diag, DiagLogLevel }, { setGlobalErrorHandler }, { telemetryResource }, { McrMetrics }, prometheus] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('./resource.js'),
    import('./metrics.js'),
    settings.metricsListen ? import('./prometheus.js') : Promise.resolve(undefined),
  ]);
  const failures = new ExportFailures(log);
  // The SDK's own complaints go to mcrd's log at the same bounded rate as export failures.
  setGlobalErrorHandler((err) => failures.failed(undefined, err));
  diag.setLogger(
    {
      error: (message) => failures.failed(undefined, message),
      warn: (message) => failures.failed(undefined, message),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  const resource = telemetryResource(settings);

  let traces: TraceExport | undefined;
  let prometheusReader: ReturnType<NonNullable<typeof prometheus>['prometheusReader']> | undefined;
  const metrics = new McrMetrics({
    settings,
    resource,
    sources,
    failures,
    log,
    traceStats: () => traces?.stats(),
    ...(prometheus
      ? {
          prometheusReader: (producers: MetricProducer[]) => {
            prometheusReader = prometheus.prometheusReader(producers);
            return prometheusReader;
          },
        }
      : {}),
  });
  let endpoint: Awaited<ReturnType<NonNullable<typeof prometheus>['servePrometheus']>> | undefined;
  if (prometheus && prometheusReader && settings.metricsListen) {
    try {
      endpoint = await prometheus.servePrometheus(settings.metricsListen, prometheusReader, failures, log);
    } catch (err) {
      await metrics.shutdown().catch(() => undefined);
      throw new McrError('EADDRINUSE', `cannot serve Prometheus metrics on ${settings.metricsListen}: ${(err as Error).message}`);
    }
  }

  // ---- TRACES (src/telemetry/traces.ts): span records and control-plane spans over OTLP ----------
  if (settings.tracesEndpoint && sources.traces) {
    const { startTraces } = await import('./traces.js');
    traces = startTraces({
      tracesUrl: settings.tracesEndpoint,
      protocol: settings.protocol,
      resource,
      spansPerSecond: settings.spansPerSecond,
      source: sources.traces,
      log,
      onExportFailure: (err) => failures.failed('traces', err),
    });
    log.info(`OTLP traces to ${settings.tracesEndpoint} (${settings.protocol}), at most ${settings.spansPerSecond} spans/s`);
  } else if (settings.tracesEndpoint) {
    log.warn(`OTLP traces endpoint ${settings.tracesEndpoint} set, but this mcrd has no span-record source: no traces exported`);
  }

  if (settings.metricsEndpoint)
    log.info(`OTLP metrics to ${settings.metricsEndpoint} (${settings.protocol}) every ${settings.metricExportIntervalMs} ms`, {
      serviceName: settings.serviceName,
    });
  let stopping: Promise<void> | undefined;
  return {
    settings,
    metricsAddress: endpoint?.address,
    controlSpan: (name, attributes, fn) => (traces ? traces.controlSpan(name, attributes, fn) : untraced(name, attributes, fn)),
    stop() {
      stopping ??= (async () => {
        await endpoint?.close();
        await traces?.stop();
        // The last OTLP export, bounded: a black-holed endpoint must not hold mcrd's stop.
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            log.warn(`telemetry: the last export did not finish within ${STOP_TIMEOUT_MS} ms; dropped`);
            resolve();
          }, STOP_TIMEOUT_MS);
        });
        await Promise.race([metrics.shutdown().catch((err: Error) => log.warn(`telemetry shutdown: ${err.message}`)), late]);
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}
