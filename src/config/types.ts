// SPDX-License-Identifier: MIT
// The shape of the mcr configuration (the file and the running config) and its defaults.
// A RuleSpec is also the `add` request of the control protocol (docs/control-protocol.md).

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';
export type LogFormat = 'text' | 'json';

export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug', 'trace'];
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

/**
 * The IP TTL an output gives relayed packets: a fixed value, or "decrement" (the received TTL
 * minus one, as a router does; a packet that arrives with TTL 1 is dropped and counted as
 * ttl_expired). Decrement is what stops two relays wired into a loop from forwarding a stream
 * forever. It is not the default: Linux senders use TTL 1 for multicast unless told otherwise.
 */
export type Ttl = number | 'decrement';

export interface OutputSpec {
  group: string;
  port: number;
  interface: string;
  /** IP TTL of the relayed packets; filled from Config.ttl when the file leaves it out. */
  ttl?: Ttl;
  /** Source address for the relayed packets; the kernel picks the interface's address when absent. */
  source?: string;
  /**
   * Forward only while this output's group has a listener on its interface (IGMP; multicast
   * outputs on an IGMP interface only).
   */
  onlyWithListeners?: boolean;
}

/** What a rule's input is: UDP (the default) or ESP (IP protocol 50, forwarded as a router). */
export type InputProtocol = 'udp' | 'esp';
export const INPUT_PROTOCOLS: readonly InputProtocol[] = ['udp', 'esp'];

export interface RuleInput {
  interface: string;
  group: string;
  /** UDP destination port; 0 = any port (an output with port 0 then keeps each packet's port). ESP: 0. */
  port: number;
  /** Only packets from this unicast source (an (S,G) rule, preferred over the group's (*,G) rules). */
  source?: string;
  /** 'esp': IP protocol 50 to the group; every output's group is the input group and is routed. */
  protocol?: InputProtocol;
}

export interface RuleSpec {
  name?: string;
  input: RuleInput;
  outputs: OutputSpec[];
}

/**
 * The input match that identifies a rule (its id hashes this, and no two rules may share it):
 * interface, group and port as before sources and protocols existed, so those rules keep their ids.
 */
export function ruleMatchKey(input: RuleInput): string {
  const { interface: iface, group, port, source, protocol } = input;
  const base = `${iface}|${group}|${port}`;
  if (source === undefined && (protocol === undefined || protocol === 'udp')) return base;
  return `${base}|${source ?? '*'}|${protocol ?? 'udp'}`;
}

/** A rule's input as people read it: `eth0 10.1.1.1->239.1.1.1:5001`, `:any`, `esp`. */
export function describeRuleInput(input: RuleInput): string {
  const from = input.source === undefined ? '' : `${input.source}->`;
  const what = input.protocol === 'esp' ? ' esp' : `:${input.port === 0 ? 'any' : input.port}`;
  return `${input.interface} ${from}${input.group}${what}`;
}

export interface Config {
  workers: number;
  /** CPU to pin each worker to, one entry per worker. */
  cpus?: number[];
  /**
   * SCHED_FIFO priority of the worker threads (1-99), 0 for the normal scheduler. A real-time
   * worker runs as soon as a frame arrives instead of waiting for the CPU's other tasks.
   */
  realtimePriority: number;
  /**
   * Time one receive batch in this many (0 = never): the sampled spans `ring_wait` and `batch`
   * in `mcrctl stats`. Costs two clock reads per sampled batch, nothing per packet.
   */
  spanSampleEvery: number;
  /**
   * Workers spin on empty rings instead of sleeping in poll(): no wake-up latency, but each
   * worker uses a whole CPU all the time. For CPUs given to mcr alone (`cpus`, isolcpus).
   */
  busyPoll: boolean;
  /**
   * How multicast outputs leave (docs/configuration.md): `packet` (default) sends them through the
   * output interface's AF_PACKET socket with prebuilt headers, skipping the kernel's UDP/IP output
   * path; `socket` sends every output through a UDP socket. Unicast outputs, datagrams over the
   * output's MTU and interfaces that are not Ethernet or have no IPv4 address always use the socket.
   */
  egress: EgressMode;
  /**
   * After poll() wakes a worker for a frame from a short sleep (at most twice this long: dense
   * traffic), it sleeps this many microseconds before draining its rings, so one wake-up takes the
   * frames of that interval: fewer wake-ups and system calls per packet, up to this much more
   * latency. A wake-up from a longer sleep (sparse traffic) drains at once. 0: never hold off.
   * Default 50. Ignored with busyPoll, which never sleeps.
   */
  wakeupHoldoffUs: number;
  /**
   * Forward what it can in the kernel's receive path with XDP (docs/xdp.md): rules whose outputs
   * are all multicast on packet egress, each on its own interface. Everything else, and everything
   * when XDP cannot load or attach, stays on the AF_PACKET path.
   */
  xdp: boolean;
  /** Default TTL for outputs that do not set one. */
  ttl: Ttl;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Size of the AF_PACKET receive ring, per worker per input interface. */
  ringMiB: number;
  /** Export of counters and spans (docs/observability.md); nothing is loaded without it. */
  telemetry: TelemetryConfig;
  /** IGMP querier and membership (docs/igmp.md); absent: no IGMP, every route is a static rule. */
  igmp?: IgmpConfig;
  /** PIM-SM (RFC 7761) on the interfaces named; absent: no PIM. */
  pim?: PimConfig;
  /** MSDP (RFC 3618) peerings over TCP 639 (docs/pim.md); absent: no MSDP. */
  msdp?: MsdpConfig;
  rules: RuleSpec[];
}

/**
 * The config file's `igmp` section (docs/igmp.md). Times are seconds, fractions allowed, with the
 * minimums in IGMP_LIMITS (short enough for tests, long enough that a query's response window fits).
 */
export interface IgmpConfig {
  /** Interfaces mcr is IGMP querier on and learns listeners from. */
  interfaces: string[];
  /** igmpproxy mode: every group with a listener on `interfaces` is routed from this interface. */
  upstream?: string;
  version: 2 | 3;
  queryInterval: number;
  queryResponseInterval: number;
  lastMemberQueryInterval: number;
  robustness: number;
}

export const IGMP_DEFAULTS = {
  version: 3,
  queryInterval: 125,
  queryResponseInterval: 10,
  lastMemberQueryInterval: 1,
  robustness: 2,
} as const satisfies Omit<IgmpConfig, 'interfaces' | 'upstream'>;

/**
 * Bounds of the IGMP timers. The maxima are what the messages can carry (IGMPv3 QQIC and Max Resp
 * Code, RFC 3376 4.1.1 and 4.1.7; IGMPv2's Max Resp Time is 25.5 s at most); the minima keep a
 * query's response window inside its interval.
 */
export const IGMP_LIMITS = {
  minQueryInterval: 1,
  maxQueryInterval: 31744,
  minQueryResponseInterval: 0.1,
  maxQueryResponseInterval: 3174.4,
  maxQueryResponseIntervalV2: 25.5,
  minLastMemberQueryInterval: 0.1,
  maxLastMemberQueryInterval: 3174.4,
  minRobustness: 1,
  maxRobustness: 7,
  maxInterfaces: 64,
} as const;

/**
 * The config file's `pim` section: PIM-SM with FRR and other routers. Times are whole seconds:
 * helloInterval at least 1 (a neighbour then expires after 3 s) and joinPruneInterval at least 1;
 * both at most 18724, so that the 3.5x holdtimes the messages carry fit their 16 bits below
 * 0xffff ("forever"). drPriority is 0 to 4294967295, the highest wins the DR election.
 */
export interface PimConfig {
  /**
   * Interfaces PIM runs on. The file may name one as a string or as an object with its own
   * drPriority / helloInterval; validated, each carries its values in effect.
   */
  interfaces: PimInterfaceConfig[];
  /** Static RPs: the RP for each group range (longest prefix wins). Absent: none configured. */
  rp?: PimRpConfig[];
  /** Seconds between periodic Join/Prune messages (t_periodic, RFC 7761 4.11). */
  joinPruneInterval: number;
  /** Seconds between Hellos (Hello_Period) on interfaces that do not set their own. */
  helloInterval: number;
  /** DR priority on interfaces that do not set their own. */
  drPriority: number;
}

export interface PimInterfaceConfig {
  name: string;
  drPriority: number;
  helloInterval: number;
}

export interface PimRpConfig {
  /** The RP's unicast address. */
  address: string;
  /** The group range it serves, a prefix inside 224.0.0.0/4 such as "239.0.0.0/8". */
  groups: string;
}

export const PIM_DEFAULTS = {
  joinPruneInterval: 60,
  helloInterval: 30,
  drPriority: 1,
} as const satisfies Omit<PimConfig, 'interfaces' | 'rp'>;

export const PIM_LIMITS = {
  minHelloInterval: 1,
  /** floor(3.5 x 18724) = 65534, the largest holdtime short of "forever". */
  maxHelloInterval: 18724,
  minJoinPruneInterval: 1,
  maxJoinPruneInterval: 18724,
  maxDrPriority: 0xffffffff,
  maxInterfaces: 64,
  maxRps: 64,
} as const;

/**
 * The config file's `msdp` section: MSDP peerings from localAddress. Times are whole seconds:
 * keepaliveInterval at least 1, holdTime at least 3 and longer than keepaliveInterval (RFC 3618
 * 5.4-5.5), connectRetry at least 1; all at most 65535.
 */
export interface MsdpConfig {
  /** Our unicast address: the TCP connections' source, and the RP field of SAs we originate. */
  localAddress: string;
  peers: MsdpPeerConfig[];
  /** Seconds between KeepAlives on an idle session (KeepAlive-Period). */
  keepaliveInterval: number;
  /** Seconds without a message from a peer before its session is reset (HoldTime-Period). */
  holdTime: number;
  /** Seconds between connection attempts to a peer we connect to (ConnectRetry-Period). */
  connectRetry: number;
}

export interface MsdpPeerConfig {
  address: string;
  /** Peers in one mesh group do not get each other's SAs from us (RFC 3618 10.2). */
  meshGroup?: string;
}

export const MSDP_DEFAULTS = {
  keepaliveInterval: 60,
  holdTime: 75,
  connectRetry: 30,
} as const satisfies Omit<MsdpConfig, 'localAddress' | 'peers'>;

export const MSDP_LIMITS = {
  minKeepaliveInterval: 1,
  minHoldTime: 3,
  minConnectRetry: 1,
  maxSeconds: 65535,
  maxPeers: 64,
} as const;

export type EgressMode = 'packet' | 'socket';
export const EGRESS_MODES: readonly EgressMode[] = ['packet', 'socket'];

export type OtlpProtocol = 'http/protobuf' | 'http/json';
export const OTLP_PROTOCOLS: readonly OtlpProtocol[] = ['http/protobuf', 'http/json'];

/**
 * The config file's `telemetry` section. Unset OTLP fields fall back to the standard OTEL_*
 * environment variables (src/telemetry/settings.ts); `mcrd --otlp-endpoint` and
 * `--metrics-listen` override the file.
 */
export interface TelemetryConfig {
  /** OTLP/HTTP base URL (…/v1/traces and …/v1/metrics are appended), like OTEL_EXPORTER_OTLP_ENDPOINT. */
  otlpEndpoint?: string;
  otlpProtocol?: OtlpProtocol;
  /** resource service.name (default mcrd) */
  serviceName?: string;
  /** extra resource attributes, like OTEL_RESOURCE_ATTRIBUTES */
  resourceAttributes?: Record<string, string>;
  /** milliseconds between OTLP metric exports, like OTEL_METRIC_EXPORT_INTERVAL */
  metricExportIntervalMs?: number;
  /** `HOST:PORT` for the Prometheus endpoint GET /metrics; none when absent */
  metricsListen?: string;
  /** spans exported per second at most (a traced batch is 3 + one per sendmmsg); the excess is counted, never queued */
  spansPerSecond: number;
  /** rules with their own metric series (per rule and per output); the rest count only in totals */
  ruleMetricsLimit: number;
}

/**
 * ttl is 16, not 1 (the old Rust relay's default): TTL 1 dies at the first router, which
 * silently breaks every routed path while looking fine on a flat test LAN.
 */
export const CONFIG_DEFAULTS = {
  workers: 1,
  realtimePriority: 0,
  spanSampleEvery: 16,
  busyPoll: false,
  egress: 'packet',
  wakeupHoldoffUs: 50,
  xdp: false,
  ttl: 16,
  logLevel: 'info',
  logFormat: 'text',
  ringMiB: 32,
} as const satisfies Omit<Config, 'rules' | 'cpus' | 'telemetry'>;

export const TELEMETRY_DEFAULTS = {
  spansPerSecond: 1000,
  ruleMetricsLimit: 256,
} as const satisfies Partial<TelemetryConfig>;

/** The configuration of an mcrd started without a file. */
export function defaultConfig(): Config {
  return { ...CONFIG_DEFAULTS, telemetry: { ...TELEMETRY_DEFAULTS }, rules: [] };
}

export const LIMITS = {
  maxWorkers: 32,
  maxRingMiB: 1024,
  maxSpanSampleEvery: 1_048_576,
  maxWakeupHoldoffUs: 1000,
  maxOutputsPerRule: 256,
  maxSpansPerSecond: 100_000,
  /** the OTel SDK folds series beyond 2000 per instrument into one overflow series */
  maxRuleMetrics: 1000,
  minMetricExportIntervalMs: 100,
} as const;
