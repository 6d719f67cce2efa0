// SPDX-License-Identifier: MIT
// Network namespaces and veth pairs for the benchmark (all named mcrb-*), made quiet so kernel
// interface counters count exactly the stream: IPv6 off before any link exists (no ND/MLD/RS),
// no unicast between hosts (no ARP). Counters are read from /proc/PID/net/dev of a small anchor
// process living in each namespace, so a read costs no process spawn.
import { readFileSync } from 'node:fs';
import { cleanup, sh, start, type CommandResult, type Proc } from './proc';

export const NS_PREFIX = 'mcrb-';

export const QUIET_SYSCTLS: Record<string, string> = {
  'net.ipv6.conf.all.disable_ipv6': '1',
  'net.ipv6.conf.default.disable_ipv6': '1',
  'net.ipv4.conf.all.rp_filter': '0',
  'net.ipv4.conf.default.rp_filter': '0',
  // the C relay and smcroute join one group per stream on one socket (default limit 20)
  'net.ipv4.igmp_max_memberships': '1024',
};

export interface IfCounters {
  rxPackets: number;
  rxBytes: number;
  rxDropped: number;
  txPackets: number;
  txBytes: number;
  txDropped: number;
}

/** Parses /proc/net/dev into interface -> counters. */
export function parseNetDev(text: string): Map<string, IfCounters> {
  const out = new Map<string, IfCounters>();
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2].trim().split(/\s+/).map(Number);
    out.set(m[1], { rxBytes: f[0], rxPackets: f[1], rxDropped: f[3], txBytes: f[8], txPackets: f[9], txDropped: f[11] });
  }
  return out;
}

interface LinkInfo {
  a: string;
  aIf: string;
  b: string;
  bIf: string;
}

export class Topology {
  readonly prefix: string;
  private readonly namespaces: string[] = [];
  private readonly anchors = new Map<string, Proc>();
  private readonly links: LinkInfo[] = [];
  private hook: number | undefined;
  private destroying: Promise<void> | undefined;

  constructor(tag: string) {
    this.prefix = `${NS_PREFIX}${tag}`;
  }

  /** The real namespace name for a short one ("relay" -> "mcrb-tp-relay"). */
  ns(name: string): string {
    return `${this.prefix}-${name}`;
  }

  async addNamespace(name: string, sysctls: Record<string, string> = QUIET_SYSCTLS): Promise<void> {
    const ns = this.ns(name);
    this.hook ??= cleanup.add(`topology ${this.prefix}`, () => this.destroy());
    await deleteNamespace(ns);
    await sh('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    for (const [key, value] of Object.entries(sysctls)) await this.exec(name, 'sysctl', ['-qw', `${key}=${value}`]);
    await this.ip(name, ['link', 'set', 'lo', 'up']);
    // `ip netns exec` execs the command, so the anchor's pid lives in the namespace.
    const anchor = start(`anchor ${ns}`, 'ip', ['netns', 'exec', ns, 'sleep', 'infinity']);
    this.anchors.set(name, anchor);
  }

  /** A veth pair between two namespaces; addresses in CIDR form (e.g. "10.0.1.1/24"). */
  async link(a: string, aIf: string, aAddr: string | null, b: string, bIf: string, bAddr: string | null, mtu = 1500): Promise<void> {
    await sh('ip', ['link', 'add', aIf, 'netns', this.ns(a), 'type', 'veth', 'peer', 'name', bIf, 'netns', this.ns(b)]);
    for (const [n, ifname, addr] of [[a, aIf, aAddr], [b, bIf, bAddr]] as const) {
      await this.ip(n, ['link', 'set', ifname, 'mtu', String(mtu)]);
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
    return (JSON.parse(r.stdout) as Array<{ address: string }>)[0].address;
  }

  /** Every interface's kernel counters in one namespace, read synchronously. */
  counters(name: string): Map<string, IfCounters> {
    const anchor = this.anchors.get(name);
    if (!anchor?.pid || !anchor.running) throw new Error(`namespace ${name} has no anchor process`);
    return parseNetDev(readFileSync(`/proc/${anchor.pid}/net/dev`, 'utf8'));
  }

  counter(name: string, ifname: string): IfCounters {
    const c = this.counters(name).get(ifname);
    if (!c) throw new Error(`no interface ${ifname} in ${this.ns(name)}`);
    return c;
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

/** Namespaces a crashed earlier run left behind. */
export async function staleNamespaces(): Promise<string[]> {
  const r = await sh('ip', ['netns', 'list'], { allowFail: true });
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n) => n?.startsWith(NS_PREFIX));
}

export const GEN_ADDR = '10.0.1.1';
export const RELAY_IN_ADDR = '10.0.1.2';
export const RELAY_OUT_ADDR = '10.0.2.1';
export const SINK_ADDR = '10.0.2.2';

/**
 * The one-hop topology of shared/reference/peers-measured.md:
 *   gen: g0 10.0.1.1/24 <-> relay: r0 10.0.1.2/24 | r1 10.0.2.1/24 <-> sink: s0 10.0.2.2/24
 */
export async function oneHop(tag: string, mtu = 1500): Promise<Topology> {
  const t = new Topology(tag);
  for (const ns of ['gen', 'relay', 'sink']) await t.addNamespace(ns);
  await t.link('gen', 'g0', `${GEN_ADDR}/24`, 'relay', 'r0', `${RELAY_IN_ADDR}/24`, mtu);
  await t.link('relay', 'r1', `${RELAY_OUT_ADDR}/24`, 'sink', 's0', `${SINK_ADDR}/24`, mtu);
  return t;
}
