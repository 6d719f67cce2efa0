// SPDX-License-Identifier: MIT
// OTLP export end to end: the real mcrd with a telemetry section, real packets through the relay,
// and an OTLP/HTTP receiver in the relay's namespace that decodes with the official schema
// (tests/helpers/otlp-receiver.ts). With spanSampleEvery 1 and a span rate above the stream's
// batch rate, every receive batch is exactly one mcr.batch trace; the metrics equal mcrctl
// stats; and an endpoint that is down or black-holed changes nothing about forwarding.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Stats } from '../../src/control/protocol';
import { quietOneHop, TempDir } from '../helpers/datapath';
import { mcrctlAdd, pollUntil, statsAfterRx } from '../helpers/control';
import { skipReason, startDaemon, streamExactly, type DaemonHandle, type Topology } from '../helpers/netns';
import { OtlpReceiver, type ReceivedMetric, type ReceivedSpan, type ReceiverMode } from '../helpers/otlp-receiver';

const skip = skipReason();
const COUNT = 3_000;
const RULE = {
  name: 'traced',
  input: { interface: 'r0', group: '239.1.1.1', port: 5001 },
  outputs: [{ group: '239.2.2.2', port: 5002, interface: 'r1' }],
};
const STREAM = { group: '239.1.1.1', port: 5001, out: '239.2.2.2', outPort: 5002, count: COUNT, rate: 3_000 };

interface Run {
  t: Topology;
  mcrd: DaemonHandle;
  receiver: OtlpReceiver;
  /** mcrctl stats once every frame of the stream was taken in */
  stats: Stats;
}

/**
 * mcrd with OTLP export to a receiver in its namespace, one stream of COUNT packets delivered
 * exactly; `check` runs with mcrd still up, then mcrd stops (its last export included) and
 * `after` runs on what the receiver got.
 */
async function withExport(
  label: string,
  protocol: 'http/protobuf' | 'http/json',
  mode: ReceiverMode,
  check: (run: Run) => Promise<void>,
  after: (run: Run, exitCode: number | null) => void,
): Promise<void> {
  const dir = new TempDir();
  const t = await quietOneHop(label);
  let receiver: OtlpReceiver | undefined;
  let mcrd: DaemonHandle | undefined;
  try {
    receiver = await OtlpReceiver.startIn(t, 'relay', mode);
    const config = {
      spanSampleEvery: 1,
      telemetry: {
        otlpEndpoint: receiver.endpoint,
        otlpProtocol: protocol,
        serviceName: 'mcrd-otlp-test',
        resourceAttributes: { 'deployment.environment': 'lab' },
        // above the stream's batch rate (at most COUNT batches in about a second): nothing is rate-limited
        spansPerSecond: 100_000,
        metricExportIntervalMs: 500,
      },
      rules: [RULE],
    };
    mcrd = await startDaemon(t, 'relay', { configFile: dir.config('mcr.json5', config) });
    // mcrd answers before its telemetry is up; batches before that are not recorded.
    const daemon = mcrd;
    await pollUntil(
      () => daemon.request('trace'),
      (trace) => trace.exporting,
      'span records exported',
    );
    await streamExactly(t, STREAM);
    const stats = await statsAfterRx(mcrd, COUNT);
    const run = { t, mcrd, receiver, stats };
    await check(run);
    const exitCode = await mcrd.stop();
    after(run, exitCode);
  } finally {
    await mcrd?.stop();
    await receiver?.close();
    await t.destroy();
    dir.remove();
  }
}

function named(spans: ReceivedSpan[], name: string): ReceivedSpan[] {
  return spans.filter((s) => s.name === name);
}

function sumOf(spans: ReceivedSpan[], attribute: string): number {
  return spans.reduce((total, s) => total + Number(s.attributes[attribute] ?? 0), 0);
}

/** A counter's value summed over its points, from the last export that carried it. */
function lastSum(metrics: ReceivedMetric[], name: string): number {
  const last = metrics.filter((m) => m.name === name).at(-1);
  assert.ok(last, `metric ${name} exported`);
  return last.points.reduce((total, p) => total + (p.value ?? 0), 0);
}

function failureLines(mcrd: DaemonHandle): string[] {
  return mcrd.stderr.split('\n').filter((line) => /export/i.test(line) && /fail/i.test(line));
}

for (const protocol of ['http/protobuf', 'http/json'] as const) {
  describe(`OTLP export over ${protocol}`, { skip }, () => {
    it('one mcr.batch trace per receive batch, exactly; the span tree; metrics equal mcrctl stats', async () => {
      let ruleId = '';
      let added = '';
      await withExport(
        protocol === 'http/json' ? 'otlj' : 'otlp',
        protocol,
        'normal',
        async ({ mcrd, receiver, stats }) => {
          const batches = stats.totals.batches;
          assert.ok(batches > 0 && batches <= stats.totals.rxFrames, `batches ${batches}`);
          const trace = await mcrd.request('trace');
          assert.deepEqual([trace.sampleEvery, trace.spansWritten, trace.spansDropped], [1, batches, 0], 'a record for every batch');
          await receiver
            .waitFor(`${batches} mcr.batch spans`, () => named(receiver.spans(), 'mcr.batch').length >= batches)
            .catch((err: Error) => {
              const got = named(receiver.spans(), 'mcr.batch').length;
              // Where the missing ones went, by mcrd's own count (exported; dropped by reason).
              const spanCounts = ['mcr_spans_exported', 'mcr_spans_dropped']
                .map((name) =>
                  receiver
                    .metrics()
                    .filter((m) => m.name === name)
                    .at(-1),
                )
                .map((m) => (m ? `${m.name} ${JSON.stringify(m.points.map((p) => [p.attributes, p.value]))}` : ''))
                .join('; ');
              throw new Error(`${err.message}; ${got} mcr.batch spans; ${spanCounts}; mcrd stderr:\n${mcrd.stderr}`);
            });
          ruleId = (await mcrd.request('list')).rules.find((r) => r.name === 'traced')?.id ?? '';
          // A control-plane operation becomes a span of its own.
          const add = await mcrctlAdd(mcrd, '239.1.1.9', 5009, '239.2.2.9:5009:r1', 'later');
          added = /[0-9a-f]{12}/.exec(add.stdout)?.[0] ?? '';
          assert.notEqual(added, '');
          await receiver.waitFor('an mcr.control.add span', () => named(receiver.spans(), 'mcr.control.add').length > 0);
        },
        ({ receiver, stats }, exitCode) => {
          assert.equal(exitCode, 0);
          assert.deepEqual(receiver.errors, []);
          assert.ok(receiver.requests.every((r) => r.format === (protocol === 'http/json' ? 'json' : 'protobuf')));
          const spans = receiver.spans();
          for (const s of spans) {
            assert.equal(s.resource['service.name'], 'mcrd-otlp-test');
            assert.equal(s.resource['deployment.environment'], 'lab');
          }

          // Exactly one batch span per batch mcrctl stats counted (mcrd has stopped: nothing is late).
          const batchSpans = named(spans, 'mcr.batch');
          assert.equal(batchSpans.length, stats.totals.batches, 'one mcr.batch per receive batch');
          assert.equal(sumOf(batchSpans, 'mcr.packets'), stats.totals.rxFrames, 'every frame in exactly one batch span');
          const sends = named(spans, 'mcr.send');
          assert.equal(sumOf(sends, 'mcr.packets'), stats.totals.txPackets);
          assert.equal(stats.totals.txPackets, COUNT);

          const byId = new Map(spans.map((s) => [s.spanId, s]));
          for (const batch of batchSpans) {
            assert.equal(batch.parentSpanId, '');
            assert.ok(batch.startNs <= batch.endNs);
            assert.equal(batch.attributes['network.interface.name'], 'r0');
            assert.equal(batch.attributes['mcr.worker'], 0);
            assert.equal(batch.attributes['mcr.rule.id'], ruleId);
            const children = spans.filter((s) => s.parentSpanId === batch.spanId);
            const wait = named(children, 'mcr.ring_wait');
            const classify = named(children, 'mcr.classify');
            assert.equal(wait.length, 1, 'one ring_wait');
            assert.equal(classify.length, 1, 'one classify');
            for (const child of children) {
              assert.equal(child.traceId, batch.traceId);
              assert.ok(
                batch.startNs <= child.startNs && child.startNs <= child.endNs && child.endNs <= batch.endNs,
                `${child.name} inside the batch`,
              );
            }
            assert.ok(wait[0]!.endNs <= classify[0]!.startNs, 'ring wait before classify');
            for (const send of named(children, 'mcr.send')) {
              assert.ok(wait[0]!.endNs <= send.startNs, 'ring wait before send');
              assert.equal(send.attributes['network.interface.name'], 'r1');
              assert.equal(send.status.code, 0);
            }
          }
          for (const s of sends) assert.ok(byId.has(s.parentSpanId), 'every send has its batch');

          const control = named(spans, 'mcr.control.add').filter((s) => s.attributes['mcr.rule.id'] === added);
          assert.equal(control.length, 1, 'the add is one mcr.control.add span with the new rule id');
          assert.equal(control[0]!.status.code, 0);

          // The last metric export (at stop) carries the same counts as mcrctl stats.
          const metrics = receiver.metrics();
          assert.equal(lastSum(metrics, 'mcr_rx_packets'), stats.totals.rxFrames);
          assert.equal(lastSum(metrics, 'mcr_tx_packets'), stats.totals.txPackets);
          assert.equal(lastSum(metrics, 'mcr_batches'), stats.totals.batches);
        },
      );
    });
  });
}

describe('OTLP endpoint failures never touch forwarding', { skip }, () => {
  for (const mode of ['down', 'blackhole'] as const) {
    it(`endpoint ${mode}: the stream is delivered exactly, mcrd stops cleanly, the failures are logged at a bounded rate`, async () => {
      await withExport(
        mode === 'down' ? 'otld' : 'otlb',
        'http/protobuf',
        mode,
        async ({ mcrd, receiver, stats }) => {
          assert.equal(stats.totals.txPackets, COUNT);
          // at least one export was attempted (a black hole takes it and never answers)
          if (mode === 'blackhole') await receiver.waitFor('a black-holed export', () => receiver.blackholed > 0);
          // A failed export ends when its retries run out (OTLP's 10 s deadline): then it is logged.
          await pollUntil(
            async () => failureLines(mcrd),
            (lines) => lines.length > 0,
            'an export failure logged',
            30_000,
            200,
          );
        },
        ({ mcrd, receiver }, exitCode) => {
          assert.equal(exitCode, 0);
          assert.equal(receiver.requests.length, 0);
          // Ten seconds and more of exports failing (metrics every 500 ms, spans every second):
          // a line per signal and kind at most, not one per export.
          const failures = failureLines(mcrd);
          assert.ok(failures.length >= 1 && failures.length <= 3, `failure lines:\n${failures.join('\n')}`);
        },
      );
    });
  }
});
