// SPDX-License-Identifier: MIT
// PIM-SM Register (RFC 7761 4.4) between mcr and FRR 8.4's pimd, IGMP off between the routers.
//
// mcr as first-hop DR, FRR as RP and last hop (the scenario 3):
//   src: s0 10.0.50.1 <-> mcr: m0 10.0.50.2 (pim, DR) | m1 10.0.51.1 (pim)
//                         <-> frr: f1 10.0.51.2, RP 10.255.0.5 on lo | f2 10.0.52.1 (igmp) <-> rcv: r0 10.0.52.2
// The source's first packets reach mcr's (*,*) watch on m0; mcr registers them to the RP, which
// accepts them (FRR's upstream shows the (S,G)), forwards them to its listener and joins the source
// through mcr; once the native packets arrive FRR sends Register-Stop and mcr stops encapsulating:
// a second stream is delivered exactly, natively, and no data Register leaves mcr meanwhile.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { frrSkipReason, startFrr, type FrrInstance } from '../../lab/frr';
import type { MrouteResult, PimInterfacesResult } from '../../src/control/protocol';
import { pollUntil } from '../helpers/control';
import { TempDir } from '../helpers/datapath';
import { send, skipReason, startDaemon, Topology, type DaemonHandle } from '../helpers/netns';
import { frrPimdConfig, frrPimInterface, mcrPimConfig, sendUntil, startListener, waitForFrrNeighbor } from '../helpers/pim-lab';

const skip = skipReason() ?? frrSkipReason();
const GROUP = '239.50.50.50';
const SOURCE = '10.0.50.1';
const RP = '10.255.0.5';
const MCR_UP = '10.0.51.1';
const FRR_DOWN = '10.0.51.2';
const N = 400;
const DEADLINE_MS = 30_000;

/** FRR's `show ip pim upstream json`: group -> source -> entry. */
type FrrUpstream = Record<string, Record<string, { state?: string; regState?: string; joinState?: string; inboundInterface?: string }>>;

describe('PIM-SM: mcr as first-hop DR registering to FRR as RP and last hop', { skip }, () => {
  let t: Topology;
  let mcrd: DaemonHandle;
  let frr: FrrInstance;
  const dir = new TempDir();

  before(async () => {
    t = new Topology('pimg');
    for (const ns of ['src', 'mcr', 'frr', 'rcv']) await t.addNamespace(ns);
    await t.link('src', 's0', '10.0.50.1/24', 'mcr', 'm0', '10.0.50.2/24');
    await t.link('mcr', 'm1', `${MCR_UP}/24`, 'frr', 'f1', `${FRR_DOWN}/24`);
    await t.link('frr', 'f2', '10.0.52.1/24', 'rcv', 'r0', '10.0.52.2/24');
    await t.ip('frr', ['addr', 'add', `${RP}/32`, 'dev', 'lo']);
    await t.ip('frr', ['link', 'set', 'lo', 'up']);
    await t.ip('src', ['route', 'add', 'default', 'via', '10.0.50.2']);
    await t.ip('rcv', ['route', 'add', 'default', 'via', '10.0.52.1']);
    await t.ip('mcr', ['route', 'add', `${RP}/32`, 'via', FRR_DOWN]);
    await t.ip('mcr', ['route', 'add', '10.0.52.0/24', 'via', FRR_DOWN]);
    await t.ip('frr', ['route', 'add', '10.0.50.0/24', 'via', MCR_UP]);
    frr = await startFrr(t, 'frr', {
      pimd: frrPimdConfig(
        [frrPimInterface('lo'), frrPimInterface('f1', { hello: true }), frrPimInterface('f2', { igmp: true })],
        RP,
        '239.0.0.0/8',
      ),
    });
    const configFile = dir.config('mcr.json', { pim: mcrPimConfig(['m0', 'm1'], RP, '239.0.0.0/8'), rules: [] });
    mcrd = await startDaemon(t, 'mcr', { configFile });
    await waitForFrrNeighbor(frr, 'f1', MCR_UP, DEADLINE_MS);
    // mcr is DR on the source's LAN (it is the only router there).
    await pollUntil(
      () => mcrd.request('pim.interfaces'),
      (r: PimInterfacesResult) => r.interfaces.find((i) => i.interface === 'm0')?.dr?.self === true,
      'mcr to be DR on m0',
      DEADLINE_MS,
      200,
    );
  });
  after(async () => {
    await mcrd?.stop();
    await frr?.stop();
    await t?.destroy();
    dir.remove();
  });

  const routes = async (): Promise<MrouteResult['routes']> => (await mcrd.request('mroute')).routes;
  const counters = async () => (await mcrd.request('pim.interfaces')).counters;

  it('registers a new source to the RP, which joins it; Register-Stop ends the encapsulation; the stream arrives exactly', async () => {
    const listener = startListener(t, 'rcv', 'r0', GROUP, 7000);
    await listener.ready;
    await pollUntil(
      () => frr.vtyshJson<FrrUpstream>('show ip pim upstream'),
      (u) => u[GROUP]?.['*'] !== undefined,
      "FRR's (*,G) for its listener",
      DEADLINE_MS,
      250,
    );

    // The first packets: registered by mcr, accepted by FRR, which joins the source through mcr.
    const warm = { ns: 'src', group: GROUP, source: SOURCE, port: 7001 };
    const upstream = await sendUntil(
      t,
      warm,
      () => frr.vtyshJson<FrrUpstream>('show ip pim upstream'),
      (u) => u[GROUP]?.[SOURCE] !== undefined,
      "FRR's (S,G) from mcr's Registers",
      DEADLINE_MS,
    );
    assert.ok(upstream[GROUP]?.[SOURCE], JSON.stringify(upstream));
    assert.ok(((await counters()).sent.register ?? 0) > 0, 'mcr sent Registers');
    // FRR joins the source: its (S,G) comes in on f1, from mcr.
    await pollUntil(
      () => frr.vtyshJson<FrrUpstream>('show ip pim upstream'),
      (u) => u[GROUP]?.[SOURCE]?.joinState === 'Joined' && u[GROUP]?.[SOURCE]?.inboundInterface === 'f1',
      "FRR's (S,G) joined towards mcr on f1",
      DEADLINE_MS,
      250,
    );
    // The source's native packets reach the RP, which answers the Registers with Register-Stop.
    await sendUntil(t, warm, counters, (c) => (c.received.register_stop ?? 0) > 0, 'a Register-Stop from FRR', DEADLINE_MS);
    const sg = (await routes()).find((r) => r.group === GROUP && r.source === SOURCE);
    assert.equal(sg?.interface, 'm0');
    assert.deepEqual(
      sg?.outputs.map((o) => o.interface),
      ['m1'],
    );

    // After the Register-Stop: N packets natively, exactly, from the source, and no data Register.
    const registersBefore = (await counters()).sent.register ?? 0;
    const sgPackets = async () => (await routes()).find((r) => r.group === GROUP && r.source === SOURCE)?.packets ?? 0;
    const packetsBefore = await sgPackets();
    await send(t, 'src', { group: GROUP, port: 7000, source: SOURCE, rate: 2000, count: N, ttl: 16 });
    await pollUntil(sgPackets, (p) => p >= packetsBefore + N, "the (S,G) route's count");
    await new Promise((r) => setTimeout(r, 500));
    const got = await listener.stop();
    assert.deepEqual(got.bySource, { [SOURCE]: N });
    assert.equal((await counters()).sent.register ?? 0, registersBefore, 'no Register while suppressed');
  });
});
