// SPDX-License-Identifier: MIT
// Two PIM-SM domains joined by MSDP (RFC 3618, the scenario 6): FRR 8.4 is RP of domain A,
// mcr is RP of domain B, and they peer over MSDP and PIM on the link between them.
//   srcA: s0 10.0.70.2 <-> frr: f1 10.0.70.1 | f0 10.0.71.2 (RP A, MSDP)
//     <-> mcr: m0 10.0.71.1 (RP B, MSDP) | m1 10.0.72.1 (igmp) <-> rcv: r0 10.0.72.2 (listener)
//                                          | m2 10.0.73.1 (pim, DR) <-> srcB: s0 10.0.73.2
// A source in A appears in mcr's SA cache; mcr, with a listener for the group, joins it across the
// domain border and the listener gets the stream, exactly, from its source. A source in B (at mcr,
// its RP and first hop) appears in FRR's SA cache with mcr as RP.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { frrSkipReason, startFrr, type FrrInstance } from '../../lab/frr';
import type { MsdpSaResult } from '../../src/control/protocol';
import { pollUntil } from '../helpers/control';
import { TempDir } from '../helpers/datapath';
import { send, skipReason, startDaemon, Topology, type DaemonHandle } from '../helpers/netns';
import { frrPimInterface, mcrPimConfig, shortIgmpConfig, startListener, waitForMcrNeighbors, type FrrJoins } from '../helpers/pim-lab';

const skip = skipReason() ?? frrSkipReason();
const MCR = '10.0.71.1';
const FRR = '10.0.71.2';
const SOURCE_A = '10.0.70.2';
const SOURCE_B = '10.0.73.2';
const GROUP = '239.70.70.70';
const N = 400;
const DEADLINE_MS = 30_000;

describe('MSDP between two PIM domains: FRR as RP of one, mcr as RP of the other', { skip }, () => {
  let t: Topology;
  let mcrd: DaemonHandle;
  let frr: FrrInstance;
  const dir = new TempDir();

  before(async () => {
    t = new Topology('msdpim');
    for (const ns of ['srca', 'frr', 'mcr', 'rcv', 'srcb']) await t.addNamespace(ns);
    await t.link('srca', 's0', `${SOURCE_A}/24`, 'frr', 'f1', '10.0.70.1/24');
    await t.link('frr', 'f0', `${FRR}/24`, 'mcr', 'm0', `${MCR}/24`);
    await t.link('mcr', 'm1', '10.0.72.1/24', 'rcv', 'r0', '10.0.72.2/24');
    await t.link('mcr', 'm2', '10.0.73.1/24', 'srcb', 's0', `${SOURCE_B}/24`);
    await t.ip('srca', ['route', 'add', 'default', 'via', '10.0.70.1']);
    await t.ip('srcb', ['route', 'add', 'default', 'via', '10.0.73.1']);
    await t.ip('rcv', ['route', 'add', 'default', 'via', '10.0.72.1']);
    await t.ip('mcr', ['route', 'add', '10.0.70.0/24', 'via', FRR]);
    for (const to of ['10.0.72.0/24', '10.0.73.0/24']) await t.ip('frr', ['route', 'add', to, 'via', MCR]);
    frr = await startFrr(t, 'frr', {
      pimd: [
        'ip msdp timers 2 6 2',
        `ip msdp peer ${MCR} source ${FRR}`,
        `ip pim rp ${FRR} 239.0.0.0/8`,
        frrPimInterface('f0', { hello: true }),
        frrPimInterface('f1'),
      ].join('\n'),
    });
    const configFile = dir.config('mcr.json', {
      pim: mcrPimConfig(['m0', 'm2'], MCR, '239.0.0.0/8'),
      igmp: shortIgmpConfig('m1'),
      msdp: { localAddress: MCR, peers: [{ address: FRR }], keepaliveInterval: 2, holdTime: 6, connectRetry: 2 },
      rules: [],
    });
    mcrd = await startDaemon(t, 'mcr', { configFile });
    await pollUntil(
      () => mcrd.request('msdp.peers'),
      (p) => p.peers[0]?.state === 'established',
      'the MSDP session',
      DEADLINE_MS,
      200,
    );
    await waitForMcrNeighbors(mcrd, (n) => n.neighbors.some((x) => x.address === FRR), 'FRR as PIM neighbour', DEADLINE_MS);
  });
  after(async () => {
    await mcrd?.stop();
    await frr?.stop();
    await t?.destroy();
    dir.remove();
  });

  it("a source in FRR's domain reaches a listener in mcr's domain across the border", async () => {
    const listener = startListener(t, 'rcv', 'r0', GROUP, 7000);
    await listener.ready;
    // The source becomes active at FRR (its RP and first hop): an SA reaches mcr.
    const warmUp = send(t, 'srca', { group: GROUP, port: 7001, source: SOURCE_A, rate: 20, count: 100, ttl: 16 });
    const sa = await pollUntil(
      () => mcrd.request('msdp.sa'),
      (r: MsdpSaResult) => r.entries.some((e) => e.source === SOURCE_A && e.group === GROUP),
      "FRR's SA in mcr's cache",
      DEADLINE_MS,
      200,
    );
    assert.equal(sa.entries.find((e) => e.source === SOURCE_A)?.rp, FRR);
    // mcr has a listener: it joins the source across the border.
    await pollUntil(
      () => frr.vtyshJson<FrrJoins>('show ip pim join'),
      (j) => j.f0?.[GROUP]?.[SOURCE_A] !== undefined,
      "mcr's (S,G) Join at FRR on f0",
      DEADLINE_MS,
      250,
    );
    await warmUp;
    const joins = await mcrd.request('pim.joins');
    assert.ok(
      joins.sources.some((s) => s.source === SOURCE_A && s.group === GROUP && s.kind === 'msdp'),
      JSON.stringify(joins),
    );
    await send(t, 'srca', { group: GROUP, port: 7000, source: SOURCE_A, rate: 2000, count: N, ttl: 16 });
    await new Promise((r) => setTimeout(r, 1000));
    const got = await listener.stop();
    assert.deepEqual(got.bySource, { [SOURCE_A]: N });
  });

  it("a source at mcr (RP and first hop of its domain) appears in FRR's SA cache with mcr as RP", async () => {
    const sending = send(t, 'srcb', { group: GROUP, port: 7002, source: SOURCE_B, rate: 20, count: 100, ttl: 16 });
    const sa = await pollUntil(
      () => frr.vtyshJson<Record<string, Record<string, { rp: string }>>>('show ip msdp sa'),
      (v) => v[GROUP]?.[SOURCE_B] !== undefined,
      "FRR's SA cache to list mcr's source",
      DEADLINE_MS,
      250,
    );
    assert.equal(sa[GROUP]?.[SOURCE_B]?.rp, MCR);
    assert.ok((await mcrd.request('msdp.sa')).originated.some((o) => o.source === SOURCE_B && o.group === GROUP));
    await sending;
  });
});
