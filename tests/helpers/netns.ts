// SPDX-License-Identifier: MIT
// Test hosts for integration tests: the network lab (lab/) under the names the tests use. Real
// network namespaces joined by veth pairs, the real mcrd/mcrctl/mcrgen run inside them, and the
// kernel's own interface counters to audit against. Every topology gets a unique prefix, and
// destroy() removes all of it (namespaces take their veths and processes' sockets with them).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { startMcrd, type DaemonHandle } from '../../lab/mcrd';
import { receive, send } from '../../lab/mcrgen';
import { buildOneHop, Topology as LabTopology, type InterfaceStat, type TopologyOptions } from '../../lab/netns';
import { MCRGEN } from '../../lab/paths';

export { DaemonHandle, startMcrd } from '../../lab/mcrd';
export { buildChain } from '../../lab/netns';
export { receive, send, type Receiver, type RecvResult, type SendResult } from '../../lab/mcrgen';
export { MCRGEN, ROOT } from '../../lab/paths';
export { sh, sleep, type CommandResult } from '../../lab/proc';

/** Why integration tests cannot run here, or undefined when they can. */
export function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, AF_PACKET)';
  if (!existsSync('/var/run/netns') && !existsSync('/run')) return 'no /run for ip netns';
  if (!existsSync(MCRGEN)) return `mcrgen not built (${MCRGEN}): run npm install`;
  return undefined;
}

let topologies = 0;

/** A lab topology named for this test process (mcrt<pid><label><n>), with no anchor processes: a test may expect an empty namespace. */
export class Topology extends LabTopology {
  constructor(label: string, options: TopologyOptions = {}) {
    super(`mcrt${process.pid % 10000}${label.slice(0, 4)}${topologies++}`, options);
  }

  /** A kernel interface counter (/sys/class/net/IF/statistics/NAME) read inside the namespace. */
  counter(name: string, ifname: string, stat: InterfaceStat): Promise<number> {
    return this.stat(name, ifname, stat);
  }
}

/**
 * The topology of most tests (the one in shared/reference/peers-measured.md):
 *   gen: g0 10.0.1.1/24 <-> relay: r0 10.0.1.2/24 | r1 10.0.2.1/24 <-> sink: s0 10.0.2.2/24
 */
export function oneHop(label: string, opts: { mtu?: number; relaySysctls?: Record<string, string> } = {}): Promise<Topology> {
  return buildOneHop(new Topology(label), opts);
}

export { parseFinal, type FinalLine } from '../../src/daemon/stats';

export interface StreamSpec {
  group: string;
  port: number;
  /** Where the relay sends it: the sink's group and port. */
  out: string;
  outPort: number;
  count: number;
  rate?: number;
  source?: string;
}

export interface RunningStream {
  /** True once the generator has sent everything. */
  isDone: () => boolean;
  /** Waits for the end and asserts every packet arrived exactly once, intact. */
  finish: () => Promise<void>;
}

/** Starts a stream gen -> relay -> sink (s0) in the background, the receiver joined first. */
export async function startStream(t: Topology, s: StreamSpec): Promise<RunningStream> {
  const sink = receive(t, 'sink', { group: s.out, port: s.outPort, iface: 's0', count: s.count });
  await sink.ready;
  const sending = send(t, 'gen', { group: s.group, port: s.port, source: s.source ?? '10.0.1.1', rate: s.rate ?? 10_000, count: s.count });
  let done = false;
  void sending.then(
    () => (done = true),
    () => undefined,
  );
  return {
    isDone: () => done,
    finish: async () => {
      const sent = await sending;
      const got = await sink.result;
      assert.equal(sent.sent, s.count);
      assert.equal(got.unique, s.count, `${s.group}: every packet arrived`);
      assert.equal(got.lost, 0);
      assert.equal(got.duplicates, 0);
      assert.equal(got.corrupted, 0);
    },
  };
}

/** Sends a stream and asserts the sink got every packet, once, intact. */
export async function streamExactly(t: Topology, s: StreamSpec): Promise<void> {
  await (await startStream(t, s)).finish();
}

export function startDaemon(t: Topology, ns: string, o: { configFile?: string; args?: string[] } = {}): Promise<DaemonHandle> {
  return startMcrd(t, ns, { socket: `/tmp/${t.prefix}-${ns}.sock`, ...o });
}

export function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}
