// SPDX-License-Identifier: MIT
// Datapath multicast -> unicast: a rule whose output "group" is the sink's own unicast address
// delivers every packet exactly once, alone and next to a multicast output of the same rule.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertDelivered, quietOneHop, ruleStats, stats } from '../helpers/datapath';
import { receive, send, skipReason, startDaemon, type DaemonHandle, type Topology } from '../helpers/netns';

const skip = skipReason();
const N = 10_000;

describe('multicast to unicast', { skip }, () => {
  let t: Topology;
  let mcrd: DaemonHandle;

  before(async () => {
    t = await quietOneHop('ucast');
    mcrd = await startDaemon(t, 'relay');
  });
  after(async () => {
    await mcrd?.stop();
    await t?.destroy();
  });

  it(`multicast in, unicast out to 10.0.2.2: all ${N.toLocaleString('en')} packets arrive once, intact`, async () => {
    await mcrd.ctl([
      'add',
      '--input-interface',
      'r0',
      '--input-group',
      '239.1.1.1',
      '--input-port',
      '5001',
      '--outputs',
      '10.0.2.2:6001:r1',
      '--name',
      'to-unicast',
    ]);
    const sink = receive(t, 'sink', { group: '10.0.2.2', port: 6001, iface: 's0', count: N });
    await sink.ready;
    // The first packets wait in the kernel's neighbour queue while the relay ARPs for 10.0.2.2;
    // the queue holds far more than the few that pile up at this rate.
    const sent = await send(t, 'gen', { group: '239.1.1.1', port: 5001, source: '10.0.1.1', rate: 10_000, count: N });
    assert.equal(sent.sent, N);
    assertDelivered(await sink.result, N, 'unicast sink');

    const s = await stats(mcrd);
    const rule = ruleStats(s, 'to-unicast');
    assert.equal(rule.matchedPackets, N);
    assert.deepEqual(
      rule.outputs.map((o) => [o.group, o.port, o.txPackets, o.txErrors]),
      [['10.0.2.2', 6001, N, 0]],
    );
    assert.deepEqual([s.totals.matched, s.totals.txPackets, s.totals.txErrors, s.totals.bufExhaust], [N, N, 0, 0]);
  });

  it('one rule with a multicast and a unicast output: both get every packet', async () => {
    await mcrd.ctl([
      'add',
      '--input-interface',
      'r0',
      '--input-group',
      '239.1.1.2',
      '--input-port',
      '5001',
      '--outputs',
      '239.2.2.2:6002:r1,10.0.2.2:6003:r1',
      '--name',
      'mixed',
    ]);
    const mcast = receive(t, 'sink', { group: '239.2.2.2', port: 6002, iface: 's0', count: N });
    const ucast = receive(t, 'sink', { group: '10.0.2.2', port: 6003, iface: 's0', count: N });
    await Promise.all([mcast.ready, ucast.ready]);
    const before_ = (await stats(mcrd)).totals;
    const sent = await send(t, 'gen', { group: '239.1.1.2', port: 5001, source: '10.0.1.1', rate: 10_000, count: N });
    assert.equal(sent.sent, N);
    assertDelivered(await mcast.result, N, 'multicast output');
    assertDelivered(await ucast.result, N, 'unicast output');

    const s = await stats(mcrd);
    const rule = ruleStats(s, 'mixed');
    assert.equal(rule.matchedPackets, N);
    assert.deepEqual(
      rule.outputs.map((o) => [o.group, o.port, o.txPackets, o.txErrors]),
      [
        ['239.2.2.2', 6002, N, 0],
        ['10.0.2.2', 6003, N, 0],
      ],
    );
    assert.deepEqual(
      [
        s.totals.matched - before_.matched,
        s.totals.txPackets - before_.txPackets,
        s.totals.txErrors - before_.txErrors,
        s.totals.bufExhaust - before_.bufExhaust,
      ],
      [N, 2 * N, 0, 0],
    );
  });
});
