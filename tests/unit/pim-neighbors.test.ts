// SPDX-License-Identifier: MIT
// The PIM Hello and neighbour engine (src/routing/pim/neighbors.ts) driven with a fake clock in
// milliseconds and a chosen random function: first Hello at a random offset, periodic Hellos,
// triggered Hellos for new and restarted neighbours, the holdtime-0 Hello on stop, neighbour
// expiry, DR election (RFC 7761 4.3.2) by priority, by address, and by address only when a
// neighbour lacks the DR Priority option, the LAN Prune Delay values of 4.3.3, and a fast-check
// property over random Hello sequences.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { addressValue } from '../../src/lib/ipv4';
import { encodePimPacket, type PimHello, type PimMessage, parsePimMessage, parsePimPacket } from '../../src/routing/pim/codec';
import {
  DEFAULT_HELLO_HOLDTIME_S,
  helloHoldtimeSeconds,
  PimNeighbors,
  type PimNeighborChange,
  type PimNeighborResult,
  type PimNeighborsConfig,
  pimNeighborsConfig,
} from '../../src/routing/pim/neighbors';

const OWN = '10.0.0.5';
const [LOW, HIGH, HIGHER] = ['10.0.0.2', '10.0.0.8', '10.0.0.9'];
const CONFIG: PimNeighborsConfig = { address: OWN, helloIntervalMs: 30_000, drPriority: 1 };

/** A random function returning `values` in turn (the last one forever). */
function randoms(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)]!;
}

/** Started at t = 0 with generation ID 0x80000000 and the first Hello at 2500 ms (random 0.5), which runs. */
function engine(config: Partial<PimNeighborsConfig> = {}, random = randoms(0.5)): PimNeighbors {
  const e = new PimNeighbors({ ...CONFIG, ...config }, random);
  e.start(0);
  runUntil(e, 2_500);
  return e;
}

interface Logged {
  at: number;
  result: PimNeighborResult;
}

function runUntil(e: PimNeighbors, until: number): Logged[] {
  const log: Logged[] = [];
  for (let at = e.nextDeadline(); at !== null && at <= until; at = e.nextDeadline()) log.push({ at, result: e.tick(at) });
  return log;
}

/** A Hello from `source` through the wire format, after the timers due by `now`. */
function hello(e: PimNeighbors, now: number, source: string, options: Omit<PimHello, 'type'> = {}): PimNeighborResult {
  runUntil(e, now);
  const parsed = parsePimPacket(encodePimPacket({ type: 'hello', ...options }, { source }));
  if (!parsed.ok) assert.fail(`test packet does not parse: ${parsed.reason}`);
  return e.receive(parsed.packet, now);
}

/** The Hellos in a result, each checked to be what its bytes say. */
function hellos(r: PimNeighborResult): PimHello[] {
  return r.send.map((s) => {
    assert.equal(s.destination, '224.0.0.13');
    const parsed = parsePimMessage(s.bytes);
    if (!parsed.ok) assert.fail(`sent bytes do not parse: ${parsed.reason}`);
    assert.deepEqual(parsed.message, s.message);
    return s.message;
  });
}

const hellosIn = (log: Logged[]) => log.flatMap(({ at, result }) => hellos(result).map((h) => ({ at, holdtime: h.holdtime })));
const drChanges = (r: PimNeighborResult) => r.changes.filter((c) => c.type === 'dr_changed');

describe('sending Hellos (RFC 7761 4.3.1)', () => {
  test('start: a generation ID from the random function, the first Hello at a random offset within 5 s', () => {
    const e = new PimNeighbors(CONFIG, randoms(0.25, 0.5));
    const started = e.start(1_000);
    assert.deepEqual(started.send, []);
    assert.deepEqual(started.changes, [{ type: 'dr_changed', dr: OWN, previous: null, isUs: true }]);
    assert.equal(e.nextDeadline(), 3_500);
    assert.deepEqual(e.tick(3_499).send, []);
    assert.deepEqual(hellos(e.tick(3_500)), [
      {
        type: 'hello',
        holdtime: 105,
        lanPruneDelay: { trackingSupport: false, propagationDelayMs: 500, overrideIntervalMs: 2500 },
        drPriority: 1,
        generationId: 0x40000000,
      },
    ]);
    assert.equal(e.view().generationId, 0x40000000);
  });

  test('a random offset of 0 sends the first Hello from start()', () => {
    const e = new PimNeighbors(CONFIG, randoms(0.1, 0));
    assert.equal(hellos(e.start(0)).length, 1);
    assert.equal(e.nextDeadline(), 30_000);
  });

  test('then every Hello interval; holdtime 3.5 x the interval', () => {
    const e = new PimNeighbors({ ...CONFIG, helloIntervalMs: 10_000 }, randoms(0.5));
    e.start(0);
    assert.deepEqual(hellosIn(runUntil(e, 40_000)), [
      { at: 2_500, holdtime: 35 },
      { at: 12_500, holdtime: 35 },
      { at: 22_500, holdtime: 35 },
      { at: 32_500, holdtime: 35 },
    ]);
  });

  test('holdtime from the interval in seconds; config in seconds becomes milliseconds', () => {
    assert.equal(helloHoldtimeSeconds(30_000), 105);
    assert.equal(helloHoldtimeSeconds(1_000), 3);
    assert.equal(helloHoldtimeSeconds(18_724_000), 65_534);
    assert.deepEqual(pimNeighborsConfig('10.0.0.1', { helloInterval: 5, drPriority: 9 }), {
      address: '10.0.0.1',
      helloIntervalMs: 5_000,
      drPriority: 9,
    });
  });

  test('secondary addresses go in the Address List option', () => {
    const e = new PimNeighbors({ ...CONFIG, secondaryAddresses: ['10.0.1.5'] }, randoms(0.5, 0));
    assert.deepEqual(hellos(e.start(0))[0]?.addresses, ['10.0.1.5']);
  });

  test('stop: a Hello with holdtime 0, every neighbour down, no DR; nothing scheduled after', () => {
    const e = engine();
    hello(e, 3_000, HIGH, { holdtime: 105, drPriority: 1 });
    hello(e, 3_000, LOW, { holdtime: 105, drPriority: 1 });
    const stopped = e.stop();
    assert.deepEqual(
      hellos(stopped).map((h) => h.holdtime),
      [0],
    );
    assert.deepEqual(stopped.changes, [
      { type: 'neighbor_down', address: LOW, reason: 'stopped' },
      { type: 'neighbor_down', address: HIGH, reason: 'stopped' },
      { type: 'dr_changed', dr: null, previous: HIGH, isUs: false },
    ]);
    assert.equal(e.nextDeadline(), null);
    assert.equal(hello(e, 4_000, LOW, { holdtime: 105 }).ignored, 'not_started');
    assert.deepEqual(e.stop(), { send: [], changes: [] });
  });

  test('a restart picks a new generation ID', () => {
    const e = engine({}, randoms(0.5, 0.5, 0.75, 0.5));
    e.stop();
    e.start(10_000);
    assert.equal(e.view().generationId, 0xc0000000);
  });
});

describe('the neighbour table', () => {
  test('a Hello adds a neighbour with what it said; a triggered Hello follows at a random delay, the periodic one unmoved', () => {
    const e = engine({}, randoms(0.5, 0.5, 0.2));
    const r = hello(e, 10_000, HIGH, {
      holdtime: 105,
      drPriority: 3,
      generationId: 77,
      lanPruneDelay: { trackingSupport: true, propagationDelayMs: 400, overrideIntervalMs: 2000 },
      addresses: ['10.0.1.8', HIGH],
    });
    assert.deepEqual(r.changes[0], { type: 'neighbor_up', address: HIGH });
    const view = e.view();
    assert.deepEqual(view.neighbors, [
      {
        address: HIGH,
        expiresAt: 115_000,
        holdtime: 105,
        drPriority: 3,
        generationId: 77,
        lanPruneDelay: { trackingSupport: true, propagationDelayMs: 400, overrideIntervalMs: 2000 },
        secondaryAddresses: ['10.0.1.8'],
        upSince: 10_000,
      },
    ]);
    assert.equal(view.triggeredHelloAt, 11_000);
    assert.equal(view.nextHelloAt, 32_500);
    assert.deepEqual(hellosIn(runUntil(e, 33_000)), [
      { at: 11_000, holdtime: 105 },
      { at: 32_500, holdtime: 105 },
    ]);
    assert.equal(e.neighborFor('10.0.1.8'), HIGH);
    assert.equal(e.neighborFor(HIGH), HIGH);
    assert.equal(e.neighborFor('10.0.1.9'), undefined);
  });

  test('a refresh before the holdtime runs out keeps it; then it expires exactly at its holdtime', () => {
    const e = engine();
    hello(e, 10_000, HIGH, { holdtime: 10, drPriority: 1 });
    hello(e, 15_000, HIGH, { holdtime: 10, drPriority: 1 });
    assert.equal(e.view().neighbors[0]?.expiresAt, 25_000);
    assert.deepEqual(e.tick(24_999).changes, []);
    assert.deepEqual(e.tick(25_000).changes, [
      { type: 'neighbor_down', address: HIGH, reason: 'expired' },
      { type: 'dr_changed', dr: OWN, previous: HIGH, isUs: true },
    ]);
    assert.deepEqual(e.view().neighbors, []);
  });

  test('no Holdtime option: Default_Hello_Holdtime', () => {
    const e = engine();
    hello(e, 10_000, HIGH, {});
    assert.equal(e.view().neighbors[0]?.expiresAt, 10_000 + DEFAULT_HELLO_HOLDTIME_S * 1000);
  });

  test('holdtime 0xffff: never times out', () => {
    const e = engine();
    hello(e, 10_000, HIGH, { holdtime: 0xffff });
    assert.equal(e.view().neighbors[0]?.expiresAt, null);
    runUntil(e, 10_000_000);
    assert.equal(e.view().neighbors.length, 1);
  });

  test('holdtime 0: the neighbour goes at once; from a stranger it changes nothing', () => {
    const e = engine();
    hello(e, 10_000, HIGH, { holdtime: 105, drPriority: 1 });
    assert.deepEqual(hello(e, 11_000, HIGH, { holdtime: 0, drPriority: 1 }).changes, [
      { type: 'neighbor_down', address: HIGH, reason: 'holdtime_zero' },
      { type: 'dr_changed', dr: OWN, previous: HIGH, isUs: true },
    ]);
    assert.deepEqual(hello(e, 12_000, LOW, { holdtime: 0 }), { send: [], changes: [] });
    assert.deepEqual(e.view().neighbors, []);
  });

  test('a new generation ID is a restart (reported, triggered Hello); the same one, or none, is not', () => {
    const e = engine({}, randoms(0.5, 0.5, 0.1));
    hello(e, 10_000, LOW, { holdtime: 105, generationId: 1 });
    runUntil(e, 20_000);
    assert.deepEqual(hello(e, 20_000, LOW, { holdtime: 105, generationId: 1 }).changes, []);
    assert.deepEqual(hello(e, 21_000, LOW, { holdtime: 105 }).changes, []);
    assert.equal(e.view().triggeredHelloAt, null);
    assert.deepEqual(hello(e, 22_000, LOW, { holdtime: 105, generationId: 2 }).changes, [
      { type: 'neighbor_restart', address: LOW, generationId: 2, previousGenerationId: null },
    ]);
    assert.equal(e.view().triggeredHelloAt, 22_500);
    assert.deepEqual(hello(e, 23_000, LOW, { holdtime: 105, generationId: 3 }).changes, [
      { type: 'neighbor_restart', address: LOW, generationId: 3, previousGenerationId: 2 },
    ]);
    assert.equal(e.view().neighbors[0]?.upSince, 10_000);
  });

  test('helloBeforeSending sends a waiting triggered Hello now, and nothing when none waits', () => {
    const e = engine({}, randoms(0.5, 0.5, 0.9));
    hello(e, 10_000, LOW, { holdtime: 105 });
    assert.equal(e.view().triggeredHelloAt, 14_500);
    assert.equal(hellos(e.helloBeforeSending(10_100)).length, 1);
    assert.equal(e.view().triggeredHelloAt, null);
    assert.deepEqual(e.helloBeforeSending(10_200).send, []);
  });

  test('helloBeforeSending before the first Hello sends it and starts the periodic timer', () => {
    const e = new PimNeighbors(CONFIG, randoms(0.5, 0.9));
    e.start(0);
    assert.equal(hellos(e.helloBeforeSending(100)).length, 1);
    assert.equal(e.view().nextHelloAt, 30_100);
  });

  test('our own Hellos (looped back) and other message types are ignored', () => {
    const e = engine({ secondaryAddresses: ['10.0.1.5'] });
    assert.equal(hello(e, 3_000, OWN, { holdtime: 105 }).ignored, 'own_hello');
    assert.equal(hello(e, 3_000, '10.0.1.5', { holdtime: 105 }).ignored, 'own_hello');
    assert.equal(hello(e, 3_000, '0.0.0.0', { holdtime: 105 }).ignored, 'unspecified_source');
    const assertMessage: PimMessage = {
      type: 'assert',
      group: '239.1.1.1',
      source: '10.9.9.9',
      rpt: false,
      metricPreference: 1,
      metric: 1,
    };
    assert.equal(e.receive({ ip: { source: LOW, destination: '224.0.0.13', ttl: 1 }, message: assertMessage }, 3_000).ignored, 'not_hello');
    assert.deepEqual(e.view().neighbors, []);
  });
});

describe('DR election (RFC 7761 4.3.2)', () => {
  test('the highest priority wins, whatever its address', () => {
    const e = engine({ drPriority: 5 });
    const r = hello(e, 3_000, LOW, { holdtime: 105, drPriority: 10 });
    assert.deepEqual(drChanges(r), [{ type: 'dr_changed', dr: LOW, previous: OWN, isUs: false }]);
    assert.equal(e.dr(), LOW);
    assert.equal(e.isDr(), false);
    // A higher address with a lower priority does not take it.
    assert.deepEqual(drChanges(hello(e, 4_000, HIGH, { holdtime: 105, drPriority: 6 })), []);
    assert.equal(e.dr(), LOW);
    // LOW lowers its priority below ours and HIGH's: HIGH wins (6 > 5 > 1).
    assert.deepEqual(drChanges(hello(e, 5_000, LOW, { holdtime: 105, drPriority: 1 })), [
      { type: 'dr_changed', dr: HIGH, previous: LOW, isUs: false },
    ]);
  });

  test('at equal priority the highest address wins', () => {
    const e = engine({ drPriority: 1 });
    assert.deepEqual(drChanges(hello(e, 3_000, LOW, { holdtime: 105, drPriority: 1 })), []);
    assert.equal(e.isDr(), true);
    assert.deepEqual(drChanges(hello(e, 3_000, HIGH, { holdtime: 105, drPriority: 1 })), [
      { type: 'dr_changed', dr: HIGH, previous: OWN, isUs: false },
    ]);
    assert.deepEqual(drChanges(hello(e, 3_000, HIGHER, { holdtime: 105, drPriority: 1 })), [
      { type: 'dr_changed', dr: HIGHER, previous: HIGH, isUs: false },
    ]);
    assert.equal(e.view().dr, HIGHER);
  });

  test('a neighbour without the DR Priority option: every router is elected by address only', () => {
    const e = engine({ drPriority: 100 });
    hello(e, 3_000, LOW, { holdtime: 105, drPriority: 200 });
    assert.equal(e.dr(), LOW);
    // HIGH sends no DR Priority: priorities no longer count, the highest address wins.
    assert.deepEqual(drChanges(hello(e, 4_000, HIGH, { holdtime: 105 })), [{ type: 'dr_changed', dr: HIGH, previous: LOW, isUs: false }]);
    // HIGH starts sending one, lower than the others': priority counts again.
    assert.deepEqual(drChanges(hello(e, 5_000, HIGH, { holdtime: 105, drPriority: 0 })), [
      { type: 'dr_changed', dr: LOW, previous: HIGH, isUs: false },
    ]);
    // LOW leaves: we (100) beat HIGH (0).
    assert.deepEqual(drChanges(hello(e, 6_000, LOW, { holdtime: 0 })), [{ type: 'dr_changed', dr: OWN, previous: LOW, isUs: true }]);
  });
});

describe('LAN Prune Delay (RFC 7761 4.3.3)', () => {
  const delay = (trackingSupport: boolean, propagationDelayMs: number, overrideIntervalMs: number) => ({
    lanPruneDelay: { trackingSupport, propagationDelayMs, overrideIntervalMs },
  });

  test('no neighbours: our own values; join suppression on since our T bit is clear', () => {
    assert.deepEqual(engine().lanDelay(), { enabled: true, propagationDelayMs: 500, overrideIntervalMs: 2500, suppressionEnabled: true });
  });

  test('every neighbour sends it: the largest values; suppression off only when everyone, us included, sets T', () => {
    const e = engine({ trackingSupport: true });
    hello(e, 3_000, LOW, { holdtime: 105, ...delay(true, 800, 1000) });
    hello(e, 3_000, HIGH, { holdtime: 105, ...delay(true, 300, 3000) });
    assert.deepEqual(e.lanDelay(), { enabled: true, propagationDelayMs: 800, overrideIntervalMs: 3000, suppressionEnabled: false });
    hello(e, 4_000, HIGH, { holdtime: 105, ...delay(false, 300, 3000) });
    assert.equal(e.lanDelay().suppressionEnabled, true);
  });

  test('a neighbour without it: the defaults, suppression on', () => {
    const e = engine({ trackingSupport: true, propagationDelayMs: 1000 });
    hello(e, 3_000, LOW, { holdtime: 105, ...delay(true, 800, 1000) });
    hello(e, 3_000, HIGH, { holdtime: 105 });
    assert.deepEqual(e.lanDelay(), { enabled: false, propagationDelayMs: 500, overrideIntervalMs: 2500, suppressionEnabled: true });
    assert.deepEqual(e.view().lanDelay, e.lanDelay());
  });
});

describe('neighbour engine property', () => {
  const neighbor = fc.constantFrom('10.0.0.1', '10.0.0.3', '10.0.0.7', '10.0.0.200');
  const step = fc.record(
    {
      advanceMs: fc.nat(60_000),
      from: neighbor,
      holdtime: fc.oneof(fc.constantFrom(0, 0xffff), fc.integer({ min: 1, max: 120 })),
      drPriority: fc.option(fc.nat(3), { nil: undefined }),
      generationId: fc.option(fc.nat(2), { nil: undefined }),
    },
    { noNullPrototype: true },
  );

  /** RFC 7761 4.3.2's DR(I), written out again from the neighbour list alone. */
  function expectedDr(own: { address: string; priority: number }, neighbors: { address: string; drPriority: number | null }[]): string {
    const all = [{ address: own.address, drPriority: own.priority as number | null }, ...neighbors];
    const byPriority = neighbors.every((n) => n.drPriority !== null);
    return all.reduce((best, n) => {
      const better = byPriority
        ? n.drPriority! > best.drPriority! || (n.drPriority === best.drPriority && addressValue(n.address) > addressValue(best.address))
        : addressValue(n.address) > addressValue(best.address);
      return better ? n : best;
    }).address;
  }

  test('random Hellos and time: reported changes track the table, the DR matches 4.3.2, deadlines lie ahead', () => {
    fc.assert(
      fc.property(fc.nat(3), fc.array(step, { maxLength: 30 }), (ownPriority, steps) => {
        const e = new PimNeighbors({ ...CONFIG, drPriority: ownPriority }, randoms(0.3));
        const up = new Set<string>();
        let dr: string | null = null;
        const apply = (changes: PimNeighborChange[]) => {
          for (const c of changes) {
            if (c.type === 'neighbor_up') assert.ok(!up.has(c.address) && up.add(c.address));
            if (c.type === 'neighbor_down') assert.ok(up.delete(c.address));
            if (c.type === 'neighbor_restart') assert.ok(up.has(c.address));
            if (c.type === 'dr_changed') {
              assert.equal(c.previous, dr);
              assert.notEqual(c.dr, dr);
              dr = c.dr;
            }
          }
        };
        apply(e.start(0).changes);
        let now = 0;
        for (const s of steps) {
          now += s.advanceMs;
          for (const { result } of runUntil(e, now)) apply(result.changes);
          const { advanceMs: _, from, ...options } = s;
          apply(hello(e, now, from, options).changes);
          const view = e.view();
          assert.deepEqual(view.neighbors.map((n) => n.address).sort(), [...up].sort());
          assert.equal(dr, view.dr);
          assert.equal(view.dr, expectedDr({ address: OWN, priority: ownPriority }, view.neighbors));
          const next = e.nextDeadline();
          assert.ok(next !== null && next > now);
        }
        apply(e.stop().changes);
        assert.equal(up.size, 0);
        assert.equal(dr, null);
      }),
      { numRuns: 500, seed: 0x68656c6f },
    );
  });
});
