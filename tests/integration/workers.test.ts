// SPDX-License-Identifier: MIT
// Datapath with two forwarding workers (mcrd --workers 2): four streams are each delivered exactly
// once (no packet handled by both workers), every stream stays on one worker (hash fanout), and
// the per-worker counters add up to the totals.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  addStreamRules,
  addStreamSources,
  assertDelivered,
  linkCounters,
  quietOneHop,
  stats,
  testStreams,
  type Workers,
} from '../helpers/datapath';
import { parseFinal, receive, send, skipReason, startDaemon, type DaemonHandle, type Topology } from '../helpers/netns';

const skip = skipReason();
// The counts are 1,000 x 2^k, so any sum of whole streams is a distinct multiple of 1,000 and a
// worker's rx count tells exactly which streams it carried.
const STREAMS = testStreams((k) => 1_000 << k);
const TOTAL = STREAMS.reduce((n, s) => n + s.count, 0);

describe('two workers', { skip }, () => {
  let t: Topology;
  let mcrd: DaemonHandle;

  before(async () => {
    t = await quietOneHop('wrk');
    await addStreamSources(t, STREAMS);
    mcrd = await startDaemon(t, 'relay', { args: ['--workers', '2'] });
    await addStreamRules(mcrd, STREAMS);
  });
  after(async () => {
    await mcrd?.stop();
    await t?.destroy();
  });

  it('mcrctl workers lists 2 workers', async () => {
    const w = JSON.parse((await mcrd.ctl(['workers', '--json'])).stdout) as Workers;
    assert.equal(w.dataplane.state, 'running');
    assert.deepEqual(
      w.workers.map((x) => x.worker),
      [0, 1],
    );
  });

  it(`delivers 4 streams (${TOTAL.toLocaleString('en')} packets) exactly once; each stream on one worker; per-worker counters sum to the totals`, async (ctx) => {
    const sinks = STREAMS.map((s) =>
      receive(t, 'sink', { group: s.output, port: s.port, iface: 's0', count: s.count, stream: s.id, timeoutS: 10 }),
    );
    await Promise.all(sinks.map((r) => r.ready));
    const r1Before = await linkCounters(t, 'relay', 'r1');
    // In parallel, 10,000 pps in all at first.
    const sent = await Promise.all(
      STREAMS.map((s) => send(t, 'gen', { group: s.input, port: 5001, source: s.source, rate: 2_500, count: s.count, stream: s.id })),
    );
    assert.deepEqual(
      sent.map((r) => r.sent),
      STREAMS.map((s) => s.count),
    );
    for (const [k, r] of sinks.entries()) assertDelivered(await r.result, STREAMS[k]!.count, `stream ${k + 1}`);

    const s = await stats(mcrd);
    assert.deepEqual(
      [s.totals.rxFrames, s.totals.matched, s.totals.txPackets, s.totals.txErrors, s.totals.ringDrops, s.totals.bufExhaust],
      [TOTAL, TOTAL, TOTAL, 0, 0, 0],
    );
    assert.deepEqual(
      s.rules.map((r) => [r.name, r.matchedPackets, r.outputs[0]?.txPackets]),
      STREAMS.map((x) => [`stream${x.id}`, x.count, x.count]),
    );
    // The kernel sent exactly one frame per packet on r1: no copy went out twice.
    assert.equal((await t.counter('relay', 'r1', 'tx_packets')) - r1Before.tx, TOTAL, 'kernel tx on r1');

    const w = JSON.parse((await mcrd.ctl(['workers', '--json'])).stdout) as Workers;
    assert.equal(w.workers.length, 2);
    assert.equal(
      w.workers.reduce((n, x) => n + x.rxFrames, 0),
      TOTAL,
      'sum of per-worker rx',
    );
    assert.equal(
      w.workers.reduce((n, x) => n + x.txPackets, 0),
      TOTAL,
      'sum of per-worker tx',
    );
    assert.deepEqual(
      w.workers.map((x) => x.rxFrames),
      s.workers.map((x) => x.rxFrames),
      'workers and stats agree',
    );
    for (const x of w.workers) {
      // A stream split across workers would leave a remainder (and could be reordered).
      assert.equal(x.rxFrames % 1_000, 0, `worker ${x.worker} rx ${x.rxFrames} is not a sum of whole streams`);
      assert.equal(x.txPackets, x.rxFrames, `worker ${x.worker} sent one copy per packet`);
      assert.equal(x.ringDrops, 0);
    }
    // Which worker a stream lands on depends on the kernel's per-boot flow-hash seed and the
    // senders' ephemeral ports, so the split is printed, not asserted.
    const split = w.workers.map(
      (x) =>
        `worker ${x.worker}: ${x.rxFrames} rx = streams [${STREAMS.filter((st) => (x.rxFrames / 1_000) & (1 << (st.id - 1)))
          .map((st) => st.id)
          .join(', ')}]`,
    );
    ctx.diagnostic(`fanout split: ${split.join('; ')}`);
  });

  it('SIGTERM prints per-worker FINAL lines that add up to the exact total', async () => {
    assert.equal(await mcrd.stop(), 0);
    const total = parseFinal(mcrd.stdout);
    assert.deepEqual(total, { recv: TOTAL, matched: TOTAL, egr_sent: TOTAL, filtered: 0, no_match: 0, buf_exhaust: 0 });
    const w0 = parseFinal(mcrd.stdout, 'worker 0');
    const w1 = parseFinal(mcrd.stdout, 'worker 1');
    assert.ok(w0 && w1, 'FINAL lines for worker 0 and worker 1');
    assert.equal(w0.recv + w1.recv, TOTAL);
    assert.equal(w0.egr_sent + w1.egr_sent, TOTAL);
  });
});
