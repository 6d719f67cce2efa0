// SPDX-License-Identifier: MIT
// mcr as the RP between two FRR 8.4 routers (the scenario 4), IGMP off between routers:
//   src: s0 10.0.60.1 <-> fhr (FRR): a0 10.0.60.2 | a1 10.0.61.2
//     <-> mcr: m0 10.0.61.1 | m1 10.0.62.1, RP 10.255.0.9 on lo
//     <-> lhr (FRR): b1 10.0.62.2 | b2 10.0.63.1 (igmp) <-> rcv: r0 10.0.63.2 (listener)
// The last hop's (*,G) Join reaches mcr; the first hop's Registers reach mcr, which forwards their
// packets down the shared tree, joins the source and answers with Register-Stop once the native
// packets arrive; a stream sent after that reaches the listener exactly, from its source.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { frrSkipReason, startFrr, type FrrInstance } from '../../lab/frr';
import type { PimInterfacesResult } from '../../src/control/protocol';
import { pollUntil } from '../helpers/control';
import { TempDir } from '../helpers/datapath';
import { send, skipReason, startDaemon, Topology, type DaemonHandle } from '../helpers/netns';
import {
  frrPimdConfig,
  frrPimInterface,
  mcrPimConfig,
  sendUntil,
  startListener,
  waitForMcrNeighbors,
  type FrrJoins,
} from '../helpers/pim-lab';

const skip = skipReason() ?? frrSkipReason();
const GROUP = '239.60.60.60';
const SOURCE = '10.0.60.1';
const RP = '10.255.0.9';
const N = 400;
const DEADLINE_MS = 30_000;

type FrrUpstream = Record<
  string,
  Record<string, { joinState?: string; regState?: string; inboundInterface?: string; rpfAddress?: string }>
>;

describe('PIM-SM: mcr as RP between an FRR first hop and an FRR last hop', { skip }, () => {
  let t: Topology;
  let mcrd: DaemonHandle;
  let fhr: FrrInstance;
  let lhr: FrrInstance;
  const dir = new TempDir();

  before(async () => {
    t = new Topology('pimp');
    for (const ns of ['src', 'fhr', 'mcr', 'lhr', 'rcv']) await t.addNamespace(ns);
    await t.link('src', 's0', '10.0.60.1/24', 'fhr', 'a0', '10.0.60.2/24');
    await t.link('fhr', 'a1', '10.0.61.2/24', 'mcr', 'm0', '10.0.61.1/24');
    await t.link('mcr', 'm1', '10.0.62.1/24', 'lhr', 'b1', '10.0.62.2/24');
    await t.link('lhr', 'b2', '10.0.63.1/24', 'rcv', 'r0', '10.0.63.2/24');
    await t.ip('mcr', ['addr', 'add', `${RP}/32`, 'dev', 'lo']);
    await t.ip('mcr', ['link', 'set', 'lo', 'up']);
    await t.ip('src', ['route', 'add', 'default', 'via', '10.0.60.2']);
    await t.ip('rcv', ['route', 'add', 'default', 'via', '10.0.63.1']);
    // Host routes, not defaults: FRR's next-hop tracking does not resolve through a default route.
    for (const to of [`${RP}/32`, '10.0.62.0/24', '10.0.63.0/24']) await t.ip('fhr', ['route', 'add', to, 'via', '10.0.61.1']);
    for (const to of [`${RP}/32`, '10.0.60.0/24', '10.0.61.0/24']) await t.ip('lhr', ['route', 'add', to, 'via', '10.0.62.1']);
    await t.ip('mcr', ['route', 'add', '10.0.60.0/24', 'via', '10.0.61.2']);
    await t.ip('mcr', ['route', 'add', '10.0.63.0/24', 'via', '10.0.62.2']);
    fhr = await startFrr(t, 'fhr', {
      pimd: frrPimdConfig([frrPimInterface('a0'), frrPimInterface('a1', { hello: true })], RP, '239.0.0.0/8'),
    });
    lhr = await startFrr(t, 'lhr', {
      pimd: frrPimdConfig([frrPimInterface('b1', { hello: true }), frrPimInterface('b2', { igmp: true })], RP, '239.0.0.0/8'),
    });
    const configFile = dir.config('mcr.json', { pim: mcrPimConfig(['m0', 'm1'], RP, '239.0.0.0/8'), rules: [] });
    mcrd = await startDaemon(t, 'mcr', { configFile });
    await waitForMcrNeighbors(mcrd, (n) => n.neighbors.length === 2, 'mcr to see both FRR routers', DEADLINE_MS);
  });
  after(async () => {
    await mcrd?.stop();
    await fhr?.stop();
    await lhr?.stop();
    await t?.destroy();
    dir.remove();
  });

  const counters = async (): Promise<PimInterfacesResult['counters']> => (await mcrd.request('pim.interfaces')).counters;

  it("takes the last hop's Join and the first hop's Registers, forwards down the shared tree, and stops the Registers", async () => {
    const listener = startListener(t, 'rcv', 'r0', GROUP, 7000);
    await listener.ready;
    // The last hop joins the shared tree towards mcr.
    await pollUntil(
      () => lhr.vtyshJson<FrrUpstream>('show ip pim upstream'),
      (u) => u[GROUP]?.['*']?.joinState === 'Joined' && u[GROUP]?.['*']?.inboundInterface === 'b1',
      "the last hop's (*,G) joined towards mcr",
      DEADLINE_MS,
      250,
    );
    const joins = await pollUntil(
      () => mcrd.request('pim.joins'),
      (j) => j.downstream.some((d) => d.kind === '*,G' && d.group === GROUP && d.interface === 'm1'),
      "the last hop's (*,G) Join at mcr on m1",
      DEADLINE_MS,
      250,
    );
    assert.ok(
      joins.downstream.some((d) => d.route === `(*,${GROUP})` && d.state === 'join'),
      JSON.stringify(joins),
    );

    // The first packets: the first hop registers them to mcr; they reach the listener down the
    // shared tree; mcr joins the source and stops the Registers once native packets arrive.
    const warm = { ns: 'src', group: GROUP, source: SOURCE, port: 7001 };
    await sendUntil(t, warm, counters, (c) => (c.received.register ?? 0) > 0, 'a Register at mcr', DEADLINE_MS);
    await sendUntil(
      t,
      warm,
      () => fhr.vtyshJson<FrrJoins>('show ip pim join'),
      (j) => j.a1?.[GROUP]?.[SOURCE] !== undefined,
      "mcr's (S,G) Join at the first hop on a1",
      DEADLINE_MS,
    );
    await sendUntil(t, warm, counters, (c) => (c.sent.register_stop ?? 0) > 0, 'a Register-Stop from mcr', DEADLINE_MS);
    await pollUntil(
      () => fhr.vtyshJson<FrrUpstream>('show ip pim upstream'),
      (u) => u[GROUP]?.[SOURCE]?.regState === 'RegPrune',
      "the first hop's Register state to be Prune",
      DEADLINE_MS,
      250,
    );

    // After the switch: exactly N at the listener, natively.
    const registersBefore = (await counters()).received.register ?? 0;
    await send(t, 'src', { group: GROUP, port: 7000, source: SOURCE, rate: 2000, count: N, ttl: 16 });
    await new Promise((r) => setTimeout(r, 1000));
    const got = await listener.stop();
    assert.deepEqual(got.bySource, { [SOURCE]: N });
    assert.equal((await counters()).received.register ?? 0, registersBefore, 'no data Register after the Register-Stop');
  });
});
