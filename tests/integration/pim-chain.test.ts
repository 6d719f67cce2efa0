// SPDX-License-Identifier: MIT
// A chain of three mcr routers speaking PIM-SM to each other (the scenario 7):
//   src: s0 10.0.80.2 <-> fhr (mcr): a0 10.0.80.1 | a1 10.0.81.1
//     <-> rp (mcr): b0 10.0.81.2 | b1 10.0.82.1, RP 10.255.0.8 on lo
//     <-> lhr (mcr): c0 10.0.82.2 | c1 10.0.83.1 (igmp) <-> rcv: r0 10.0.83.2 (listener)
// The last hop joins the shared tree to the RP; the first hop registers the source to the RP,
// which forwards down the shared tree, joins the source and stops the Registers; the last hop
// switches to the source tree; a stream then reaches the listener exactly, and each hop's route
// counted it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MrouteResult } from '../../src/control/protocol';
import { pollUntil } from '../helpers/control';
import { TempDir } from '../helpers/datapath';
import { send, skipReason, startDaemon, Topology, type DaemonHandle } from '../helpers/netns';
import { mcrPimConfig, sendUntil, shortIgmpConfig, startListener, waitForMcrNeighbors } from '../helpers/pim-lab';

const skip = skipReason();
const GROUP = '239.80.80.80';
const SOURCE = '10.0.80.2';
const RP = '10.255.0.8';
const N = 400;
const DEADLINE_MS = 30_000;

describe('PIM-SM: a chain of three mcr routers (first hop, RP, last hop)', { skip }, () => {
  let t: Topology;
  const d: Record<'fhr' | 'rp' | 'lhr', DaemonHandle | undefined> = { fhr: undefined, rp: undefined, lhr: undefined };
  const dir = new TempDir();

  const pim = (interfaces: string[]) => mcrPimConfig(interfaces, RP, '239.0.0.0/8');

  before(async () => {
    t = new Topology('pimc');
    for (const ns of ['src', 'fhr', 'rp', 'lhr', 'rcv']) await t.addNamespace(ns);
    await t.link('src', 's0', `${SOURCE}/24`, 'fhr', 'a0', '10.0.80.1/24');
    await t.link('fhr', 'a1', '10.0.81.1/24', 'rp', 'b0', '10.0.81.2/24');
    await t.link('rp', 'b1', '10.0.82.1/24', 'lhr', 'c0', '10.0.82.2/24');
    await t.link('lhr', 'c1', '10.0.83.1/24', 'rcv', 'r0', '10.0.83.2/24');
    await t.ip('rp', ['addr', 'add', `${RP}/32`, 'dev', 'lo']);
    await t.ip('rp', ['link', 'set', 'lo', 'up']);
    await t.ip('src', ['route', 'add', 'default', 'via', '10.0.80.1']);
    await t.ip('rcv', ['route', 'add', 'default', 'via', '10.0.83.1']);
    await t.ip('fhr', ['route', 'add', 'default', 'via', '10.0.81.2']);
    await t.ip('lhr', ['route', 'add', 'default', 'via', '10.0.82.1']);
    await t.ip('rp', ['route', 'add', '10.0.80.0/24', 'via', '10.0.81.1']);
    await t.ip('rp', ['route', 'add', '10.0.83.0/24', 'via', '10.0.82.2']);
    d.fhr = await startDaemon(t, 'fhr', { configFile: dir.config('fhr.json', { pim: pim(['a0', 'a1']), rules: [] }) });
    d.rp = await startDaemon(t, 'rp', { configFile: dir.config('rp.json', { pim: pim(['b0', 'b1']), rules: [] }) });
    d.lhr = await startDaemon(t, 'lhr', {
      configFile: dir.config('lhr.json', {
        pim: pim(['c0']),
        igmp: shortIgmpConfig('c1'),
        rules: [],
      }),
    });
    await waitForMcrNeighbors(d.rp!, (n) => n.neighbors.length === 2, 'the RP to see both neighbours', DEADLINE_MS);
  });
  after(async () => {
    for (const h of Object.values(d)) await h?.stop();
    await t?.destroy();
    dir.remove();
  });

  const sgRoute = async (h: DaemonHandle): Promise<MrouteResult['routes'][number] | undefined> =>
    (await h.request('mroute')).routes.find((r) => r.group === GROUP && r.source === SOURCE);

  it('joins, registers, switches to the source tree and forwards the stream exactly through all three', async () => {
    const listener = startListener(t, 'rcv', 'r0', GROUP, 7000);
    await listener.ready;
    await pollUntil(
      () => d.rp!.request('pim.joins'),
      (j) => j.downstream.some((x) => x.kind === '*,G' && x.group === GROUP && x.interface === 'b1'),
      "the last hop's (*,G) Join at the RP",
      DEADLINE_MS,
      250,
    );
    const warm = { ns: 'src', group: GROUP, source: SOURCE, port: 7001 };
    await sendUntil(
      t,
      warm,
      async () => (await d.rp!.request('pim.interfaces')).counters.received.register ?? 0,
      (n) => n > 0,
      'Registers at the RP',
      DEADLINE_MS,
    );
    await sendUntil(
      t,
      warm,
      async () => (await d.fhr!.request('pim.interfaces')).counters.received.register_stop ?? 0,
      (n) => n > 0,
      'a Register-Stop at the first hop',
      DEADLINE_MS,
    );
    await sendUntil(
      t,
      warm,
      () => d.lhr!.request('pim.joins'),
      (j) => j.upstream.some((u) => u.source === SOURCE && u.group === GROUP && u.state === 'joined'),
      "the last hop's switch to the source tree",
      DEADLINE_MS,
    );

    const before = await Promise.all([d.fhr!, d.rp!, d.lhr!].map(async (h) => (await sgRoute(h))?.packets ?? 0));
    await send(t, 'src', { group: GROUP, port: 7000, source: SOURCE, rate: 2000, count: N, ttl: 16 });
    await new Promise((r) => setTimeout(r, 1000));
    const got = await listener.stop();
    assert.deepEqual(got.bySource, { [SOURCE]: N });
    // Each hop's (S,G) route counted the stream once.
    const after = await Promise.all([d.fhr!, d.rp!, d.lhr!].map(async (h) => (await sgRoute(h))?.packets ?? 0));
    assert.deepEqual(
      after.map((a, i) => a - (before[i] ?? 0)),
      [N, N, N],
    );
  });
});
