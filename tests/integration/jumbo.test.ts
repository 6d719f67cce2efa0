// SPDX-License-Identifier: MIT
// Datapath with MTU 9000 on every link: full-size 8972-byte payloads (9000-byte IP packets) and
// 2000-byte payloads are forwarded exactly once, intact and unfragmented.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertDelivered, linkCounters, quietOneHop, ruleStats, stats } from '../helpers/datapath';
import { receive, send, skipReason, startDaemon, type DaemonHandle, type Topology } from '../helpers/netns';

const skip = skipReason();
const N = 5_000;

describe('jumbo frames', { skip }, () => {
  let t: Topology;
  let mcrd: DaemonHandle;

  before(async () => {
    t = await quietOneHop('jumb', { mtu: 9000 });
    mcrd = await startDaemon(t, 'relay');
  });
  after(async () => {
    await mcrd?.stop();
    await t?.destroy();
  });

  async function forward(name: string, inputGroup: string, outputPort: number, size: number, rate: number): Promise<void> {
    await mcrd.ctl([
      'add',
      '--input-interface',
      'r0',
      '--input-group',
      inputGroup,
      '--input-port',
      '5001',
      '--outputs',
      `239.2.2.2:${outputPort}:r1`,
      '--name',
      name,
    ]);
    const sink = receive(t, 'sink', { group: '239.2.2.2', port: outputPort, iface: 's0', count: N });
    await sink.ready;
    const before_ = {
      r0: await linkCounters(t, 'relay', 'r0'),
      r1: await linkCounters(t, 'relay', 'r1'),
      totals: (await stats(mcrd)).totals,
    };
    const sent = await send(t, 'gen', { group: inputGroup, port: 5001, source: '10.0.1.1', rate, count: N, size });
    assert.equal(sent.sent, N);
    const got = await sink.result;
    assertDelivered(got, N, 'sink');
    assert.equal(got.bytes, N * size, 'bytes received');

    const s = await stats(mcrd);
    const rule = ruleStats(s, name);
    assert.deepEqual([rule.matchedPackets, rule.matchedBytes], [N, N * size]);
    assert.deepEqual(
      rule.outputs.map((o) => [o.txPackets, o.txBytes, o.txErrors]),
      [[N, N * size, 0]],
    );
    const d = (k: 'filtered' | 'noMatch' | 'txErrors' | 'bufExhaust'): number => s.totals[k] - before_.totals[k];
    assert.deepEqual(
      { filtered: d('filtered'), noMatch: d('noMatch'), txErrors: d('txErrors'), bufExhaust: d('bufExhaust') },
      { filtered: 0, noMatch: 0, txErrors: 0, bufExhaust: 0 },
    );
    // One frame per packet on both links: nothing was fragmented (IPv6 off, nothing else sends).
    assert.equal((await t.counter('relay', 'r0', 'rx_packets')) - before_.r0.rx, N, 'kernel rx on r0');
    assert.equal((await t.counter('relay', 'r1', 'tx_packets')) - before_.r1.tx, N, 'kernel tx on r1');
  }

  it('links and the relay see MTU 9000', async () => {
    for (const [ns, ifname] of [
      ['gen', 'g0'],
      ['relay', 'r0'],
      ['relay', 'r1'],
      ['sink', 's0'],
    ] as const) {
      const link = await t.ip(ns, ['-j', 'link', 'show', 'dev', ifname]);
      assert.equal((JSON.parse(link.stdout) as { mtu: number }[])[0]?.mtu, 9000, `${ns} ${ifname}`);
    }
  });

  it(`forwards ${N.toLocaleString('en')} packets with 8972-byte payloads (9000-byte IP packets)`, async () => {
    await forward('jumbo-max', '239.1.1.1', 5002, 8972, 5_000);
  });

  it(`forwards ${N.toLocaleString('en')} packets with 2000-byte payloads`, async () => {
    await forward('jumbo-2000', '239.1.1.2', 5003, 2000, 10_000);
  });
});
