// SPDX-License-Identifier: MIT
// Datapath fan-out: one input copied to 3 outputs (on three links, and as three groups on one
// link) and to 50 outputs on one link. Every copy arrives exactly once; the per-output counters
// of all outputs and the kernel's tx counters are exact.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NO_IPV6, assertDelivered, linkCounters, ruleStats, stats, type Stats } from '../helpers/datapath';
import { Topology, receive, send, skipReason, startDaemon, type DaemonHandle } from '../helpers/netns';

const skip = skipReason();

/**
 *   gen g0 10.0.1.1 <-> r0 10.0.1.2   relay   r1 10.0.2.1 <-> s0 10.0.2.2 sink1
 *                                             r2 10.0.3.1 <-> s0 10.0.3.2 sink2
 *                                             r3 10.0.4.1 <-> s0 10.0.4.2 sink3
 */
async function fanOutTopology(): Promise<Topology> {
  const t = new Topology('fan');
  for (const ns of ['gen', 'relay', 'sink1', 'sink2', 'sink3']) await t.addNamespace(ns, NO_IPV6);
  await t.link('gen', 'g0', '10.0.1.1/24', 'relay', 'r0', '10.0.1.2/24');
  for (const i of [1, 2, 3]) await t.link('relay', `r${i}`, `10.0.${i + 1}.1/24`, `sink${i}`, 's0', `10.0.${i + 1}.2/24`);
  return t;
}

describe('fan-out', { skip }, () => {
  let t: Topology;
  let mcrd: DaemonHandle;

  before(async () => {
    t = await fanOutTopology();
    mcrd = await startDaemon(t, 'relay');
  });
  after(async () => {
    await mcrd?.stop();
    await t?.destroy();
  });

  /** Kernel tx on r1..r3, rx on r0 and the relay's totals, to take deltas over one test. */
  async function snapshot(): Promise<{ rx0: number; tx: number[]; totals: Stats['totals'] }> {
    const links = await Promise.all(['r0', 'r1', 'r2', 'r3'].map((i) => linkCounters(t, 'relay', i)));
    return { rx0: links[0]!.rx, tx: links.slice(1).map((l) => l.tx), totals: (await stats(mcrd)).totals };
  }

  function assertTotalsDelta(a: Stats['totals'], b: Stats['totals'], matched: number, tx: number): void {
    assert.deepEqual(
      {
        rx: b.rxFrames - a.rxFrames,
        matched: b.matched - a.matched,
        tx: b.txPackets - a.txPackets,
        txErrors: b.txErrors - a.txErrors,
        bufExhaust: b.bufExhaust - a.bufExhaust,
        filtered: b.filtered - a.filtered,
        noMatch: b.noMatch - a.noMatch,
      },
      { rx: matched, matched, tx, txErrors: 0, bufExhaust: 0, filtered: 0, noMatch: 0 },
    );
  }

  it('1:3 on three links: each sink gets all 10,000 packets', async () => {
    const N = 10_000;
    await mcrd.ctl([
      'add',
      '--input-interface',
      'r0',
      '--input-group',
      '239.1.1.1',
      '--input-port',
      '5001',
      '--outputs',
      '239.2.2.1:5002:r1,239.2.2.2:5002:r2,239.2.2.3:5002:r3',
      '--name',
      'three-links',
    ]);
    const sinks = [1, 2, 3].map((i) => receive(t, `sink${i}`, { group: `239.2.2.${i}`, port: 5002, iface: 's0', count: N }));
    await Promise.all(sinks.map((s) => s.ready));
    const before_ = await snapshot();
    const sent = await send(t, 'gen', { group: '239.1.1.1', port: 5001, source: '10.0.1.1', rate: 10_000, count: N });
    assert.equal(sent.sent, N);
    for (const [i, s] of sinks.entries()) assertDelivered(await s.result, N, `sink${i + 1}`);
    const after_ = await snapshot();

    const rule = ruleStats(await stats(mcrd), 'three-links');
    assert.equal(rule.matchedPackets, N);
    assert.deepEqual(
      rule.outputs.map((o) => [o.interface, o.txPackets, o.txErrors]),
      [
        ['r1', N, 0],
        ['r2', N, 0],
        ['r3', N, 0],
      ],
    );
    assertTotalsDelta(before_.totals, after_.totals, N, 3 * N);
    // IPv6 is off and nothing joins on r1..r3 or sends unicast, so the kernel sent exactly mcr's copies.
    assert.equal(after_.rx0 - before_.rx0, N, 'kernel rx on r0');
    assert.deepEqual(
      after_.tx.map((v, i) => v - before_.tx[i]!),
      [N, N, N],
      'kernel tx on r1, r2, r3',
    );
  });

  it('1:3 on one link: three groups on the same port, each receiver gets its group exactly', async () => {
    const N = 10_000;
    await mcrd.ctl([
      'add',
      '--input-interface',
      'r0',
      '--input-group',
      '239.1.1.2',
      '--input-port',
      '5001',
      '--outputs',
      '239.3.3.1:5003:r1,239.3.3.2:5003:r1,239.3.3.3:5003:r1',
      '--name',
      'three-groups',
    ]);
    // Three sockets on 0.0.0.0:5003 in one namespace: with IP_MULTICAST_ALL (Linux default) each
    // also gets the other two groups, which mcrgen counts as foreign by the IP destination, so
    // `unique` proves each copy carried its own group.
    const sinks = [1, 2, 3].map((i) => receive(t, 'sink1', { group: `239.3.3.${i}`, port: 5003, iface: 's0', count: N }));
    await Promise.all(sinks.map((s) => s.ready));
    const before_ = await snapshot();
    const sent = await send(t, 'gen', { group: '239.1.1.2', port: 5001, source: '10.0.1.1', rate: 10_000, count: N });
    assert.equal(sent.sent, N);
    for (const [i, s] of sinks.entries()) assertDelivered(await s.result, N, `239.3.3.${i + 1}`, { allowForeign: true });
    const after_ = await snapshot();

    const rule = ruleStats(await stats(mcrd), 'three-groups');
    assert.equal(rule.matchedPackets, N);
    assert.deepEqual(
      rule.outputs.map((o) => [o.group, o.txPackets, o.txErrors]),
      [
        ['239.3.3.1', N, 0],
        ['239.3.3.2', N, 0],
        ['239.3.3.3', N, 0],
      ],
    );
    assertTotalsDelta(before_.totals, after_.totals, N, 3 * N);
    assert.equal(after_.rx0 - before_.rx0, N, 'kernel rx on r0');
    assert.deepEqual(
      after_.tx.map((v, i) => v - before_.tx[i]!),
      [3 * N, 0, 0],
      'kernel tx on r1, r2, r3',
    );
  });

  it('1:50 on one link: all 50 outputs send every packet (per-output counters), 5 sampled receivers get them all', async () => {
    const N = 2_000;
    // Output i is 239.5.0.i:(6000+i) on r1.
    const outputs = Array.from({ length: 50 }, (_, k) => ({ group: `239.5.0.${k + 1}`, port: 6001 + k }));
    await mcrd.ctl([
      'add',
      '--input-interface',
      'r0',
      '--input-group',
      '239.1.1.3',
      '--input-port',
      '5001',
      '--outputs',
      outputs.map((o) => `${o.group}:${o.port}:r1`).join(','),
      '--name',
      'fifty',
    ]);
    const sampled = [0, 12, 24, 37, 49];
    const sinks = sampled.map((k) => receive(t, 'sink1', { group: outputs[k]!.group, port: outputs[k]!.port, iface: 's0', count: N }));
    await Promise.all(sinks.map((s) => s.ready));
    const before_ = await snapshot();
    const sink1Before = await t.counter('sink1', 's0', 'rx_packets');
    // 1,000 pps in is 50,000 pps out of the relay.
    const sent = await send(t, 'gen', { group: '239.1.1.3', port: 5001, source: '10.0.1.1', rate: 1_000, count: N });
    assert.equal(sent.sent, N);
    for (const [j, s] of sinks.entries()) assertDelivered(await s.result, N, `output ${sampled[j]! + 1}`);
    const after_ = await snapshot();

    const rule = ruleStats(await stats(mcrd), 'fifty');
    assert.equal(rule.matchedPackets, N);
    assert.equal(rule.outputs.length, 50);
    assert.deepEqual(
      rule.outputs.map((o) => `${o.group}:${o.port} ${o.txPackets}/${o.txErrors}`),
      outputs.map((o) => `${o.group}:${o.port} ${N}/0`),
    );
    assertTotalsDelta(before_.totals, after_.totals, N, 50 * N);
    assert.equal(after_.rx0 - before_.rx0, N, 'kernel rx on r0');
    assert.deepEqual(
      after_.tx.map((v, i) => v - before_.tx[i]!),
      [50 * N, 0, 0],
      'kernel tx on r1, r2, r3',
    );
    assert.equal((await t.counter('sink1', 's0', 'rx_packets')) - sink1Before, 50 * N, 'kernel rx on sink1 s0');
  });
});
