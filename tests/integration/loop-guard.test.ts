// SPDX-License-Identifier: MIT
// The loop guard: two relays wired into a loop, each output with `ttl: "decrement"`. A packet
// sent into the loop with TTL 8 is forwarded at each hop with one less, and dies when a relay
// receives it with TTL 1; with a fixed TTL it would go round forever. The counts are exact:
//   R2 sends TTL 8 on b1 -> R1 (a1) gets 8, 6, 4, 2 and forwards each on a2 with 7, 5, 3, 1
//                        -> R2 (b2) gets 7, 5, 3, 1, forwards 7, 5, 3 on b1 and drops TTL 1.
// So R1 receives and sends 4N, R2 receives 4N, sends 3N and counts N as ttl_expired, and then
// nothing moves any more.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rules } from '../helpers/control';
import { NO_IPV6, stats, type Stats } from '../helpers/datapath';
import { Topology, send, skipReason, sleep, startDaemon, type DaemonHandle } from '../helpers/netns';

const skip = skipReason();
const N = 1_000;
const TTL = 8;

describe('loop guard (ttl: "decrement")', { skip }, () => {
  let t: Topology;
  let r1: DaemonHandle;
  let r2: DaemonHandle;

  before(async () => {
    t = new Topology('loop');
    for (const ns of ['r1', 'r2']) await t.addNamespace(ns, NO_IPV6);
    await t.link('r1', 'a1', '10.0.1.1/24', 'r2', 'b1', '10.0.1.2/24');
    await t.link('r1', 'a2', '10.0.2.1/24', 'r2', 'b2', '10.0.2.2/24');
    [r1, r2] = await Promise.all([startDaemon(t, 'r1'), startDaemon(t, 'r2')]);
    await r1.ctl([
      'add',
      '--input-interface',
      'a1',
      '--input-group',
      '239.7.7.7',
      '--input-port',
      '7000',
      '--outputs',
      '239.7.7.7:7000:a2',
      '--ttl',
      'decrement',
      '--name',
      'r1-loop',
    ]);
    await r2.ctl([
      'add',
      '--input-interface',
      'b2',
      '--input-group',
      '239.7.7.7',
      '--input-port',
      '7000',
      '--outputs',
      '239.7.7.7:7000:b1',
      '--ttl',
      'decrement',
      '--name',
      'r2-loop',
    ]);
  });
  after(async () => {
    await r1?.stop('SIGKILL');
    await r2?.stop('SIGKILL');
    await t?.destroy();
  });

  it(`${N} packets sent with TTL ${TTL} into a two-relay loop make exactly ${TTL - 1} hops and die out`, async () => {
    assert.deepEqual(
      (await rules(r1)).map((r) => r.outputs.map((o) => o.ttl)),
      [['decrement']],
    );
    const sent = await send(t, 'r2', { group: '239.7.7.7', port: 7000, source: '10.0.1.2', rate: 2_000, count: N, ttl: TTL });
    assert.equal(sent.sent, N);
    const settled = async (d: DaemonHandle): Promise<Stats> => {
      // Settled: two reads 300 ms apart agree (the last hop is long done by then).
      for (let last = await stats(d); ; ) {
        await sleep(300);
        const now = await stats(d);
        if (now.totals.rxFrames === last.totals.rxFrames && now.totals.txPackets === last.totals.txPackets) return now;
        last = now;
      }
    };
    const [s1, s2] = [await settled(r1), await settled(r2)];
    const pick = (s: Stats) => [
      s.totals.rxFrames,
      s.totals.matched,
      s.totals.txPackets,
      s.totals.ttlExpired,
      s.totals.ringDrops,
      s.totals.txErrors,
    ];
    assert.deepEqual(pick(s1), [4 * N, 4 * N, 4 * N, 0, 0, 0], 'r1: receives TTL 8, 6, 4, 2 and forwards all');
    assert.deepEqual(pick(s2), [4 * N, 4 * N, 3 * N, N, 0, 0], 'r2: receives TTL 7, 5, 3, 1 and drops TTL 1');
    // Dead: nothing more arrives anywhere.
    await sleep(500);
    assert.deepEqual(pick(await stats(r1)), pick(s1));
    assert.deepEqual(pick(await stats(r2)), pick(s2));
    assert.match((await r2.ctl(['stats'])).stdout, /TTL_EXPIRED/);
  });
});
