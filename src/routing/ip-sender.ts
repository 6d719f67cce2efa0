// SPDX-License-Identifier: MIT
// What a router does to an IPv4 packet before sending it on (RFC 1812 5.3.1): TTL minus one and
// the header checksum redone. For the packets mcrd forwards itself (PIM's RP sending a
// decapsulated Register's inner packet down the shared tree) through the addon's IpSender,
// which sends packets exactly as given.
import { internetChecksum, type IPv4HeaderError, parseIPv4Header } from '../lib/ipv4-packet';

export type ForwardCopy = { ok: true; packet: Buffer } | { ok: false; reason: IPv4HeaderError | 'ttl_expired' };

/**
 * A copy of `packet` ready to forward: the datagram only (bytes past its total length, such as
 * Ethernet padding, dropped), TTL one less, header checksum recomputed. Refused with a reason,
 * never thrown: a malformed header, or a TTL of 1 or 0 (it would leave with 0). Fragments are
 * forwarded as they are, as routers do.
 */
export function forwardCopy(packet: Uint8Array): ForwardCopy {
  const parsed = parseIPv4Header(packet);
  // parseIPv4Header checks the header whole before it looks at fragmentation.
  if (!parsed.ok && parsed.reason !== 'fragment') return parsed;
  const headerLength = (packet[0]! & 0x0f) * 4;
  const totalLength = (packet[2]! << 8) | packet[3]!;
  if (packet[8]! <= 1) return { ok: false, reason: 'ttl_expired' };
  const copy = Buffer.from(packet.subarray(0, totalLength));
  copy[8] = packet[8]! - 1;
  copy.writeUInt16BE(0, 10);
  copy.writeUInt16BE(internetChecksum(copy, 0, headerLength), 10);
  return { ok: true, packet: copy };
}
