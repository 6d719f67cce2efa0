// SPDX-License-Identifier: MIT
// Telemetry settings: OTEL_* variables, then the config file's telemetry section, then mcrd's
// flags; bad values name the variable. Also the bounded-rate export failure log and the
// histogram helpers of the metrics.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { TELEMETRY_DEFAULTS, type TelemetryConfig } from '../../src/config/types';
import { Logger } from '../../src/lib/logger';
import { MCRD } from '../../lab/paths';
import { ExportFailures } from '../../src/telemetry/failures';
import {
  parseResourceAttributes,
  resolveTelemetrySettings,
  signalUrl,
  splitListenAddress,
  telemetryWanted,
  TelemetrySettingsError,
} from '../../src/telemetry/settings';

const file = (t: Partial<TelemetryConfig> = {}): TelemetryConfig => ({ ...TELEMETRY_DEFAULTS, ...t });

function refused(env: Record<string, string>, pattern: RegExp): void {
  assert.throws(
    () => resolveTelemetrySettings(env, file()),
    (err: unknown) => err instanceof TelemetrySettingsError && err.code === 'EINVAL' && pattern.test(err.message),
  );
}

describe('telemetry settings', () => {
  test('nothing configured: defaults, nothing wanted', () => {
    const s = resolveTelemetrySettings({}, file());
    assert.deepEqual(s, {
      serviceName: 'mcrd',
      resourceAttributes: {},
      protocol: 'http/protobuf',
      metricExportIntervalMs: 60_000,
      spansPerSecond: 1000,
      ruleMetricsLimit: 256,
    });
    assert.equal(telemetryWanted(s), false);
  });

  test('OTEL_EXPORTER_OTLP_ENDPOINT is a base: the signal paths are appended', () => {
    const s = resolveTelemetrySettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, file());
    assert.equal(s.metricsEndpoint, 'http://collector:4318/v1/metrics');
    assert.equal(s.tracesEndpoint, 'http://collector:4318/v1/traces');
    assert.equal(telemetryWanted(s), true);
    assert.equal(signalUrl('http://c:4318/', 'traces'), 'http://c:4318/v1/traces');
    assert.equal(signalUrl('https://c/otlp//', 'metrics'), 'https://c/otlp/v1/metrics');
  });

  test('signal-specific endpoints are used as they are and win over the base', () => {
    const s = resolveTelemetrySettings(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://base:4318',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://m:9000/custom',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:9001/x',
      },
      file(),
    );
    assert.equal(s.metricsEndpoint, 'http://m:9000/custom');
    assert.equal(s.tracesEndpoint, 'http://t:9001/x');
    // Only one signal configured: the other is not exported.
    const onlyTraces = resolveTelemetrySettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:9001/v1/traces' }, file());
    assert.equal(onlyTraces.metricsEndpoint, undefined);
    assert.equal(onlyTraces.tracesEndpoint, 'http://t:9001/v1/traces');
  });

  test('the file overrides the environment, the flags override the file', () => {
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://env-m:4318/v1/metrics',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'from-env',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=lab,host.name=a',
      OTEL_METRIC_EXPORT_INTERVAL: '5000',
    };
    const fromEnv = resolveTelemetrySettings(env, file());
    assert.deepEqual(fromEnv, {
      serviceName: 'from-env',
      resourceAttributes: { 'deployment.environment': 'lab', 'host.name': 'a' },
      protocol: 'http/json',
      metricsEndpoint: 'http://env-m:4318/v1/metrics',
      tracesEndpoint: 'http://env:4318/v1/traces',
      metricExportIntervalMs: 5000,
      spansPerSecond: 1000,
      ruleMetricsLimit: 256,
    });
    const fromFile = resolveTelemetrySettings(
      env,
      file({
        otlpEndpoint: 'http://file:4318/',
        otlpProtocol: 'http/protobuf',
        serviceName: 'from-file',
        resourceAttributes: { 'host.name': 'b' },
        metricExportIntervalMs: 1000,
        metricsListen: '127.0.0.1:9464',
        ruleMetricsLimit: 10,
      }),
    );
    assert.deepEqual(fromFile, {
      serviceName: 'from-file',
      resourceAttributes: { 'deployment.environment': 'lab', 'host.name': 'b' },
      protocol: 'http/protobuf',
      metricsEndpoint: 'http://file:4318/v1/metrics',
      tracesEndpoint: 'http://file:4318/v1/traces',
      metricExportIntervalMs: 1000,
      metricsListen: '127.0.0.1:9464',
      spansPerSecond: 1000,
      ruleMetricsLimit: 10,
    });
    const fromFlags = resolveTelemetrySettings(env, file({ otlpEndpoint: 'http://file:4318', metricsListen: '127.0.0.1:9464' }), {
      otlpEndpoint: 'https://flag:4318/otlp',
      metricsListen: '[::1]:0',
    });
    assert.equal(fromFlags.metricsEndpoint, 'https://flag:4318/otlp/v1/metrics');
    assert.equal(fromFlags.tracesEndpoint, 'https://flag:4318/otlp/v1/traces');
    assert.equal(fromFlags.metricsListen, '[::1]:0');
    assert.deepEqual(splitListenAddress('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(splitListenAddress('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
  });

  test('service.name: resource attributes, then OTEL_SERVICE_NAME, then the file', () => {
    const attrs = { OTEL_RESOURCE_ATTRIBUTES: 'service.name=attr,team=net' };
    const a = resolveTelemetrySettings(attrs, file());
    assert.equal(a.serviceName, 'attr');
    assert.deepEqual(a.resourceAttributes, { team: 'net' });
    assert.equal(resolveTelemetrySettings({ ...attrs, OTEL_SERVICE_NAME: 'svc' }, file()).serviceName, 'svc');
    assert.equal(resolveTelemetrySettings({ ...attrs, OTEL_SERVICE_NAME: 'svc' }, file({ serviceName: 'f' })).serviceName, 'f');
  });

  test('empty variables count as unset', () => {
    const s = resolveTelemetrySettings(
      { OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_EXPORTER_OTLP_PROTOCOL: ' ', OTEL_SERVICE_NAME: '', OTEL_METRIC_EXPORT_INTERVAL: '' },
      file(),
    );
    assert.equal(telemetryWanted(s), false);
    assert.equal(s.serviceName, 'mcrd');
    assert.equal(s.protocol, 'http/protobuf');
  });

  test('OTEL_RESOURCE_ATTRIBUTES: percent-decoded, blanks trimmed, empty pairs skipped', () => {
    assert.deepEqual(parseResourceAttributes(' a = 1 ,, b%2Ec=x%2Cy%3Dz , empty='), { a: '1', 'b.c': 'x,y=z', empty: '' });
  });

  test('bad values are refused, naming the variable', () => {
    refused(
      { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
      /^OTEL_EXPORTER_OTLP_PROTOCOL: grpc is not supported by mcrd.*http\/protobuf or http\/json/,
    );
    refused(
      { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/xml' },
      /^OTEL_EXPORTER_OTLP_PROTOCOL: expected http\/protobuf or http\/json, got "http\/xml"$/,
    );
    refused({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, /^OTEL_EXPORTER_OTLP_ENDPOINT: expected an http:\/\/ or https:\/\/ URL/);
    refused({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'ftp://x/' }, /^OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: expected an http/);
    refused({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' }, /^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: expected an http/);
    refused({ OTEL_RESOURCE_ATTRIBUTES: 'a=1,b' }, /^OTEL_RESOURCE_ATTRIBUTES: expected key=value pairs separated by commas, got "b"$/);
    refused({ OTEL_RESOURCE_ATTRIBUTES: '=1' }, /^OTEL_RESOURCE_ATTRIBUTES: empty key in "=1"$/);
    refused({ OTEL_RESOURCE_ATTRIBUTES: 'a=%zz' }, /^OTEL_RESOURCE_ATTRIBUTES: invalid percent-encoding in "%zz"$/);
    refused(
      { OTEL_METRIC_EXPORT_INTERVAL: '10s' },
      /^OTEL_METRIC_EXPORT_INTERVAL: expected milliseconds, an integer of at least 100, got "10s"$/,
    );
    refused({ OTEL_METRIC_EXPORT_INTERVAL: '99' }, /^OTEL_METRIC_EXPORT_INTERVAL: expected milliseconds/);
    assert.throws(
      () => resolveTelemetrySettings({}, file(), { otlpEndpoint: 'x', metricsListen: 'nohost' }),
      /^TelemetrySettingsError: --otlp-endpoint: expected an http:\/\/ or https:\/\/ URL, got "x"; --metrics-listen: expected HOST:PORT/,
    );
  });
});

describe('export failure log', () => {
  test('every failure counted; at most one line per interval, with the count of the ones not logged', () => {
    const lines: string[] = [];
    let now = 1_000_000;
    const failures = new ExportFailures(
      Logger.create('info', 'text', 'telemetry', (l) => lines.push(l)),
      60_000,
      () => now,
    );
    for (let i = 0; i < 100; i++) {
      failures.failed('metrics', new Error('connect ECONNREFUSED 127.0.0.1:4318'));
      now += 1_000;
    }
    failures.failed('traces', 'timeout');
    assert.deepEqual(failures.counts, { metrics: 100, traces: 1 });
    // at 0 s, 60 s: two lines for 100 s of failures every second
    assert.equal(lines.length, 2);
    assert.match(
      lines[0] ?? '',
      /WARN {2}telemetry: OTLP metrics export failed: connect ECONNREFUSED 127\.0\.0\.1:4318; forwarding is not affected$/,
    );
    assert.match(lines[1] ?? '', /OTLP metrics export failed: .* \(and 59 more since the last such message\)/);
    // the traces failure at 100 s falls in the second line's minute: counted, not logged
    now += 60_000;
    failures.failed(undefined, new Error('collection failed'));
    assert.equal(lines.length, 3);
    assert.match(lines[2] ?? '', /telemetry error: collection failed \(and 40 more since the last such message\)/);
    assert.deepEqual(failures.counts, { metrics: 100, traces: 1 });
  });
});

describe('mcrd refuses bad telemetry settings with exit 2 (before it creates anything)', () => {
  const mcrd = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [MCRD, '--control-socket', `/tmp/mcrt-telemetry-${process.pid}.sock`, ...args], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
      timeout: 20_000,
    });

  test('a bad OTEL_* variable is named', () => {
    const grpc = mcrd([], { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    assert.equal(grpc.status, 2);
    assert.equal(
      grpc.stderr,
      'mcrd: invalid telemetry setting: OTEL_EXPORTER_OTLP_PROTOCOL: grpc is not supported by mcrd (it exports over HTTP): use http/protobuf or http/json\n',
    );
    const interval = mcrd([], { OTEL_METRIC_EXPORT_INTERVAL: 'soon' });
    assert.equal(interval.status, 2);
    assert.match(interval.stderr, /^mcrd: invalid telemetry setting: OTEL_METRIC_EXPORT_INTERVAL: expected milliseconds/);
  });

  test('--otlp-endpoint and --metrics-listen are checked like the config file', () => {
    const endpoint = mcrd(['--otlp-endpoint', 'collector:4318']);
    assert.equal(endpoint.status, 2);
    assert.match(
      endpoint.stderr,
      /^mcrd: option '--otlp-endpoint <url>' argument 'collector:4318' is invalid\. expected an http:\/\/ or https:\/\/ URL/,
    );
    const listen = mcrd(['--metrics-listen', '9464']);
    assert.equal(listen.status, 2);
    assert.match(listen.stderr, /^mcrd: option '--metrics-listen <host:port>' argument '9464' is invalid\. expected HOST:PORT/);
  });
});
