// SPDX-License-Identifier: MIT
// The MSDP SA cache and SA flooding (RFC 3618 sections 3, 5, 10): (S,G,RP) entries learned from
// peers, each kept for SG-State-Period after its last SA; the peer-RPF check deciding which peer's
// SAs are accepted; flooding of accepted SAs to the other established peers (not back to the
// sender, and not between members of one mesh group); and the SAs this router originates as an
// RP, sent at once when added and every SA-Advertisement-Period. Pure: the peers' states come in
// with each call, the time is the caller's, and sends come back as (peer, message) pairs.
import type { MsdpSaResponse, MsdpSourceActive, SaEntry } from './codec';

/** SA-Advertisement-Period (RFC 3618 5.1). */
export const SA_ADVERTISEMENT_PERIOD_MS = 60_000;
/**
 * SA-State timeout: RFC 3618 5.3 sets it to [SG-State-Period], which must be at least
 * SA-Advertisement-Period + SA-Hold-Down-Period = 60 + 30 s. We take that minimum; FRR's pimd
 * keeps an entry 210 s (3 advertisement periods + 30 s), so an SA from FRR outlives a missed one.
 */
export const SG_STATE_PERIOD_MS = 90_000;

/** What the cache needs to know of a peer. */
export interface MsdpPeerInfo {
  address: string;
  meshGroup: string | null;
  established: boolean;
}

export interface SaCacheConfig {
  /** Our RP address, the RP field of the SAs we originate; SAs naming it from others are loops. */
  localRp: string;
  /**
   * The peer-RPF neighbour towards an RP (RFC 3618 10.1.3 rule iii: the peer on the best unicast
   * path to it), or null when unicast routing has none. Injected: the unicast view lives elsewhere.
   */
  rpfPeer?: (rp: string) => string | null;
  sgStatePeriodMs?: number;
  advertisementPeriodMs?: number;
}

export type SaAcceptRule = 'mesh_group' | 'originator' | 'only_peer' | 'rpf_peer';
export type SaRejectReason = 'rpf_failed' | 'own_rp' | 'not_sa';

export interface SaCacheEntry {
  source: string;
  group: string;
  rp: string;
  /** The peer it was learned from. */
  peer: string;
  learnedAt: number;
  expiresAt: number;
}

export type SaChange =
  | { type: 'sa_added'; source: string; group: string; rp: string; peer: string }
  | { type: 'sa_removed'; source: string; group: string; rp: string; peer: string; reason: 'expired' | 'peer_down' };

export interface SaSend {
  peer: string;
  message: MsdpSourceActive;
}

export interface SaReceiveResult {
  changes: SaChange[];
  send: SaSend[];
  accepted?: SaAcceptRule;
  rejected?: SaRejectReason;
}

export interface SaTickResult {
  changes: SaChange[];
  send: SaSend[];
}

const key = (source: string, group: string, rp: string): string => `${source}|${group}|${rp}`;

export class SaCache {
  private readonly localRp: string;
  private readonly rpfPeer: (rp: string) => string | null;
  private readonly sgStatePeriodMs: number;
  private readonly advertisementPeriodMs: number;
  private readonly learned = new Map<string, SaCacheEntry>();
  /** Our originated (S,G)s, in insertion order. */
  private readonly local = new Map<string, SaEntry>();
  private advertiseAt: number | null = null;

  constructor(config: SaCacheConfig) {
    this.localRp = config.localRp;
    this.rpfPeer = config.rpfPeer ?? (() => null);
    this.sgStatePeriodMs = config.sgStatePeriodMs ?? SG_STATE_PERIOD_MS;
    this.advertisementPeriodMs = config.advertisementPeriodMs ?? SA_ADVERTISEMENT_PERIOD_MS;
  }

  /** RFC 3618 10.1.3's peer-RPF rules for an SA from `from` naming `rp`: the rule that accepts it, or null. */
  acceptRule(from: MsdpPeerInfo, rp: string, peers: readonly MsdpPeerInfo[]): SaAcceptRule | null {
    if (from.meshGroup !== null) return 'mesh_group';
    if (from.address === rp) return 'originator';
    if (peers.length === 1) return 'only_peer';
    if (this.rpfPeer(rp) === from.address) return 'rpf_peer';
    return null;
  }

  /** An SA (or SA-Response) from peer `from`: cache what passes the peer-RPF check, and flood it on. */
  receive(now: number, from: string, message: MsdpSourceActive | MsdpSaResponse, peers: readonly MsdpPeerInfo[]): SaReceiveResult {
    const r: SaReceiveResult = { changes: [], send: [] };
    const sender = peers.find((p) => p.address === from);
    if (!sender) {
      r.rejected = 'rpf_failed';
      return r;
    }
    if (message.rp === this.localRp) {
      r.rejected = 'own_rp';
      return r;
    }
    const rule = this.acceptRule(sender, message.rp, peers);
    if (rule === null) {
      r.rejected = 'rpf_failed';
      return r;
    }
    r.accepted = rule;
    for (const e of message.entries) {
      const k = key(e.source, e.group, message.rp);
      const existing = this.learned.get(k);
      if (existing) {
        existing.expiresAt = now + this.sgStatePeriodMs;
        existing.peer = from;
      } else {
        this.learned.set(k, {
          source: e.source,
          group: e.group,
          rp: message.rp,
          peer: from,
          learnedAt: now,
          expiresAt: now + this.sgStatePeriodMs,
        });
        r.changes.push({ type: 'sa_added', source: e.source, group: e.group, rp: message.rp, peer: from });
      }
    }
    // an SA-Response answers one peer's request and is not flooded (RFC 3618 12.2.3)
    if (message.type === 'source_active' && message.entries.length > 0) {
      const forwarded: MsdpSourceActive = { type: 'source_active', rp: message.rp, entries: message.entries };
      for (const p of peers) {
        if (!p.established || p.address === from) continue;
        // RFC 3618 10.2: from a mesh group member, not to the members of that group
        if (sender.meshGroup !== null && p.meshGroup === sender.meshGroup) continue;
        r.send.push({ peer: p.address, message: forwarded });
      }
    }
    return r;
  }

  /** Starts originating an SA for (S,G) with us as RP: sent now to every established peer. */
  originate(now: number, source: string, group: string, peers: readonly MsdpPeerInfo[]): SaSend[] {
    const k = `${source}|${group}`;
    if (this.local.has(k)) return [];
    const entry = { source, group };
    this.local.set(k, entry);
    this.advertiseAt ??= now + this.advertisementPeriodMs;
    const message: MsdpSourceActive = { type: 'source_active', rp: this.localRp, entries: [entry] };
    return peers.filter((p) => p.established).map((p) => ({ peer: p.address, message }));
  }

  /** Stops originating (S,G); peers let their entry time out (MSDP has no withdrawal). */
  withdraw(source: string, group: string): boolean {
    const removed = this.local.delete(`${source}|${group}`);
    if (this.local.size === 0) this.advertiseAt = null;
    return removed;
  }

  /** Every originated (S,G) in one SA (the caller's encoder splits at 255), for a peer that just came up. */
  originatedFor(peer: string): SaSend[] {
    return this.local.size ? [{ peer, message: { type: 'source_active', rp: this.localRp, entries: [...this.local.values()] } }] : [];
  }

  /** A peer went down: what was learned from it goes (it is the RPF peer of those SAs, and will resend them). */
  peerDown(peer: string): SaChange[] {
    const changes: SaChange[] = [];
    for (const [k, e] of this.learned)
      if (e.peer === peer) {
        this.learned.delete(k);
        changes.push({ type: 'sa_removed', source: e.source, group: e.group, rp: e.rp, peer, reason: 'peer_down' });
      }
    return changes;
  }

  /** Expires entries and sends the periodic SA of our originated (S,G)s. */
  tick(now: number, peers: readonly MsdpPeerInfo[]): SaTickResult {
    const r: SaTickResult = { changes: [], send: [] };
    for (const [k, e] of this.learned)
      if (now >= e.expiresAt) {
        this.learned.delete(k);
        r.changes.push({ type: 'sa_removed', source: e.source, group: e.group, rp: e.rp, peer: e.peer, reason: 'expired' });
      }
    if (this.advertiseAt !== null && now >= this.advertiseAt) {
      this.advertiseAt = now + this.advertisementPeriodMs;
      for (const p of peers) if (p.established) r.send.push(...this.originatedFor(p.address));
    }
    return r;
  }

  nextDeadline(): number | null {
    let next = this.advertiseAt;
    for (const e of this.learned.values()) if (next === null || e.expiresAt < next) next = e.expiresAt;
    return next;
  }

  entries(): SaCacheEntry[] {
    return [...this.learned.values()].map((e) => ({ ...e }));
  }

  originated(): SaEntry[] {
    return [...this.local.values()].map((e) => ({ ...e }));
  }
}
