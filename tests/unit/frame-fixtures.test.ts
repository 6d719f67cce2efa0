// SPDX-License-Identifier: MIT
// The shared frame fixture table (tests/fixtures/frames.json) on the TypeScript side, without the
// core: every fixture names a real frame field and a real counter, fixtureFrame() builds it to the
// length the C++ builder does, the frame has the defect its verdict names (and a "matched" one has
// none), and kernelDrops / sendable say what the kernel does with it. The C++ parse tests check
// the verdicts themselves; tests/integration/frame-fixtures.test.ts checks them on a running relay.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ipv4Checksum, multicastMac } from '../helpers/frames';
import { readFrameFixtures, type FrameFixture } from '../helpers/frame-fixtures';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const { defaults, fixtures } = readFrameFixtures();

// Every filtered_* reason of the core's counter table (native/include/mcr/counters.h).
const counterHeader = readFileSync(path.join(ROOT, 'native', 'include', 'mcr', 'counters.h'), 'utf8');
const FILTER_REASONS = [...counterHeader.matchAll(/X\((filtered_\w+)\)/g)].map((m) => m[1]!);

/**
 * The defects a frame has, each named by the counter a parser would count it under; which one
 * wins when there are several is the parser's business (the C++ tests check that).
 */
function defects(f: Buffer): Set<string> {
  const found = new Set<string>();
  if (f.length < 14) return new Set(['filtered_truncated']);
  if (f.readUInt16BE(12) !== 0x0800) found.add('filtered_not_ipv4');
  if (f.length < 14 + 20) return found.add('filtered_truncated');
  const ip = f.subarray(14);
  const version = ip.readUInt8(0) >> 4;
  const headerLen = (ip.readUInt8(0) & 0x0f) * 4;
  const total = ip.readUInt16BE(2);
  if (version !== 4 || headerLen < 20 || total < headerLen) found.add('filtered_bad_ip_header');
  if ((ip.readUInt16BE(6) & 0x3fff) !== 0) found.add('filtered_fragment');
  if (ip[9] !== 17) found.add('filtered_not_udp');
  if (headerLen >= 20 && ip.length >= headerLen && ipv4Checksum(ip.subarray(0, headerLen)) !== 0) found.add('filtered_bad_ip_checksum');
  if (ip.length < Math.max(headerLen, 20) || total > ip.length || (total >= headerLen && total - headerLen < 8))
    found.add('filtered_truncated');
  else if (headerLen >= 20 && total >= headerLen + 8) {
    const udpLen = ip.readUInt16BE(headerLen + 4);
    if (udpLen < 8 || udpLen > total - headerLen) found.add('filtered_bad_udp_length');
  }
  return found;
}

/** What the relay's classic BPF program (native/core/ingress_ring.cc) accepts: IPv4, byte 23 UDP. */
const passesSocketFilter = (f: Buffer): boolean => f.length >= 24 && f.readUInt16BE(12) === 0x0800 && f[23] === 17;

describe('frame fixture table', () => {
  it('has unique names, known verdicts, and covers every filter reason a frame can have', () => {
    assert.equal(new Set(fixtures.map((f) => f.name)).size, fixtures.length, 'names are unique');
    for (const f of fixtures)
      assert.ok(f.verdict === 'matched' || FILTER_REASONS.includes(f.verdict), `${f.name}: unknown verdict ${f.verdict}`);
    // filtered_oversize is a wire length beyond the ring slot, not something in the frame's bytes.
    const covered = new Set(fixtures.map((f) => f.verdict));
    for (const reason of FILTER_REASONS.filter((r) => r !== 'filtered_oversize'))
      assert.ok(covered.has(reason), `no fixture for ${reason}`);
    assert.ok(covered.has('matched'));
  });

  it('refuses a frame field it does not know, naming it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mcr-fixtures-'));
    try {
      const table = JSON.parse(readFileSync(path.join(ROOT, 'tests', 'fixtures', 'frames.json'), 'utf8')) as {
        frames: { frame: Record<string, unknown> }[];
      };
      (table.frames[0] as { frame: Record<string, unknown> }).frame = { ttll: 3 };
      writeFileSync(path.join(dir, 'frames.json'), JSON.stringify(table));
      assert.throws(() => readFrameFixtures(path.join(dir, 'frames.json')), /frames\[0\] \(well-formed UDP\): "ttll" is not a frame field/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const f of fixtures) {
    it(`${f.name}: built to the C++ builder's length, with the defect "${f.verdict}" names`, () => {
      const s = f.spec;
      assert.equal(f.frame.length, 14 + Math.max(20, s.ihl * 4) + 8 + s.payload - s.cut, 'length');
      const found = defects(f.frame);
      if (f.verdict === 'matched') {
        assert.deepEqual([...found], [], 'a matched fixture is well-formed');
        assert.equal(f.frame.subarray(0, 6).toString('hex'), multicastMac(s.dst).replaceAll(':', ''), 'destination MAC');
        const udp = f.frame.subarray(14 + s.ihl * 4);
        assert.equal(udp.readUInt16BE(2), s.port, 'UDP port');
        assert.equal(udp.readUInt16BE(4) - 8, s.payload + s.udpLenDelta, 'UDP payload length');
        assert.equal(f.frame.subarray(30, 34).join('.'), s.dst, 'IP destination');
      } else assert.ok(found.has(f.verdict), `has the defect ${f.verdict}; found ${[...found].join(', ') || 'none'}`);
    });
  }

  it('says which fixtures the kernel drops (socket filter) and which cannot be sent at all', () => {
    const wrong = (pred: (f: FrameFixture) => boolean): string[] => fixtures.filter(pred).map((f) => f.name);
    assert.deepEqual(
      wrong((f) => f.kernelDrops === passesSocketFilter(f.frame)),
      [],
      'kernelDrops: true exactly when the socket filter drops the frame',
    );
    assert.deepEqual(
      wrong((f) => f.sendable !== f.frame.length >= 14),
      [],
      'sendable: false exactly when shorter than an Ethernet header',
    );
    assert.ok(
      fixtures.some((f) => f.kernelDrops && f.sendable),
      'some fixture shows the kernel drop on a relay',
    );
  });

  it('matched fixtures all go to the defaults group and port (the integration test has one rule there)', () => {
    for (const f of fixtures.filter((x) => x.verdict === 'matched'))
      assert.deepEqual([f.spec.dst, f.spec.port], [defaults.dst, defaults.port], f.name);
  });
});
