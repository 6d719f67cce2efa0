// SPDX-License-Identifier: MIT
// Datapath with 30 input groups on one interface, more than the kernel's igmp_max_memberships
// (20) per socket: all 30 are joined, and every rule forwards exactly what was sent to its group.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TempDir, assertDelivered, inBatches, linkCounters, quietOneHop, stats } from '../helpers/datapath';
import { receive, send, skipReason, startDaemon, type DaemonHandle, type Topology } from '../helpers/netns';

const skip = skipReason();
const GROUPS = 30;
const PER_GROUP = 500;
// Rule i (1..30): r0 239.10.0.i:5000 -> r1 239.20.0.i:6000.
const RULES = Array.from({ length: GROUPS }, (_, k) => ({
  name: `g${k + 1}`,
  input: { interface: 'r0', group: `239.10.0.${k + 1}`, port: 5000 },
  outputs: [{ interface: 'r1', group: `239.20.0.${k + 1}`, port: 6000 }],
}));

describe('many groups', { skip }, () => {
  let t: Topology;
  let dir: TempDir;
  let mcrd: DaemonHandle;

  before(async () => {
    dir = new TempDir();
    t = await quietOneHop('grps');
    mcrd = await startDaemon(t, 'relay', { configFile: dir.config('mcr.json5', { rules: RULES }) });
  });
  after(async () => {
    await mcrd?.stop();
    await t?.destroy();
    dir?.remove();
  });

  it(`joins all ${GROUPS} input groups on r0 (ip maddr)`, async () => {
    const limit = await t.exec('relay', 'sysctl', ['-n', 'net.ipv4.igmp_max_memberships']);
    assert.ok(Number(limit.stdout) < GROUPS, `igmp_max_memberships is ${limit.stdout.trim()}: this test needs it below ${GROUPS}`);
    const maddr = await t.ip('relay', ['maddr', 'show', 'dev', 'r0']);
    const joined = [...maddr.stdout.matchAll(/inet\s+(239\.10\.0\.\d+)/g)].map((m) => m[1]).sort();
    assert.deepEqual(joined, RULES.map((r) => r.input.group).sort());
    const list = await mcrd.request('list');
    assert.equal(list.rules.length, GROUPS);
    for (const r of list.rules) assert.deepEqual(r.status, { input: 'up', outputs: ['up'] });
  });

  it(`forwards ${PER_GROUP} packets of each of the ${GROUPS} groups, exactly, to the right output`, async () => {
    // Receivers on a sample of outputs, including both sides of the 20-per-socket boundary.
    // They share port 6000, so each also sees the other sampled groups (IP_MULTICAST_ALL) and
    // mcrgen counts those as foreign by IP destination.
    const sampled = [1, 2, 20, 21, 30];
    const sinks = sampled.map((i) =>
      receive(t, 'sink', { group: `239.20.0.${i}`, port: 6000, iface: 's0', count: PER_GROUP, timeoutS: 15 }),
    );
    await Promise.all(sinks.map((s) => s.ready));
    const r0 = await linkCounters(t, 'relay', 'r0');
    const r1 = await linkCounters(t, 'relay', 'r1');

    await inBatches(RULES, 5, async (rule) => {
      const sent = await send(t, 'gen', { group: rule.input.group, port: 5000, source: '10.0.1.1', rate: 5_000, count: PER_GROUP });
      assert.equal(sent.sent, PER_GROUP, rule.name);
    });
    for (const [j, s] of sinks.entries()) assertDelivered(await s.result, PER_GROUP, `239.20.0.${sampled[j]}`, { allowForeign: true });

    const s = await stats(mcrd);
    assert.deepEqual(
      s.rules.map((r) => `${r.name}: ${r.matchedPackets} -> ${r.outputs.map((o) => `${o.group} ${o.txPackets}/${o.txErrors}`).join(', ')}`),
      RULES.map((r) => `${r.name}: ${PER_GROUP} -> ${r.outputs[0]!.group} ${PER_GROUP}/0`),
    );
    const total = GROUPS * PER_GROUP;
    assert.deepEqual(
      [
        s.totals.rxFrames,
        s.totals.matched,
        s.totals.noMatch,
        s.totals.filtered,
        s.totals.txPackets,
        s.totals.txErrors,
        s.totals.bufExhaust,
      ],
      [total, total, 0, 0, total, 0, 0],
    );
    // IPv6 is off, the generator joins nothing and nothing joins on r1, so these are exact.
    assert.equal((await t.counter('relay', 'r0', 'rx_packets')) - r0.rx, total, 'kernel rx on r0');
    assert.equal((await t.counter('relay', 'r1', 'tx_packets')) - r1.tx, total, 'kernel tx on r1');
  });
});
