// SPDX-License-Identifier: MIT
// PIM Assert (RFC 7761 4.6) on a LAN where two routers forward the same stream (the issue's
// scenario 5, with mcr on both sides of the election): mcr_A forwards onto the LAN for a listener
// there (it is DR, with IGMP), mcr_B for a downstream router's (mcr_C's) Joins; the duplicates make
// them assert, both agree on the winner, the loser stops, and each listener then gets every packet
// exactly once. FRR 8.4 is the first hop and RP.
// With FRR as the other forwarder: pim-assert-frr.test.ts.
//   src: s0 10.0.90.2 <-> fhr (FRR, RP 10.255.0.90): a0 10.0.90.1 | a1 10.0.91.1 | a2 10.0.92.1
//   fhr a1 <-> mcra m0 10.0.91.2;  fhr a2 <-> mcrb b0 10.0.92.2
//   LAN (a bridge, snooping off): mcra m1 10.0.93.2 (DR, IGMP), mcrb b1 10.0.93.3, mcrc c1 10.0.93.4,
//                                 host h0 10.0.93.10 (listener)
//   mcrc c2 10.0.94.1 (IGMP) <-> rcv r0 10.0.94.2 (listener); mcrc reaches the RP and source via mcrb
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { frrSkipReason, type FrrInstance } from '../../lab/frr';
import { pollUntil } from '../helpers/control';
import { TempDir } from '../helpers/datapath';
import { send, skipReason, startDaemon, Topology, type DaemonHandle } from '../helpers/netns';
import {
  ASSERT_LAB,
  assertLanLab,
  mcrPimConfig,
  sendUntil,
  shortIgmpConfig,
  startListener,
  type FrrJoins,
  type McrPimInterface,
  waitForMcrNeighbors,
} from '../helpers/pim-lab';

const skip = skipReason() ?? frrSkipReason();
const GROUP = '239.90.90.90';
const { source: SOURCE, rp: RP, aLan: A_LAN, bLan: B_LAN } = ASSERT_LAB;
const N = 400;
const DEADLINE_MS = 40_000;

describe('PIM Assert: two mcr routers forwarding onto one LAN', { skip }, () => {
  let t: Topology;
  const mcr: Record<'a' | 'b' | 'c', DaemonHandle | undefined> = { a: undefined, b: undefined, c: undefined };
  let fhr: FrrInstance | undefined;
  const dir = new TempDir();

  const pim = (interfaces: McrPimInterface[]) => mcrPimConfig(interfaces, RP, '239.0.0.0/8');

  before(async () => {
    t = new Topology('pima');
    fhr = await assertLanLab(t, 'mcrb');
    mcr.a = await startDaemon(t, 'mcra', {
      configFile: dir.config('a.json', { pim: pim(['m0', { name: 'm1', drPriority: 100 }]), igmp: shortIgmpConfig('m1'), rules: [] }),
    });
    mcr.b = await startDaemon(t, 'mcrb', { configFile: dir.config('b.json', { pim: pim(['b0', 'b1']), rules: [] }) });
    mcr.c = await startDaemon(t, 'mcrc', {
      configFile: dir.config('c.json', { pim: pim(['c1']), igmp: shortIgmpConfig('c2'), rules: [] }),
    });
    await waitForMcrNeighbors(
      mcr.a!,
      (n) => n.neighbors.filter((x) => x.interface === 'm1').length === 2 && n.neighbors.some((x) => x.interface === 'm0'),
      'mcr_A to see FRR on m0 and mcr_B, mcr_C on the LAN',
      DEADLINE_MS,
    );
  });
  after(async () => {
    for (const h of Object.values(mcr)) await h?.stop();
    await fhr?.stop();
    await t?.destroy();
    dir.remove();
  });

  it('both agree on the Assert winner, the loser stops, and each listener gets every packet once', async () => {
    const onLan = startListener(t, 'host', 'h0', GROUP, 7000);
    const behindC = startListener(t, 'rcv', 'r0', GROUP, 7000);
    for (const l of [onLan, behindC]) await l.ready;
    // Both forward onto the LAN: mcr_A for its local listener, mcr_B for mcr_C's Joins.
    await pollUntil(
      () => fhr!.vtyshJson<FrrJoins>('show ip pim join'),
      (j) => j.a1?.[GROUP] !== undefined && j.a2?.[GROUP] !== undefined,
      'Joins from mcr_A (a1) and mcr_B (a2) at the first hop',
      DEADLINE_MS,
      250,
    );
    // The first packets arrive twice on the LAN: each forwarder sees the other's copies and asserts,
    // (*,G) while both still forward down the shared tree, (S,G) once on the source tree; both must
    // name the same winner of the same Assert, one winning and one losing. Which one wins depends
    // on timing, as the RFC has it (an SPT assert beats an RPT one; else the higher address).
    const lanAsserts = async (k: 'a' | 'b') =>
      (await mcr[k]!.request('pim.joins')).asserts.filter((x) => x.group === GROUP && (x.interface === 'm1' || x.interface === 'b1'));
    const agreed = (a: Awaited<ReturnType<typeof lanAsserts>>, b: Awaited<ReturnType<typeof lanAsserts>>) =>
      a.find((x) => b.some((y) => y.source === x.source && y.winner === x.winner && y.state !== x.state));
    const settled = await sendUntil(
      t,
      { ns: 'src', group: GROUP, source: SOURCE, port: 7001 },
      async () => {
        const [a, b] = [await lanAsserts('a'), await lanAsserts('b')];
        const x = agreed(a, b);
        return {
          a: x ? a.find((y) => y.source === x.source) : undefined,
          b: x ? b.find((y) => y.source === x.source) : undefined,
          all: { a, b },
        };
      },
      (v) => v.a !== undefined && v.b !== undefined,
      'both to agree on an Assert winner on the LAN',
      DEADLINE_MS,
    );
    const loser = settled.a?.state === 'loser' ? { k: 'a' as const, input: 'm0', lan: 'm1' } : { k: 'b' as const, input: 'b0', lan: 'b1' };
    assert.equal(settled[loser.k === 'a' ? 'b' : 'a']?.winner, loser.k === 'a' ? B_LAN : A_LAN, JSON.stringify(settled));
    // The loser's routes for what it lost send onto the LAN no more: the (S,G) after an (S,G)
    // Assert (its (*,G) still serves other sources), every route of the group after a (*,G) one.
    const lostSource = settled.a?.source ?? null;
    const loserRoutes = (await mcr[loser.k]!.request('mroute')).routes.filter(
      (r) => r.group === GROUP && r.interface === loser.input && (lostSource === null || r.source === lostSource),
    );
    assert.ok(
      loserRoutes.length > 0 && loserRoutes.every((r) => !r.outputs.some((o) => o.interface === loser.lan)),
      JSON.stringify({ loserRoutes, settled }),
    );
    await send(t, 'src', { group: GROUP, port: 7000, source: SOURCE, rate: 1000, count: N, ttl: 16 });
    await new Promise((r) => setTimeout(r, 1000));
    const [lan, far] = [await onLan.stop(), await behindC.stop()];
    assert.deepEqual(lan.bySource, { [SOURCE]: N }, 'the LAN listener');
    assert.deepEqual(far.bySource, { [SOURCE]: N }, 'the listener behind mcr_C');
  });
});
