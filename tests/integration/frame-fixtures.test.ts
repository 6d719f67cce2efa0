// SPDX-License-Identifier: MIT
// The shared frame fixture table (tests/fixtures/frames.json) on a running relay: every fixture
// that can be sent is injected into the rule's input in one batch, and the relay's counters per
// filter reason, matched and no match equal the table's counts exactly. Fixtures marked
// kernelDrops arrive on the interface (its kernel counter) but never reach the data plane. MTU 9000
// on every link, for the jumbo fixture.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { inject, udpFrame } from '../helpers/frames';
import { filterReasonKey, readFrameFixtures } from '../helpers/frame-fixtures';
import { stats, statsAfterRx, type Stats } from '../helpers/control';
import { quietOneHop } from '../helpers/datapath';
import { skipReason, startDaemon, type DaemonHandle, type Topology } from '../helpers/netns';

const skip = skipReason();
const { defaults, fixtures } = readFrameFixtures();
const OUT_GROUP = '239.2.2.2';
const OUT_PORT = 5002;

describe('frame fixture table on a relay', { skip }, () => {
  let t: Topology;
  let mcrd: DaemonHandle;

  before(async () => {
    t = await quietOneHop('ffix', { mtu: 9000 });
    mcrd = await startDaemon(t, 'relay');
    // The table's matched fixtures all go to its default group and port (the unit test checks).
    await mcrd.ctl([
      'add',
      '--input-interface',
      'r0',
      '--input-group',
      defaults.dst,
      '--input-port',
      String(defaults.port),
      '--outputs',
      `${OUT_GROUP}:${OUT_PORT}:r1`,
      '--name',
      'fixtures',
    ]);
  });
  after(async () => {
    await mcrd?.stop();
    await t?.destroy();
  });

  it('counts every fixture under its verdict, exactly; the kernel drops those marked kernelDrops', async () => {
    const sent = fixtures.filter((f) => f.sendable);
    const reaching = sent.filter((f) => !f.kernelDrops);
    const count = (verdict: string): number => reaching.filter((f) => f.verdict === verdict).length;
    // Last, a well-formed frame no rule matches: once it is counted, the batch has been read.
    const marker = udpFrame({ dst: defaults.dst, dstPort: defaults.port + 1000 });

    const start: Stats = await stats(mcrd);
    const r0Before = await t.counter('relay', 'r0', 'rx_packets');
    assert.equal(await inject(t, 'gen', 'g0', [...sent.map((f) => f.frame), marker]), sent.length + 1, 'mcrgen injected every frame');
    const now = await statsAfterRx(mcrd, start.totals.rxFrames + reaching.length + 1);
    const d = (k: 'rxFrames' | 'matched' | 'noMatch' | 'filtered' | 'txPackets' | 'txErrors'): number => now.totals[k] - start.totals[k];

    const expected = Object.fromEntries(Object.keys(start.totals.filteredByReason).map((k) => [k, 0]));
    for (const f of reaching)
      if (f.verdict !== 'matched') expected[filterReasonKey(f.verdict)] = (expected[filterReasonKey(f.verdict)] ?? 0) + 1;
    const got = Object.fromEntries(
      Object.entries(now.totals.filteredByReason).map(([k, v]) => [k, v - (start.totals.filteredByReason[k] ?? 0)]),
    );
    assert.deepEqual(got, expected, 'filtered, per reason');
    assert.equal(d('filtered'), reaching.length - count('matched'), 'filtered');
    assert.equal(d('matched'), count('matched'), 'matched');
    assert.equal(d('noMatch'), 1, 'noMatch: the marker only');
    assert.equal(d('rxFrames'), reaching.length + 1, 'rxFrames: the kernel-dropped fixtures never reached the data plane');
    assert.equal(d('txPackets'), count('matched'), 'every matched fixture forwarded once');
    assert.equal(d('txErrors'), 0, 'txErrors');
    // The quiet topology has no other traffic: r0 received exactly what was injected.
    assert.equal((await t.counter('relay', 'r0', 'rx_packets')) - r0Before, sent.length + 1, 'kernel rx on r0');
  });
});
