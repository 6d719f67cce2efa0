// SPDX-License-Identifier: MIT
// Ethernet/IPv4/UDP frame builder for `mcrgen inject`: well-formed frames by default, and every
// field a malformed frame needs overridable (version, IHL, total length, checksum, fragment bits,
// protocol, UDP length). Payloads follow native/tools/mcrgen/payload.h so `mcrgen recv` counts
// relayed copies like any mcrgen stream.
import { writeFileSync, rmSync } from 'node:fs';
import { MCRGEN, type Topology } from './netns';

export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;

function macBytes(mac: string): Buffer {
  const parts = mac.split(':');
  if (parts.length !== 6) throw new Error(`bad MAC ${mac}`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

function ipBytes(addr: string): Buffer {
  const parts = addr.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`bad IPv4 ${addr}`);
  return Buffer.from(parts);
}

/** 01:00:5e + the low 23 bits of the group (RFC 1112). */
export function multicastMac(group: string): string {
  const b = ipBytes(group);
  const tail = [b.readUInt8(1) & 0x7f, b.readUInt8(2), b.readUInt8(3)];
  return ['01', '00', '5e', ...tail.map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

// ---- mcrgen payload (payload.h) ------------------------------------------------------------

const FNV_OFFSET = 2166136261;
const FNV_PRIME = 16777619;

function fnv(h: number, byte: number): number {
  return Math.imul((h ^ byte) >>> 0, FNV_PRIME) >>> 0;
}

/**
 * A payload `mcrgen recv` accepts: a 32-byte header (magic "MCRG", stream, checksum, seq) and a
 * body that is a byte ramp starting at seq * 31 + 32; the checksum is FNV-1a over the header
 * (checksum field as zero) followed by the payload length as 4 little-endian bytes.
 */
export function mcrPayload(stream: number, seq: number, size = 64): Buffer {
  if (size < 32) throw new Error('payload must be at least 32 bytes');
  const buf = Buffer.alloc(size);
  buf.writeUInt32LE(0x4752434d, 0);
  buf.writeUInt16LE(1, 4);
  buf.writeUInt16LE(32, 6);
  buf.writeUInt32LE(stream >>> 0, 8);
  buf.writeUInt32LE(0, 12);
  buf.writeBigUInt64LE(BigInt(seq), 16);
  buf.writeBigUInt64LE(0n, 24);
  for (let i = 32; i < size; i++) buf[i] = (seq * 31 + i) & 0xff;
  let h = FNV_OFFSET;
  for (let i = 0; i < 32; i++) h = fnv(h, buf.readUInt8(i));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(size, 0);
  for (const b of length) h = fnv(h, b);
  buf.writeUInt32LE(h, 12);
  return buf;
}

// ---- headers ---------------------------------------------------------------------------------

export interface UdpOptions {
  srcPort?: number;
  dstPort: number;
  /** The UDP length field; default 8 + payload length. */
  length?: number;
}

/** UDP header + payload, checksum 0 ("none", legal for IPv4). */
export function udp(o: UdpOptions, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(o.srcPort ?? 40000, 0);
  h.writeUInt16BE(o.dstPort, 2);
  h.writeUInt16BE(o.length ?? 8 + payload.length, 4);
  h.writeUInt16BE(0, 6);
  return Buffer.concat([h, payload]);
}

export interface Ipv4Options {
  src: string;
  dst: string;
  protocol?: number;
  ttl?: number;
  id?: number;
  /** Version nibble; default 4. */
  version?: number;
  /** IHL nibble in 32-bit words; default 5 + options length / 4. Lying about it is allowed. */
  ihl?: number;
  /** IP options bytes, zero-padded (End of Options List) to a multiple of 4. */
  options?: Buffer;
  /** Total length field; default header + payload. */
  totalLength?: number;
  moreFragments?: boolean;
  /** The DF flag; default clear. */
  dontFragment?: boolean;
  /** Fragment offset in 8-byte units. */
  fragmentOffset?: number;
  /** true: a wrong header checksum. */
  badChecksum?: boolean;
}

export function ipv4Checksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function ipv4(o: Ipv4Options, payload: Buffer): Buffer {
  const opts = o.options ?? Buffer.alloc(0);
  const optLen = Math.ceil(opts.length / 4) * 4;
  const headerLen = 20 + optLen;
  const h = Buffer.alloc(headerLen);
  opts.copy(h, 20);
  const ihl = o.ihl ?? headerLen / 4;
  h[0] = ((o.version ?? 4) << 4) | (ihl & 0x0f);
  h[1] = 0;
  h.writeUInt16BE(o.totalLength ?? headerLen + payload.length, 2);
  h.writeUInt16BE(o.id ?? 1, 4);
  h.writeUInt16BE((o.dontFragment ? 0x4000 : 0) | (o.moreFragments ? 0x2000 : 0) | ((o.fragmentOffset ?? 0) & 0x1fff), 6);
  h[8] = o.ttl ?? 16;
  h[9] = o.protocol ?? 17;
  ipBytes(o.src).copy(h, 12);
  ipBytes(o.dst).copy(h, 16);
  // The checksum covers the header the IHL claims, when that fits in what we built.
  const covered = Math.min(Math.max(ihl * 4, 20), headerLen);
  let sum = ipv4Checksum(h.subarray(0, covered));
  if (o.badChecksum) sum = (sum ^ 0x5a5a) & 0xffff;
  h.writeUInt16BE(sum, 10);
  return Buffer.concat([h, payload]);
}

export interface EthernetOptions {
  dst?: string;
  src?: string;
  etherType?: number;
  /** Pad to the Ethernet minimum of 60 bytes (without FCS), as a NIC would; default true. */
  pad?: boolean;
}

export function ethernet(o: EthernetOptions, payload: Buffer): Buffer {
  const h = Buffer.alloc(14);
  macBytes(o.dst ?? BROADCAST_MAC).copy(h, 0);
  macBytes(o.src ?? '02:00:00:00:00:01').copy(h, 6);
  h.writeUInt16BE(o.etherType ?? ETH_P_IP, 12);
  const frame = Buffer.concat([h, payload]);
  if ((o.pad ?? true) && frame.length < 60) return Buffer.concat([frame, Buffer.alloc(60 - frame.length)]);
  return frame;
}

/** A well-formed Ethernet/IPv4/UDP frame carrying an mcrgen payload. */
export function udpFrame(o: {
  dst: string;
  dstPort: number;
  src?: string;
  mac?: string;
  stream?: number;
  seq?: number;
  size?: number;
  ip?: Partial<Ipv4Options>;
}): Buffer {
  const payload = mcrPayload(o.stream ?? 0, o.seq ?? 0, o.size ?? 64);
  const ip = ipv4({ src: o.src ?? '10.0.1.1', dst: o.dst, ...o.ip }, udp({ dstPort: o.dstPort }, payload));
  return ethernet({ dst: o.mac ?? multicastMac(o.dst) }, ip);
}

/**
 * The frame fields of the shared fixture table (tests/fixtures/frames.json), all given: the
 * core tests' FrameSpec (native/tests/frame_builder.h) in camelCase.
 */
export interface FixtureSpec {
  ethertype: number;
  version: number;
  ihl: number;
  protocol: number;
  /** The IPv4 flags and fragment offset field: 0x4000 DF, 0x2000 MF, offset in the low 13 bits. */
  frag: number;
  totalLenDelta: number;
  udpLenDelta: number;
  breakChecksum: boolean;
  src: string;
  dst: string;
  port: number;
  /** UDP payload bytes: a ramp 0, 1, 2, ... as the C++ builder writes. */
  payload: number;
  /** Bytes removed from the end after building. */
  cut: number;
  ttl: number;
}

/**
 * A fixture's frame, byte for byte what native/tests/frame_builder.h builds except the MAC
 * addresses (the group's multicast MAC here, zeros there) and the bits a broken checksum flips.
 * IHL above 5 is filled with NOP options; no Ethernet padding, which would lengthen cut frames.
 */
export function fixtureFrame(s: FixtureSpec): Buffer {
  if ((s.frag & ~0x7fff) !== 0) throw new Error(`fixture frag 0x${s.frag.toString(16)}: the reserved flag bit cannot be built`);
  const ipHeader = Math.max(20, s.ihl * 4);
  const body = Buffer.from(Array.from({ length: s.payload }, (_, i) => i & 0xff));
  const datagram = udp({ srcPort: 5000, dstPort: s.port, length: 8 + s.payload + s.udpLenDelta }, body);
  const packet = ipv4(
    {
      src: s.src,
      dst: s.dst,
      version: s.version,
      ihl: s.ihl,
      protocol: s.protocol,
      ttl: s.ttl,
      id: 0,
      options: Buffer.alloc(ipHeader - 20, 1),
      totalLength: ipHeader + 8 + s.payload + s.totalLenDelta,
      dontFragment: (s.frag & 0x4000) !== 0,
      moreFragments: (s.frag & 0x2000) !== 0,
      fragmentOffset: s.frag & 0x1fff,
      badChecksum: s.breakChecksum,
    },
    datagram,
  );
  const frame = ethernet({ dst: multicastMac(s.dst), etherType: s.ethertype, pad: false }, packet);
  return frame.subarray(0, frame.length - s.cut);
}

/** An ARP request "who has TARGET, tell SENDER", broadcast. */
export function arpRequest(sender: string, target: string, senderMac = '02:00:00:00:00:01'): Buffer {
  const a = Buffer.alloc(28);
  a.writeUInt16BE(1, 0); // Ethernet
  a.writeUInt16BE(ETH_P_IP, 2);
  a[4] = 6;
  a[5] = 4;
  a.writeUInt16BE(1, 6); // request
  macBytes(senderMac).copy(a, 8);
  ipBytes(sender).copy(a, 14);
  ipBytes(target).copy(a, 24);
  return ethernet({ dst: BROADCAST_MAC, src: senderMac, etherType: ETH_P_ARP }, a);
}

export function toHex(frame: Buffer): string {
  return frame.toString('hex');
}

/**
 * Sends the frames, in order, out of DEVICE in namespace NS with `mcrgen inject`; returns how
 * many mcrgen reports injected.
 */
export async function inject(t: Topology, ns: string, device: string, frames: Buffer[]): Promise<number> {
  const file = `/tmp/${t.prefix}-inject-${process.hrtime.bigint()}.hex`;
  writeFileSync(file, `${frames.map(toHex).join('\n')}\n`);
  try {
    const r = await t.exec(ns, MCRGEN, ['inject', '--device', device, '--file', file, '--json', '--quiet']);
    return (JSON.parse(r.stdout.trim().split('\n').pop() as string) as { injected: number }).injected;
  } finally {
    rmSync(file, { force: true });
  }
}
