// SPDX-License-Identifier: MIT
// MSDP codec (src/routing/msdp/codec.ts): messages written byte by byte from RFC 3618 12.2, every
// malformed case named by its reason, and fast-check properties: arbitrary bytes never throw, in
// any chunking; every message survives a round trip; a stream of valid messages cut anywhere
// yields the same messages.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import {
  encodeMsdpMessage,
  encodeSourceActive,
  MSDP_MAX_MESSAGE,
  MSDP_PARSE_ERRORS,
  type MsdpMessage,
  type MsdpReadResult,
  MsdpReader,
  parseMsdpMessage,
} from '../../src/routing/msdp/codec';

const RUNS = { numRuns: 2000, seed: 0x6d736470 };
const hex = (text: string) => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

const reasonOf = (bytes: Uint8Array): string => {
  const r = parseMsdpMessage(bytes);
  return r.ok ? 'ok' : r.reason;
};

describe('MSDP byte vectors from RFC 3618 12.2', () => {
  // 12.2.1: type 1, length 32 (8 + 2 x 12), 2 entries, RP 10.0.0.1; entries: reserved 000000,
  // sprefix len 0x20, group, source.
  const sa = hex(`
    01 0020 02 0a000001
    000000 20 ef010101 0a000101
    000000 20 ef010102 0a000102`);
  const saMessage: MsdpMessage = {
    type: 'source_active',
    rp: '10.0.0.1',
    entries: [
      { group: '239.1.1.1', source: '10.0.1.1' },
      { group: '239.1.1.2', source: '10.0.1.2' },
    ],
  };

  test('Source-Active with two entries', () => {
    assert.deepEqual(parseMsdpMessage(sa), { ok: true, message: saMessage });
    assert.deepEqual(encodeMsdpMessage(saMessage), sa);
  });

  test('Source-Active with an encapsulated data packet after the entries', () => {
    const withData = hex('01 0017 01 0a000001 000000 20 ef010101 0a000101 4500aa');
    const m: MsdpMessage = {
      type: 'source_active',
      rp: '10.0.0.1',
      entries: [{ group: '239.1.1.1', source: '10.0.1.1' }],
      data: hex('4500aa'),
    };
    assert.deepEqual(parseMsdpMessage(withData), { ok: true, message: m });
    assert.deepEqual(encodeMsdpMessage(m), withData);
  });

  test('KeepAlive is 3 bytes', () => {
    assert.deepEqual(encodeMsdpMessage({ type: 'keepalive' }), hex('04 0003'));
    assert.deepEqual(parseMsdpMessage(hex('040003')), { ok: true, message: { type: 'keepalive' } });
  });

  test('SA-Request, SA-Response and Notification', () => {
    assert.deepEqual(parseMsdpMessage(hex('02 0008 00 ef010101')), { ok: true, message: { type: 'sa_request', group: '239.1.1.1' } });
    assert.deepEqual(parseMsdpMessage(hex('03 0008 00 0a000001')), {
      ok: true,
      message: { type: 'sa_response', rp: '10.0.0.1', entries: [] },
    });
    assert.deepEqual(parseMsdpMessage(hex('05 0007 83 02 abcd')), {
      ok: true,
      message: { type: 'notification', open: true, errorCode: 3, errorSubcode: 2, data: hex('abcd') },
    });
  });

  test('every malformed case is named', () => {
    assert.equal(reasonOf(hex('040004 00')), 'bad_length', 'KeepAlive longer than 3');
    assert.equal(reasonOf(hex('040002')), 'bad_length', 'length below the header');
    assert.equal(reasonOf(hex('01 0007 00 0a0000')), 'bad_length', 'SA shorter than its header');
    assert.equal(reasonOf(hex('02 0009 00 ef010101 00')), 'bad_length', 'SA-Request not 8');
    assert.equal(reasonOf(hex('05 0004 00')), 'bad_length', 'Notification without subcode');
    assert.equal(reasonOf(hex('01 2401 00')), 'bad_length', `above ${MSDP_MAX_MESSAGE}`);
    assert.equal(reasonOf(hex('01 0014 02 0a000001 000000 20 ef010101 0a000101')), 'truncated_entries');
    assert.equal(reasonOf(hex('01 0014 01 0a000001 000000 18 ef010101 0a000101')), 'bad_prefix_length');
    assert.equal(reasonOf(hex('06 0003')), 'unknown_type');
    assert.equal(reasonOf(hex('00 0003')), 'unknown_type');
    assert.equal(reasonOf(hex('01 0014 01 0a000001')), 'truncated');
    assert.equal(reasonOf(hex('04')), 'truncated');
  });

  test('encodeSourceActive splits at 255 entries', () => {
    const entries = Array.from({ length: 300 }, (_, i) => ({ group: '239.1.1.1', source: `10.1.${i >> 8}.${i & 0xff}` }));
    const parts = encodeSourceActive('10.0.0.1', entries);
    assert.equal(parts.length, 2);
    const parsed = parts.map((p) => parseMsdpMessage(p));
    assert.deepEqual(
      parsed.flatMap((r) => (r.ok && r.message.type === 'source_active' ? r.message.entries : [])),
      entries,
    );
  });

  test('encoding refuses a bad address with the field named', () => {
    assert.throws(() => encodeMsdpMessage({ type: 'source_active', rp: 'x', entries: [] }), /MSDP SA RP address: not an IPv4 address: "x"/);
  });
});

describe('MsdpReader', () => {
  test('messages split across chunks and several in one chunk', () => {
    const ka = encodeMsdpMessage({ type: 'keepalive' });
    const sa = encodeMsdpMessage({ type: 'source_active', rp: '10.0.0.1', entries: [{ group: '239.1.1.1', source: '10.0.1.1' }] });
    const r = new MsdpReader();
    assert.deepEqual(r.push(sa.subarray(0, 2)), []);
    assert.deepEqual(r.push(sa.subarray(2, 10)), []);
    assert.equal(r.pending, 10);
    const out = r.push(Uint8Array.from([...sa.subarray(10), ...ka, ...ka, ka[0] as number]));
    assert.deepEqual(
      out.map((x) => (x.ok ? x.message.type : x.reason)),
      ['source_active', 'keepalive', 'keepalive'],
    );
    assert.equal(r.pending, 1);
  });

  test('a bad header fails at once, before its body arrives, and the reader stays failed', () => {
    const r = new MsdpReader();
    assert.deepEqual(r.push(hex('040003 09')), [{ ok: true, message: { type: 'keepalive' } }]);
    assert.deepEqual(r.push(hex('0003')), [{ ok: false, reason: 'unknown_type' }]);
    assert.equal(r.failed, 'unknown_type');
    assert.deepEqual(r.push(hex('040003')), []);
  });

  test('messages before a malformed one are delivered', () => {
    const r = new MsdpReader();
    const out = r.push(hex('040003 01 0014 01 0a000001 000000 18 ef010101 0a000101'));
    assert.deepEqual(out, [
      { ok: true, message: { type: 'keepalive' } },
      { ok: false, reason: 'bad_prefix_length' },
    ]);
  });
});

// ---- properties ---------------------------------------------------------------------------------

const address = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
// mapped to plain objects: fast-check may build records without a prototype, which deepEqual tells apart
const entry = fc.record({ source: address, group: address }).map((e) => ({ source: e.source, group: e.group }));
const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const message: fc.Arbitrary<MsdpMessage> = fc
  .oneof(
    fc.record({ type: fc.constant('source_active' as const), rp: address, entries: fc.array(entry, { maxLength: 20 }) }),
    fc.record({
      type: fc.constant('source_active' as const),
      rp: address,
      entries: fc.array(entry, { minLength: 1, maxLength: 5 }),
      data: bytes(100).filter((d) => d.length > 0),
    }),
    fc.record({ type: fc.constant('sa_response' as const), rp: address, entries: fc.array(entry, { maxLength: 5 }) }),
    fc.record({ type: fc.constant('sa_request' as const), group: address }),
    fc.constant({ type: 'keepalive' as const }),
    fc.record({
      type: fc.constant('notification' as const),
      open: fc.boolean(),
      errorCode: fc.nat(127),
      errorSubcode: fc.nat(255),
      data: bytes(20),
    }),
  )
  .map((m) => ({ ...m }));

/** Cuts `data` at the given points (taken modulo its length) and feeds the pieces to a new reader. */
function readChunked(data: Uint8Array, cuts: number[]): MsdpReadResult[] {
  const points = [...new Set(cuts.map((c) => (data.length ? c % (data.length + 1) : 0)))].sort((a, b) => a - b);
  const r = new MsdpReader();
  const out: MsdpReadResult[] = [];
  let last = 0;
  for (const p of [...points, data.length]) {
    out.push(...r.push(data.subarray(last, p)));
    last = p;
  }
  return out;
}

describe('MSDP properties', () => {
  test('arbitrary bytes never throw, whole or in any chunking, and errors are named', () => {
    fc.assert(
      fc.property(bytes(300), fc.array(fc.nat(400), { maxLength: 10 }), (data, cuts) => {
        const one = parseMsdpMessage(data);
        if (!one.ok) assert.ok(MSDP_PARSE_ERRORS.includes(one.reason));
        const out = readChunked(data, cuts);
        // the chunking does not change what comes out
        assert.deepEqual(out, readChunked(data, []));
        // at most one error, and it is last
        for (const x of out.slice(0, -1)) assert.ok(x.ok);
      }),
      RUNS,
    );
  });

  test('every message survives encode then parse', () => {
    fc.assert(
      fc.property(message, (m) => {
        assert.deepEqual(parseMsdpMessage(encodeMsdpMessage(m)), { ok: true, message: m });
      }),
      RUNS,
    );
  });

  test('a stream of messages cut anywhere reads back as the same messages', () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 8 }), fc.array(fc.nat(2000), { maxLength: 12 }), (ms, cuts) => {
        const stream = Buffer.concat(ms.map((m) => encodeMsdpMessage(m)));
        assert.deepEqual(
          readChunked(stream, cuts),
          ms.map((m) => ({ ok: true, message: m })),
        );
      }),
      { ...RUNS, numRuns: 500 },
    );
  });
});
