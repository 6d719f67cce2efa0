// SPDX-License-Identifier: MIT
// The IPv4 header around control-protocol messages (IGMP, PIM): the RFC 1071 checksum, a parser
// that never throws (a malformed header becomes a named reason), and an encoder for the headers
// routers put on their control packets. Protocol codecs check the protocol number themselves.
import { parseIPv4 } from './ipv4';

export const IPV4_HEADER_MIN = 20;
/** Router Alert (RFC 2113): option type 148, copied flag + class 0 + number 20. */
const ROUTER_ALERT = 0x94;

/** RFC 1071 ones' complement sum of `bytes[start, end)`, folded and complemented. */
export function internetChecksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let sum = 0;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i < end) sum += bytes[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function addressAt(bytes: Uint8Array, at: number): string {
  return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
}

/** Writes a dotted quad; `what` names the caller in the RangeError a bad address raises. */
export function writeAddress(bytes: Uint8Array, at: number, address: string, what: string): void {
  const octets = parseIPv4(address);
  if (!octets) throw new RangeError(`${what}: not an IPv4 address: ${JSON.stringify(address)}`);
  bytes.set(octets, at);
}

export interface IPv4Header {
  source: string;
  destination: string;
  ttl: number;
  protocol: number;
  /** Router Alert option (RFC 2113) present. */
  routerAlert: boolean;
  headerLength: number;
  /** The IP total length; bytes after it (Ethernet padding) are not part of the datagram. */
  totalLength: number;
}

export const IPV4_HEADER_ERRORS = ['truncated', 'bad_ip_version', 'bad_ip_header', 'bad_ip_checksum', 'fragment'] as const;
export type IPv4HeaderError = (typeof IPV4_HEADER_ERRORS)[number];

/** Parses and checks the IPv4 header of a whole, unfragmented datagram; never throws. */
export function parseIPv4Header(bytes: Uint8Array): { ok: true; header: IPv4Header } | { ok: false; reason: IPv4HeaderError } {
  const fail = (reason: IPv4HeaderError) => ({ ok: false as const, reason });
  if (bytes.length < IPV4_HEADER_MIN) return fail('truncated');
  if (bytes[0]! >> 4 !== 4) return fail('bad_ip_version');
  const headerLength = (bytes[0]! & 0x0f) * 4;
  if (headerLength < IPV4_HEADER_MIN) return fail('bad_ip_header');
  const totalLength = (bytes[2]! << 8) | bytes[3]!;
  if (totalLength < headerLength) return fail('bad_ip_header');
  // Packet sockets may hand over Ethernet padding after the datagram: the IP total length rules.
  if (bytes.length < totalLength) return fail('truncated');
  if (internetChecksum(bytes, 0, headerLength) !== 0) return fail('bad_ip_checksum');
  if ((((bytes[6]! << 8) | bytes[7]!) & 0x3fff) !== 0) return fail('fragment');

  let routerAlert = false;
  for (let at = IPV4_HEADER_MIN; at < headerLength; ) {
    const type = bytes[at]!;
    if (type === 0) break; // end of option list
    if (type === 1) {
      at += 1; // no-operation
      continue;
    }
    if (at + 1 >= headerLength) return fail('bad_ip_header');
    const length = bytes[at + 1]!;
    if (length < 2 || at + length > headerLength) return fail('bad_ip_header');
    if (type === ROUTER_ALERT && length === 4) routerAlert = true;
    at += length;
  }
  return {
    ok: true,
    header: {
      source: addressAt(bytes, 12),
      destination: addressAt(bytes, 16),
      ttl: bytes[8]!,
      protocol: bytes[9]!,
      routerAlert,
      headerLength,
      totalLength,
    },
  };
}

export interface EncodeIPv4Options {
  protocol: number;
  source: string;
  destination: string;
  ttl: number;
  routerAlert: boolean;
  /** Default 0xc0: precedence Internetwork Control, as routers send their control traffic. */
  tos?: number;
  /** Names the caller in errors. */
  what: string;
}

/** `payload` behind an IPv4 header with DF set and identification 0, as Linux sends these. */
export function encodeIPv4Packet(payload: Uint8Array, options: EncodeIPv4Options): Uint8Array {
  const headerLength = IPV4_HEADER_MIN + (options.routerAlert ? 4 : 0);
  const totalLength = headerLength + payload.length;
  if (totalLength > 0xffff) throw new RangeError(`${options.what}: packet over 65535 bytes`);
  const bytes = new Uint8Array(totalLength);
  bytes[0] = 0x40 | (headerLength / 4);
  bytes[1] = options.tos ?? 0xc0;
  bytes[2] = totalLength >> 8;
  bytes[3] = totalLength & 0xff;
  bytes[6] = 0x40; // DF
  bytes[8] = options.ttl;
  bytes[9] = options.protocol;
  writeAddress(bytes, 12, options.source, options.what);
  writeAddress(bytes, 16, options.destination, options.what);
  if (options.routerAlert) bytes.set([ROUTER_ALERT, 4, 0, 0], IPV4_HEADER_MIN);
  const sum = internetChecksum(bytes, 0, headerLength);
  bytes[10] = sum >> 8;
  bytes[11] = sum & 0xff;
  bytes.set(payload, headerLength);
  return bytes;
}
