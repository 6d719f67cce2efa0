// SPDX-License-Identifier: MIT
// The raw PIM socket (src/routing/pim/socket.ts) against a bare PIM peer (tests/helpers/pim-peer.py,
// plain raw IPPROTO_PIM sockets). Namespace A holds the socket on a0 (in a child node process,
// since a socket opens in its process's namespace); namespace B is across two veths (b0-a0 and
// b1-a1). A Hello from B to 224.0.0.13 and a unicast message to a0's address arrive once each with
// the IP header stripped and its source, destination, TTL and a0's ifindex given apart; a message
// arriving on a1 does not reach the socket; messages sent through the socket reach B (TTL 1 to
// 224.0.0.13) and never come back to it; a0 going down is one ENETDOWN error, after which the
// socket receives again; after close() nothing is delivered and the child exits.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NO_IPV6 } from '../../lab/netns';
import { start, type Proc } from '../../lab/proc';
import { pollUntil } from '../helpers/control';
import { ROOT, skipReason, sleep, Topology } from '../helpers/netns';
import { PimPacketSocket } from '../../src/routing/pim/socket';

const skip = skipReason();
const SOCKET_MODULE = path.resolve(__dirname, '..', '..', 'src', 'routing', 'pim', 'socket.js');
const PEER = path.join(ROOT, 'tests', 'helpers', 'pim-peer.py');
const A_ADDRESS = '10.0.9.1';
const B_ADDRESS = '10.0.9.2';
const A1_ADDRESS = '10.0.10.1';
const B1_ADDRESS = '10.0.10.2';
const ALL_PIM_ROUTERS = '224.0.0.13';

/**
 * The child in namespace A: opens the socket on argv[2] and prints one JSON line per event
 * (ready, packet, error from the socket, sent, refused by send, closed); reads commands
 * ({cmd:'send',hex,destination} | {cmd:'close'}) from stdin and exits by itself once stdin ends
 * and the socket is closed.
 */
const SOCKET_CHILD = `
const { PimPacketSocket } = require(process.argv[1]);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const socket = new PimPacketSocket(process.argv[2]);
socket.onError((e) => out({ type: 'error', message: e.message, code: e.code }));
socket.onPacket((p) => out({ type: 'packet', hex: p.data.toString('hex'), source: p.source, destination: p.destination, ttl: p.ttl, ifindex: p.ifindex }));
out({ type: 'ready', ifindex: socket.ifindex, interface: socket.interface });
let pending = '';
process.stdin.on('data', (d) => {
  pending += d;
  for (let nl = pending.indexOf('\\n'); nl >= 0; nl = pending.indexOf('\\n')) {
    const c = JSON.parse(pending.slice(0, nl));
    pending = pending.slice(nl + 1);
    try {
      if (c.cmd === 'send') out({ type: 'sent', bytes: socket.send(Buffer.from(c.hex, 'hex'), c.destination) });
      if (c.cmd === 'close') { socket.close(); socket.close(); out({ type: 'closed' }); }
    } catch (e) {
      out({ type: 'refused', message: e.message, code: e.code });
    }
  }
});
`;

interface ChildLine {
  type: 'ready' | 'packet' | 'error' | 'sent' | 'refused' | 'closed';
  hex?: string;
  source?: string;
  destination?: string;
  ttl?: number;
  ifindex?: number;
  interface?: string;
  bytes?: number;
  message?: string;
  code?: string;
}

/** One message as pim-peer.py listen prints it. */
interface PeerLine {
  src: string;
  dst: string;
  ttl: number;
  ihl: number;
  hex: string;
}

function pimChecksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** A PIMv2 Hello (RFC 7761 4.9.2): Holdtime 105 s, DR Priority 1, Generation ID `tag` (so each is unique), checksummed. */
function hello(tag: number): string {
  const m = Buffer.alloc(4 + 6 + 8 + 8);
  m[0] = 0x20; // version 2, type 0 (Hello)
  m.writeUInt16BE(1, 4); // Holdtime
  m.writeUInt16BE(2, 6);
  m.writeUInt16BE(105, 8);
  m.writeUInt16BE(19, 10); // DR Priority
  m.writeUInt16BE(4, 12);
  m.writeUInt32BE(1, 14);
  m.writeUInt16BE(20, 18); // Generation ID
  m.writeUInt16BE(4, 20);
  m.writeUInt32BE(tag, 22);
  m.writeUInt16BE(pimChecksum(m), 2);
  return m.toString('hex');
}

describe('PIM socket', { skip }, () => {
  let t: Topology;
  let socketChild: Proc;
  const peers: Proc[] = [];
  let ifindexA = 0;
  let defaultTtlA = 0;
  let defaultTtlB = 0;
  let nextTag = 1;

  const lines = (): ChildLine[] =>
    socketChild.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as ChildLine);
  const packets = (from = 0): ChildLine[] =>
    lines()
      .slice(from)
      .filter((l) => l.type === 'packet');

  /** Waits (generously) for a line from index `from` on that satisfies `match`. */
  function waitForLine(what: string, match: (l: ChildLine) => boolean, from = 0): Promise<ChildLine> {
    return pollUntil(
      async () => {
        if (!socketChild.running) throw new Error(`the socket child exited: ${socketChild.stderr}`);
        return lines().slice(from).find(match);
      },
      (l) => l !== undefined,
      `${what}; child said:\n${socketChild.stdout}${socketChild.stderr}`,
      10_000,
    ) as Promise<ChildLine>;
  }

  const command = (c: object): void => void socketChild.child.stdin!.write(`${JSON.stringify(c)}\n`);

  /** Sends PIM messages from B out of `via` (B's address on the veth to use) to `destination`. */
  async function sendFromB(destination: string, hex: string[], via = B_ADDRESS): Promise<void> {
    const args = [PEER, 'send', '--interface-address', via, '--destination', destination, ...hex.flatMap((h) => ['--hex', h])];
    await t.exec('b', 'python3', args);
  }

  /** A pim-peer.py listener on `ifname` in `ns`, joined once this returns. */
  async function listen(ns: string, ifname: string, count: number): Promise<Proc> {
    const peer = t.spawn(ns, `pim listener on ${ifname}`, 'python3', [
      PEER,
      'listen',
      '--interface',
      ifname,
      '--count',
      String(count),
      '--timeout',
      '30',
    ]);
    peers.push(peer);
    await pollUntil(
      async () => peer.stderr,
      (e) => e.includes('listening') || !peer.running,
      `the listener on ${ifname} to join`,
      10_000,
    );
    assert.ok(peer.stderr.includes('listening'), `listener on ${ifname}: ${peer.stderr}`);
    return peer;
  }

  const heard = (peer: Proc): PeerLine[] =>
    peer.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as PeerLine);

  async function waitHeard(peer: Proc, what: string, count: number): Promise<PeerLine[]> {
    return pollUntil(
      async () => heard(peer),
      (h) => h.length >= count,
      `${what}; listener said: ${peer.stdout}${peer.stderr}`,
      10_000,
    );
  }

  async function operstateUp(ns: string, ifname: string): Promise<void> {
    await pollUntil(
      async () =>
        (JSON.parse((await t.ip(ns, ['-j', 'link', 'show', 'dev', ifname])).stdout) as Array<{ operstate: string }>)[0]?.operstate,
      (state) => state === 'UP',
      `${ifname} in ${ns} to be UP`,
      10_000,
    );
  }

  before(async () => {
    t = new Topology('pims', { sysctls: NO_IPV6 });
    await t.addNamespace('a');
    await t.addNamespace('b');
    await t.link('a', 'a0', `${A_ADDRESS}/24`, 'b', 'b0', `${B_ADDRESS}/24`);
    await t.link('a', 'a1', `${A1_ADDRESS}/24`, 'b', 'b1', `${B1_ADDRESS}/24`);
    ifindexA = (JSON.parse((await t.ip('a', ['-j', 'link', 'show', 'dev', 'a0'])).stdout) as Array<{ ifindex: number }>)[0]!.ifindex;
    defaultTtlA = Number((await t.exec('a', 'sysctl', ['-n', 'net.ipv4.ip_default_ttl'])).stdout.trim());
    defaultTtlB = Number((await t.exec('b', 'sysctl', ['-n', 'net.ipv4.ip_default_ttl'])).stdout.trim());
    socketChild = start('pim socket in a', 'ip', ['netns', 'exec', t.ns('a'), process.execPath, '-e', SOCKET_CHILD, SOCKET_MODULE, 'a0'], {
      stdin: 'pipe',
    });
    const ready = await waitForLine('ready line', (l) => l.type === 'ready');
    assert.equal(ready.ifindex, ifindexA);
    assert.equal(ready.interface, 'a0');
  });

  after(async () => {
    for (const p of peers) await p.stop('SIGKILL', 1000);
    await socketChild?.stop('SIGKILL', 1000);
    await t?.destroy();
  });

  it('a missing interface is an error naming it (ENODEV)', () => {
    assert.throws(
      () => new PimPacketSocket('mcrnoif9'),
      (err: Error & { code?: string }) => err.code === 'ENODEV' && err.message.includes('mcrnoif9'),
    );
  });

  it("B's Hello to 224.0.0.13 arrives once: PIM bytes only, B's address, TTL 1, a0's ifindex", async () => {
    const from = lines().length;
    const message = hello(nextTag++);
    const marker = hello(nextTag++);
    await sendFromB(ALL_PIM_ROUTERS, [message, marker]);
    await waitForLine('the marker Hello', (l) => l.type === 'packet' && l.hex === marker, from);
    const got = packets(from).filter((p) => p.hex === message);
    assert.equal(got.length, 1, 'delivered once');
    assert.equal(got[0]!.source, B_ADDRESS);
    assert.equal(got[0]!.destination, ALL_PIM_ROUTERS);
    assert.equal(got[0]!.ttl, 1);
    assert.equal(got[0]!.ifindex, ifindexA);
  });

  it("a unicast message to a0's address arrives with B's default TTL", async () => {
    const from = lines().length;
    const message = hello(nextTag++);
    await sendFromB(A_ADDRESS, [message]);
    const got = await waitForLine('the unicast message', (l) => l.type === 'packet' && l.hex === message, from);
    assert.equal(got.source, B_ADDRESS);
    assert.equal(got.destination, A_ADDRESS);
    assert.equal(got.ttl, defaultTtlB);
    assert.equal(got.ifindex, ifindexA);
  });

  it('a message arriving on a1 (the same host, another interface) does not reach the socket on a0', async () => {
    const from = lines().length;
    const onA1 = await listen('a', 'a1', 2);
    const elsewhere = [hello(nextTag++), hello(nextTag++)];
    await sendFromB(A1_ADDRESS, [elsewhere[0]!], B1_ADDRESS);
    await sendFromB(ALL_PIM_ROUTERS, [elsewhere[1]!], B1_ADDRESS);
    // The host did take both in on a1 (every raw socket gets its copy in the same pass)...
    const onA1Heard = await waitHeard(onA1, 'both messages on a1', 2);
    assert.deepEqual(
      onA1Heard.map((h) => h.hex),
      elsewhere,
    );
    // ...and a marker on a0 read after them shows the socket never queued either.
    const marker = hello(nextTag++);
    await sendFromB(ALL_PIM_ROUTERS, [marker]);
    await waitForLine('the marker Hello on a0', (l) => l.type === 'packet' && l.hex === marker, from);
    assert.deepEqual(
      packets(from).filter((p) => elsewhere.includes(p.hex!)),
      [],
    );
  });

  it('messages sent through the socket reach B: TTL 1 to 224.0.0.13, the default TTL unicast; never back to the socket', async () => {
    const from = lines().length;
    const onB0 = await listen('b', 'b0', 2);
    const multicast = hello(nextTag++);
    const unicast = hello(nextTag++);
    command({ cmd: 'send', hex: multicast, destination: ALL_PIM_ROUTERS });
    command({ cmd: 'send', hex: unicast, destination: B_ADDRESS });
    const [toGroup, toB] = await waitHeard(onB0, 'both messages at B', 2);
    assert.deepEqual(toGroup, { src: A_ADDRESS, dst: ALL_PIM_ROUTERS, ttl: 1, ihl: 20, hex: multicast });
    assert.deepEqual(toB, { src: A_ADDRESS, dst: B_ADDRESS, ttl: defaultTtlA, ihl: 20, hex: unicast });
    const sent = lines()
      .slice(from)
      .filter((l) => l.type === 'sent' || l.type === 'refused');
    assert.deepEqual(
      sent.map((l) => [l.type, l.bytes]),
      [
        ['sent', multicast.length / 2],
        ['sent', unicast.length / 2],
      ],
    );
    // IP_MULTICAST_LOOP is off: a Hello from B read after ours shows ours did not come back.
    const marker = hello(nextTag++);
    await sendFromB(ALL_PIM_ROUTERS, [marker]);
    await waitForLine('the marker Hello', (l) => l.type === 'packet' && l.hex === marker, from);
    assert.deepEqual(
      packets(from).filter((p) => p.source === A_ADDRESS),
      [],
    );
  });

  it('send refuses what is not a PIM message or an address, naming it', async () => {
    const from = lines().length;
    command({ cmd: 'send', hex: '2000', destination: ALL_PIM_ROUTERS });
    command({ cmd: 'send', hex: hello(nextTag++), destination: '224.0.0.300' });
    const refused = await pollUntil(
      async () =>
        lines()
          .slice(from)
          .filter((l) => l.type === 'refused'),
      (r) => r.length >= 2,
      'two refusals',
      10_000,
    );
    assert.equal(refused[0]!.code, 'EINVAL');
    assert.match(refused[0]!.message!, /PIM socket on a0: message shorter than the 4-byte PIM header/);
    assert.match(refused[1]!.message!, /Expected an IPv4 address \(got "224\.0\.0\.300"\) for destination/);
  });

  it('a0 going down is reported once (ENETDOWN), send is refused meanwhile, and the socket receives again once a0 is back', async () => {
    const from = lines().length;
    await t.ip('a', ['link', 'set', 'a0', 'down']);
    const down = await waitForLine('ENETDOWN error line', (l) => l.type === 'error', from);
    assert.equal(down.code, 'ENETDOWN', down.message);
    assert.match(down.message!, /PIM socket on a0: interface went down/);
    command({ cmd: 'send', hex: hello(nextTag++), destination: ALL_PIM_ROUTERS });
    const refused = await waitForLine('send refused while down', (l) => l.type === 'refused' || l.type === 'sent', from);
    assert.equal(refused.type, 'refused');
    assert.equal(refused.code, 'ENETUNREACH', refused.message);
    await t.ip('a', ['link', 'set', 'a0', 'up']);
    await operstateUp('a', 'a0');
    await operstateUp('b', 'b0');
    // Hellos until one arrives: the first few may find the link still coming up.
    const upAt = lines().length;
    const sentAfterUp: string[] = [];
    await pollUntil(
      async () => {
        const message = hello(nextTag++);
        sentAfterUp.push(message);
        await sendFromB(ALL_PIM_ROUTERS, [message]);
        return packets(upAt).some((p) => sentAfterUp.includes(p.hex!));
      },
      (arrived) => arrived,
      'a Hello to arrive after a0 came back',
      10_000,
      200,
    );
    const received = packets(upAt).find((p) => sentAfterUp.includes(p.hex!))!;
    assert.equal(received.ifindex, ifindexA);
    assert.equal(received.destination, ALL_PIM_ROUTERS);
    assert.equal(
      lines()
        .slice(from)
        .filter((l) => l.type === 'error').length,
      1,
      'one error for one down',
    );
  });

  it('close() stops the callbacks, send afterwards is EBADF, and the process can exit', async () => {
    command({ cmd: 'close' });
    await waitForLine('closed line', (l) => l.type === 'closed');
    const closedAt = lines().findIndex((l) => l.type === 'closed') + 1;
    command({ cmd: 'send', hex: hello(nextTag++), destination: ALL_PIM_ROUTERS });
    const refused = await waitForLine('refused line', (l) => l.type === 'refused', closedAt);
    assert.equal(refused.code, 'EBADF');
    // A listener on a0 shows the Hello did reach A; the closed socket delivers nothing.
    const onA0 = await listen('a', 'a0', 1);
    const message = hello(nextTag++);
    await sendFromB(ALL_PIM_ROUTERS, [message]);
    const [atA] = await waitHeard(onA0, 'the Hello at a0', 1);
    assert.equal(atA!.hex, message);
    await sleep(1000);
    assert.deepEqual(packets(closedAt), [], 'nothing delivered after close()');
    // Only stdin keeps the child alive now: the closed socket no longer holds the event loop.
    socketChild.child.stdin!.end();
    const exited = await Promise.race([socketChild.exited, sleep(10_000).then(() => 'still running')]);
    assert.equal(exited, 0);
  });
});
