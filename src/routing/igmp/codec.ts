// SPDX-License-Identifier: MIT
// IGMP v1/v2/v3 (RFC 1112, RFC 2236, RFC 3376) inside IPv4: pure functions from the bytes an
// AF_PACKET SOCK_DGRAM socket delivers (starting at the IPv4 header) to typed messages, and back.
// Parsing never throws: every malformed packet becomes a typed reason the caller counts and
// drops. Encoding writes full IPv4 packets as RFC 3376 section 4 asks of every IGMP message:
// TTL 1, precedence Internetwork Control, the Router Alert option (RFC 2113), correct checksums.
import { addressValue } from '../../lib/ipv4';
import { addressAt, encodeIPv4Packet, internetChecksum, parseIPv4Header, writeAddress as writeIPv4Address } from '../../lib/ipv4-packet';

export { addressValue, internetChecksum };

export const IPPROTO_IGMP = 2;

export const IGMP_TYPE = {
  query: 0x11,
  v1Report: 0x12,
  v2Report: 0x16,
  v2Leave: 0x17,
  v3Report: 0x22,
} as const;

/** Where each message goes (RFC 3376 4.1.12, 4.2.14; RFC 2236 section 3). */
export const ALL_SYSTEMS = '224.0.0.1';
export const ALL_ROUTERS = '224.0.0.2';
export const ALL_IGMPV3_ROUTERS = '224.0.0.22';

/** RFC 3376 4.2.12 record types, by their RFC names. */
export const GROUP_RECORD_TYPES = [
  'MODE_IS_INCLUDE',
  'MODE_IS_EXCLUDE',
  'CHANGE_TO_INCLUDE_MODE',
  'CHANGE_TO_EXCLUDE_MODE',
  'ALLOW_NEW_SOURCES',
  'BLOCK_OLD_SOURCES',
] as const;
export type GroupRecordType = (typeof GROUP_RECORD_TYPES)[number];

export interface GroupRecord {
  type: GroupRecordType;
  group: string;
  sources: string[];
}

export interface IgmpQuery {
  type: 'query';
  /** 1: 8 bytes, max resp code 0; 2: 8 bytes, code non-zero; 3: 12 bytes or more (RFC 3376 7.1). */
  version: 1 | 2 | 3;
  /** 0.0.0.0 for a general query. */
  group: string;
  /** Decoded Max Resp Code (v3 float encoding for codes >= 128); a v1 query means 10 s. */
  maxResponseMs: number;
  /** The S flag (v3 only; false otherwise). */
  suppressRouterProcessing: boolean;
  /** Querier's Robustness Variable, 0 when not given (v3 only). */
  robustness: number;
  /** Decoded QQIC in seconds, 0 when not given (v3 only). */
  queryIntervalSeconds: number;
  /** Group-and-source-specific query sources (v3 only). */
  sources: string[];
}

export interface IgmpV1Report {
  type: 'v1_report';
  group: string;
}

export interface IgmpV2Report {
  type: 'v2_report';
  group: string;
}

export interface IgmpV2Leave {
  type: 'v2_leave';
  group: string;
}

export interface IgmpV3Report {
  type: 'v3_report';
  records: GroupRecord[];
  /** Records of unknown types, dropped as RFC 3376 4.2.12 asks; present only when non-zero. */
  skippedRecords?: number;
}

export type IgmpMessage = IgmpQuery | IgmpV1Report | IgmpV2Report | IgmpV2Leave | IgmpV3Report;

export interface IpFields {
  source: string;
  destination: string;
  ttl: number;
  /** Router Alert option (RFC 2113) present. */
  routerAlert: boolean;
}

export interface IgmpPacket {
  ip: IpFields;
  message: IgmpMessage;
}

export const IGMP_PARSE_ERRORS = [
  'truncated',
  'bad_ip_version',
  'bad_ip_header',
  'bad_ip_checksum',
  'fragment',
  'not_igmp',
  'bad_igmp_checksum',
  'bad_length',
  'unknown_type',
  'bad_group',
  'bad_record',
] as const;
export type IgmpParseError = (typeof IGMP_PARSE_ERRORS)[number];

export type IgmpParseResult = { ok: true; packet: IgmpPacket } | { ok: false; reason: IgmpParseError };

// ---- helpers -----------------------------------------------------------------------------------

const IGMP_MIN = 8;
const V3_QUERY_MIN = 12;
const V3_RECORD_HEADER = 8;

function writeAddress(bytes: Uint8Array, at: number, address: string): void {
  writeIPv4Address(bytes, at, address, 'IGMP encode');
}

function u16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

function isMulticastAt(bytes: Uint8Array, at: number): boolean {
  return bytes[at]! >= 224 && bytes[at]! <= 239;
}

function isZeroAt(bytes: Uint8Array, at: number): boolean {
  return bytes[at] === 0 && bytes[at + 1] === 0 && bytes[at + 2] === 0 && bytes[at + 3] === 0;
}

// ---- RFC 3376 4.1.1 / 4.1.7 floating point codes -----------------------------------------------

/** The largest value the 8-bit code can carry: mant 0xf, exp 7. */
export const MAX_FLOAT_CODE_VALUE = (0x1f << 10) >>> 0; // 31744

/** Code -> value: below 128 the value itself, else (mant | 0x10) << (exp + 3). */
export function decodeFloatCode(code: number): number {
  if (code < 128) return code;
  const exp = (code >> 4) & 0x07;
  const mant = code & 0x0f;
  return (mant | 0x10) << (exp + 3);
}

/** Value -> the code of the largest representable value not above it (a shorter wait is the safe side). */
export function encodeFloatCode(value: number): number {
  const v = Math.max(0, Math.min(Math.floor(value), MAX_FLOAT_CODE_VALUE));
  if (v < 128) return v;
  let exp = 0;
  while (v >> (exp + 3) > 0x1f) exp++;
  const mant = (v >> (exp + 3)) & 0x0f;
  return 0x80 | (exp << 4) | mant;
}

// ---- parsing -----------------------------------------------------------------------------------

/** Parses one IPv4 packet carrying IGMP; never throws. */
export function parseIgmpPacket(bytes: Uint8Array): IgmpParseResult {
  const fail = (reason: IgmpParseError): IgmpParseResult => ({ ok: false, reason });
  const parsed = parseIPv4Header(bytes);
  if (!parsed.ok) return fail(parsed.reason);
  const { headerLength, totalLength, protocol, source, destination, ttl, routerAlert } = parsed.header;
  if (protocol !== IPPROTO_IGMP) return fail('not_igmp');
  const ip: IpFields = { source, destination, ttl, routerAlert };

  const igmp = bytes.subarray(headerLength, totalLength);
  if (igmp.length < IGMP_MIN) return fail('bad_length');
  if (internetChecksum(igmp) !== 0) return fail('bad_igmp_checksum');
  const message = parseIgmpMessage(igmp);
  return typeof message === 'string' ? fail(message) : { ok: true, packet: { ip, message } };
}

/** Parses the IGMP message itself (checksum already verified, at least 8 bytes). */
function parseIgmpMessage(igmp: Uint8Array): IgmpMessage | IgmpParseError {
  const type = igmp[0]!;
  const code = igmp[1]!;
  switch (type) {
    case IGMP_TYPE.query:
      return parseQuery(igmp, code);
    case IGMP_TYPE.v1Report:
    case IGMP_TYPE.v2Report:
    case IGMP_TYPE.v2Leave: {
      // RFC 2236 2.5: longer messages are accepted, the extra bytes ignored.
      if (!isMulticastAt(igmp, 4)) return 'bad_group';
      const group = addressAt(igmp, 4);
      if (type === IGMP_TYPE.v1Report) return { type: 'v1_report', group };
      if (type === IGMP_TYPE.v2Report) return { type: 'v2_report', group };
      return { type: 'v2_leave', group };
    }
    case IGMP_TYPE.v3Report:
      return parseV3Report(igmp);
    default:
      return 'unknown_type';
  }
}

function parseQuery(igmp: Uint8Array, code: number): IgmpQuery | IgmpParseError {
  if (!isZeroAt(igmp, 4) && !isMulticastAt(igmp, 4)) return 'bad_group';
  const group = addressAt(igmp, 4);
  if (igmp.length === IGMP_MIN) {
    // RFC 3376 7.1: an 8-byte query is v1 when its Max Resp Code is 0 (hosts then wait up to 10 s).
    const version = code === 0 ? 1 : 2;
    const maxResponseMs = code === 0 ? 10_000 : code * 100;
    return {
      type: 'query',
      version,
      group,
      maxResponseMs,
      suppressRouterProcessing: false,
      robustness: 0,
      queryIntervalSeconds: 0,
      sources: [],
    };
  }
  // RFC 3376 7.1: queries of 9 to 11 bytes are silently ignored.
  if (igmp.length < V3_QUERY_MIN) return 'bad_length';
  const count = u16(igmp, 10);
  if (igmp.length < V3_QUERY_MIN + 4 * count) return 'bad_length';
  const sources: string[] = [];
  for (let i = 0; i < count; i++) sources.push(addressAt(igmp, V3_QUERY_MIN + 4 * i));
  return {
    type: 'query',
    version: 3,
    group,
    maxResponseMs: decodeFloatCode(code) * 100,
    suppressRouterProcessing: (igmp[8]! & 0x08) !== 0,
    robustness: igmp[8]! & 0x07,
    queryIntervalSeconds: decodeFloatCode(igmp[9]!),
    sources,
  };
}

function parseV3Report(igmp: Uint8Array): IgmpV3Report | IgmpParseError {
  const count = u16(igmp, 6);
  const records: GroupRecord[] = [];
  let skipped = 0;
  let at = IGMP_MIN;
  for (let r = 0; r < count; r++) {
    if (at + V3_RECORD_HEADER > igmp.length) return 'bad_record';
    const recordType = igmp[at]!;
    const auxWords = igmp[at + 1]!;
    const sourceCount = u16(igmp, at + 2);
    const end = at + V3_RECORD_HEADER + 4 * sourceCount + 4 * auxWords;
    if (end > igmp.length) return 'bad_record';
    const type = GROUP_RECORD_TYPES[recordType - 1];
    if (type === undefined) {
      skipped++;
      at = end;
      continue;
    }
    if (!isMulticastAt(igmp, at + 4)) return 'bad_group';
    const sources: string[] = [];
    for (let i = 0; i < sourceCount; i++) sources.push(addressAt(igmp, at + V3_RECORD_HEADER + 4 * i));
    records.push({ type, group: addressAt(igmp, at + 4), sources });
    at = end; // auxiliary data skipped (RFC 3376 4.2.10: none is defined)
  }
  return skipped > 0 ? { type: 'v3_report', records, skippedRecords: skipped } : { type: 'v3_report', records };
}

// ---- encoding ----------------------------------------------------------------------------------

/** The destination RFC 2236 / RFC 3376 give each message. */
export function defaultDestination(message: IgmpMessage): string {
  switch (message.type) {
    case 'query':
      return message.group === '0.0.0.0' ? ALL_SYSTEMS : message.group;
    case 'v1_report':
    case 'v2_report':
      return message.group;
    case 'v2_leave':
      return ALL_ROUTERS;
    case 'v3_report':
      return ALL_IGMPV3_ROUTERS;
  }
}

export interface EncodeIpOptions {
  source: string;
  /** Default: defaultDestination(message). */
  destination?: string;
  /** Default 1. */
  ttl?: number;
  /** Default true. */
  routerAlert?: boolean;
}

/** The IGMP message alone, checksum filled. Throws RangeError on values that do not fit the format. */
export function encodeIgmpMessage(message: IgmpMessage): Uint8Array {
  switch (message.type) {
    case 'query': {
      if (message.version !== 3) {
        const bytes = new Uint8Array(IGMP_MIN);
        bytes[0] = IGMP_TYPE.query;
        bytes[1] = message.version === 1 ? 0 : Math.max(1, Math.min(255, Math.floor(message.maxResponseMs / 100)));
        writeAddress(bytes, 4, message.group);
        return withChecksum(bytes);
      }
      if (message.sources.length > 0xffff) throw new RangeError('IGMP encode: too many query sources');
      const bytes = new Uint8Array(V3_QUERY_MIN + 4 * message.sources.length);
      bytes[0] = IGMP_TYPE.query;
      bytes[1] = encodeFloatCode(message.maxResponseMs / 100);
      writeAddress(bytes, 4, message.group);
      bytes[8] = (message.suppressRouterProcessing ? 0x08 : 0) | (message.robustness & 0x07);
      bytes[9] = encodeFloatCode(message.queryIntervalSeconds);
      bytes[10] = message.sources.length >> 8;
      bytes[11] = message.sources.length & 0xff;
      for (const [i, source] of message.sources.entries()) writeAddress(bytes, V3_QUERY_MIN + 4 * i, source);
      return withChecksum(bytes);
    }
    case 'v1_report':
    case 'v2_report':
    case 'v2_leave': {
      const bytes = new Uint8Array(IGMP_MIN);
      bytes[0] = message.type === 'v1_report' ? IGMP_TYPE.v1Report : message.type === 'v2_report' ? IGMP_TYPE.v2Report : IGMP_TYPE.v2Leave;
      writeAddress(bytes, 4, message.group);
      return withChecksum(bytes);
    }
    case 'v3_report': {
      if (message.records.length > 0xffff) throw new RangeError('IGMP encode: too many group records');
      const length = message.records.reduce((sum, record) => sum + V3_RECORD_HEADER + 4 * record.sources.length, IGMP_MIN);
      const bytes = new Uint8Array(length);
      bytes[0] = IGMP_TYPE.v3Report;
      bytes[6] = message.records.length >> 8;
      bytes[7] = message.records.length & 0xff;
      let at = IGMP_MIN;
      for (const record of message.records) {
        if (record.sources.length > 0xffff) throw new RangeError('IGMP encode: too many record sources');
        bytes[at] = GROUP_RECORD_TYPES.indexOf(record.type) + 1;
        bytes[at + 2] = record.sources.length >> 8;
        bytes[at + 3] = record.sources.length & 0xff;
        writeAddress(bytes, at + 4, record.group);
        for (const [i, source] of record.sources.entries()) writeAddress(bytes, at + V3_RECORD_HEADER + 4 * i, source);
        at += V3_RECORD_HEADER + 4 * record.sources.length;
      }
      return withChecksum(bytes);
    }
  }
}

function withChecksum(igmp: Uint8Array): Uint8Array {
  const sum = internetChecksum(igmp);
  igmp[2] = sum >> 8;
  igmp[3] = sum & 0xff;
  return igmp;
}

/** A full IPv4 packet: TOS 0xc0, DF, TTL 1 and Router Alert unless told otherwise, checksums filled. */
export function encodeIgmpPacket(message: IgmpMessage, ip: EncodeIpOptions): Uint8Array {
  return encodeIPv4Packet(encodeIgmpMessage(message), {
    protocol: IPPROTO_IGMP,
    source: ip.source,
    destination: ip.destination ?? defaultDestination(message),
    ttl: ip.ttl ?? 1,
    routerAlert: ip.routerAlert ?? true,
    what: 'IGMP encode',
  });
}
