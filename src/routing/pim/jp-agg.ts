// SPDX-License-Identifier: MIT
// Join/Prune aggregation (the job of FRR's pim_jp_agg): the joins and prunes one engine step wants
// to send become as few Join/Prune messages as fit, one stream per (interface, upstream
// neighbour), groups merged, each message under a byte budget so it fits the link MTU.
// Pure: items in, encoded messages out, in the order the items first named each neighbour.
import { ALL_PIM_ROUTERS, type EncodedSource, encodePimMessage, type JoinPruneGroup, type PimJoinPrune } from './codec';

/** One join or prune for one entry, towards one upstream neighbour on one interface. */
export interface JoinPruneItem {
  interface: string;
  /** The Upstream Neighbor Address field: RPF'(*,G) or RPF'(S,G), or our own address for a PruneEcho. */
  neighbor: string;
  group: string;
  source: EncodedSource;
  join: boolean;
}

/** A Join/Prune message to send to ALL-PIM-ROUTERS on `interface` (TTL 1). */
export interface JoinPruneSend {
  interface: string;
  destination: string;
  message: PimJoinPrune;
  /** The encoded PIM message (a raw IPPROTO_PIM socket adds the IPv4 header). */
  bytes: Uint8Array;
}

/** Fits a 1500-byte MTU after a 24-byte IPv4 header (with Router Alert) and leaves slack. */
export const DEFAULT_MAX_JOIN_PRUNE_BYTES = 1400;

const MESSAGE_HEADER_BYTES = 4 + 6 + 4;
const GROUP_BYTES = 8 + 4;
const SOURCE_BYTES = 8;
const MAX_GROUPS = 255;

const sameSource = (a: EncodedSource, b: EncodedSource) =>
  a.address === b.address && a.wildcard === b.wildcard && a.rpt === b.rpt && a.sparse === b.sparse;

/**
 * Groups `items` into Join/Prune messages with `holdtime` seconds: one message per (interface,
 * neighbour) unless it would pass `maxBytes` or 255 groups, then the next one continues.
 * A repeated item is sent once.
 */
export function aggregateJoinPrune(
  items: readonly JoinPruneItem[],
  holdtime: number,
  maxBytes = DEFAULT_MAX_JOIN_PRUNE_BYTES,
): JoinPruneSend[] {
  if (maxBytes < MESSAGE_HEADER_BYTES + GROUP_BYTES + SOURCE_BYTES)
    throw new RangeError(`Join/Prune aggregation: maxBytes ${maxBytes} cannot hold a single join`);
  const streams = new Map<string, { interface: string; neighbor: string; messages: { groups: JoinPruneGroup[]; bytes: number }[] }>();
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const streamKey = `${item.interface}\0${item.neighbor}`;
    let stream = streams.get(streamKey);
    if (stream === undefined) {
      stream = { interface: item.interface, neighbor: item.neighbor, messages: [] };
      streams.set(streamKey, stream);
    }
    // Already in any message of this stream: nothing to add.
    const dup = stream.messages.some((m) =>
      m.groups.some((g) => g.group === item.group && (item.join ? g.joins : g.prunes).some((s) => sameSource(s, item.source))),
    );
    if (dup) continue;
    let message = stream.messages[stream.messages.length - 1];
    let group = message?.groups.find((g) => g.group === item.group);
    // A Join(*,G) and the Prune(S,G,rpt)s right after it stay in one group record when they fit in
    // one message: a receiver takes those prunes only with the Join(*,G) (RFC 7761 4.5.4's PruneTmp;
    // FRR's pim_joinprune_recv ignores a Prune(S,G,rpt) whose group record has no Join(*,G)).
    let attached = 0;
    if (item.join && item.source.wildcard) while (isAttachedRptPrune(items[i + 1 + attached], item)) attached++;
    const cost = SOURCE_BYTES * (1 + attached) + (group === undefined ? GROUP_BYTES : 0);
    const full = message !== undefined && message.bytes + cost > maxBytes && (attached === 0 || message.groups.length > 0);
    if (message === undefined || full || (group === undefined && message.groups.length >= MAX_GROUPS)) {
      message = { groups: [], bytes: MESSAGE_HEADER_BYTES };
      stream.messages.push(message);
      group = undefined;
    }
    if (group === undefined) {
      group = { group: item.group, maskLength: 32, joins: [], prunes: [] };
      message.groups.push(group);
      message.bytes += GROUP_BYTES;
    }
    (item.join ? group.joins : group.prunes).push({ ...item.source });
    message.bytes += SOURCE_BYTES;
  }
  const sends: JoinPruneSend[] = [];
  for (const stream of streams.values())
    for (const { groups } of stream.messages) {
      const message: PimJoinPrune = { type: 'join_prune', upstreamNeighbor: stream.neighbor, holdtime, groups };
      sends.push({ interface: stream.interface, destination: ALL_PIM_ROUTERS, message, bytes: encodePimMessage(message) });
    }
  return sends;
}

/** `next` is a Prune(S,G,rpt) to the same neighbour and group as the Join(*,G) `join`. */
const isAttachedRptPrune = (next: JoinPruneItem | undefined, join: JoinPruneItem): boolean =>
  next !== undefined &&
  !next.join &&
  next.source.rpt &&
  !next.source.wildcard &&
  next.interface === join.interface &&
  next.neighbor === join.neighbor &&
  next.group === join.group;

/** The Encoded-Source of a (*,G) join or prune: the RP's address with S, W and R set (RFC 7761 4.9.5.1). */
export const starGSource = (rp: string): EncodedSource => ({ address: rp, sparse: true, wildcard: true, rpt: true });
/** The Encoded-Source of an (S,G) join or prune: S set, W and R clear. */
export const sgSource = (source: string): EncodedSource => ({ address: source, sparse: true, wildcard: false, rpt: false });
/** The Encoded-Source of an (S,G,rpt) prune: S and R set, W clear. */
export const sgRptSource = (source: string): EncodedSource => ({ address: source, sparse: true, wildcard: false, rpt: true });

/** Join/Prune holdtime for a Join/Prune period: 3.5 x t_periodic (RFC 7761 4.11), whole seconds, below 0xffff (forever). */
export function joinPruneHoldtimeSeconds(joinPruneIntervalMs: number): number {
  return Math.max(1, Math.min(0xfffe, Math.floor((3.5 * joinPruneIntervalMs) / 1000)));
}
