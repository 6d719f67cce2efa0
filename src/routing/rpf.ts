// SPDX-License-Identifier: MIT
// RPF (reverse path forwarding) answers for PIM from the kernel's unicast routing table: toward an
// address (an RP or a source), the interface and neighbour the kernel's route uses, as
// `ip route get ADDRESS` gives them (native/core/route_lookup.cc), and which watched addresses'
// answers changed when the kernel reports route, address or link changes. Diffing is kept apart
// from the native calls (rpfChanges, and RpfTable's injectable lookup and change source) so it is
// unit-tested without a kernel.
import { McrError } from '../lib/errors';
import { isIPv4 } from '../lib/ipv4';
import { loadAddon, type NativeRoute } from '../native/addon';

/** Where PIM's Joins toward an address go. */
export interface RpfAnswer {
  /** the RPF interface ("lo" for a local address) */
  interface: string;
  /** the RPF neighbour: the route's gateway, or the address itself when directly connected or local */
  neighbor: string;
  /** the address is one of this host's own (the RP or source is here): there is no upstream */
  local: boolean;
}

/** A watched address whose answer changed; undefined: no route (unreachable). */
export interface RpfChange {
  address: string;
  previous: RpfAnswer | undefined;
  current: RpfAnswer | undefined;
}

/** The RPF answer toward an address now, undefined when it has no usable route. */
export type RpfLookup = (address: string) => RpfAnswer | undefined;

/**
 * Calls `notify` whenever the routing may have changed (bursts included: the table coalesces
 * them), or `fail` once when it no longer can; returns the function that stops it.
 */
export type RouteChangeSource = (notify: () => void, fail: (error: Error) => void) => () => void;

/** What RPF makes of a kernel route: unicast and local routes only; any other type has no upstream to join. */
export function rpfFromRoute(address: string, route: NativeRoute): RpfAnswer | undefined {
  if (route.interface === '') return undefined; // the interface went away between answer and name
  if (route.type === 'local') return { interface: route.interface, neighbor: address, local: true };
  if (route.type !== 'unicast') return undefined;
  return { interface: route.interface, neighbor: route.gateway ?? address, local: false };
}

/** The kernel's errors for "no route": none, unreachable, prohibit, blackhole. */
const NO_ROUTE_CODES: ReadonlySet<string> = new Set(['ENETUNREACH', 'EHOSTUNREACH', 'EACCES', 'EINVAL']);

/** RpfLookup over the kernel's routing table of this process's network namespace. */
export function kernelRpfLookup(address: string): RpfAnswer | undefined {
  let route: NativeRoute;
  try {
    route = loadAddon().routeLookup(address);
  } catch (err) {
    if (NO_ROUTE_CODES.has((err as { code?: unknown }).code as string)) return undefined;
    throw err;
  }
  return rpfFromRoute(address, route);
}

/** RouteChangeSource over a NETLINK_ROUTE socket (IPv4 routes, IPv4 addresses, links). */
export function kernelRouteChanges(notify: () => void, fail: (error: Error) => void): () => void {
  const monitor = new (loadAddon().RouteMonitor)((_count, error) => (error ? fail(error) : notify()));
  return () => monitor.close();
}

export function sameRpfAnswer(a: RpfAnswer | undefined, b: RpfAnswer | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.interface === b.interface && a.neighbor === b.neighbor && a.local === b.local;
}

/**
 * Looks every address of `previous` up again: the new answers, and the addresses whose answer
 * differs from the one in `previous` (in `previous`'s order).
 */
export function rpfChanges(
  previous: ReadonlyMap<string, RpfAnswer | undefined>,
  lookup: RpfLookup,
): { answers: Map<string, RpfAnswer | undefined>; changes: RpfChange[] } {
  const answers = new Map<string, RpfAnswer | undefined>();
  const changes: RpfChange[] = [];
  for (const [address, before] of previous) {
    const current = lookup(address);
    answers.set(address, current);
    if (!sameRpfAnswer(before, current)) changes.push({ address, previous: before, current });
  }
  return { answers, changes };
}

export interface RpfTableOptions {
  /** The watched addresses whose answers changed since the last call (never empty). */
  onChange: (changes: RpfChange[]) => void;
  /** The change source failed (it is then stopped, and answers are no longer followed). Without it, the error is thrown. */
  onError?: (error: Error) => void;
  /** Default: the kernel's table (kernelRpfLookup). */
  lookup?: RpfLookup;
  /** Default: netlink notifications (kernelRouteChanges). */
  changeSource?: RouteChangeSource;
  /** How long after the first notification of a burst to look again. Default 100 ms. */
  debounceMs?: number;
}

export const DEFAULT_RPF_DEBOUNCE_MS = 100;

/**
 * The RPF answers of the watched addresses, followed as the routing changes. The change source
 * runs only while something is watched (the kernel monitor keeps the event loop alive).
 */
export class RpfTable {
  private answers = new Map<string, RpfAnswer | undefined>();
  private readonly lookupAnswer: RpfLookup;
  private readonly changeSource: RouteChangeSource;
  private readonly debounceMs: number;
  private stopChanges: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: RpfTableOptions) {
    this.lookupAnswer = options.lookup ?? kernelRpfLookup;
    this.changeSource = options.changeSource ?? kernelRouteChanges;
    this.debounceMs = options.debounceMs ?? DEFAULT_RPF_DEBOUNCE_MS;
  }

  /** Follows `address` (an IPv4 address): its answer now; a change to it is reported from then on. */
  watch(address: string): RpfAnswer | undefined {
    checkAddress(address);
    if (this.answers.has(address)) return this.answers.get(address);
    // Started before the lookup, so a change between the two is not missed.
    if (this.stopChanges === undefined)
      this.stopChanges = this.changeSource(
        () => this.scheduleRecheck(),
        (error) => this.changeSourceFailed(error),
      );
    const answer = this.lookupAnswer(address);
    this.answers.set(address, answer);
    return answer;
  }

  /** Stops following `address`; the change source stops with the last one. */
  unwatch(address: string): void {
    this.answers.delete(address);
    if (this.answers.size === 0) this.stop();
  }

  /** The answer toward `address` now, from the kernel (watched or not). */
  lookup(address: string): RpfAnswer | undefined {
    checkAddress(address);
    return this.lookupAnswer(address);
  }

  /** The watched addresses with the answers last reported for them. */
  watched(): ReadonlyMap<string, RpfAnswer | undefined> {
    return this.answers;
  }

  /** Stops following every address. */
  close(): void {
    this.answers.clear();
    this.stop();
  }

  private stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.stopChanges?.();
    this.stopChanges = undefined;
  }

  // Not restarted by later notifications: a long burst still gets looked at every debounceMs.
  private scheduleRecheck(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const { answers, changes } = rpfChanges(this.answers, this.lookupAnswer);
      this.answers = answers;
      if (changes.length > 0) this.options.onChange(changes);
    }, this.debounceMs);
  }

  private changeSourceFailed(error: Error): void {
    this.stop();
    if (!this.options.onError) throw error;
    this.options.onError(error);
  }
}

function checkAddress(address: string): void {
  if (!isIPv4(address)) throw new McrError('EINVAL', `RPF: "${address}" is not an IPv4 address`);
}
