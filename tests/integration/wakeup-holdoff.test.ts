// SPDX-License-Identifier: MIT
// wakeupHoldoffUs: a worker woken from a short sleep (dense traffic) waits the holdoff before
// draining, so one wake-up carries many frames; one woken from a long sleep (a sparse stream)
// forwards at once. Both deliver every packet exactly once; the `holdoffs` counter says which
// happened. A reload to 0 restarts the data plane (the reply says so) and holds off no more.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { quietOneHop, stats, TempDir } from '../helpers/datapath';
import { skipReason, startDaemon, streamExactly, type DaemonHandle, type Topology } from '../helpers/netns';

const skip = skipReason();
const RULE = {
  name: 'h',
  input: { interface: 'r0', group: '239.1.1.1', port: 5001 },
  outputs: [{ group: '239.2.2.2', port: 5002, interface: 'r1' }],
};
const STREAM = { group: '239.1.1.1', port: 5001, out: '239.2.2.2', outPort: 5002 };

describe('wake-up holdoff', { skip }, () => {
  it('holds off only after short sleeps: a 20 pps stream never, a 50k pps stream often, none after a reload to 0; every packet arrives', async () => {
    const dir = new TempDir();
    const t: Topology = await quietOneHop('hof');
    let mcrd: DaemonHandle | undefined;
    try {
      const configFile = dir.config('mcr.json5', { workers: 1, wakeupHoldoffUs: 50, rules: [RULE] });
      mcrd = await startDaemon(t, 'relay', { configFile });
      // 50 ms between packets: every sleep is far longer than 2 holdoffs (100 µs).
      await streamExactly(t, { ...STREAM, count: 40, rate: 20 });
      const sparse = (await stats(mcrd)).totals;
      assert.equal(sparse.txPackets, 40);
      assert.ok(sparse.wakeups >= 40, `a wake-up per packet (${sparse.wakeups})`);
      assert.equal(sparse.holdoffs, 0, 'no holdoff for a sparse stream');

      // mcrgen sends 50 packets a millisecond in one sendmmsg: the worker wakes within
      // microseconds of falling asleep, and holds off.
      await streamExactly(t, { ...STREAM, count: 50_000, rate: 50_000 });
      const dense = (await stats(mcrd)).totals;
      const wakeups = dense.wakeups - sparse.wakeups;
      const holdoffs = dense.holdoffs - sparse.holdoffs;
      assert.equal(dense.txPackets, 40 + 50_000);
      assert.ok(holdoffs > 0, 'held off for a dense stream');
      assert.ok(holdoffs <= wakeups, `holdoffs ${holdoffs} <= wake-ups ${wakeups}`);
      // Plain `mcrctl stats` shows how the workers waited, not only --json.
      const text = (await mcrd.ctl(['stats'])).stdout;
      assert.match(text, /^WORKER +BATCHES +WAKEUPS +HOLDOFFS$/m);

      assert.equal(dir.config('mcr.json5', { workers: 1, wakeupHoldoffUs: 0, rules: [RULE] }), configFile);
      const reload = await mcrd.ctl(['config', 'reload']);
      assert.equal(reload.stdout, 'reloaded: 1 rule (0 added, 0 changed, 0 removed); data plane restarted (wakeupHoldoffUs changed)\n');
      const restarted = (await stats(mcrd)).totals;
      await streamExactly(t, { ...STREAM, count: 50_000, rate: 50_000 });
      const off = (await stats(mcrd)).totals;
      assert.equal(off.txPackets - restarted.txPackets, 50_000);
      assert.equal(off.holdoffs - restarted.holdoffs, 0, 'no holdoff with wakeupHoldoffUs 0');
    } finally {
      await mcrd?.stop();
      await t.destroy();
      dir.remove();
    }
  });
});
