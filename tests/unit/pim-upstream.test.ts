// SPDX-License-Identifier: MIT
// The PIM-SM upstream Join/Prune machines (src/routing/pim/upstream.ts) driven row by row with a
// fake clock in milliseconds and a chosen random function: RFC 7761 4.5.6 (*,G) and 4.5.7 (S,G)
// (JoinDesired, the periodic Join Timer, Join suppression with t_suppressed = rand(1.1, 1.4) x
// t_periodic bounded by the seen holdtime, Prune override with t_override, RPF' changes with and
// without an Assert, a neighbour's new Generation ID), the aggregation of Joins and Prunes into
// one message per upstream neighbour (jp-agg.ts), the Prune(S,G,rpt)s every Join(*,G) carries
// (setRptPrunes) down to the (S,G,rpt) state they make at a PimDownstream fed our encoded messages,
// and a fast-check property over random event sequences: no throw, deadlines after now, every
// message encodes and parses back, every Prune(S,G,rpt) rides in a group record with a Join(*,G).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { type EncodedSource, type PimJoinPrune, parsePimMessage } from '../../src/routing/pim/codec';
import { PimDownstream } from '../../src/routing/pim/downstream';
import { aggregateJoinPrune, type JoinPruneSend, sgRptSource, sgSource, starGSource } from '../../src/routing/pim/jp-agg';
import {
  joinDesired,
  PimUpstream,
  type PimUpstreamResult,
  type UpstreamEntry,
  type UpstreamLanDelay,
} from '../../src/routing/pim/upstream';

const [RP, RP2, S, S2, G, G2] = ['10.9.9.9', '10.9.9.8', '10.1.1.1', '10.1.1.2', '239.1.1.1', '239.2.2.2'];
const [NBR, NBR2, OTHER] = ['10.0.0.2', '10.0.0.3', '10.0.0.7'];
const UP = { interface: 'up0', neighbor: NBR };
const PERIOD = 60_000;
const HT = 210;
const STAR: UpstreamEntry = { source: null, group: G };
const SG: UpstreamEntry = { source: S, group: G };

/** A random function returning `values` in turn (the last one forever). */
function randoms(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)]!;
}

const LAN_DEFAULT: UpstreamLanDelay = { overrideIntervalMs: 2_500, suppressionEnabled: true };

function engine(random = randoms(0.5), lan: UpstreamLanDelay = LAN_DEFAULT): PimUpstream {
  return new PimUpstream({ joinPruneIntervalMs: PERIOD }, () => lan, random);
}

/** Each send parses back to its message; returns the messages. */
function messages(out: PimUpstreamResult | JoinPruneSend[]): PimJoinPrune[] {
  const sends = Array.isArray(out) ? out : out.send;
  return sends.map((s) => {
    const parsed = parsePimMessage(s.bytes);
    if (!parsed.ok) assert.fail(`sent message does not parse: ${parsed.reason}`);
    assert.deepEqual(parsed.message, s.message);
    return s.message;
  });
}

const one = (neighbor: string, group: string, joins: EncodedSource[], prunes: EncodedSource[]): PimJoinPrune => ({
  type: 'join_prune',
  upstreamNeighbor: neighbor,
  holdtime: HT,
  groups: [{ group, maskLength: 32, joins, prunes }],
});

/** A seen Join/Prune of another router to `neighbor`. */
const seenMessage = (neighbor: string, joins: EncodedSource[], prunes: EncodedSource[], holdtime = HT): PimJoinPrune => ({
  ...one(neighbor, G, joins, prunes),
  holdtime,
});

const KINDS = [
  { name: '(*,G) 4.5.6', entry: STAR, encoded: starGSource(RP), rp: { rp: RP } },
  { name: '(S,G) 4.5.7', entry: SG, encoded: sgSource(S), rp: {} },
] as const;

for (const kind of KINDS) {
  describe(`PIM upstream ${kind.name}`, () => {
    /** Joined towards UP at t = 0, JT at 60 s. */
    function joined(random = randoms(0.5), lan = LAN_DEFAULT): PimUpstream {
      const u = engine(random, lan);
      assert.deepEqual(u.setRpf(kind.entry, UP, 0, kind.rp).send, []);
      assert.deepEqual(messages(u.setJoinDesired(kind.entry, true, 0)), [one(NBR, G, [kind.encoded], [])]);
      return u;
    }
    const jt = (u: PimUpstream) => u.view().find((v) => v.source === kind.entry.source)?.joinTimerAt;

    test("NotJoined, JoinDesired -> true: -> Joined, Join to RPF', JT = t_periodic; holdtime 3.5 x t_periodic", () => {
      const u = joined();
      assert.equal(u.state(kind.entry), 'joined');
      assert.equal(jt(u), PERIOD);
      assert.equal(u.holdtime, HT);
    });

    test('Joined, JT expires: Join again, JT = t_periodic', () => {
      const u = joined();
      assert.deepEqual(u.tick(PERIOD - 1).send, []);
      assert.deepEqual(messages(u.tick(PERIOD)), [one(NBR, G, [kind.encoded], [])]);
      assert.equal(u.nextDeadline(), 2 * PERIOD);
    });

    test("Joined, JoinDesired -> false: -> NotJoined, Prune to RPF', JT stops; NotJoined, JoinDesired -> false: nothing", () => {
      const u = joined();
      assert.deepEqual(messages(u.setJoinDesired(kind.entry, false, 1_000)), [one(NBR, G, [], [kind.encoded])]);
      assert.equal(u.state(kind.entry), 'not_joined');
      assert.equal(u.nextDeadline(), null);
      assert.deepEqual(u.setJoinDesired(kind.entry, false, 2_000).send, []);
    });

    test('Joined, JoinDesired -> true again: nothing', () => {
      const u = joined();
      assert.deepEqual(u.setJoinDesired(kind.entry, true, 1_000).send, []);
      assert.equal(jt(u), PERIOD);
    });

    test("Joined, See Join to RPF': JT increased to t_suppressed = 1.25 x t_periodic (random 0.5)", () => {
      const u = joined();
      assert.deepEqual(u.seen('up0', seenMessage(NBR, [kind.encoded], []), 10_000).send, []);
      assert.equal(jt(u), 10_000 + 1.25 * PERIOD);
    });

    test('See Join: t_joinsuppress is at most the seen holdtime, never decreases JT, 0 without suppression', () => {
      let u = joined();
      u.seen('up0', seenMessage(NBR, [kind.encoded], [], 20), 10_000);
      assert.equal(jt(u), PERIOD, '10 s + 20 s is before the JT');
      u.seen('up0', seenMessage(NBR, [kind.encoded], [], 70), 10_000);
      assert.equal(jt(u), 80_000);
      u = joined(randoms(0.5), { overrideIntervalMs: 2_500, suppressionEnabled: false });
      u.seen('up0', seenMessage(NBR, [kind.encoded], []), 10_000);
      assert.equal(jt(u), PERIOD);
    });

    test('See Join or Prune to another neighbour, on another interface, or for another entry: nothing', () => {
      const u = joined(randoms(0.5, 0));
      u.seen('up0', seenMessage(OTHER, [kind.encoded], [kind.encoded]), 10_000);
      u.seen('lan9', seenMessage(NBR, [kind.encoded], [kind.encoded]), 10_000);
      u.seen(
        'up0',
        { ...seenMessage(NBR, [], [sgSource(S2)]), groups: [{ group: G2, maskLength: 32, joins: [kind.encoded], prunes: [kind.encoded] }] },
        10_000,
      );
      assert.equal(jt(u), PERIOD);
    });

    test("Joined, See Prune to RPF': JT decreased to t_override = rand x Effective_Override_Interval", () => {
      const u = joined();
      assert.deepEqual(u.seen('up0', seenMessage(NBR, [], [kind.encoded]), 10_000).send, []);
      assert.equal(jt(u), 11_250);
      assert.deepEqual(messages(u.tick(11_250)), [one(NBR, G, [kind.encoded], [])]);
      assert.equal(jt(u), 11_250 + PERIOD);
    });

    test('t_override of 0 sends the overriding Join within the same call', () => {
      const u = joined(randoms(0));
      assert.deepEqual(messages(u.seen('up0', seenMessage(NBR, [], [kind.encoded]), 10_000)), [one(NBR, G, [kind.encoded], [])]);
      assert.equal(jt(u), 10_000 + PERIOD);
    });

    test("Joined, RPF' changes (not an Assert): Join to the new, Prune to the old, JT = t_periodic", () => {
      const u = joined();
      const out = u.setRpf(kind.entry, { interface: 'up1', neighbor: NBR2 }, 5_000, kind.rp);
      assert.deepEqual(
        out.send.map((s) => s.interface),
        ['up0', 'up1'],
      );
      assert.deepEqual(messages(out), [one(NBR, G, [], [kind.encoded]), one(NBR2, G, [kind.encoded], [])]);
      assert.equal(jt(u), 5_000 + PERIOD);
    });

    test("Joined, RPF' changes due to an Assert: no message, JT decreased to t_override", () => {
      const u = joined();
      assert.deepEqual(u.setRpf(kind.entry, { interface: 'up0', neighbor: NBR2 }, 5_000, { ...kind.rp, dueToAssert: true }).send, []);
      assert.equal(jt(u), 6_250);
      assert.deepEqual(messages(u.tick(6_250)), [one(NBR2, G, [kind.encoded], [])]);
    });

    test("Joined, RPF' GenID changes: JT decreased to t_override; another neighbour's restart: nothing", () => {
      const u = joined();
      u.neighborRestarted('up0', OTHER, 5_000);
      assert.equal(jt(u), PERIOD);
      u.neighborRestarted('up0', NBR, 5_000);
      assert.equal(jt(u), 6_250);
    });

    test("RPF' lost while Joined: Prune to the old, JT stops; RPF' back: Join, JT runs", () => {
      const u = joined();
      assert.deepEqual(messages(u.setRpf(kind.entry, null, 5_000)), [one(NBR, G, [], [kind.encoded])]);
      assert.equal(u.state(kind.entry), 'joined');
      assert.equal(u.nextDeadline(), null);
      assert.deepEqual(messages(u.setRpf(kind.entry, UP, 6_000, kind.rp)), [one(NBR, G, [kind.encoded], [])]);
      assert.equal(jt(u), 6_000 + PERIOD);
    });

    test("NotJoined, RPF' changes: nothing sent", () => {
      const u = engine();
      u.setRpf(kind.entry, UP, 0, kind.rp);
      assert.deepEqual(u.setRpf(kind.entry, { interface: 'up1', neighbor: NBR2 }, 1_000, kind.rp).send, []);
      assert.equal(u.nextDeadline(), null);
    });
  });
}

describe('PIM upstream: (S,G) sees the prunes that override it, (*,G) its RP', () => {
  test("See Prune(S,G,rpt) and See Prune(*,G) to RPF'(S,G) decrease the (S,G) JT", () => {
    for (const prune of [sgRptSource(S), starGSource(RP)]) {
      const u = engine();
      u.setRpf(SG, UP, 0);
      u.setJoinDesired(SG, true, 0);
      u.seen('up0', seenMessage(NBR, [], [prune]), 10_000);
      assert.equal(u.view()[0]!.joinTimerAt, 11_250, `prune ${JSON.stringify(prune)}`);
    }
  });

  test('a new RP for a joined (*,G): Prune with the old RP, Join with the new, in one message', () => {
    const u = engine();
    u.setRpf(STAR, UP, 0, { rp: RP });
    u.setJoinDesired(STAR, true, 0);
    assert.deepEqual(messages(u.setRpf(STAR, UP, 1_000, { rp: RP2 })), [one(NBR, G, [starGSource(RP2)], [starGSource(RP)])]);
  });

  test("a (*,G) RPF' without its RP is refused, by name", () => {
    assert.throws(() => engine().setRpf(STAR, UP, 0), /PIM upstream: \(\*,239\.1\.1\.1\) needs the RP address/);
    assert.throws(() => new PimUpstream({ joinPruneIntervalMs: 0 }, () => LAN_DEFAULT), /joinPruneIntervalMs must be > 0, got 0/);
  });

  test('joinDesired: downstream joins or local members', () => {
    assert.equal(joinDesired([], []), false);
    assert.equal(joinDesired(['eth1'], []), true);
    assert.equal(joinDesired([], ['eth2']), true);
  });
});

describe('PIM upstream: Prune(S,G,rpt) with the Join(*,G) (setRptPrunes)', () => {
  const RPT = [sgRptSource(S), sgRptSource(S2)];
  /** (*,G) Joined towards UP at t = 0, JT at 60 s. */
  function starJoined(random = randoms(0.5)): PimUpstream {
    const u = engine(random);
    u.setRpf(STAR, UP, 0, { rp: RP });
    assert.deepEqual(messages(u.setJoinDesired(STAR, true, 0)), [one(NBR, G, [starGSource(RP)], [])]);
    return u;
  }
  const starView = (u: PimUpstream) => u.view().find((v) => v.source === null && v.group === G)!;

  test("a source added while Joined: Join(*,G) and every Prune(S,G,rpt) of the set to RPF'(*,G) at once, JT unchanged", () => {
    const u = starJoined();
    assert.deepEqual(messages(u.setRptPrunes(G, [S], 5_000)), [one(NBR, G, [starGSource(RP)], [sgRptSource(S)])]);
    assert.deepEqual(messages(u.setRptPrunes(G, [S2, S, S2], 6_000)), [one(NBR, G, [starGSource(RP)], RPT)]);
    assert.equal(starView(u).joinTimerAt, PERIOD);
    assert.deepEqual(starView(u).rptPrunes, [S, S2]);
    assert.deepEqual(u.setRptPrunes(G, [S, S2], 7_000).send, [], 'the same set: nothing');
  });

  test('periodic Join(*,G) carries the prunes; a removed source is left out of the next one, and its removal sends nothing', () => {
    const u = starJoined();
    u.setRptPrunes(G, [S, S2], 5_000);
    assert.deepEqual(messages(u.tick(PERIOD)), [one(NBR, G, [starGSource(RP)], RPT)]);
    assert.deepEqual(u.setRptPrunes(G, [S2], PERIOD + 1_000).send, []);
    assert.deepEqual(messages(u.tick(2 * PERIOD)), [one(NBR, G, [starGSource(RP)], [sgRptSource(S2)])]);
    assert.deepEqual(u.setRptPrunes(G, [], 2 * PERIOD + 1_000).send, []);
    assert.deepEqual(messages(u.tick(3 * PERIOD)), [one(NBR, G, [starGSource(RP)], [])]);
  });

  test("prunes set while NotJoined or without RPF' send nothing; the Join(*,G) that follows carries them", () => {
    const u = engine();
    assert.deepEqual(u.setRptPrunes(G, [S], 0).send, []);
    assert.deepEqual(u.setRpf(STAR, UP, 0, { rp: RP }).send, []);
    assert.deepEqual(messages(u.setJoinDesired(STAR, true, 1_000)), [one(NBR, G, [starGSource(RP)], [sgRptSource(S)])]);
    assert.deepEqual(messages(u.setRpf(STAR, null, 2_000)), [one(NBR, G, [], [starGSource(RP)])], "RPF' lost: Prune(*,G) only");
    assert.deepEqual(u.setRptPrunes(G, [S, S2], 3_000).send, []);
    assert.deepEqual(messages(u.setRpf(STAR, UP, 4_000, { rp: RP })), [one(NBR, G, [starGSource(RP)], RPT)]);
  });

  test('a Prune(*,G) carries no (S,G,rpt) items', () => {
    const u = starJoined();
    u.setRptPrunes(G, [S, S2], 5_000);
    assert.deepEqual(messages(u.setJoinDesired(STAR, false, 6_000)), [one(NBR, G, [], [starGSource(RP)])]);
  });

  test("RPF'(*,G) changes: Prune(*,G) alone to the old, Join(*,G) with the prunes to the new; a new RP on the same neighbour: one record", () => {
    const u = starJoined();
    u.setRptPrunes(G, [S], 5_000);
    assert.deepEqual(messages(u.setRpf(STAR, { interface: 'up1', neighbor: NBR2 }, 6_000, { rp: RP })), [
      one(NBR, G, [], [starGSource(RP)]),
      one(NBR2, G, [starGSource(RP)], [sgRptSource(S)]),
    ]);
    assert.deepEqual(messages(u.setRpf(STAR, { interface: 'up1', neighbor: NBR2 }, 7_000, { rp: RP2 })), [
      one(NBR2, G, [starGSource(RP2)], [starGSource(RP), sgRptSource(S)]),
    ]);
  });

  test('the overriding Joins after a seen Prune(*,G) (of (*,G) and of (S,G) to the same neighbour) share one record with the prunes', () => {
    const u = starJoined(randoms(0));
    u.setRpf({ source: S2, group: G }, UP, 0);
    u.setJoinDesired({ source: S2, group: G }, true, 0);
    u.setRptPrunes(G, [S], 5_000);
    const both = one(NBR, G, [starGSource(RP), sgSource(S2)], [sgRptSource(S)]);
    assert.deepEqual(messages(u.seen('up0', seenMessage(NBR, [], [starGSource(RP)]), 10_000)), [both]);
    assert.deepEqual(messages(u.tick(10_000 + PERIOD)), [both]);
    assert.deepEqual(
      u.view().map((v) => v.rptPrunes),
      [[S], []],
    );
  });

  test('bad addresses are refused by name', () => {
    assert.throws(() => engine().setRptPrunes('239.1.1', [S], 0), /setRptPrunes: group "239\.1\.1" is not an IPv4 address/);
    assert.throws(() => engine().setRptPrunes(G, [S, 'x'], 0), /setRptPrunes \(\*,239\.1\.1\.1\): source "x" is not an IPv4 address/);
  });

  test('round trip: a PimDownstream fed our encoded messages prunes S off (*,G) on its interface, keeps it with each Join(*,G), and drops it at End of Message of a Join(*,G) without it', () => {
    const u = engine();
    u.setRpf(STAR, UP, 0, { rp: RP });
    const d = new PimDownstream(HT);
    d.setInterface({ name: 'down0', address: NBR, neighborCount: 1, jpOverrideIntervalMs: 3_000 });
    /** Our sends as the upstream router gets them: bytes parsed back, on its interface down0. */
    const deliver = (out: PimUpstreamResult, now: number) =>
      out.send.flatMap((send) => {
        const parsed = parsePimMessage(send.bytes);
        if (!parsed.ok || parsed.message.type !== 'join_prune') return assert.fail('our message does not parse as a Join/Prune');
        return d.receive('down0', parsed.message, now).changes;
      });
    assert.deepEqual(deliver(u.setJoinDesired(STAR, true, 0), 0), [{ type: 'oif_added', source: null, group: G, interface: 'down0' }]);
    assert.deepEqual(d.joinedInterfaces(STAR), ['down0']);
    assert.deepEqual(deliver(u.setRptPrunes(G, [S], 5_000), 5_000), [{ type: 'rpt_prune_added', source: S, group: G, interface: 'down0' }]);
    assert.deepEqual(d.rptPrunedInterfaces(S, G), ['down0']);
    const rpt = () => d.view().find((v) => v.kind === 'S,G,rpt' && v.source === S);
    assert.deepEqual([rpt()?.state, rpt()?.expiresAt], ['prune', 5_000 + HT * 1000]);
    // The periodic Join(*,G) carries the prune: Prune -> PruneTmp -> Prune, ET refreshed.
    assert.deepEqual(deliver(u.tick(PERIOD), PERIOD), []);
    assert.deepEqual([rpt()?.state, rpt()?.expiresAt], ['prune', PERIOD + HT * 1000]);
    // Taken out: the next Join(*,G) has no Prune(S,G,rpt); End of Message ends the Prune state.
    assert.deepEqual(deliver(u.setRptPrunes(G, [], PERIOD + 1_000), PERIOD + 1_000), []);
    assert.deepEqual(d.rptPrunedInterfaces(S, G), ['down0'], 'nothing sent on removal');
    assert.deepEqual(deliver(u.tick(2 * PERIOD), 2 * PERIOD), [{ type: 'rpt_prune_removed', source: S, group: G, interface: 'down0' }]);
    assert.deepEqual(d.rptPrunedInterfaces(S, G), []);
    assert.equal(rpt(), undefined, '(S,G,rpt) back in NoInfo');
    assert.deepEqual(d.joinedInterfaces(STAR), ['down0']);
  });
});

describe('PIM Join/Prune aggregation (jp-agg)', () => {
  test('a Join(*,G) and the Prune(S,G,rpt)s after it start a new message rather than split; too big for one message, no empty message', () => {
    const to = { interface: 'up0', neighbor: NBR };
    const bundle = [
      { ...to, group: G, source: starGSource(RP), join: true },
      { ...to, group: G, source: sgRptSource(S), join: false },
      { ...to, group: G, source: sgRptSource(S2), join: false },
    ];
    const items = [{ ...to, group: G2, source: sgSource(S), join: true }, ...bundle];
    // 14 + (12 + 8) = 34 bytes, then the bundle's 12 + 3 x 8 = 36 passes 60: the Join(*,G) alone would fit.
    assert.deepEqual(messages(aggregateJoinPrune(items, HT, 60)), [
      one(NBR, G2, [sgSource(S)], []),
      one(NBR, G, [starGSource(RP)], [sgRptSource(S), sgRptSource(S2)]),
    ]);
    assert.deepEqual(messages(aggregateJoinPrune(bundle, HT, 34)), [
      one(NBR, G, [starGSource(RP)], []),
      one(NBR, G, [], [sgRptSource(S)]),
      one(NBR, G, [], [sgRptSource(S2)]),
    ]);
  });

  test('Joins due together go to each neighbour in one message, groups merged', () => {
    const u = engine();
    u.setRpf(STAR, UP, 0, { rp: RP });
    u.setRpf(SG, UP, 0);
    u.setRpf({ source: S2, group: G2 }, UP, 0);
    u.setRpf({ source: S2, group: G }, { interface: 'up1', neighbor: NBR2 }, 0);
    for (const e of [STAR, SG, { source: S2, group: G2 }, { source: S2, group: G }]) u.setJoinDesired(e, true, 0);
    const out = u.tick(PERIOD);
    assert.deepEqual(messages(out), [
      {
        type: 'join_prune',
        upstreamNeighbor: NBR,
        holdtime: HT,
        groups: [
          { group: G, maskLength: 32, joins: [starGSource(RP), sgSource(S)], prunes: [] },
          { group: G2, maskLength: 32, joins: [sgSource(S2)], prunes: [] },
        ],
      },
      one(NBR2, G, [sgSource(S2)], []),
    ]);
  });

  test('a message over the byte budget continues in the next; repeats are sent once', () => {
    const items = Array.from({ length: 10 }, (_, i) => ({
      interface: 'up0',
      neighbor: NBR,
      group: `239.0.0.${i}`,
      source: sgSource(S),
      join: true,
    }));
    // 14-byte header + 3 x (12-byte group + 8-byte source) = 74 bytes.
    const sends = aggregateJoinPrune([...items, items[0]!], HT, 74);
    assert.deepEqual(
      messages(sends).map((m) => m.groups.length),
      [3, 3, 3, 1],
    );
    assert.ok(sends.every((s) => s.bytes.length <= 74));
    assert.throws(() => aggregateJoinPrune(items, HT, 20), /maxBytes 20 cannot hold a single join/);
  });

  test('more than 255 groups split at 255', () => {
    const items = Array.from({ length: 300 }, (_, i) => ({
      interface: 'up0',
      neighbor: NBR,
      group: `239.0.${i >> 8}.${i & 255}`,
      source: sgSource(S),
      join: true,
    }));
    assert.deepEqual(
      messages(aggregateJoinPrune(items, HT, 60_000)).map((m) => m.groups.length),
      [255, 45],
    );
  });
});

// ---- property ----------------------------------------------------------------------------------

const RUNS = { numRuns: 300, seed: 0x7570 };
const ENTRIES: UpstreamEntry[] = [STAR, SG, { source: S2, group: G }, { source: null, group: G2 }, { source: S, group: G2 }];
const RPFS = [null, UP, { interface: 'up0', neighbor: NBR2 }, { interface: 'up1', neighbor: OTHER }];
const SEEN: EncodedSource[] = [starGSource(RP), sgSource(S), sgSource(S2), sgRptSource(S)];

const eventArb = fc.oneof(
  fc.record({ type: fc.constant('desired' as const), entry: fc.nat(ENTRIES.length - 1), desired: fc.boolean() }),
  fc.record({
    type: fc.constant('rpf' as const),
    entry: fc.nat(ENTRIES.length - 1),
    rpf: fc.nat(RPFS.length - 1),
    rp: fc.constantFrom(RP, RP2),
    assert: fc.boolean(),
  }),
  fc.record({
    type: fc.constant('seen' as const),
    neighbor: fc.constantFrom(NBR, NBR2, OTHER),
    group: fc.constantFrom(G, G2),
    joins: fc.array(fc.nat(SEEN.length - 1), { maxLength: 3 }),
    prunes: fc.array(fc.nat(SEEN.length - 1), { maxLength: 3 }),
    holdtime: fc.constantFrom(0, 1, 30, 210, 0xffff),
  }),
  fc.record({ type: fc.constant('restart' as const), neighbor: fc.constantFrom(NBR, NBR2, OTHER) }),
  fc.record({ type: fc.constant('rptPrunes' as const), group: fc.constantFrom(G, G2), sources: fc.subarray([S, S2]) }),
  fc.record({ type: fc.constant('advance' as const), ms: fc.nat(100_000) }),
);

test('property: random events never throw, leave deadlines in the future, every message encodes and parses back, and every Prune(S,G,rpt) has a Join(*,G) in its group record', () => {
  fc.assert(
    fc.property(
      fc.array(eventArb, { maxLength: 40 }),
      fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 20 }),
      fc.boolean(),
      (events, rolls, suppression) => {
        let roll = 0;
        const u = new PimUpstream(
          { joinPruneIntervalMs: PERIOD, maxMessageBytes: 100 },
          () => ({ overrideIntervalMs: 2_500, suppressionEnabled: suppression }),
          () => rolls[roll++ % rolls.length]!,
        );
        let now = 0;
        for (const e of events) {
          let out: PimUpstreamResult;
          switch (e.type) {
            case 'desired':
              out = u.setJoinDesired(ENTRIES[e.entry]!, e.desired, now);
              break;
            case 'rpf':
              out = u.setRpf(ENTRIES[e.entry]!, RPFS[e.rpf]!, now, { rp: e.rp, dueToAssert: e.assert });
              break;
            case 'seen':
              out = u.seen(
                'up0',
                {
                  type: 'join_prune',
                  upstreamNeighbor: e.neighbor,
                  holdtime: e.holdtime,
                  groups: [{ group: e.group, maskLength: 32, joins: e.joins.map((i) => SEEN[i]!), prunes: e.prunes.map((i) => SEEN[i]!) }],
                },
                now,
              );
              break;
            case 'restart':
              out = u.neighborRestarted('up0', e.neighbor, now);
              break;
            case 'rptPrunes':
              out = u.setRptPrunes(e.group, e.sources, now);
              break;
            case 'advance':
              now += e.ms;
              out = u.tick(now);
              break;
          }
          for (const m of messages(out)) {
            assert.equal(m.holdtime, HT);
            for (const g of m.groups)
              if (g.prunes.some((s) => s.rpt && !s.wildcard))
                assert.ok(
                  g.joins.some((s) => s.wildcard),
                  `${g.group}: Prune(S,G,rpt) without Join(*,G)`,
                );
          }
          assert.ok(out.send.every((s) => s.bytes.length <= 100));
          const next = u.nextDeadline();
          assert.ok(next === null || next > now, `deadline ${next} not after ${now}`);
          for (const v of u.view()) if (v.state === 'not_joined') assert.equal(v.joinTimerAt, null);
        }
      },
    ),
    RUNS,
  );
});
