// SPDX-License-Identifier: MIT
// The one place that loads the compiled addon and declares its exact shape.
import * as path from 'node:path';

export interface NativeOutput {
  interface: string;
  group: string;
  port: number;
  /** A fixed TTL, or "decrement": the received TTL minus one (TTL 1 dropped as ttl_expired). */
  ttl: number | 'decrement';
  source?: string;
  slot: number;
  /**
   * Forward as a router: the received IPv4 header kept (source, destination and ports), TTL minus
   * one, IP checksum updated; group, port, ttl and source are then not used. Needs packet egress.
   */
  routed?: boolean;
}

export interface NativeRule {
  interface: string;
  group: string;
  /** 0: any UDP port (the most specific rule matching a packet wins, see src/routing/table.ts) */
  port: number;
  slot: number;
  outputs: NativeOutput[];
  /** Only packets from this source ((S,G)); absent: any source. */
  source?: string;
  /** absent: udp; esp: IP protocol 50, port 0 */
  protocol?: 'udp' | 'esp';
  /**
   * Also copy matched packets to mcrd (rate-limited) for a routing protocol: PIM's data-driven
   * events. With group "0.0.0.0" (port 0, no source, no outputs): the input's (*,*) entry, which
   * punts the routable multicast no other rule of the input matched.
   */
  punt?: PuntReason;
  /** false: do not join the group on the input (PIM routes: their Join/Prune messages bring the traffic). Default true. */
  joinGroup?: boolean;
}

export type InterfaceState = 'up' | 'waiting-for-interface';

export interface NativeRuleStatus {
  input: InterfaceState;
  outputs: InterfaceState[];
  /** Set when the core could not install the rule (it is then not forwarding). */
  error?: string;
}

export interface RuleSetResult {
  applied: boolean;
  /** One per rule, in the order given. */
  statuses: NativeRuleStatus[];
}

export interface RelayOptions {
  workers: number;
  cpus?: number[];
  ringBytes: number;
  countersPath: string;
  /** SCHED_FIFO priority for the workers, 0 = normal scheduling. */
  realtimePriority: number;
  /** Time one receive batch in this many (0 = none); see `Counters.spanNames`. */
  spanSampleEvery: number;
  /** Workers spin on empty rings instead of sleeping (dedicated CPUs only). */
  busyPoll: boolean;
  /** After a wake-up from a short sleep (dense traffic), sleep this many µs before draining (config `wakeupHoldoffUs`). */
  wakeupHoldoffUs: number;
  /** Multicast outputs on Ethernet interfaces leave through AF_PACKET (config `egress: 'packet'`). */
  packetEgress: boolean;
  /** The XDP programs' object file (xdpObjectPath()); absent: no XDP path (config `xdp`). */
  xdpObject?: string;
}

export interface NativeRelay {
  start(): void;
  /**
   * Replaces the rule set. With allOrNothing, a rule that cannot be installed (and was not already
   * refused unchanged) refuses the whole change: applied is false, nothing changed, and the
   * statuses say why. Without it, whatever installs is published (a data plane's first table).
   */
  setRules(rules: NativeRule[], allOrNothing?: boolean): RuleSetResult;
  /** null when no interface changed since the last table build. */
  reconcile(): NativeRuleStatus[] | null;
  pollKernelStats(): void;
  stop(): void;
  workers(): NativeWorker[];
  /** The input interfaces with open rings; fanoutGroup is null with one worker (no group). */
  inputs(): NativeInput[];
  /** The XDP path: rules it forwards, and why it does not (load or attach failure, limits); null status when fine or off. */
  xdp(): { rules: number; status: string | null };
}

/** One worker thread as the core reports it. */
export interface NativeWorker {
  worker: number;
  cpu: number;
  tid: number;
  /** Whether the worker got its SCHED_FIFO priority (false when not asked for or refused). */
  realtime: boolean;
  /** Whether the worker runs on `cpu` (false when `cpus` is not set or the kernel refused). */
  pinned: boolean;
}

export interface NativeInput {
  interface: string;
  ifindex: number;
  rings: number;
  fanoutGroup: number | null;
  /** the XDP path's attach mode on this input, null when not attached */
  xdp: 'native' | 'generic' | null;
}

export interface CounterSnapshot {
  /** Per worker: the core's worker counters in `workerCounterNames` order, then ringDrops, ringPackets. */
  workers: Float64Array[];
  /** Per worker: `spanBuckets` log2 microsecond buckets per span, in `spanNames` order. */
  spans: Float64Array[];
  /** Per worker: the sampled durations summed per span, nanoseconds, in `spanNames` order. */
  spanSumsNs: Float64Array[];
  /** The XDP path's counters, in `workerCounterNames` order (what it forwarded). */
  xdp: Float64Array;
  /** Two values (packets, bytes) per requested rule slot. */
  rules: Float64Array;
  /** Three values (packets, bytes, errors) per requested output slot. */
  outputs: Float64Array;
  dataplaneStarts: number;
}

/** CLOCK_REALTIME as [seconds, nanoseconds], the OpenTelemetry HrTime form (exact, no BigInt). */
export type HrTime = [number, number];

/** One sendmmsg call of a traced batch (a refused call is one entry with packets 0). */
export interface NativeSpanSend {
  start: HrTime;
  end: HrTime;
  /** egress interface */
  ifindex: number;
  /** datagrams the kernel accepted, and their payload bytes */
  packets: number;
  bytes: number;
  /** datagrams refused; errno is the call's error (0 when none) */
  errors: number;
  errno: number;
}

/** One traced receive batch, as the worker wrote it into its span ring (native/include/mcr/trace.h). */
export interface NativeSpanRecord {
  worker: number;
  inputIfindex: number;
  packets: number;
  bytes: number;
  /** the kernel's timestamp of the batch's oldest frame */
  oldestFrame: HrTime;
  /** the worker picked the batch up */
  pickup: HrTime;
  /** every frame parsed and matched, the sends queued */
  classified: HrTime;
  /** the ring slots went back to the kernel (the batch's end) */
  released: HrTime;
  /** counter slots of the first rules the batch matched (RuleRecord.slot), in order seen */
  ruleSlots: number[];
  /** distinct rules matched; more than ruleSlots.length when the record had no room */
  rulesMatched: number;
  sends: NativeSpanSend[];
  /** sendmmsg calls the record had no room for */
  sendsOverflow: number;
  /** recorded because of the sampling rate, and/or because it touched the chased rule */
  sampled: boolean;
  chased: boolean;
}

/** The workers' tracing switches, in the counter file (the supervisor writes them, workers read them per batch). */
export interface TraceState {
  /** time one receive batch in this many (0 = none) */
  sampleEvery: number;
  /** workers write span records (someone reads them); otherwise sampled batches only feed the histograms */
  recordsEnabled: boolean;
  /** rule slot being chased, and how many more batches touching it to record (0 = no chase) */
  chaseRuleSlot: number;
  chaseRemaining: number;
}

export interface NativeCounters {
  snapshot(workers: number, ruleSlots: Uint32Array, outputSlots: Uint32Array): CounterSnapshot;
  /** Takes up to `max` span records out of one worker's ring (oldest first). */
  drainSpans(worker: number, max: number): NativeSpanRecord[];
  /** Discards every record in one worker's ring without reading it; returns how many. */
  skipSpans(worker: number): number;
  /** Changes the given switches; the others keep their values. */
  setTrace(settings: Partial<TraceState>): void;
  traceState(): TraceState;
  /** Takes up to `max` punt records out of one worker's punt ring (oldest first). */
  drainPunts(worker: number, max: number): NativePunt[];
  /** Each worker's punt rate (tokens per second, 0 = punt nothing) and bucket size. */
  setPunt(settings: { perSecond?: number; burst?: number }): void;
  close(): void;
}

/** Why a rule punts its packets to mcrd (native/include/mcr/punt_record.h). */
export type PuntReason = 'new_source' | 'register' | 'wrong_interface';

/** One punted packet (native/include/mcr/punt.h). */
export interface NativePunt {
  /** CLOCK_REALTIME ns when the worker punted it */
  timeNs: number;
  /** the interface it arrived on */
  ifindex: number;
  /** the counter slot of the rule that punted it */
  ruleSlot: number;
  reason: PuntReason;
  /** the IPv4 packet's total length; more than packet.length when it was longer than a punt record holds */
  wireLength: number;
  /** the IPv4 packet from its header on */
  packet: Buffer;
}

// --- IGMP packet socket (native/binding/igmp_socket_wrap.cc; wrapped by src/routing/igmp/socket.ts) ---

/** One received IGMP datagram: the IPv4 packet from its header on, where and from whom it came. */
export interface NativeIgmpPacket {
  data: Buffer;
  ifindex: number;
  /** the sender's Ethernet address, "aa:bb:cc:dd:ee:ff" */
  sourceMac: string;
}

/** One interface's IGMP packet socket (AF_PACKET, every IGMP frame arriving on it). */
export interface NativeIgmpSocket {
  readonly interface: string;
  readonly ifindex: number;
  /** Polls the socket on the event loop: the callback runs while packets wait (drain with receive), or with an error the socket reported. */
  onReadable(callback: (error?: Error & { code?: string }) => void): void;
  /** Up to `max` (1-1024, default 64) waiting packets; [] when none. */
  receive(max?: number): NativeIgmpPacket[];
  /** Sends one IPv4 packet (header included) to `group`'s multicast MAC; bytes sent. */
  send(packet: Uint8Array, group: string): number;
  /** Stops the callbacks and closes the socket; idempotent. */
  close(): void;
}

// --- end IGMP packet socket ---

// --- PIM socket (native/binding/pim_socket_wrap.cc; wrapped by src/routing/pim/socket.ts) ---

/** One received PIM message: its bytes after the IP header, and the header fields PIM needs. */
export interface NativePimPacket {
  /** the PIM message, from its header on (the IP header stripped; not yet validated) */
  data: Buffer;
  /** the IP source and destination, dotted */
  source: string;
  destination: string;
  ttl: number;
  /** the interface it arrived on */
  ifindex: number;
}

/** One interface's raw IPPROTO_PIM socket, joined to 224.0.0.13 there. */
export interface NativePimSocket {
  readonly interface: string;
  readonly ifindex: number;
  /** Polls the socket on the event loop: the callback runs while messages wait or the interface went down (drain with receive), or with an error of the poll. */
  onReadable(callback: (error?: Error & { code?: string }) => void): void;
  /** Up to `max` (1-1024, default 64) waiting messages; [] when none. Throws ENETDOWN once each time the interface goes down. */
  receive(max?: number): NativePimPacket[];
  /** Sends one PIM message (no IP header) to `destination`: TTL 1 when multicast; bytes sent. */
  send(message: Uint8Array, destination: string): number;
  /** Stops the callbacks and closes the socket; idempotent. */
  close(): void;
}

// --- end PIM socket ---

// --- IP sender (native/binding/ip_sender_wrap.cc; src/routing/ip-sender.ts prepares packets for it) ---

/** Sends whole IPv4 multicast packets out of one Ethernet interface (AF_PACKET), as given. */
export interface NativeIpSender {
  readonly interface: string;
  readonly ifindex: number;
  /** The interface MTU as last read (at open, and again when a packet did not fit). */
  readonly mtu: number;
  /**
   * Sends one IPv4 packet, header included (source, TTL and checksum as given), to its
   * destination's multicast MAC; bytes sent. Throws EINVAL (short, not IPv4, lengths that
   * disagree, not multicast), EMSGSIZE (over the MTU), EBADF (closed).
   */
  send(packet: Uint8Array): number;
  /** Idempotent. */
  close(): void;
}

// --- end IP sender ---

// --- Kernel route lookup (native/binding/route_lookup_wrap.cc; wrapped by src/routing/rpf.ts) ---

/** The kernel's rtm_type of a route, as `ip route` names it. */
export type NativeRouteType =
  | 'unicast'
  | 'local'
  | 'broadcast'
  | 'anycast'
  | 'multicast'
  | 'blackhole'
  | 'unreachable'
  | 'prohibit'
  | 'throw'
  | 'nat'
  | 'xresolve'
  | 'unspec';

/** The kernel's answer to `ip route get ADDRESS`, in this process's network namespace. */
export interface NativeRoute {
  /** the output interface's name ("" when it went away meanwhile) */
  interface: string;
  ifindex: number;
  /** the next hop; absent when the address is directly connected (or local) */
  gateway?: string;
  preferredSource?: string;
  type: NativeRouteType;
  /** the prefix length of the table entry that matched (RTM_F_FIB_MATCH; 0 for a default route) */
  prefixLength: number;
}

/** A NETLINK_ROUTE socket on the IPv4 route, IPv4 address and link groups, polled on the event loop. */
export interface NativeRouteMonitor {
  /** Stops the callbacks and closes the socket; idempotent. */
  close(): void;
}

// --- end kernel route lookup ---

export interface Addon {
  Relay: new (options: RelayOptions) => NativeRelay;
  /** Opens the IGMP packet socket of one interface; throws (code ENODEV, EPERM, ...) naming it. */
  IgmpSocket: { new (ifname: string): NativeIgmpSocket };
  /** Opens the raw PIM socket of one interface; throws (code ENODEV, EPERM, ...) naming it. */
  PimSocket: { new (ifname: string): NativePimSocket };
  /** Opens an IP sender on one Ethernet interface (needs CAP_NET_RAW); throws (code ENODEV, EINVAL for a non-Ethernet one, EPERM, ...) naming it. */
  IpSender: { new (ifname: string): NativeIpSender };
  /**
   * Looks `address` up in the kernel's routing table (one RTM_GETROUTE, as `ip route get`); throws
   * an Error naming the address with the kernel's code when there is no route: ENETUNREACH (none),
   * EHOSTUNREACH (an unreachable route), EACCES (prohibit), EINVAL (blackhole).
   */
  routeLookup(address: string): NativeRoute;
  /**
   * Opens the route monitor: `onChange` runs on the event loop with how many route, address or link
   * changes arrived (at least 1 after the socket overflowed), or once with count 0 and an error,
   * after which the monitor is closed. Keeps the loop alive until close().
   */
  RouteMonitor: { new (onChange: (count: number, error?: Error & { code?: string }) => void): NativeRouteMonitor };
  /**
   * Moves every thread of this process but `keepTids` off `workerCpus` (back to the process's
   * first affinity when empty); returns how many moved, 0 when no CPU would be left.
   */
  confineThreads(workerCpus: number[], keepTids: number[]): number;
  /**
   * Removes the counter files (mcrd-*.counters) in `dir` that no live process holds locked, i.e.
   * what crashed daemons left behind; returns their paths.
   */
  removeStaleCounterFiles(dir: string): string[];
  Counters: {
    new (path: string, create: boolean): NativeCounters;
    readonly workerCounterNames: string[];
    readonly spanNames: string[];
    readonly spanBuckets: number;
    readonly maxWorkers: number;
    readonly maxRuleSlots: number;
    readonly maxOutputSlots: number;
  };
}

let cached: Addon | undefined;

/** The XDP programs, built next to the shipped addon (native/xdp/forward.bpf.c). */
export function xdpObjectPath(): string {
  return path.resolve(__dirname, '..', '..', '..', 'build', 'Release', 'mcr_xdp.bpf.o');
}

export function loadAddon(): Addon {
  if (cached) return cached;
  const root = path.resolve(__dirname, '..', '..', '..');
  // MCR_ADDON: another build of the addon, for the audit drill and tests only (profiling/audit.ts
  // points it at build-drill/mcr_native.node); mcrd's data-plane child inherits it. Nothing else
  // is tried when it is set, so a drill run can never measure the shipped addon by mistake.
  const override = process.env.MCR_ADDON;
  const candidates = override
    ? [path.resolve(override)]
    : ['build/Release/mcr_native.node', 'build/Debug/mcr_native.node'].map((p) => path.join(root, p));
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      cached = require(candidate) as Addon;
      return cached;
    } catch (err) {
      failures.push(`${candidate}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`cannot load the mcr native addon (run npm install to build it); tried:\n  ${failures.join('\n  ')}`);
}
