// SPDX-License-Identifier: MIT
// Datapath: one relay between a generator and a sink. Every packet sent arrives exactly once,
// intact, and mcr's counters agree with the kernel's interface counters.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { oneHop, parseFinal, receive, send, skipReason, startDaemon, type DaemonHandle, type Topology } from '../helpers/netns';

const skip = skipReason();

describe('one hop', { skip }, () => {
  let t: Topology;
  let mcrd: DaemonHandle;

  before(async () => {
    t = await oneHop('hop1');
    mcrd = await startDaemon(t, 'relay');
  });
  after(async () => {
    await mcrd?.stop();
    await t?.destroy();
  });

  it('forwards 20,000 packets with no loss, no duplicate, no corruption', async () => {
    const add = await mcrd.ctl([
      'add',
      '--input-interface',
      'r0',
      '--input-group',
      '239.1.1.1',
      '--input-port',
      '5001',
      '--outputs',
      '239.2.2.2:5002:r1',
      '--name',
      'video',
    ]);
    assert.match(add.stdout, /[0-9a-f]{12}/);
    const rxBefore = await t.counter('relay', 'r0', 'rx_packets');
    const sink = receive(t, 'sink', { group: '239.2.2.2', port: 5002, iface: 's0', count: 20_000 });
    await sink.ready;
    const sent = await send(t, 'gen', { group: '239.1.1.1', port: 5001, source: '10.0.1.1', rate: 20_000, count: 20_000 });
    const got = await sink.result;
    assert.equal(sent.sent, 20_000);
    assert.equal(got.unique, 20_000);
    assert.equal(got.lost, 0);
    assert.equal(got.duplicates, 0);
    assert.equal(got.corrupted, 0);

    const stats = await mcrd.request('stats');
    const offered = (await t.counter('relay', 'r0', 'rx_packets')) - rxBefore;
    assert.equal(stats.totals.matched, 20_000);
    assert.equal(stats.totals.txPackets, 20_000);
    assert.equal(stats.totals.bufExhaust, 0);
    // The kernel saw the same frames mcr counted (IGMP reports are the only other rx traffic).
    assert.ok(offered >= 20_000 && offered - 20_000 <= 5, `kernel rx ${offered}`);
    assert.equal(stats.rules[0]?.name, 'video');
    assert.equal(stats.rules[0]?.matchedPackets, 20_000);
    assert.equal(stats.rules[0]?.outputs[0]?.txPackets, 20_000);
  });

  it('joins the input group on the input interface (visible in ip maddr)', async () => {
    const maddr = await t.ip('relay', ['maddr', 'show', 'dev', 'r0']);
    assert.match(maddr.stdout, /239\.1\.1\.1/);
  });

  it('prints the seed report FINAL line on SIGTERM, with exact counts', async () => {
    assert.equal(await mcrd.stop(), 0);
    const total = parseFinal(mcrd.stdout);
    assert.deepEqual(total, { recv: 20_000, matched: 20_000, egr_sent: 20_000, filtered: 0, no_match: 0, buf_exhaust: 0 });
    assert.ok(parseFinal(mcrd.stdout, 'worker 0'), 'per-worker FINAL line');
  });
});
