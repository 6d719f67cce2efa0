// SPDX-License-Identifier: MIT
// PIM-SM routing between mcr and FRR 8.4's pimd (RFC 7761), IGMP off on the links between routers:
// what goes over those links is PIM alone.
//
// FRR as first hop and RP, mcr as last-hop DR (the scenario 2):
//   src: s0 10.0.40.1 <-> frr: f0 10.0.40.2 | f1 10.0.41.2, RP 10.255.0.2 on lo
//                         <-> mcr: m0 10.0.41.1 (pim) | m1 10.0.42.1 (igmp) <-> rcv: r0 10.0.42.2 (listener)
// A listener behind mcr joins; FRR shows mcr's (*,G) Join; the source's first packets come down
// the shared tree and switch mcr to the shortest-path tree (FRR shows the (S,G) Join); a stream sent
// after that arrives exactly, from its source; the listener leaves and FRR's join state goes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { frrSkipReason, startFrr, type FrrInstance } from '../../lab/frr';
import { MCRCTL } from '../../lab/paths';
import type { MrouteResult, PimJoinsResult, PimRpResult, Stats } from '../../src/control/protocol';
import type { McrEvent } from '../../src/daemon/events';
import { pollUntil } from '../helpers/control';
import { TempDir } from '../helpers/datapath';
import { send, skipReason, startDaemon, Topology, type DaemonHandle } from '../helpers/netns';
import {
  frrPimdConfig,
  frrPimInterface,
  mcrPimConfig,
  sendUntil,
  shortIgmpConfig,
  startListener,
  waitForFrrNeighbor,
  waitForMcrNeighbors,
  type FrrJoins,
} from '../helpers/pim-lab';

const skip = skipReason() ?? frrSkipReason();
const GROUP = '239.40.40.40';
const SOURCE = '10.0.40.1';
const RP = '10.255.0.2';
const FRR_UPSTREAM = '10.0.41.2';
const MCR_PIM = '10.0.41.1';
const N = 500;
/** Hellos every second (both sides), Join/Prune every 5 s on mcr's side. */
const DEADLINE_MS = 30_000;

describe('PIM-SM: FRR as first hop and RP, mcr as last-hop DR', { skip }, () => {
  let t: Topology;
  let mcrd: DaemonHandle;
  let frr: FrrInstance;
  const dir = new TempDir();

  before(async () => {
    t = new Topology('pimr');
    for (const ns of ['src', 'frr', 'mcr', 'rcv']) await t.addNamespace(ns);
    await t.link('src', 's0', '10.0.40.1/24', 'frr', 'f0', '10.0.40.2/24');
    await t.link('frr', 'f1', '10.0.41.2/24', 'mcr', 'm0', '10.0.41.1/24');
    await t.link('mcr', 'm1', '10.0.42.1/24', 'rcv', 'r0', '10.0.42.2/24');
    await t.ip('frr', ['addr', 'add', `${RP}/32`, 'dev', 'lo']);
    await t.ip('frr', ['link', 'set', 'lo', 'up']);
    await t.ip('src', ['route', 'add', 'default', 'via', '10.0.40.2']);
    await t.ip('rcv', ['route', 'add', 'default', 'via', '10.0.42.1']);
    // mcr's unicast routes towards the RP and the source: its RPF.
    await t.ip('mcr', ['route', 'add', `${RP}/32`, 'via', FRR_UPSTREAM]);
    await t.ip('mcr', ['route', 'add', '10.0.40.0/24', 'via', FRR_UPSTREAM]);
    await t.ip('frr', ['route', 'add', '10.0.42.0/24', 'via', MCR_PIM]);
    frr = await startFrr(t, 'frr', {
      pimd: frrPimdConfig(
        [frrPimInterface('lo'), frrPimInterface('f0', { hello: true }), frrPimInterface('f1', { hello: true })],
        RP,
        '239.0.0.0/8',
      ),
    });
    const configFile = dir.config('mcr.json', { pim: mcrPimConfig(['m0'], RP, '239.0.0.0/8'), igmp: shortIgmpConfig('m1'), rules: [] });
    mcrd = await startDaemon(t, 'mcr', { configFile });
    await waitForFrrNeighbor(frr, 'f1', MCR_PIM, DEADLINE_MS);
  });
  after(async () => {
    await mcrd?.stop();
    await frr?.stop();
    await t?.destroy();
    dir.remove();
  });

  const frrJoins = (): Promise<FrrJoins> => frr.vtyshJson<FrrJoins>('show ip pim join');
  const routes = async (): Promise<MrouteResult['routes']> => (await mcrd.request('mroute')).routes;

  it('joins towards the RP for a listener, switches to the source tree, forwards exactly, and prunes on leave', async () => {
    const events = t.spawn('mcr', 'mcrctl events --json', 'node', [MCRCTL, '--socket', mcrd.socket, 'events', '--json']);
    const listener = startListener(t, 'rcv', 'r0', GROUP, 7000);
    await listener.ready;
    // FRR (the RP's router) has mcr's (*,G) Join on f1.
    await pollUntil(frrJoins, (j) => j.f1?.[GROUP]?.['*'] !== undefined, "FRR to show mcr's (*,G) Join on f1", DEADLINE_MS, 250);
    const starG = (await routes()).find((r) => r.group === GROUP && r.source === undefined);
    assert.deepEqual(starG?.origins, ['pim']);
    assert.equal(starG?.interface, 'm0');
    assert.deepEqual(
      starG?.outputs.map((o) => o.interface),
      ['m1'],
    );

    // The first packets come down the shared tree; mcr joins the source and FRR shows it.
    const warm = { ns: 'src', group: GROUP, source: SOURCE, port: 7001 };
    await sendUntil(t, warm, frrJoins, (j) => j.f1?.[GROUP]?.[SOURCE] !== undefined, "FRR to show mcr's (S,G) Join on f1", DEADLINE_MS);
    const sg = await pollUntil(routes, (r) => r.some((x) => x.group === GROUP && x.source === SOURCE), 'the (S,G) route');
    assert.equal(sg.find((x) => x.group === GROUP && x.source === SOURCE)?.interface, 'm0');

    // mcrctl pim rp / pim joins show that state: the RP through FRR, both Joins sent, the SPT source.
    const rp = JSON.parse((await mcrd.ctl(['pim', 'rp', '--json'])).stdout) as PimRpResult;
    assert.deepEqual(rp, {
      enabled: true,
      rps: [{ groups: '239.0.0.0/8', rp: RP, self: false, rpf: { interface: 'm0', neighbor: FRR_UPSTREAM, local: false } }],
    });
    const pimJoins = async (): Promise<PimJoinsResult> => JSON.parse((await mcrd.ctl(['pim', 'joins', '--json'])).stdout) as PimJoinsResult;
    const joined = await pollUntil(
      pimJoins,
      (j) => j.upstream.filter((u) => u.group === GROUP && u.state === 'joined').length === 2,
      'mcrctl pim joins to show the (*,G) and (S,G) joined',
    );
    const upstream = (route: string) => joined.upstream.find((u) => u.route === route);
    for (const route of [`(*,${GROUP})`, `(${SOURCE},${GROUP})`]) {
      assert.equal(upstream(route)?.state, 'joined', JSON.stringify(joined));
      assert.deepEqual(upstream(route)?.rpf, { interface: 'm0', neighbor: FRR_UPSTREAM }, JSON.stringify(joined));
    }
    assert.equal(upstream(`(*,${GROUP})`)?.rp, RP);
    assert.deepEqual(
      joined.sources.filter((s) => s.group === GROUP).map((s) => [s.route, s.kind]),
      [[`(${SOURCE},${GROUP})`, 'spt']],
    );
    const rpText = (await mcrd.ctl(['pim', 'rp'])).stdout;
    assert.match(rpText, /^239\.0\.0\.0\/8\s+10\.255\.0\.2\s+no\s+m0\s+10\.0\.41\.2$/m, rpText);
    const joinsText = (await mcrd.ctl(['pim', 'joins'])).stdout;
    assert.match(joinsText, /^\(\*,239\.40\.40\.40\)\s+10\.255\.0\.2\s+joined\s+m0\s+10\.0\.41\.2\s/m, joinsText);
    assert.match(joinsText, /^\(10\.0\.40\.1,239\.40\.40\.40\)\s+-\s+joined\s+m0\s+10\.0\.41\.2\s/m, joinsText);
    assert.match(joinsText, /^\(10\.0\.40\.1,239\.40\.40\.40\)\s+spt\s/m, joinsText);

    // PIM's routes bring their traffic with Joins: mcr's host stack joined nothing on m0 (no IGMP
    // report went up), though both routes take their packets from there.
    const hex = (a: string): string => Buffer.from(a.split('.').map(Number)).readUInt32LE(0).toString(16).toUpperCase().padStart(8, '0');
    const igmp = (await t.exec('mcr', 'cat', ['/proc/net/igmp'])).stdout;
    const m0Groups = igmp.split(/\n(?=\d)/).find((block) => /^\d+\s+m0\b/.test(block)) ?? '';
    assert.ok(!m0Groups.includes(hex(GROUP)), `no membership of ${GROUP} on m0: ${igmp}`);

    // After the switch: exactly N to the listener, from the source.
    await send(t, 'src', { group: GROUP, port: 7000, source: SOURCE, rate: 2000, count: N, ttl: 16 });
    await pollUntil(
      async () => (await routes()).find((x) => x.group === GROUP && x.source === SOURCE)?.packets ?? 0,
      (p) => p >= N,
      'the (S,G) route to count the stream',
    );
    await new Promise((r) => setTimeout(r, 500));
    const got = await listener.stop();
    assert.deepEqual(got.bySource, { [SOURCE]: N });
    // The switch came from a punted packet; PIM's message counts are in mcrctl stats.
    const stats = JSON.parse((await mcrd.ctl(['stats', '--json'])).stdout) as Stats;
    assert.ok(stats.totals.punted > 0, JSON.stringify(stats.totals));
    assert.ok((stats.protocols?.pim?.sent.join_prune ?? 0) > 0, JSON.stringify(stats.protocols));
    assert.ok((stats.protocols?.igmp?.received.report_v3 ?? 0) > 0, JSON.stringify(stats.protocols));
    const text = (await mcrd.ctl(['stats'])).stdout;
    assert.match(text, /^punts to mcrd \(PIM\): [1-9]\d* copied/m);
    assert.match(text, /^pim \(totals\): received .*hello \d+/m);

    // The leave: mcr prunes, FRR's join state for f1 goes.
    await pollUntil(frrJoins, (j) => j.f1?.[GROUP] === undefined, "FRR's join state on f1 to go after the leave", DEADLINE_MS, 250);
    await pollUntil(routes, (r) => !r.some((x) => x.group === GROUP && x.origins.includes('pim')), "mcr's PIM routes to go");
    await events.stop('SIGTERM');
    const seen = events.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as McrEvent);
    const joins = seen.filter((e) => e.type === 'pim.join' && e.direction === 'upstream');
    assert.ok(
      joins.some((e) => e.type === 'pim.join' && e.route === `(*,${GROUP})` && e.neighbor === FRR_UPSTREAM),
      JSON.stringify(seen),
    );
    assert.ok(
      joins.some((e) => e.type === 'pim.join' && e.route === `(${SOURCE},${GROUP})`),
      JSON.stringify(seen),
    );
    assert.ok(
      seen.some((e) => e.type === 'pim.prune' && e.route === `(*,${GROUP})`),
      JSON.stringify(seen),
    );
  });
});

// The switch to the source tree through another neighbour than the RP's, with the RPT prune:
//   src: s0 10.0.45.1 <-> fhr (FRR): f0 10.0.45.2 | f1 10.0.46.1 <-> rp (FRR): p1 10.0.46.2, RP 10.255.0.4 on lo
//   fhr f2 10.0.47.1 <-> mcr m2 10.0.47.2 (the source tree);  rp p2 10.0.48.1 <-> mcr m0 10.0.48.2 (the shared tree)
//   mcr m1 10.0.49.1 (igmp) <-> rcv r0 10.0.49.2 (listener)
// mcr joins (*,G) towards the RP on m0; the source's first packets come down the shared tree; mcr
// joins (S,G) towards the first hop on m2 and prunes S off the shared tree: the RP shows the
// (S,G,rpt) prune from mcr on p2; the stream then arrives once, by the source tree.
describe('PIM-SM: the switch to the source tree through another neighbour prunes the source off the shared tree', { skip }, () => {
  const G = '239.45.45.45';
  const S = '10.0.45.1';
  const RP4 = '10.255.0.4';
  let t: Topology;
  let mcrd: DaemonHandle;
  let fhr: FrrInstance;
  let rp: FrrInstance;
  const dir = new TempDir();

  before(async () => {
    t = new Topology('pimt');
    for (const ns of ['src', 'fhr', 'rp', 'mcr', 'rcv']) await t.addNamespace(ns);
    await t.link('src', 's0', `${S}/24`, 'fhr', 'f0', '10.0.45.2/24');
    await t.link('fhr', 'f1', '10.0.46.1/24', 'rp', 'p1', '10.0.46.2/24');
    await t.link('fhr', 'f2', '10.0.47.1/24', 'mcr', 'm2', '10.0.47.2/24');
    await t.link('rp', 'p2', '10.0.48.1/24', 'mcr', 'm0', '10.0.48.2/24');
    await t.link('mcr', 'm1', '10.0.49.1/24', 'rcv', 'r0', '10.0.49.2/24');
    await t.ip('rp', ['addr', 'add', `${RP4}/32`, 'dev', 'lo']);
    await t.ip('src', ['route', 'add', 'default', 'via', '10.0.45.2']);
    await t.ip('rcv', ['route', 'add', 'default', 'via', '10.0.49.1']);
    await t.ip('fhr', ['route', 'add', `${RP4}/32`, 'via', '10.0.46.2']);
    await t.ip('fhr', ['route', 'add', '10.0.49.0/24', 'via', '10.0.47.2']);
    await t.ip('rp', ['route', 'add', '10.0.45.0/24', 'via', '10.0.46.1']);
    await t.ip('rp', ['route', 'add', '10.0.49.0/24', 'via', '10.0.48.2']);
    await t.ip('mcr', ['route', 'add', `${RP4}/32`, 'via', '10.0.48.1']);
    await t.ip('mcr', ['route', 'add', '10.0.45.0/24', 'via', '10.0.47.1']);
    const hello = { hello: true };
    fhr = await startFrr(t, 'fhr', {
      pimd: frrPimdConfig([frrPimInterface('f0'), frrPimInterface('f1', hello), frrPimInterface('f2', hello)], RP4, '239.0.0.0/8'),
    });
    rp = await startFrr(t, 'rp', {
      pimd: frrPimdConfig([frrPimInterface('lo'), frrPimInterface('p1', hello), frrPimInterface('p2', hello)], RP4, '239.0.0.0/8'),
    });
    mcrd = await startDaemon(t, 'mcr', {
      configFile: dir.config('mcr.json', { pim: mcrPimConfig(['m0', 'm2'], RP4, '239.0.0.0/8'), igmp: shortIgmpConfig('m1'), rules: [] }),
    });
    await waitForMcrNeighbors(mcrd, (n) => n.neighbors.length === 2, 'mcr to see both FRR routers', DEADLINE_MS);
  });
  after(async () => {
    await mcrd?.stop();
    await fhr?.stop();
    await rp?.stop();
    await t?.destroy();
    dir.remove();
  });

  it('joins (S,G) towards the first hop, prunes S off the shared tree at the RP, and forwards the stream once', async () => {
    const listener = startListener(t, 'rcv', 'r0', G, 7000);
    await listener.ready;
    await pollUntil(
      () => rp.vtyshJson<FrrJoins>('show ip pim join'),
      (j) => j.p2?.[G]?.['*'] !== undefined,
      "the RP to show mcr's (*,G) Join on p2",
      DEADLINE_MS,
      250,
    );
    await sendUntil(
      t,
      { ns: 'src', group: G, source: S, port: 7001 },
      () => fhr.vtyshJson<FrrJoins>('show ip pim join'),
      (j) => j.f2?.[G]?.[S] !== undefined,
      "the first hop to show mcr's (S,G) Join on f2",
      DEADLINE_MS,
    );
    const joins = await pollUntil(
      () => mcrd.request('pim.joins'),
      (j) => j.upstream.some((u) => u.source === null && u.group === G && u.rptPrunes.includes(S)),
      "mcr's (*,G) to carry the Prune(S,G,rpt)",
      DEADLINE_MS,
      250,
    );
    assert.ok(
      joins.upstream.some((u) => u.source === S && u.rpf?.interface === 'm2'),
      JSON.stringify(joins),
    );
    const rpJoins = await pollUntil(
      () => rp.vtyshJson<FrrJoins>('show ip pim join'),
      (j) => j.p2?.[G]?.[S] !== undefined,
      "the RP to show mcr's (S,G,rpt) prune on p2",
      DEADLINE_MS,
      250,
    );
    assert.match(JSON.stringify(rpJoins.p2?.[G]?.[S]), /PRUNE/i, JSON.stringify(rpJoins));
    await send(t, 'src', { group: G, port: 7000, source: S, rate: 2000, count: N, ttl: 16 });
    await new Promise((r) => setTimeout(r, 1000));
    const got = await listener.stop();
    assert.deepEqual(got.bySource, { [S]: N });
  });
});
