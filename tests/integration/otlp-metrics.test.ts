// SPDX-License-Identifier: MIT
// OTLP metric export of the real mcrd to an OTLP/HTTP receiver in the relay's namespace that
// decodes the requests against the official schema (tests/helpers/otlp-receiver.ts): resource,
// counter values equal to the packets sent and to `mcrctl stats`, cumulative histograms; over
// http/protobuf and http/json. With the endpoint down or black-holed a stream is still delivered
// exactly, every failed export is counted (mcr_telemetry_export_failures_total) and logged once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MCRD } from '../../lab/paths';
import { mcrctlAdd, mcrctlStats, mcrctlStatsAfterRx, pollUntil } from '../helpers/control';
import { quietOneHop } from '../helpers/datapath';
import { skipReason, startMcrd, streamExactly, type DaemonHandle, type Topology } from '../helpers/netns';
import { OtlpReceiver, type ReceivedMetric, type ReceiverMode } from '../helpers/otlp-receiver';

const skip = skipReason();
const VIDEO = { group: '239.1.1.1', port: 5001, out: '239.2.2.2', outPort: 5002 };
const INTERVAL_MS = 300;

/** The last point values of a metric per attribute set, summed (cumulative: the newest request wins). */
function latest(metrics: ReceivedMetric[], name: string): Map<string, number> {
  const byAttrs = new Map<string, number>();
  for (const m of metrics.filter((x) => x.name === name))
    for (const p of m.points) byAttrs.set(JSON.stringify(p.attributes), p.value ?? p.count ?? Number.NaN);
  return byAttrs;
}

const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

async function addVideo(mcrd: DaemonHandle): Promise<void> {
  await mcrctlAdd(mcrd, VIDEO.group, VIDEO.port, `${VIDEO.out}:${VIDEO.outPort}:r1`, 'video');
}

/** mcrd with OTEL_* variables set (env runs inside the namespace and execs node: the pid is mcrd's). */
function startWithEnv(t: Topology, env: Record<string, string>, args: string[]): Promise<DaemonHandle> {
  return startMcrd(t, 'relay', {
    socket: `/tmp/${t.prefix}-relay.sock`,
    command: ['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'node', MCRD],
    args,
  });
}

for (const protocol of ['http/protobuf', 'http/json'] as const) {
  describe(`OTLP metrics over ${protocol}`, { skip }, () => {
    let t: Topology;
    let receiver: OtlpReceiver;
    let mcrd: DaemonHandle;

    before(async () => {
      t = await quietOneHop(protocol === 'http/json' ? 'otlj' : 'otlp');
      receiver = await OtlpReceiver.startIn(t, 'relay');
      mcrd = await startWithEnv(
        t,
        {
          OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${receiver.endpoint}/v1/metrics`,
          OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
          OTEL_METRIC_EXPORT_INTERVAL: String(INTERVAL_MS),
          OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=lab%20one',
        },
        [],
      );
      await addVideo(mcrd);
    });
    after(async () => {
      await mcrd?.stop();
      await receiver?.close();
      await t?.destroy();
    });

    it('exports counters equal to the packets sent and to mcrctl stats, with the resource', async () => {
      const N = 4_000;
      await streamExactly(t, { ...VIDEO, count: N, rate: 10_000 });
      const s = await mcrctlStatsAfterRx(mcrd, N);
      assert.equal(s.totals.rxFrames, N);
      await receiver.waitFor(`mcr_rx_packets summing to ${N}`, () => total(latest(receiver.metrics(), 'mcr_rx_packets')) === N);
      assert.deepEqual(receiver.errors, []);
      const metrics = receiver.metrics();
      assert.equal(new Set(receiver.requests.map((r) => r.format)).size, 1);
      assert.equal(receiver.requests[0]?.format, protocol === 'http/json' ? 'json' : 'protobuf');
      assert.ok(receiver.requests.every((r) => r.path === '/v1/metrics'));
      const rx = metrics.find((m) => m.name === 'mcr_rx_packets');
      assert.ok(rx);
      assert.equal(rx.resource['service.name'], 'mcrd');
      assert.equal(rx.resource['deployment.environment'], 'lab one');
      assert.equal(rx.type, 'sum');
      assert.equal(rx.monotonic, true);
      assert.equal(rx.temporality, 2);
      assert.equal(total(latest(metrics, 'mcr_tx_packets')), N);
      assert.deepEqual([...latest(metrics, 'mcr_rule_matched_packets')], [[JSON.stringify({ rule: 'video' }), N]]);
      assert.deepEqual(
        [...latest(metrics, 'mcr_output_tx_packets')],
        [[JSON.stringify({ rule: 'video', output: `${VIDEO.out}:${VIDEO.outPort}@r1` }), N]],
      );
      // The batch histogram: cumulative, 19 bounds (2 µs .. 2^19 µs), its count the sampled batches.
      const batch = metrics.filter((m) => m.name === 'mcr_batch_seconds').at(-1);
      assert.ok(batch);
      assert.equal(batch.type, 'histogram');
      assert.equal(batch.temporality, 2);
      const point = batch.points[0];
      assert.equal(point?.explicitBounds?.length, 19);
      assert.equal(point?.explicitBounds?.[0], 0.000002);
      assert.equal(
        point?.bucketCounts?.reduce((a, b) => a + b, 0),
        point?.count,
      );
      const latestStats = await mcrctlStats(mcrd);
      assert.equal(total(latest(receiver.metrics(), 'mcr_batch_seconds')), latestStats.totals.spans.batch?.samples);
    });
  });
}

for (const mode of ['down', 'blackhole'] as const satisfies readonly ReceiverMode[]) {
  describe(`OTLP endpoint ${mode}`, { skip }, () => {
    let t: Topology;
    let receiver: OtlpReceiver;
    let mcrd: DaemonHandle;
    let address = '';

    before(async () => {
      t = await quietOneHop(mode === 'down' ? 'otdn' : 'otbh');
      receiver = await OtlpReceiver.startIn(t, 'relay', mode);
      mcrd = await startWithEnv(t, { OTEL_METRIC_EXPORT_INTERVAL: String(INTERVAL_MS) }, [
        '--otlp-endpoint',
        receiver.endpoint,
        '--metrics-listen',
        '127.0.0.1:0',
      ]);
      address = await pollUntil(
        async () => /Prometheus metrics on http:\/\/([0-9.]+:\d+)\/metrics/.exec(mcrd.stderr)?.[1] ?? '',
        (a) => a !== '',
        'the metrics address in the log',
      );
      await addVideo(mcrd);
    });
    after(async () => {
      await mcrd?.stop();
      await receiver?.close();
      await t?.destroy();
    });

    const failures = async (): Promise<number> => {
      const body = (await t.exec('relay', 'curl', ['-sS', '--fail', `http://${address}/metrics`])).stdout;
      return Number(/^mcr_telemetry_export_failures_total\{signal="metrics"\} (\d+)$/m.exec(body)?.[1] ?? Number.NaN);
    };

    it('forwards a stream exactly; failed exports are counted, and logged once', async () => {
      await streamExactly(t, { ...VIDEO, count: 10_000, rate: 10_000 });
      const counted = await pollUntil(failures, (n) => n >= 3, 'three failed exports counted', 20_000, 200);
      assert.ok(counted >= 3);
      // Several failures (metrics, and traces: --otlp-endpoint exports both), one line: the next
      // may only come 60 s after the first, whichever signal failed.
      const lines = mcrd.stderr.split('\n').filter((l) => /OTLP (metrics|traces) export failed/.test(l));
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0] ?? '', /forwarding is not affected/);
      const stats = await mcrctlStats(mcrd);
      assert.equal(stats.totals.txPackets, 10_000);
      if (mode === 'blackhole') assert.ok(receiver.blackholed >= 1, `${receiver.blackholed} requests black-holed`);
    });
  });
}
