// SPDX-License-Identifier: MIT
// Malformed input: raw frames injected into the relay's input are each counted under exactly one
// filter reason and never forwarded, frames with IP options are forwarded, non-UDP and non-IPv4
// frames never reach userspace, and the data plane neither crashes nor stops forwarding.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NUMERIC_COUNTERS } from '../../src/daemon/stats';
import { arpRequest, ethernet, inject, ipv4, mcrPayload, udp, udpFrame, type Ipv4Options } from '../helpers/frames';
import { stats, statsAfterRx, workers, type Counters, type Stats } from '../helpers/control';
import { oneHop, receive, send, skipReason, sleep, startDaemon, type DaemonHandle, type Topology } from '../helpers/netns';

const skip = skipReason();

const GROUP = '239.1.1.1';
const PORT = 5001;
const OUT_GROUP = '239.2.2.2';
const OUT_PORT = 5002;
/** Stream id of the malformed frames' payloads; the forwarded IP-options frames use another. */
const JUNK_STREAM = 99;
const OPTIONS_STREAM = 7;

/** A well-formed IPv4/UDP packet to the rule's input, with IP header fields overridden. */
function frame(ip: Partial<Ipv4Options>, seq = 0, udpLength?: number): Buffer {
  const payload = udp({ dstPort: PORT, ...(udpLength !== undefined ? { length: udpLength } : {}) }, mcrPayload(JUNK_STREAM, seq, 64));
  return ethernet({}, ipv4({ src: '10.0.1.1', dst: GROUP, ...ip }, payload));
}

function delta(after: Counters, before: Counters): Counters {
  const d = structuredClone(after);
  for (const k of NUMERIC_COUNTERS) d[k] -= before[k];
  for (const [k, v] of Object.entries(after.filteredByReason)) {
    const was = before.filteredByReason[k];
    if (was === undefined) throw new Error(`filteredByReason.${k} is in the later stats but not the earlier`);
    d.filteredByReason[k] = v - was;
  }
  return d;
}

const NO_FILTER = { truncated: 0, badIpHeader: 0, badIpChecksum: 0, fragment: 0, notUdp: 0, badUdpLength: 0, notIpv4: 0, oversize: 0 };

describe('malformed input', { skip }, () => {
  let t: Topology;
  let mcrd: DaemonHandle;
  let start: Stats;
  let last: Stats;

  before(async () => {
    t = await oneHop('malf');
    mcrd = await startDaemon(t, 'relay');
    await mcrd.ctl([
      'add',
      '--input-interface',
      'r0',
      '--input-group',
      GROUP,
      '--input-port',
      String(PORT),
      '--outputs',
      `${OUT_GROUP}:${OUT_PORT}:r1`,
      '--name',
      'feed',
    ]);
    start = await stats(mcrd);
    last = start;
  });
  after(async () => {
    await mcrd?.stop();
    await t?.destroy();
  });

  /** Injects a batch into g0 (-> r0) and returns the counter changes it caused. */
  async function batch(frames: Buffer[], visible = frames.length): Promise<Counters> {
    assert.equal(await inject(t, 'gen', 'g0', frames), frames.length);
    const now = await statsAfterRx(mcrd, last.totals.rxFrames + visible);
    const d = delta(now.totals, last.totals);
    last = now;
    return d;
  }

  function assertFiltered(d: Counters, reason: keyof typeof NO_FILTER, n: number): void {
    assert.equal(d.rxFrames, n, 'rxFrames');
    assert.deepEqual(d.filteredByReason, { ...NO_FILTER, [reason]: n });
    assert.equal(d.filtered, n, 'filtered');
    assert.equal(d.matched, 0, 'matched');
    assert.equal(d.noMatch, 0, 'noMatch');
    assert.equal(d.txPackets, 0, 'txPackets');
  }

  it('counts 7 short frames and 2 whose total length runs past the frame as truncated', async () => {
    const whole = frame({});
    // 24..30 bytes: still EtherType IPv4 and protocol UDP (byte 23), so the kernel filter passes them.
    const short = [24, 25, 26, 27, 28, 29, 30].map((n) => whole.subarray(0, n));
    const beyond = [frame({ totalLength: 20 + 8 + 64 + 100 }, 1), frame({ totalLength: 1500 }, 2)];
    assertFiltered(await batch([...short, ...beyond]), 'truncated', 9);
  });

  it('counts 5 IHL < 5, 3 version != 4 and 2 total length < IHL as bad IP header', async () => {
    const badIhl = [0, 1, 2, 3, 4].map((ihl, i) => frame({ ihl }, i));
    const badVersion = [6, 5, 0].map((version, i) => frame({ version }, i));
    const shortTotal = [frame({ totalLength: 10 }, 1), frame({ totalLength: 19 }, 2)];
    assertFiltered(await batch([...badIhl, ...badVersion, ...shortTotal]), 'badIpHeader', 10);
  });

  it('counts 4 wrong IPv4 header checksums', async () => {
    assertFiltered(await batch([0, 1, 2, 3].map((i) => frame({ badChecksum: true, id: 100 + i }, i))), 'badIpChecksum', 4);
  });

  it('counts 6 fragments with MF set and 2 with an offset as fragments', async () => {
    const mf = [0, 1, 2, 3, 4, 5].map((i) => frame({ moreFragments: true, id: 200 + i }, i));
    const offset = [frame({ fragmentOffset: 1, id: 300 }, 6), frame({ fragmentOffset: 100, id: 301 }, 7)];
    assertFiltered(await batch([...mf, ...offset]), 'fragment', 8);
  });

  it('counts 3 UDP lengths < 8 and 3 beyond the IP payload as bad UDP length', async () => {
    const small = [0, 4, 7].map((len, i) => frame({}, i, len));
    const big = [8 + 64 + 1, 8 + 64 + 100, 65535].map((len, i) => frame({}, i, len));
    assertFiltered(await batch([...small, ...big]), 'badUdpLength', 6);
  });

  it('never lets TCP over IPv4 or ARP reach userspace (the kernel filter drops them)', async () => {
    const tcp = [0, 1, 2].map((i) => frame({ protocol: 6 }, i));
    const arp = [0, 1, 2].map((i) => arpRequest('10.0.1.1', `10.0.1.${50 + i}`));
    const marker = udpFrame({ dst: GROUP, dstPort: PORT + 1000 }); // no rule: one noMatch, proves the batch was read
    const kernelBefore = await t.counter('relay', 'r0', 'rx_packets');
    const d = await batch([...tcp, ...arp, marker], 1);
    // They did arrive on r0 (IPv6 neighbour discovery may add a few more to the kernel's count).
    assert.ok((await t.counter('relay', 'r0', 'rx_packets')) - kernelBefore >= 7, 'r0 received the frames');
    assert.equal(d.rxFrames, 1, 'only the UDP marker frame reached the data plane');
    assert.equal(d.noMatch, 1);
    assert.equal(d.filtered, 0);
    assert.deepEqual(d.filteredByReason, NO_FILTER);
    assert.equal(d.matched, 0);
    assert.equal(d.txPackets, 0);
  });

  it('forwards 10 packets with IP options (IHL 6..15) to the rule, exactly', async () => {
    const sink = receive(t, 'sink', { group: OUT_GROUP, port: OUT_PORT, iface: 's0', count: 10, stream: OPTIONS_STREAM, timeoutS: 3 });
    await sink.ready;
    const frames = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15].map((ihl, seq) =>
      // NOP options (type 1) fill the header out to IHL words.
      udpFrame({ dst: GROUP, dstPort: PORT, stream: OPTIONS_STREAM, seq, size: 100, ip: { options: Buffer.alloc((ihl - 5) * 4, 1) } }),
    );
    const d = await batch(frames);
    assert.equal(d.rxFrames, 10);
    assert.equal(d.matched, 10);
    assert.equal(d.filtered, 0);
    assert.equal(d.noMatch, 0);
    assert.equal(d.txPackets, 10);
    assert.equal(d.txBytes, 10 * 100, 'the payload after the options is what is sent');
    const got = await sink.result;
    assert.equal(got.received, 10);
    assert.equal(got.unique, 10);
    assert.equal(got.corrupted, 0);
    assert.equal(got.foreign, 0);
  });

  it('accounts for every frame overall: filtered is the sum of the reasons', async () => {
    const d = delta(last.totals, start.totals);
    assert.deepEqual(d.filteredByReason, {
      truncated: 9,
      badIpHeader: 10,
      badIpChecksum: 4,
      fragment: 8,
      notUdp: 0,
      badUdpLength: 6,
      notIpv4: 0,
      oversize: 0,
    });
    assert.equal(d.filtered, 37);
    assert.equal(d.rxFrames, 37 + 1 + 10);
    assert.equal(d.matched, 10);
    assert.equal(d.noMatch, 1);
    assert.equal(d.txPackets, 10);
    assert.equal(d.txErrors, 0);
    const feed = last.rules.find((r) => r.name === 'feed');
    assert.equal(feed?.matchedPackets, 10);
    assert.equal(feed?.outputs[0]?.txPackets, 10);
  });

  it('still forwards a normal stream exactly, and the data plane never restarted', async () => {
    const sink = receive(t, 'sink', { group: OUT_GROUP, port: OUT_PORT, iface: 's0', count: 5_000 });
    await sink.ready;
    const sent = await send(t, 'gen', { group: GROUP, port: PORT, source: '10.0.1.1', rate: 10_000, count: 5_000 });
    const got = await sink.result;
    assert.equal(sent.sent, 5_000);
    assert.equal(got.unique, 5_000);
    assert.equal(got.lost, 0);
    assert.equal(got.duplicates, 0);
    assert.equal(got.corrupted, 0);
    await sleep(100);
    const d = delta((await stats(mcrd)).totals, last.totals);
    assert.equal(d.matched, 5_000);
    assert.equal(d.filtered, 0);
    const w = await workers(mcrd);
    assert.equal(w.dataplane.restarts, 0);
    assert.equal(w.dataplane.state, 'running');
  });
});
