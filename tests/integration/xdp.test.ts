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
import { parseFinal, receive, send, skipReason, sleep, startDaemon, type DaemonHandle, type Topology } from '../helpers/netns';
import { xdpObjectPath } from '../../src/native/addon';

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

  it('a source the relay has no route back to (strict rp_filter) is forwarded too', async () => {
    await t.exec('relay', 'sysctl', ['-qw', 'net.ipv4.conf.all.rp_filter=1', 'net.ipv4.conf.r0.rp_filter=1']);
    await t.ip('gen', ['addr', 'add', '192.168.77.1/24', 'dev', 'g0']);
    try {
      const sink = receive(t, 'sink', { group: '239.2.2.2', port: 6000, iface: 's0', count: N });
      await sink.ready;
      await send(t, 'gen', { group: '239.1.1.1', port: 5001, source: '192.168.77.1', rate: 50_000, count: N, size: 200 });
      assertDelivered(await sink.result, N, 's0');
    } finally {
      await t.exec('relay', 'sysctl', ['-qw', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.r0.rp_filter=0']);
      await t.ip('gen', ['addr', 'del', '192.168.77.1/24', 'dev', 'g0']);
    }
  });

  it('removing the last rule on an input detaches the program', async () => {
    await mcrd.ctl(['remove', '--name', 'fan']);
    assert.equal(await xdpOn(t, 'relay', 'r0'), null);
  });

  it('the FINAL lines include what XDP forwarded', async () => {
    // Three streams of N so far, each to both outputs: two on the XDP path, one over the MTU on the rings.
    const s = await pollUntil(
      () => stats(mcrd),
      (x) => x.totals.txPackets >= 6 * N,
      'every stream counted',
    );
    await mcrd.stop();
    const final = parseFinal(mcrd.stdout);
    assert.ok(final, `FINAL lines in: ${mcrd.stdout}`);
    assert.deepEqual([final.recv, final.egr_sent], [s.totals.rxFrames, s.totals.txPackets]);
    assert.deepEqual([final.recv, final.egr_sent], [3 * N, 6 * N]);
  });
});

describe('XDP path next to another XDP program', { skip }, () => {
  let t: Topology;
  let mcrd: DaemonHandle | undefined;
  const dir = new TempDir();
  after(async () => {
    await mcrd?.stop();
    await t?.destroy();
    dir.remove();
  });

  it('leaves a program it did not attach in place and forwards on the AF_PACKET path, saying why', async () => {
    t = await quietOneHop('xdpf');
    // Someone else's program (here mcr's own object, loaded by iproute2: empty maps, so it passes
    // every frame on) in generic mode.
    await t.ip('relay', ['link', 'set', 'dev', 'r0', 'xdpgeneric', 'obj', xdpObjectPath(), 'sec', 'xdp']);
    const idOf = async (): Promise<number | undefined> => {
      const r = await t.ip('relay', ['-j', '-d', 'link', 'show', 'dev', 'r0']);
      return (JSON.parse(r.stdout) as { xdp?: { prog?: { id?: number } } }[])[0]?.xdp?.prog?.id;
    };
    const foreign = await idOf();
    assert.ok(foreign !== undefined);
    const config = dir.config('mcr.json', {
      xdp: true,
      rules: [
        {
          name: 'one',
          input: { interface: 'r0', group: '239.1.1.1', port: 5001 },
          outputs: [{ interface: 'r1', group: '239.2.2.2', port: 6000 }],
        },
      ],
    });
    mcrd = await startDaemon(t, 'relay', { configFile: config });
    const sink = receive(t, 'sink', { group: '239.2.2.2', port: 6000, iface: 's0', count: N });
    await sink.ready;
    await send(t, 'gen', { group: '239.1.1.1', port: 5001, source: '10.0.1.1', rate: 50_000, count: N, size: 200 });
    assertDelivered(await sink.result, N, 's0');
    const s = await pollUntil(
      () => stats(mcrd as DaemonHandle),
      (x) => (x.workers[0]?.rxFrames ?? 0) >= N,
      'the worker forwarded the stream',
    );
    assert.equal(ruleStats(s, 'one').matchedPackets, N);
    assert.equal(await idOf(), foreign, 'the other program is still attached');
    assert.match(mcrd.stderr + mcrd.stdout, /XDP path: attaching XDP to r0 \(another XDP program is attached\)/);
  });
});
