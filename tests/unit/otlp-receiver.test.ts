// SPDX-License-Identifier: MIT
// The tests' OTLP receiver (tests/helpers/otlp-receiver.ts) on the metrics path: the real OTLP
// metric exporters, protobuf and JSON, decode into the same values (the trace path is covered by
// tests/unit/traces.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValueType } from '@opentelemetry/api';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OtlpReceiver } from '../helpers/otlp-receiver';

for (const protocol of ['http/protobuf', 'http/json'] as const) {
  test(`metrics over ${protocol}: sums, gauges and histograms decode exactly`, async () => {
    const receiver = await OtlpReceiver.start();
    const { OTLPMetricExporter } =
      protocol === 'http/json'
        ? await import('@opentelemetry/exporter-metrics-otlp-http')
        : await import('@opentelemetry/exporter-metrics-otlp-proto');
    const reader = new PeriodicExportingMetricReader({
      exporter: new OTLPMetricExporter({ url: `${receiver.endpoint}/v1/metrics` }),
      exportIntervalMillis: 3_600_000,
    });
    const provider = new MeterProvider({ readers: [reader] });
    try {
      const meter = provider.getMeter('mcr');
      const packets = meter.createObservableCounter('mcr.rx.packets', { unit: '{packet}', valueType: ValueType.INT });
      const level = meter.createObservableGauge('mcr.level');
      meter.addBatchObservableCallback(
        (observer) => {
          observer.observe(packets, 12_345_678_901, { worker: '0' });
          observer.observe(packets, 7, { worker: '1' });
          observer.observe(level, 1.5);
        },
        [packets, level],
      );
      const latency = meter.createHistogram('mcr.latency', { unit: 's', advice: { explicitBucketBoundaries: [1, 10] } });
      latency.record(5, { stage: 'batch' });
      latency.record(50, { stage: 'batch' });
      await reader.forceFlush();

      assert.deepEqual(receiver.errors, []);
      assert.equal(receiver.requests[0]!.format, protocol === 'http/json' ? 'json' : 'protobuf');
      const metrics = new Map(receiver.metrics().map((m) => [m.name, m]));
      const sum = metrics.get('mcr.rx.packets')!;
      assert.deepEqual([sum.type, sum.unit, sum.monotonic, sum.temporality], ['sum', '{packet}', true, 2]);
      assert.deepEqual(
        sum.points.map((p) => [p.attributes, p.value]),
        [
          [{ worker: '0' }, 12_345_678_901],
          [{ worker: '1' }, 7],
        ],
      );
      assert.deepEqual(
        metrics.get('mcr.level')!.points.map((p) => p.value),
        [1.5],
      );
      const histogram = metrics.get('mcr.latency')!;
      assert.equal(histogram.type, 'histogram');
      const [point] = histogram.points;
      assert.deepEqual(
        [point!.attributes, point!.count, point!.sum, point!.bucketCounts, point!.explicitBounds],
        [{ stage: 'batch' }, 2, 55, [0, 1, 1], [1, 10]],
      );
      assert.ok(point!.timeNs > 0n);
      assert.equal(sum.resource['telemetry.sdk.language'], 'nodejs');
    } finally {
      await provider.shutdown();
      await receiver.close();
    }
  });
}
