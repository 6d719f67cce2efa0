// SPDX-License-Identifier: MIT
// Shared pieces of the datapath integration tests (three-hop, fan-out, unicast, rpf, many-groups,
// jumbo, workers): quiet topologies (IPv6 off: lab/netns.ts NO_IPV6) whose kernel counters can be compared exactly, config files in
// a temp dir, typed `stats`/`workers` results and the exact-delivery assertion.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildOneHop, NO_IPV6 } from '../../lab/netns';
import { type DaemonHandle, Topology, type RecvResult } from './netns';

export { NO_IPV6 } from '../../lab/netns';

/** oneHop() with IPv6 off everywhere: gen g0 10.0.1.1 <-> r0 10.0.1.2 relay r1 10.0.2.1 <-> s0 10.0.2.2 sink. */
export function quietOneHop(label: string, opts: { mtu?: number } = {}): Promise<Topology> {
  return buildOneHop(new Topology(label, { sysctls: NO_IPV6 }), opts);
}

/** A private temp directory for config files; remove() in after(). */
export class TempDir {
  readonly path = mkdtempSync(path.join(os.tmpdir(), 'mcrt-'));

  /** Writes a config file (JSON is valid JSON5) and returns its path. */
  config(name: string, config: unknown): string {
    const file = path.join(this.path, name);
    writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
    return file;
  }

  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

// The result types are the protocol's own (src/control/protocol.ts), so tests and daemon cannot drift.
import type { Stats } from '../../src/control/protocol';
export type { Counters, Stats } from '../../src/control/protocol';
export type { Workers } from './control';

export { stats } from './control';

/** The rule with this name from a stats result (fails the test if it is missing). */
export function ruleStats(s: Stats, name: string): Stats['rules'][number] {
  const r = s.rules.find((x) => x.name === name);
  assert.ok(r, `no rule named ${name} in stats`);
  return r;
}

/** rx_packets and tx_packets of an interface, read from the kernel inside its namespace. */
export async function linkCounters(t: Topology, ns: string, ifname: string): Promise<{ rx: number; tx: number }> {
  const [rx, tx] = await Promise.all([t.counter(ns, ifname, 'rx_packets'), t.counter(ns, ifname, 'tx_packets')]);
  return { rx, tx };
}

/** Every one of `n` packets arrived exactly once and intact (and, unless allowed, nothing else). */
export function assertDelivered(got: RecvResult, n: number, label: string, opts: { allowForeign?: boolean } = {}): void {
  const seen = {
    received: got.received,
    unique: got.unique,
    lost: got.lost,
    duplicates: got.duplicates,
    corrupted: got.corrupted,
    ...(opts.allowForeign ? {} : { foreign: got.foreign }),
  };
  const want = { received: n, unique: n, lost: 0, duplicates: 0, corrupted: 0, ...(opts.allowForeign ? {} : { foreign: 0 }) };
  assert.deepEqual(seen, want, `${label}: ${JSON.stringify(got)}`);
}

/** Runs async jobs with at most `limit` in flight, in order. */
export async function inBatches<T>(items: T[], limit: number, job: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += limit) await Promise.all(items.slice(i, i + limit).map(job));
}

/** One of several streams through quietOneHop: its own source and group, relayed r0 -> r1. */
export interface TestStream {
  id: number;
  source: string;
  input: string;
  output: string;
  port: number;
  count: number;
}

/**
 * Stream k (0..n-1): source 10.0.1.(11+k) -> 239.1.1.(k+1):5001 -> 239.2.2.(k+1):(6001+k), with
 * count(k) packets. Different sources and groups, so a fanout hash spreads them over workers.
 */
export function testStreams(count: (k: number) => number, n = 4): TestStream[] {
  return Array.from({ length: n }, (_, k) => ({
    id: k + 1,
    source: `10.0.1.${11 + k}`,
    input: `239.1.1.${k + 1}`,
    output: `239.2.2.${k + 1}`,
    port: 6001 + k,
    count: count(k),
  }));
}

/** The streams' source addresses on gen's g0. */
export async function addStreamSources(t: Topology, streams: TestStream[]): Promise<void> {
  for (const s of streams) await t.ip('gen', ['addr', 'add', `${s.source}/24`, 'dev', 'g0']);
}

/** One rule per stream (named streamN), added with mcrctl. */
export async function addStreamRules(mcrd: DaemonHandle, streams: TestStream[]): Promise<void> {
  for (const s of streams) {
    const rule = `--input-interface r0 --input-group ${s.input} --input-port 5001 --outputs ${s.output}:${s.port}:r1 --name stream${s.id}`;
    await mcrd.ctl(['add', ...rule.split(' ')]);
  }
}
