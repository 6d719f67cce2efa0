// SPDX-License-Identifier: MIT
// The control protocol's contract (docs/control-protocol.md): every method with its params and
// result, the types of those results, the error every refusal carries, and the socket both ends
// use by default. The client (client.ts), the server (server.ts), mcrd's handlers
// (src/daemon/handlers.ts), mcrctl, the tests and the bench all take their types from here.
import type { Config, LogLevel, OutputSpec, RuleSpec } from '../config/types';
import { McrError } from '../lib/errors';
import type { SpanHistogram } from '../lib/histogram';
import type { MessageCounters } from '../routing/message-counters';
import type { RouteOrigin } from '../routing/table';

export type { SpanHistogram } from '../lib/histogram';

export const PROTOCOL_VERSION = 1;

/**
 * The socket mcrd and mcrctl use when none is given: $MCR_CONTROL_SOCKET when set and not
 * empty, else /run/mcr/mcrd.sock (the systemd RuntimeDirectory convention).
 */
export const DEFAULT_CONTROL_SOCKET = '/run/mcr/mcrd.sock';

export function defaultControlSocket(): string {
  const fromEnv = process.env.MCR_CONTROL_SOCKET;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_CONTROL_SOCKET;
}

/** A request refused with a protocol error code (EINVAL, ENOENT, EEXIST, EDATAPLANE, ...). */
export class ProtocolError extends McrError {}

// ---- results ---------------------------------------------------------------------------------

export type DataPlaneState = 'starting' | 'running' | 'restarting' | 'stopped';

/** An interface's state for a rule; `pending` while the data plane is starting. */
export type InterfaceStatus = 'up' | 'waiting-for-interface' | 'pending';

/** A rule as mcrd reports it: its spec (output ttl resolved), its id and its status. */
export interface RuleView {
  /** 12 hex digits derived from the input, so a rule keeps its id across reloads and restarts. */
  id: string;
  name?: string;
  input: RuleSpec['input'];
  outputs: OutputSpec[];
  status: {
    input: InterfaceStatus;
    outputs: InterfaceStatus[];
    /** The core refused the rule: it is not forwarding (and is retried every second). */
    error?: string;
  };
}

export interface Counters {
  rxFrames: number;
  rxBytes: number;
  matched: number;
  noMatch: number;
  filtered: number;
  filteredByReason: Record<string, number>;
  txPackets: number;
  txBytes: number;
  txErrors: number;
  txErrorsByErrno: Record<string, number>;
  ringDrops: number;
  bufExhaust: number;
  /** Copies not sent by a `ttl: "decrement"` output because they arrived with TTL 1 (or 0). */
  ttlExpired: number;
  /** Receive batches the workers processed (rxFrames / batches = frames per batch). */
  batches: number;
  /** Times a worker slept in poll() and woke (0 with busyPoll). */
  wakeups: number;
  /** Wake-ups a worker followed with a holdoff sleep (`wakeupHoldoffUs`, dense traffic only). */
  holdoffs: number;
  /** Span records the workers wrote for export, and those lost because nobody took them in time. */
  spansWritten: number;
  spansDropped: number;
  /**
   * Packets copied to mcrd for a routing protocol (PIM's data-driven events, docs/pim.md), and
   * punts not made: over the punt rate, or the punt ring full because mcrd had not emptied it.
   */
  punted: number;
  puntRateLimited: number;
  puntRingFull: number;
  /** Sampled spans (log2 µs histograms, src/lib/histogram.ts), keyed by span name in camelCase. */
  spans: Record<string, SpanHistogram>;
}

export interface OutputStats {
  group: string;
  port: number;
  interface: string;
  txPackets: number;
  txBytes: number;
  txErrors: number;
}

export interface RuleStats {
  id: string;
  name?: string;
  matchedPackets: number;
  matchedBytes: number;
  outputs: OutputStats[];
}

/** One routing protocol's messages by type, and malformed messages by reason. */
export interface ProtocolCounters {
  received: Record<string, number>;
  sent: Record<string, number>;
  errors: Record<string, number>;
}

export interface Stats {
  uptimeSeconds: number;
  totals: Counters;
  workers: ({ worker: number } & Counters)[];
  rules: RuleStats[];
  /** The routing protocols that run (their config section is present), since they started. */
  protocols?: { igmp?: ProtocolCounters; pim?: ProtocolCounters; msdp?: ProtocolCounters };
}

export interface PingResult {
  pong: true;
  dataplane: DataPlaneState;
  uptimeSeconds: number;
}

export interface VersionResult {
  version: string;
  protocol: number;
}

export interface WorkersResult {
  dataplane: { pid: number | null; state: DataPlaneState; restarts: number; startedAt: string | null };
  workers: {
    worker: number;
    /** The CPU it runs on: null when not pinned or when the kernel refused. */
    cpu: number | null;
    /** The worker thread's id (for `perf -t`). */
    tid: number | null;
    realtime: boolean;
    rxFrames: number;
    txPackets: number;
    ringDrops: number;
  }[];
}

export interface ReloadResult {
  rules: number;
  added: number;
  changed: number;
  removed: number;
  /** Data-plane settings the reload changed (`workers`, `wakeupHoldoffUs`, ...): the data plane restarted for them. */
  dataPlaneRestartedFor: string[];
}

/** `trace`: change or show the workers' tracing; with rule and count, chase one rule's batches. */
export interface TraceParams {
  /** time one receive batch in this many (0 = off) until the next reload or data-plane restart */
  sample?: number;
  /** rule name or id to chase: the next `count` batches that touch it are recorded */
  rule?: string;
  count?: number;
  /** how long to wait for the chased batches (default 10 s) */
  timeoutSeconds?: number;
}

/** One recorded batch, as `mcrctl trace --rule` shows it (times in µs from the batch's pickup). */
export interface TracedBatch {
  /** ISO time of the pickup */
  at: string;
  worker: number;
  input: string;
  packets: number;
  bytes: number;
  /** oldest frame written by the kernel -> pickup */
  ringWaitUs: number;
  /** pickup -> every frame parsed and matched */
  classifyUs: number;
  /** pickup -> ring slots released */
  batchUs: number;
  rules: string[];
  sends: { interface: string; packets: number; errors: number; errno: number; us: number }[];
  sendsOverflow: number;
}

export interface TraceResult {
  sampleEvery: number;
  /** the config file's spanSampleEvery; sampleEvery differs only while an override is in force */
  configuredSampleEvery: number;
  override: boolean;
  /** span records are written for an exporter (OTLP traces configured) */
  exporting: boolean;
  chase: { rule: string; remaining: number } | null;
  spansWritten: number;
  spansDropped: number;
  /** with rule and count: the batches recorded (fewer than count when the wait ran out) */
  batches?: TracedBatch[];
}

/** `events`: the subscriber's queue size (default 1000, at most 10000). */
export interface EventsParams {
  queue?: number;
}

/** The `events` reply; every line after it on the connection is one event (src/daemon/events.ts). */
export interface EventsResult {
  subscribed: true;
  queue: number;
}

// ---- methods ---------------------------------------------------------------------------------

/** The params of a method that takes none: it may be omitted (anything sent is ignored). */
export type NoParams = undefined;

/** Which rule: by id or by name, exactly one of them. */
export type RuleSelector = { id: string } | { name: string };

/** `igmp.groups` (mcrctl igmp groups): per IGMP interface, the querier and the groups with listeners. */
export interface IgmpGroupsResult {
  /** false: no igmp section in the config */
  enabled: boolean;
  /**
   * Messages since IGMP started, all interfaces: received and sent by kind (query_v2, report_v3,
   * leave_v2, ...), malformed ones dropped by reason, well-formed ones that changed nothing by reason.
   */
  counters: MessageCounters;
  interfaces: {
    interface: string;
    /** why IGMP does not run there yet (interface missing, no IPv4 address); null when it runs */
    waiting: string | null;
    /** null while waiting */
    querier: { address: string; self: boolean; otherQuerierExpiresIn: number | null } | null;
    groups: {
      group: string;
      mode: 'include' | 'exclude';
      /** INCLUDE: the sources listened to; EXCLUDE: sources with timers (forwarded) and blocked ones (not) */
      sources: { source: string; expiresIn: number | null; forwarded: boolean }[];
      /** 1 or 2 while an older-version host is present, else 3 */
      compatibilityVersion: 1 | 2 | 3;
      lastReporter: string;
      /** seconds until the group goes without another report */
      expiresIn: number | null;
    }[];
  }[];
}

/** PIM messages counted since PIM started: by type (hello, join_prune, ...), malformed ones by reason, ignored ones by reason. */
export type PimCountersView = MessageCounters;

/** `pim.neighbors` (mcrctl pim neighbors): every PIM neighbour of every interface. */
export interface PimNeighborsResult {
  /** false: no pim section in the config */
  enabled: boolean;
  neighbors: {
    interface: string;
    /** its primary address (its Hellos' source) */
    address: string;
    /** seconds since its first Hello */
    uptime: number;
    /** seconds until it expires without another Hello; null: holdtime 0xffff (never) */
    expiresIn: number | null;
    /** the holdtime of its last Hello, seconds */
    holdtime: number;
    /** null: its Hellos have no DR Priority option */
    drPriority: number | null;
    /** null: its Hellos have no Generation ID option */
    generationId: number | null;
    /** whether it is the interface's DR */
    dr: boolean;
    /** from its Address List option */
    secondaryAddresses: string[];
  }[];
}

/** `pim.interfaces` (mcrctl pim interfaces): per PIM interface, our Hello settings, the DR and the counters. */
export interface PimInterfacesResult {
  /** false: no pim section in the config */
  enabled: boolean;
  /** every interface's counters added up */
  counters: PimCountersView;
  interfaces: {
    interface: string;
    /** why PIM does not run there yet (interface missing, no IPv4 address); null when it runs */
    waiting: string | null;
    /** our address on it (the Hellos' source); null while waiting */
    address: string | null;
    /** the elected DR; null while waiting */
    dr: { address: string; self: boolean } | null;
    /** configured */
    drPriority: number;
    /** seconds */
    helloInterval: number;
    /** the holdtime our Hellos carry, seconds */
    holdtime: number;
    /** ours on this interface; null while waiting */
    generationId: number | null;
    /** seconds until our next periodic Hello; null while waiting */
    nextHelloIn: number | null;
    neighbors: number;
    counters: PimCountersView;
  }[];
}

/** `pim.rp` (mcrctl pim rp): the static RP map, and how the unicast routing table reaches each RP. */
export interface PimRpResult {
  /** false: no pim section in the config */
  enabled: boolean;
  rps: {
    /** the group range, a prefix such as 239.0.0.0/8 */
    groups: string;
    /** the RP's address */
    rp: string;
    /** the RP's address is one of this router's */
    self: boolean;
    /** RPF towards the RP: the interface and next hop (the RP itself when directly connected); null: no route */
    rpf: { interface: string; neighbor: string; local: boolean } | null;
  }[];
}

/** `pim.joins` (mcrctl pim joins): the Join state towards upstream neighbours, the Joins and Prunes received, and the (S,G) state data made. */
export interface PimJoinsResult {
  /** false: no pim section in the config */
  enabled: boolean;
  /** Joins this router sends (or would send): (*,G) towards RP(G), (S,G) towards S */
  upstream: {
    /** "(*,G)" or "(S,G)" */
    route: string;
    /** null: (*,G) */
    source: string | null;
    group: string;
    /** (*,G) only: RP(G); null for (S,G) */
    rp: string | null;
    state: 'joined' | 'not_joined';
    /** RPF': the upstream neighbour and its interface; null: no route towards the RP or source */
    rpf: { interface: string; neighbor: string } | null;
    /** seconds until the next periodic Join; null: not running */
    joinTimerIn: number | null;
    /** (*,G) only: sources pruned off the shared tree (Prune(S,G,rpt) with each Join(*,G)) */
    rptPrunes: string[];
  }[];
  /** Joins and Prunes received, per interface */
  downstream: {
    route: string;
    /** '*,G' and 'S,G': Join state; 'S,G,rpt': a Prune of S off the shared tree */
    kind: '*,G' | 'S,G' | 'S,G,rpt';
    source: string | null;
    group: string;
    interface: string;
    /** join, prune_pending ('*,G', 'S,G'); prune, prune_pending, prune_tmp, prune_pending_tmp ('S,G,rpt') */
    state: string;
    /** seconds until the state runs out without another Join/Prune; null: not running or holdtime forever */
    expiresIn: number | null;
    /** seconds until a pending Prune takes effect; null: none pending */
    prunePendingIn: number | null;
  }[];
  /** (S,G) state made by data, not by a Join */
  sources: {
    route: string;
    source: string;
    group: string;
    /** first_hop: a directly connected source; spt: switched to the source tree at a last hop; registered: a Register at the RP; msdp: an SA at the RP */
    kind: 'first_hop' | 'spt' | 'registered' | 'msdp';
    /** seconds until the Keepalive Timer ends the state without more packets */
    keepaliveIn: number;
    /** the first hop's Register state; null: not registering */
    register: 'join' | 'prune' | 'join_pending' | null;
    /** seconds until the Register-Stop Timer fires; null: not running */
    registerTimerIn: number | null;
  }[];
  /** Assert state per interface (RFC 7761 4.6): where mcr and another router forward the same route onto one LAN */
  asserts: {
    /** "(S,G)", or "(*,G)" for an assert on the shared tree */
    route: string;
    source: string | null;
    group: string;
    interface: string;
    /** winner: mcr keeps forwarding there; loser: mcr stopped forwarding there */
    state: 'winner' | 'loser';
    /** the winner's address (mcr's own when it won) */
    winner: string;
    /** loser: seconds until the state ends without the winner's refresh; winner: until mcr asserts again */
    timerIn: number;
  }[];
}

/** MSDP messages counted since MSDP started: by type (source_active, keepalive, ...) and problems by reason. */
export interface MsdpCountersView {
  received: Record<string, number>;
  sent: Record<string, number>;
  /** malformed streams, by parse reason; each reset its session */
  errors: Record<string, number>;
  /** SAs not accepted, by reason (rpf_failed, own_rp) */
  rejected: Record<string, number>;
  /** incoming connections closed at once (not a configured peer, or not ours to accept) */
  refusedConnections: number;
}

/** `msdp.peers` (mcrctl msdp peers): every configured MSDP peer. */
export interface MsdpPeersResult {
  /** false: no msdp section in the config */
  enabled: boolean;
  /** our address, the sessions' source; null without MSDP */
  localAddress: string | null;
  counters: MsdpCountersView;
  peers: {
    address: string;
    /** disabled, inactive, listen, connecting, established */
    state: string;
    /** connect: we open the TCP connection (our address is lower); listen: the peer does */
    role: 'connect' | 'listen';
    /** seconds established; null when not established */
    uptime: number | null;
    meshGroup: string | null;
    /** messages received from / sent to it since MSDP started */
    messagesIn: number;
    messagesOut: number;
    /** SA cache entries learned from it now */
    saLearned: number;
    /** sessions reset since MSDP started */
    resets: number;
    /** why its last session ended (hold_expired, peer_closed, disabled, malformed_...); null: none ended */
    lastResetReason: string | null;
    /** seconds until its Hold timer expires without a message; null when not established */
    holdExpiresIn: number | null;
  }[];
}

/** `msdp.sa` (mcrctl msdp sa): the SA cache, (S,G,RP) entries learned from peers. */
export interface MsdpSaResult {
  /** false: no msdp section in the config */
  enabled: boolean;
  entries: {
    source: string;
    group: string;
    /** the RP that originated it */
    rp: string;
    /** the peer it was learned from */
    peer: string;
    /** seconds until it expires without another SA */
    expiresIn: number;
  }[];
  /** (S,G)s this router originates as RP */
  originated: { source: string; group: string }[];
}

/** `mroute` (mcrctl mroute): every entry of the table the data plane uses, static and learned. */
export interface MrouteResult {
  routes: {
    /** "(S,G)" or "(*,G)" */
    route: string;
    source?: string;
    group: string;
    /** 0: any UDP port */
    port: number;
    protocol: 'udp' | 'esp';
    /** the input interface */
    interface: string;
    outputs: {
      interface: string;
      /** republished outputs: the group and port they send to (routed ones keep the packet's) */
      group?: string;
      port?: number;
      forwarding: 'routed' | 'republished';
      origin: RouteOrigin;
    }[];
    origins: RouteOrigin[];
    packets: number;
    bytes: number;
  }[];
}

/** Every method of the protocol: the params it takes and the result it answers with. */
export interface Methods {
  ping: { params: NoParams; result: PingResult };
  version: { params: NoParams; result: VersionResult };
  list: { params: NoParams; result: { rules: RuleView[] } };
  add: { params: RuleSpec; result: { rule: RuleView } };
  remove: { params: RuleSelector; result: { removed: RuleView } };
  stats: { params: NoParams; result: Stats };
  workers: { params: NoParams; result: WorkersResult };
  trace: { params: TraceParams | undefined; result: TraceResult };
  'logLevel.get': { params: NoParams; result: { level: LogLevel } };
  'logLevel.set': { params: { level: LogLevel }; result: { level: LogLevel } };
  'config.show': { params: NoParams; result: { path: string | null; config: Config } };
  'config.reload': { params: NoParams; result: ReloadResult };
  events: { params: EventsParams | undefined; result: EventsResult };
  'igmp.groups': { params: NoParams; result: IgmpGroupsResult };
  'pim.neighbors': { params: NoParams; result: PimNeighborsResult };
  'pim.interfaces': { params: NoParams; result: PimInterfacesResult };
  'pim.rp': { params: NoParams; result: PimRpResult };
  'pim.joins': { params: NoParams; result: PimJoinsResult };
  'msdp.peers': { params: NoParams; result: MsdpPeersResult };
  'msdp.sa': { params: NoParams; result: MsdpSaResult };
  mroute: { params: NoParams; result: MrouteResult };
}

export type Method = keyof Methods;

/** The method names at run time, in the order of docs/control-protocol.md. */
export const METHODS = [
  'ping',
  'version',
  'list',
  'add',
  'remove',
  'stats',
  'workers',
  'trace',
  'logLevel.get',
  'logLevel.set',
  'config.show',
  'config.reload',
  'events',
  'igmp.groups',
  'pim.neighbors',
  'pim.interfaces',
  'pim.rp',
  'pim.joins',
  'msdp.peers',
  'msdp.sa',
  'mroute',
] as const satisfies readonly Method[];

// A method added to Methods but not to METHODS fails to compile here.
type Missing = Exclude<Method, (typeof METHODS)[number]>;
const everyMethodListed: [Missing] extends [never] ? true : Missing = true;
void everyMethodListed;

export function isMethod(name: string): name is Method {
  return (METHODS as readonly string[]).includes(name);
}

// ---- the shapes both ends are built from -----------------------------------------------------

/** Any method map (Methods, or a test's own), as the generic client and server take it. */
export type MethodMap<Map> = { [M in keyof Map]: { params: unknown; result: unknown } };

/**
 * Items a streaming method sends after its reply (`events`): the server takes them only as fast
 * as the client reads, so what waits is bounded by the source, not by the socket.
 */
export interface StreamSource {
  /** The next item to send, or undefined when none is ready. */
  take(): object | undefined;
  /** Called when items become ready after take() returned undefined. */
  onReadable(listener: () => void): void;
  /** The connection ended. */
  close(): void;
}

/** The connection a request arrived on, as a handler may use it. */
export interface Connection {
  /**
   * After this request's reply the connection carries the source's items, one JSON line each,
   * until the client closes it: exempt from the idle timeout, later requests ignored.
   */
  stream(source: StreamSource): void;
}

/** What the server calls for one method, with params already checked. */
export type Handler<P, R> = (params: P, connection: Connection) => R | Promise<R>;

export type Handlers<Map extends MethodMap<Map> = Methods> = {
  [M in keyof Map]: Handler<Map[M]['params'], Map[M]['result']>;
};

/**
 * Turns the params as they arrived (an object, or undefined when left out) into the method's
 * params, or throws a ProtocolError (EINVAL) naming what was wrong. Nothing reaches a handler
 * unchecked.
 */
export type ParamCheck<P> = (raw: Record<string, unknown> | undefined) => P;

export type ParamChecks<Map extends MethodMap<Map> = Methods> = {
  [M in keyof Map]: ParamCheck<Map[M]['params']>;
};

/** The check of every method that takes no params. */
export const noParams: ParamCheck<NoParams> = () => undefined;
