// SPDX-License-Identifier: MIT
// The IGMP packet socket (src/routing/igmp/socket.ts) against the kernel's own IGMP host stack.
// Namespace A holds the socket on a0 (in a child node process, since a socket opens in its
// process's namespace); namespace B, across a veth, has listeners that join groups with
// IP_ADD_MEMBERSHIP so its kernel sends reports. A receives B's IGMPv3 report (to 224.0.0.22)
// and, with force_igmp_version=2 in B, a v2 report to a group A never joined (what a raw
// IPPROTO_IGMP socket does not get); UDP never reaches the socket; a general query sent through
// it is answered by B's kernel; the interface going down is one ENETDOWN error, after which the
// socket receives again; after close() nothing is delivered and the child exits.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NO_IPV6 } from '../../lab/netns';
import { start, type Proc } from '../../lab/proc';
import { sleep, skipReason, Topology } from '../helpers/netns';
import { IgmpPacketSocket } from '../../src/routing/igmp/socket';

const skip = skipReason();
const SOCKET_MODULE = path.resolve(__dirname, '..', '..', 'src', 'routing', 'igmp', 'socket.js');
const A_ADDRESS = '10.0.9.1';
const B_ADDRESS = '10.0.9.2';

/**
 * The child in namespace A: opens the socket on argv[2] and prints one JSON line per event
 * (ready, packet, sent, closed, error); reads commands ({cmd:'send',hex,group} | {cmd:'close'})
 * from stdin and exits by itself once stdin ends and the socket is closed.
 */
const SOCKET_CHILD = `
const { IgmpPacketSocket } = require(process.argv[1]);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const socket = new IgmpPacketSocket(process.argv[2]);
socket.onError((e) => out({ type: 'error', message: e.message, code: e.code }));
socket.onPacket((p) => out({ type: 'packet', hex: p.data.toString('hex'), ifindex: p.ifindex, sourceMac: p.sourceMac }));
out({ type: 'ready', ifindex: socket.ifindex, interface: socket.interface });
let pending = '';
process.stdin.on('data', (d) => {
  pending += d;
  for (let nl = pending.indexOf('\\n'); nl >= 0; nl = pending.indexOf('\\n')) {
    const c = JSON.parse(pending.slice(0, nl));
    pending = pending.slice(nl + 1);
    try {
      if (c.cmd === 'send') out({ type: 'sent', bytes: socket.send(Buffer.from(c.hex, 'hex'), c.group) });
      if (c.cmd === 'close') { socket.close(); socket.close(); out({ type: 'closed' }); }
    } catch (e) {
      out({ type: 'error', message: e.message, code: e.code });
    }
  }
});
`;

/** A listener in namespace B: joins argv[1] on B's address with IP_ADD_MEMBERSHIP and stays until killed. */
const LISTENER_CHILD = `
const s = require('node:dgram').createSocket({ type: 'udp4', reuseAddr: true });
s.bind(5000, () => { s.addMembership(process.argv[1], process.argv[2]); process.stdout.write('joined\\n'); });
`;

/** Sends UDP from B: count datagrams to a group on B's interface and count to A's address. */
const UDP_CHILD = `
const s = require('node:dgram').createSocket('udp4');
s.bind(0, process.argv[2], async () => {
  s.setMulticastInterface(process.argv[2]);
  const count = Number(process.argv[4]);
  for (let i = 0; i < count; i++) {
    await new Promise((r) => s.send('not igmp', 5000, process.argv[1], r));
    await new Promise((r) => s.send('not igmp', 5000, process.argv[3], r));
  }
  s.close();
});
`;

interface ChildLine {
  type: 'ready' | 'packet' | 'sent' | 'closed' | 'error';
  hex?: string;
  ifindex?: number;
  sourceMac?: string;
  bytes?: number;
  message?: string;
  code?: string;
}

interface Ipv4Igmp {
  protocol: number;
  source: string;
  destination: string;
  ttl: number;
  igmpType: number;
  igmp: Buffer;
}

const dotted = (b: Buffer, at: number): string => [...b.subarray(at, at + 4)].join('.');

function parseIpv4(hex: string): Ipv4Igmp {
  const b = Buffer.from(hex, 'hex');
  const headerLength = (b[0]! & 0x0f) * 4;
  const igmp = b.subarray(headerLength, b.readUInt16BE(2));
  return { protocol: b[9]!, source: dotted(b, 12), destination: dotted(b, 16), ttl: b[8]!, igmpType: igmp[0] ?? -1, igmp };
}

/** The group records of an IGMPv3 report: [record type, group]. */
function v3Records(igmp: Buffer): Array<[number, string]> {
  const records: Array<[number, string]> = [];
  let at = 8;
  for (let i = 0; i < igmp.readUInt16BE(6); i++) {
    const sources = igmp.readUInt16BE(at + 2);
    records.push([igmp[at]!, dotted(igmp, at + 4)]);
    at += 8 + 4 * sources + 4 * igmp[at + 1]!;
  }
  return records;
}

function inetChecksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IGMPv3 general query from A: IPv4 with Router Alert, TTL 1, to 224.0.0.1, max response 1 s. */
function generalQuery(): Buffer {
  const igmp = Buffer.from([0x11, 10, 0, 0, 0, 0, 0, 0, 0x02, 125, 0, 0]);
  igmp.writeUInt16BE(inetChecksum(igmp), 2);
  const ip = Buffer.alloc(24);
  ip[0] = 0x46;
  ip.writeUInt16BE(24 + igmp.length, 2);
  ip[8] = 1;
  ip[9] = 2;
  Buffer.from(A_ADDRESS.split('.').map(Number)).copy(ip, 12);
  Buffer.from([224, 0, 0, 1]).copy(ip, 16);
  Buffer.from([0x94, 0x04, 0, 0]).copy(ip, 20);
  ip.writeUInt16BE(inetChecksum(ip), 10);
  return Buffer.concat([ip, igmp]);
}

describe('IGMP packet socket', { skip }, () => {
  let t: Topology;
  let socketChild: Proc;
  const listeners: Proc[] = [];
  let ifindexA = 0;
  let macB = '';

  const lines = (): ChildLine[] =>
    socketChild.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as ChildLine);
  const packets = (from = 0): Array<ChildLine & { ip: Ipv4Igmp }> =>
    lines()
      .slice(from)
      .filter((l) => l.type === 'packet')
      .map((l) => ({ ...l, ip: parseIpv4(l.hex!) }));

  /** Waits (generously) for a line from index `from` on that satisfies `match`. */
  async function waitForLine(what: string, match: (l: ChildLine) => boolean, from = 0, ms = 10_000): Promise<ChildLine> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = lines().slice(from).find(match);
      if (found) return found;
      if (Date.now() > deadline || !socketChild.running)
        throw new Error(`no ${what} within ${ms} ms; child said:\n${socketChild.stdout}${socketChild.stderr}`);
      await sleep(50);
    }
  }

  async function waitForPacket(
    what: string,
    match: (p: ChildLine & { ip: Ipv4Igmp }) => boolean,
    from = 0,
    ms = 10_000,
  ): Promise<ChildLine & { ip: Ipv4Igmp }> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = packets(from).find(match);
      if (found) return found;
      if (Date.now() > deadline || !socketChild.running)
        throw new Error(
          `no ${what} within ${ms} ms; got ${packets(from).length} packets; child said:\n${socketChild.stdout}${socketChild.stderr}`,
        );
      await sleep(50);
    }
  }

  async function join(group: string): Promise<void> {
    const listener = t.spawn('b', `listener ${group}`, process.execPath, ['-e', LISTENER_CHILD, group, B_ADDRESS]);
    listeners.push(listener);
    for (let i = 0; i < 200 && !listener.stdout.includes('joined'); i++) await sleep(25);
    assert.ok(listener.stdout.includes('joined'), `listener on ${group} joined: ${listener.stderr}`);
  }

  const command = (c: object): void => void socketChild.child.stdin!.write(`${JSON.stringify(c)}\n`);

  before(async () => {
    t = new Topology('igmps', { sysctls: NO_IPV6 });
    await t.addNamespace('a');
    await t.addNamespace('b');
    await t.link('a', 'a0', `${A_ADDRESS}/24`, 'b', 'b0', `${B_ADDRESS}/24`);
    macB = await t.mac('b', 'b0');
    ifindexA = (JSON.parse((await t.ip('a', ['-j', 'link', 'show', 'dev', 'a0'])).stdout) as Array<{ ifindex: number }>)[0]!.ifindex;
    socketChild = start('igmp socket in a', 'ip', ['netns', 'exec', t.ns('a'), process.execPath, '-e', SOCKET_CHILD, SOCKET_MODULE, 'a0'], {
      stdin: 'pipe',
    });
    const ready = await waitForLine('ready line', (l) => l.type === 'ready');
    assert.equal(ready.ifindex, ifindexA);
  });

  after(async () => {
    for (const l of listeners) await l.stop('SIGKILL', 1000);
    await socketChild?.stop('SIGKILL', 1000);
    await t?.destroy();
  });

  it('a missing interface is an error naming it (ENODEV)', () => {
    assert.throws(
      () => new IgmpPacketSocket('mcrnoif9'),
      (err: Error & { code?: string }) => err.code === 'ENODEV' && err.message.includes('mcrnoif9'),
    );
  });

  it("receives B's IGMPv3 report (to 224.0.0.22) with a0's ifindex and B's MAC", async () => {
    await join('239.1.1.1');
    const report = await waitForPacket(
      'IGMPv3 report for 239.1.1.1',
      (p) => p.ip.igmpType === 0x22 && v3Records(p.ip.igmp).some(([, g]) => g === '239.1.1.1'),
    );
    assert.equal(report.ip.protocol, 2);
    assert.equal(report.ip.destination, '224.0.0.22');
    assert.equal(report.ip.source, B_ADDRESS);
    assert.equal(report.ip.ttl, 1);
    assert.equal(report.ifindex, ifindexA);
    assert.equal(report.sourceMac, macB);
  });

  it('UDP arriving on a0, multicast and unicast, never reaches the socket (filter)', async () => {
    const before = await t.stat('a', 'a0', 'rx_packets');
    const sender = t.spawn('b', 'udp sender', process.execPath, ['-e', UDP_CHILD, '239.1.1.1', B_ADDRESS, A_ADDRESS, '20']);
    assert.equal(await sender.exited, 0, sender.stderr);
    // Arrived on the interface (40 datagrams, plus ARP for the unicast ones)...
    for (let i = 0; i < 100 && (await t.stat('a', 'a0', 'rx_packets')) - before < 40; i++) await sleep(50);
    assert.ok((await t.stat('a', 'a0', 'rx_packets')) - before >= 40);
    await sleep(1000);
    // ...and the socket delivered IGMP only, ever.
    for (const p of packets()) assert.equal(p.ip.protocol, 2, `non-IGMP packet delivered: ${p.hex}`);
  });

  it("a general query sent through the socket (Router Alert, TTL 1, to 224.0.0.1) is answered by B's kernel", async () => {
    const from = lines().length;
    const query = generalQuery();
    command({ cmd: 'send', hex: query.toString('hex'), group: '224.0.0.1' });
    const sent = await waitForLine('sent line', (l) => l.type === 'sent' || l.type === 'error', from);
    assert.equal(sent.type, 'sent', sent.message);
    assert.equal(sent.bytes, query.length);
    // A current-state record (MODE_IS_EXCLUDE, 2) is only ever sent in answer to a query; the
    // join's own reports carry CHANGE_TO_EXCLUDE (4).
    const answer = await waitForPacket(
      'report answering the query',
      (p) => p.ip.igmpType === 0x22 && v3Records(p.ip.igmp).some(([type, g]) => type === 2 && g === '239.1.1.1'),
      from,
    );
    assert.equal(answer.ip.destination, '224.0.0.22');
    // The socket's own query is not delivered back to it (PACKET_OUTGOING is filtered).
    assert.ok(!packets(from).some((p) => p.ip.igmpType === 0x11 && p.ip.source === A_ADDRESS));
  });

  it('with force_igmp_version=2 in B, a v2 report to a group A never joined is received', async () => {
    await t.exec('b', 'sysctl', ['-qw', 'net.ipv4.conf.b0.force_igmp_version=2']);
    const maddr = await t.ip('a', ['maddr', 'show', 'dev', 'a0']);
    assert.ok(!maddr.stdout.includes('239.2.2.2'), 'A has not joined 239.2.2.2');
    const from = lines().length;
    await join('239.2.2.2');
    const report = await waitForPacket('IGMPv2 report for 239.2.2.2', (p) => p.ip.igmpType === 0x16, from);
    assert.equal(report.ip.destination, '239.2.2.2');
    assert.equal(dotted(report.ip.igmp, 4), '239.2.2.2');
    assert.equal(report.ifindex, ifindexA);
  });

  it('the interface going down is reported once (ENETDOWN) and the socket receives again once it is back', async () => {
    const from = lines().length;
    await t.ip('a', ['link', 'set', 'a0', 'down']);
    const down = await waitForLine('ENETDOWN error line', (l) => l.type === 'error', from);
    assert.equal(down.code, 'ENETDOWN', down.message);
    assert.ok(down.message?.includes('a0'), down.message);
    await t.ip('a', ['link', 'set', 'a0', 'up']);
    for (let i = 0; i < 200; i++) {
      const link = JSON.parse((await t.ip('b', ['-j', 'link', 'show', 'dev', 'b0'])).stdout) as Array<{ operstate: string }>;
      if (link[0]?.operstate === 'UP') break;
      await sleep(50);
    }
    const upAt = lines().length;
    await join('239.4.4.4');
    const report = await waitForPacket(
      'IGMPv2 report for 239.4.4.4',
      (p) => p.ip.igmpType === 0x16 && p.ip.destination === '239.4.4.4',
      upAt,
    );
    assert.equal(report.ifindex, ifindexA);
    assert.equal(lines().filter((l) => l.type === 'error').length, 1, 'one error for one down');
  });

  it('close() stops the callbacks, send afterwards is EBADF, and the process can exit', async () => {
    command({ cmd: 'close' });
    await waitForLine('closed line', (l) => l.type === 'closed');
    const closedAt = lines().findIndex((l) => l.type === 'closed') + 1;
    command({ cmd: 'send', hex: generalQuery().toString('hex'), group: '224.0.0.1' });
    const refused = await waitForLine('error line', (l) => l.type === 'error', closedAt);
    assert.equal(refused.code, 'EBADF');
    await join('239.3.3.3');
    await sleep(3000);
    assert.deepEqual(packets(closedAt), [], 'nothing delivered after close()');
    // Only stdin keeps the child alive now: the closed socket no longer holds the event loop.
    socketChild.child.stdin!.end();
    const exited = await Promise.race([socketChild.exited, sleep(10_000).then(() => 'still running')]);
    assert.equal(exited, 0);
  });
});
