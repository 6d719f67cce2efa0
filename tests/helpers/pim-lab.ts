// SPDX-License-Identifier: MIT
// The setup the PIM and MSDP integration tests share: a multicast listener in a namespace, mcr's
// `pim` and short `igmp` config sections, FRR pimd.conf fragments, waits for PIM neighbours, and
// a bridged LAN. Every PIM router here says Hello every second and Join/Prune every 5 s, so state
// forms within the tests' deadlines.
import * as path from 'node:path';
import { startFrr, type FrrInstance } from '../../lab/frr';
import type { PimNeighborsResult } from '../../src/control/protocol';
import { pollUntil } from './control';
import { ROOT, send, type DaemonHandle, type Topology } from './netns';

const LISTENER = path.join(ROOT, 'tests', 'helpers', 'listener.py');

/** What tests/helpers/listener.py prints when it stops: datagrams received, in total and per source address. */
export interface ListenResult {
  total: number;
  bySource: Record<string, number>;
}

/** A running listener.py: `ready` settles once it has joined the group; `stop` ends it and returns its count. */
export interface Listener {
  ready: Promise<void>;
  stop(): Promise<ListenResult>;
}

/** Starts listener.py in namespace `ns`, joined to `group` on `iface`, counting datagrams to `port`. */
export function startListener(t: Topology, ns: string, iface: string, group: string, port: number): Listener {
  const proc = t.spawn(ns, `listener ${ns}`, 'python3', [LISTENER, '--interface', iface, '--group', group, '--port', String(port)]);
  const ready = pollUntil(
    async () => proc.stderr,
    (s) => s.includes('joined'),
    `the listener in ${ns} to join ${group} on ${iface}`,
  ).then(() => undefined);
  // A test awaits `ready` of one listener after another's; a failure here must not count as unhandled meanwhile.
  ready.catch(() => undefined);
  return {
    ready,
    async stop() {
      await proc.stop('SIGTERM');
      return JSON.parse(proc.stdout.trim().split('\n').pop() ?? '{}') as ListenResult;
    },
  };
}

/** A PIM interface of mcr's config: a name, or a name with options (drPriority). */
export type McrPimInterface = string | { name: string; drPriority?: number };

/** mcr's `pim` config section: Hello every second on each interface, one static RP for `groups`, Join/Prune every 5 s. */
export function mcrPimConfig(interfaces: McrPimInterface[], rp: string, groups: string) {
  return {
    interfaces: interfaces.map((i) => ({ helloInterval: 1, ...(typeof i === 'string' ? { name: i } : i) })),
    rp: [{ address: rp, groups }],
    joinPruneInterval: 5,
  };
}

/** mcr's `igmp` config section on one interface, with short timers so joins and leaves show within seconds. */
export function shortIgmpConfig(iface: string) {
  return { interfaces: [iface], queryInterval: 2, queryResponseInterval: 1, lastMemberQueryInterval: 0.2, robustness: 2 };
}

/**
 * One pimd.conf interface block with `ip pim`; `hello`: Hello every second, hold time 3 s;
 * `igmp`: an IGMP querier every 2 s; `extra`: more lines (each with its leading space).
 */
export function frrPimInterface(name: string, o: { hello?: boolean; igmp?: boolean; extra?: string[] } = {}): string {
  return [
    `interface ${name}`,
    ' ip pim',
    ...(o.hello ? [' ip pim hello 1 3'] : []),
    ...(o.igmp ? [' ip igmp', ' ip igmp query-max-response-time 10', ' ip igmp query-interval 2'] : []),
    ...(o.extra ?? []),
    '!',
  ].join('\n');
}

/** A whole pimd.conf: the interface blocks, a static RP for `groups`, Join/Prune every 5 s. */
export function frrPimdConfig(interfaceBlocks: string[], rp: string, groups: string): string {
  return [...interfaceBlocks, `ip pim rp ${rp} ${groups}`, 'ip pim join-prune-interval 5', '!'].join('\n');
}

/** FRR's `show ip pim join json`: interface -> group -> source ("*" for (*,G)) -> state. */
export type FrrJoins = Record<string, Record<string, Record<string, { channelJoinName?: string; upTime?: string }>>>;

/** Waits until FRR lists `address` as a PIM neighbour on its interface `iface`. */
export function waitForFrrNeighbor(frr: FrrInstance, iface: string, address: string, timeoutMs: number): Promise<unknown> {
  return pollUntil(
    () => frr.vtyshJson<Record<string, Record<string, unknown>>>('show ip pim neighbor'),
    (n) => n[iface]?.[address] !== undefined,
    'FRR to see mcr as a PIM neighbour',
    timeoutMs,
    200,
  );
}

/** Waits until mcr's PIM neighbours satisfy `pred` (`what` names it in the timeout error). */
export function waitForMcrNeighbors(
  d: DaemonHandle,
  pred: (n: PimNeighborsResult) => boolean,
  what: string,
  timeoutMs: number,
): Promise<PimNeighborsResult> {
  return pollUntil(() => d.request('pim.neighbors'), pred, what, timeoutMs, 200);
}

/** A LAN member: interface `iface` with `address` (a prefix) in namespace `ns`, its peer `port` on the bridge. */
export interface LanMember {
  ns: string;
  iface: string;
  address: string;
  port: string;
}

/** A LAN: bridge br0 in namespace `ns`, multicast snooping off (every frame floods), with a veth to each member. */
export async function bridgedLan(t: Topology, ns: string, members: LanMember[]): Promise<void> {
  await t.ip(ns, ['link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
  await t.ip(ns, ['link', 'set', 'br0', 'up']);
  for (const m of members) {
    await t.link(m.ns, m.iface, m.address, ns, m.port, null);
    await t.ip(ns, ['link', 'set', m.port, 'master', 'br0']);
  }
}

/** The addresses of assertLanLab's lab (both Assert tests use them). */
export const ASSERT_LAB = { source: '10.0.90.2', rp: '10.255.0.90', aLan: '10.0.93.2', bLan: '10.0.93.3' } as const;

/**
 * The Assert tests' lab (the issue's scenario 5), with router B in namespace `b` (mcr or FRR,
 * started by the test like A and C): an FRR first hop and RP feeding A and B, which share a LAN
 * with C and a listening host; a second listener behind C, which reaches the source through B.
 *   src: s0 10.0.90.2 <-> fhr (FRR, RP 10.255.0.90): a0 10.0.90.1 | a1 10.0.91.1 | a2 10.0.92.1
 *   fhr a1 <-> mcra m0 10.0.91.2;  fhr a2 <-> b b0 10.0.92.2
 *   LAN (namespace lan): mcra m1 10.0.93.2, b b1 10.0.93.3, mcrc c1 10.0.93.4, host h0 10.0.93.10
 *   mcrc c2 10.0.94.1 <-> rcv r0 10.0.94.2
 * Adds the namespaces to `t`, starts the first hop's FRR and returns it.
 */
export async function assertLanLab(t: Topology, b: string): Promise<FrrInstance> {
  const { source, rp, aLan, bLan } = ASSERT_LAB;
  for (const ns of ['src', 'fhr', 'mcra', b, 'mcrc', 'lan', 'host', 'rcv']) await t.addNamespace(ns);
  await t.link('src', 's0', `${source}/24`, 'fhr', 'a0', '10.0.90.1/24');
  await t.link('fhr', 'a1', '10.0.91.1/24', 'mcra', 'm0', '10.0.91.2/24');
  await t.link('fhr', 'a2', '10.0.92.1/24', b, 'b0', '10.0.92.2/24');
  await t.link('mcrc', 'c2', '10.0.94.1/24', 'rcv', 'r0', '10.0.94.2/24');
  await bridgedLan(t, 'lan', [
    { ns: 'mcra', iface: 'm1', address: `${aLan}/24`, port: 'la' },
    { ns: b, iface: 'b1', address: `${bLan}/24`, port: 'lb' },
    { ns: 'mcrc', iface: 'c1', address: '10.0.93.4/24', port: 'lc' },
    { ns: 'host', iface: 'h0', address: '10.0.93.10/24', port: 'lh' },
  ]);
  await t.ip('fhr', ['addr', 'add', `${rp}/32`, 'dev', 'lo']);
  await t.ip('src', ['route', 'add', 'default', 'via', '10.0.90.1']);
  await t.ip('host', ['route', 'add', 'default', 'via', aLan]);
  await t.ip('rcv', ['route', 'add', 'default', 'via', '10.0.94.1']);
  for (const to of ['10.0.93.0/24', '10.0.94.0/24']) await t.ip('fhr', ['route', 'add', to, 'via', '10.0.92.2']);
  for (const to of [`${rp}/32`, '10.0.90.0/24']) {
    await t.ip('mcra', ['route', 'add', to, 'via', '10.0.91.1']);
    await t.ip(b, ['route', 'add', to, 'via', '10.0.92.1']);
    await t.ip('mcrc', ['route', 'add', to, 'via', bLan]);
  }
  await t.ip(b, ['route', 'add', '10.0.94.0/24', 'via', '10.0.93.4']);
  return startFrr(t, 'fhr', {
    pimd: frrPimdConfig(
      [frrPimInterface('lo'), frrPimInterface('a0'), frrPimInterface('a1', { hello: true }), frrPimInterface('a2', { hello: true })],
      rp,
      '239.0.0.0/8',
    ),
  });
}

/** A warm-up stream: one group from one source to a port the listeners do not count. */
export interface WarmUp {
  ns: string;
  group: string;
  source: string;
  port: number;
}

/**
 * Sends the warm-up in one-second pieces (50 packets at 50/s) until `check` gives a value `done`
 * accepts, and returns it; fails after `timeoutMs` naming `what`. Data-driven state (a Register,
 * the switch to the source tree, an Assert, FRR's 31 s SPT-bit timer) needs packets for as long as
 * it takes to settle, and a router that was not ready for the first packets gets the next ones.
 */
export async function sendUntil<T>(
  t: Topology,
  warm: WarmUp,
  check: () => Promise<T>,
  done: (value: T) => boolean,
  what: string,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (done(last)) return last;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms sending and waiting for ${what}; last: ${JSON.stringify(last)}`);
    await send(t, warm.ns, { group: warm.group, port: warm.port, source: warm.source, rate: 50, count: 50, ttl: 16 });
  }
}
