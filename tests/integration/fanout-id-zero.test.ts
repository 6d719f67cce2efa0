// SPDX-License-Identifier: MIT
// Every packet exactly once with several workers when the kernel hands out fanout id 0, as it
// does to the first relay on a freshly booted machine (and every 65,536th group after). The
// helper fanout_advance moves the kernel's global id counter so that the ring set mcrd opens
// next gets id 0; mcrd's log line shows that it did, and the counts show no frame reached two
// workers: mcrgen sees no duplicate, the kernel sent one frame per packet, the FINAL lines add up.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { addStreamRules, addStreamSources, assertDelivered, quietOneHop, stats, testStreams } from '../helpers/datapath';
import { ROOT, parseFinal, receive, send, skipReason, startDaemon, type DaemonHandle, type Topology } from '../helpers/netns';

const skip = skipReason();
const FANOUT_ADVANCE = path.join(ROOT, 'build', 'Release', 'fanout_advance');
const STREAMS = testStreams(() => 1_000);
const TOTAL = STREAMS.reduce((n, s) => n + s.count, 0);

for (const workers of [2, 3, 4]) {
  describe(`${workers} workers, fanout id 0`, { skip }, () => {
    let t: Topology | undefined;
    let mcrd: DaemonHandle | undefined;
    after(async () => {
      await mcrd?.stop('SIGKILL');
      await t?.destroy();
    });

    it(`the input's ${workers} rings share group 0 and ${TOTAL} packets are each forwarded once`, async () => {
      t = await quietOneHop(`fz${workers}`);
      await addStreamSources(t, STREAMS);
      // The kernel's id counter is global: any other process creating a unique group between
      // fanout_advance and the rule add (another test run on the machine) moves it on, and then
      // this run would not test id 0. So it tries again, up to three times, until the log shows
      // group 0; a relay that never gets its rings into one group 0 fails.
      const groups: string[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        await mcrd?.stop('SIGKILL');
        mcrd = await startDaemon(t, 'relay', { args: ['--workers', String(workers)] });
        // The ring set opens when the first rule for r0 is added: the next unique group is id 0.
        await t.exec('relay', FANOUT_ADVANCE, ['65535'], { timeoutMs: 120_000 });
        await addStreamRules(mcrd, STREAMS);
        const logged = mcrd.stderr.match(new RegExp(`input r0: ${workers} rings, fanout group (\\d+)`));
        groups.push(logged?.[1] ?? 'none');
        if (logged?.[1] === '0') break;
      }
      assert.equal(
        groups[groups.length - 1],
        '0',
        `the input's rings in one fanout group 0 (groups logged per attempt: ${groups.join(', ')}); mcrd's log: ${mcrd?.stderr}`,
      );
      if (!mcrd) return;

      const sinks = STREAMS.map((s) =>
        receive(t!, 'sink', { group: s.output, port: s.port, iface: 's0', count: s.count, stream: s.id, timeoutS: 10 }),
      );
      await Promise.all(sinks.map((r) => r.ready));
      const txBefore = await t.counter('relay', 'r1', 'tx_packets');
      const sent = await Promise.all(
        STREAMS.map((s) => send(t!, 'gen', { group: s.input, port: 5001, source: s.source, rate: 2_000, count: s.count, stream: s.id })),
      );
      assert.deepEqual(
        sent.map((r) => r.sent),
        STREAMS.map((s) => s.count),
      );
      for (const [k, r] of sinks.entries()) assertDelivered(await r.result, STREAMS[k]!.count, `stream ${k + 1}`);
      assert.equal((await t.counter('relay', 'r1', 'tx_packets')) - txBefore, TOTAL, 'kernel tx on r1: one frame per packet');

      const s = await stats(mcrd);
      assert.deepEqual([s.totals.rxFrames, s.totals.matched, s.totals.txPackets, s.totals.ringDrops], [TOTAL, TOTAL, TOTAL, 0]);
      assert.equal(await mcrd.stop(), 0);
      assert.deepEqual(parseFinal(mcrd.stdout), { recv: TOTAL, matched: TOTAL, egr_sent: TOTAL, filtered: 0, no_match: 0, buf_exhaust: 0 });
    });
  });
}
