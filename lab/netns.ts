// SPDX-License-Identifier: MIT
// The network lab of the tests and the bench: network namespaces joined by veth pairs, built and
// torn down by one Topology, and the one-hop and chained (three-hop) topologies the integration
// tests and bench scenarios run on. Namespaces can get an anchor process each (a `sleep` living in it), so
// interface counters are read from /proc/PID/net/dev without spawning anything.
import { existsSync, readFileSync } from 'node:fs';
import { cleanup, sh, start, type CommandResult, type Proc } from './proc';

/**
 * Why this kernel cannot route multicast itself, or undefined when it can. Without
 * CONFIG_IP_MROUTE, MRT_INIT fails with ENOPROTOOPT: FRR's pimd cannot open its multicast-routing
 * socket (it then sends no PIM and sees no IGMP) and smcroute installs no route. The kernel makes
 * /proc/net/ip_mr_vif exactly when it has multicast routing.
 */
export function kernelMulticastRoutingMissing(): string | undefined {
  return existsSync('/proc/net/ip_mr_vif')
    ? undefined
    : 'this kernel has no multicast routing (CONFIG_IP_MROUTE is not set: no /proc/net/ip_mr_vif)';
}

/**
 * IPv6 off in a namespace, set before any link exists so new veths inherit it. Otherwise every
 * veth sends router solicitations, MLD reports and DAD probes for ~10 s after it comes up, and
 * those frames show up in the kernel's rx/tx counters next to the stream. With IPv6 off and no
 * IPv4 unicast between the hosts (so no ARP), a link carries only the stream and the IGMP reports
 * of whoever joins a group, which travel towards the sender.
 */
export const NO_IPV6: Record<string, string> = {
  'net.ipv6.conf.all.disable_ipv6': '1',
  'net.ipv6.conf.default.disable_ipv6': '1',
};

export interface IfCounters {
  rxPackets: number;
  rxBytes: number;
  rxDropped: number;
  txPackets: number;
  txBytes: number;
  txDropped: number;
}

/** One counter of /sys/class/net/IF/statistics. */
export type InterfaceStat = 'rx_packets' | 'tx_packets' | 'rx_dropped' | 'tx_dropped' | 'rx_bytes' | 'tx_bytes';

/** Parses /proc/net/dev into interface -> counters. */
export function parseNetDev(text: string): Map<string, IfCounters> {
  const out = new Map<string, IfCounters>();
  for (const line of text.split('\n').slice(2)) {
    const [, name, counters] = /^\s*([^:\s]+):\s*(.*)$/.exec(line) ?? [];
    if (name === undefined || counters === undefined) continue;
    const f = counters.trim().split(/\s+/).map(Number);
    if (f.length < 16) throw new Error(`/proc/net/dev: ${name} has ${f.length} counters, not 16: ${line.trim()}`);
    out.set(name, { rxBytes: f[0]!, rxPackets: f[1]!, rxDropped: f[3]!, txBytes: f[8]!, txPackets: f[9]!, txDropped: f[11]! });
  }
  return out;
}

interface LinkInfo {
  a: string;
  aIf: string;
  b: string;
  bIf: string;
}

export interface TopologyOptions {
  /** sysctls set in every namespace (before any link exists) unless addNamespace is given others */
  sysctls?: Record<string, string>;
  /** an anchor process per namespace, for counters(); off where a test needs an empty namespace */
  anchors?: boolean;
}

export class Topology {
  private readonly namespaces: string[] = [];
  private readonly anchors = new Map<string, Proc>();
  private readonly links: LinkInfo[] = [];
  private hook: number | undefined;
  private destroying: Promise<void> | undefined;

  /** `prefix` names every namespace of this topology; it must be unique on the host. */
  constructor(
    readonly prefix: string,
    private readonly options: TopologyOptions = {},
  ) {}

  /** The real namespace name for a short one ("relay" -> "<prefix>-relay"). */
  ns(name: string): string {
    return `${this.prefix}-${name}`;
  }

  async addNamespace(name: string, sysctls: Record<string, string> = this.options.sysctls ?? {}): Promise<void> {
    const ns = this.ns(name);
    this.hook ??= cleanup.add(`topology ${this.prefix}`, () => this.destroy());
    await deleteNamespace(ns);
    await sh('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    for (const [key, value] of Object.entries(sysctls)) await this.exec(name, 'sysctl', ['-qw', `${key}=${value}`]);
    await this.ip(name, ['link', 'set', 'lo', 'up']);
    if (this.options.anchors) {
      // `ip netns exec` execs the command, so the anchor's pid lives in the namespace.
      this.anchors.set(name, start(`anchor ${ns}`, 'ip', ['netns', 'exec', ns, 'sleep', 'infinity']));
    }
  }

  /** A veth pair between two namespaces; addresses in CIDR form (e.g. "10.0.1.1/24"). */
  async link(a: string, aIf: string, aAddr: string | null, b: string, bIf: string, bAddr: string | null, mtu?: number): Promise<void> {
    await sh('ip', ['link', 'add', aIf, 'netns', this.ns(a), 'type', 'veth', 'peer', 'name', bIf, 'netns', this.ns(b)]);
    for (const [n, ifname, addr] of [
      [a, aIf, aAddr],
      [b, bIf, bAddr],
    ] as const) {
      if (mtu) await this.ip(n, ['link', 'set', ifname, 'mtu', String(mtu)]);
      if (addr) await this.ip(n, ['addr', 'add', addr, 'dev', ifname]);
      await this.ip(n, ['link', 'set', ifname, 'up']);
    }
    this.links.push({ a, aIf, b, bIf });
  }

  /** Sets the MTU on every veth of the topology (1500, or 9000 for jumbo payloads). */
  async setMtu(mtu: number): Promise<void> {
    for (const l of this.links) {
      await this.ip(l.a, ['link', 'set', l.aIf, 'mtu', String(mtu)]);
      await this.ip(l.b, ['link', 'set', l.bIf, 'mtu', String(mtu)]);
    }
  }

  ip(name: string, args: string[]): Promise<CommandResult> {
    return sh('ip', ['-n', this.ns(name), ...args]);
  }

  exec(name: string, cmd: string, args: string[], opts: { allowFail?: boolean; timeoutMs?: number } = {}): Promise<CommandResult> {
    return sh('ip', ['netns', 'exec', this.ns(name), cmd, ...args], opts);
  }

  /** Starts a tracked process inside a namespace (its pid is the command's own: ip execs it). */
  spawn(name: string, label: string, cmd: string, args: string[]): Proc {
    return start(label, 'ip', ['netns', 'exec', this.ns(name), cmd, ...args]);
  }

  async mac(name: string, ifname: string): Promise<string> {
    const r = await this.ip(name, ['-j', 'link', 'show', 'dev', ifname]);
    const address = (JSON.parse(r.stdout) as Array<{ address: string }>)[0]?.address;
    if (address === undefined) throw new Error(`ip -j link show dev ${ifname} in ${name} listed no address`);
    return address;
  }

  /** Every interface's kernel counters in one namespace, read synchronously through its anchor. */
  counters(name: string): Map<string, IfCounters> {
    const anchor = this.anchors.get(name);
    if (!anchor?.pid || !anchor.running) throw new Error(`namespace ${name} has no anchor process`);
    return parseNetDev(readFileSync(`/proc/${anchor.pid}/net/dev`, 'utf8'));
  }

  /** One interface's kernel counters, read through the namespace's anchor. */
  ifCounters(name: string, ifname: string): IfCounters {
    const c = this.counters(name).get(ifname);
    if (!c) throw new Error(`no interface ${ifname} in ${this.ns(name)}`);
    return c;
  }

  /** One kernel interface counter (/sys/class/net/IF/statistics/STAT), read inside the namespace (no anchor needed). */
  async stat(name: string, ifname: string, stat: InterfaceStat): Promise<number> {
    const r = await this.exec(name, 'cat', [`/sys/class/net/${ifname}/statistics/${stat}`]);
    return Number(r.stdout.trim());
  }

  /** Removes every namespace; one shared promise, so Ctrl-C's cleanup waits for a destroy in flight. */
  destroy(): Promise<void> {
    this.destroying ??= (async () => {
      for (const ns of this.namespaces.splice(0)) await deleteNamespace(ns);
      for (const a of this.anchors.values()) await a.stop('SIGKILL', 1000);
      this.anchors.clear();
      if (this.hook !== undefined) cleanup.remove(this.hook);
      this.hook = undefined;
    })();
    return this.destroying;
  }
}

/**
 * Stops every process left in a namespace (by pid, from `ip netns pids`: SIGTERM, so mcrd removes
 * its counter file, then SIGKILL after 1.5 s), then deletes the namespace.
 */
export async function deleteNamespace(ns: string): Promise<void> {
  const list = async (): Promise<number[]> =>
    (await sh('ip', ['netns', 'pids', ns], { allowFail: true, evenIfInterrupted: true })).stdout.split(/\s+/).filter(Boolean).map(Number);
  const signal = (pids: number[], sig: NodeJS.Signals): void => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  let pids = await list();
  signal(pids, 'SIGTERM');
  for (let i = 0; i < 30 && pids.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    pids = await list();
  }
  signal(pids, 'SIGKILL');
  await sh('ip', ['netns', 'del', ns], { allowFail: true, evenIfInterrupted: true });
}

/**
 * The one-hop topology (the one of shared/reference/peers-measured.md and scripts/netns-onehop.sh),
 * a chain of three hosts:
 *   gen: g0 10.0.1.1/24 <-> relay: r0 10.0.1.2/24 | r1 10.0.2.1/24 <-> sink: s0 10.0.2.2/24
 * Namespaces get `t`'s sysctls, the relay `relaySysctls` in their place if given.
 */
export function buildOneHop<T extends Topology>(t: T, opts: { mtu?: number; relaySysctls?: Record<string, string> } = {}): Promise<T> {
  return buildChain(t, ['gen', 'relay', 'sink'], ['g0', 'r1'], ['r0', 's0'], {
    mtu: opts.mtu,
    sysctls: opts.relaySysctls && { relay: opts.relaySysctls },
  });
}

/**
 * Hosts in a chain, link i joining hosts[i]'s `down[i]` 10.0.(i+1).1/24 to hosts[i+1]'s `up[i]`
 * 10.0.(i+1).2/24: with three hosts the one-hop topology, with five the three-hop one. `sysctls`
 * replaces `t`'s for the hosts it names. On a failure half-way the topology is destroyed before
 * the error is passed on.
 */
export async function buildChain<T extends Topology>(
  t: T,
  hosts: readonly string[],
  down: readonly string[],
  up: readonly string[],
  opts: { mtu?: number; sysctls?: Record<string, Record<string, string>> } = {},
): Promise<T> {
  if (down.length !== hosts.length - 1 || up.length !== hosts.length - 1)
    throw new Error(`a chain of ${hosts.length} hosts needs ${hosts.length - 1} links`);
  try {
    for (const ns of hosts) {
      const own = opts.sysctls?.[ns];
      await (own ? t.addNamespace(ns, own) : t.addNamespace(ns));
    }
    // the lengths were checked above: hosts has one more entry than down and up
    for (const [i, downIf] of down.entries())
      await t.link(hosts[i]!, downIf, `10.0.${i + 1}.1/24`, hosts[i + 1]!, up[i]!, `10.0.${i + 1}.2/24`, opts.mtu);
  } catch (err) {
    await t.destroy();
    throw err;
  }
  return t;
}
