// SPDX-License-Identifier: MIT
// PIM version 2 (RFC 7761 section 4.9) for IPv4: pure functions from bytes to typed messages and
// back. The types PIM-SM needs are decoded: Hello, Register, Register-Stop, Join/Prune and Assert;
// Bootstrap, Graft, Graft-Ack and Candidate-RP-Advertisement are recognised and reported as
// unsupported. Parsing never throws: every malformed message becomes a named reason the caller
// counts and drops. A raw IPPROTO_PIM socket receives the IPv4 header too (parsePimPacket) and
// sends the PIM message alone (encodePimMessage); encodePimPacket adds a header for tests and
// packet sockets.
import { isMulticast } from '../../lib/ipv4';
import {
  addressAt,
  encodeIPv4Packet,
  IPV4_HEADER_ERRORS,
  IPV4_HEADER_MIN,
  internetChecksum,
  parseIPv4Header,
  writeAddress as writeIPv4Address,
} from '../../lib/ipv4-packet';

export const IPPROTO_PIM = 103;
export const PIM_VERSION = 2;
/** ALL-PIM-ROUTERS: where Hello, Join/Prune and Assert go, with TTL 1 (RFC 7761 4.9). */
export const ALL_PIM_ROUTERS = '224.0.0.13';

export const PIM_TYPE = {
  hello: 0,
  register: 1,
  registerStop: 2,
  joinPrune: 3,
  bootstrap: 4,
  assert: 5,
  graft: 6,
  graftAck: 7,
  candidateRpAdvertisement: 8,
} as const;

/** Hello option types (RFC 7761 4.9.2). */
export const HELLO_OPTION = {
  holdtime: 1,
  lanPruneDelay: 2,
  drPriority: 19,
  generationId: 20,
  addressList: 24,
} as const;

/** A Hello holdtime that never runs out (RFC 7761 4.9.2). */
export const HOLDTIME_FOREVER = 0xffff;

/** Address families in encoded addresses (IANA address family numbers). */
const FAMILY_IPV4 = 1;
const FAMILY_IPV6 = 2;
/** The family's native encoding, the only one defined (RFC 7761 4.9.1). */
const NATIVE_ENCODING = 0;

// ---- messages ----------------------------------------------------------------------------------

/** Hello option 2 (RFC 7761 4.9.2, 4.3.3). */
export interface LanPruneDelay {
  /** The T bit: the sender can disable Join suppression. */
  trackingSupport: boolean;
  /** 15 bits. */
  propagationDelayMs: number;
  overrideIntervalMs: number;
}

/** A Hello option this codec does not interpret, kept as its bytes. */
export interface HelloOption {
  type: number;
  value: Uint8Array;
}

export interface PimHello {
  type: 'hello';
  /** Seconds; 0: forget me now, HOLDTIME_FOREVER: never time me out. Absent: the receiver's default. */
  holdtime?: number;
  lanPruneDelay?: LanPruneDelay;
  /** Absent: the sender is elected by address only (RFC 7761 4.3.2). */
  drPriority?: number;
  generationId?: number;
  /** Secondary IPv4 addresses from every Address List option (RFC 7761 4.3.4). */
  addresses?: string[];
  /** Address List entries of other families (FRR's IPv4 pimd may list IPv6 secondaries), skipped; present only when non-zero. */
  skippedAddresses?: number;
  /** Options not interpreted here, in order; RFC 7761 4.9.2 has receivers ignore them. Present only when any. */
  otherOptions?: HelloOption[];
}

export interface PimRegister {
  type: 'register';
  /** B: the sender is a PIM Multicast Border Router. */
  border: boolean;
  /** N: a Null-Register, carrying only the inner header (RFC 7761 4.4.1). */
  nullRegister: boolean;
  /** The encapsulated IPv4 packet, from its header on. */
  packet: Uint8Array;
  /** The inner packet's source and destination: the (S,G) being registered. */
  source: string;
  group: string;
}

export interface PimRegisterStop {
  type: 'register_stop';
  group: string;
  /** 0.0.0.0: every source of the group. */
  source: string;
}

/** An Encoded-Source address (RFC 7761 4.9.1); its mask length is always 32 for IPv4. */
export interface EncodedSource {
  address: string;
  /** S: set for PIM-SM (PIM version 1 compatibility). */
  sparse: boolean;
  /** W: the join or prune applies to the (*,G) entry (address is the RP's). */
  wildcard: boolean;
  /** R: the join or prune is sent towards the RP (shared tree). */
  rpt: boolean;
}

export interface JoinPruneGroup {
  group: string;
  /** 32 for a single group. */
  maskLength: number;
  joins: EncodedSource[];
  prunes: EncodedSource[];
}

export interface PimJoinPrune {
  type: 'join_prune';
  /** The neighbour the message is for; every other router on the link only listens. */
  upstreamNeighbor: string;
  /** Seconds the state lives without a refresh; 0xffff: forever. */
  holdtime: number;
  groups: JoinPruneGroup[];
}

export interface PimAssert {
  type: 'assert';
  group: string;
  /** 0.0.0.0 in a (*,G) assert. */
  source: string;
  /** R: a (*,G) assert (RPT bit). */
  rpt: boolean;
  /** 31 bits. */
  metricPreference: number;
  metric: number;
}

export type PimMessage = PimHello | PimRegister | PimRegisterStop | PimJoinPrune | PimAssert;

export interface PimIpFields {
  source: string;
  destination: string;
  ttl: number;
}

export interface PimPacket {
  ip: PimIpFields;
  message: PimMessage;
}

const PIM_MESSAGE_ERRORS = [
  'truncated',
  'bad_version',
  'bad_checksum',
  'unknown_type',
  'unsupported_type',
  'bad_address_family',
  'bad_encoding_type',
  'bad_mask_length',
  'bad_group',
  'bad_length',
  'bad_register',
] as const;
export const PIM_PARSE_ERRORS = [...IPV4_HEADER_ERRORS, 'not_pim', ...PIM_MESSAGE_ERRORS] as const;
/**
 * Why a packet was dropped. truncated: shorter than its header, counts or option lengths say;
 * unsupported_type: Bootstrap, Graft, Graft-Ack or Candidate-RP-Advertisement; bad_length: a
 * Hello option of the wrong size for its type; bad_register: the Register's inner packet is not
 * an IPv4 header; the address reasons: an encoded address of another family or encoding, a mask
 * length over 32 (or not 32 for a source), a group address outside 224.0.0.0/4.
 */
export type PimParseError = (typeof PIM_PARSE_ERRORS)[number];
type PimMessageError = (typeof PIM_MESSAGE_ERRORS)[number];

export type PimMessageParseResult = { ok: true; message: PimMessage } | { ok: false; reason: PimMessageError };
export type PimParseResult = { ok: true; packet: PimPacket } | { ok: false; reason: PimParseError };

// ---- parsing -----------------------------------------------------------------------------------

const HEADER = 4;
const REGISTER_HEADER = 8;
const ENCODED_UNICAST = 6;
const ENCODED_GROUP = 8;
const ENCODED_SOURCE = 8;

const u16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
const u32 = (b: Uint8Array, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

/** A parse failure inside a message, thrown by the readers and caught once in parsePimMessage. */
class Malformed {
  constructor(readonly reason: PimMessageError) {}
}

/** Reads a message front to back; every read checks the length first. */
class Reader {
  at: number;
  constructor(
    readonly bytes: Uint8Array,
    at: number,
  ) {
    this.at = at;
  }
  need(n: number): void {
    if (this.at + n > this.bytes.length) throw new Malformed('truncated');
  }
  u8(): number {
    this.need(1);
    return this.bytes[this.at++]!;
  }
  u16(): number {
    this.need(2);
    const v = u16(this.bytes, this.at);
    this.at += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = u32(this.bytes, this.at);
    this.at += 4;
    return v;
  }
  /** Encoded-Unicast (RFC 7761 4.9.1): family, encoding type, address. */
  unicast(): string {
    this.need(2);
    const [family, encoding] = [this.bytes[this.at]!, this.bytes[this.at + 1]!];
    if (family !== FAMILY_IPV4) throw new Malformed('bad_address_family');
    if (encoding !== NATIVE_ENCODING) throw new Malformed('bad_encoding_type');
    this.need(ENCODED_UNICAST);
    const address = addressAt(this.bytes, this.at + 2);
    this.at += ENCODED_UNICAST;
    return address;
  }
  /** Encoded-Group: family, encoding type, B/reserved/Z flags (ignored), mask length, group. */
  group(): { group: string; maskLength: number } {
    const { address, maskLength } = this.masked();
    if (maskLength > 32) throw new Malformed('bad_mask_length');
    if (!isMulticast(address)) throw new Malformed('bad_group');
    return { group: address, maskLength };
  }
  /** Encoded-Source: family, encoding type, S/W/R flags, mask length (32 only), source. */
  source(): EncodedSource {
    const flags = this.bytes[this.at + 2] ?? 0;
    const { address, maskLength } = this.masked();
    // RFC 7761 4.9.1: other mask lengths SHOULD make the router ignore the message.
    if (maskLength !== 32) throw new Malformed('bad_mask_length');
    return { address, sparse: (flags & 0x04) !== 0, wildcard: (flags & 0x02) !== 0, rpt: (flags & 0x01) !== 0 };
  }
  private masked(): { address: string; maskLength: number } {
    this.need(2);
    if (this.bytes[this.at] !== FAMILY_IPV4) throw new Malformed('bad_address_family');
    if (this.bytes[this.at + 1] !== NATIVE_ENCODING) throw new Malformed('bad_encoding_type');
    this.need(ENCODED_GROUP);
    const maskLength = this.bytes[this.at + 3]!;
    const address = addressAt(this.bytes, this.at + 4);
    this.at += ENCODED_GROUP;
    return { address, maskLength };
  }
}

/** Parses an IPv4 packet carrying PIM (what a raw IPPROTO_PIM socket reads); never throws. */
export function parsePimPacket(bytes: Uint8Array): PimParseResult {
  const parsed = parseIPv4Header(bytes);
  if (!parsed.ok) return parsed;
  const { headerLength, totalLength, protocol, source, destination, ttl } = parsed.header;
  if (protocol !== IPPROTO_PIM) return { ok: false, reason: 'not_pim' };
  const result = parsePimMessage(bytes.subarray(headerLength, totalLength));
  return result.ok ? { ok: true, packet: { ip: { source, destination, ttl }, message: result.message } } : result;
}

/** Parses one PIM message, from its header to the end of the datagram; never throws. */
export function parsePimMessage(bytes: Uint8Array): PimMessageParseResult {
  const fail = (reason: PimMessageError) => ({ ok: false as const, reason });
  if (bytes.length < HEADER) return fail('truncated');
  if (bytes[0]! >> 4 !== PIM_VERSION) return fail('bad_version');
  const type = bytes[0]! & 0x0f;
  if (type === PIM_TYPE.register) {
    if (bytes.length < REGISTER_HEADER) return fail('truncated');
    // RFC 7761 4.9: a Register's checksum covers its first 8 bytes only; some routers sum the
    // whole message, and FRR accepts both, so this does too.
    if (internetChecksum(bytes, 0, REGISTER_HEADER) !== 0 && internetChecksum(bytes) !== 0) return fail('bad_checksum');
  } else if (internetChecksum(bytes) !== 0) return fail('bad_checksum');

  try {
    const r = new Reader(bytes, HEADER);
    switch (type) {
      case PIM_TYPE.hello:
        return { ok: true, message: parseHello(r) };
      case PIM_TYPE.register:
        return { ok: true, message: parseRegister(bytes) };
      case PIM_TYPE.registerStop: {
        const { group } = r.group();
        return { ok: true, message: { type: 'register_stop', group, source: r.unicast() } };
      }
      case PIM_TYPE.joinPrune:
        return { ok: true, message: parseJoinPrune(r) };
      case PIM_TYPE.assert: {
        const { group } = r.group();
        const source = r.unicast();
        const preference = r.u32();
        const metric = r.u32();
        return {
          ok: true,
          message: { type: 'assert', group, source, rpt: preference >>> 31 === 1, metricPreference: preference & 0x7fffffff, metric },
        };
      }
      case PIM_TYPE.bootstrap:
      case PIM_TYPE.graft:
      case PIM_TYPE.graftAck:
      case PIM_TYPE.candidateRpAdvertisement:
        return fail('unsupported_type');
      default:
        return fail('unknown_type');
    }
  } catch (err) {
    if (err instanceof Malformed) return fail(err.reason);
    throw err;
  }
}

function parseHello(r: Reader): PimHello {
  const hello: PimHello = { type: 'hello' };
  const other: HelloOption[] = [];
  let skipped = 0;
  while (r.at < r.bytes.length) {
    const type = r.u16();
    const length = r.u16();
    r.need(length);
    const start = r.at;
    const fixed = (size: number) => {
      if (length !== size) throw new Malformed('bad_length');
    };
    // A repeated option overrides the earlier one, as FRR reads them.
    switch (type) {
      case HELLO_OPTION.holdtime:
        fixed(2);
        hello.holdtime = r.u16();
        break;
      case HELLO_OPTION.lanPruneDelay: {
        fixed(4);
        const delay = r.u16();
        hello.lanPruneDelay = { trackingSupport: delay >> 15 === 1, propagationDelayMs: delay & 0x7fff, overrideIntervalMs: r.u16() };
        break;
      }
      case HELLO_OPTION.drPriority:
        fixed(4);
        hello.drPriority = r.u32();
        break;
      case HELLO_OPTION.generationId:
        fixed(4);
        hello.generationId = r.u32();
        break;
      case HELLO_OPTION.addressList: {
        const addresses = hello.addresses ?? [];
        const end = start + length;
        const list = new Reader(r.bytes.subarray(0, end), start);
        while (list.at < end) {
          if (end - list.at < 2) throw new Malformed('bad_length');
          const family = r.bytes[list.at]!;
          if (family === FAMILY_IPV6) {
            if (r.bytes[list.at + 1] !== NATIVE_ENCODING) throw new Malformed('bad_encoding_type');
            if (end - list.at < 18) throw new Malformed('bad_length');
            list.at += 18;
            skipped++;
            continue;
          }
          if (family === FAMILY_IPV4 && end - list.at < ENCODED_UNICAST) throw new Malformed('bad_length');
          addresses.push(list.unicast());
        }
        hello.addresses = addresses;
        r.at = end;
        break;
      }
      default:
        other.push({ type, value: new Uint8Array(r.bytes.subarray(start, start + length)) });
        r.at = start + length;
    }
  }
  if (skipped > 0) hello.skippedAddresses = skipped;
  if (other.length > 0) hello.otherOptions = other;
  return hello;
}

function parseRegister(bytes: Uint8Array): PimRegister {
  const flags = bytes[4]!;
  // A copy, as a plain Uint8Array: the caller's buffer (a Buffer view, perhaps) may be reused.
  const packet = new Uint8Array(bytes.subarray(REGISTER_HEADER));
  if (packet.length < IPV4_HEADER_MIN || packet[0]! >> 4 !== 4) throw new Malformed('bad_register');
  return {
    type: 'register',
    border: (flags & 0x80) !== 0,
    nullRegister: (flags & 0x40) !== 0,
    packet,
    source: addressAt(packet, 12),
    group: addressAt(packet, 16),
  };
}

function parseJoinPrune(r: Reader): PimJoinPrune {
  const upstreamNeighbor = r.unicast();
  r.u8(); // reserved
  const groupCount = r.u8();
  const holdtime = r.u16();
  const groups: JoinPruneGroup[] = [];
  for (let i = 0; i < groupCount; i++) {
    const { group, maskLength } = r.group();
    const joinCount = r.u16();
    const pruneCount = r.u16();
    // Check the counts against the bytes left before reading, so a huge count fails at once.
    r.need((joinCount + pruneCount) * ENCODED_SOURCE);
    const joins: EncodedSource[] = [];
    const prunes: EncodedSource[] = [];
    for (let j = 0; j < joinCount; j++) joins.push(r.source());
    for (let j = 0; j < pruneCount; j++) prunes.push(r.source());
    groups.push({ group, maskLength, joins, prunes });
  }
  return { type: 'join_prune', upstreamNeighbor, holdtime, groups };
}

// ---- encoding ----------------------------------------------------------------------------------

/** Appends bytes; every value is range-checked and a RangeError names what did not fit. */
class Writer {
  private readonly chunks: number[] = [];
  constructor(private readonly what: string) {}
  get length(): number {
    return this.chunks.length;
  }
  uint(value: number, bytes: 1 | 2 | 4, name: string): void {
    const max = 2 ** (8 * bytes) - 1;
    if (!Number.isInteger(value) || value < 0 || value > max)
      throw new RangeError(`${this.what}: ${name} must be an integer from 0 to ${max}, got ${value}`);
    for (let i = bytes - 1; i >= 0; i--) this.chunks.push(Math.floor(value / 2 ** (8 * i)) & 0xff);
  }
  raw(bytes: Uint8Array): void {
    for (const b of bytes) this.chunks.push(b);
  }
  address(address: string): void {
    const four = new Uint8Array(4);
    writeIPv4Address(four, 0, address, this.what);
    this.raw(four);
  }
  unicast(address: string): void {
    this.chunks.push(FAMILY_IPV4, NATIVE_ENCODING);
    this.address(address);
  }
  group(group: string, maskLength: number): void {
    if (!Number.isInteger(maskLength) || maskLength < 0 || maskLength > 32)
      throw new RangeError(`${this.what}: group mask length must be 0-32, got ${maskLength}`);
    this.chunks.push(FAMILY_IPV4, NATIVE_ENCODING, 0, maskLength);
    this.address(group);
  }
  source(s: EncodedSource): void {
    this.chunks.push(FAMILY_IPV4, NATIVE_ENCODING, (s.sparse ? 0x04 : 0) | (s.wildcard ? 0x02 : 0) | (s.rpt ? 0x01 : 0), 32);
    this.address(s.address);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

/** The PIM message with its checksum filled; throws RangeError on values the format cannot carry. */
export function encodePimMessage(message: PimMessage): Uint8Array {
  const what = `PIM ${message.type} encode`;
  const w = new Writer(what);
  w.uint((PIM_VERSION << 4) | typeNumber(message), 1, 'type');
  w.uint(0, 1, 'reserved');
  w.uint(0, 2, 'checksum');
  switch (message.type) {
    case 'hello':
      writeHello(w, message, what);
      break;
    case 'register': {
      const p = message.packet;
      if (p.length < IPV4_HEADER_MIN || p[0]! >> 4 !== 4) throw new RangeError(`${what}: the inner packet is not an IPv4 packet`);
      if (addressAt(p, 12) !== message.source || addressAt(p, 16) !== message.group)
        throw new RangeError(
          `${what}: source ${message.source} and group ${message.group} differ from the inner packet's ${addressAt(p, 12)} -> ${addressAt(p, 16)}`,
        );
      w.uint((message.border ? 0x80 : 0) | (message.nullRegister ? 0x40 : 0), 1, 'flags');
      w.uint(0, 1, 'reserved');
      w.uint(0, 2, 'reserved');
      w.raw(p);
      break;
    }
    case 'register_stop':
      w.group(message.group, 32);
      w.unicast(message.source);
      break;
    case 'join_prune':
      w.unicast(message.upstreamNeighbor);
      w.uint(0, 1, 'reserved');
      w.uint(message.groups.length, 1, 'number of groups');
      w.uint(message.holdtime, 2, 'holdtime');
      for (const g of message.groups) {
        w.group(g.group, g.maskLength);
        w.uint(g.joins.length, 2, 'number of joined sources');
        w.uint(g.prunes.length, 2, 'number of pruned sources');
        for (const s of g.joins) w.source(s);
        for (const s of g.prunes) w.source(s);
      }
      break;
    case 'assert':
      w.group(message.group, 32);
      w.unicast(message.source);
      if (!Number.isInteger(message.metricPreference) || message.metricPreference < 0 || message.metricPreference > 0x7fffffff)
        throw new RangeError(`${what}: metric preference must be an integer from 0 to ${0x7fffffff}, got ${message.metricPreference}`);
      w.uint((message.rpt ? 0x80000000 : 0) + message.metricPreference, 4, 'metric preference');
      w.uint(message.metric, 4, 'metric');
      break;
  }
  if (w.length > 0xffff - IPV4_HEADER_MIN) throw new RangeError(`${what}: message of ${w.length} bytes does not fit an IPv4 packet`);
  const bytes = w.bytes();
  const sum = internetChecksum(bytes, 0, message.type === 'register' ? REGISTER_HEADER : bytes.length);
  bytes[2] = sum >> 8;
  bytes[3] = sum & 0xff;
  return bytes;
}

function typeNumber(message: PimMessage): number {
  switch (message.type) {
    case 'hello':
      return PIM_TYPE.hello;
    case 'register':
      return PIM_TYPE.register;
    case 'register_stop':
      return PIM_TYPE.registerStop;
    case 'join_prune':
      return PIM_TYPE.joinPrune;
    case 'assert':
      return PIM_TYPE.assert;
  }
}

const KNOWN_HELLO_OPTIONS: readonly number[] = Object.values(HELLO_OPTION);

/** Options in the order FRR's pimd writes them: holdtime, LAN prune delay, DR priority, generation ID, address list. */
function writeHello(w: Writer, hello: PimHello, what: string): void {
  if (hello.holdtime !== undefined) {
    w.uint(HELLO_OPTION.holdtime, 2, 'option type');
    w.uint(2, 2, 'option length');
    w.uint(hello.holdtime, 2, 'holdtime');
  }
  if (hello.lanPruneDelay !== undefined) {
    const { trackingSupport, propagationDelayMs, overrideIntervalMs } = hello.lanPruneDelay;
    if (!Number.isInteger(propagationDelayMs) || propagationDelayMs < 0 || propagationDelayMs > 0x7fff)
      throw new RangeError(`${what}: propagation delay must be an integer from 0 to ${0x7fff} ms, got ${propagationDelayMs}`);
    w.uint(HELLO_OPTION.lanPruneDelay, 2, 'option type');
    w.uint(4, 2, 'option length');
    w.uint((trackingSupport ? 0x8000 : 0) | propagationDelayMs, 2, 'propagation delay');
    w.uint(overrideIntervalMs, 2, 'override interval');
  }
  if (hello.drPriority !== undefined) {
    w.uint(HELLO_OPTION.drPriority, 2, 'option type');
    w.uint(4, 2, 'option length');
    w.uint(hello.drPriority, 4, 'DR priority');
  }
  if (hello.generationId !== undefined) {
    w.uint(HELLO_OPTION.generationId, 2, 'option type');
    w.uint(4, 2, 'option length');
    w.uint(hello.generationId, 4, 'generation ID');
  }
  if (hello.addresses !== undefined) {
    w.uint(HELLO_OPTION.addressList, 2, 'option type');
    w.uint(ENCODED_UNICAST * hello.addresses.length, 2, 'address list length');
    for (const address of hello.addresses) w.unicast(address);
  }
  for (const option of hello.otherOptions ?? []) {
    if (KNOWN_HELLO_OPTIONS.includes(option.type))
      throw new RangeError(`${what}: option ${option.type} has its own field; otherOptions holds only the others`);
    w.uint(option.type, 2, 'option type');
    w.uint(option.value.length, 2, 'option length');
    w.raw(option.value);
  }
}

export interface EncodePimIpOptions {
  source: string;
  /** Default ALL_PIM_ROUTERS for Hello, Join/Prune and Assert; required for Register and Register-Stop (unicast). */
  destination?: string;
  /** Default 1 to ALL_PIM_ROUTERS, 64 otherwise. */
  ttl?: number;
}

/** A full IPv4 packet (TOS 0xc0, DF, no options) around the message. */
export function encodePimPacket(message: PimMessage, ip: EncodePimIpOptions): Uint8Array {
  const linkLocal = message.type === 'hello' || message.type === 'join_prune' || message.type === 'assert';
  const destination = ip.destination ?? (linkLocal ? ALL_PIM_ROUTERS : undefined);
  if (destination === undefined) throw new RangeError(`PIM ${message.type} encode: a unicast message needs a destination`);
  return encodeIPv4Packet(encodePimMessage(message), {
    protocol: IPPROTO_PIM,
    source: ip.source,
    destination,
    ttl: ip.ttl ?? (destination === ALL_PIM_ROUTERS ? 1 : 64),
    routerAlert: false,
    what: `PIM ${message.type} encode`,
  });
}
