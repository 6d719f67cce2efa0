// SPDX-License-Identifier: MIT
// The benchmark's network lab (lab/netns.ts), configured for measuring: namespaces named mcrb-*,
// made quiet so kernel interface counters count exactly the stream (IPv6 off before any link
// exists: no ND/MLD/RS; no unicast between hosts: no ARP), and an anchor process in each, so a
// counter read is a read of /proc/PID/net/dev and costs no process spawn.
import { buildOneHop, NO_IPV6, Topology as LabTopology, type IfCounters } from '../lab/netns';
import { sh } from '../lab/proc';

export { deleteNamespace, type IfCounters } from '../lab/netns';

export const NS_PREFIX = 'mcrb-';

export const QUIET_SYSCTLS: Record<string, string> = {
  ...NO_IPV6,
  'net.ipv4.conf.all.rp_filter': '0',
  'net.ipv4.conf.default.rp_filter': '0',
  // the C relay and smcroute join one group per stream on one socket (default limit 20)
  'net.ipv4.igmp_max_memberships': '1024',
};

export class Topology extends LabTopology {
  constructor(tag: string) {
    super(`${NS_PREFIX}${tag}`, { sysctls: QUIET_SYSCTLS, anchors: true });
  }

  /** One interface's kernel counters, read synchronously through the namespace's anchor. */
  counter(name: string, ifname: string): IfCounters {
    return this.ifCounters(name, ifname);
  }
}

/** Namespaces a crashed earlier run left behind. */
export async function staleNamespaces(): Promise<string[]> {
  const r = await sh('ip', ['netns', 'list'], { allowFail: true });
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(NS_PREFIX));
}

/**
 * The one-hop topology of shared/reference/peers-measured.md:
 *   gen: g0 10.0.1.1/24 <-> relay: r0 10.0.1.2/24 | r1 10.0.2.1/24 <-> sink: s0 10.0.2.2/24
 */
export async function oneHop(tag: string, mtu = 1500): Promise<Topology> {
  const topo = await buildOneHop(new Topology(tag), { mtu });
  await nicLikeFrames(topo);
  return topo;
}

/**
 * Frames as a NIC delivers them, for every relay alike: the generator's veth computes full UDP
 * checksums (with offload on, a local sender leaves them partial, which a relay's XDP path cannot
 * finish: docs/xdp.md), and the sink's veth has GRO on, which veth needs to accept XDP redirects.
 */
export async function nicLikeFrames(topo: Topology): Promise<void> {
  await topo.exec('gen', 'ethtool', ['-K', 'g0', 'tx', 'off']);
  await topo.exec('sink', 'ethtool', ['-K', 's0', 'gro', 'on']);
}
