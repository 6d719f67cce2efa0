#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Writes the committed seed corpora of the fuzz targets (native/fuzz/corpus/{frame,payload}/)
// with the frame builder the integration tests use (tests/helpers/frames.ts, compiled to dist/
// by `npm run build:ts`): one file per malformed class the parser counts, frames that match each
// rule of frame_fuzzer.cc's table, the shared frame fixtures (tests/fixtures/frames.json), and
// mcrgen payloads valid and corrupted. Run it again after changing any of them; the files are
// small and deterministic.

const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const frames = require(path.join(root, 'dist', 'tests', 'helpers', 'frames.js'));
const { ethernet, ipv4, udp, udpFrame, mcrPayload, arpRequest } = frames;
const { readFrameFixtures } = require(path.join(root, 'dist', 'tests', 'helpers', 'frame-fixtures.js'));

function writeAll(dir, entries) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of entries) fs.writeFileSync(path.join(dir, name), bytes);
  console.log(`${path.relative(root, dir)}: ${entries.length} files`);
}

// ---- frame target: control byte (see frame_fuzzer.cc) + frame ----------------------------
// control: bit 0 input index, bits 1-2 sink mode, bits 3-7 extra wire bytes.
const control = ({ input = 0, sink = 0, extraWire = 0 } = {}) => Buffer.from([input | (sink << 1) | (extraWire << 3)]);
const seed = (frame, c = {}) => Buffer.concat([control(c), frame]);

const PAIR = { dst: '239.1.1.1', dstPort: 5001 };
const ONE = { dst: '239.1.1.2', dstPort: 5002 };
const HUGE = { dst: '239.1.1.3', dstPort: 5003 };
const DEC = { dst: '239.1.1.4', dstPort: 5004 };
const HUGE_DEC = { dst: '239.1.1.5', dstPort: 5005 };
const SRC = '10.0.1.1';
const body = mcrPayload(7, 1, 64);
// A frame with the IP header fields overridden and the UDP length field given.
const custom = (ip, udpLength, payload = body) =>
  ethernet({}, ipv4({ src: SRC, dst: PAIR.dst, ...ip }, udp({ dstPort: PAIR.dstPort, length: udpLength }, payload)));
const whole = udpFrame(PAIR);

const frameSeeds = [
  // Valid frames that match: each rule, each input, each sink behaviour, a few sizes.
  ['matched-pair', seed(whole)],
  ['matched-pair-input1', seed(whole, { input: 1 })],
  ['matched-one', seed(udpFrame({ ...ONE, size: 1400 }))],
  ['matched-huge-fanout', seed(udpFrame({ ...HUGE, size: 32 }))],
  ['matched-pair-sink-partial', seed(whole, { sink: 1 })],
  ['matched-pair-sink-eagain', seed(whole, { sink: 2 })],
  ['matched-huge-sink-eintr-eperm', seed(udpFrame({ ...HUGE, size: 32 }), { sink: 3 })],
  ['matched-ip-options-ihl6', seed(udpFrame({ ...PAIR, ip: { options: Buffer.from([1, 1, 1, 1]) } }))],
  ['matched-ip-options-ihl15', seed(udpFrame({ ...PAIR, ip: { options: Buffer.alloc(40, 1) } }))],
  ['matched-empty-udp-payload', seed(custom({}, 8, Buffer.alloc(0)))],
  // Rules with ttl "decrement" outputs: sent with TTL - 1, or ttl_expired at TTL 1 and 0.
  ['matched-decrement-ttl64', seed(udpFrame({ ...DEC, ip: { ttl: 64 } }))],
  ['matched-decrement-ttl2', seed(udpFrame({ ...DEC, ip: { ttl: 2 } }))],
  ['matched-decrement-ttl1-expired', seed(udpFrame({ ...DEC, ip: { ttl: 1 } }))],
  ['matched-decrement-ttl0-expired', seed(udpFrame({ ...DEC, ip: { ttl: 0 } }))],
  ['matched-huge-decrement-ttl16', seed(udpFrame({ ...HUGE_DEC, size: 32 }))],
  ['matched-huge-decrement-ttl1-sink-partial', seed(udpFrame({ ...HUGE_DEC, size: 32, ip: { ttl: 1 } }), { sink: 1 })],
  ['no_match-group', seed(udpFrame({ dst: '239.9.9.9', dstPort: 5001 }))],
  ['no_match-port', seed(udpFrame({ dst: '239.1.1.1', dstPort: 5009 }))],
  ['no_match-one-on-input1', seed(udpFrame(ONE), { input: 1 })],
  // filtered_truncated: shorter than the headers, or total length beyond the frame.
  ['filtered_truncated-empty', seed(Buffer.alloc(0))],
  ['filtered_truncated-eth-only', seed(whole.subarray(0, 14))],
  ['filtered_truncated-33', seed(whole.subarray(0, 33))],
  ['filtered_truncated-ihl-beyond', seed(udpFrame({ ...PAIR, ip: { options: Buffer.alloc(40, 1) } }).subarray(0, 14 + 40))],
  ['filtered_truncated-total-beyond', seed(custom({ totalLength: 20 + 8 + 64 + 100 }))],
  ['filtered_truncated-total-1500', seed(custom({ totalLength: 1500 }))],
  ['filtered_truncated-no-udp-header', seed(custom({ totalLength: 24 }))],
  // filtered_bad_ip_header: IHL < 5, version != 4, total length < IHL.
  ...[0, 1, 2, 3, 4].map((ihl) => [`filtered_bad_ip_header-ihl${ihl}`, seed(custom({ ihl }))]),
  ...[6, 5, 0].map((version) => [`filtered_bad_ip_header-version${version}`, seed(custom({ version }))]),
  ['filtered_bad_ip_header-total10', seed(custom({ totalLength: 10 }))],
  ['filtered_bad_ip_header-total19', seed(custom({ totalLength: 19 }))],
  ['filtered_bad_ip_checksum', seed(custom({ badChecksum: true }))],
  ['filtered_fragment-mf', seed(custom({ moreFragments: true }))],
  ['filtered_fragment-offset', seed(custom({ fragmentOffset: 100 }))],
  ['filtered_not_udp-tcp', seed(custom({ protocol: 6 }))],
  ['filtered_not_udp-icmp', seed(custom({ protocol: 1 }))],
  ...[0, 4, 7].map((len) => [`filtered_bad_udp_length-${len}`, seed(custom({}, len))]),
  ...[8 + 64 + 1, 65535].map((len) => [`filtered_bad_udp_length-${len}`, seed(custom({}, len))]),
  ['filtered_not_ipv4-arp', seed(arpRequest('10.0.1.1', '10.0.1.2'))],
  [
    'filtered_not_ipv4-ipv6-ethertype',
    seed(ethernet({ etherType: 0x86dd }, ipv4({ src: SRC, dst: PAIR.dst }, udp({ dstPort: 5001 }, body)))),
  ],
  ['filtered_oversize-1', seed(whole, { extraWire: 1 })],
  ['filtered_oversize-31', seed(whole, { extraWire: 31 })],
  // The shared frame fixture table (tests/fixtures/frames.json), each under its verdict; its
  // matched fixtures go to PAIR. Not the jumbo one: a 9 KB seed would raise libFuzzer's input
  // size limit for every run.
  ...readFrameFixtures()
    .fixtures.filter((f) => f.frame.length <= 1518)
    .map((f) => [
      `${f.verdict}-fixture-${f.name
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '')}`,
      seed(f.frame),
    ]),
];

// ---- payload target: one received UDP payload --------------------------------------------
const corrupt = (buf, at, xor = 0xff) => {
  const copy = Buffer.from(buf);
  copy[at] ^= xor;
  return copy;
};
const p64 = mcrPayload(3, 1000, 64);
const payloadSeeds = [
  ['ok-32', mcrPayload(1, 0, 32)],
  ['ok-64', p64],
  ['ok-512', mcrPayload(2, 123456789, 512)],
  ['ok-1400', mcrPayload(4, 2 ** 40, 1400)],
  ['too_short-0', Buffer.alloc(0)],
  ['too_short-31', p64.subarray(0, 31)],
  ['bad_magic-magic', corrupt(p64, 0)],
  ['bad_magic-version', corrupt(p64, 4, 0x02)],
  ['bad_magic-header-len', corrupt(p64, 6, 0x40)],
  ['bad_checksum-field', corrupt(p64, 12)],
  ['bad_checksum-stream', corrupt(p64, 8)],
  ['bad_checksum-seq', corrupt(p64, 16)],
  ['bad_checksum-truncated-63', p64.subarray(0, 63)],
  ['bad_checksum-extended-65', Buffer.concat([p64, Buffer.from([96])])],
  ['bad_fill-first-body-byte', corrupt(p64, 32)],
  ['bad_fill-last-body-byte', corrupt(p64, 63, 0x01)],
];

writeAll(path.join(__dirname, 'corpus', 'frame'), frameSeeds);
writeAll(path.join(__dirname, 'corpus', 'payload'), payloadSeeds);
