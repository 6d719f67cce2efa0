// SPDX-License-Identifier: MIT
// IPv4 address helpers shared by config validation, the CLI and the daemon.
// Only the strict dotted-quad form is accepted: no leading zeros, no shorthand ("239.1"),
// because inet_aton would silently read those as different addresses.

const OCTET = /^(0|[1-9][0-9]{0,2})$/;

/** Parses a strict dotted quad into its four octets, or returns null. */
export function parseIPv4(text: string): [number, number, number, number] | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const octets: number[] = [];
  for (const part of parts) {
    if (!OCTET.test(part)) return null;
    const value = Number(part);
    if (value > 255) return null;
    octets.push(value);
  }
  return octets as [number, number, number, number];
}

/** An IPv4 address as an unsigned 32-bit number, for elections (IGMP querier, PIM DR) and prefix checks. */
export function addressValue(address: string): number {
  const octets = parseIPv4(address);
  if (!octets) throw new RangeError(`not an IPv4 address: ${JSON.stringify(address)}`);
  return ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
}

/** The dotted quad of an unsigned 32-bit address value (addressValue's inverse). */
export function addressText(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
}

export function isIPv4(text: string): boolean {
  return parseIPv4(text) !== null;
}

/** 224.0.0.0/4. */
export function isMulticast(text: string): boolean {
  const octets = parseIPv4(text);
  return octets !== null && octets[0] >= 224 && octets[0] <= 239;
}

/** 0.0.0.0 and 255.255.255.255 name no single host or group, so they are never a valid rule address. */
export function isUnspecifiedOrBroadcast(text: string): boolean {
  return text === '0.0.0.0' || text === '255.255.255.255';
}
