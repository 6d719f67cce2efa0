// SPDX-License-Identifier: MIT
// One interface's IGMP router side (RFC 3376 section 6 and 7.3; RFC 2236 when version 2): querier
// election, general/startup queries, group- and source-specific queries, and the per-group filter
// state of RFC 3376 6.2-6.5 with the older-version host compatibility of 7.3.2.
// A pure state machine: it takes parsed messages and the time (milliseconds, from the caller's
// clock) and returns the packets to send and the listener filters that changed. No sockets, no
// timers: the caller calls tick(now) at nextDeadline().
import {
  addressValue,
  defaultDestination,
  encodeIgmpPacket,
  type GroupRecord,
  type IgmpMessage,
  type IgmpPacket,
  type IgmpQuery,
} from './codec';

// ---- configuration -----------------------------------------------------------------------------

/** The per-interface settings in the config's units (seconds; bounds and defaults: IGMP_LIMITS and IGMP_DEFAULTS in src/config/types.ts). */
export interface IgmpTimerSettings {
  version: 2 | 3;
  queryInterval: number;
  queryResponseInterval: number;
  lastMemberQueryInterval: number;
  robustness: number;
}

/** The engine's configuration, in milliseconds. */
export interface IgmpInterfaceConfig {
  /** The interface's own IPv4 address: the queries' source and our side of the election. */
  address: string;
  version: 2 | 3;
  queryIntervalMs: number;
  queryResponseIntervalMs: number;
  lastMemberQueryIntervalMs: number;
  robustness: number;
  /** Default queryIntervalMs / 4 (RFC 3376 8.6). */
  startupQueryIntervalMs?: number;
  /** Default robustness (RFC 3376 8.7). */
  startupQueryCount?: number;
  /** Default robustness (RFC 3376 8.9). */
  lastMemberQueryCount?: number;
}

/** Settings in seconds (config file) -> engine config in milliseconds. */
export function igmpInterfaceConfig(address: string, settings: IgmpTimerSettings): IgmpInterfaceConfig {
  const ms = (seconds: number) => Math.round(seconds * 1000);
  return {
    address,
    version: settings.version,
    queryIntervalMs: ms(settings.queryInterval),
    queryResponseIntervalMs: ms(settings.queryResponseInterval),
    lastMemberQueryIntervalMs: ms(settings.lastMemberQueryInterval),
    robustness: settings.robustness,
  };
}

// ---- results and views -------------------------------------------------------------------------

/** A group's listener filter: which sources listeners on this interface want. */
export interface MembershipFilter {
  group: string;
  /** include: only `sources`; exclude: every source but `sources`; none: no listener. */
  mode: 'include' | 'exclude' | 'none';
  /** Sorted. */
  sources: string[];
}

/** Emitted when a group's filter changes (mode 'none': the last listener is gone). */
export type MembershipChange = MembershipFilter;

export interface IgmpSend {
  packet: Uint8Array;
  destination: string;
  /** What the packet carries, for logs and per-type counters. */
  message: IgmpMessage;
}

/** Why a well-formed message changed nothing; for counters. */
export type IgmpIgnoreReason =
  | 'own_query'
  | 'query_from_unspecified'
  | 'local_group'
  | 'v3_report_in_v2_mode'
  | 'leave_with_v1_host'
  | 'block_in_compat_mode';

export interface IgmpResult {
  send: IgmpSend[];
  changes: MembershipChange[];
  /** Set when receive() ignored the whole message. */
  ignored?: IgmpIgnoreReason;
}

export interface IgmpSourceView {
  source: string;
  /** Source timer expiry; null: not running (an EXCLUDE-mode blocked source). */
  expiresAt: number | null;
  forwarded: boolean;
}

export interface IgmpGroupView {
  group: string;
  filterMode: 'include' | 'exclude';
  sources: IgmpSourceView[];
  compatibilityMode: 1 | 2 | 3;
  lastReporter: string;
  /** When the group goes away without further reports: the group timer (EXCLUDE) or the last source timer (INCLUDE). */
  expiresAt: number;
  v1HostExpiresAt: number | null;
  v2HostExpiresAt: number | null;
}

export interface IgmpQuerierView {
  /** The querier's address (ours when we are the querier). */
  address: string;
  isQuerier: boolean;
  otherQuerierExpiresAt: number | null;
  nextGeneralQueryAt: number | null;
  startupQueriesLeft: number;
  /** In use: ours when querier, else adopted from the querier's QRV/QQIC (RFC 3376 4.1.6, 4.1.7). */
  robustness: number;
  queryIntervalMs: number;
}

export interface IgmpInterfaceView {
  address: string;
  version: 2 | 3;
  querier: IgmpQuerierView;
  groups: IgmpGroupView[];
}

// ---- state -------------------------------------------------------------------------------------

interface GroupState {
  group: string;
  mode: 'include' | 'exclude';
  /** EXCLUDE mode only. */
  groupExpiresAt: number | null;
  /** Source -> timer expiry; null = not running (EXCLUDE's blocked list, RFC 3376 6.2.1's Y). */
  sources: Map<string, number | null>;
  v1HostExpiresAt: number | null;
  v2HostExpiresAt: number | null;
  lastReporter: string;
  groupQueriesLeft: number;
  groupQueryAt: number;
  sourceQueriesLeft: Map<string, number>;
  sourceQueryAt: number;
}

/** 224.0.0.0/24: link-local control groups, never routed, so never tracked. */
function isLocalGroup(group: string): boolean {
  return group.startsWith('224.0.0.');
}

const compareAddresses = (a: string, b: string) => addressValue(a) - addressValue(b);

/** Room for sources in one query packet on a 1500-byte link: 1500 - 24 (IP + RA) - 12. */
const MAX_QUERY_SOURCES = 366;

export class IgmpInterface {
  private readonly config: Required<IgmpInterfaceConfig>;
  private readonly ownValue: number;
  private readonly groups = new Map<string, GroupState>();
  /** The filter last reported per group, as a comparable key. */
  private readonly reported = new Map<string, string>();

  private started = false;
  private isQuerier = true;
  private querierAddress: string;
  private otherQuerierExpiresAt: number | null = null;
  private nextGeneralQueryAt: number | null = null;
  private startupQueriesLeft = 0;
  private robustness: number;
  private queryIntervalMs: number;

  constructor(config: IgmpInterfaceConfig) {
    this.config = {
      startupQueryIntervalMs: Math.floor(config.queryIntervalMs / 4),
      startupQueryCount: config.robustness,
      lastMemberQueryCount: config.robustness,
      ...config,
    };
    this.ownValue = addressValue(config.address);
    this.querierAddress = config.address;
    this.robustness = config.robustness;
    this.queryIntervalMs = config.queryIntervalMs;
  }

  // ---- derived timers (RFC 3376 8.4, 8.5, 8.8, 8.13) ----
  private get groupMembershipIntervalMs(): number {
    return this.robustness * this.queryIntervalMs + this.config.queryResponseIntervalMs;
  }
  private get otherQuerierPresentIntervalMs(): number {
    return this.robustness * this.queryIntervalMs + this.config.queryResponseIntervalMs / 2;
  }
  private get lastMemberQueryTimeMs(): number {
    return this.config.lastMemberQueryIntervalMs * this.config.lastMemberQueryCount;
  }
  private get olderHostPresentIntervalMs(): number {
    return this.robustness * this.queryIntervalMs + this.config.queryResponseIntervalMs;
  }

  /** Begins as querier with the startup queries (RFC 3376 8.6, 8.7). */
  start(now: number): IgmpResult {
    const out = this.result();
    if (this.started) return out;
    this.started = true;
    // A lower-addressed querier heard before start keeps the role.
    if (!this.isQuerier) return out;
    this.querierAddress = this.config.address;
    this.startupQueriesLeft = this.config.startupQueryCount - 1;
    this.sendGeneralQuery(out);
    this.nextGeneralQueryAt = now + (this.startupQueriesLeft > 0 ? this.config.startupQueryIntervalMs : this.queryIntervalMs);
    return out;
  }

  /** Withdraws every listener (the interface stops doing IGMP). */
  stop(): IgmpResult {
    const out = this.result();
    this.started = false;
    this.nextGeneralQueryAt = null;
    this.otherQuerierExpiresAt = null;
    const touched = [...this.groups.keys()];
    this.groups.clear();
    this.collectChanges(touched, out);
    return out;
  }

  receive(packet: IgmpPacket, now: number): IgmpResult {
    const out = this.result();
    const { message, ip } = packet;
    switch (message.type) {
      case 'query':
        this.receiveQuery(message, ip.source, now, out);
        return out;
      case 'v1_report':
      case 'v2_report': {
        if (isLocalGroup(message.group)) return this.ignore(out, 'local_group');
        const g = this.groupFor(message.group, ip.source);
        if (message.type === 'v1_report') g.v1HostExpiresAt = now + this.olderHostPresentIntervalMs;
        else if (this.config.version === 3) g.v2HostExpiresAt = now + this.olderHostPresentIntervalMs;
        // RFC 3376 7.3.2: an older report is IS_EX({}).
        this.applyRecord(g, 'MODE_IS_EXCLUDE', [], now);
        this.settle([message.group], now, out);
        return out;
      }
      case 'v2_leave': {
        if (isLocalGroup(message.group)) return this.ignore(out, 'local_group');
        const g = this.groups.get(message.group);
        if (g === undefined) return out;
        // RFC 3376 7.3.2 / RFC 2236 4: with a v1 host present leaves are ignored.
        if (this.running(g.v1HostExpiresAt, now)) return this.ignore(out, 'leave_with_v1_host');
        this.applyRecord(g, 'CHANGE_TO_INCLUDE_MODE', [], now);
        this.settle([message.group], now, out);
        return out;
      }
      case 'v3_report': {
        if (this.config.version === 2) return this.ignore(out, 'v3_report_in_v2_mode');
        const touched: string[] = [];
        let blocksIgnored = 0;
        for (const record of message.records) {
          if (isLocalGroup(record.group)) continue;
          const existing = this.groups.get(record.group);
          const compat = existing ? this.compatibilityMode(existing, now) : 3;
          let { type, sources } = record;
          if (compat < 3) {
            // RFC 3376 7.3.2: older hosts present: BLOCK ignored, TO_EX's sources ignored.
            if (type === 'BLOCK_OLD_SOURCES') {
              blocksIgnored++;
              continue;
            }
            if (type === 'CHANGE_TO_EXCLUDE_MODE') sources = [];
          }
          const g = existing ?? this.groupFor(record.group, ip.source);
          g.lastReporter = ip.source;
          this.applyRecord(g, type, sources, now);
          touched.push(record.group);
        }
        if (touched.length === 0 && message.records.length > 0)
          return this.ignore(out, blocksIgnored > 0 ? 'block_in_compat_mode' : 'local_group');
        this.settle(touched, now, out);
        return out;
      }
    }
  }

  /** Runs every timer due at `now`. */
  tick(now: number): IgmpResult {
    const out = this.result();
    if (!this.isQuerier && this.otherQuerierExpiresAt !== null && now >= this.otherQuerierExpiresAt) {
      // RFC 3376 6.6.2... the Other Querier Present timer ran out: we take over, with our own values.
      this.isQuerier = true;
      this.querierAddress = this.config.address;
      this.otherQuerierExpiresAt = null;
      this.robustness = this.config.robustness;
      this.queryIntervalMs = this.config.queryIntervalMs;
      this.sendGeneralQuery(out);
      this.nextGeneralQueryAt = now + this.queryIntervalMs;
    } else if (this.isQuerier && this.nextGeneralQueryAt !== null && now >= this.nextGeneralQueryAt) {
      this.sendGeneralQuery(out);
      if (this.startupQueriesLeft > 0) this.startupQueriesLeft--;
      this.nextGeneralQueryAt = now + (this.startupQueriesLeft > 0 ? this.config.startupQueryIntervalMs : this.queryIntervalMs);
    }
    for (const g of this.groups.values()) this.expireTimers(g, now);
    this.settle([...this.groups.keys()], now, out);
    return out;
  }

  /** The earliest time tick() has work, or null when nothing is scheduled. */
  nextDeadline(): number | null {
    let next: number | null = null;
    const consider = (at: number | null) => {
      if (at !== null && (next === null || at < next)) next = at;
    };
    consider(this.isQuerier ? this.nextGeneralQueryAt : this.otherQuerierExpiresAt);
    for (const g of this.groups.values()) {
      if (g.mode === 'exclude') consider(g.groupExpiresAt);
      for (const expiresAt of g.sources.values()) consider(expiresAt);
      consider(g.v1HostExpiresAt);
      consider(g.v2HostExpiresAt);
      if (g.groupQueriesLeft > 0) consider(g.groupQueryAt);
      if (g.sourceQueriesLeft.size > 0) consider(g.sourceQueryAt);
    }
    return next;
  }

  /** The filter routing should apply to a group (mode 'none' when nobody listens). */
  forwarding(group: string): MembershipFilter {
    const g = this.groups.get(group);
    return g ? this.filterOf(g) : { group, mode: 'none', sources: [] };
  }

  /** Whether traffic from `source` to `group` has a listener here. */
  forwardsSource(group: string, source: string): boolean {
    const filter = this.forwarding(group);
    if (filter.mode === 'none') return false;
    return filter.mode === 'include' ? filter.sources.includes(source) : !filter.sources.includes(source);
  }

  /** Every group with a listener, sorted by group. */
  filters(): MembershipFilter[] {
    return [...this.groups.values()].map((g) => this.filterOf(g)).sort((a, b) => compareAddresses(a.group, b.group));
  }

  view(now?: number): IgmpInterfaceView {
    const groups = [...this.groups.values()]
      .sort((a, b) => compareAddresses(a.group, b.group))
      .map((g): IgmpGroupView => {
        const sources = [...g.sources.entries()]
          .sort(([a], [b]) => compareAddresses(a, b))
          .map(([source, expiresAt]) => ({ source, expiresAt, forwarded: g.mode === 'include' || expiresAt !== null }));
        const lastSource = Math.max(0, ...sources.map((s) => s.expiresAt ?? 0));
        return {
          group: g.group,
          filterMode: g.mode,
          sources,
          compatibilityMode: now === undefined ? this.compatibilityModeAnyTime(g) : this.compatibilityMode(g, now),
          lastReporter: g.lastReporter,
          expiresAt: g.mode === 'exclude' ? (g.groupExpiresAt ?? 0) : lastSource,
          v1HostExpiresAt: g.v1HostExpiresAt,
          v2HostExpiresAt: g.v2HostExpiresAt,
        };
      });
    return {
      address: this.config.address,
      version: this.config.version,
      querier: {
        address: this.querierAddress,
        isQuerier: this.isQuerier,
        otherQuerierExpiresAt: this.otherQuerierExpiresAt,
        nextGeneralQueryAt: this.isQuerier ? this.nextGeneralQueryAt : null,
        startupQueriesLeft: this.startupQueriesLeft,
        robustness: this.robustness,
        queryIntervalMs: this.queryIntervalMs,
      },
      groups,
    };
  }

  // ---- queries -----------------------------------------------------------------------------------

  private receiveQuery(query: IgmpQuery, source: string, now: number, out: IgmpResult): void {
    if (source === this.config.address) {
      out.ignored = 'own_query';
      return;
    }
    // Snooping switches query from 0.0.0.0; such a query must not win the election.
    if (source === '0.0.0.0') {
      out.ignored = 'query_from_unspecified';
      return;
    }
    // RFC 3376 6.6.2: a query from a lower address makes us a non-querier.
    if (addressValue(source) >= this.ownValue) return;
    if (this.isQuerier) {
      this.isQuerier = false;
      this.nextGeneralQueryAt = null;
      this.startupQueriesLeft = 0;
      for (const g of this.groups.values()) {
        g.groupQueriesLeft = 0;
        g.sourceQueriesLeft.clear();
      }
    }
    this.querierAddress = source;
    // RFC 3376 4.1.6, 4.1.7: non-queriers adopt the querier's robustness and query interval, so
    // our timers (Other Querier Present, membership) match its query pace.
    if (query.version === 3) {
      if (query.robustness !== 0) this.robustness = query.robustness;
      if (query.queryIntervalSeconds !== 0) this.queryIntervalMs = query.queryIntervalSeconds * 1000;
    }
    this.otherQuerierExpiresAt = now + this.otherQuerierPresentIntervalMs;

    // RFC 3376 6.6.1: the querier's group(-and-source)-specific queries without the S flag lower
    // our timers as they lower its own.
    if (query.suppressRouterProcessing || query.group === '0.0.0.0') return;
    const g = this.groups.get(query.group);
    if (g === undefined) return;
    const lowered = now + this.lastMemberQueryTimeMs;
    if (query.sources.length === 0) {
      if (g.mode === 'exclude' && g.groupExpiresAt !== null) g.groupExpiresAt = Math.min(g.groupExpiresAt, lowered);
    } else {
      for (const s of query.sources) {
        const expiresAt = g.sources.get(s);
        if (expiresAt !== undefined && expiresAt !== null) g.sources.set(s, Math.min(expiresAt, lowered));
      }
    }
  }

  private generalQuery(): IgmpQuery {
    return this.queryMessage('0.0.0.0', this.config.queryResponseIntervalMs, false, []);
  }

  private queryMessage(group: string, maxResponseMs: number, suppress: boolean, sources: string[]): IgmpQuery {
    if (this.config.version === 2)
      return {
        type: 'query',
        version: 2,
        group,
        maxResponseMs,
        suppressRouterProcessing: false,
        robustness: 0,
        queryIntervalSeconds: 0,
        sources: [],
      };
    return {
      type: 'query',
      version: 3,
      group,
      maxResponseMs,
      suppressRouterProcessing: suppress,
      robustness: Math.min(this.robustness, 7),
      queryIntervalSeconds: Math.floor(this.queryIntervalMs / 1000),
      sources,
    };
  }

  private sendGeneralQuery(out: IgmpResult): void {
    this.emit(this.generalQuery(), out);
  }

  private emit(message: IgmpMessage, out: IgmpResult): void {
    const destination = defaultDestination(message);
    out.send.push({ packet: encodeIgmpPacket(message, { source: this.config.address, destination }), destination, message });
  }

  /** RFC 3376 6.6.3.1 "Send Q(G)": the querier lowers the group timer and queries LMQC times. */
  private queueGroupQuery(g: GroupState, now: number): void {
    if (!this.isQuerier) return;
    if (g.groupExpiresAt !== null) g.groupExpiresAt = Math.min(g.groupExpiresAt, now + this.lastMemberQueryTimeMs);
    g.groupQueriesLeft = this.config.lastMemberQueryCount;
    g.groupQueryAt = now;
  }

  /** RFC 3376 6.6.3.2 "Send Q(G,A)": the querier lowers A's timers and queries them LMQC times. */
  private queueSourceQuery(g: GroupState, sources: string[], now: number): void {
    if (!this.isQuerier || sources.length === 0) return;
    const lowered = now + this.lastMemberQueryTimeMs;
    for (const s of sources) {
      const expiresAt = g.sources.get(s);
      if (expiresAt !== undefined && expiresAt !== null) g.sources.set(s, Math.min(expiresAt, lowered));
      g.sourceQueriesLeft.set(s, this.config.lastMemberQueryCount);
    }
    g.sourceQueryAt = now;
  }

  /** Sends the group's due retransmissions; the S flag tells other routers a report already came in. */
  private flushQueries(g: GroupState, now: number, out: IgmpResult): void {
    const threshold = now + this.lastMemberQueryTimeMs;
    const lmqi = this.config.lastMemberQueryIntervalMs;
    if (g.groupQueriesLeft > 0 && now >= g.groupQueryAt) {
      const suppress = g.mode === 'exclude' && g.groupExpiresAt !== null && g.groupExpiresAt > threshold;
      this.emit(this.queryMessage(g.group, lmqi, suppress, []), out);
      g.groupQueriesLeft--;
      g.groupQueryAt = now + lmqi;
    }
    if (g.sourceQueriesLeft.size > 0 && now >= g.sourceQueryAt) {
      const withS: string[] = [];
      const withoutS: string[] = [];
      for (const [s, left] of [...g.sourceQueriesLeft.entries()].sort(([a], [b]) => compareAddresses(a, b))) {
        const expiresAt = g.sources.get(s);
        if (expiresAt !== undefined && expiresAt !== null && expiresAt > threshold) withS.push(s);
        else withoutS.push(s);
        if (left <= 1) g.sourceQueriesLeft.delete(s);
        else g.sourceQueriesLeft.set(s, left - 1);
      }
      for (const [sources, suppress] of [
        [withoutS, false],
        [withS, true],
      ] as const)
        for (let i = 0; i < sources.length; i += MAX_QUERY_SOURCES)
          this.emit(this.queryMessage(g.group, lmqi, suppress, sources.slice(i, i + MAX_QUERY_SOURCES)), out);
      g.sourceQueryAt = now + lmqi;
    }
  }

  // ---- membership (RFC 3376 6.4) -----------------------------------------------------------------

  private groupFor(group: string, reporter: string): GroupState {
    let g = this.groups.get(group);
    if (g === undefined) {
      // A new group starts as INCLUDE({}) (RFC 3376 6.2.1: no state).
      g = {
        group,
        mode: 'include',
        groupExpiresAt: null,
        sources: new Map(),
        v1HostExpiresAt: null,
        v2HostExpiresAt: null,
        lastReporter: reporter,
        groupQueriesLeft: 0,
        groupQueryAt: 0,
        sourceQueriesLeft: new Map(),
        sourceQueryAt: 0,
      };
      this.groups.set(group, g);
    }
    g.lastReporter = reporter;
    return g;
  }

  /** The RFC 3376 6.4.1 and 6.4.2 tables: one record applied to one group's state. */
  private applyRecord(g: GroupState, type: GroupRecord['type'], recordSources: string[], now: number): void {
    const gmi = now + this.groupMembershipIntervalMs;
    const b = new Set(recordSources);
    const has = (s: string) => g.sources.has(s);
    const running = (s: string) => g.sources.get(s) !== undefined && g.sources.get(s) !== null;

    if (g.mode === 'include') {
      // Router state INCLUDE (A).
      const a = [...g.sources.keys()];
      switch (type) {
        case 'MODE_IS_INCLUDE':
        case 'ALLOW_NEW_SOURCES': // INCLUDE (A+B); (B)=GMI
          for (const s of b) g.sources.set(s, gmi);
          return;
        case 'BLOCK_OLD_SOURCES': // INCLUDE (A); Send Q(G,A*B)
          this.queueSourceQuery(
            g,
            a.filter((s) => b.has(s)),
            now,
          );
          return;
        case 'CHANGE_TO_INCLUDE_MODE': // INCLUDE (A+B); (B)=GMI; Send Q(G,A-B)
          for (const s of b) g.sources.set(s, gmi);
          this.queueSourceQuery(
            g,
            a.filter((s) => !b.has(s)),
            now,
          );
          return;
        case 'MODE_IS_EXCLUDE': // EXCLUDE (A*B, B-A); (B-A)=0; Delete (A-B); Group Timer=GMI
        case 'CHANGE_TO_EXCLUDE_MODE': {
          // TO_EX adds: Send Q(G,A*B)
          for (const s of a) if (!b.has(s)) g.sources.delete(s);
          for (const s of b) if (!has(s)) g.sources.set(s, null);
          g.mode = 'exclude';
          g.groupExpiresAt = gmi;
          if (type === 'CHANGE_TO_EXCLUDE_MODE')
            this.queueSourceQuery(
              g,
              a.filter((s) => b.has(s)),
              now,
            );
          return;
        }
      }
    }

    // Router state EXCLUDE (X, Y): X = sources with running timers, Y = stopped ones.
    const x = [...g.sources.keys()].filter(running);
    switch (type) {
      case 'MODE_IS_INCLUDE':
      case 'ALLOW_NEW_SOURCES': // EXCLUDE (X+A, Y-A); (A)=GMI
        for (const s of b) g.sources.set(s, gmi);
        return;
      case 'BLOCK_OLD_SOURCES': {
        // EXCLUDE (X+(A-Y), Y); (A-X-Y)=Group Timer; Send Q(G,A-Y)
        for (const s of b) if (!has(s)) g.sources.set(s, g.groupExpiresAt);
        this.queueSourceQuery(g, [...b].filter(running), now);
        return;
      }
      case 'CHANGE_TO_INCLUDE_MODE': // EXCLUDE (X+A, Y-A); (A)=GMI; Send Q(G,X-A); Send Q(G)
        for (const s of b) g.sources.set(s, gmi);
        this.queueSourceQuery(
          g,
          x.filter((s) => !b.has(s)),
          now,
        );
        this.queueGroupQuery(g, now);
        return;
      case 'MODE_IS_EXCLUDE': // EXCLUDE (A-Y, Y*A); (A-X-Y)=GMI; Delete (X-A); Delete (Y-A); Group Timer=GMI
      case 'CHANGE_TO_EXCLUDE_MODE': {
        // TO_EX: (A-X-Y)=Group Timer; Send Q(G,A-Y); then Group Timer=GMI
        for (const s of [...g.sources.keys()]) if (!b.has(s)) g.sources.delete(s);
        for (const s of b) if (!has(s)) g.sources.set(s, type === 'MODE_IS_EXCLUDE' ? gmi : g.groupExpiresAt);
        if (type === 'CHANGE_TO_EXCLUDE_MODE') this.queueSourceQuery(g, [...b].filter(running), now);
        g.groupExpiresAt = gmi;
        return;
      }
    }
  }

  /** RFC 3376 6.5 and 6.2.2: source and group timers running out; 7.3.2: older hosts gone. */
  private expireTimers(g: GroupState, now: number): void {
    if (g.v1HostExpiresAt !== null && now >= g.v1HostExpiresAt) g.v1HostExpiresAt = null;
    if (g.v2HostExpiresAt !== null && now >= g.v2HostExpiresAt) g.v2HostExpiresAt = null;
    if (g.mode === 'exclude' && g.groupExpiresAt !== null && now >= g.groupExpiresAt) {
      // Group timer out in EXCLUDE: INCLUDE with the sources still wanted (X); Y is dropped.
      g.mode = 'include';
      g.groupExpiresAt = null;
      for (const [s, expiresAt] of [...g.sources]) if (expiresAt === null) g.sources.delete(s);
    }
    for (const [s, expiresAt] of [...g.sources]) {
      if (expiresAt === null || now < expiresAt) continue;
      // INCLUDE: stop forwarding and delete; EXCLUDE: the source joins the blocked list.
      if (g.mode === 'include') g.sources.delete(s);
      else g.sources.set(s, null);
    }
  }

  /** Drops empty groups, sends due queries and reports the filters that changed. */
  private settle(touched: string[], now: number, out: IgmpResult): void {
    for (const group of touched) {
      const g = this.groups.get(group);
      if (g === undefined) continue;
      if (g.mode === 'include' && g.sources.size === 0) {
        this.groups.delete(group);
        continue;
      }
      if (this.isQuerier) this.flushQueries(g, now, out);
    }
    this.collectChanges(touched, out);
  }

  private collectChanges(touched: string[], out: IgmpResult): void {
    for (const group of new Set(touched)) {
      const filter = this.forwarding(group);
      const key = filter.mode === 'none' ? undefined : `${filter.mode}:${filter.sources.join(',')}`;
      if (this.reported.get(group) === key) continue;
      if (key === undefined) this.reported.delete(group);
      else this.reported.set(group, key);
      out.changes.push(filter);
    }
  }

  private filterOf(g: GroupState): MembershipFilter {
    const sources = [...g.sources.entries()]
      .filter(([, expiresAt]) => (g.mode === 'include' ? expiresAt !== null : expiresAt === null))
      .map(([s]) => s)
      .sort(compareAddresses);
    return { group: g.group, mode: g.mode, sources };
  }

  private compatibilityMode(g: GroupState, now: number): 1 | 2 | 3 {
    if (this.running(g.v1HostExpiresAt, now)) return 1;
    if (this.config.version === 2) return 2;
    return this.running(g.v2HostExpiresAt, now) ? 2 : 3;
  }

  /** Without a time: a timer that is still set counts (tick clears expired ones). */
  private compatibilityModeAnyTime(g: GroupState): 1 | 2 | 3 {
    if (g.v1HostExpiresAt !== null) return 1;
    if (this.config.version === 2 || g.v2HostExpiresAt !== null) return 2;
    return 3;
  }

  private running(expiresAt: number | null, now: number): boolean {
    return expiresAt !== null && now < expiresAt;
  }

  private result(): IgmpResult {
    return { send: [], changes: [] };
  }

  private ignore(out: IgmpResult, reason: IgmpIgnoreReason): IgmpResult {
    out.ignored = reason;
    return out;
  }
}
