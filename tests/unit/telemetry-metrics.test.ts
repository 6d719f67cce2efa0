// SPDX-License-Identifier: MIT
// The metrics over a fake counter source, through the real SDK, PrometheusExporter and mcrd's
// own /metrics handler: exact names, labels and values, the per-rule limit, a removed rule's
// series gone from the next scrape, one counter-file read per scrape, the histogram buckets
// and sum, 404 elsewhere. (The real daemon: tests/integration/prometheus.test.ts.)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Counters, RuleStats, Stats } from '../../src/control/protocol';
import { spanHistogram } from '../../src/lib/histogram';
import { Logger } from '../../src/lib/logger';
import { startTelemetry, type Telemetry } from '../../src/telemetry/index';
import { bucketBoundariesSeconds, outputLabel, sumSeconds } from '../../src/telemetry/metrics';
import { PROMETHEUS_CONTENT_TYPE } from '../../src/telemetry/prometheus';
import { resolveTelemetrySettings } from '../../src/telemetry/settings';
import { samples } from '../helpers/exposition';
import { OtlpReceiver } from '../helpers/otlp-receiver';

function counters(rx: number): Counters {
  const zero = spanHistogram(new Array<number>(20).fill(0));
  return {
    rxFrames: rx,
    rxBytes: rx * 100,
    matched: rx - 1,
    noMatch: 1,
    filtered: 2,
    filteredByReason: { truncated: 0, badIpHeader: 2 },
    txPackets: 2 * (rx - 1),
    txBytes: 0,
    txErrors: 1,
    txErrorsByErrno: { EAGAIN: 1, other: 0 },
    ringDrops: 3,
    bufExhaust: 4,
    ttlExpired: 5,
    batches: 6,
    wakeups: 7,
    holdoffs: 13,
    spansWritten: 8,
    spansDropped: 9,
    punted: 10,
    puntRateLimited: 11,
    puntRingFull: 12,
    spans: { ringWait: spanHistogram([1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 524_295), batch: zero, idleSpin: zero },
  };
}

function rule(name: string | undefined, id: string, matched: number): RuleStats {
  return {
    id,
    ...(name ? { name } : {}),
    matchedPackets: matched,
    matchedBytes: matched * 10,
    outputs: [{ group: '239.2.2.2', port: 5002, interface: 'r1', txPackets: matched, txBytes: matched * 8, txErrors: 0 }],
  };
}

describe('metrics through the Prometheus endpoint (fake counters)', () => {
  let rules: RuleStats[] = [];
  let reads = 0;
  let restarts = 0;
  let telemetry: Telemetry | undefined;
  const logLines: string[] = [];

  before(async () => {
    const settings = resolveTelemetrySettings({}, { spansPerSecond: 1000, ruleMetricsLimit: 2 }, { metricsListen: '127.0.0.1:0' });
    telemetry = await startTelemetry(
      settings,
      {
        readStats: (maxRules): Stats => {
          reads++;
          return {
            uptimeSeconds: 1,
            totals: counters(30),
            workers: [
              { worker: 0, ...counters(10) },
              { worker: 1, ...counters(20) },
            ],
            rules: rules.slice(0, maxRules),
          };
        },
        ruleCount: () => rules.length,
        dataPlaneRestarts: () => restarts,
      },
      Logger.create('info', 'text', 'telemetry', (l) => logLines.push(l)),
    );
  });
  after(async () => {
    await telemetry?.stop();
  });

  async function scrape(path = '/metrics'): Promise<Response> {
    return fetch(`http://${telemetry?.metricsAddress}${path}`);
  }

  test('per-worker, per-rule and per-output series with exact values, once per scrape read', async () => {
    rules = [rule('a', 'aaaaaaaaaaaa', 7), rule(undefined, 'bbbbbbbbbbbb', 9), rule('c', 'cccccccccccc', 11)];
    restarts = 2;
    const readsBefore = reads;
    const res = await scrape();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), PROMETHEUS_CONTENT_TYPE);
    const s = samples(await res.text());
    assert.equal(reads - readsBefore, 1, 'one counter-file read per scrape');
    const want: [string, number][] = [
      ['mcr_rx_packets_total{worker="0"}', 10],
      ['mcr_rx_packets_total{worker="1"}', 20],
      ['mcr_rx_bytes_total{worker="1"}', 2000],
      ['mcr_matched_packets_total{worker="1"}', 19],
      ['mcr_tx_packets_total{worker="1"}', 38],
      ['mcr_ring_drops_total{worker="0"}', 3],
      ['mcr_filtered_packets_total{worker="0",reason="bad_ip_header"}', 2],
      ['mcr_filtered_packets_total{worker="0",reason="truncated"}', 0],
      ['mcr_no_match_packets_total{worker="0"}', 1],
      ['mcr_tx_errors_total{worker="1",errno="EAGAIN"}', 1],
      ['mcr_ttl_expired_packets_total{worker="0"}', 5],
      ['mcr_batches_total{worker="0"}', 6],
      ['mcr_wakeups_total{worker="0"}', 7],
      ['mcr_holdoffs_total{worker="0"}', 13],
      ['mcr_span_records_written_total{worker="0"}', 8],
      ['mcr_span_records_dropped_total{worker="1"}', 9],
      ['mcr_dataplane_restarts_total', 2],
      ['mcr_telemetry_export_failures_total{signal="metrics"}', 0],
      ['mcr_rule_matched_packets_total{rule="a"}', 7],
      ['mcr_rule_matched_bytes_total{rule="a"}', 70],
      ['mcr_rule_matched_packets_total{rule="bbbbbbbbbbbb"}', 9],
      ['mcr_output_tx_packets_total{rule="a",output="239.2.2.2:5002@r1"}', 7],
      ['mcr_output_tx_bytes_total{rule="bbbbbbbbbbbb",output="239.2.2.2:5002@r1"}', 72],
      ['mcr_output_tx_errors_total{rule="a",output="239.2.2.2:5002@r1"}', 0],
      ['mcr_ring_wait_seconds_count{worker="0"}', 4],
      ['mcr_ring_wait_seconds_bucket{worker="0",le="0.000002"}', 1],
      ['mcr_ring_wait_seconds_bucket{worker="0",le="0.000004"}', 3],
      ['mcr_ring_wait_seconds_bucket{worker="0",le="0.524288"}', 3],
      ['mcr_ring_wait_seconds_bucket{worker="0",le="+Inf"}', 4],
      ['mcr_ring_wait_seconds_sum{worker="0"}', 0.524295],
      ['mcr_batch_seconds_count{worker="1"}', 0],
    ];
    for (const [series, value] of want) assert.equal(s.get(series), value, series);
    assert.match([...s.keys()].find((k) => k.startsWith('mcr_build_info')) ?? '', /^mcr_build_info\{version="\d+\.\d+\.\d+.*"\}$/);
    // rule c is beyond ruleMetricsLimit 2: no series of its own, and a log line saying so, once
    assert.equal([...s.keys()].filter((k) => k.includes('rule="c"')).length, 0);
    await new Promise((r) => setTimeout(r, 150)); // past the 100 ms reuse of one read
    await scrape();
    assert.equal(reads - readsBefore, 2);
    assert.equal(logLines.filter((l) => l.includes('only the first 2 (telemetry.ruleMetricsLimit)')).length, 1);
  });

  test('a removed rule has no series in the next scrape', async () => {
    rules = [rule(undefined, 'bbbbbbbbbbbb', 12)];
    await new Promise((r) => setTimeout(r, 150)); // past the 100 ms reuse of one read
    const s = samples(await (await scrape()).text());
    assert.equal([...s.keys()].filter((k) => k.includes('rule="a"')).length, 0);
    assert.equal(s.get('mcr_rule_matched_packets_total{rule="bbbbbbbbbbbb"}'), 12);
  });

  test('other paths are 404', async () => {
    assert.equal((await scrape('/')).status, 404);
    assert.equal((await scrape('/metricsx')).status, 404);
  });
});

describe('traces wired through startTelemetry', () => {
  test('controlSpan reaches the OTLP endpoint with the resource; span counts are metrics', async () => {
    const receiver = await OtlpReceiver.start();
    let telemetry: Telemetry | undefined;
    try {
      const settings = resolveTelemetrySettings(
        { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.endpoint}/v1/traces`, OTEL_SERVICE_NAME: 'relay-7' },
        { spansPerSecond: 1000, ruleMetricsLimit: 10 },
        { metricsListen: '127.0.0.1:0' },
      );
      let enabled: boolean | undefined;
      telemetry = await startTelemetry(
        settings,
        {
          readStats: (): Stats => ({ uptimeSeconds: 1, totals: counters(1), workers: [{ worker: 0, ...counters(1) }], rules: [] }),
          ruleCount: () => 0,
          dataPlaneRestarts: () => 0,
          traces: {
            workers: () => 1,
            drainSpans: () => [],
            ruleForSlot: () => undefined,
            interfaceName: () => undefined,
            setRecordsEnabled: (on) => {
              enabled = on;
            },
          },
        },
        Logger.create('error', 'text', 'telemetry'),
      );
      assert.ok(telemetry);
      assert.equal(await telemetry.controlSpan('mcr.control.add', { 'mcr.rule.id': 'abc' }, () => 42), 42);
      const body = await (await fetch(`http://${telemetry.metricsAddress}/metrics`)).text();
      assert.match(body, /^mcr_spans_dropped_total\{reason="rate"\} 0$/m);
      assert.match(body, /^mcr_spans_exported_total 0$/m);
      await telemetry.stop();
      assert.equal(enabled, false, 'records switched off again at stop');
      const spans = receiver.spans();
      assert.deepEqual(
        spans.map((x) => [x.name, x.attributes['mcr.rule.id'], x.resource['service.name']]),
        [['mcr.control.add', 'abc', 'relay-7']],
      );
    } finally {
      await telemetry?.stop();
      await receiver.close();
    }
  });
});

describe('histogram helpers', () => {
  test('boundaries are 2^i µs in seconds, one fewer than the buckets', () => {
    const b = bucketBoundariesSeconds(20);
    assert.equal(b.length, 19);
    assert.equal(b[0], 0.000002);
    assert.equal(b[18], 0.524288);
  });
  test("the histogram's sum is the core's exact sum", () => {
    assert.equal(sumSeconds({ ...spanHistogram([0, 2, 0]), sumUs: 7 }), 7 / 1e6);
    assert.equal(sumSeconds(spanHistogram([0, 0])), 0);
  });
  test('output label', () => {
    assert.equal(outputLabel({ group: '239.2.2.2', port: 5002, interface: 'r1' }), '239.2.2.2:5002@r1');
  });
});
