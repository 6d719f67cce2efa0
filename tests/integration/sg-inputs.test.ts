// SPDX-License-Identifier: MIT
// Richer rule inputs (docs/configuration.md "Rules"), end to end through the real daemon: (S,G)
// rules pick packets by source, any-port rules with port-keeping outputs, ESP forwarded as a
// router (source, group, header fields and payload kept, TTL - 1), and the same rules added with
// mcrctl. A packet takes the most specific entry, (S,G,port) > (S,G,any) > (*,G,port) > (*,G,any);
// the routing table (src/routing/table.ts compileRoutes, docs/igmp.md) gives that entry the
// outputs of the less specific rules that also want its packets too, so a covering rule's outputs
// still get them while the packets count only in the most specific rule's counter.
//   gen: g0 10.0.1.1 (+10.0.1.11, 10.0.1.12) <-> relay: r0 | r1 <-> sink: s0
// Republished outputs leave from the relay's address, so which source a copy came from is read
// from the mcrgen stream id in its payload (one stream per source), and the relay's per-output
// counters show that nothing beyond the expected copies was sent.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pollUntil } from '../helpers/control';
import { assertDelivered, quietOneHop, ruleStats, stats, TempDir, type Stats } from '../helpers/datapath';
import { ethernet, inject, ipv4, multicastMac } from '../helpers/frames';
import { receive, ROOT, send, skipReason, sleep, startDaemon, type DaemonHandle, type Topology } from '../helpers/netns';

const skip = skipReason();
const CAPTURE = path.join(ROOT, 'tests', 'helpers', 'capture.py');
const N = 1000;
const RATE = 5000;
const SOURCE = '10.0.1.1';
const OTHER = '10.0.1.11';
const UNKNOWN = '10.0.1.12';

interface CapturedEsp {
  dstMac: string;
  srcMac: string;
  src: string;
  dst: string;
  ttl: number;
  id: number;
  df: boolean;
  ipChecksumValid: boolean;
  totalLength: number;
  payload: string;
}

/** One expected delivery: stream `stream` on the sink's `group`:`port`, N packets. */
interface Delivery {
  group: string;
  port: number;
  stream: number;
  /** Other streams also arrive on this group and port (a shared output). */
  shared?: boolean;
}

/** An ESP packet's IP payload: SPI, sequence number, 48 bytes standing in for ciphertext, a 16-byte ICV. */
function espPayload(spi: number, seq: number): Buffer {
  const b = Buffer.alloc(8 + 48 + 16);
  b.writeUInt32BE(spi, 0);
  b.writeUInt32BE(seq, 4);
  for (let i = 8; i < b.length; i++) b[i] = (seq * 131 + i * 29) & 0xff;
  return b;
}

describe('(S,G), any-port and ESP rule inputs', { skip }, () => {
  let t: Topology;
  let mcrd: DaemonHandle;
  let genMac: string;
  let r1Mac: string;
  const dir = new TempDir();

  before(async () => {
    t = await quietOneHop('sgin');
    for (const address of [OTHER, UNKNOWN]) await t.ip('gen', ['addr', 'add', `${address}/24`, 'dev', 'g0']);
    [genMac, r1Mac] = await Promise.all([t.mac('gen', 'g0'), t.mac('relay', 'r1')]);
    const udpOut = (group: string, port: number) => ({ interface: 'r1', group, port });
    const config = dir.config('mcr.json', {
      rules: [
        { name: 'sg-a', input: { interface: 'r0', group: '239.5.5.5', port: 5000, source: SOURCE }, outputs: [udpOut('239.6.6.1', 6001)] },
        { name: 'sg-b', input: { interface: 'r0', group: '239.5.5.5', port: 5000, source: OTHER }, outputs: [udpOut('239.6.6.2', 6002)] },
        { name: 'star-g', input: { interface: 'r0', group: '239.5.5.6', port: 5000 }, outputs: [udpOut('239.6.6.3', 6003)] },
        { name: 'sg-g', input: { interface: 'r0', group: '239.5.5.6', port: 5000, source: SOURCE }, outputs: [udpOut('239.6.6.4', 6004)] },
        { name: 'any-port', input: { interface: 'r0', group: '239.5.5.7', port: 0 }, outputs: [udpOut('239.6.6.5', 0)] },
        { name: 'port-5002', input: { interface: 'r0', group: '239.5.5.7', port: 5002 }, outputs: [udpOut('239.6.6.6', 7002)] },
        {
          name: 'esp',
          input: { interface: 'r0', group: '239.5.5.8', protocol: 'esp' },
          outputs: [{ interface: 'r1', group: '239.5.5.8' }],
        },
      ],
    });
    mcrd = await startDaemon(t, 'relay', { configFile: config });
    await pollUntil(
      async () => (await mcrd.request('list')).rules,
      (rules) => rules.length === 7 && rules.every((r) => r.status.input === 'up' && r.status.error === undefined),
      'every rule up',
    );
  });
  after(async () => {
    await mcrd?.stop();
    await t?.destroy();
    dir.remove();
  });

  /**
   * Starts a receiver per delivery, runs the senders, and asserts every delivery got its stream's
   * N packets exactly once and intact (nothing from another stream unless the output is shared).
   */
  const relayStreams = async (deliveries: Delivery[], senders: (() => Promise<unknown>)[]): Promise<void> => {
    const sinks = deliveries.map((d) => ({
      d,
      r: receive(t, 'sink', { group: d.group, port: d.port, iface: 's0', count: N, stream: d.stream }),
    }));
    await Promise.all(sinks.map((s) => s.r.ready));
    await Promise.all(senders.map((go) => go()));
    for (const { d, r } of sinks) assertDelivered(await r.result, N, `${d.group}:${d.port} stream ${d.stream}`, { allowForeign: d.shared });
  };

  /** The relay's stats once the named rules have matched `matched` packets between them, after a settle for stragglers. */
  const statsAfterMatched = async (names: string[], matched: number): Promise<Stats> => {
    const total = (s: Stats) => names.reduce((sum, name) => sum + ruleStats(s, name).matchedPackets, 0);
    await pollUntil(
      () => stats(mcrd),
      (s) => total(s) >= matched,
      `${names.join(', ')} to match ${matched} packets`,
    );
    await sleep(300);
    return stats(mcrd);
  };

  const counts = (s: Stats, name: string) => {
    const r = ruleStats(s, name);
    return { matched: r.matchedPackets, sent: r.outputs.map((o) => o.txPackets) };
  };

  const sendFrom = (source: string, group: string, port: number, stream: number) => () =>
    send(t, 'gen', { group, port, source, rate: RATE, count: N, stream }).then((r) =>
      assert.equal(r.sent, N, `${source} -> ${group}:${port}`),
    );

  it('(S,G) rules of one group take each source to its own output; a source without a rule matches nothing', async () => {
    const noMatchBefore = (await stats(mcrd)).totals.noMatch;
    await relayStreams(
      [
        { group: '239.6.6.1', port: 6001, stream: 1 },
        { group: '239.6.6.2', port: 6002, stream: 2 },
      ],
      [sendFrom(SOURCE, '239.5.5.5', 5000, 1), sendFrom(OTHER, '239.5.5.5', 5000, 2), sendFrom(UNKNOWN, '239.5.5.5', 5000, 3)],
    );
    const s = await statsAfterMatched(['sg-a', 'sg-b'], 2 * N);
    assert.deepEqual(counts(s, 'sg-a'), { matched: N, sent: [N] });
    assert.deepEqual(counts(s, 'sg-b'), { matched: N, sent: [N] });
    // 10.0.1.12's stream: neither (S,G) rule, and no (*,G) rule for 239.5.5.5.
    await pollUntil(
      () => stats(mcrd),
      (x) => x.totals.noMatch - noMatchBefore >= N,
      'the unmatched source to be counted',
    );
    assert.equal((await stats(mcrd)).totals.noMatch - noMatchBefore, N);
  });

  it('(S,G,port) beats (*,G,port): S counts in its own rule, the other source in the (*,G) rule; the (*,G) output gets both', async () => {
    await relayStreams(
      [
        { group: '239.6.6.4', port: 6004, stream: 4 },
        { group: '239.6.6.3', port: 6003, stream: 4, shared: true },
        { group: '239.6.6.3', port: 6003, stream: 5, shared: true },
      ],
      [sendFrom(SOURCE, '239.5.5.6', 5000, 4), sendFrom(OTHER, '239.5.5.6', 5000, 5)],
    );
    const s = await statsAfterMatched(['star-g', 'sg-g'], 2 * N);
    // The (S,G) entry carries star-g's output as well (compileRoutes merges covering entries),
    // so star-g's output sent both sources' packets while its rule matched only 10.0.1.11's.
    assert.deepEqual(counts(s, 'sg-g'), { matched: N, sent: [N] });
    assert.deepEqual(counts(s, 'star-g'), { matched: N, sent: [2 * N] });
  });

  it('an any-port rule keeps each packet port on its port-0 output; a rule for one port takes that port first', async () => {
    await relayStreams(
      [
        { group: '239.6.6.5', port: 5001, stream: 21 },
        { group: '239.6.6.5', port: 5002, stream: 22 },
        { group: '239.6.6.5', port: 5003, stream: 23 },
        { group: '239.6.6.6', port: 7002, stream: 22 },
      ],
      [sendFrom(SOURCE, '239.5.5.7', 5001, 21), sendFrom(SOURCE, '239.5.5.7', 5002, 22), sendFrom(SOURCE, '239.5.5.7', 5003, 23)],
    );
    const s = await statsAfterMatched(['any-port', 'port-5002'], 3 * N);
    assert.deepEqual(counts(s, 'port-5002'), { matched: N, sent: [N] });
    // 5001 and 5003 match the any-port rule; its output also carries 5002 (merged into port-5002's entry).
    assert.deepEqual(counts(s, 'any-port'), { matched: 2 * N, sent: [3 * N] });
  });

  it('ESP is forwarded as a router: source, group, header and payload kept, TTL - 1, checksum updated', async () => {
    const SPI = 0x0000c0de;
    const TTL = 9;
    const EXPIRED = 20;
    const TRUNCATED = 5;
    const frame = (ttl: number, id: number, payload: Buffer) =>
      ethernet(
        { dst: multicastMac('239.5.5.8'), src: genMac },
        ipv4({ src: SOURCE, dst: '239.5.5.8', protocol: 50, ttl, id, dontFragment: true }, payload),
      );
    const payloads = Array.from({ length: N }, (_, i) => espPayload(SPI, i + 1));
    // The ones that must not be forwarded go first, so any that were would show among the captured.
    const frames = [
      ...Array.from({ length: TRUNCATED }, (_, i) => frame(TTL, 100 + i, Buffer.from([0, 0, 0xc0, 0xde]))),
      ...Array.from({ length: EXPIRED }, (_, i) => frame(1, 200 + i, espPayload(SPI, 100_000 + i))),
      ...payloads.map((p, i) => frame(TTL, 1000 + i, p)),
    ];
    const before = (await stats(mcrd)).totals;

    const capture = t.spawn('sink', 'capture esp', 'python3', [
      CAPTURE,
      '--interface',
      's0',
      '--protocol',
      'esp',
      '--count',
      String(N),
      '--timeout',
      '20',
    ]);
    await pollUntil(
      async () => capture.stderr,
      (e) => e.includes('capturing'),
      'the capture',
    );
    assert.equal(await inject(t, 'gen', 'g0', frames), frames.length, 'mcrgen injected every frame');
    // UDP to the ESP rule's group is not ESP: it matches nothing.
    const udp = await send(t, 'gen', { group: '239.5.5.8', port: 5000, source: SOURCE, rate: RATE, count: 200 });
    assert.equal(udp.sent, 200);
    await capture.exited;
    const captured = capture.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as CapturedEsp);
    assert.equal(captured.length, N, `ESP packets at the sink (capture: ${capture.stderr})`);
    captured.forEach((f, i) => {
      assert.deepEqual(
        { src: f.src, dst: f.dst, ttl: f.ttl, id: f.id, df: f.df, ipChecksumValid: f.ipChecksumValid, totalLength: f.totalLength },
        { src: SOURCE, dst: '239.5.5.8', ttl: TTL - 1, id: 1000 + i, df: true, ipChecksumValid: true, totalLength: 20 + 72 },
        `ESP packet ${i}`,
      );
      assert.deepEqual([f.dstMac, f.srcMac], [multicastMac('239.5.5.8'), r1Mac], `ESP packet ${i}: Ethernet header`);
      assert.equal(f.payload, payloads[i]?.toString('hex'), `ESP packet ${i}: SPI, sequence number and the rest unchanged`);
    });

    const s = await statsAfterMatched(['esp'], N + EXPIRED);
    assert.deepEqual(counts(s, 'esp'), { matched: N + EXPIRED, sent: [N] });
    assert.equal(s.totals.ttlExpired - before.ttlExpired, EXPIRED, 'arrived with TTL 1: not sent');
    assert.equal(
      (s.totals.filteredByReason.truncated ?? 0) - (before.filteredByReason.truncated ?? 0),
      TRUNCATED,
      'ESP shorter than its header',
    );
    assert.equal(s.totals.noMatch - before.noMatch, 200, 'UDP to the ESP group');
  });

  it('mcrctl adds (S,G) and ESP rules and lists them; a bad one is refused naming the option while the rules keep forwarding', async () => {
    const added = await mcrd.ctl([
      'add',
      '--input-interface',
      'r0',
      '--input-source',
      SOURCE,
      '--input-group',
      '239.5.5.9',
      '--input-port',
      '5000',
      '--outputs',
      '239.6.6.9:6009:r1',
      '--name',
      'cli-sg',
    ]);
    assert.match(added.stdout.trim(), /^[0-9a-f]{12}$/);
    const addedEsp = await mcrd.ctl([
      'add',
      '--input-interface',
      'r0',
      '--input-group',
      '239.5.5.10',
      '--input-protocol',
      'esp',
      '--outputs',
      '239.5.5.10:0:r1',
      '--name',
      'cli-esp',
    ]);
    assert.match(addedEsp.stdout.trim(), /^[0-9a-f]{12}$/);
    const list = (await mcrd.ctl(['list'])).stdout;
    assert.match(
      list,
      new RegExp(`${added.stdout.trim()}\\s+cli-sg\\s+r0 10\\.0\\.1\\.1->239\\.5\\.5\\.9:5000\\s+239\\.6\\.6\\.9:6009:r1, ttl 16\\s+up`),
    );
    assert.match(list, new RegExp(`${addedEsp.stdout.trim()}\\s+cli-esp\\s+r0 239\\.5\\.5\\.10 esp\\s+r1, routed\\s+up`));

    const bad = await mcrd.ctl(
      [
        'add',
        '--input-interface',
        'r0',
        '--input-group',
        '239.5.5.11',
        '--input-protocol',
        'esp',
        '--input-port',
        '5000',
        '--outputs',
        '239.5.5.11:0:r1',
      ],
      true,
    );
    assert.equal(bad.code, 2, `exit code (stderr: ${bad.stderr})`);
    assert.match(bad.stderr, /^mcrctl: --input-port: .*\(ESP has no ports\), got 5000$/m);
    assert.equal((await mcrd.request('list')).rules.length, 9, 'the refused rule was not added');

    // Both added rules forward: the (S,G) one only its source, the ESP one routed.
    const espFrames = Array.from({ length: 50 }, (_, i) =>
      ethernet(
        { dst: multicastMac('239.5.5.10'), src: genMac },
        ipv4({ src: SOURCE, dst: '239.5.5.10', protocol: 50, ttl: 5, id: i }, espPayload(0xbeef, i + 1)),
      ),
    );
    await relayStreams(
      [{ group: '239.6.6.9', port: 6009, stream: 31 }],
      [
        sendFrom(SOURCE, '239.5.5.9', 5000, 31),
        sendFrom(OTHER, '239.5.5.9', 5000, 32),
        async () => assert.equal(await inject(t, 'gen', 'g0', espFrames), 50),
      ],
    );
    const s = await statsAfterMatched(['cli-sg', 'cli-esp'], N + 50);
    assert.deepEqual(counts(s, 'cli-sg'), { matched: N, sent: [N] });
    assert.deepEqual(counts(s, 'cli-esp'), { matched: 50, sent: [50] });
  });
});
