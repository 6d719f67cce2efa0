// SPDX-License-Identifier: MIT
// The routing table's compile step (src/routing/table.ts), learned-route slots
// (src/routing/learned.ts) and igmpproxy's routes and joins (src/routing/igmp/proxy.ts): what the
// core gets for each mix of static rules and listeners. Pure: no addon, no sockets.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SlotPool } from '../../src/daemon/rule-registry';
import { proxyRoutes, type ListenerFilter } from '../../src/routing/igmp/proxy';
import { LearnedRoutes } from '../../src/routing/learned';
import { compileRoutes, describeMatch, type RouteEntry, type RouteOutput } from '../../src/routing/table';

const out = (iface: string, slot: number, extra: Partial<RouteOutput> = {}): RouteOutput => ({
  interface: iface,
  group: '239.9.9.9',
  port: 6000,
  ttl: 16,
  slot,
  origin: 'static',
  ...extra,
});
const nobody = (): boolean => false;
const summary = (entries: RouteEntry[], listeners: (iface: string, group: string) => boolean = nobody) =>
  compileRoutes(entries, listeners).map(
    (c) => `${describeMatch({ ...c.rule, protocol: c.rule.protocol })} -> ${c.rule.outputs.map((o) => o.interface).join(',')}`,
  );

describe('compileRoutes', () => {
  test('static rules come first in order, each with its own outputs', () => {
    const entries: RouteEntry[] = [
      { match: { interface: 'in', group: '239.1.1.1', port: 5000 }, slot: 3, origin: 'static', outputs: [out('a', 10)] },
      { match: { interface: 'in', group: '239.1.1.2', port: 5000 }, slot: 4, origin: 'static', outputs: [out('b', 11)] },
    ];
    const compiled = compileRoutes(entries, nobody);
    assert.deepEqual(
      compiled.map((c) => [c.rule.slot, c.entry, c.rule.outputs.map((o) => o.slot)]),
      [
        [3, 0, [10]],
        [4, 1, [11]],
      ],
    );
  });

  test('a more specific entry also carries the outputs of the entries that cover it', () => {
    const entries: RouteEntry[] = [
      { match: { interface: 'in', group: '239.1.1.1', port: 5000 }, slot: 1, origin: 'static', outputs: [out('a', 10)] },
      { match: { interface: 'in', group: '239.1.1.1', port: 0 }, slot: 2, origin: 'static', outputs: [out('b', 11)] },
      { match: { interface: 'in', group: '239.1.1.1', port: 0, source: '10.0.0.1' }, slot: 3, origin: 'igmp', outputs: [out('c', 12)] },
      { match: { interface: 'other', group: '239.1.1.1', port: 0 }, slot: 4, origin: 'static', outputs: [out('d', 13)] },
    ];
    assert.deepEqual(summary(entries), [
      '(*,239.1.1.1:5000) -> a,b',
      '(*,239.1.1.1) -> b',
      '(10.0.0.1,239.1.1.1) -> c,b',
      '(*,239.1.1.1) -> d',
      // (S,G,any) and (*,G,port): S's packets to the port match neither alone, so they get their own entry.
      '(10.0.0.1,239.1.1.1:5000) -> a,b,c',
    ]);
    const implied = compileRoutes(entries, nobody).at(-1);
    assert.equal(implied?.entry, -1);
    assert.equal(implied?.rule.slot, 1, 'counted with the static rule that asked for the port');
  });

  test('a port-keeping output merged into an entry for one port sends to that port (the core takes port 0 only on any-port rules)', () => {
    const entries: RouteEntry[] = [
      { match: { interface: 'in', group: '239.1.1.1', port: 0 }, slot: 1, origin: 'static', outputs: [out('a', 10, { port: 0 })] },
      { match: { interface: 'in', group: '239.1.1.1', port: 5002 }, slot: 2, origin: 'static', outputs: [out('b', 11)] },
      {
        match: { interface: 'in', group: '239.1.1.1', port: 0, source: '10.0.0.1' },
        slot: 3,
        origin: 'static',
        outputs: [out('c', 12, { port: 0 })],
      },
    ];
    const ports = compileRoutes(entries, nobody).map((c) => [describeMatch(c.rule), c.rule.outputs.map((o) => `${o.interface}:${o.port}`)]);
    assert.deepEqual(ports, [
      ['(*,239.1.1.1)', ['a:0']],
      ['(*,239.1.1.1:5002)', ['b:6000', 'a:5002']],
      ['(10.0.0.1,239.1.1.1)', ['c:0', 'a:0']],
      ['(10.0.0.1,239.1.1.1:5002)', ['a:5002', 'b:6000', 'c:5002']],
    ]);
  });

  test('ESP and UDP entries of one group do not mix', () => {
    const entries: RouteEntry[] = [
      { match: { interface: 'in', group: '239.1.1.1', port: 0, protocol: 'esp' }, slot: 1, origin: 'static', outputs: [out('a', 10)] },
      { match: { interface: 'in', group: '239.1.1.1', port: 0 }, slot: 2, origin: 'static', outputs: [out('b', 11)] },
    ];
    assert.deepEqual(summary(entries), ['(*,239.1.1.1) esp -> a', '(*,239.1.1.1) -> b']);
  });

  test('an output that only forwards with listeners is left out until its group has one', () => {
    const entries: RouteEntry[] = [
      {
        match: { interface: 'in', group: '239.1.1.1', port: 5000 },
        slot: 1,
        origin: 'static',
        outputs: [out('a', 10), out('b', 11, { onlyWithListeners: true })],
      },
    ];
    assert.deepEqual(summary(entries), ['(*,239.1.1.1:5000) -> a']);
    assert.deepEqual(
      summary(entries, (iface: string, group: string) => iface === 'b' && group === '239.9.9.9'),
      ['(*,239.1.1.1:5000) -> a,b'],
    );
  });

  test('an excluded source gets an entry without the excluding output', () => {
    const entries: RouteEntry[] = [
      {
        match: { interface: 'up', group: '232.1.1.1', port: 0 },
        slot: 1,
        origin: 'igmp',
        outputs: [out('a', 10, { excludeSources: ['10.0.0.9'] }), out('b', 11)],
      },
      { match: { interface: 'up', group: '232.1.1.1', port: 0, source: '10.0.0.9' }, slot: 2, origin: 'igmp', outputs: [] },
    ];
    assert.deepEqual(summary(entries), ['(*,232.1.1.1) -> a,b', '(10.0.0.9,232.1.1.1) -> b']);
  });

  test('the same output wanted twice is sent once', () => {
    const entries: RouteEntry[] = [
      { match: { interface: 'in', group: '239.1.1.1', port: 5000 }, slot: 1, origin: 'static', outputs: [out('a', 10)] },
      { match: { interface: 'in', group: '239.1.1.1', port: 0 }, slot: 2, origin: 'static', outputs: [out('a', 11)] },
    ];
    const [first] = compileRoutes(entries, nobody);
    assert.deepEqual(
      first?.rule.outputs.map((o) => o.slot),
      [10],
    );
  });
});

describe('compileRoutes: PIM routes', () => {
  const pim = (iface: string, slot: number): RouteOutput => out(iface, slot, { origin: 'pim', routed: true, ttl: 'decrement' });
  test("a PIM (S,G) keeps its own outputs: the (*,G)'s pruned or assert-lost interfaces do not come back", () => {
    const entries: RouteEntry[] = [
      {
        match: { interface: 'up', group: '239.1.1.1', port: 0 },
        slot: 1,
        origin: 'pim',
        outputs: [pim('lan', 10), pim('far', 11)],
        punt: 'new_source',
      },
      { match: { interface: 'up', group: '239.1.1.1', port: 0, source: '10.0.0.1' }, slot: 2, origin: 'pim', outputs: [pim('far', 12)] },
    ];
    assert.deepEqual(summary(entries), ['(*,239.1.1.1) -> lan,far', '(10.0.0.1,239.1.1.1) -> far']);
    // The punt stays with its own entry: the (S,G) does not punt.
    assert.deepEqual(
      compileRoutes(entries, nobody).map((c) => c.rule.punt),
      ['new_source', undefined],
    );
  });

  test('a static rule covering a PIM (S,G) still adds its outputs to it', () => {
    const entries: RouteEntry[] = [
      { match: { interface: 'up', group: '239.1.1.1', port: 0 }, slot: 1, origin: 'static', outputs: [out('mirror', 10)] },
      {
        match: { interface: 'up', group: '239.1.1.1', port: 0, source: '10.0.0.1' },
        slot: 2,
        origin: 'pim',
        outputs: [pim('far', 12)],
        joinGroup: false,
      },
    ];
    assert.deepEqual(summary(entries), ['(*,239.1.1.1) -> mirror', '(10.0.0.1,239.1.1.1) -> far,mirror']);
    assert.equal(compileRoutes(entries, nobody)[1]?.rule.joinGroup, false);
  });
});

describe('igmpproxy routes', () => {
  const members = (spec: Record<string, Record<string, ListenerFilter>>) =>
    new Map(Object.entries(spec).map(([iface, groups]) => [iface, new Map(Object.entries(groups))]));

  test('an any-source listener: one (*,G) route (the core joins it any-source)', () => {
    const m = members({ d1: { '239.1.1.1': { mode: 'exclude', sources: [] } } });
    assert.deepEqual(proxyRoutes('up', m), [{ match: { interface: 'up', group: '239.1.1.1', port: 0 }, outputs: [{ interface: 'd1' }] }]);
  });

  test('INCLUDE listeners: (S,G) routes per source of the merged filter (the core joins each source-specifically)', () => {
    const m = members({
      d1: { '232.1.1.1': { mode: 'include', sources: ['10.0.0.1'] } },
      d2: { '232.1.1.1': { mode: 'include', sources: ['10.0.0.2', '10.0.0.1'] } },
    });
    assert.deepEqual(proxyRoutes('up', m), [
      { match: { interface: 'up', group: '232.1.1.1', port: 0, source: '10.0.0.1' }, outputs: [{ interface: 'd1' }, { interface: 'd2' }] },
      { match: { interface: 'up', group: '232.1.1.1', port: 0, source: '10.0.0.2' }, outputs: [{ interface: 'd2' }] },
    ]);
  });

  test('an EXCLUDE listener beside an INCLUDE one: the (*,G) route; the excluded source reaches only the other', () => {
    const m = members({
      d1: { '232.1.1.1': { mode: 'exclude', sources: ['10.0.0.9'] } },
      d2: { '232.1.1.1': { mode: 'include', sources: ['10.0.0.9'] } },
    });
    const routes = proxyRoutes('up', m);
    const learned = new LearnedRoutes(new SlotPool(100, 'rule'), new SlotPool(100, 'output'));
    learned.replace('igmp', routes);
    assert.deepEqual(summary(learned.entries()), ['(*,232.1.1.1) -> d1', '(10.0.0.9,232.1.1.1) -> d2']);
  });
});

describe('LearnedRoutes', () => {
  test('a route that stays keeps its slots; removed ones give theirs back; added and removed are reported', () => {
    const rules = new SlotPool(4, 'rule');
    const outputs = new SlotPool(4, 'output');
    const marked: Array<[number | null, number[]]> = [];
    const learned = new LearnedRoutes(rules, outputs, (r, o) => marked.push([r, o]));
    const g1 = { match: { interface: 'up', group: '239.1.1.1', port: 0 }, outputs: [{ interface: 'd1' }] };
    const g2 = { match: { interface: 'up', group: '239.1.1.2', port: 0 }, outputs: [{ interface: 'd1' }] };
    const first = learned.replace('igmp', [g1, g2]);
    assert.equal(first.added.length, 2);
    const slotOfG1 = learned.entries()[0]?.slot;
    const second = learned.replace('igmp', [{ ...g1, outputs: [{ interface: 'd1' }, { interface: 'd2' }] }]);
    assert.deepEqual(second.added, []);
    assert.deepEqual(
      second.removed.map((e) => e.match.group),
      ['239.1.1.2'],
    );
    assert.equal(learned.entries()[0]?.slot, slotOfG1);
    assert.equal(rules.available(), 3);
    assert.equal(outputs.available(), 2);
    assert.deepEqual(marked.at(-1), [null, [2]]);
    learned.replace('igmp', []);
    assert.equal(rules.available(), 4);
    assert.equal(outputs.available(), 4);
    assert.deepEqual(learned.entries(), []);
  });

  test('running out of slots changes nothing', () => {
    const learned = new LearnedRoutes(new SlotPool(1, 'rule'), new SlotPool(8, 'output'));
    const route = (g: string) => ({ match: { interface: 'up', group: g, port: 0 }, outputs: [{ interface: 'd1' }] });
    learned.replace('igmp', [route('239.1.1.1')]);
    assert.throws(() => learned.replace('igmp', [route('239.1.1.1'), route('239.1.1.2')]), /no free rule counter slot/);
    assert.deepEqual(
      learned.entries().map((e) => e.match.group),
      ['239.1.1.1'],
    );
  });
});
