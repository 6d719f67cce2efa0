// SPDX-License-Identifier: MIT
// forwardCopy (src/routing/ip-sender.ts): a packet forwarded with TTL t is byte for byte the one
// tests/helpers/frames.ts builds with TTL t-1 (its own checksum code), IP options and fragments
// included; padding past the total length is dropped; the original is untouched; TTL 1 and 0 and
// malformed headers are refused by reason.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { forwardCopy } from '../../src/routing/ip-sender';
import { ipv4, udp } from '../helpers/frames';

const payload = udp({ srcPort: 40000, dstPort: 5000 }, Buffer.from('forwarded by the RP'));
const packet = (ttl: number, extra: Partial<Parameters<typeof ipv4>[0]> = {}): Buffer =>
  ipv4({ src: '10.77.0.99', dst: '239.9.9.9', ttl, id: 0x1234, dontFragment: true, ...extra }, payload);

function forwarded(p: Uint8Array): Buffer {
  const r = forwardCopy(p);
  assert.ok(r.ok, r.ok ? '' : `refused: ${r.reason}`);
  return r.packet;
}

describe('forwardCopy', () => {
  test('TTL minus one and the header checksum redone: the packet built with that TTL', () => {
    const original = packet(8);
    const before = Buffer.from(original);
    assert.deepEqual(forwarded(original), packet(7));
    assert.deepEqual(original, before, 'the original is not modified');
  });

  test('IP options (Router Alert, IHL 6) are kept and covered by the checksum', () => {
    const options = Buffer.from([0x94, 0x04, 0x00, 0x00]);
    assert.deepEqual(forwarded(packet(64, { options })), packet(63, { options }));
  });

  test('fragments are forwarded as they are', () => {
    const fragment = { dontFragment: false, moreFragments: true, fragmentOffset: 0 };
    assert.deepEqual(forwarded(packet(2, fragment)), packet(1, fragment));
  });

  test('bytes past the total length (Ethernet padding) are not copied', () => {
    const padded = Buffer.concat([packet(9), Buffer.alloc(18)]);
    assert.deepEqual(forwarded(padded), packet(8));
  });

  test('TTL 1 and 0 are refused as ttl_expired', () => {
    for (const ttl of [1, 0]) assert.deepEqual(forwardCopy(packet(ttl)), { ok: false, reason: 'ttl_expired' });
  });

  test('a malformed header is refused by its reason', () => {
    assert.deepEqual(forwardCopy(packet(8).subarray(0, 19)), { ok: false, reason: 'truncated' });
    assert.deepEqual(forwardCopy(packet(8).subarray(0, 30)), { ok: false, reason: 'truncated' });
    assert.deepEqual(forwardCopy(packet(8, { version: 6 })), { ok: false, reason: 'bad_ip_version' });
    assert.deepEqual(forwardCopy(packet(8, { ihl: 4 })), { ok: false, reason: 'bad_ip_header' });
    assert.deepEqual(forwardCopy(packet(8, { badChecksum: true })), { ok: false, reason: 'bad_ip_checksum' });
  });

  test('for every TTL from 2 and any identification and addresses, the same as building with TTL-1', () => {
    const address = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 255 }), fc.nat(0xffff), address, address, (ttl, id, src, dst) => {
        const at = (t: number) => ipv4({ src, dst, ttl: t, id }, payload);
        assert.deepEqual(forwarded(at(ttl)), at(ttl - 1));
      }),
    );
  });
});
