// SPDX-License-Identifier: MIT
// The XDP path (docs/xdp.md): with `xdp: true` a rule whose outputs are all multicast on their own
// interfaces is forwarded inside the input's receive path, fanned out by a devmap broadcast and
// rewritten per output, and counted exactly (rule, outputs, totals) without a worker seeing a
// frame. Datagrams over an output's MTU stay on the AF_PACKET path; removing the last rule on an
// input detaches the program. The generator's veth computes full UDP checksums (tx offload off),
// as a NIC's frames arrive, and the sink's veths have GRO on, which veth needs to accept XDP
// redirects (docs/xdp.md says why).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pollUntil } from '../helpers/control';
import { assertDelivered, quietOneHop, ruleStats, stats, TempDir } from '../helpers/datapath';
import { receive, send, skipReason, sleep, startDaemon, type DaemonHandle, type Topology } from '../helpers/netns';

const skip = skipReason();
const N = 5000;

/** The XDP program on a link as `ip -j link` reports it, or null. */
async function xdpOn(t: Topology, ns: string, ifname: string): Promise<string | null> {
  const r = await t.ip(ns, ['-j', '-d', 'link', 'show', 'dev', ifname]);
  const link = (JSON.parse(r.stdout) as { xdp?: { mode?: number; prog?: { name?: string } } }[])[0];
  return link?.xdp?.prog?.name ?? null;
}

describe('XDP path', { skip }, () => {
  let t: Topology;
  let mcrd: DaemonHandle;
  const dir = new TempDir();

  before(async () => {
    t = await quietOneHop('xdp');
    await t.link('relay', 'r2', '10.0.3.1/24', 'sink', 's1', '10.0.3.2/24');
    await t.exec('gen', 'ethtool', ['-K', 'g0', 'tx', 'off']);
    for (const ifname of ['s0', 's1']) await t.exec('sink', 'ethtool', ['-K', ifname, 'gro', 'on']);
    const config = dir.config('mcr.json', {
      xdp: true,
      rules: [
        {
          name: 'fan',
          input: { interface: 'r0', group: '239.1.1.1', port: 5001 },
          outputs: [
            { interface: 'r1', group: '239.2.2.2', port: 6000 },
            { interface: 'r2', group: '239.3.3.3', port: 6001 },
          ],
        },
      ],
    });
    mcrd = await startDaemon(t, 'relay', { configFile: config });
  });
  after(async () => {
    await mcrd?.stop();
    await t?.destroy();
    dir.remove();
  });

  async function stream(size: number): Promise<void> {
    const sinks = [
      receive(t, 'sink', { group: '239.2.2.2', port: 6000, iface: 's0', count: N }),
      receive(t, 'sink', { group: '239.3.3.3', port: 6001, iface: 's1', count: N }),
    ];
    for (const s of sinks) await s.ready;
    const sent = await send(t, 'gen', { group: '239.1.1.1', port: 5001, source: '10.0.1.1', rate: 50_000, count: N, size });
    assert.equal(sent.sent, N);
    assertDelivered(await sinks[0]!.result, N, 's0');
    assertDelivered(await sinks[1]!.result, N, 's1');
  }

  it('attaches to the input and forwards a 1:2 rule exactly, counted, without a worker seeing a frame', async () => {
    assert.equal(await xdpOn(t, 'relay', 'r0'), 'mcr_xdp_ingress');
    const before_ = await stats(mcrd);
    await stream(1400);
    // The XDP counters reach the counter file once a second.
    const s = await pollUntil(
      () => stats(mcrd),
      (x) => x.totals.txPackets - before_.totals.txPackets >= 2 * N,
      'the XDP counters folded in',
    );
    const rule = ruleStats(s, 'fan');
    const ruleBefore = ruleStats(before_, 'fan');
    assert.deepEqual([rule.matchedPackets - ruleBefore.matchedPackets, rule.matchedBytes - ruleBefore.matchedBytes], [N, N * 1400]);
    assert.deepEqual(
      rule.outputs.map((o, i) => [o.txPackets - ruleBefore.outputs[i]!.txPackets, o.txBytes - ruleBefore.outputs[i]!.txBytes]),
      [
        [N, N * 1400],
        [N, N * 1400],
      ],
    );
    assert.equal(s.totals.rxFrames - before_.totals.rxFrames, N, 'totals count what XDP took in');
    assert.equal(s.totals.txPackets - before_.totals.txPackets, 2 * N);
    assert.equal((s.workers[0]?.rxFrames ?? 0) - (before_.workers[0]?.rxFrames ?? 0), 0, 'the worker saw none of them');
  });

  it("datagrams over an output's MTU go to the AF_PACKET path, still exactly", async () => {
    await t.ip('relay', ['link', 'set', 'dev', 'r2', 'mtu', '1000']);
    await t.ip('sink', ['link', 'set', 'dev', 's1', 'mtu', '1000']);
    try {
      await sleep(1500); // the data plane re-reads its interfaces every second
      const before_ = await stats(mcrd);
      await stream(1400);
      const s = await pollUntil(
        () => stats(mcrd),
        (x) => x.totals.txPackets - before_.totals.txPackets >= 2 * N,
        'all sent',
      );
      assert.equal((s.workers[0]?.rxFrames ?? 0) - (before_.workers[0]?.rxFrames ?? 0), N, 'the worker forwarded them');
    } finally {
      await t.ip('relay', ['link', 'set', 'dev', 'r2', 'mtu', '1500']);
      await t.ip('sink', ['link', 'set', 'dev', 's1', 'mtu', '1500']);
    }
  });

  it('removing the last rule on an input detaches the program', async () => {
    await mcrd.ctl(['remove', '--name', 'fan']);
    assert.equal(await xdpOn(t, 'relay', 'r0'), null);
  });
});
