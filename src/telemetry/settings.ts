// SPDX-License-Identifier: MIT
// The telemetry settings in force, resolved from three layers, lowest first: the standard
// OpenTelemetry environment variables, the config file's `telemetry` section, then mcrd's
// flags (--otlp-endpoint, --metrics-listen). Pure: the environment is passed in, nothing is
// loaded, so a relay without telemetry pays for this function only.
import { checkHttpUrl, checkListenAddress } from '../config/validate';
import { LIMITS, OTLP_PROTOCOLS, type OtlpProtocol, type TelemetryConfig } from '../config/types';
import { McrError } from '../lib/errors';

/** A bad OTEL_* value (or flag): names the variable; mcrd exits 2 on it. */
export class TelemetrySettingsError extends McrError {
  constructor(message: string) {
    super('EINVAL', message);
  }
}

/** mcrd's command-line flags that override the file. */
export interface TelemetryFlags {
  otlpEndpoint?: string;
  metricsListen?: string;
}

export interface TelemetrySettings {
  /** resource service.name */
  serviceName: string;
  /** further resource attributes (service.name is not among them) */
  resourceAttributes: Record<string, string>;
  protocol: OtlpProtocol;
  /** full URL the OTLP metrics go to (…/v1/metrics); no OTLP metrics when absent */
  metricsEndpoint?: string;
  /** full URL the OTLP spans go to (…/v1/traces); no OTLP traces when absent */
  tracesEndpoint?: string;
  metricExportIntervalMs: number;
  /** HOST:PORT of the Prometheus endpoint; none when absent */
  metricsListen?: string;
  spansPerSecond: number;
  ruleMetricsLimit: number;
}

/** The OTel default (the spec's OTEL_METRIC_EXPORT_INTERVAL default). */
export const DEFAULT_METRIC_EXPORT_INTERVAL_MS = 60_000;
export const DEFAULT_SERVICE_NAME = 'mcrd';

/** The environment variables read, for docs and errors. */
export const OTEL_ENV = [
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_SERVICE_NAME',
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_METRIC_EXPORT_INTERVAL',
] as const;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * A base endpoint (OTEL_EXPORTER_OTLP_ENDPOINT, telemetry.otlpEndpoint, --otlp-endpoint) with the
 * signal's path appended, as the OTLP exporter spec says: `http://c:4318` and `http://c:4318/`
 * both give `http://c:4318/v1/metrics`, `http://c/otlp` gives `http://c/otlp/v1/metrics`.
 */
export function signalUrl(base: string, signal: 'metrics' | 'traces'): string {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/${signal}`;
  return url.toString();
}

/** The spec: an empty value is the same as an unset one. */
function envValue(env: Env, name: (typeof OTEL_ENV)[number]): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function envUrl(env: Env, name: (typeof OTEL_ENV)[number]): string | undefined {
  const v = envValue(env, name);
  if (v === undefined) return undefined;
  const problems: string[] = [];
  checkHttpUrl(v, name, problems);
  if (problems.length > 0) throw new TelemetrySettingsError(problems.join('; '));
  return v;
}

function parseProtocol(value: string, name: string): OtlpProtocol {
  if ((OTLP_PROTOCOLS as readonly string[]).includes(value)) return value as OtlpProtocol;
  if (value === 'grpc')
    throw new TelemetrySettingsError(`${name}: grpc is not supported by mcrd (it exports over HTTP): use http/protobuf or http/json`);
  throw new TelemetrySettingsError(`${name}: expected ${OTLP_PROTOCOLS.join(' or ')}, got ${JSON.stringify(value)}`);
}

function percentDecode(text: string, name: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new TelemetrySettingsError(`${name}: invalid percent-encoding in ${JSON.stringify(text)}`);
  }
}

/** OTEL_RESOURCE_ATTRIBUTES: `k=v,k=v`, keys and values percent-decoded, blanks around them trimmed. */
export function parseResourceAttributes(text: string, name = 'OTEL_RESOURCE_ATTRIBUTES'): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const pair of text.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    if (eq < 0)
      throw new TelemetrySettingsError(`${name}: expected key=value pairs separated by commas, got ${JSON.stringify(pair.trim())}`);
    const key = percentDecode(pair.slice(0, eq).trim(), name);
    if (key === '') throw new TelemetrySettingsError(`${name}: empty key in ${JSON.stringify(pair.trim())}`);
    attrs[key] = percentDecode(pair.slice(eq + 1).trim(), name);
  }
  return attrs;
}

function parseInterval(value: string, name: string): number {
  const ms = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms < LIMITS.minMetricExportIntervalMs)
    throw new TelemetrySettingsError(
      `${name}: expected milliseconds, an integer of at least ${LIMITS.minMetricExportIntervalMs}, got ${JSON.stringify(value)}`,
    );
  return ms;
}

/**
 * The settings in force. Endpoints: a signal-specific variable is used as it is (no path
 * appended) and wins over OTEL_EXPORTER_OTLP_ENDPOINT; the file's otlpEndpoint and the
 * --otlp-endpoint flag are base URLs and win over every variable, for both signals.
 * service.name: OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME, then the file, default mcrd.
 * Throws TelemetrySettingsError naming the variable or flag that is wrong.
 */
export function resolveTelemetrySettings(env: Env, file: TelemetryConfig, flags: TelemetryFlags = {}): TelemetrySettings {
  const base = envUrl(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  let metricsEndpoint = envUrl(env, 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT') ?? (base ? signalUrl(base, 'metrics') : undefined);
  let tracesEndpoint = envUrl(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? (base ? signalUrl(base, 'traces') : undefined);
  const protocolEnv = envValue(env, 'OTEL_EXPORTER_OTLP_PROTOCOL');
  let protocol: OtlpProtocol = protocolEnv ? parseProtocol(protocolEnv, 'OTEL_EXPORTER_OTLP_PROTOCOL') : 'http/protobuf';
  const attrsEnv = envValue(env, 'OTEL_RESOURCE_ATTRIBUTES');
  const resourceAttributes = attrsEnv ? parseResourceAttributes(attrsEnv) : {};
  let serviceName = envValue(env, 'OTEL_SERVICE_NAME') ?? resourceAttributes['service.name'] ?? DEFAULT_SERVICE_NAME;
  const intervalEnv = envValue(env, 'OTEL_METRIC_EXPORT_INTERVAL');
  let metricExportIntervalMs = intervalEnv ? parseInterval(intervalEnv, 'OTEL_METRIC_EXPORT_INTERVAL') : DEFAULT_METRIC_EXPORT_INTERVAL_MS;
  let metricsListen: string | undefined;

  // The file (already validated by src/config/validate.ts).
  if (file.otlpEndpoint) {
    metricsEndpoint = signalUrl(file.otlpEndpoint, 'metrics');
    tracesEndpoint = signalUrl(file.otlpEndpoint, 'traces');
  }
  if (file.otlpProtocol) protocol = file.otlpProtocol;
  Object.assign(resourceAttributes, file.resourceAttributes ?? {});
  if (file.resourceAttributes?.['service.name'] !== undefined) serviceName = file.resourceAttributes['service.name'];
  if (file.serviceName) serviceName = file.serviceName;
  if (file.metricExportIntervalMs !== undefined) metricExportIntervalMs = file.metricExportIntervalMs;
  if (file.metricsListen) metricsListen = file.metricsListen;

  // The flags (commander checked their form; checked again here for callers other than mcrd).
  const problems: string[] = [];
  if (flags.otlpEndpoint !== undefined && checkHttpUrl(flags.otlpEndpoint, '--otlp-endpoint', problems) !== undefined) {
    metricsEndpoint = signalUrl(flags.otlpEndpoint, 'metrics');
    tracesEndpoint = signalUrl(flags.otlpEndpoint, 'traces');
  }
  if (flags.metricsListen !== undefined && checkListenAddress(flags.metricsListen, '--metrics-listen', problems) !== undefined)
    metricsListen = flags.metricsListen;
  if (problems.length > 0) throw new TelemetrySettingsError(problems.join('; '));

  delete resourceAttributes['service.name'];
  return {
    serviceName,
    resourceAttributes,
    protocol,
    ...(metricsEndpoint ? { metricsEndpoint } : {}),
    ...(tracesEndpoint ? { tracesEndpoint } : {}),
    metricExportIntervalMs,
    ...(metricsListen ? { metricsListen } : {}),
    spansPerSecond: file.spansPerSecond,
    ruleMetricsLimit: file.ruleMetricsLimit,
  };
}

/** Whether anything is exported at all: without it mcrd loads no OpenTelemetry code. */
export function telemetryWanted(s: TelemetrySettings): boolean {
  return s.metricsEndpoint !== undefined || s.tracesEndpoint !== undefined || s.metricsListen !== undefined;
}

/** HOST:PORT split for listen(); [IPv6] loses its brackets. */
export function splitListenAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(colon + 1)) };
}
