// SPDX-License-Identifier: MIT
// PIM Assert (RFC 7761 4.6) between mcr and FRR 8.4 on one LAN (the scenario 5): mcr_A
// forwards onto the LAN for a listener there (it is DR, with IGMP), FRR_B for a downstream mcr_C's
// (S,G) Join (mcr_C switches to the source tree through FRR_B on the first packet). The duplicates
// make them assert. FRR 8.4 can assert once its (S,G) has the SPT bit, which a timer wheel sets
// within 31 s (pimd/pim_upstream.c, pim_upstream_sg_running); its route to the source has
// preference 0 (a kernel route), mcr's 1 (docs/pim.md, Assert): FRR_B wins, mcr_A stops, and each
// listener then gets every packet exactly once.
//   src: s0 10.0.90.2 <-> fhr (FRR, RP 10.255.0.90): a0 10.0.90.1 | a1 10.0.91.1 | a2 10.0.92.1
//   fhr a1 <-> mcra m0 10.0.91.2;  fhr a2 <-> frrb b0 10.0.92.2
//   LAN (a bridge, snooping off): mcra m1 10.0.93.2 (DR, IGMP), frrb b1 10.0.93.3, mcrc c1 10.0.93.4,
//                                 host h0 10.0.93.10 (listener)
//   mcrc c2 10.0.94.1 (IGMP) <-> rcv r0 10.0.94.2 (listener); mcrc reaches the RP and source via frrb
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { frrSkipReason, startFrr, type FrrInstance } from '../../lab/frr';
import { TempDir } from '../helpers/datapath';
import { send, skipReason, startDaemon, Topology, type DaemonHandle } from '../helpers/netns';
import {
  ASSERT_LAB,
  assertLanLab,
  frrPimdConfig,
  frrPimInterface,
  mcrPimConfig,
  shortIgmpConfig,
  startListener,
  type McrPimInterface,
  sendUntil,
  waitForMcrNeighbors,
} from '../helpers/pim-lab';

const skip = skipReason() ?? frrSkipReason();
const GROUP = '239.90.90.90';
const { source: SOURCE, rp: RP, bLan: B_LAN } = ASSERT_LAB;
const N = 400;
const DEADLINE_MS = 40_000;
/** FRR's SPT-bit wheel turns every 31 s; then Assert round trips. */
const ASSERT_DEADLINE_MS = 90_000;

describe('PIM Assert: mcr and FRR forwarding onto one LAN', { skip }, () => {
  let t: Topology;
  const mcr: Record<'a' | 'c', DaemonHandle | undefined> = { a: undefined, c: undefined };
  let fhr: FrrInstance | undefined;
  let frrb: FrrInstance | undefined;
  const dir = new TempDir();

  const pim = (interfaces: McrPimInterface[]) => mcrPimConfig(interfaces, RP, '239.0.0.0/8');

  before(async () => {
    t = new Topology('pimaf');
    fhr = await assertLanLab(t, 'frrb');
    mcr.a = await startDaemon(t, 'mcra', {
      configFile: dir.config('a.json', { pim: pim(['m0', { name: 'm1', drPriority: 100 }]), igmp: shortIgmpConfig('m1'), rules: [] }),
    });
    frrb = await startFrr(t, 'frrb', {
      pimd: frrPimdConfig([frrPimInterface('b0', { hello: true }), frrPimInterface('b1', { hello: true })], RP, '239.0.0.0/8'),
    });
    mcr.c = await startDaemon(t, 'mcrc', {
      configFile: dir.config('c.json', { pim: pim(['c1']), igmp: shortIgmpConfig('c2'), rules: [] }),
    });
    await waitForMcrNeighbors(
      mcr.a!,
      (n) => n.neighbors.filter((x) => x.interface === 'm1').length === 2 && n.neighbors.some((x) => x.interface === 'm0'),
      'mcr_A to see FRR on m0 and FRR_B, mcr_C on the LAN',
      DEADLINE_MS,
    );
  });
  after(async () => {
    for (const h of Object.values(mcr)) await h?.stop();
    await fhr?.stop();
    await frrb?.stop();
    await t?.destroy();
    dir.remove();
  });

  it('FRR wins the Assert with the better preference, mcr stops, and each listener gets every packet once', async () => {
    // First FRR_B alone forwards onto the LAN, for mcr_C's listener, until FRR has set the (S,G)'s
    // SPT bit (its 31 s timer): only then can it assert (CouldAssert). Were mcr_A to forward first,
    // FRR 8.4 would take mcr's Assert as loser while it cannot assert, and keep forwarding.
    const behindC = startListener(t, 'rcv', 'r0', GROUP, 7000);
    await behindC.ready;
    const warm = { ns: 'src', group: GROUP, source: SOURCE, port: 7001 };
    await sendUntil(
      t,
      warm,
      () => frrb!.vtysh('show ip mroute'),
      (text) => new RegExp(`${SOURCE.replaceAll('.', '\\.')}\\s+${GROUP.replaceAll('.', '\\.')}\\s+\\S*T`).test(text),
      "FRR_B's (S,G) with the SPT bit",
      ASSERT_DEADLINE_MS,
    );
    // Then mcr_A's listener: mcr_A forwards onto the LAN too, sees FRR_B's copies and asserts;
    // FRR_B answers with its better preference and wins.
    const onLan = startListener(t, 'host', 'h0', GROUP, 7000);
    await onLan.ready;
    const mine = async () =>
      (await mcr.a!.request('pim.joins')).asserts.find((x) => x.group === GROUP && x.source === SOURCE && x.interface === 'm1');
    const settled = await sendUntil(
      t,
      warm,
      async () => ({ mcr: await mine(), frr: await frrb!.vtysh('show ip pim assert') }),
      (v) => v.mcr?.state === 'loser' && /b1\s+\S+\s+10\.0\.90\.2\s+239\.90\.90\.90\s+WINNER/.test(v.frr),
      'mcr_A to lose the Assert and FRR_B to win it',
      DEADLINE_MS,
    );
    assert.equal(settled.mcr?.winner, B_LAN);
    const route = (await mcr.a!.request('mroute')).routes.find((r) => r.group === GROUP && r.source === SOURCE && r.interface === 'm0');
    assert.ok(route && !route.outputs.some((o) => o.interface === 'm1'), JSON.stringify(route));
    await send(t, 'src', { group: GROUP, port: 7000, source: SOURCE, rate: 1000, count: N, ttl: 16 });
    await new Promise((r) => setTimeout(r, 1000));
    const [lan, far] = [await onLan.stop(), await behindC.stop()];
    assert.deepEqual(lan.bySource, { [SOURCE]: N }, 'the LAN listener');
    assert.deepEqual(far.bySource, { [SOURCE]: N }, 'the listener behind mcr_C');
  });
});
