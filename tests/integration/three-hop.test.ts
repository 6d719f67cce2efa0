// SPDX-License-Identifier: MIT
// Datapath: the seed report's chain gen -> mcr1 -> mcr2 -> mcr3 -> sink, one mcrd per hop with its
// rule in a config file. All 50,000 packets arrive once and intact, and each hop's FINAL counters
// are exact and equal the kernel's counters on its input and output links.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NO_IPV6, TempDir, linkCounters, assertDelivered } from '../helpers/datapath';
import { Topology, buildChain, parseFinal, receive, send, skipReason, startDaemon, type DaemonHandle } from '../helpers/netns';

const skip = skipReason();
const COUNT = 50_000;
const RATE = 10_000;

// Each relay reads on i0 and writes on o0; the group changes at every hop.
const HOPS = [
  { ns: 'mcr1', input: { group: '239.1.1.1', port: 5001 }, output: { group: '239.2.2.2', port: 5002 } },
  { ns: 'mcr2', input: { group: '239.2.2.2', port: 5002 }, output: { group: '239.3.3.3', port: 5003 } },
  { ns: 'mcr3', input: { group: '239.3.3.3', port: 5003 }, output: { group: '239.4.4.4', port: 5004 } },
];

describe('three hops', { skip }, () => {
  let t: Topology;
  let dir: TempDir;
  const daemons: DaemonHandle[] = [];
  // Kernel counters before any daemon started, and after the sink had every packet.
  const before_: { rx: number; tx: number }[] = [];
  const after_: { rx: number; tx: number }[] = [];

  before(async () => {
    dir = new TempDir();
    // gen g0 10.0.1.1 <-> i0 mcr1 o0 10.0.2.1 <-> i0 mcr2 o0 <-> i0 mcr3 o0 10.0.4.1 <-> s0 10.0.4.2 sink
    t = await buildChain(
      new Topology('hop3', { sysctls: NO_IPV6 }),
      ['gen', 'mcr1', 'mcr2', 'mcr3', 'sink'],
      ['g0', 'o0', 'o0', 'o0'],
      ['i0', 'i0', 'i0', 's0'],
    );
    for (const hop of HOPS) {
      const i0 = await linkCounters(t, hop.ns, 'i0');
      const o0 = await linkCounters(t, hop.ns, 'o0');
      before_.push({ rx: i0.rx, tx: o0.tx });
    }
    const started = await Promise.all(
      HOPS.map((hop) =>
        startDaemon(t, hop.ns, {
          configFile: dir.config(`${hop.ns}.json5`, {
            rules: [{ name: `${hop.ns}-feed`, input: { interface: 'i0', ...hop.input }, outputs: [{ interface: 'o0', ...hop.output }] }],
          }),
        }),
      ),
    );
    daemons.push(...started);
  });
  after(async () => {
    for (const d of daemons) await d.stop();
    await t?.destroy();
    dir?.remove();
  });

  it(`carries ${COUNT.toLocaleString('en')} packets of 1400 bytes through three relays, each exactly once and intact`, async () => {
    const sink = receive(t, 'sink', { group: '239.4.4.4', port: 5004, iface: 's0', count: COUNT });
    await sink.ready;
    const sent = await send(t, 'gen', { group: '239.1.1.1', port: 5001, source: '10.0.1.1', rate: RATE, count: COUNT, size: 1400 });
    assert.equal(sent.sent, COUNT);
    assert.equal(sent.send_errors, 0);
    assertDelivered(await sink.result, COUNT, 'sink');
    for (const hop of HOPS) {
      const i0 = await linkCounters(t, hop.ns, 'i0');
      const o0 = await linkCounters(t, hop.ns, 'o0');
      after_.push({ rx: i0.rx, tx: o0.tx });
    }
  });

  it('stops each relay on SIGTERM with exact FINAL counters that match the kernel link counters', async () => {
    assert.equal(after_.length, HOPS.length, 'the forwarding test ran');
    for (const [i, d] of daemons.entries()) {
      const hop = HOPS[i]!;
      assert.equal(await d.stop(), 0, `${hop.ns} exit code`);
      const total = parseFinal(d.stdout);
      assert.deepEqual(
        total,
        { recv: COUNT, matched: COUNT, egr_sent: COUNT, filtered: 0, no_match: 0, buf_exhaust: 0 },
        `${hop.ns} FINAL`,
      );
      // Exact, no allowance: with IPv6 off the links carry only the stream (downstream) and the
      // IGMP reports of each relay's join on i0 (upstream: tx on i0, rx on the previous o0).
      // So everything the kernel received on i0 is a UDP frame mcr's ring counted, and
      // everything it sent on o0 is a packet mcr sent.
      const kernelRx = after_[i]!.rx - before_[i]!.rx;
      const kernelTx = after_[i]!.tx - before_[i]!.tx;
      assert.equal(kernelRx, total?.recv, `${hop.ns}: kernel rx_packets delta on i0 vs recv`);
      assert.equal(kernelTx, total?.egr_sent, `${hop.ns}: kernel tx_packets delta on o0 vs egr_sent`);
    }
  });
});
