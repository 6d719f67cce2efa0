// SPDX-License-Identifier: MIT
// The IP sender (native IpSender, with forwardCopy from src/routing/ip-sender.ts) across a veth:
// namespace A holds the sender on a0 (in a child node process, since a socket opens in its
// process's namespace); namespace B captures on b0 (tests/helpers/capture.py) and listens to the
// group (tests/helpers/listener.py). A UDP packet from 10.77.0.99, an address A does not own,
// forwarded with TTL 8 leaves a0 once, through a0's qdisc, as given: source kept, TTL 7, the
// group's multicast MAC, checksums valid, the payload intact, and B's kernel delivers it to the
// listener from 10.77.0.99. Refusals come back as Errors with a code naming the interface; the
// MTU is read again when it changes either way; lo and missing interfaces are refused at open.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NO_IPV6 } from '../../lab/netns';
import { start, type Proc } from '../../lab/proc';
import { internetChecksum } from '../../src/lib/ipv4-packet';
import { forwardCopy } from '../../src/routing/ip-sender';
import { pollUntil } from '../helpers/control';
import { ipv4, multicastMac, udp } from '../helpers/frames';
import { ROOT, skipReason, sleep, Topology } from '../helpers/netns';

const skip = skipReason();
const ADDON_MODULE = path.resolve(__dirname, '..', '..', 'src', 'native', 'addon.js');
const CAPTURE = path.join(ROOT, 'tests', 'helpers', 'capture.py');
const LISTENER = path.join(ROOT, 'tests', 'helpers', 'listener.py');
const A_ADDRESS = '10.77.0.1';
const B_ADDRESS = '10.77.0.2';
/** In a0's subnet (so B's reverse-path check passes) but nobody's address. */
const SOURCE = '10.77.0.99';
const GROUP = '239.9.9.9';
const PORT = 5000;

/**
 * The child in namespace A: one JSON line per command read from stdin ({cmd:'open',ifname} |
 * {cmd:'send',hex} | {cmd:'close'}): opened, sent, closed, or error (code, message, the MTU as
 * the sender last read it).
 */
const SENDER_CHILD = `
const { IpSender } = require(process.argv[1]).loadAddon();
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
let sender;
let pending = '';
process.stdin.on('data', (d) => {
  pending += d;
  for (let nl = pending.indexOf('\\n'); nl >= 0; nl = pending.indexOf('\\n')) {
    const c = JSON.parse(pending.slice(0, nl));
    pending = pending.slice(nl + 1);
    try {
      if (c.cmd === 'open') {
        sender = new IpSender(c.ifname);
        out({ type: 'opened', interface: sender.interface, ifindex: sender.ifindex, mtu: sender.mtu });
      }
      if (c.cmd === 'send') out({ type: 'sent', bytes: sender.send(Buffer.from(c.hex, 'hex')), mtu: sender.mtu });
      if (c.cmd === 'close') { sender.close(); sender.close(); out({ type: 'closed' }); }
    } catch (e) {
      out({ type: 'error', message: e.message, code: e.code, mtu: sender?.mtu });
    }
  }
});
`;

interface Reply {
  type: 'opened' | 'sent' | 'closed' | 'error';
  interface?: string;
  ifindex?: number;
  mtu?: number;
  bytes?: number;
  code?: string;
  message?: string;
}

interface CapturedFrame {
  dstMac: string;
  srcMac: string;
  src: string;
  dst: string;
  ttl: number;
  df: boolean;
  ipChecksumValid: boolean;
  totalLength: number;
  srcPort: number;
  dstPort: number;
  udpChecksumValid: boolean | null;
  payload: string;
}

const addressBytes = (address: string): Buffer => Buffer.from(address.split('.').map(Number));

/** An IPv4/UDP packet from SOURCE to `destination`:PORT with a correct UDP checksum (over SOURCE). */
function udpPacket(ttl: number, payload: Buffer, destination = GROUP): Buffer {
  const datagram = udp({ srcPort: 40000, dstPort: PORT }, payload);
  const pseudo = Buffer.concat([
    addressBytes(SOURCE),
    addressBytes(destination),
    Buffer.from([0, 17, datagram.length >> 8, datagram.length & 0xff]),
  ]);
  datagram.writeUInt16BE(internetChecksum(Buffer.concat([pseudo, datagram])) || 0xffff, 6);
  return ipv4({ src: SOURCE, dst: destination, ttl, id: 0x4d43, dontFragment: true }, datagram);
}

function forwarded(packet: Buffer): Buffer {
  const copy = forwardCopy(packet);
  assert.ok(copy.ok, copy.ok ? '' : copy.reason);
  return copy.packet;
}

describe('IP sender', { skip }, () => {
  let t: Topology;
  let child: Proc;
  let macA = '';

  const replies = (): Reply[] =>
    child.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Reply);

  /** Sends one command to the child and waits for its one reply. */
  async function request(command: object): Promise<Reply> {
    const before = replies().length;
    child.child.stdin!.write(`${JSON.stringify(command)}\n`);
    await pollUntil(
      async () => replies().length,
      (n) => n > before || !child.running,
      `a reply to ${JSON.stringify(command).slice(0, 80)}`,
      10_000,
    );
    const reply = replies()[before];
    assert.ok(reply, `the child exited: ${child.stderr}`);
    return reply;
  }

  const send = (packet: Buffer): Promise<Reply> => request({ cmd: 'send', hex: packet.toString('hex') });

  /** Frames to PORT arriving on b0 while `fn` runs; the capture stops after `expect + 1` or 3 s. */
  async function onTheWire(expect: number, fn: () => Promise<void>): Promise<CapturedFrame[]> {
    const capture = t.spawn('b', 'capture', 'python3', [
      CAPTURE,
      '--interface',
      'b0',
      '--port',
      String(PORT),
      '--count',
      String(expect + 1),
      '--timeout',
      '3',
    ]);
    await pollUntil(
      async () => capture.stderr,
      (s) => s.includes('capturing'),
      'the capture to start',
    );
    await fn();
    await capture.exited;
    return capture.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as CapturedFrame);
  }

  /** The packets a0's root qdisc has sent. */
  async function qdiscPackets(): Promise<number> {
    const r = await t.exec('a', 'tc', ['-s', '-j', 'qdisc', 'show', 'dev', 'a0']);
    return (JSON.parse(r.stdout) as Array<{ kind: string; packets: number }>).find((q) => q.kind === 'pfifo')!.packets;
  }

  before(async () => {
    t = new Topology('ips', { sysctls: NO_IPV6 });
    await t.addNamespace('a');
    await t.addNamespace('b');
    await t.link('a', 'a0', `${A_ADDRESS}/24`, 'b', 'b0', `${B_ADDRESS}/24`);
    macA = await t.mac('a', 'a0');
    child = start('ip sender in a', 'ip', ['netns', 'exec', t.ns('a'), process.execPath, '-e', SENDER_CHILD, ADDON_MODULE], {
      stdin: 'pipe',
    });
  });

  after(async () => {
    await child?.stop('SIGKILL', 1000);
    await t?.destroy();
  });

  it('open refuses lo (not Ethernet) and a missing interface, naming them, and opens a0 with its MTU', async () => {
    const lo = await request({ cmd: 'open', ifname: 'lo' });
    assert.equal(lo.type, 'error');
    assert.equal(lo.code, 'EINVAL');
    assert.match(lo.message!, /IP sender on lo: not an Ethernet interface/);
    const missing = await request({ cmd: 'open', ifname: 'mcrnoif9' });
    assert.equal(missing.code, 'ENODEV');
    assert.match(missing.message!, /mcrnoif9/);
    const opened = await request({ cmd: 'open', ifname: 'a0' });
    const link = JSON.parse((await t.ip('a', ['-j', 'link', 'show', 'dev', 'a0'])).stdout) as Array<{ ifindex: number }>;
    assert.deepEqual(opened, { type: 'opened', interface: 'a0', ifindex: link[0]!.ifindex, mtu: 1500 });
  });

  it("a packet from 10.77.0.99 leaves a0 once, through its qdisc, as given, and reaches B's listener from that source", async () => {
    await t.exec('a', 'tc', ['qdisc', 'add', 'dev', 'a0', 'root', 'handle', '1:', 'pfifo', 'limit', '100']);
    const listener = t.spawn('b', 'listener', 'python3', [LISTENER, '--interface', 'b0', '--group', GROUP, '--port', String(PORT)]);
    await pollUntil(
      async () => listener.stderr,
      (s) => s.includes('joined'),
      'the listener to join',
    );
    const payload = Buffer.from('the inner packet of a PIM Register, forwarded down the shared tree');
    const packet = forwarded(udpPacket(8, payload));
    const qdiscBefore = await qdiscPackets();
    const frames = await onTheWire(1, async () => {
      const sent = await send(packet);
      assert.deepEqual(sent, { type: 'sent', bytes: packet.length, mtu: 1500 });
    });
    assert.equal(frames.length, 1, JSON.stringify(frames));
    const frame = frames[0]!;
    assert.equal(frame.dstMac, multicastMac(GROUP));
    assert.equal(frame.srcMac, macA);
    assert.equal(frame.src, SOURCE);
    assert.equal(frame.dst, GROUP);
    assert.equal(frame.ttl, 7);
    assert.equal(frame.df, true);
    assert.equal(frame.ipChecksumValid, true);
    assert.equal(frame.totalLength, packet.length);
    assert.equal(frame.srcPort, 40000);
    assert.equal(frame.udpChecksumValid, true);
    assert.equal(frame.payload, payload.toString('hex'));
    assert.equal((await qdiscPackets()) - qdiscBefore, 1, "the packet went through a0's qdisc");
    // The capture saw it on b0; the listener's socket had it queued by then.
    await sleep(300);
    await listener.stop('SIGTERM');
    const heard = JSON.parse(listener.stdout.trim().split('\n').pop() ?? '{}') as { total: number; bySource: Record<string, number> };
    assert.deepEqual(heard, { total: 1, bySource: { [SOURCE]: 1 } });
  });

  it('refuses a unicast destination and a length that disagrees with the header (EINVAL, naming a0); nothing leaves', async () => {
    const before = await t.stat('a', 'a0', 'tx_packets');
    const unicast = await send(udpPacket(8, Buffer.from('x'), B_ADDRESS));
    assert.equal(unicast.code, 'EINVAL');
    assert.match(unicast.message!, /^IP sender on a0: destination 10\.77\.0\.2 is not multicast/);
    const padded = await send(Buffer.concat([udpPacket(8, Buffer.from('x')), Buffer.alloc(1)]));
    assert.equal(padded.code, 'EINVAL');
    assert.match(padded.message!, /total length 29 is not the packet's 30 bytes/);
    const short = await send(Buffer.alloc(12, 0x45));
    assert.equal(short.code, 'EINVAL');
    assert.match(short.message!, /shorter than an IPv4 header/);
    assert.equal((await t.stat('a', 'a0', 'tx_packets')) - before, 0);
  });

  it('a packet over the MTU is EMSGSIZE; the MTU is read again when lowered or raised', async () => {
    const overhead = 28; // IPv4 + UDP headers
    const over = await send(udpPacket(8, Buffer.alloc(1501 - overhead, 7)));
    assert.equal(over.code, 'EMSGSIZE');
    assert.match(over.message!, /IP sender on a0: packet of 1501 bytes is over the MTU of 1500/);
    // Lowered after open: the kernel refuses, and the sender reads the new MTU.
    await t.ip('a', ['link', 'set', 'a0', 'mtu', '1000']);
    const lowered = await send(udpPacket(8, Buffer.alloc(1200 - overhead, 7)));
    assert.equal(lowered.code, 'EMSGSIZE');
    assert.match(lowered.message!, /packet of 1200 bytes is over the MTU of 1000/);
    assert.equal(lowered.mtu, 1000);
    // Raised after that: read again before refusing, so the packet goes.
    await t.setMtu(9000);
    const payload = Buffer.alloc(2000 - overhead);
    for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;
    const frames = await onTheWire(1, async () => {
      const sent = await send(udpPacket(8, payload));
      assert.deepEqual(sent, { type: 'sent', bytes: 2000, mtu: 9000 });
    });
    assert.equal(frames.length, 1);
    assert.equal(frames[0]!.totalLength, 2000);
    assert.equal(frames[0]!.payload, payload.toString('hex'));
  });

  it('after close(), send is EBADF and the child exits by itself (nothing holds its event loop)', async () => {
    assert.deepEqual(await request({ cmd: 'close' }), { type: 'closed' });
    const closed = await send(udpPacket(8, Buffer.from('x')));
    assert.equal(closed.code, 'EBADF');
    child.child.stdin!.end();
    const exited = await Promise.race([child.exited, sleep(10_000).then(() => 'still running')]);
    assert.equal(exited, 0);
  });
});
