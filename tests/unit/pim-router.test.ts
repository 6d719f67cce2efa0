// SPDX-License-Identifier: MIT
// The PIM router's glue (src/routing/pim/router.ts) with a fake world: interfaces, neighbours, the
// unicast table and listeners are plain data the test changes; messages sent and routes asked for
// are recorded. What the FRR tests cannot show exactly: a first hop's Register state through
// Register-Stop, the probe and its expiry; the RP's Register-Stop for a group nobody wants; the
// Assert election by metric; and that a neighbour flapping and listeners coming and going leave no
// state behind (issue #14, "a flapping neighbour leaks no state").
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LearnedRoute } from '../../src/routing/learned';
import type { PimMessage } from '../../src/routing/pim/codec';
import type { PimLanDelay } from '../../src/routing/pim/neighbors';
import {
  assertWins,
  PimRouter,
  type PimRouterInterface,
  type PimRouterIo,
  REGISTER_PROBE_MS,
  REGISTER_SUPPRESSION_MS,
  type RpfResult,
} from '../../src/routing/pim/router';

const [RP, SRC, G] = ['10.255.0.1', '10.0.1.5', '239.1.1.1'];
const LAN: PimLanDelay = { enabled: true, propagationDelayMs: 500, overrideIntervalMs: 2500, suppressionEnabled: true };

/** A world the test edits between calls. */
class World {
  interfaces = new Map<string, { address: string; isDr: boolean; neighbors: string[] }>();
  routes = new Map<string, RpfResult>();
  listeners = new Map<string, Set<string>>();
  igmpOnly: string[] = [];
  sent: Array<{ iface: string; destination: string; message: PimMessage }> = [];
  published: LearnedRoute[] = [];
  counted: string[] = [];
  packets = 0;

  io(): PimRouterIo {
    return {
      interfaces: () =>
        new Map(
          [...this.interfaces].map(([name, i]): [string, PimRouterInterface] => [
            name,
            {
              name,
              address: i.address,
              isDr: i.isDr,
              neighborCount: i.neighbors.length,
              lanDelay: LAN,
              neighborFor: (a) => (i.neighbors.includes(a) ? a : undefined),
            },
          ]),
        ),
      send: (iface, destination, message) => this.sent.push({ iface, destination, message }),
      rpf: (a) => this.routes.get(a),
      listeners: (g) => [...this.listeners].filter(([, gs]) => gs.has(g)).map(([i]) => i),
      listenedGroups: () => [...new Set([...this.listeners.values()].flatMap((gs) => [...gs]))],
      igmpOnlyInterfaces: () => this.igmpOnly,
      forward: () => {},
      routePackets: () => this.packets,
      setRoutes: (routes) => {
        this.published = routes;
      },
      joinChanged: () => {},
      count: (kind, reason) => this.counted.push(`${kind}:${reason}`),
    };
  }

  take(type: PimMessage['type']): Array<{ iface: string; destination: string; message: PimMessage }> {
    const out = this.sent.filter((s) => s.message.type === type);
    this.sent = this.sent.filter((s) => s.message.type !== type);
    return out;
  }
}

const punt = (reason: 'new_source' | 'register' | 'wrong_interface', source = SRC, group = G) => ({
  reason,
  source,
  group,
  packet: Uint8Array.from([0x45, 0, 0, 20, 0, 0, 0x40, 0, 16, 17, 0, 0, ...source.split('.').map(Number), ...group.split('.').map(Number)]),
  truncated: false,
});

describe('PimRouter: first hop Register', () => {
  const world = (): World => {
    const w = new World();
    w.interfaces.set('src0', { address: '10.0.1.1', isDr: true, neighbors: [] });
    w.interfaces.set('up0', { address: '10.0.2.1', isDr: false, neighbors: ['10.0.2.2'] });
    w.routes.set(SRC, { interface: 'src0', neighbor: SRC, local: false });
    w.routes.set(RP, { interface: 'up0', neighbor: '10.0.2.2', local: false });
    return w;
  };

  test('a new connected source registers; Register-Stop suppresses; the probe is a Null-Register; no answer resumes', () => {
    const w = world();
    const r = new PimRouter([{ address: RP, groups: '239.0.0.0/8' }], 60_000, w.io(), () => 0.5);
    r.update(0);
    // The (*,*) watch on the interface where we are DR.
    assert.ok(w.published.some((x) => x.match.interface === 'src0' && x.match.group === '0.0.0.0' && x.punt === 'new_source'));
    r.punted(punt('new_source'), 'src0', 1000);
    const first = w.take('register');
    assert.equal(first.length, 1);
    assert.equal(first[0]?.destination, RP);
    assert.equal(first[0]?.iface, 'up0');
    assert.equal((first[0]!.message as { nullRegister: boolean }).nullRegister, false);
    // The (S,G) route punts its packets for encapsulation while registering.
    assert.equal(w.published.find((x) => x.match.source === SRC)?.punt, 'register');
    r.punted(punt('register'), 'src0', 1100);
    assert.equal(w.take('register').length, 1);

    r.receiveRegisterStop({ type: 'register_stop', group: G, source: SRC }, 2000);
    assert.equal(w.published.find((x) => x.match.source === SRC)?.punt, undefined, 'no punting while suppressed');
    r.punted(punt('register'), 'src0', 2100);
    assert.equal(w.take('register').length, 0, 'no Register while suppressed');
    // random 0.5: suppression = 60 s; the probe Register_Probe_Time before its end.
    const probeAt = 2000 + REGISTER_SUPPRESSION_MS - REGISTER_PROBE_MS;
    // Until then only the Keepalive checks (every 5 s) run: no Register.
    for (let at = r.nextDeadline(); at !== null && at < probeAt; at = r.nextDeadline()) r.tick(at);
    assert.equal(w.take('register').length, 0);
    assert.equal(r.nextDeadline(), probeAt);
    r.tick(probeAt);
    const probe = w.take('register');
    assert.equal(probe.length, 1);
    assert.equal((probe[0]!.message as { nullRegister: boolean }).nullRegister, true);
    assert.equal(r.joinsView().sources[0]?.register, 'join_pending');
    // No Register-Stop within the probe time: back to registering data.
    r.tick(probeAt + REGISTER_PROBE_MS);
    assert.equal(r.joinsView().sources[0]?.register, 'join');
    assert.equal(w.published.find((x) => x.match.source === SRC)?.punt, 'register');
  });

  test('a source not directly connected, or on an interface where we are not DR, is not registered', () => {
    const w = world();
    const r = new PimRouter([{ address: RP, groups: '239.0.0.0/8' }], 60_000, w.io());
    r.update(0);
    w.routes.set('10.9.9.9', { interface: 'up0', neighbor: '10.0.2.2', local: false });
    r.punted(punt('new_source', '10.9.9.9'), 'src0', 10);
    w.interfaces.set('src0', { address: '10.0.1.1', isDr: false, neighbors: ['10.0.1.2'] });
    r.punted(punt('new_source'), 'src0', 20);
    assert.equal(w.take('register').length, 0);
    assert.deepEqual(r.joinsView().sources, []);
  });
});

describe('PimRouter: RP', () => {
  test('a Register for a group nobody joined gets a Register-Stop and forwards nothing', () => {
    const w = new World();
    w.interfaces.set('down0', { address: '10.0.3.1', isDr: true, neighbors: ['10.0.3.2'] });
    w.routes.set(RP, { interface: 'lo', neighbor: RP, local: true });
    w.routes.set(SRC, { interface: 'down0', neighbor: '10.0.3.2', local: false });
    const r = new PimRouter([{ address: RP, groups: '239.0.0.0/8' }], 60_000, w.io());
    r.update(0);
    r.receiveRegister(
      'down0',
      '10.0.3.2',
      RP,
      { type: 'register', border: false, nullRegister: false, packet: punt('new_source').packet, source: SRC, group: G },
      5,
    );
    const stops = w.take('register_stop');
    assert.equal(stops.length, 1);
    assert.equal(stops[0]?.destination, '10.0.3.2');
    // A Register to an address that is not RP(G) is not ours.
    r.receiveRegister(
      'down0',
      '10.0.3.2',
      '10.0.3.1',
      { type: 'register', border: false, nullRegister: false, packet: punt('new_source').packet, source: SRC, group: G },
      6,
    );
    assert.ok(w.counted.includes('ignored:register_not_rp'));
  });
});

describe('PimRouter: transit', () => {
  test('a downstream Prune(S,G,rpt) takes S off that interface of the shared tree; other sources still flow', () => {
    const w = new World();
    w.interfaces.set('up0', { address: '10.0.2.1', isDr: false, neighbors: ['10.0.2.2'] });
    w.interfaces.set('down0', { address: '10.0.3.1', isDr: true, neighbors: ['10.0.3.2'] });
    w.interfaces.set('down1', { address: '10.0.4.1', isDr: true, neighbors: ['10.0.4.2'] });
    w.routes.set(RP, { interface: 'up0', neighbor: '10.0.2.2', local: false });
    const r = new PimRouter([{ address: RP, groups: '239.0.0.0/8' }], 60_000, w.io());
    const starJoin = { address: RP, sparse: true, wildcard: true, rpt: true };
    for (const [iface, me, from] of [
      ['down0', '10.0.3.1', '10.0.3.2'],
      ['down1', '10.0.4.1', '10.0.4.2'],
    ] as const)
      r.receiveJoinPrune(
        iface,
        from,
        { type: 'join_prune', upstreamNeighbor: me, holdtime: 210, groups: [{ group: G, maskLength: 32, joins: [starJoin], prunes: [] }] },
        10,
      );
    r.receiveJoinPrune(
      'down1',
      '10.0.4.2',
      {
        type: 'join_prune',
        upstreamNeighbor: '10.0.4.1',
        holdtime: 210,
        groups: [{ group: G, maskLength: 32, joins: [starJoin], prunes: [{ address: SRC, sparse: true, wildcard: false, rpt: true }] }],
      },
      20,
    );
    const routes = w.published.filter(
      (x) => (x.match.group === G && x.outputs.length > 0) || (x.match.source === SRC && x.punt === undefined),
    );
    const star = routes.find((x) => x.match.source === undefined && x.match.interface === 'up0');
    const sg = routes.find((x) => x.match.source === SRC && x.match.interface === 'up0');
    assert.deepEqual(
      star?.outputs.map((o) => o.interface),
      ['down0', 'down1'],
    );
    assert.deepEqual(
      sg?.outputs.map((o) => o.interface),
      ['down0'],
    );
  });
});

describe('PimRouter: Assert metrics', () => {
  const m = (rpt: boolean, preference: number, metric: number, address: string) => ({ rpt, preference, metric, address });
  test('SPT beats RPT, then lower preference, then lower metric, then the higher address', () => {
    assert.equal(assertWins(m(false, 9, 9, '10.0.0.1'), m(true, 0, 0, '10.0.0.9')), true);
    assert.equal(assertWins(m(false, 0, 9, '10.0.0.1'), m(false, 1, 0, '10.0.0.9')), true);
    assert.equal(assertWins(m(false, 1, 1, '10.0.0.1'), m(false, 1, 2, '10.0.0.9')), true);
    assert.equal(assertWins(m(false, 1, 1, '10.0.0.9'), m(false, 1, 1, '10.0.0.10')), false);
    assert.equal(assertWins(m(false, 1, 1, '10.0.0.10'), m(false, 1, 1, '10.0.0.9')), true);
  });
});

describe('PimRouter: no state left behind', () => {
  test('a neighbour flapping fifty times and a listener joining and leaving leave only the (*,*) watches', () => {
    const w = new World();
    w.interfaces.set('up0', { address: '10.0.2.1', isDr: false, neighbors: ['10.0.2.2'] });
    w.igmpOnly = ['lan0'];
    w.routes.set(RP, { interface: 'up0', neighbor: '10.0.2.2', local: false });
    w.routes.set(SRC, { interface: 'up0', neighbor: '10.0.2.2', local: false });
    const r = new PimRouter([{ address: RP, groups: '239.0.0.0/8' }], 60_000, w.io());
    const clock = { now: 0 };
    /** The clock moved on by `ms`: the new time. */
    const after = (ms: number): number => {
      clock.now += ms;
      return clock.now;
    };
    w.listeners.set('lan0', new Set([G]));
    r.update(after(10));
    r.punted(punt('new_source'), 'up0', after(10)); // the SPT switch
    assert.equal(r.joinsView().upstream.filter((u) => u.state === 'joined').length, 2);
    for (let i = 0; i < 50; i++) {
      w.interfaces.set('up0', { address: '10.0.2.1', isDr: true, neighbors: [] });
      r.update(after(100));
      w.interfaces.set('up0', { address: '10.0.2.1', isDr: false, neighbors: ['10.0.2.2'] });
      r.update(after(100));
      // A downstream router's Join on another interface that then goes away.
      w.interfaces.set('down0', { address: '10.0.3.1', isDr: true, neighbors: ['10.0.3.2'] });
      r.receiveJoinPrune(
        'down0',
        '10.0.3.2',
        {
          type: 'join_prune',
          upstreamNeighbor: '10.0.3.1',
          holdtime: 3,
          groups: [{ group: G, maskLength: 32, joins: [{ address: RP, sparse: true, wildcard: true, rpt: true }], prunes: [] }],
        },
        after(10),
      );
      w.interfaces.delete('down0');
      r.update(after(10));
    }
    w.listeners.clear();
    r.update(after(10));
    for (let t = 0; t < 400; t++) {
      const due = r.nextDeadline();
      if (due === null) break;
      clock.now = Math.max(clock.now, due);
      r.tick(clock.now);
    }
    const view = r.joinsView();
    assert.deepEqual(view.downstream, []);
    assert.deepEqual(view.sources, []);
    assert.deepEqual(view.asserts, []);
    assert.deepEqual(view.upstream, [], 'no upstream entry left, joined or not');
    assert.deepEqual(
      w.published.map((x) => `${x.match.interface} ${x.match.group}`),
      ['lan0 0.0.0.0', 'up0 0.0.0.0'].filter((x) => x.startsWith('lan0') || w.interfaces.get('up0')?.isDr),
    );
  });
});
