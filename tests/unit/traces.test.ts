// SPDX-License-Identifier: MIT
// Trace export (src/telemetry/traces.ts) through the real OTLP exporters, both protocols, to an
// in-process receiver that decodes with the official schema (tests/helpers/otlp-receiver.ts).
// The span records are built here, as the native core will hand them over; the clock of the rate
// limit and of the failure log is the test's, so every count is exact.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { Logger } from '../../src/lib/logger';
import type { HrTime, NativeSpanRecord, NativeSpanSend } from '../../src/native/addon';
import {
  errnoMessage,
  noTraces,
  startTraces,
  type TraceExport,
  type TraceOptions,
  type TraceSource,
  tracesUrl,
} from '../../src/telemetry/traces';
import { OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver';

const SEC = 1_796_000_000; // a CLOCK_REALTIME second in 2026

function ns(t: HrTime): bigint {
  return BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);
}

/** A record at SEC + base ns: frame, pickup +1000, classified +2500, sends from +3000, released last. */
function record(over: Partial<NativeSpanRecord> & { base: number }): NativeSpanRecord {
  const at = (offset: number): HrTime => [SEC, over.base + offset];
  const { base: _base, ...rest } = over;
  return {
    worker: 0,
    inputIfindex: 5,
    packets: 4,
    bytes: 4000,
    oldestFrame: at(1),
    pickup: at(1001),
    classified: at(2501),
    released: at(9999),
    ruleSlots: [3],
    rulesMatched: 1,
    sends: [send(at(3000), at(3500), { packets: 4, bytes: 4000 })],
    sendsOverflow: 0,
    sampled: true,
    chased: false,
    ...rest,
  };
}

function send(start: HrTime, end: HrTime, over: Partial<NativeSpanSend> = {}): NativeSpanSend {
  return { start, end, ifindex: 7, packets: 1, bytes: 1000, errors: 0, errno: 0, ...over };
}

interface FakeSource extends TraceSource {
  rings: NativeSpanRecord[][];
  recordsEnabled: boolean[];
  drains: number;
  /** resolves after `count` more drains of worker 0 */
  drained(count: number): Promise<void>;
}

function fakeSource(workers: number): FakeSource {
  const waits: { at: number; resolve: () => void }[] = [];
  const source: FakeSource = {
    rings: Array.from({ length: workers }, () => []),
    recordsEnabled: [],
    drains: 0,
    workers: () => workers,
    drainSpans(worker, max) {
      if (worker === 0) {
        source.drains++;
        for (const w of waits.filter((w) => w.at <= source.drains)) {
          waits.splice(waits.indexOf(w), 1);
          w.resolve();
        }
      }
      return source.rings[worker]!.splice(0, max);
    },
    ruleForSlot: (slot) => (slot === 3 ? { id: 'r-3', name: 'video' } : slot === 4 ? { id: 'r-4' } : undefined),
    interfaceName: (ifindex) => ({ 5: 'in0', 7: 'out0', 8: 'out1' })[ifindex],
    setRecordsEnabled: (on) => source.recordsEnabled.push(on),
    // The drain timer is unref'd (it never keeps mcrd alive), so the deadline's timer keeps the
    // test's event loop running while it waits.
    drained: (count) =>
      new Promise((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`no ${count} drains within 20 s`)), 20_000);
        waits.push({
          at: source.drains + count,
          resolve: () => {
            clearTimeout(deadline);
            resolve();
          },
        });
      }),
  };
  return source;
}

function harness(
  receiver: OtlpReceiver,
  protocol: TraceOptions['protocol'],
  extra: Partial<TraceOptions> & { workers?: number } = {},
): { traces: TraceExport; source: FakeSource; clock: { ms: number }; lines: string[] } {
  const source = fakeSource(extra.workers ?? 2);
  const clock = { ms: 0 };
  const lines: string[] = [];
  const traces = startTraces({
    endpoint: receiver.endpoint,
    protocol,
    serviceName: 'mcrd-under-test',
    resourceAttributes: { 'deployment.environment': 'lab' },
    spansPerSecond: 1000,
    source,
    log: Logger.create('info', 'text', 'telemetry', (line) => lines.push(line)),
    drainIntervalMs: 3_600_000, // drains are the test's (drainNow) unless a test says otherwise
    scheduledDelayMs: 3_600_000, // exports are the test's (flush)
    now: () => clock.ms,
    ...extra,
  });
  return { traces, source, clock, lines };
}

function byName(spans: ReceivedSpan[], name: string): ReceivedSpan[] {
  return spans.filter((s) => s.name === name);
}

/** Every async failure in the process while the suite runs: there must be none. */
const escaped: unknown[] = [];
const onEscape = (err: unknown): void => {
  escaped.push(err);
};
before(() => {
  process.on('unhandledRejection', onEscape);
  process.on('uncaughtException', onEscape);
});
after(() => {
  process.off('unhandledRejection', onEscape);
  process.off('uncaughtException', onEscape);
  assert.deepEqual(escaped, []);
});

for (const protocol of ['http/protobuf', 'http/json'] as const) {
  describe(`trace export over ${protocol}`, () => {
    test('span records become exactly the expected span trees', async () => {
      const receiver = await OtlpReceiver.start();
      const { traces, source } = harness(receiver, protocol);
      try {
        assert.deepEqual(source.recordsEnabled, [true]);
        // Worker 0: two sends, the second refused (EAGAIN), rules in two slots, one unknown.
        const a = record({
          base: 100_000,
          worker: 0,
          ruleSlots: [3, 4, 9],
          rulesMatched: 5,
          sends: [
            send([SEC, 103_000], [SEC, 103_400], { ifindex: 7, packets: 4, bytes: 4000 }),
            send([SEC, 103_500], [SEC, 103_900], { ifindex: 8, packets: 2, bytes: 2000, errors: 2, errno: 11 }),
          ],
          sendsOverflow: 3,
          chased: true,
        });
        // Worker 1: no kernel frame time (no ring_wait), input ifindex without a name, no rule.
        const b = record({ base: 999_990_000, worker: 1, inputIfindex: 42, oldestFrame: [0, 0], ruleSlots: [], rulesMatched: 0 });
        b.released = [SEC + 1, 5]; // crosses a second boundary
        source.rings[0]!.push(a);
        source.rings[1]!.push(b);
        traces.drainNow();
        await traces.flush();

        assert.deepEqual(receiver.errors, []);
        const spans = receiver.spans();
        assert.equal(receiver.requests[0]!.format, protocol === 'http/json' ? 'json' : 'protobuf');
        assert.equal(spans.length, 5 + 3, 'a: batch, ring_wait, classify, 2 sends; b: batch, classify, 1 send');
        for (const s of spans) {
          assert.equal(s.resource['service.name'], 'mcrd-under-test');
          assert.equal(s.resource['deployment.environment'], 'lab');
          assert.equal(s.scope, 'mcr');
        }

        const batches = byName(spans, 'mcr.batch');
        assert.equal(batches.length, 2);
        const [batchA, batchB] = [
          batches.find((s) => s.attributes['mcr.worker'] === 0)!,
          batches.find((s) => s.attributes['mcr.worker'] === 1)!,
        ];
        const childrenOf = (parent: ReceivedSpan): ReceivedSpan[] =>
          spans.filter((s) => s.parentSpanId === parent.spanId).sort((x, y) => Number(x.startNs - y.startNs));

        // Record a: batch from the oldest frame to the release, ring_wait, classify, two sends.
        assert.equal(batchA.parentSpanId, '');
        assert.match(batchA.traceId, /^[0-9a-f]{32}$/);
        assert.match(batchA.spanId, /^[0-9a-f]{16}$/);
        assert.deepEqual([batchA.startNs, batchA.endNs], [ns(a.oldestFrame), ns(a.released)]);
        assert.deepEqual(batchA.attributes, {
          'mcr.worker': 0,
          'mcr.packets': 4,
          'mcr.bytes': 4000,
          'network.interface.name': 'in0',
          'mcr.rules.matched': 5,
          'mcr.rule.id': 'r-3',
          'mcr.rule.name': 'video',
          'mcr.rule.ids': ['r-3', 'r-4', 'slot:9'],
          'mcr.sends': 5,
          'mcr.sends.overflow': 3,
          'mcr.sampled': true,
          'mcr.chased': true,
          'mcr.errors': 2,
        });
        assert.equal(batchA.status.code, 0);
        const kidsA = childrenOf(batchA);
        assert.deepEqual(
          kidsA.map((s) => [s.name, s.startNs, s.endNs, s.traceId]),
          [
            ['mcr.ring_wait', ns(a.oldestFrame), ns(a.pickup), batchA.traceId],
            ['mcr.classify', ns(a.pickup), ns(a.classified), batchA.traceId],
            ['mcr.send', ns([SEC, 103_000]), ns([SEC, 103_400]), batchA.traceId],
            ['mcr.send', ns([SEC, 103_500]), ns([SEC, 103_900]), batchA.traceId],
          ],
        );
        assert.deepEqual(kidsA[0]!.attributes, {});
        assert.deepEqual(kidsA[2]!.attributes, { 'network.interface.name': 'out0', 'mcr.packets': 4, 'mcr.bytes': 4000 });
        assert.deepEqual(kidsA[2]!.status, { code: 0, message: '' });
        assert.deepEqual(kidsA[3]!.attributes, { 'network.interface.name': 'out1', 'mcr.packets': 2, 'mcr.bytes': 2000, 'mcr.errors': 2 });
        assert.deepEqual(kidsA[3]!.status, { code: 2, message: 'errno 11: EAGAIN' });

        // Record b: starts at pickup (no frame time), no ring_wait, its own trace, ifindex as name.
        assert.equal(batchB.parentSpanId, '');
        assert.notEqual(batchB.traceId, batchA.traceId);
        assert.deepEqual([batchB.startNs, batchB.endNs], [ns(b.pickup), ns([SEC + 1, 5])]);
        assert.equal(batchB.attributes['network.interface.name'], '42');
        assert.equal(batchB.attributes['mcr.rule.id'], undefined);
        assert.equal(batchB.attributes['mcr.errors'], undefined);
        assert.deepEqual(
          childrenOf(batchB).map((s) => [s.name, s.startNs, s.endNs]),
          [
            ['mcr.classify', ns(b.pickup), ns(b.classified)],
            ['mcr.send', ns(b.sends[0]!.start), ns(b.sends[0]!.end)],
          ],
        );

        const stats = traces.stats();
        assert.deepEqual(
          [stats.records, stats.batches, stats.droppedRate, stats.droppedQueue, stats.exported, stats.exportFailures, stats.queued],
          [2, 2, 0, 0, 8, 0, 0],
        );
      } finally {
        await traces.stop();
        await receiver.close();
      }
      assert.deepEqual(source.recordsEnabled, [true, false]);
    });

    test('control-plane operations are spans; a failure is status ERROR and is rethrown', async () => {
      const receiver = await OtlpReceiver.start();
      const { traces } = harness(receiver, protocol);
      try {
        const value = await traces.controlSpan('mcr.control.add', { 'mcr.rule.id': 'r-3', 'mcr.rule.name': 'video' }, async () => 42);
        assert.equal(value, 42);
        await assert.rejects(
          traces.controlSpan('mcr.control.remove', { 'mcr.rule.id': 'r-9', 'mcr.rule.name': undefined }, async () => {
            throw new Error('no rule r-9');
          }),
          /no rule r-9/,
        );
        await traces.flush();
        const spans = receiver.spans();
        assert.deepEqual(
          spans.map((s) => [s.name, s.parentSpanId, s.attributes, s.status]),
          [
            ['mcr.control.add', '', { 'mcr.rule.id': 'r-3', 'mcr.rule.name': 'video' }, { code: 0, message: '' }],
            ['mcr.control.remove', '', { 'mcr.rule.id': 'r-9' }, { code: 2, message: 'no rule r-9' }],
          ],
        );
        for (const s of spans) assert.ok(s.startNs <= s.endNs && s.startNs > 0n);
        assert.equal(traces.stats().controlSpans, 2);
      } finally {
        await traces.stop();
        await receiver.close();
      }
    });
  });
}

test("a resource given (src/telemetry/resource.ts) is the spans' resource, as is", async () => {
  const receiver = await OtlpReceiver.start();
  const resource = resourceFromAttributes({ 'service.name': 'relay-7', 'service.version': '9.9.9' });
  const { traces } = harness(receiver, 'http/protobuf', { resource, endpoint: undefined, tracesUrl: `${receiver.endpoint}/v1/traces` });
  try {
    await traces.controlSpan('mcr.control.reload', {}, () => 'sync result');
    await traces.flush();
    assert.deepEqual(receiver.spans()[0]!.resource, { 'service.name': 'relay-7', 'service.version': '9.9.9' });
  } finally {
    await traces.stop();
    await receiver.close();
  }
});

describe('span rate limit', () => {
  test('at most spansPerSecond spans a second (whole trees), round robin over workers; the excess is counted and discarded', async () => {
    const receiver = await OtlpReceiver.start();
    // Each record is a tree of 4 spans (batch, ring_wait, classify, one send): 20 spans = 5 trees.
    const { traces, source, clock } = harness(receiver, 'http/protobuf', { spansPerSecond: 20 });
    try {
      // The bucket starts full (20 = 5 trees): w0 r0, w1 r0, w0 r1, w1 r1, w0 r2 pass; w0 r3..r5 are dropped.
      source.rings[0]!.push(...Array.from({ length: 6 }, (_, i) => record({ base: i * 10_000, worker: 0, packets: i })));
      source.rings[1]!.push(...Array.from({ length: 2 }, (_, i) => record({ base: i * 10_000, worker: 1, packets: i })));
      traces.drainNow();
      assert.deepEqual([traces.stats().records, traces.stats().batches, traces.stats().droppedRate], [8, 5, 3]);

      // 400 ms refill 8 spans: 2 trees of 4 pass.
      clock.ms += 400;
      source.rings[0]!.push(...Array.from({ length: 4 }, (_, i) => record({ base: i * 10_000, worker: 0, packets: 10 + i })));
      traces.drainNow();
      assert.deepEqual([traces.stats().records, traces.stats().batches, traces.stats().droppedRate], [12, 7, 5]);

      // A long quiet spell refills to the bucket's size (one second of budget), no more.
      clock.ms += 60_000;
      source.rings[1]!.push(...Array.from({ length: 8 }, (_, i) => record({ base: i * 10_000, worker: 1, packets: 20 + i })));
      traces.drainNow();
      assert.deepEqual([traces.stats().records, traces.stats().batches, traces.stats().droppedRate], [20, 12, 8]);
      assert.deepEqual(
        source.rings.map((r) => r.length),
        [0, 0],
        'every record was taken out of the rings',
      );

      await traces.flush();
      const batches = byName(receiver.spans(), 'mcr.batch');
      assert.deepEqual(
        batches.map((s) => `${s.attributes['mcr.worker']}:${s.attributes['mcr.packets']}`),
        ['0:0', '1:0', '0:1', '1:1', '0:2', '0:10', '0:11', '1:20', '1:21', '1:22', '1:23', '1:24'],
      );
      assert.equal(receiver.spans().length, 12 * 4);
      assert.equal(traces.stats().exported, 12 * 4);
    } finally {
      await traces.stop();
      await receiver.close();
    }
  });
});

describe('export failures never reach the daemon', () => {
  test('endpoint down: drains go on, failures are counted, one log line per interval with the count since the last', async () => {
    const receiver = await OtlpReceiver.start('down');
    const { traces, source, clock, lines } = harness(receiver, 'http/protobuf', {
      drainIntervalMs: 10,
      exportTimeoutMs: 500,
      failureLogIntervalMs: 30_000,
    });
    try {
      source.rings[0]!.push(record({ base: 0 }));
      traces.drainNow();
      await traces.flush();
      assert.deepEqual([traces.stats().exportFailures, traces.stats().droppedExport, traces.stats().exported], [1, 4, 0]);
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /WARN .*trace export: requests failed.* failedRequests=1 lostSpans=4 droppedRecords=0 .*ECONNREFUSED/);

      // Two more failures within the interval: counted, not logged.
      for (let i = 1; i <= 2; i++) {
        source.rings[1]!.push(record({ base: i * 10_000, worker: 1 }), record({ base: i * 20_000, worker: 1 }));
        traces.drainNow();
        await traces.flush();
      }
      assert.deepEqual([traces.stats().exportFailures, traces.stats().droppedExport], [3, 4 + 8 + 8]);
      assert.equal(lines.length, 1);

      // The drain timer runs on, and once the interval is over it reports what accumulated.
      await source.drained(3);
      clock.ms += 30_000;
      await source.drained(2);
      assert.equal(lines.length, 2);
      assert.match(lines[1]!, /failedRequests=2 lostSpans=16 droppedRecords=0/);
      await source.drained(2);
      assert.equal(lines.length, 2, 'nothing new to report: no line');
    } finally {
      await traces.stop();
      await receiver.close();
    }
    assert.equal(lines.length, 2);
    assert.equal(traces.stats().exported, 0);
  });

  test('endpoint black-holed: the queue stays bounded (excess records counted), drains go on while a request hangs', async () => {
    const receiver = await OtlpReceiver.start('blackhole');
    // Queue 40 spans, 10 of them kept for control spans: 7 trees of 4 spans fit, not 8.
    const { traces, source, lines } = harness(receiver, 'http/json', { drainIntervalMs: 10, exportTimeoutMs: 300, maxQueueSize: 40 });
    try {
      source.rings[0]!.push(...Array.from({ length: 10 }, (_, i) => record({ base: i * 10_000 })));
      traces.drainNow();
      assert.deepEqual([traces.stats().batches, traces.stats().droppedQueue, traces.stats().queued], [7, 3, 28]);
      assert.equal(lines.length, 1, 'records dropped for want of queue room are reported at once');
      assert.match(lines[0]!, /for want of queue room.* failedRequests=0 lostSpans=0 droppedRecords=3$/);

      const flushed = traces.flush();
      await receiver.waitFor('black-holed request', () => receiver.blackholed === 1);
      const before = source.drains;
      await source.drained(3); // the request hangs; the drain timer does not
      assert.ok(source.drains >= before + 3);
      await flushed;
      assert.deepEqual(
        [traces.stats().exportFailures, traces.stats().droppedExport, traces.stats().exported, traces.stats().queued],
        [1, 28, 0, 0],
      );

      // The queue is free again: the same again. Counted, not logged (same interval).
      source.rings[0]!.push(...Array.from({ length: 10 }, (_, i) => record({ base: i * 10_000 })));
      traces.drainNow();
      assert.deepEqual([traces.stats().batches, traces.stats().droppedQueue], [14, 6]);
      assert.equal(lines.length, 1);

      // stop exports the last 28 spans into the black hole (300 ms) and reports what is left.
      const stopped = traces.stop();
      await receiver.waitFor('second black-holed request', () => receiver.blackholed === 2);
      await stopped;
    } finally {
      await traces.stop();
      await receiver.close();
    }
    assert.deepEqual([traces.stats().exportFailures, traces.stats().droppedExport], [2, 56]);
    assert.equal(lines.length, 2);
    assert.match(lines[1]!, /failedRequests=2 lostSpans=56 droppedRecords=3 lastError="Request timed out"$/);
  });

  test("with onExportFailure, a failed request goes to the hook (with the error), not to this module's log", async () => {
    const receiver = await OtlpReceiver.start('down');
    const hooked: Error[] = [];
    const { traces, source, lines } = harness(receiver, 'http/json', {
      endpoint: undefined,
      tracesUrl: `${receiver.endpoint}/v1/traces`,
      exportTimeoutMs: 500,
      onExportFailure: (err) => hooked.push(err),
    });
    try {
      source.rings[0]!.push(record({ base: 0 }));
      traces.drainNow();
      await traces.flush();
      assert.equal(hooked.length, 1);
      assert.match(hooked[0]!.message, /ECONNREFUSED/);
      assert.deepEqual([traces.stats().exportFailures, traces.stats().droppedExport], [1, 4]);
      assert.deepEqual(lines, []);
    } finally {
      await traces.stop();
      await receiver.close();
    }
    assert.deepEqual(lines, []);
  });

  test('a drain that throws is counted and reported, and the next drain works', async () => {
    const receiver = await OtlpReceiver.start();
    const { traces, source, lines } = harness(receiver, 'http/protobuf');
    try {
      const drainSpans = source.drainSpans;
      source.drainSpans = () => {
        throw new Error('counter file closed');
      };
      traces.drainNow();
      assert.equal(traces.stats().drainErrors, 1);
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /drainErrors=1 .*counter file closed/);
      source.drainSpans = drainSpans;
      source.rings[0]!.push(record({ base: 0 }));
      traces.drainNow();
      assert.equal(traces.stats().batches, 1);

      // A lookup that throws while a record is turned into spans: that record counts as a drain
      // error, the next one is exported.
      const interfaceName = source.interfaceName;
      source.interfaceName = () => {
        throw new Error('sysfs gone');
      };
      source.rings[0]!.push(record({ base: 0 }));
      traces.drainNow();
      source.interfaceName = interfaceName;
      source.rings[0]!.push(record({ base: 0 }));
      traces.drainNow();
      assert.deepEqual([traces.stats().drainErrors, traces.stats().batches, traces.stats().records], [2, 2, 3]);
    } finally {
      await traces.stop();
      await receiver.close();
    }
  });
});

describe('trace export helpers', () => {
  test('errno names: the first name Node lists for a number', () => {
    assert.equal(errnoMessage(11), 'errno 11: EAGAIN');
    assert.equal(errnoMessage(105), 'errno 105: ENOBUFS');
    assert.equal(errnoMessage(99_999), 'errno 99999');
  });
  test('the traces URL: endpoint + /v1/traces, or the signal-specific URL as given', () => {
    assert.throws(() => tracesUrl({}), /needs tracesUrl or endpoint/);
    assert.equal(tracesUrl({ endpoint: 'http://collector:4318' }), 'http://collector:4318/v1/traces');
    assert.equal(tracesUrl({ endpoint: 'http://collector:4318/otlp/' }), 'http://collector:4318/otlp/v1/traces');
    assert.equal(tracesUrl({ endpoint: 'http://a:4318', tracesUrl: 'http://b:9999/custom' }), 'http://b:9999/custom');
  });
  test('noTraces runs the operation and exports nothing', async () => {
    const none = noTraces();
    assert.equal(await none.controlSpan('mcr.control.add', {}, async () => 'done'), 'done');
    await assert.rejects(
      none.controlSpan('mcr.control.add', {}, async () => {
        throw new Error('refused');
      }),
      /refused/,
    );
    assert.equal(none.stats().controlSpans, 0);
  });
});

/** Gives the fake source a skipSpans that empties a ring and counts what it discarded. */
function skipWholeRings(source: FakeSource): { skipped: number } {
  const counted = { skipped: 0 };
  source.skipSpans = (worker) => {
    const n = source.rings[worker]!.length;
    counted.skipped += n;
    source.rings[worker]!.length = 0;
    return n;
  };
  return counted;
}

describe('records over the budget are skipped unread', () => {
  test('a record written after the ring was read empty is left for the next drain, not skipped as over the rate', async () => {
    const receiver = await OtlpReceiver.start();
    const { traces, source } = harness(receiver, 'http/protobuf', { spansPerSecond: 1000 });
    const skips = skipWholeRings(source);
    const drainSpans = source.drainSpans;
    let late = true;
    // The worker writes one more record between the drain's empty read and its skip.
    source.drainSpans = (worker, max) => {
      const taken = drainSpans.call(source, worker, max);
      if (taken.length === 0 && worker === 0 && late) {
        late = false;
        source.rings[0]!.push(record({ base: 90_000, worker: 0 }));
      }
      return taken;
    };
    try {
      source.rings[0]!.push(record({ base: 0, worker: 0 }));
      traces.drainNow();
      assert.deepEqual([traces.stats().batches, traces.stats().droppedRate, skips.skipped], [1, 0, 0]);
      assert.equal(source.rings[0]!.length, 1, 'the late record waits in the ring');
      traces.drainNow();
      assert.deepEqual([traces.stats().records, traces.stats().batches, traces.stats().droppedRate], [2, 2, 0]);
    } finally {
      await traces.stop();
      await receiver.close();
    }
  });

  test('with skipSpans the drain reads only what the budget could pass and counts the rest as over the rate', async () => {
    const receiver = await OtlpReceiver.start();
    // 20 spans = 5 trees of 4: at most ceil(ceil(20 / 3) / 2) = 4 records read per worker.
    const { traces, source } = harness(receiver, 'http/protobuf', { spansPerSecond: 20 });
    const skips = skipWholeRings(source);
    try {
      source.rings[0]!.push(...Array.from({ length: 100 }, (_, i) => record({ base: i * 10_000, worker: 0 })));
      source.rings[1]!.push(...Array.from({ length: 3 }, (_, i) => record({ base: i * 10_000, worker: 1 })));
      traces.drainNow();
      const stats = traces.stats();
      assert.equal(skips.skipped, 96, 'worker 0: 4 read, 96 skipped; worker 1: all 3 read');
      assert.deepEqual([stats.records, stats.batches, stats.droppedRate], [103, 5, 98]);
      assert.deepEqual(
        source.rings.map((r) => r.length),
        [0, 0],
      );
    } finally {
      await traces.stop();
      await receiver.close();
    }
  });
});
