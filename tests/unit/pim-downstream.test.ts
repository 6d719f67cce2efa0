// SPDX-License-Identifier: MIT
// The PIM-SM downstream Join/Prune machines (src/routing/pim/downstream.ts) driven row by row with
// a fake clock in milliseconds: RFC 7761 4.5.2 (*,G) and 4.5.3 (S,G) (NoInfo, Join, Prune-Pending,
// Expiry and Prune-Pending Timers, PruneEcho on a LAN only), 4.5.4 (S,G,rpt) with the PruneTmp and
// Prune-Pending-Tmp states a Join(*,G) and Prune(S,G,rpt) in one message pass through, and a
// fast-check property over random message and timer sequences. Every message goes through the
// codec first, and every PruneEcho is parsed back.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { type EncodedSource, encodePimMessage, type PimJoinPrune, parsePimMessage } from '../../src/routing/pim/codec';
import { type DownstreamInterface, PimDownstream, type PimDownstreamResult } from '../../src/routing/pim/downstream';
import { sgRptSource, sgSource, starGSource } from '../../src/routing/pim/jp-agg';

const OWN = '10.0.0.1';
const [RP, S, S2, G, G2] = ['10.9.9.9', '10.1.1.1', '10.1.1.2', '239.1.1.1', '239.2.2.2'];
const LAN: DownstreamInterface = { name: 'lan0', address: OWN, neighborCount: 3, jpOverrideIntervalMs: 3_000 };
const P2P: DownstreamInterface = { name: 'p2p0', address: '10.0.1.1', neighborCount: 1, jpOverrideIntervalMs: 3_000 };
const HT = 210;
const ECHO_HT = 211;

interface Entry {
  joins?: EncodedSource[];
  prunes?: EncodedSource[];
  group?: string;
}

/** A Join/Prune for `upstream`, through the wire format. */
function jp(upstream: string, entries: Entry[], holdtime = HT): PimJoinPrune {
  const message: PimJoinPrune = {
    type: 'join_prune',
    upstreamNeighbor: upstream,
    holdtime,
    groups: entries.map((e) => ({ group: e.group ?? G, maskLength: 32, joins: e.joins ?? [], prunes: e.prunes ?? [] })),
  };
  const parsed = parsePimMessage(encodePimMessage(message));
  if (!parsed.ok || parsed.message.type !== 'join_prune') assert.fail('test message does not parse');
  return parsed.message;
}

function engine(): PimDownstream {
  const d = new PimDownstream(ECHO_HT);
  d.setInterface(LAN);
  d.setInterface(P2P);
  return d;
}

/** Every PruneEcho parses back to itself and is for our own address. */
function checkSends(out: PimDownstreamResult): void {
  for (const s of out.send) {
    const parsed = parsePimMessage(s.bytes);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.message, s.message);
  }
}

/** (*,G) and (S,G) follow the same table (4.5.2, 4.5.3); run it for both. */
const KINDS = [
  { name: '(*,G) 4.5.2', source: null, encoded: starGSource(RP) },
  { name: '(S,G) 4.5.3', source: S, encoded: sgSource(S) },
] as const;

for (const kind of KINDS) {
  describe(`PIM downstream ${kind.name}`, () => {
    const entry = { source: kind.source, group: G };
    const oif = (type: 'oif_added' | 'oif_removed', iface = LAN.name) => ({ type, source: kind.source, group: G, interface: iface });
    const state = (d: PimDownstream, iface = LAN.name) => d.view().find((v) => v.kind !== 'S,G,rpt' && v.interface === iface);

    test('NoInfo, Receive Join: -> Join, ET = holdtime, interface added to the olist', () => {
      const d = engine();
      const out = d.receive(LAN.name, jp(OWN, [{ joins: [kind.encoded] }]), 1_000);
      assert.deepEqual(out.changes, [oif('oif_added')]);
      assert.deepEqual(out.send, []);
      assert.equal(state(d)?.state, 'join');
      assert.equal(state(d)?.expiresAt, 1_000 + HT * 1000);
      assert.deepEqual(d.joinedInterfaces(entry), [LAN.name]);
      assert.equal(d.nextDeadline(), 1_000 + HT * 1000);
    });

    test('Join, Receive Join: ET = max(ET, holdtime): a shorter holdtime keeps it, a longer one extends it', () => {
      const d = engine();
      d.receive(LAN.name, jp(OWN, [{ joins: [kind.encoded] }]), 0);
      let out = d.receive(LAN.name, jp(OWN, [{ joins: [kind.encoded] }], 10), 5_000);
      assert.deepEqual(out.changes, []);
      assert.equal(state(d)?.expiresAt, HT * 1000);
      out = d.receive(LAN.name, jp(OWN, [{ joins: [kind.encoded] }]), 5_000);
      assert.equal(state(d)?.expiresAt, 5_000 + HT * 1000);
    });

    test('Join, Receive Prune on a LAN: -> Prune-Pending for J/P_Override_Interval, still in the olist', () => {
      const d = engine();
      d.receive(LAN.name, jp(OWN, [{ joins: [kind.encoded] }]), 0);
      const out = d.receive(LAN.name, jp(OWN, [{ prunes: [kind.encoded] }]), 1_000);
      assert.deepEqual(out.changes, []);
      assert.equal(state(d)?.state, 'prune_pending');
      assert.equal(state(d)?.prunePendingAt, 4_000);
      assert.deepEqual(d.joinedInterfaces(entry), [LAN.name]);
      assert.equal(d.nextDeadline(), 4_000);
    });

    test('Prune-Pending, Receive Join (an override): -> Join, PPT stops, ET = max(ET, holdtime)', () => {
      const d = engine();
      d.receive(LAN.name, jp(OWN, [{ joins: [kind.encoded] }]), 0);
      d.receive(LAN.name, jp(OWN, [{ prunes: [kind.encoded] }]), 1_000);
      const out = d.receive(LAN.name, jp(OWN, [{ joins: [kind.encoded] }]), 2_000);
      assert.deepEqual(out.changes, []);
      assert.equal(state(d)?.state, 'join');
      assert.equal(state(d)?.prunePendingAt, null);
      assert.equal(state(d)?.expiresAt, 2_000 + HT * 1000);
      assert.deepEqual(d.tick(4_000), { changes: [], send: [], ignored: [] });
    });

    test('Prune-Pending, Receive Prune: stays, the PPT is not restarted', () => {
      const d = engine();
      d.receive(LAN.name, jp(OWN, [{ joins: [kind.encoded] }]), 0);
      d.receive(LAN.name, jp(OWN, [{ prunes: [kind.encoded] }]), 1_000);
      d.receive(LAN.name, jp(OWN, [{ prunes: [kind.encoded] }]), 2_000);
      assert.equal(state(d)?.state, 'prune_pending');
      assert.equal(state(d)?.prunePendingAt, 4_000);
    });

    test('Prune-Pending, PPT expires on a LAN: -> NoInfo, olist loses it, PruneEcho from our own address', () => {
      const d = engine();
      d.receive(LAN.name, jp(OWN, [{ joins: [kind.encoded] }]), 0);
      d.receive(LAN.name, jp(OWN, [{ prunes: [kind.encoded] }]), 1_000);
      assert.deepEqual(d.tick(3_999).changes, []);
      const out = d.tick(4_000);
      assert.deepEqual(out.changes, [oif('oif_removed')]);
      assert.equal(out.send.length, 1);
      assert.equal(out.send[0]!.interface, LAN.name);
      assert.deepEqual(out.send[0]!.message, {
        type: 'join_prune',
        upstreamNeighbor: OWN,
        holdtime: ECHO_HT,
        groups: [{ group: G, maskLength: 32, joins: [], prunes: [kind.encoded] }],
      });
      checkSends(out);
      assert.deepEqual(d.view(), []);
      assert.equal(d.nextDeadline(), null);
    });

    test('Join, Receive Prune on point-to-point: the 0 s PPT fires at once: -> NoInfo, no PruneEcho', () => {
      const d = engine();
      d.receive(P2P.name, jp(P2P.address, [{ joins: [kind.encoded] }]), 0);
      const out = d.receive(P2P.name, jp(P2P.address, [{ prunes: [kind.encoded] }]), 1_000);
      assert.deepEqual(out.changes, [oif('oif_removed', P2P.name)]);
      assert.deepEqual(out.send, []);
      assert.deepEqual(d.joinedInterfaces(entry), []);
    });

    test('Join, ET expires: -> NoInfo; Prune-Pending, ET expires before the PPT: -> NoInfo, no PruneEcho', () => {
      const d = engine();
      d.receive(LAN.name, jp(OWN, [{ joins: [kind.encoded] }], 10), 0);
      assert.deepEqual(d.tick(10_000).changes, [oif('oif_removed')]);
      d.receive(LAN.name, jp(OWN, [{ joins: [kind.encoded] }], 2), 20_000);
      d.receive(LAN.name, jp(OWN, [{ prunes: [kind.encoded] }]), 21_000);
      assert.equal(state(d)?.state, 'prune_pending');
      const out = d.tick(30_000);
      assert.deepEqual(out.changes, [oif('oif_removed')]);
      assert.deepEqual(out.send, []);
    });

    test('NoInfo, Receive Prune: nothing; holdtime 0xffff never expires', () => {
      const d = engine();
      assert.deepEqual(d.receive(LAN.name, jp(OWN, [{ prunes: [kind.encoded] }]), 0), { changes: [], send: [], ignored: [] });
      d.receive(LAN.name, jp(OWN, [{ joins: [kind.encoded] }], 0xffff), 0);
      assert.equal(state(d)?.expiresAt, null);
      assert.equal(d.nextDeadline(), null);
      d.receive(LAN.name, jp(OWN, [{ joins: [kind.encoded] }], 5), 0);
      assert.equal(state(d)?.expiresAt, null, 'forever stays forever');
    });

    test('removeInterface withdraws the interface from the olist', () => {
      const d = engine();
      d.receive(LAN.name, jp(OWN, [{ joins: [kind.encoded] }]), 0);
      assert.deepEqual(d.removeInterface(LAN.name).changes, [oif('oif_removed')]);
      assert.deepEqual(d.view(), []);
    });
  });
}

describe('PIM downstream: what is ignored', () => {
  test('another router as upstream neighbour, an unknown interface, a group range, W without R', () => {
    const d = engine();
    assert.deepEqual(d.receive(LAN.name, jp('10.0.0.7', [{ joins: [starGSource(RP)] }]), 0).ignored, [{ reason: 'not_for_us' }]);
    assert.deepEqual(d.receive('eth9', jp(OWN, [{ joins: [starGSource(RP)] }]), 0).ignored, [{ reason: 'unknown_interface' }]);
    const range = jp(OWN, [{ joins: [starGSource(RP)] }]);
    range.groups[0]!.maskLength = 8;
    assert.deepEqual(d.receive(LAN.name, range, 0).ignored, [{ reason: 'group_range', group: G }]);
    const wNoR = { address: S, sparse: true, wildcard: true, rpt: false };
    assert.deepEqual(d.receive(LAN.name, jp(OWN, [{ joins: [wNoR] }]), 0).ignored, [{ reason: 'bad_flags', group: G, source: S }]);
    assert.deepEqual(d.view(), []);
  });

  test('bad interface settings are named', () => {
    const d = new PimDownstream(ECHO_HT);
    assert.throws(() => d.setInterface({ ...LAN, neighborCount: -1 }), /lan0: neighborCount must be an integer >= 0, got -1/);
    assert.throws(() => d.setInterface({ ...LAN, jpOverrideIntervalMs: Number.NaN }), /lan0: jpOverrideIntervalMs must be >= 0/);
  });

  test('one message joins several groups and sources at once', () => {
    const d = engine();
    const out = d.receive(LAN.name, jp(OWN, [{ joins: [starGSource(RP), sgSource(S)] }, { group: G2, joins: [sgSource(S2)] }]), 0);
    assert.deepEqual(
      out.changes.map((c) => `${c.type} ${c.source} ${c.group}`),
      [`oif_added null ${G}`, `oif_added ${S} ${G}`, `oif_added ${S2} ${G2}`],
    );
  });
});

describe('PIM downstream (S,G,rpt) 4.5.4', () => {
  const rpt = sgRptSource(S);
  const stateOf = (d: PimDownstream, iface = LAN.name) => d.view().find((v) => v.kind === 'S,G,rpt' && v.interface === iface);
  const change = (type: 'rpt_prune_added' | 'rpt_prune_removed', iface = LAN.name) => ({ type, source: S, group: G, interface: iface });

  /** (*,G) joined and (S,G,rpt) in Prune on the LAN at t = 4000. */
  function pruned(): PimDownstream {
    const d = engine();
    d.receive(LAN.name, jp(OWN, [{ joins: [starGSource(RP)] }]), 0);
    d.receive(LAN.name, jp(OWN, [{ joins: [starGSource(RP)], prunes: [rpt] }]), 1_000);
    assert.deepEqual(d.tick(4_000).changes, [change('rpt_prune_added')]);
    assert.equal(stateOf(d)?.state, 'prune');
    return d;
  }

  test('NoInfo, Receive Prune(S,G,rpt) on a LAN: -> Prune-Pending; PPT expires: -> Prune, no PruneEcho', () => {
    const d = engine();
    const out = d.receive(LAN.name, jp(OWN, [{ prunes: [rpt] }]), 1_000);
    assert.deepEqual(out.changes, []);
    assert.deepEqual([stateOf(d)?.state, stateOf(d)?.prunePendingAt, stateOf(d)?.expiresAt], ['prune_pending', 4_000, 1_000 + HT * 1000]);
    assert.deepEqual(d.rptPrunedInterfaces(S, G), []);
    const expired = d.tick(4_000);
    assert.deepEqual(expired.changes, [change('rpt_prune_added')]);
    assert.deepEqual(expired.send, []);
    assert.deepEqual(d.rptPrunedInterfaces(S, G), [LAN.name]);
  });

  test('NoInfo, Receive Prune(S,G,rpt) on point-to-point: -> Prune at once', () => {
    const d = engine();
    const out = d.receive(P2P.name, jp(P2P.address, [{ prunes: [rpt] }]), 0);
    assert.deepEqual(out.changes, [change('rpt_prune_added', P2P.name)]);
    assert.equal(stateOf(d, P2P.name)?.state, 'prune');
  });

  test('NoInfo, Receive Join(S,G,rpt) or Join(*,G): stays NoInfo', () => {
    const d = engine();
    d.receive(LAN.name, jp(OWN, [{ joins: [rpt] }]), 0);
    d.receive(LAN.name, jp(OWN, [{ joins: [starGSource(RP)] }]), 0);
    assert.equal(stateOf(d), undefined);
  });

  test('Prune, Receive Join(S,G,rpt): -> NoInfo', () => {
    const d = pruned();
    assert.deepEqual(d.receive(LAN.name, jp(OWN, [{ joins: [rpt] }]), 5_000).changes, [change('rpt_prune_removed')]);
    assert.equal(stateOf(d), undefined);
  });

  test('Prune-Pending, Receive Join(S,G,rpt): -> NoInfo, the PPT stops', () => {
    const d = engine();
    d.receive(LAN.name, jp(OWN, [{ prunes: [rpt] }]), 0);
    assert.deepEqual(d.receive(LAN.name, jp(OWN, [{ joins: [rpt] }]), 1_000).changes, []);
    assert.equal(stateOf(d), undefined);
    assert.equal(d.nextDeadline(), null);
  });

  test('Prune, Receive Join(*,G) alone: -> PruneTmp, End of Message: -> NoInfo', () => {
    const d = pruned();
    const out = d.receive(LAN.name, jp(OWN, [{ joins: [starGSource(RP)] }]), 5_000);
    assert.deepEqual(out.changes, [change('rpt_prune_removed')]);
    assert.equal(stateOf(d), undefined);
  });

  test('Prune, Receive Join(*,G) with Prune(S,G,rpt): PruneTmp -> Prune, ET = max(ET, holdtime)', () => {
    const d = pruned();
    const out = d.receive(LAN.name, jp(OWN, [{ joins: [starGSource(RP)], prunes: [rpt] }]), 5_000);
    assert.deepEqual(out.changes, []);
    assert.deepEqual([stateOf(d)?.state, stateOf(d)?.expiresAt], ['prune', 5_000 + HT * 1000]);
  });

  test('Prune-Pending, Receive Join(*,G) with Prune(S,G,rpt): Prune-Pending-Tmp -> Prune-Pending, PPT kept', () => {
    const d = engine();
    d.receive(LAN.name, jp(OWN, [{ joins: [starGSource(RP)], prunes: [rpt] }]), 0);
    d.receive(LAN.name, jp(OWN, [{ joins: [starGSource(RP)], prunes: [rpt] }]), 1_000);
    assert.deepEqual([stateOf(d)?.state, stateOf(d)?.prunePendingAt, stateOf(d)?.expiresAt], ['prune_pending', 3_000, 1_000 + HT * 1000]);
  });

  test('Prune-Pending, Receive Join(*,G) alone: Prune-Pending-Tmp, End of Message: -> NoInfo', () => {
    const d = engine();
    d.receive(LAN.name, jp(OWN, [{ joins: [starGSource(RP)], prunes: [rpt] }]), 0);
    assert.deepEqual(d.receive(LAN.name, jp(OWN, [{ joins: [starGSource(RP)] }]), 1_000).changes, []);
    assert.equal(stateOf(d), undefined);
  });

  test('Prune, Receive Prune(S,G,rpt): ET = max(ET, holdtime); Prune-Pending, Receive Prune(S,G,rpt): unchanged', () => {
    const d = pruned();
    d.receive(LAN.name, jp(OWN, [{ prunes: [rpt] }], 5), 5_000);
    assert.equal(stateOf(d)?.expiresAt, 1_000 + HT * 1000);
    d.receive(LAN.name, jp(OWN, [{ prunes: [rpt] }]), 6_000);
    assert.equal(stateOf(d)?.expiresAt, 6_000 + HT * 1000);
    const e = engine();
    e.receive(LAN.name, jp(OWN, [{ prunes: [rpt] }]), 0);
    e.receive(LAN.name, jp(OWN, [{ prunes: [rpt] }]), 1_000);
    assert.deepEqual([stateOf(e)?.state, stateOf(e)?.prunePendingAt, stateOf(e)?.expiresAt], ['prune_pending', 3_000, HT * 1000]);
  });

  test('Prune, ET expires: -> NoInfo; Prune-Pending, ET expires: -> NoInfo', () => {
    const d = engine();
    d.receive(P2P.name, jp(P2P.address, [{ prunes: [rpt] }], 10), 0);
    assert.deepEqual(d.tick(10_000).changes, [change('rpt_prune_removed', P2P.name)]);
    d.receive(LAN.name, jp(OWN, [{ prunes: [rpt] }], 1), 20_000);
    assert.deepEqual(d.tick(21_000).changes, []);
    assert.equal(stateOf(d), undefined);
  });
});

// ---- property ----------------------------------------------------------------------------------

const RUNS = { numRuns: 300, seed: 0x646f776e };

type Event =
  | { type: 'message'; iface: 0 | 1; forUs: boolean; holdtime: number; groups: { group: 0 | 1; joins: number[]; prunes: number[] }[] }
  | { type: 'advance'; ms: number }
  | { type: 'neighbors'; iface: 0 | 1; count: number };

const SOURCES: EncodedSource[] = [starGSource(RP), sgSource(S), sgSource(S2), sgRptSource(S), sgRptSource(S2)];
const sourceIndex = fc.nat(SOURCES.length - 1);
const eventArb: fc.Arbitrary<Event> = fc.oneof(
  fc.record({
    type: fc.constant('message' as const),
    iface: fc.constantFrom(0 as const, 1 as const),
    forUs: fc.boolean(),
    holdtime: fc.constantFrom(0, 1, 3, 210, 0xffff),
    groups: fc.array(
      fc.record({
        group: fc.constantFrom(0 as const, 1 as const),
        joins: fc.array(sourceIndex, { maxLength: 3 }),
        prunes: fc.array(sourceIndex, { maxLength: 3 }),
      }),
      { maxLength: 2 },
    ),
  }),
  fc.record({ type: fc.constant('advance' as const), ms: fc.nat(10_000) }),
  fc.record({ type: fc.constant('neighbors' as const), iface: fc.constantFrom(0 as const, 1 as const), count: fc.nat(3) }),
);

test('property: random messages and timer runs never throw, leave deadlines in the future, and the reported changes add up to the olists', () => {
  fc.assert(
    fc.property(fc.array(eventArb, { maxLength: 40 }), (events) => {
      const ifaces = [{ ...LAN }, { ...P2P }];
      const d = new PimDownstream(ECHO_HT);
      for (const i of ifaces) d.setInterface(i);
      const olist = new Set<string>();
      let now = 0;
      const apply = (out: PimDownstreamResult) => {
        checkSends(out);
        for (const c of out.changes) {
          const key = `${c.type.startsWith('rpt') ? 'rpt' : 'oif'} ${c.source} ${c.group} ${c.interface}`;
          if (c.type.endsWith('added')) {
            assert.ok(!olist.has(key), `added twice: ${key}`);
            olist.add(key);
          } else assert.ok(olist.delete(key), `removed without add: ${key}`);
        }
        const next = d.nextDeadline();
        assert.ok(next === null || next > now, `deadline ${next} not after ${now}`);
      };
      for (const e of events) {
        if (e.type === 'advance') {
          now += e.ms;
          apply(d.tick(now));
        } else if (e.type === 'neighbors') {
          ifaces[e.iface]!.neighborCount = e.count;
          d.setInterface(ifaces[e.iface]!);
        } else {
          const i = ifaces[e.iface]!;
          const groups = e.groups.map((g) => ({
            group: g.group === 0 ? G : G2,
            joins: g.joins.map((j) => SOURCES[j]!),
            prunes: g.prunes.map((p) => SOURCES[p]!),
          }));
          apply(d.receive(i.name, jp(e.forUs ? i.address : '10.0.0.99', groups, e.holdtime), now));
        }
      }
      const actual = new Set<string>();
      for (const g of [G, G2])
        for (const i of ifaces) {
          for (const source of [null, S, S2])
            if (d.joinedInterfaces({ source, group: g }).includes(i.name)) actual.add(`oif ${source} ${g} ${i.name}`);
          for (const source of [S, S2]) if (d.rptPrunedInterfaces(source, g).includes(i.name)) actual.add(`rpt ${source} ${g} ${i.name}`);
        }
      assert.deepEqual([...actual].sort(), [...olist].sort());
    }),
    RUNS,
  );
});
