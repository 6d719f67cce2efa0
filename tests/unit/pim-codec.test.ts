// SPDX-License-Identifier: MIT
// PIM codec (src/routing/pim/codec.ts): a Hello written byte by byte from RFC 7761 4.9.2 and an
// Assert from 4.9.6 (checksums computed independently, with Python), packets captured from FRR
// 8.4.4's pimd (Hello with every option it sends, a (*,G) Join, a Register, a Register-Stop),
// every malformed case named by its reason, and fast-check properties: arbitrary bytes never
// throw, every message type survives a round trip, a flipped bit is always caught.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { internetChecksum } from '../../src/lib/ipv4-packet';
import {
  ALL_PIM_ROUTERS,
  type EncodedSource,
  encodePimMessage,
  encodePimPacket,
  HELLO_OPTION,
  type PimMessage,
  type PimMessageParseResult,
  type PimParseResult,
  PIM_PARSE_ERRORS,
  parsePimMessage,
  parsePimPacket,
} from '../../src/routing/pim/codec';

// Fixed seed: a failure is reproduced by the next run, and fast-check prints the shrunk case.
const RUNS = { numRuns: 2000, seed: 0x70696d32 };

const hex = (text: string) => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

function message(result: PimMessageParseResult): PimMessage {
  if (!result.ok) assert.fail(`parse failed: ${result.reason}`);
  return result.message;
}

function reason(result: PimMessageParseResult | PimParseResult): string {
  return result.ok ? 'ok' : result.reason;
}

/** A PIM message from its type byte and body, checksum filled over `checksummed` bytes (default all). */
function pim(typeByte: number, body: number[] | Uint8Array, checksummed?: number): Uint8Array {
  const bytes = Uint8Array.from([typeByte, 0, 0, 0, ...body]);
  const sum = internetChecksum(bytes, 0, checksummed ?? bytes.length);
  bytes[2] = sum >> 8;
  bytes[3] = sum & 0xff;
  return bytes;
}

const source = (address: string, flags = 'SWR'): EncodedSource => ({
  address,
  sparse: flags.includes('S'),
  wildcard: flags.includes('W'),
  rpt: flags.includes('R'),
});

describe('PIM byte vectors from RFC 7761', () => {
  // 4.9.2, field by field: version 2 type 0, reserved, checksum; Holdtime (1) 105 s; LAN Prune
  // Delay (2) with T set, propagation delay 500 ms, override interval 2500 ms; DR Priority (19) 1;
  // Generation ID (20) 0x12345678; Address List (24) with one Encoded-Unicast, 10.0.0.99.
  const hello = hex(`
    20 00 df 77
    00 01 00 02 00 69
    00 02 00 04 81 f4 09 c4
    00 13 00 04 00 00 00 01
    00 14 00 04 12 34 56 78
    00 18 00 06 01 00 0a 00 00 63`);
  const helloMessage: PimMessage = {
    type: 'hello',
    holdtime: 105,
    lanPruneDelay: { trackingSupport: true, propagationDelayMs: 500, overrideIntervalMs: 2500 },
    drPriority: 1,
    generationId: 0x12345678,
    addresses: ['10.0.0.99'],
  };
  // 4.9.6: Encoded-Group 239.1.2.3/32, Encoded-Unicast source 10.9.0.1, R set with metric
  // preference 100, metric 10.
  const assertRpt = hex('25 00 5d 62  01 00 00 20 ef 01 02 03  01 00 0a 09 00 01  80 00 00 64  00 00 00 0a');
  const assertMessage: PimMessage = {
    type: 'assert',
    group: '239.1.2.3',
    source: '10.9.0.1',
    rpt: true,
    metricPreference: 100,
    metric: 10,
  };

  for (const [name, bytes, expected] of [
    ['Hello', hello, helloMessage],
    ['Assert', assertRpt, assertMessage],
  ] as const) {
    test(`${name}: parses to the expected message`, () => assert.deepEqual(message(parsePimMessage(bytes)), expected));
    test(`${name}: encodes to the same bytes`, () => assert.deepEqual(encodePimMessage(expected), bytes));
  }

  test('Assert with R clear: a different checksum, rpt false', () => {
    const bytes = hex('25 00 dd 62  01 00 00 20 ef 01 02 03  01 00 0a 09 00 01  00 00 00 64  00 00 00 0a');
    assert.deepEqual(message(parsePimMessage(bytes)), { ...assertMessage, rpt: false });
  });

  test('unknown Hello options are kept in order and written back', () => {
    // option 21 (dense mode State Refresh) and option 65001 (an old address list), then holdtime
    const bytes = pim(0x20, [0, 21, 0, 4, 1, 0, 0, 60, 0xfd, 0xe9, 0, 0, 0, 1, 0, 2, 0, 30]);
    const parsed = message(parsePimMessage(bytes));
    assert.deepEqual(parsed, {
      type: 'hello',
      holdtime: 30,
      otherOptions: [
        { type: 21, value: Uint8Array.of(1, 0, 0, 60) },
        { type: 65001, value: new Uint8Array(0) },
      ],
    });
    assert.deepEqual(message(parsePimMessage(encodePimMessage(parsed))), parsed);
  });

  test('an empty Hello (no options) is a Hello', () => {
    assert.deepEqual(message(parsePimMessage(pim(0x20, []))), { type: 'hello' });
  });
});

describe('PIM packets captured from FRR 8.4.4 pimd', () => {
  // `ip pim hello 5 18`, `ip pim drpriority 7`, a secondary address 10.77.0.9 and an IPv6
  // link-local address on the interface: holdtime 18, LAN Prune Delay 500/2500 without T, DR
  // priority 7, a generation ID, one Address List with the IPv4 secondary and one with the IPv6
  // address (FRR's send-v6-secondary default). Full IPv4 packets as a raw socket reads them.
  const hello = hex(`
    45 c0 00 56 00 0d 00 00 01 67 ce 19 0a 4d 00 01 e0 00 00 0d
    20 00 35 31 00 01 00 02 00 12 00 02 00 04 01 f4 09 c4 00 13 00 04 00 00 00 07
    00 14 00 04 3c e2 7e 32 00 18 00 06 01 00 0a 4d 00 09
    00 18 00 12 02 00 fe 80 00 00 00 00 00 00 60 65 37 ff fe b5 40 77`);
  // `ip igmp join 239.1.2.3` with RP 10.77.0.2 on the link: a (*,G) join to the RP, holdtime 210
  // (3.5 x the 60 s join/prune period), the source the RP's address with S, W and R set.
  const join = hex(`
    45 c0 00 36 00 12 00 00 01 67 ce 34 0a 4d 00 01 e0 00 00 0d
    23 00 cc 48 01 00 0a 4d 00 02 00 01 00 d2 01 00 00 20 ef 01 02 03 00 01 00 00 01 00 07 20 0a 4d 00 02`);
  // A directly connected source's first packet to 239.5.5.5, registered to the RP 10.77.0.2; its
  // checksum covers the first 8 bytes only.
  const register = hex(`
    45 c0 00 41 00 1a 00 00 40 67 64 e0 0a 4d 00 01 0a 4d 00 02
    21 00 de ff 00 00 00 00
    45 00 00 25 8f d0 40 00 08 11 e4 9e 0a 4d 00 02 ef 05 05 05 cf a0 13 88 00 11 fe 7b 6d 63 72 2d 70 69 6d 2d 30`);
  // FRR as the RP with no receivers answering that Register.
  const registerStop = hex(`
    45 c0 00 26 00 34 00 00 40 67 64 e1 0a 4d 00 01 0a 4d 00 02
    22 00 dd 85 01 00 00 20 ef 05 05 05 01 00 0a 4d 00 02`);

  const packet = (bytes: Uint8Array) => {
    const result = parsePimPacket(bytes);
    if (!result.ok) assert.fail(`parse failed: ${result.reason}`);
    return result.packet;
  };

  test('Hello: every option FRR sends; the IPv6 address list entry is skipped and counted', () => {
    assert.deepEqual(packet(hello), {
      ip: { source: '10.77.0.1', destination: ALL_PIM_ROUTERS, ttl: 1 },
      message: {
        type: 'hello',
        holdtime: 18,
        lanPruneDelay: { trackingSupport: false, propagationDelayMs: 500, overrideIntervalMs: 2500 },
        drPriority: 7,
        generationId: 0x3ce27e32,
        addresses: ['10.77.0.9'],
        skippedAddresses: 1,
      },
    });
  });

  test('Join/Prune: a (*,G) join with S, W and R', () => {
    const got = packet(join);
    assert.deepEqual(got.message, {
      type: 'join_prune',
      upstreamNeighbor: '10.77.0.2',
      holdtime: 210,
      groups: [{ group: '239.1.2.3', maskLength: 32, joins: [source('10.77.0.2')], prunes: [] }],
    });
    assert.deepEqual(encodePimMessage(got.message), join.subarray(20));
  });

  test('Register: flags, the inner (S,G) and packet; encoded with the 8-byte checksum', () => {
    const got = packet(register);
    assert.deepEqual(got.ip, { source: '10.77.0.1', destination: '10.77.0.2', ttl: 64 });
    assert.deepEqual(got.message, {
      type: 'register',
      border: false,
      nullRegister: false,
      packet: register.slice(28),
      source: '10.77.0.2',
      group: '239.5.5.5',
    });
    assert.deepEqual(encodePimMessage(got.message), register.subarray(20));
  });

  test('Register-Stop', () => {
    const got = packet(registerStop);
    assert.deepEqual(got.message, { type: 'register_stop', group: '239.5.5.5', source: '10.77.0.2' });
    assert.deepEqual(encodePimMessage(got.message), registerStop.subarray(20));
  });

  test('a Register checksummed over the whole message is accepted too', () => {
    const body = register.slice(24);
    body.fill(0, 0, 4);
    assert.equal(message(parsePimMessage(pim(0x21, body))).type, 'register');
  });
});

describe('PIM malformed messages, by reason', () => {
  const hello = (options: number[]) => pim(0x20, options);
  const jp = (rest: number[]) => pim(0x23, [1, 0, 10, 0, 0, 2, 0, 1, 0, 210, ...rest]);
  const group = [1, 0, 0, 32, 239, 1, 2, 3];
  const cases: Array<[string, Uint8Array, string]> = [
    ['shorter than the header', Uint8Array.of(0x20, 0, 0), 'truncated'],
    ['version 1', pim(0x10, []), 'bad_version'],
    ['version 3', pim(0x30, []), 'bad_version'],
    [
      'checksum wrong',
      (() => {
        const b = hello([0, 1, 0, 2, 0, 105]);
        b[9]! ^= 1;
        return b;
      })(),
      'bad_checksum',
    ],
    [
      'Register checksum wrong over 8 bytes and over all',
      (() => {
        const b = pim(0x21, [0, 0, 0, 0, 0x45, ...new Array(19).fill(0)], 8);
        b[4] = 0x80;
        return b;
      })(),
      'bad_checksum',
    ],
    ['type 9', pim(0x29, []), 'unknown_type'],
    ['type 15', pim(0x2f, []), 'unknown_type'],
    ['Bootstrap', pim(0x24, [0, 0, 0, 0]), 'unsupported_type'],
    ['Graft', pim(0x26, []), 'unsupported_type'],
    ['Candidate-RP-Advertisement', pim(0x28, []), 'unsupported_type'],
    ['a Hello option header cut short', hello([0, 1, 0]), 'truncated'],
    ['a Hello option longer than the message', hello([0, 1, 0, 4, 0, 105]), 'truncated'],
    ['a Holdtime of 4 bytes', hello([0, 1, 0, 4, 0, 0, 0, 105]), 'bad_length'],
    ['a DR Priority of 2 bytes', hello([0, 19, 0, 2, 0, 1]), 'bad_length'],
    ['a Generation ID of 3 bytes', hello([0, 20, 0, 3, 0, 0, 1]), 'bad_length'],
    ['a LAN Prune Delay of 2 bytes', hello([0, 2, 0, 2, 1, 0xf4]), 'bad_length'],
    ['an Address List entry cut short', hello([0, 24, 0, 5, 1, 0, 10, 0, 0]), 'bad_length'],
    ['an Address List entry of family 7', hello([0, 24, 0, 6, 7, 0, 10, 0, 0, 1]), 'bad_address_family'],
    ['an Address List entry of encoding 1', hello([0, 24, 0, 6, 1, 1, 10, 0, 0, 1]), 'bad_encoding_type'],
    ['a Register without a whole inner header', pim(0x21, [0, 0, 0, 0, 0x45, 0, 0, 20], 8), 'bad_register'],
    ['a Register around IPv6', pim(0x21, [0, 0, 0, 0, 0x60, ...new Array(39).fill(0)], 8), 'bad_register'],
    ['a Register shorter than 8 bytes', pim(0x21, [0, 0]), 'truncated'],
    ['a Register-Stop cut short', pim(0x22, [...group, 1, 0, 10]), 'truncated'],
    ['a Register-Stop for a unicast group', pim(0x22, [1, 0, 0, 32, 10, 1, 2, 3, 1, 0, 10, 0, 0, 1]), 'bad_group'],
    ['a Register-Stop with an IPv6 group', pim(0x22, [2, 0, 0, 128, 239, 1, 2, 3, 1, 0, 10, 0, 0, 1]), 'bad_address_family'],
    [
      'an Assert with group mask length 33',
      pim(0x25, [1, 0, 0, 33, 239, 1, 2, 3, 1, 0, 10, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]),
      'bad_mask_length',
    ],
    ['an Assert without its metric', pim(0x25, [...group, 1, 0, 10, 0, 0, 1, 0, 0, 0, 1]), 'truncated'],
    ['a Join/Prune with upstream of family 2', pim(0x23, [2, 0, 10, 0, 0, 2, 0, 0, 0, 210]), 'bad_address_family'],
    ['a Join/Prune with upstream of encoding 5', pim(0x23, [1, 5, 10, 0, 0, 2, 0, 0, 0, 210]), 'bad_encoding_type'],
    ['a Join/Prune claiming more groups than it holds', jp([]), 'truncated'],
    ['a Join/Prune claiming more sources than it holds', jp([...group, 0xff, 0xff, 0, 0]), 'truncated'],
    ['a Join/Prune source with mask length 24', jp([...group, 0, 1, 0, 0, 1, 0, 4, 24, 10, 9, 0, 0]), 'bad_mask_length'],
    ['a Join/Prune source of family 2', jp([...group, 0, 0, 0, 1, 2, 0, 4, 32, 10, 9, 0, 1]), 'bad_address_family'],
  ];
  for (const [name, bytes, expected] of cases) test(`${name}: ${expected}`, () => assert.equal(reason(parsePimMessage(bytes)), expected));

  test('IPv4 level: not PIM, and the header checks', () => {
    const hello = encodePimPacket({ type: 'hello', holdtime: 105 }, { source: '10.0.0.1' });
    const udp = hello.slice();
    udp[9] = 17;
    udp[10] = 0;
    udp[11] = 0;
    const sum = internetChecksum(udp, 0, 20);
    udp[10] = sum >> 8;
    udp[11] = sum & 0xff;
    assert.equal(reason(parsePimPacket(udp)), 'not_pim');
    assert.equal(reason(parsePimPacket(hello.subarray(0, 19))), 'truncated');
    assert.equal(reason(parsePimPacket(hello.subarray(0, hello.length - 1))), 'truncated');
    const badIp = hello.slice();
    badIp[8] = 2;
    assert.equal(reason(parsePimPacket(badIp)), 'bad_ip_checksum');
  });

  test('encode refuses what the format cannot carry, naming it', () => {
    assert.throws(
      () => encodePimMessage({ type: 'hello', holdtime: 70_000 }),
      /PIM hello encode: holdtime must be an integer from 0 to 65535, got 70000/,
    );
    assert.throws(
      () =>
        encodePimMessage({ type: 'hello', lanPruneDelay: { trackingSupport: false, propagationDelayMs: 40_000, overrideIntervalMs: 0 } }),
      /propagation delay must be an integer from 0 to 32767 ms/,
    );
    assert.throws(
      () => encodePimMessage({ type: 'hello', otherOptions: [{ type: HELLO_OPTION.drPriority, value: new Uint8Array(4) }] }),
      /option 19 has its own field/,
    );
    assert.throws(
      () => encodePimMessage({ type: 'assert', group: '239.1.1.1', source: '10.0.0.1', rpt: false, metricPreference: 2 ** 31, metric: 0 }),
      /metric preference must be an integer from 0 to 2147483647/,
    );
    assert.throws(
      () => encodePimMessage({ type: 'register_stop', group: '239.1.1', source: '10.0.0.1' }),
      /not an IPv4 address: "239.1.1"/,
    );
    assert.throws(
      () =>
        encodePimMessage({
          type: 'join_prune',
          upstreamNeighbor: '10.0.0.1',
          holdtime: 210,
          groups: [{ group: '239.1.1.1', maskLength: 33, joins: [], prunes: [] }],
        }),
      /group mask length must be 0-32, got 33/,
    );
    const inner = new Uint8Array(20);
    inner[0] = 0x45;
    assert.throws(
      () =>
        encodePimMessage({ type: 'register', border: false, nullRegister: true, packet: inner, source: '10.0.0.1', group: '239.1.1.1' }),
      /differ from the inner packet's 0.0.0.0 -> 0.0.0.0/,
    );
    assert.throws(
      () => encodePimPacket({ type: 'register_stop', group: '239.1.1.1', source: '10.0.0.1' }, { source: '10.0.0.2' }),
      /needs a destination/,
    );
  });
});

// ---- properties ----------------------------------------------------------------------------------

/** Records with ordinary prototypes, so deepEqual compares them with parsed messages. */
const plain = { noNullPrototype: true } as const;
const octet = fc.nat(255);
const address = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
const multicast = fc.tuple(fc.integer({ min: 224, max: 239 }), octet, octet, octet).map((o) => o.join('.'));
const uint16 = fc.nat(0xffff);
const uint32 = fc.nat(0xffffffff);
const encodedSource: fc.Arbitrary<EncodedSource> = fc.record(
  { address, sparse: fc.boolean(), wildcard: fc.boolean(), rpt: fc.boolean() },
  plain,
);
const knownOptions: readonly number[] = Object.values(HELLO_OPTION);

/** An IPv4 packet from source to group: a 20-byte header (checksum not filled, not checked) and a payload. */
const innerPacket = fc
  .record({ source: address, group: multicast, payload: fc.uint8Array({ maxLength: 32 }) }, plain)
  .map(({ source, group, payload }) => {
    const bytes = new Uint8Array(20 + payload.length);
    bytes[0] = 0x45;
    bytes[2] = bytes.length >> 8;
    bytes[3] = bytes.length & 0xff;
    bytes[8] = 8;
    bytes[9] = 17;
    bytes.set(source.split('.').map(Number), 12);
    bytes.set(group.split('.').map(Number), 16);
    bytes.set(payload, 20);
    return { source, group, packet: bytes };
  });

const pimMessage: fc.Arbitrary<PimMessage> = fc.oneof(
  fc
    .record(
      {
        holdtime: uint16,
        lanPruneDelay: fc.record({ trackingSupport: fc.boolean(), propagationDelayMs: fc.nat(0x7fff), overrideIntervalMs: uint16 }, plain),
        drPriority: uint32,
        generationId: uint32,
        addresses: fc.array(address, { maxLength: 4 }),
        otherOptions: fc.array(
          fc.record({ type: uint16.filter((t) => !knownOptions.includes(t)), value: fc.uint8Array({ maxLength: 8 }) }, plain),
          { minLength: 1, maxLength: 3 },
        ),
      },
      { requiredKeys: [], noNullPrototype: true },
    )
    .map((options): PimMessage => ({ type: 'hello', ...options })),
  fc
    .record({ border: fc.boolean(), nullRegister: fc.boolean(), inner: innerPacket })
    .map(({ border, nullRegister, inner }): PimMessage => ({ type: 'register', border, nullRegister, ...inner })),
  fc.record({ group: multicast, source: address }, plain).map((m): PimMessage => ({ type: 'register_stop', ...m })),
  fc
    .record({
      upstreamNeighbor: address,
      holdtime: uint16,
      groups: fc.array(
        fc.record(
          {
            group: multicast,
            maskLength: fc.nat(32),
            joins: fc.array(encodedSource, { maxLength: 4 }),
            prunes: fc.array(encodedSource, { maxLength: 4 }),
          },
          plain,
        ),
        { maxLength: 4 },
      ),
    })
    .map((m): PimMessage => ({ type: 'join_prune', ...m })),
  fc
    .record({ group: multicast, source: address, rpt: fc.boolean(), metricPreference: fc.nat(0x7fffffff), metric: uint32 })
    .map((m): PimMessage => ({ type: 'assert', ...m })),
);

describe('PIM codec properties', () => {
  const known = (r: PimMessageParseResult | PimParseResult) => {
    if (!r.ok) assert.ok((PIM_PARSE_ERRORS as readonly string[]).includes(r.reason), r.reason);
  };

  test('arbitrary bytes never throw, as a message or as a packet, and a failure names a known reason', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 128 }), (bytes) => {
        known(parsePimMessage(bytes));
        known(parsePimPacket(bytes));
      }),
      RUNS,
    );
  });

  test('arbitrary bodies behind a valid version-2 header and checksum never throw', () => {
    fc.assert(
      fc.property(fc.nat(15), fc.uint8Array({ maxLength: 96 }), fc.boolean(), (type, body, registerSum) => {
        known(parsePimMessage(pim(0x20 | type, body, type === 1 && registerSum ? 8 : undefined)));
      }),
      RUNS,
    );
  });

  test('arbitrary Hello options (type, length, value) never throw', () => {
    const option = fc
      .tuple(fc.oneof(fc.constantFrom(...knownOptions), uint16), fc.uint8Array({ maxLength: 24 }), fc.boolean())
      .map(([type, value, honest]) => [type >> 8, type & 0xff, 0, honest ? value.length : value.length + 2, ...value]);
    fc.assert(
      fc.property(fc.array(option, { maxLength: 6 }), (options) => known(parsePimMessage(pim(0x20, options.flat())))),
      RUNS,
    );
  });

  test('encode then parse gives back every type of message, alone and in an IPv4 packet', () => {
    fc.assert(
      fc.property(pimMessage, address, (m, from) => {
        assert.deepEqual(message(parsePimMessage(encodePimMessage(m))), m);
        const destination = m.type === 'register' || m.type === 'register_stop' ? '10.1.1.1' : undefined;
        const result = parsePimPacket(encodePimPacket(m, { source: from, destination }));
        if (!result.ok) assert.fail(result.reason);
        assert.deepEqual(result.packet, {
          ip: { source: from, destination: destination ?? ALL_PIM_ROUTERS, ttl: destination ? 64 : 1 },
          message: m,
        });
      }),
      RUNS,
    );
  });

  test('any single flipped bit is caught (every type but Register, whose checksum covers 8 bytes)', () => {
    fc.assert(
      fc.property(
        pimMessage.filter((m) => m.type !== 'register'),
        fc.nat(),
        fc.nat(7),
        (m, at, bit) => {
          const bytes = encodePimMessage(m);
          bytes[at % bytes.length]! ^= 1 << bit;
          assert.equal(parsePimMessage(bytes).ok, false);
        },
      ),
      RUNS,
    );
  });

  test('a flipped bit in a Register header is caught', () => {
    fc.assert(
      fc.property(
        pimMessage.filter((m) => m.type === 'register'),
        fc.nat(7),
        fc.nat(7),
        (m, at, bit) => {
          const bytes = encodePimMessage(m);
          bytes[at]! ^= 1 << bit;
          // The whole-message fallback could match by chance; it must not for these messages.
          const result = parsePimMessage(bytes);
          if (result.ok) assert.equal(internetChecksum(bytes), 0);
          else assert.ok(['bad_checksum', 'bad_version', 'unknown_type', 'unsupported_type'].includes(result.reason), result.reason);
        },
      ),
      RUNS,
    );
  });
});
