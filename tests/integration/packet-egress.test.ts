// SPDX-License-Identifier: MIT
// Packet egress (docs/configuration.md `egress`): multicast outputs leave through the output
// interface's AF_PACKET socket with prebuilt headers. Read off the wire at the sink and off the
// kernel's counters: the relay's UDP output path is not used, the frames carry the relay's
// address and MAC, DF, the TTL and correct checksums (complete ones updated, partial ones left to
// the NIC, none kept none), datagrams over the output MTU go through the UDP socket and arrive
// fragmented, an address change is followed, and `egress: 'socket'` sends every output through
// the socket as before.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { snmpField } from '../../lab/snmp';
import { assertDelivered, quietOneHop, TempDir } from '../helpers/datapath';
import { ethernet, inject, ipv4, mcrPayload, multicastMac } from '../helpers/frames';
import { receive, ROOT, send, skipReason, sleep, startDaemon, type DaemonHandle, type Topology } from '../helpers/netns';

const skip = skipReason();
const CAPTURE = path.join(ROOT, 'tests', 'helpers', 'capture.py');
const N = 2000;

interface Captured {
  dstMac: string;
  srcMac: string;
  src: string;
  dst: string;
  ttl: number;
  tos: number;
  id: number;
  df: boolean;
  ipChecksumValid: boolean;
  totalLength: number;
  srcPort: number;
  dstPort: number;
  udpLength: number;
  udpChecksum: number;
  udpChecksumPartial: boolean;
  udpChecksumValid: boolean | null;
}

/** Starts a capture of `count` frames to UDP port `port` on the sink's s0; resolves once bound. */
async function startCapture(t: Topology, port: number, count: number): Promise<() => Promise<Captured[]>> {
  const proc = t.spawn('sink', `capture ${port}`, 'python3', [
    CAPTURE,
    '--interface',
    's0',
    '--port',
    String(port),
    '--count',
    String(count),
    '--timeout',
    '20',
  ]);
  const deadline = Date.now() + 10_000;
  while (!proc.stderr.includes('capturing')) {
    if (!proc.running) throw new Error(`capture exited: ${proc.stderr}`);
    if (Date.now() > deadline) throw new Error('capture did not start');
    await sleep(20);
  }
  return async () => {
    await proc.exited;
    return proc.stdout
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Captured);
  };
}

/** A field of the namespace's /proc/net/snmp Udp line (OutDatagrams, InCsumErrors, ...). */
async function udpSnmp(t: Topology, ns: string, field: string): Promise<number> {
  const r = await t.exec(ns, 'cat', ['/proc/net/snmp']);
  const value = snmpField(r.stdout, 'Udp', field);
  assert.ok(value !== undefined, `Udp ${field} in /proc/net/snmp`);
  return value;
}

/** Full UDP checksum (RFC 768) of an IPv4 packet's datagram, written into it. */
function withUdpChecksum(packet: Buffer): Buffer {
  const ihl = (packet[0]! & 0x0f) * 4;
  const udpLen = packet.readUInt16BE(ihl + 4);
  let sum = 0;
  for (let i = 12; i < 20; i += 2) sum += packet.readUInt16BE(i);
  sum += 17 + udpLen;
  const udp = Buffer.concat([packet.subarray(ihl, ihl + udpLen), Buffer.alloc(udpLen % 2)]);
  udp.writeUInt16BE(0, 6);
  for (let i = 0; i < udp.length; i += 2) sum += udp.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff;
  packet.writeUInt16BE(c === 0 ? 0xffff : c, ihl + 6);
  return packet;
}

/** n frames to 239.1.1.1:5001 from 10.0.1.1:40000 carrying mcrgen payloads, UDP checksum complete or 0. */
function crafted(n: number, checksum: boolean, stream: number): Buffer[] {
  return Array.from({ length: n }, (_, seq) => {
    const payload = mcrPayload(stream, seq, 200);
    const udp = Buffer.alloc(8);
    udp.writeUInt16BE(40000, 0);
    udp.writeUInt16BE(5001, 2);
    udp.writeUInt16BE(8 + payload.length, 4);
    const packet = ipv4({ src: '10.0.1.1', dst: '239.1.1.1', ttl: 9, dontFragment: true }, Buffer.concat([udp, payload]));
    return ethernet({ dst: multicastMac('239.1.1.1') }, checksum ? withUdpChecksum(packet) : packet);
  });
}

describe('packet egress', { skip }, () => {
  let t: Topology;
  let mcrd: DaemonHandle;
  let r1Mac: string;

  before(async () => {
    t = await quietOneHop('pegr');
    r1Mac = await t.mac('relay', 'r1');
    mcrd = await startDaemon(t, 'relay');
    await mcrd.ctl([
      'add',
      '--name',
      'e',
      '--input-interface',
      'r0',
      '--input-group',
      '239.1.1.1',
      '--input-port',
      '5001',
      '--outputs',
      '239.2.2.2:6000:r1',
    ]);
  });
  after(async () => {
    await mcrd?.stop();
    await t?.destroy();
  });

  it('a stream from a local sender (partial checksums) arrives exactly, without the UDP output path', async () => {
    const sink = receive(t, 'sink', { group: '239.2.2.2', port: 6000, iface: 's0', count: N });
    await sink.ready;
    const capture = await startCapture(t, 6000, 5);
    const outBefore = await udpSnmp(t, 'relay', 'OutDatagrams');
    const sent = await send(t, 'gen', { group: '239.1.1.1', port: 5001, source: '10.0.1.1', rate: 20_000, count: N, size: 1400 });
    assert.equal(sent.sent, N);
    assertDelivered(await sink.result, N, 'sink');
    assert.equal((await udpSnmp(t, 'relay', 'OutDatagrams')) - outBefore, 0, "the relay's kernel sent no UDP datagram");
    const frames = await capture();
    assert.equal(frames.length, 5);
    for (const f of frames) {
      assert.deepEqual(
        { dstMac: f.dstMac, srcMac: f.srcMac, src: f.src, dst: f.dst, ttl: f.ttl, tos: f.tos, df: f.df, id: f.id, ip: f.ipChecksumValid },
        { dstMac: '01:00:5e:02:02:02', srcMac: r1Mac, src: '10.0.2.1', dst: '239.2.2.2', ttl: 16, tos: 0, df: true, id: 0, ip: true },
      );
      assert.deepEqual([f.totalLength, f.udpLength, f.dstPort], [1428, 1408, 6000]);
      // The local sender left its checksum for the NIC; mcr asks the same of the kernel.
      assert.equal(f.udpChecksumPartial, true);
    }
  });

  it('complete UDP checksums are rewritten correctly and absent ones stay absent', async () => {
    for (const checksum of [true, false]) {
      const count = 300;
      const sink = receive(t, 'sink', { group: '239.2.2.2', port: 6000, iface: 's0', count, stream: checksum ? 7 : 8 });
      await sink.ready;
      const capture = await startCapture(t, 6000, count);
      const csumErrorsBefore = await udpSnmp(t, 'sink', 'InCsumErrors');
      assert.equal(await inject(t, 'gen', 'g0', crafted(count, checksum, checksum ? 7 : 8)), count);
      // The sink's kernel checks every checksum before its socket sees the datagram.
      assertDelivered(await sink.result, count, `sink (checksum ${checksum ? 'complete' : 'none'})`);
      assert.equal((await udpSnmp(t, 'sink', 'InCsumErrors')) - csumErrorsBefore, 0);
      const frames = await capture();
      assert.equal(frames.length, count);
      for (const f of frames) {
        assert.equal(f.udpChecksumPartial, false);
        if (checksum) assert.equal(f.udpChecksumValid, true, JSON.stringify(f));
        else assert.equal(f.udpChecksum, 0);
        assert.equal(f.ipChecksumValid, true);
      }
    }
  });

  it('datagrams over the output MTU go through the UDP socket and arrive fragmented; smaller ones stay on packet egress', async () => {
    await t.ip('relay', ['link', 'set', 'dev', 'r1', 'mtu', '1000']);
    await t.ip('sink', ['link', 'set', 'dev', 's0', 'mtu', '1000']);
    try {
      await sleep(1500); // the data plane re-reads its interfaces every second
      for (const [size, viaSocket] of [
        [1400, N],
        [900, 0],
      ] as const) {
        const sink = receive(t, 'sink', { group: '239.2.2.2', port: 6000, iface: 's0', count: N });
        await sink.ready;
        const outBefore = await udpSnmp(t, 'relay', 'OutDatagrams');
        await send(t, 'gen', { group: '239.1.1.1', port: 5001, source: '10.0.1.1', rate: 20_000, count: N, size });
        assertDelivered(await sink.result, N, `sink (${size} B)`);
        assert.equal((await udpSnmp(t, 'relay', 'OutDatagrams')) - outBefore, viaSocket, `${size} B through the UDP socket`);
      }
    } finally {
      await t.ip('relay', ['link', 'set', 'dev', 'r1', 'mtu', '1500']);
      await t.ip('sink', ['link', 'set', 'dev', 's0', 'mtu', '1500']);
    }
  });

  it("follows a change of the output interface's address", async () => {
    await t.ip('relay', ['addr', 'flush', 'dev', 'r1']);
    await t.ip('relay', ['addr', 'add', '10.0.2.9/24', 'dev', 'r1']);
    try {
      await sleep(1500);
      const capture = await startCapture(t, 6000, 3);
      await send(t, 'gen', { group: '239.1.1.1', port: 5001, source: '10.0.1.1', rate: 1000, count: 3, size: 100 });
      const frames = await capture();
      assert.deepEqual(
        frames.map((f) => f.src),
        ['10.0.2.9', '10.0.2.9', '10.0.2.9'],
      );
    } finally {
      await t.ip('relay', ['addr', 'flush', 'dev', 'r1']);
      await t.ip('relay', ['addr', 'add', '10.0.2.1/24', 'dev', 'r1']);
    }
  });

  it("egress: 'socket' sends every output through the UDP socket", async () => {
    await mcrd.stop();
    const dir = new TempDir();
    try {
      const config = dir.config('mcr.json', {
        egress: 'socket',
        rules: [
          {
            name: 'e',
            input: { interface: 'r0', group: '239.1.1.1', port: 5001 },
            outputs: [{ interface: 'r1', group: '239.2.2.2', port: 6000 }],
          },
        ],
      });
      mcrd = await startDaemon(t, 'relay', { configFile: config });
      const sink = receive(t, 'sink', { group: '239.2.2.2', port: 6000, iface: 's0', count: N });
      await sink.ready;
      const outBefore = await udpSnmp(t, 'relay', 'OutDatagrams');
      await send(t, 'gen', { group: '239.1.1.1', port: 5001, source: '10.0.1.1', rate: 20_000, count: N, size: 1400 });
      assertDelivered(await sink.result, N, 'sink');
      assert.equal((await udpSnmp(t, 'relay', 'OutDatagrams')) - outBefore, N);
    } finally {
      dir.remove();
    }
  });
});
