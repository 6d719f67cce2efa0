#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Writes the committed seed corpora of the fuzz targets (native/fuzz/corpus/{frame,payload}/)
// with the frame builder the integration tests use (tests/helpers/frames.ts, compiled to dist/
// by `npm run build:ts`): one file per malformed class the parser counts, frames that match each
// rule of frame_fuzzer.cc's tables (ESP, (S,G), any-port, routed and port-keeping outputs), the shared frame fixtures (tests/fixtures/frames.json), and
// mcrgen payloads valid and corrupted. Run it again after changing any of them; the files are
// small and deterministic.

const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const frames = require(path.join(root, 'dist', 'tests', 'helpers', 'frames.js'));
const { ethernet, ipv4, udp, udpFrame, mcrPayload, arpRequest, multicastMac } = frames;
const { readFrameFixtures } = require(path.join(root, 'dist', 'tests', 'helpers', 'frame-fixtures.js'));

function writeAll(dir, entries) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of entries) fs.writeFileSync(path.join(dir, name), bytes);
  console.log(`${path.relative(root, dir)}: ${entries.length} files`);
}

// ---- frame target: two control bytes (see frame_fuzzer.cc) + frame -----------------------
// byte 0: bit 0 input index, bits 1-2 sink mode, bits 3-5 extra wire bytes, bit 6 partial UDP
// checksum, bit 7 the plain table.
// byte 1 (the punt path): bits 0-1 the rate, bits 2-3 the burst (each one of PUNT_LEVELS), bit 4
// the long-lived bucket, bits 5-6 the ring (PUNT_RINGS), bit 7 no Punter.
const PUNT_LEVELS = { 0: 0, 1: 1, 64: 2, 1000: 2, max: 3 }; // rates 0 1 1000 max, bursts 0 1 64 max
const PUNT_RINGS = { empty: 0, oneLeft: 1, full: 2, undrained: 3 };
const level = (what, v) => {
  if (!(v in PUNT_LEVELS) || (what === 'rate' && v === 64) || (what === 'burst' && v === 1000))
    throw new Error(`punt ${what} ${v}: not one the frame target offers`);
  return PUNT_LEVELS[v];
};
const control = ({ input = 0, sink = 0, extraWire = 0, partial = false, plainTable = false } = {}) => {
  if (extraWire > 7) throw new Error(`extraWire ${extraWire}: the control byte holds 0 to 7`);
  return input | (sink << 1) | (extraWire << 3) | (partial ? 0x40 : 0) | (plainTable ? 0x80 : 0);
};
const puntControl = ({ rate = 1000, burst = 64, lived = false, ring = 'empty', noPunter = false } = {}) => {
  if (!(ring in PUNT_RINGS)) throw new Error(`punt ring ${ring}: one of ${Object.keys(PUNT_RINGS).join(', ')}`);
  return level('rate', rate) | (level('burst', burst) << 2) | (lived ? 0x10 : 0) | (PUNT_RINGS[ring] << 5) | (noPunter ? 0x80 : 0);
};
const seed = (frame, c = {}) => Buffer.concat([Buffer.from([control(c), puntControl(c.punt)]), frame]);

const PAIR = { dst: '239.1.1.1', dstPort: 5001 };
const ONE = { dst: '239.1.1.2', dstPort: 5002 };
const HUGE = { dst: '239.1.1.3', dstPort: 5003 };
const DEC = { dst: '239.1.1.4', dstPort: 5004 };
const HUGE_DEC = { dst: '239.1.1.5', dstPort: 5005 };
const SRC = '10.0.1.1';
// The full table's other rules (frame_fuzzer.cc add_special_rules).
const SOURCE1 = '10.0.2.1';
const SOURCE2 = '10.0.2.2';
const SG = { dst: '239.1.2.1', dstPort: 5101 };
const ANY_PORT = '239.1.2.2';
const ESP_GROUP = '239.1.2.3';
const ROUTED = { dst: '239.1.2.4', dstPort: 5104 };
const UDP_ONLY = '239.1.2.5';
const HUGE_MIXED = '239.1.2.6';
// Punting rules: (*,G,any) new_source and (SOURCE1,G,any) register on input 0, (SOURCE2,G,any)
// wrong_interface on input 1; input 1's (*,*) entry takes routable multicast nothing else did.
const PUNT_GROUP = '239.1.2.7';
const body = mcrPayload(7, 1, 64);
// A frame with the IP header fields overridden and the UDP length field given.
const custom = (ip, udpLength, payload = body) =>
  ethernet({}, ipv4({ src: SRC, dst: PAIR.dst, ...ip }, udp({ dstPort: PAIR.dstPort, length: udpLength }, payload)));
const whole = udpFrame(PAIR);
// An ESP packet (IP protocol 50): SPI, sequence number, then `size` bytes standing for the
// encrypted rest; size < 0 cuts the 8-byte header short by that much.
const espFrame = ({ dst = ESP_GROUP, src = SRC, size = 56, ip = {} } = {}) => {
  const esp = Buffer.alloc(Math.max(0, 8 + size));
  if (esp.length >= 4) esp.writeUInt32BE(0x1000, 0);
  if (esp.length >= 8) esp.writeUInt32BE(7, 4);
  for (let i = 8; i < esp.length; i++) esp[i] = (i * 7) & 0xff;
  return ethernet({ dst: multicastMac(dst) }, ipv4({ src, dst, protocol: 50, ...ip }, esp));
};
// The frame with its UDP checksum filled in (frames.ts leaves it 0, "none"), so packet egress's
// incremental update is checked against a right one.
const withUdpChecksum = (frame) => {
  const copy = Buffer.from(frame);
  const ihl = (copy[14] & 0x0f) * 4;
  const udpAt = 14 + ihl;
  const udpLen = copy.readUInt16BE(udpAt + 4);
  let sum = 17 + udpLen;
  for (let i = 26; i < 34; i += 2) sum += copy.readUInt16BE(i);
  copy.writeUInt16BE(0, udpAt + 6);
  for (let i = 0; i < udpLen; i += 2) sum += (copy[udpAt + i] << 8) | (i + 1 < udpLen ? copy[udpAt + i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  copy.writeUInt16BE(~sum & 0xffff || 0xffff, udpAt + 6);
  return copy;
};

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
  // The same rules in the plain table: (*,G,port) UDP rules only, the one-probe lookup.
  ['matched-pair-plain-table', seed(whole, { plainTable: true })],
  ['matched-decrement-ttl1-plain-table', seed(udpFrame({ ...DEC, ip: { ttl: 1 } }), { plainTable: true })],
  ['no_match-sg-plain-table', seed(udpFrame({ ...SG, src: SOURCE1 }), { plainTable: true })],
  ['no_match-esp-plain-table', seed(espFrame(), { plainTable: true })],
  // (S,G): one group with (S1,G,port), (S1,G,any), (*,G,port), (*,G,any) and (S2,G,port); the
  // most specific wins.
  ['matched-sg-port-source1', seed(udpFrame({ ...SG, src: SOURCE1 }))],
  ['matched-sg-any-port-source1-routed', seed(udpFrame({ ...SG, src: SOURCE1, dstPort: 5200 }))],
  ['matched-sg-any-port-source1-ttl1', seed(udpFrame({ ...SG, src: SOURCE1, dstPort: 5200, ip: { ttl: 1 } }))],
  ['matched-sg-port-source2-decrement', seed(udpFrame({ ...SG, src: SOURCE2 }))],
  ['matched-sg-group-port-other-source', seed(udpFrame({ ...SG, src: '10.0.2.3' }))],
  ['matched-sg-group-any-port-source2', seed(withUdpChecksum(udpFrame({ ...SG, src: SOURCE2, dstPort: 9 })))],
  ['matched-sg-port-source1-input1', seed(udpFrame({ ...SG, src: SOURCE1 }), { input: 1 })],
  ['matched-any-group-sg-source2-input1', seed(udpFrame({ ...SG, src: SOURCE2 }), { input: 1 })],
  ['matched-sg-source-0', seed(udpFrame({ ...SG, src: '0.0.0.0', dstPort: 7 }))],
  // Any port: copies that keep the datagram's port (UDP socket and packet egress), with a right
  // UDP checksum, a partial one, TTL 1 and a payload too long for packet egress.
  ...[0, 1, 5001, 40000, 65535].map((port) => [`matched-any-port-${port}`, seed(udpFrame({ dst: ANY_PORT, dstPort: port }))]),
  ['matched-any-port-udp-checksum', seed(withUdpChecksum(udpFrame({ dst: ANY_PORT, dstPort: 4242, size: 333 })))],
  ['matched-any-port-partial-checksum', seed(udpFrame({ dst: ANY_PORT, dstPort: 4243 }), { partial: true })],
  ['matched-any-port-ttl1', seed(udpFrame({ dst: ANY_PORT, dstPort: 4244, ip: { ttl: 1 } }))],
  ['matched-any-port-1480-socket', seed(udpFrame({ dst: ANY_PORT, dstPort: 4245, size: 1480 }))],
  ['matched-any-port-sink-partial', seed(udpFrame({ dst: ANY_PORT, dstPort: 4246 }), { sink: 1 })],
  ['matched-any-port-sink-eintr-eperm', seed(udpFrame({ dst: ANY_PORT, dstPort: 4247 }), { sink: 3 })],
  ['matched-udp-any-port-on-esp-group', seed(udpFrame({ dst: ESP_GROUP, dstPort: 50 }))],
  // ESP: routed to two outputs (one with a 256-byte MTU), an (S,G) ESP rule, TTL 1 and 0, IP
  // options, the bare 8-byte header; ESP shorter than that, and ESP to groups without an ESP rule.
  ['matched-esp-routed', seed(espFrame())],
  ['matched-esp-routed-too-big', seed(espFrame({ size: 400 }))],
  ['matched-esp-header-only', seed(espFrame({ size: 0 }))],
  // IP packets of exactly the small MTU (sent) and one byte over it (too big).
  ['matched-esp-at-small-mtu', seed(espFrame({ size: 256 - 28 }))],
  ['matched-esp-small-mtu-plus-1', seed(espFrame({ size: 257 - 28 }))],
  ['matched-esp-sg-source1', seed(espFrame({ src: SOURCE1 }))],
  ['matched-esp-ttl1-expired', seed(espFrame({ ip: { ttl: 1 } }))],
  ['matched-esp-ttl0-expired', seed(espFrame({ ip: { ttl: 0 } }))],
  ['matched-esp-ttl2', seed(espFrame({ ip: { ttl: 2 } }))],
  ['matched-esp-ip-options-ihl7', seed(espFrame({ ip: { options: Buffer.alloc(8, 1) } }))],
  ['matched-esp-partial-flag', seed(espFrame(), { partial: true })],
  ['matched-esp-sink-eagain', seed(espFrame(), { sink: 2 })],
  ['filtered_truncated-esp-7', seed(espFrame({ size: -1 }))],
  ['filtered_truncated-esp-0', seed(espFrame({ size: -8 }))],
  ['filtered_truncated-esp-4-ihl6', seed(espFrame({ size: -4, ip: { options: Buffer.from([1, 1, 1, 1]) } }))],
  ['no_match-esp-udp-only-group', seed(espFrame({ dst: UDP_ONLY }))],
  ['no_match-esp-udp-group', seed(espFrame({ dst: PAIR.dst }))],
  ['matched-udp-only-group', seed(udpFrame({ dst: UDP_ONLY, dstPort: 5 }))],
  // A UDP rule with routed outputs beside republished copies (packet egress, UDP socket).
  ['matched-routed-udp', seed(udpFrame({ ...ROUTED, ip: { ttl: 64 } }))],
  ['matched-routed-udp-checksum', seed(withUdpChecksum(udpFrame({ ...ROUTED, size: 100 })))],
  ['matched-routed-udp-too-big', seed(udpFrame({ ...ROUTED, size: 300 }))],
  ['matched-routed-udp-ttl1-expired', seed(udpFrame({ ...ROUTED, ip: { ttl: 1 } }))],
  ['matched-routed-udp-ip-options', seed(udpFrame({ ...ROUTED, ip: { options: Buffer.alloc(12, 1) } }))],
  ['matched-routed-udp-partial-checksum', seed(udpFrame({ ...ROUTED, ip: { options: Buffer.from([1, 1, 1, 1]) } }), { partial: true })],
  ['matched-routed-udp-sink-partial', seed(udpFrame(ROUTED), { sink: 1 })],
  // More outputs than the scratch space, of every kind: routed, port-keeping, packet egress.
  ['matched-huge-mixed', seed(udpFrame({ dst: HUGE_MIXED, dstPort: 9, size: 32 }))],
  ['matched-huge-mixed-ttl1-sink-eintr-eperm', seed(udpFrame({ dst: HUGE_MIXED, dstPort: 10, size: 32, ip: { ttl: 1 } }), { sink: 3 })],
  ['no_match-group', seed(udpFrame({ dst: '239.9.9.9', dstPort: 5001 }))],
  ['no_match-port', seed(udpFrame({ dst: '239.1.1.1', dstPort: 5009 }))],
  ['matched-any-group-one-on-input1', seed(udpFrame(ONE), { input: 1 })],
  ['no_match-one-on-input1-plain-table', seed(udpFrame(ONE), { input: 1, plainTable: true })],
  // The punt path: each punting rule copied, over the rate (rate 0, burst 0), a full ring, the
  // last free slot, a packet longer than a record holds, no Punter, the long-lived buckets.
  ['matched-punt-new-source', seed(udpFrame({ dst: PUNT_GROUP, dstPort: 9, src: SOURCE2 }))],
  [
    'matched-punt-register',
    seed(withUdpChecksum(udpFrame({ dst: PUNT_GROUP, dstPort: 9, src: SOURCE1 })), { punt: { rate: 1, burst: 1 } }),
  ],
  ['matched-punt-register-too-big', seed(udpFrame({ dst: PUNT_GROUP, dstPort: 9, src: SOURCE1, size: 300 }))],
  ['matched-punt-wrong-interface-input1', seed(udpFrame({ dst: PUNT_GROUP, dstPort: 9, src: SOURCE2 }), { input: 1 })],
  ['matched-punt-rate-0', seed(udpFrame({ dst: PUNT_GROUP, dstPort: 9 }), { punt: { rate: 0 } })],
  ['matched-punt-burst-0', seed(udpFrame({ dst: PUNT_GROUP, dstPort: 9 }), { punt: { rate: 'max', burst: 0 } })],
  ['matched-punt-ring-full', seed(udpFrame({ dst: PUNT_GROUP, dstPort: 9 }), { punt: { ring: 'full' } })],
  ['matched-punt-ring-one-left', seed(udpFrame({ dst: PUNT_GROUP, dstPort: 9 }), { punt: { ring: 'oneLeft', burst: 'max' } })],
  ['matched-punt-undrained-ring', seed(udpFrame({ dst: PUNT_GROUP, dstPort: 9 }), { punt: { ring: 'undrained' } })],
  ['matched-punt-copy-capped', seed(udpFrame({ dst: PUNT_GROUP, dstPort: 9, size: 2100 }))],
  ['matched-punt-no-punter', seed(udpFrame({ dst: PUNT_GROUP, dstPort: 9 }), { punt: { noPunter: true } })],
  ['matched-punt-ttl1-expired', seed(udpFrame({ dst: PUNT_GROUP, dstPort: 9, ip: { ttl: 1 } }))],
  ['matched-punt-lived-bucket', seed(udpFrame({ dst: PUNT_GROUP, dstPort: 9 }), { punt: { lived: true, rate: 1, burst: 1 } })],
  ['matched-punt-lived-bucket-rate-0', seed(udpFrame({ dst: PUNT_GROUP, dstPort: 9 }), { punt: { lived: true, rate: 0 } })],
  ['matched-punt-lived-undrained', seed(udpFrame({ dst: PUNT_GROUP, dstPort: 9 }), { punt: { lived: true, ring: 'undrained' } })],
  // Input 1's (*,*) entry: routable multicast no rule took, UDP and ESP, at the range's edges;
  // never link-local (224.0.0.0/24) or unicast, and never on input 0 or the plain table.
  ['matched-any-group-input1', seed(udpFrame({ dst: '239.9.9.9', dstPort: 5001 }), { input: 1 })],
  ['matched-any-group-224-0-1-0', seed(udpFrame({ dst: '224.0.1.0', dstPort: 5001 }), { input: 1 })],
  ['matched-any-group-239-255-255-255', seed(udpFrame({ dst: '239.255.255.255', dstPort: 5001 }), { input: 1 })],
  ['matched-any-group-esp', seed(espFrame({ dst: '239.9.9.9' }), { input: 1 })],
  ['matched-any-group-rate-0', seed(udpFrame({ dst: '239.9.9.9', dstPort: 5001 }), { input: 1, punt: { rate: 0 } })],
  ['no_match-any-group-link-local-224-0-0-9', seed(udpFrame({ dst: '224.0.0.9', dstPort: 520 }), { input: 1 })],
  ['no_match-any-group-link-local-224-0-0-255', seed(udpFrame({ dst: '224.0.0.255', dstPort: 5001 }), { input: 1 })],
  ['no_match-any-group-unicast', seed(udpFrame({ dst: '10.0.9.9', dstPort: 5001 }), { input: 1 })],
  ['no_match-any-group-240-0-0-1', seed(udpFrame({ dst: '240.0.0.1', dstPort: 5001 }), { input: 1 })],
  ['no_match-any-group-223-255-255-255', seed(udpFrame({ dst: '223.255.255.255', dstPort: 5001 }), { input: 1 })],
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
  ['filtered_oversize-7', seed(whole, { extraWire: 7 })],
  ['filtered_oversize-esp', seed(espFrame(), { extraWire: 2 })],
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
