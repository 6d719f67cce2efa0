// SPDX-License-Identifier: MIT
// Every relay the bench knows, once: its id (in results.json and on --relays), the short label of
// tables and chart legends, its colour in every chart, and its place in every listing (this order).

export interface RelayInfo {
  id: string;
  label: string;
  color: string;
  /** selectable with --relays (direct and mcr-3hop are set up by their scenarios) */
  selectable: boolean;
  /** a peer that mcr is compared with in the throughput ratios */
  peer?: boolean;
  /** measured by the standard throughput scenario */
  throughput?: boolean;
  /** measured by the efficiency scenario (CPU per packet, issue #11); a new mcr variant there is one entry here plus its factory in run.ts */
  efficiency?: boolean;
  /** loses packets erratically (GC pauses, per-packet wake-ups): its figures get the wider noise band */
  erratic?: boolean;
}

export const RELAYS: readonly RelayInfo[] = [
  { id: 'mcr-1w', label: 'mcr (1 worker)', color: '#1f5fbf', selectable: true, throughput: true, efficiency: true },
  { id: 'mcr-2w', label: 'mcr (2 workers)', color: '#8e44ad', selectable: true, throughput: true },
  { id: 'mcr-1w-poll', label: 'mcr (1 worker, busyPoll)', color: '#17becf', selectable: true, efficiency: true },
  // issue #11's levers, each a config key on one worker (bench/relays/mcr.ts mcrVariant)
  { id: 'mcr-1w-socket', label: 'mcr (1 worker, UDP socket egress)', color: '#7fa7e0', selectable: true, efficiency: true },
  { id: 'mcr-1w-noholdoff', label: 'mcr (1 worker, no wake-up holdoff)', color: '#9467bd', selectable: true, efficiency: true },
  { id: 'mcr-1w-xdp', label: 'mcr (1 worker, XDP)', color: '#0b2e6b', selectable: true, throughput: true, efficiency: true },
  // the audit drill build (issue #10), set up by the drill scenario only
  { id: 'mcr-1w-drill', label: 'mcr drill build (1 worker)', color: '#c0392b', selectable: false },
  { id: 'mcr-3hop', label: 'mcr x3 (1 worker each)', color: '#1f5fbf', selectable: false },
  { id: 'kernel', label: 'kernel routing (smcroute)', color: '#2e9e44', selectable: true, peer: true, throughput: true, efficiency: true },
  {
    id: 'c-relay',
    label: 'C relay (recvmmsg/sendmmsg)',
    color: '#e67e00',
    selectable: true,
    peer: true,
    throughput: true,
    efficiency: true,
  },
  { id: 'node', label: 'naive Node.js dgram relay', color: '#d62728', selectable: true, peer: true, throughput: true, erratic: true },
  { id: 'socat', label: 'socat', color: '#795548', selectable: true, peer: true, throughput: true, erratic: true },
  { id: 'direct', label: 'no relay', color: '#7f7f7f', selectable: false },
];

export const SELECTABLE_RELAYS = RELAYS.filter((r) => r.selectable).map((r) => r.id);
export const THROUGHPUT_RELAYS = RELAYS.filter((r) => r.throughput).map((r) => r.id);
export const EFFICIENCY_RELAYS = RELAYS.filter((r) => r.efficiency).map((r) => r.id);
export const PEERS = RELAYS.filter((r) => r.peer).map((r) => r.id);

export function relayInfo(id: string): RelayInfo {
  return RELAYS.find((r) => r.id === id) ?? { id, label: id, color: '#444444', selectable: false };
}

/** Position in the registry (unknown ids last), for sorting anything that has a relay id. */
export function relayRank(id: string): number {
  const i = RELAYS.findIndex((r) => r.id === id);
  return i < 0 ? RELAYS.length : i;
}

export const byRelay = (a: { relay: string }, b: { relay: string }): number => relayRank(a.relay) - relayRank(b.relay);

/** The distinct ids of `ids`, in registry order. */
export function relayOrder(ids: Iterable<string>): string[] {
  return [...new Set(ids)].sort((a, b) => relayRank(a) - relayRank(b));
}
