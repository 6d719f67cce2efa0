// SPDX-License-Identifier: MIT
// Why mcr exists: a source the relay has no route back to fails the kernel's reverse-path filter,
// so a plain socket on the relay gets none of the stream, while mcr (AF_PACKET, before the IP
// layer) forwards every packet to the sink.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertDelivered, ruleStats, stats } from '../helpers/datapath';
import { oneHop, receive, send, skipReason, startDaemon, type DaemonHandle, type Topology } from '../helpers/netns';

const skip = skipReason();
const N = 5_000;
const SOURCE = '192.168.77.1'; // on g0, next to 10.0.1.1; the relay has no route to 192.168.77.0/24

describe('reverse-path filter', { skip }, () => {
  let t: Topology;
  let mcrd: DaemonHandle;

  async function rpFilter(value: '0' | '1'): Promise<void> {
    // The effective value for r0 is max(all, r0), so both are set.
    await t.exec('relay', 'sysctl', ['-qw', `net.ipv4.conf.all.rp_filter=${value}`, `net.ipv4.conf.r0.rp_filter=${value}`]);
  }

  async function rpfDrops(): Promise<number> {
    // -a absolute, -s leave nstat's history file alone, -z print the counter even when 0.
    const r = await t.exec('relay', 'nstat', ['-asz', 'TcpExtIPReversePathFilter']);
    const m = /^TcpExtIPReversePathFilter\s+(\d+)/m.exec(r.stdout);
    assert.ok(m, `nstat output: ${r.stdout}`);
    return Number(m[1]);
  }

  /** Sends N packets from SOURCE; returns what the plain socket on r0 and the sink got. */
  async function stream(sinkPort: number, inputGroup: string, plainCount?: number) {
    // Without a count the plain receiver stops 3 s after its start when nothing arrives, so it is
    // still listening when the last of the N packets (0.5 s at 10,000 pps) has gone by.
    const plain = receive(t, 'relay', {
      group: inputGroup,
      port: 5001,
      iface: 'r0',
      timeoutS: 3,
      ...(plainCount ? { count: plainCount } : {}),
    });
    const sink = receive(t, 'sink', { group: '239.2.2.2', port: sinkPort, iface: 's0', count: N });
    await Promise.all([plain.ready, sink.ready]);
    const drops = await rpfDrops();
    const sent = await send(t, 'gen', { group: inputGroup, port: 5001, source: SOURCE, rate: 10_000, count: N });
    assert.equal(sent.sent, N);
    return { sink: await sink.result, plain: await plain.result, rpfDrops: (await rpfDrops()) - drops };
  }

  before(async () => {
    t = await oneHop('rpf', { relaySysctls: { 'net.ipv4.conf.all.rp_filter': '1' } });
    await t.ip('gen', ['addr', 'add', `${SOURCE}/24`, 'dev', 'g0']);
    await rpFilter('1');
    mcrd = await startDaemon(t, 'relay');
  });
  after(async () => {
    await mcrd?.stop();
    await t?.destroy();
  });

  it('the relay namespace has no route back to the source, and rp_filter is strict on r0', async () => {
    const route = await t.exec('relay', 'ip', ['route', 'get', SOURCE], { allowFail: true });
    assert.notEqual(route.code, 0, `ip route get ${SOURCE}: ${route.stdout}`);
    const r0 = await t.exec('relay', 'sysctl', ['-n', 'net.ipv4.conf.all.rp_filter', 'net.ipv4.conf.r0.rp_filter']);
    assert.deepEqual(r0.stdout.trim().split('\n'), ['1', '1']);
  });

  it(`rp_filter=1: a plain socket on the relay gets 0 of ${N.toLocaleString('en')}, the kernel counts ${N.toLocaleString('en')} RPF drops, mcr forwards all of them`, async () => {
    await mcrd.ctl([
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
      'unroutable-source',
    ]);
    const r = await stream(5002, '239.1.1.1');
    assert.equal(r.plain.received, 0, `plain socket: ${JSON.stringify(r.plain)}`);
    assert.equal(r.plain.foreign, 0);
    // Every packet reached the IP layer (both mcr's membership and the plain socket joined the
    // group on r0, so the kernel routes it as "ours") and failed the source check there.
    assert.equal(r.rpfDrops, N, 'TcpExtIPReversePathFilter delta');
    assertDelivered(r.sink, N, 'sink');
    const rule = ruleStats(await stats(mcrd), 'unroutable-source');
    assert.equal(rule.matchedPackets, N);
    assert.equal(rule.outputs[0]?.txPackets, N);
  });

  it('control: with rp_filter=0 the same plain socket gets every packet, so the 0 above is the filter', async () => {
    await rpFilter('0');
    await mcrd.ctl([
      'add',
      '--input-interface',
      'r0',
      '--input-group',
      '239.1.1.3',
      '--input-port',
      '5001',
      '--outputs',
      '239.2.2.2:5003:r1',
      '--name',
      'rpf-off',
    ]);
    const r = await stream(5003, '239.1.1.3', N);
    assertDelivered(r.plain, N, 'plain socket with rp_filter=0');
    assert.equal(r.rpfDrops, 0, 'TcpExtIPReversePathFilter delta');
    assertDelivered(r.sink, N, 'sink');
    const rule = ruleStats(await stats(mcrd), 'rpf-off');
    assert.equal(rule.matchedPackets, N);
    assert.equal(rule.outputs[0]?.txPackets, N);
  });
});
