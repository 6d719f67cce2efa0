// SPDX-License-Identifier: MIT
// IGMP codec (src/routing/igmp/codec.ts): byte vectors written out by hand from RFC 2236 / RFC 3376
// formats (checksums computed independently), every malformed case named by its reason, and
// fast-check properties: arbitrary bytes never throw, every message kind survives a round trip,
// a corrupted bit is always caught.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import {
  decodeFloatCode,
  encodeFloatCode,
  encodeIgmpPacket,
  GROUP_RECORD_TYPES,
  IGMP_PARSE_ERRORS,
  type IgmpMessage,
  type IgmpPacket,
  type IgmpParseResult,
  internetChecksum,
  MAX_FLOAT_CODE_VALUE,
  parseIgmpPacket,
} from '../../src/routing/igmp/codec';

// Fixed seed: a failure is reproduced by the next run, and fast-check prints the shrunk case.
const RUNS = { numRuns: 2000, seed: 0x69676d70 };

const hex = (text: string) => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

function parsed(result: IgmpParseResult): IgmpPacket {
  if (!result.ok) assert.fail(`parse failed: ${result.reason}`);
  return result.packet;
}

function reason(result: IgmpParseResult): string {
  return result.ok ? 'ok' : result.reason;
}

/** An IPv4 packet around raw IGMP bytes, both checksums fixed unless told otherwise. */
function wrap(
  igmp: number[],
  options: { protocol?: number; fragment?: number; options?: number[]; fixIgmpChecksum?: boolean } = {},
): Uint8Array {
  const opts = options.options ?? [0x94, 4, 0, 0];
  const headerLength = 20 + opts.length;
  const body = Uint8Array.from(igmp);
  if (options.fixIgmpChecksum ?? true) {
    body[2] = 0;
    body[3] = 0;
    const sum = internetChecksum(body);
    body[2] = sum >> 8;
    body[3] = sum & 0xff;
  }
  const total = headerLength + body.length;
  const fragment = options.fragment ?? 0x4000;
  const bytes = new Uint8Array(total);
  bytes.set([0x40 | (headerLength / 4), 0xc0, total >> 8, total & 0xff, 0, 0, fragment >> 8, fragment & 0xff, 1, options.protocol ?? 2]);
  bytes.set([10, 0, 0, 2, 224, 0, 0, 22], 12);
  bytes.set(opts, 20);
  const sum = internetChecksum(bytes, 0, headerLength);
  bytes[10] = sum >> 8;
  bytes[11] = sum & 0xff;
  bytes.set(body, headerLength);
  return bytes;
}

describe('IGMP byte vectors', () => {
  // IGMPv3 report as Linux sends it: TOS 0xc0, DF, TTL 1, Router Alert, to 224.0.0.22; two
  // records: CHANGE_TO_EXCLUDE_MODE 239.1.2.3 {} (a plain join) and ALLOW_NEW_SOURCES 232.1.1.1 {10.1.1.1}.
  const v3Report = hex(`
    46 c0 00 34 00 00 40 00 01 02 f9 eb 0a 00 00 02 e0 00 00 16 94 04 00 00
    22 00 ef f2 00 00 00 02
    04 00 00 00 ef 01 02 03
    05 00 00 01 e8 01 01 01 0a 01 01 01`);
  const v3ReportPacket: IgmpPacket = {
    ip: { source: '10.0.0.2', destination: '224.0.0.22', ttl: 1, routerAlert: true },
    message: {
      type: 'v3_report',
      records: [
        { type: 'CHANGE_TO_EXCLUDE_MODE', group: '239.1.2.3', sources: [] },
        { type: 'ALLOW_NEW_SOURCES', group: '232.1.1.1', sources: ['10.1.1.1'] },
      ],
    },
  };
  // IGMPv2 general query: Max Resp Time 100 (10 s), group 0.0.0.0, to 224.0.0.1.
  const v2Query = hex('46 c0 00 20 00 00 40 00 01 02 fa 15 0a 00 00 01 e0 00 00 01 94 04 00 00  11 64 ee 9b 00 00 00 00');
  const v2QueryPacket: IgmpPacket = {
    ip: { source: '10.0.0.1', destination: '224.0.0.1', ttl: 1, routerAlert: true },
    message: {
      type: 'query',
      version: 2,
      group: '0.0.0.0',
      maxResponseMs: 10_000,
      suppressRouterProcessing: false,
      robustness: 0,
      queryIntervalSeconds: 0,
      sources: [],
    },
  };
  // IGMPv3 group-and-source-specific query: Max Resp Code 0x8c (float: (0xc | 0x10) << 3 = 224, 22.4 s),
  // S clear, QRV 2, QQIC 125, sources 10.1.1.1 and 10.1.1.2, to the group.
  const v3Query = hex(`
    46 c0 00 2c 00 00 40 00 01 02 e9 06 0a 00 00 01 ef 01 02 03 94 04 00 00
    11 8c e4 ea ef 01 02 03 02 7d 00 02 0a 01 01 01 0a 01 01 02`);
  const v3QueryPacket: IgmpPacket = {
    ip: { source: '10.0.0.1', destination: '239.1.2.3', ttl: 1, routerAlert: true },
    message: {
      type: 'query',
      version: 3,
      group: '239.1.2.3',
      maxResponseMs: 22_400,
      suppressRouterProcessing: false,
      robustness: 2,
      queryIntervalSeconds: 125,
      sources: ['10.1.1.1', '10.1.1.2'],
    },
  };

  for (const [name, bytes, packet] of [
    ['v3 report', v3Report, v3ReportPacket],
    ['v2 general query', v2Query, v2QueryPacket],
    ['v3 group-and-source query', v3Query, v3QueryPacket],
  ] as const) {
    test(`${name}: parses to the expected message`, () => {
      assert.deepEqual(parsed(parseIgmpPacket(bytes)), packet);
    });
    test(`${name}: encodes to the same bytes`, () => {
      assert.deepEqual(encodeIgmpPacket(packet.message, { source: packet.ip.source }), bytes);
    });
  }

  test('Ethernet padding after the datagram is ignored', () => {
    const padded = new Uint8Array(v2Query.length + 14);
    padded.set(v2Query);
    padded.fill(0xaa, v2Query.length);
    assert.deepEqual(parsed(parseIgmpPacket(padded)), v2QueryPacket);
  });

  test('v1 query (8 bytes, code 0) means a 10 s response time; v1 report and v2 leave', () => {
    const v1 = parsed(parseIgmpPacket(wrap([0x11, 0, 0, 0, 0, 0, 0, 0]))).message;
    assert.deepEqual(v1, {
      type: 'query',
      version: 1,
      group: '0.0.0.0',
      maxResponseMs: 10_000,
      suppressRouterProcessing: false,
      robustness: 0,
      queryIntervalSeconds: 0,
      sources: [],
    });
    assert.deepEqual(parsed(parseIgmpPacket(wrap([0x12, 0, 0, 0, 239, 9, 9, 9]))).message, { type: 'v1_report', group: '239.9.9.9' });
    assert.deepEqual(parsed(parseIgmpPacket(wrap([0x17, 0, 0, 0, 239, 9, 9, 9]))).message, { type: 'v2_leave', group: '239.9.9.9' });
  });

  test('IGMPv2 messages longer than 8 bytes are accepted (RFC 2236 2.5)', () => {
    assert.deepEqual(parsed(parseIgmpPacket(wrap([0x16, 0, 0, 0, 239, 9, 9, 9, 0, 0, 0, 0]))).message, {
      type: 'v2_report',
      group: '239.9.9.9',
    });
  });

  test('without Router Alert: parsed, and said so; NOP options are skipped', () => {
    assert.equal(parsed(parseIgmpPacket(wrap([0x16, 0, 0, 0, 239, 9, 9, 9], { options: [] }))).ip.routerAlert, false);
    assert.equal(
      parsed(parseIgmpPacket(wrap([0x16, 0, 0, 0, 239, 9, 9, 9], { options: [1, 1, 1, 1, 0x94, 4, 0, 0] }))).ip.routerAlert,
      true,
    );
  });

  test('unknown record types are skipped and counted; aux data is skipped', () => {
    // record type 9 with one aux word, then MODE_IS_INCLUDE 239.1.1.1 {10.0.0.9} with one aux word
    const igmp = [0x22, 0, 0, 0, 0, 0, 0, 2, 9, 1, 0, 0, 239, 0, 0, 1, 1, 2, 3, 4, 1, 1, 0, 1, 239, 1, 1, 1, 10, 0, 0, 9, 5, 6, 7, 8];
    assert.deepEqual(parsed(parseIgmpPacket(wrap(igmp))).message, {
      type: 'v3_report',
      records: [{ type: 'MODE_IS_INCLUDE', group: '239.1.1.1', sources: ['10.0.0.9'] }],
      skippedRecords: 1,
    });
  });
});

describe('IGMP malformed packets, by reason', () => {
  const report = [0x16, 0, 0, 0, 239, 1, 1, 1];
  const cases: Array<[string, Uint8Array, string]> = [
    ['shorter than an IPv4 header', new Uint8Array(19), 'truncated'],
    ['total length beyond the bytes', wrap(report).subarray(0, 30), 'truncated'],
    [
      'IPv6',
      (() => {
        const b = wrap(report);
        b[0] = 0x66;
        return b;
      })(),
      'bad_ip_version',
    ],
    [
      'header length 16',
      (() => {
        const b = wrap(report);
        b[0] = 0x44;
        return b;
      })(),
      'bad_ip_header',
    ],
    [
      'IP checksum wrong',
      (() => {
        const b = wrap(report);
        b[8] = 2; // TTL changed after the checksum
        return b;
      })(),
      'bad_ip_checksum',
    ],
    ['an option overrunning the header', wrap(report, { options: [0x94, 8, 0, 0] }), 'bad_ip_header'],
    ['a fragment', wrap(report, { fragment: 0x2000 }), 'fragment'],
    ['UDP', wrap(report, { protocol: 17 }), 'not_igmp'],
    ['IGMP checksum wrong', wrap([0x16, 0, 0, 1, 239, 1, 1, 1], { fixIgmpChecksum: false }), 'bad_igmp_checksum'],
    ['IGMP shorter than 8 bytes', wrap([0x16, 0, 0, 0, 239, 1]), 'bad_length'],
    ['a query of 10 bytes (RFC 3376 7.1)', wrap([0x11, 100, 0, 0, 0, 0, 0, 0, 0, 0]), 'bad_length'],
    ['a v3 query claiming more sources than it holds', wrap([0x11, 100, 0, 0, 0, 0, 0, 0, 2, 125, 0, 2, 10, 0, 0, 1]), 'bad_length'],
    ['an unknown type', wrap([0x30, 0, 0, 0, 0, 0, 0, 0]), 'unknown_type'],
    ['a report for a unicast group', wrap([0x16, 0, 0, 0, 10, 0, 0, 1]), 'bad_group'],
    ['a query for a unicast group', wrap([0x11, 100, 0, 0, 10, 0, 0, 1]), 'bad_group'],
    ['a v3 record for a unicast group', wrap([0x22, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 10, 0, 0, 1]), 'bad_group'],
    ['a v3 report with more records than bytes', wrap([0x22, 0, 0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 239, 0, 0, 1]), 'bad_record'],
    ['a v3 record with more sources than bytes', wrap([0x22, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 2, 239, 0, 0, 1, 10, 0, 0, 1]), 'bad_record'],
  ];
  for (const [name, bytes, expected] of cases) test(`${name}: ${expected}`, () => assert.equal(reason(parseIgmpPacket(bytes)), expected));
});

describe('RFC 3376 floating point codes (Max Resp Code, QQIC)', () => {
  test('decode: below 128 literal, else (mant | 0x10) << (exp + 3)', () => {
    assert.equal(decodeFloatCode(127), 127);
    assert.equal(decodeFloatCode(0x80), 128);
    assert.equal(decodeFloatCode(0x8c), 224);
    assert.equal(decodeFloatCode(0xff), MAX_FLOAT_CODE_VALUE);
  });
  test('every code survives decode then encode', () => {
    for (let code = 0; code < 256; code++) assert.equal(encodeFloatCode(decodeFloatCode(code)), code);
  });
  test('encode rounds down to a representable value, and saturates', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40_000 }), (value) => {
        const got = decodeFloatCode(encodeFloatCode(value));
        assert.ok(got <= value || value > MAX_FLOAT_CODE_VALUE);
        assert.ok(got <= MAX_FLOAT_CODE_VALUE);
      }),
      RUNS,
    );
    assert.equal(encodeFloatCode(1e9), 0xff);
  });
});

// ---- properties ----------------------------------------------------------------------------------

const address = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const multicast = fc.tuple(fc.integer({ min: 224, max: 239 }), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const sources = fc.array(address, { maxLength: 6 });

const message: fc.Arbitrary<IgmpMessage> = fc.oneof(
  fc.record({ group: fc.oneof(fc.constant('0.0.0.0'), multicast) }).map(
    ({ group }): IgmpMessage => ({
      type: 'query',
      version: 1,
      group,
      maxResponseMs: 10_000,
      suppressRouterProcessing: false,
      robustness: 0,
      queryIntervalSeconds: 0,
      sources: [],
    }),
  ),
  fc.record({ group: fc.oneof(fc.constant('0.0.0.0'), multicast), code: fc.integer({ min: 1, max: 255 }) }).map(
    ({ group, code }): IgmpMessage => ({
      type: 'query',
      version: 2,
      group,
      maxResponseMs: code * 100,
      suppressRouterProcessing: false,
      robustness: 0,
      queryIntervalSeconds: 0,
      sources: [],
    }),
  ),
  fc
    .record({
      group: fc.oneof(fc.constant('0.0.0.0'), multicast),
      code: fc.nat(255),
      s: fc.boolean(),
      qrv: fc.nat(7),
      qqic: fc.nat(255),
      sources,
    })
    .map(
      ({ group, code, s, qrv, qqic, sources }): IgmpMessage => ({
        type: 'query',
        version: 3,
        group,
        maxResponseMs: decodeFloatCode(code) * 100,
        suppressRouterProcessing: s,
        robustness: qrv,
        queryIntervalSeconds: decodeFloatCode(qqic),
        sources,
      }),
    ),
  multicast.map((group): IgmpMessage => ({ type: 'v1_report', group })),
  multicast.map((group): IgmpMessage => ({ type: 'v2_report', group })),
  multicast.map((group): IgmpMessage => ({ type: 'v2_leave', group })),
  fc
    .array(
      fc.record({ type: fc.constantFrom(...GROUP_RECORD_TYPES), group: multicast, sources }).map((r) => ({ ...r })),
      { maxLength: 5 },
    )
    .map((records): IgmpMessage => ({ type: 'v3_report', records })),
);

const ipFields = fc.record({ source: address, destination: address, ttl: fc.nat(255), routerAlert: fc.boolean() });

describe('IGMP codec properties', () => {
  test('arbitrary bytes never throw, and a failure names a known reason', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 128 }), (bytes) => {
        const result = parseIgmpPacket(bytes);
        if (!result.ok) assert.ok(IGMP_PARSE_ERRORS.includes(result.reason));
      }),
      RUNS,
    );
  });

  test('arbitrary IGMP bodies in a valid IPv4 packet (checksums fixed) never throw', () => {
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      // a known type first, so the per-type parsers see most of the runs
      fc
        .tuple(fc.constantFrom(0x11, 0x12, 0x16, 0x17, 0x22), fc.uint8Array({ minLength: 3, maxLength: 64 }))
        .map(([t, rest]) => Uint8Array.of(t, ...rest)),
    );
    fc.assert(
      fc.property(body, fc.array(fc.nat(255), { maxLength: 40 }), (igmp, options) => {
        const padded = options.slice(0, options.length - (options.length % 4));
        const result = parseIgmpPacket(wrap([...igmp], { options: padded }));
        if (!result.ok) assert.ok(IGMP_PARSE_ERRORS.includes(result.reason));
      }),
      RUNS,
    );
  });

  test('encode then parse gives back the message and the IP fields, for every kind', () => {
    fc.assert(
      fc.property(message, ipFields, (m, ip) => {
        const bytes = encodeIgmpPacket(m, ip);
        assert.deepEqual(parsed(parseIgmpPacket(bytes)), { ip: { ...ip }, message: m });
      }),
      RUNS,
    );
  });

  test('any single flipped bit is caught', () => {
    fc.assert(
      fc.property(message, ipFields, fc.nat(), fc.nat(7), (m, ip, at, bit) => {
        const bytes = encodeIgmpPacket(m, ip);
        bytes[at % bytes.length]! ^= 1 << bit;
        assert.equal(parseIgmpPacket(bytes).ok, false);
      }),
      RUNS,
    );
  });
});
