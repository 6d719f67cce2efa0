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
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { frrSkipReason, startFrr, type FrrInstance } from '../../lab/frr';
import type { Proc } from '../../lab/proc';
import { pollUntil } from '../helpers/control';
import { TempDir } from '../helpers/datapath';
import { ROOT, send, skipReason, startDaemon, Topology, type DaemonHandle } from '../helpers/netns';

const skip = skipReason() ?? frrSkipReason();
const LISTENER = path.join(ROOT, 'tests', 'helpers', 'listener.py');
const GROUP = '239.90.90.90';
const SOURCE = '10.0.90.2';
const RP = '10.255.0.90';
const A_LAN = '10.0.93.2';
const B_LAN = '10.0.93.3';
const N = 400;
const DEADLINE_MS = 40_000;
/** FRR's SPT-bit wheel turns every 31 s; then Assert round trips. */
const ASSERT_DEADLINE_MS = 90_000;

interface ListenResult {
  total: number;
  bySource: Record<string, number>;
}

describe('PIM Assert: mcr and FRR forwarding onto one LAN', { skip }, () => {
  let t: Topology;
  const mcr: Record<'a' | 'c', DaemonHandle | undefined> = { a: undefined, c: undefined };
  let fhr: FrrInstance | undefined;
  let frrb: FrrInstance | undefined;
  const dir = new TempDir();

  const pim = (interfaces: Array<{ name: string; drPriority?: number }>) => ({
    interfaces: interfaces.map((i) => ({ helloInterval: 1, ...i })),
    rp: [{ address: RP, groups: '239.0.0.0/8' }],
    joinPruneInterval: 5,
  });
  const igmp = (name: string) => ({
    interfaces: [name],
    queryInterval: 2,
    queryResponseInterval: 1,
    lastMemberQueryInterval: 0.2,
    robustness: 2,
  });

  before(async () => {
    t = new Topology('pimaf');
    for (const ns of ['src', 'fhr', 'mcra', 'frrb', 'mcrc', 'lan', 'host', 'rcv']) await t.addNamespace(ns);
    await t.link('src', 's0', `${SOURCE}/24`, 'fhr', 'a0', '10.0.90.1/24');
    await t.link('fhr', 'a1', '10.0.91.1/24', 'mcra', 'm0', '10.0.91.2/24');
    await t.link('fhr', 'a2', '10.0.92.1/24', 'frrb', 'b0', '10.0.92.2/24');
    await t.link('mcrc', 'c2', '10.0.94.1/24', 'rcv', 'r0', '10.0.94.2/24');
    // The LAN: a bridge in its own namespace, multicast snooping off (every frame floods).
    await t.ip('lan', ['link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
    await t.ip('lan', ['link', 'set', 'br0', 'up']);
    const members: Array<[string, string, string, string]> = [
      ['mcra', 'm1', `${A_LAN}/24`, 'la'],
      ['frrb', 'b1', `${B_LAN}/24`, 'lb'],
      ['mcrc', 'c1', '10.0.93.4/24', 'lc'],
      ['host', 'h0', '10.0.93.10/24', 'lh'],
    ];
    for (const [ns, ifname, addr, port] of members) {
      await t.link(ns, ifname, addr, 'lan', port, null);
      await t.ip('lan', ['link', 'set', port, 'master', 'br0']);
    }
    await t.ip('fhr', ['addr', 'add', `${RP}/32`, 'dev', 'lo']);
    await t.ip('src', ['route', 'add', 'default', 'via', '10.0.90.1']);
    await t.ip('host', ['route', 'add', 'default', 'via', A_LAN]);
    await t.ip('rcv', ['route', 'add', 'default', 'via', '10.0.94.1']);
    for (const to of ['10.0.93.0/24', '10.0.94.0/24']) await t.ip('fhr', ['route', 'add', to, 'via', '10.0.92.2']);
    for (const to of [`${RP}/32`, '10.0.90.0/24']) {
      await t.ip('mcra', ['route', 'add', to, 'via', '10.0.91.1']);
      await t.ip('frrb', ['route', 'add', to, 'via', '10.0.92.1']);
      await t.ip('mcrc', ['route', 'add', to, 'via', B_LAN]);
    }
    await t.ip('frrb', ['route', 'add', '10.0.94.0/24', 'via', '10.0.93.4']);
    fhr = await startFrr(t, 'fhr', {
      pimd: [
        'interface lo',
        ' ip pim',
        '!',
        'interface a0',
        ' ip pim',
        '!',
        'interface a1',
        ' ip pim',
        ' ip pim hello 1 3',
        '!',
        'interface a2',
        ' ip pim',
        ' ip pim hello 1 3',
        '!',
        `ip pim rp ${RP} 239.0.0.0/8`,
        'ip pim join-prune-interval 5',
        '!',
      ].join('\n'),
    });
    mcr.a = await startDaemon(t, 'mcra', {
      configFile: dir.config('a.json', { pim: pim([{ name: 'm0' }, { name: 'm1', drPriority: 100 }]), igmp: igmp('m1'), rules: [] }),
    });
    frrb = await startFrr(t, 'frrb', {
      pimd: [
        'interface b0',
        ' ip pim',
        ' ip pim hello 1 3',
        '!',
        'interface b1',
        ' ip pim',
        ' ip pim hello 1 3',
        '!',
        `ip pim rp ${RP} 239.0.0.0/8`,
        'ip pim join-prune-interval 5',
        '!',
      ].join('\n'),
    });
    mcr.c = await startDaemon(t, 'mcrc', { configFile: dir.config('c.json', { pim: pim([{ name: 'c1' }]), igmp: igmp('c2'), rules: [] }) });
    await pollUntil(
      () => mcr.a!.request('pim.neighbors'),
      (n) => n.neighbors.filter((x) => x.interface === 'm1').length === 2 && n.neighbors.some((x) => x.interface === 'm0'),
      'mcr_A to see FRR on m0 and FRR_B, mcr_C on the LAN',
      DEADLINE_MS,
      200,
    );
  });
  after(async () => {
    for (const h of Object.values(mcr)) await h?.stop();
    await fhr?.stop();
    await frrb?.stop();
    await t?.destroy();
    dir.remove();
  });

  const listen = (ns: string, ifname: string): Proc =>
    t.spawn(ns, `listener ${ns}`, 'python3', [LISTENER, '--interface', ifname, '--group', GROUP, '--port', '7000']);
  const result = async (p: Proc): Promise<ListenResult> => {
    await p.stop('SIGTERM');
    return JSON.parse(p.stdout.trim().split('\n').pop() ?? '{}') as ListenResult;
  };

  it('FRR wins the Assert with the better preference, mcr stops, and each listener gets every packet once', async () => {
    const onLan = listen('host', 'h0');
    const behindC = listen('rcv', 'r0');
    for (const p of [onLan, behindC])
      await pollUntil(
        async () => p.stderr,
        (s) => s.includes('joined'),
        'a listener to join',
      );
    await pollUntil(
      () => fhr!.vtyshJson<Record<string, Record<string, Record<string, unknown>>>>('show ip pim join'),
      (j) => j.a1?.[GROUP] !== undefined && j.a2?.[GROUP] !== undefined,
      'Joins from mcr_A (a1) and FRR_B (a2) at the first hop',
      DEADLINE_MS,
      250,
    );
    // A stream in short pieces until the election settles: both forward (S,G) onto the LAN, mcr_A
    // asserts first, FRR_B answers once it has the SPT bit.
    const mine = async () =>
      (await mcr.a!.request('pim.joins')).asserts.find((x) => x.group === GROUP && x.source === SOURCE && x.interface === 'm1');
    const deadline = Date.now() + ASSERT_DEADLINE_MS;
    let a = await mine();
    let frrView = '';
    while (!(a?.state === 'loser' && /b1\s+\S+\s+10\.0\.90\.2\s+239\.90\.90\.90\s+WINNER/.test(frrView))) {
      if (Date.now() > deadline) assert.fail(`no settled Assert: mcr ${JSON.stringify(a)}; FRR_B ${frrView}`);
      await send(t, 'src', { group: GROUP, port: 7001, source: SOURCE, rate: 50, count: 50, ttl: 16 });
      a = await mine();
      frrView = await frrb!.vtysh('show ip pim assert');
    }
    assert.equal(a?.winner, B_LAN);
    const route = (await mcr.a!.request('mroute')).routes.find((r) => r.group === GROUP && r.source === SOURCE && r.interface === 'm0');
    assert.ok(route && !route.outputs.some((o) => o.interface === 'm1'), JSON.stringify(route));
    await send(t, 'src', { group: GROUP, port: 7000, source: SOURCE, rate: 1000, count: N, ttl: 16 });
    await new Promise((r) => setTimeout(r, 1000));
    const [lan, far] = [await result(onLan), await result(behindC)];
    assert.deepEqual(lan.bySource, { [SOURCE]: N }, 'the LAN listener');
    assert.deepEqual(far.bySource, { [SOURCE]: N }, 'the listener behind mcr_C');
  });
});
