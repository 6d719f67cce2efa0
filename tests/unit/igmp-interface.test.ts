// SPDX-License-Identifier: MIT
// The IGMP router engine (src/routing/igmp/interface.ts) driven with a fake clock in milliseconds:
// the RFC 3376 6.4.1/6.4.2 tables row by row, timer expiry (6.5), querier election both ways and
// takeover, startup queries, last member queries after a v2 leave and a v3 TO_IN({}), source
// queries after BLOCK, older-host compatibility (7.3.2), RFC 2236 mode, two listeners on one link.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { IGMP_DEFAULTS } from '../../src/config/types';
import {
  encodeIgmpPacket,
  GROUP_RECORD_TYPES,
  type GroupRecord,
  type IgmpMessage,
  type IgmpPacket,
  type IgmpQuery,
  parseIgmpPacket,
} from '../../src/routing/igmp/codec';
import {
  IgmpInterface,
  type IgmpInterfaceConfig,
  type IgmpResult,
  igmpInterfaceConfig,
  type MembershipChange,
} from '../../src/routing/igmp/interface';

const OWN = '10.0.0.5';
const G = '239.1.1.1';
const [S1, S2, S3] = ['10.9.0.1', '10.9.0.2', '10.9.0.3'];
const [H1, H2] = ['10.0.0.101', '10.0.0.102'];

// QI 10 s, QRI 1 s, LMQI 100 ms, robustness 2: GMI 21 s, LMQT 200 ms, Other Querier Present
// 20.5 s, Older Host Present 21 s, startup queries every 2.5 s.
const CONFIG: IgmpInterfaceConfig = {
  address: OWN,
  version: 3,
  queryIntervalMs: 10_000,
  queryResponseIntervalMs: 1_000,
  lastMemberQueryIntervalMs: 100,
  robustness: 2,
};
const GMI = 21_000;
const LMQT = 200;
const OQPI = 20_500;

function engine(config: Partial<IgmpInterfaceConfig> = {}): IgmpInterface {
  const e = new IgmpInterface({ ...CONFIG, ...config });
  e.start(0);
  return e;
}

/**
 * Messages go through the wire format, so the engine sees what the socket would give it. Timers
 * due by `now` run first, as the daemon's timer would have run them.
 */
function deliver(e: IgmpInterface, now: number, source: string, message: IgmpMessage): IgmpResult {
  runUntil(e, now);
  const parsed = parseIgmpPacket(encodeIgmpPacket(message, { source }));
  if (!parsed.ok) assert.fail(`test packet does not parse: ${parsed.reason}`);
  return e.receive(parsed.packet, now);
}

const rec = (type: GroupRecord['type'], sources: string[], group = G): GroupRecord => ({ type, group, sources });
const v3 = (e: IgmpInterface, now: number, ...records: GroupRecord[]) => deliver(e, now, H1, { type: 'v3_report', records });

/** The group's RFC 3376 state: X (source -> timer) and Y, with group timer, or null for no state. */
function state(e: IgmpInterface, now: number, group = G) {
  const g = e.view(now).groups.find((v) => v.group === group);
  if (!g) return null;
  const x: Record<string, number> = {};
  const y: string[] = [];
  for (const s of g.sources) {
    if (s.expiresAt === null) y.push(s.source);
    else x[s.source] = s.expiresAt;
  }
  return g.filterMode === 'include' ? { mode: g.filterMode, x } : { mode: g.filterMode, x, y, groupTimer: g.expiresAt };
}

/** The queries in a result, as { group, sources, s }. */
function queries(r: IgmpResult) {
  return r.send.map(({ message, destination }) => {
    assert.equal(message.type, 'query');
    const q = message as IgmpQuery;
    assert.equal(destination, q.group === '0.0.0.0' ? '224.0.0.1' : q.group);
    return { group: q.group, sources: q.sources, s: q.suppressRouterProcessing };
  });
}

interface Logged {
  at: number;
  result: IgmpResult;
}

/** Ticks at every deadline up to `until`, as the daemon's timer would. */
function runUntil(e: IgmpInterface, until: number): Logged[] {
  const log: Logged[] = [];
  for (let at = e.nextDeadline(); at !== null && at <= until; at = e.nextDeadline()) log.push({ at, result: e.tick(at) });
  return log;
}

const changesIn = (log: Logged[]) => log.flatMap(({ at, result }) => result.changes.map((c) => ({ at, ...c })));
const queriesIn = (log: Logged[]) => log.flatMap(({ at, result }) => queries(result).map((q) => ({ at, ...q })));

// ---- RFC 3376 6.4.1 / 6.4.2 ---------------------------------------------------------------------

describe('RFC 3376 6.4: router state INCLUDE (A), A = {S1, S2} with timers at 21000; record at t = 1000', () => {
  const T = 1_000;
  const setUp = () => {
    const e = engine();
    v3(e, 0, rec('MODE_IS_INCLUDE', [S1, S2]));
    return e;
  };
  test('IS_IN(B): INCLUDE (A+B); (B)=GMI', () => {
    const e = setUp();
    const r = v3(e, T, rec('MODE_IS_INCLUDE', [S2, S3]));
    assert.deepEqual(state(e, T), { mode: 'include', x: { [S1]: GMI, [S2]: T + GMI, [S3]: T + GMI } });
    assert.deepEqual(queries(r), []);
    assert.deepEqual(r.changes, [{ group: G, mode: 'include', sources: [S1, S2, S3] }]);
  });
  test('IS_EX(B): EXCLUDE (A*B, B-A); (B-A)=0; Delete (A-B); Group Timer=GMI', () => {
    const e = setUp();
    const r = v3(e, T, rec('MODE_IS_EXCLUDE', [S2, S3]));
    assert.deepEqual(state(e, T), { mode: 'exclude', x: { [S2]: GMI }, y: [S3], groupTimer: T + GMI });
    assert.deepEqual(queries(r), []);
    assert.deepEqual(r.changes, [{ group: G, mode: 'exclude', sources: [S3] }]);
  });
  test('ALLOW(B): INCLUDE (A+B); (B)=GMI', () => {
    const e = setUp();
    v3(e, T, rec('ALLOW_NEW_SOURCES', [S3]));
    assert.deepEqual(state(e, T), { mode: 'include', x: { [S1]: GMI, [S2]: GMI, [S3]: T + GMI } });
  });
  test('BLOCK(B): INCLUDE (A); Send Q(G,A*B)', () => {
    const e = setUp();
    const r = v3(e, T, rec('BLOCK_OLD_SOURCES', [S2, S3]));
    assert.deepEqual(state(e, T), { mode: 'include', x: { [S1]: GMI, [S2]: T + LMQT } });
    assert.deepEqual(queries(r), [{ group: G, sources: [S2], s: false }]);
    assert.deepEqual(r.changes, []);
  });
  test('TO_EX(B): EXCLUDE (A*B, B-A); (B-A)=0; Delete (A-B); Send Q(G,A*B); Group Timer=GMI', () => {
    const e = setUp();
    const r = v3(e, T, rec('CHANGE_TO_EXCLUDE_MODE', [S2, S3]));
    assert.deepEqual(state(e, T), { mode: 'exclude', x: { [S2]: T + LMQT }, y: [S3], groupTimer: T + GMI });
    assert.deepEqual(queries(r), [{ group: G, sources: [S2], s: false }]);
  });
  test('TO_IN(B): INCLUDE (A+B); (B)=GMI; Send Q(G,A-B)', () => {
    const e = setUp();
    const r = v3(e, T, rec('CHANGE_TO_INCLUDE_MODE', [S2, S3]));
    assert.deepEqual(state(e, T), { mode: 'include', x: { [S1]: T + LMQT, [S2]: T + GMI, [S3]: T + GMI } });
    assert.deepEqual(queries(r), [{ group: G, sources: [S1], s: false }]);
  });
});

describe('RFC 3376 6.4: router state EXCLUDE (X, Y), X = {S1}, Y = {S2}, group timer 21000; record at t = 1000', () => {
  const T = 1_000;
  const setUp = () => {
    const e = engine();
    v3(e, 0, rec('MODE_IS_EXCLUDE', [S2]), rec('ALLOW_NEW_SOURCES', [S1]));
    assert.deepEqual(state(e, 0), { mode: 'exclude', x: { [S1]: GMI }, y: [S2], groupTimer: GMI });
    return e;
  };
  test('IS_IN(A): EXCLUDE (X+A, Y-A); (A)=GMI', () => {
    const e = setUp();
    const r = v3(e, T, rec('MODE_IS_INCLUDE', [S2, S3]));
    assert.deepEqual(state(e, T), { mode: 'exclude', x: { [S1]: GMI, [S2]: T + GMI, [S3]: T + GMI }, y: [], groupTimer: GMI });
    assert.deepEqual(r.changes, [{ group: G, mode: 'exclude', sources: [] }]);
  });
  test('IS_EX(A): EXCLUDE (A-Y, Y*A); (A-X-Y)=GMI; Delete (X-A); Delete (Y-A); Group Timer=GMI', () => {
    const e = setUp();
    const r = v3(e, T, rec('MODE_IS_EXCLUDE', [S2, S3]));
    assert.deepEqual(state(e, T), { mode: 'exclude', x: { [S3]: T + GMI }, y: [S2], groupTimer: T + GMI });
    assert.deepEqual(queries(r), []);
  });
  test('ALLOW(A): EXCLUDE (X+A, Y-A); (A)=GMI', () => {
    const e = setUp();
    v3(e, T, rec('ALLOW_NEW_SOURCES', [S2]));
    assert.deepEqual(state(e, T), { mode: 'exclude', x: { [S1]: GMI, [S2]: T + GMI }, y: [], groupTimer: GMI });
  });
  test('BLOCK(A): EXCLUDE (X+(A-Y), Y); (A-X-Y)=Group Timer; Send Q(G,A-Y)', () => {
    const e = setUp();
    const r = v3(e, T, rec('BLOCK_OLD_SOURCES', [S1, S2, S3]));
    // A-Y = {S1, S3}: S3 got the group timer, then Q(G,A-Y) lowered both to LMQT
    assert.deepEqual(state(e, T), { mode: 'exclude', x: { [S1]: T + LMQT, [S3]: T + LMQT }, y: [S2], groupTimer: GMI });
    assert.deepEqual(queries(r), [{ group: G, sources: [S1, S3], s: false }]);
    assert.deepEqual(r.changes, []);
  });
  test('BLOCK(A) of a new source only: (A-X-Y) takes the group timer, then the query lowers it', () => {
    const e = setUp();
    v3(e, T, rec('BLOCK_OLD_SOURCES', [S3]));
    assert.deepEqual(state(e, T), { mode: 'exclude', x: { [S1]: GMI, [S3]: T + LMQT }, y: [S2], groupTimer: GMI });
    // no report for S3 within LMQT: S3 joins Y (stop forwarding it)
    const log = runUntil(e, T + LMQT);
    assert.deepEqual(state(e, T + LMQT), { mode: 'exclude', x: { [S1]: GMI }, y: [S2, S3], groupTimer: GMI });
    assert.deepEqual(changesIn(log), [{ at: T + LMQT, group: G, mode: 'exclude', sources: [S2, S3] }]);
  });
  test('TO_EX(A): EXCLUDE (A-Y, Y*A); (A-X-Y)=Group Timer; Delete (X-A); Delete (Y-A); Send Q(G,A-Y); Group Timer=GMI', () => {
    const e = setUp();
    const r = v3(e, T, rec('CHANGE_TO_EXCLUDE_MODE', [S2, S3]));
    assert.deepEqual(state(e, T), { mode: 'exclude', x: { [S3]: T + LMQT }, y: [S2], groupTimer: T + GMI });
    assert.deepEqual(queries(r), [{ group: G, sources: [S3], s: false }]);
  });
  test('TO_IN(A): EXCLUDE (X+A, Y-A); (A)=GMI; Send Q(G,X-A); Send Q(G)', () => {
    const e = setUp();
    const r = v3(e, T, rec('CHANGE_TO_INCLUDE_MODE', [S2, S3]));
    assert.deepEqual(state(e, T), { mode: 'exclude', x: { [S1]: T + LMQT, [S2]: T + GMI, [S3]: T + GMI }, y: [], groupTimer: T + LMQT });
    assert.deepEqual(queries(r), [
      { group: G, sources: [], s: false },
      { group: G, sources: [S1], s: false },
    ]);
    // group timer out: INCLUDE (X) with the sources the TO_IN asked for
    const log = runUntil(e, T + LMQT);
    assert.deepEqual(state(e, T + LMQT), { mode: 'include', x: { [S2]: T + GMI, [S3]: T + GMI } });
    assert.deepEqual(changesIn(log).at(-1), { at: T + LMQT, group: G, mode: 'include', sources: [S2, S3] });
  });
});

describe('RFC 3376 6.5: timers running out', () => {
  test('INCLUDE: a source timer out deletes the source; the last one deletes the group', () => {
    const e = engine();
    v3(e, 0, rec('MODE_IS_INCLUDE', [S1]));
    v3(e, 5_000, rec('MODE_IS_INCLUDE', [S2]));
    const log = runUntil(e, 5_000 + GMI);
    assert.deepEqual(changesIn(log), [
      { at: GMI, group: G, mode: 'include', sources: [S2] },
      { at: 5_000 + GMI, group: G, mode: 'none', sources: [] },
    ]);
    assert.equal(state(e, 5_000 + GMI), null);
  });
  test('EXCLUDE: a source timer out moves it to the blocked list; the group timer out ends the group', () => {
    const e = engine();
    v3(e, 0, rec('MODE_IS_EXCLUDE', []));
    v3(e, 0, rec('ALLOW_NEW_SOURCES', [S1]));
    v3(e, 5_000, rec('MODE_IS_EXCLUDE', [S1])); // S1 stays in X with its own timer (A*X kept)
    const log = runUntil(e, 5_000 + GMI);
    assert.deepEqual(changesIn(log), [
      { at: GMI, group: G, mode: 'exclude', sources: [S1] },
      { at: 5_000 + GMI, group: G, mode: 'none', sources: [] },
    ]);
  });
  test('forwarding answers: include list, or all but the exclude-mode sources whose timer is 0', () => {
    const e = engine();
    v3(e, 0, rec('MODE_IS_EXCLUDE', [S2]), rec('ALLOW_NEW_SOURCES', [S1]));
    assert.equal(e.forwardsSource(G, S1), true);
    assert.equal(e.forwardsSource(G, S2), false);
    assert.equal(e.forwardsSource(G, S3), true);
    assert.deepEqual(e.forwarding(G), { group: G, mode: 'exclude', sources: [S2] });
    assert.deepEqual(e.forwarding('239.9.9.9'), { group: '239.9.9.9', mode: 'none', sources: [] });
    assert.equal(e.forwardsSource('239.9.9.9', S1), false);
    assert.deepEqual(e.filters(), [{ group: G, mode: 'exclude', sources: [S2] }]);
    const view = e.view(0).groups[0]!;
    assert.deepEqual(
      view.sources.map((s) => [s.source, s.forwarded]),
      [
        [S1, true],
        [S2, false],
      ],
    );
  });
});

// ---- queries and the election -------------------------------------------------------------------

describe('querier', () => {
  test('startup: robustness queries at queryInterval/4, then every queryInterval', () => {
    const e = new IgmpInterface({ ...CONFIG, robustness: 3 });
    const first = e.start(0);
    assert.deepEqual(queries(first), [{ group: '0.0.0.0', sources: [], s: false }]);
    const q = first.send[0]!.message as IgmpQuery;
    assert.deepEqual([q.version, q.maxResponseMs, q.robustness, q.queryIntervalSeconds], [3, 1_000, 3, 10]);
    const log = runUntil(e, 40_000);
    assert.deepEqual(
      queriesIn(log).map((x) => x.at),
      [2_500, 5_000, 15_000, 25_000, 35_000],
    );
    assert.equal(e.view(40_000).querier.isQuerier, true);
  });

  test('a lower address wins: we stop querying, then take over when Other Querier Present runs out', () => {
    const e = engine(); // 10.0.0.5
    const other: IgmpMessage = {
      type: 'query',
      version: 3,
      group: '0.0.0.0',
      maxResponseMs: 1_000,
      suppressRouterProcessing: false,
      robustness: 2,
      queryIntervalSeconds: 10,
      sources: [],
    };
    deliver(e, 1_000, '10.0.0.1', other);
    assert.deepEqual(e.view(1_000).querier, {
      address: '10.0.0.1',
      isQuerier: false,
      otherQuerierExpiresAt: 1_000 + OQPI,
      nextGeneralQueryAt: null,
      startupQueriesLeft: 0,
      robustness: 2,
      queryIntervalMs: 10_000,
    });
    // the other querier keeps querying: no takeover, no queries from us
    deliver(e, 11_000, '10.0.0.1', other);
    assert.deepEqual(queriesIn(runUntil(e, 31_000)), []);
    // it goes silent: we take over after the Other Querier Present Interval, querying at once
    const log = runUntil(e, 11_000 + OQPI + 10_000);
    assert.deepEqual(queriesIn(log), [
      { at: 11_000 + OQPI, group: '0.0.0.0', sources: [], s: false },
      { at: 11_000 + OQPI + 10_000, group: '0.0.0.0', sources: [], s: false },
    ]);
    assert.equal(e.view(11_000 + OQPI).querier.isQuerier, true);
    assert.equal(e.view(11_000 + OQPI).querier.address, OWN);
  });

  test('a higher address does not: we stay querier; its own engine defers to ours', () => {
    const low = engine();
    const high = engine({ address: '10.0.0.9' });
    const lowQuery = low.tick(low.nextDeadline()!).send[0]!.message;
    const highQuery = high.tick(high.nextDeadline()!).send[0]!.message;
    deliver(low, 2_500, '10.0.0.9', highQuery);
    deliver(high, 2_500, OWN, lowQuery);
    assert.equal(low.view(2_500).querier.isQuerier, true);
    assert.deepEqual([high.view(2_500).querier.isQuerier, high.view(2_500).querier.address], [false, OWN]);
    // our own query looped back is ignored
    assert.equal(deliver(low, 2_500, OWN, lowQuery).ignored, 'own_query');
  });

  test("a non-querier adopts the querier's QRV and QQIC for its timers", () => {
    const e = engine();
    deliver(e, 0, '10.0.0.1', {
      type: 'query',
      version: 3,
      group: '0.0.0.0',
      maxResponseMs: 1_000,
      suppressRouterProcessing: false,
      robustness: 3,
      queryIntervalSeconds: 60,
      sources: [],
    });
    assert.equal(e.view(0).querier.otherQuerierExpiresAt, 3 * 60_000 + 500);
    v3(e, 0, rec('MODE_IS_EXCLUDE', []));
    assert.equal(e.view(0).groups[0]!.expiresAt, 3 * 60_000 + 1_000);
  });

  test('a non-querier tracks reports, sends no group queries, and lowers its timer on the querier’s query', () => {
    const e = engine();
    const general: IgmpQuery = {
      type: 'query',
      version: 3,
      group: '0.0.0.0',
      maxResponseMs: 1_000,
      suppressRouterProcessing: false,
      robustness: 2,
      queryIntervalSeconds: 10,
      sources: [],
    };
    deliver(e, 0, '10.0.0.1', general);
    const join = v3(e, 1_000, rec('CHANGE_TO_EXCLUDE_MODE', []));
    assert.deepEqual(join.changes, [{ group: G, mode: 'exclude', sources: [] }]);
    const leave = v3(e, 2_000, rec('CHANGE_TO_INCLUDE_MODE', []));
    assert.deepEqual(queries(leave), []);
    assert.equal(state(e, 2_000)?.groupTimer, 1_000 + GMI);
    // the querier's group-specific query (S clear) lowers the group timer to LMQT
    deliver(e, 2_010, '10.0.0.1', { ...general, group: G });
    assert.equal(state(e, 2_010)?.groupTimer, 2_010 + LMQT);
    // with the S flag set it does not
    const f = engine();
    deliver(f, 0, '10.0.0.1', general);
    v3(f, 1_000, rec('CHANGE_TO_EXCLUDE_MODE', []));
    deliver(f, 2_010, '10.0.0.1', { ...general, group: G, suppressRouterProcessing: true });
    assert.equal(state(f, 2_010)?.groupTimer, 1_000 + GMI);
    assert.deepEqual(changesIn(runUntil(e, 2_010 + LMQT)), [{ at: 2_010 + LMQT, group: G, mode: 'none', sources: [] }]);
  });
});

// ---- leaves and listeners ------------------------------------------------------------------------

describe('leaves', () => {
  test('v2 leave: group-specific query lastMemberQueryCount times at lastMemberQueryInterval, then the group expires', () => {
    const e = engine();
    const join = deliver(e, 0, H1, { type: 'v2_report', group: G });
    assert.deepEqual(join.changes, [{ group: G, mode: 'exclude', sources: [] }]);
    assert.equal(e.view(0).groups[0]!.compatibilityMode, 2);
    assert.equal(e.view(0).groups[0]!.lastReporter, H1);
    const leave = deliver(e, 5_000, H1, { type: 'v2_leave', group: G });
    assert.deepEqual(queries(leave), [{ group: G, sources: [], s: false }]);
    assert.equal((leave.send[0]!.message as IgmpQuery).maxResponseMs, 100);
    const log = runUntil(e, 10_000);
    assert.deepEqual(queriesIn(log), [{ at: 5_100, group: G, sources: [], s: false }]);
    assert.deepEqual(changesIn(log), [{ at: 5_000 + LMQT, group: G, mode: 'none', sources: [] }]);
  });

  test('v3 TO_IN({}) leave: the same, the group gone after LMQT', () => {
    const e = engine();
    v3(e, 0, rec('CHANGE_TO_EXCLUDE_MODE', []));
    const leave = v3(e, 5_000, rec('CHANGE_TO_INCLUDE_MODE', []));
    assert.deepEqual(queries(leave), [{ group: G, sources: [], s: false }]);
    const log = runUntil(e, 10_000);
    assert.deepEqual(
      queriesIn(log).map((q) => q.at),
      [5_100],
    );
    assert.deepEqual(changesIn(log), [{ at: 5_200, group: G, mode: 'none', sources: [] }]);
    assert.equal(state(e, 5_200), null);
  });

  test('BLOCK: group-and-source-specific queries; the blocked source stops unless someone reports it', () => {
    const e = engine();
    v3(e, 0, rec('MODE_IS_INCLUDE', [S1, S2]));
    const block = v3(e, 5_000, rec('BLOCK_OLD_SOURCES', [S1]));
    assert.deepEqual(queries(block), [{ group: G, sources: [S1], s: false }]);
    const log = runUntil(e, 6_000);
    assert.deepEqual(queriesIn(log), [{ at: 5_100, group: G, sources: [S1], s: false }]);
    assert.deepEqual(changesIn(log), [{ at: 5_200, group: G, mode: 'include', sources: [S2] }]);

    // another listener answers the first query: the retransmission carries the S flag, S1 stays
    const f = engine();
    v3(f, 0, rec('MODE_IS_INCLUDE', [S1, S2]));
    v3(f, 5_000, rec('BLOCK_OLD_SOURCES', [S1]));
    deliver(f, 5_050, H2, { type: 'v3_report', records: [rec('MODE_IS_INCLUDE', [S1])] });
    const log2 = runUntil(f, 6_000);
    assert.deepEqual(queriesIn(log2), [{ at: 5_100, group: G, sources: [S1], s: true }]);
    assert.deepEqual(changesIn(log2), []);
    assert.deepEqual(f.forwarding(G).sources, [S1, S2]);
  });

  test('two listeners: the group stays until the last one leaves', () => {
    const e = engine();
    v3(e, 0, rec('CHANGE_TO_EXCLUDE_MODE', []));
    deliver(e, 100, H2, { type: 'v3_report', records: [rec('CHANGE_TO_EXCLUDE_MODE', [])] });
    // H1 leaves; H2 answers the group-specific query
    const leave = v3(e, 5_000, rec('CHANGE_TO_INCLUDE_MODE', []));
    assert.deepEqual(leave.changes, []);
    deliver(e, 5_050, H2, { type: 'v3_report', records: [rec('MODE_IS_EXCLUDE', [])] });
    const log = runUntil(e, 6_000);
    assert.deepEqual(queriesIn(log), [{ at: 5_100, group: G, sources: [], s: true }]);
    assert.deepEqual(changesIn(log), []);
    assert.equal(state(e, 6_000)?.groupTimer, 5_050 + GMI);
    assert.equal(e.view(6_000).groups[0]!.lastReporter, H2);
    // H2 leaves too: gone after LMQT
    deliver(e, 7_000, H2, { type: 'v3_report', records: [rec('CHANGE_TO_INCLUDE_MODE', [])] });
    assert.deepEqual(changesIn(runUntil(e, 8_000)), [{ at: 7_200, group: G, mode: 'none', sources: [] }]);
  });

  test('two v2 listeners: the same with v2 reports and leaves', () => {
    const e = engine();
    deliver(e, 0, H1, { type: 'v2_report', group: G });
    deliver(e, 0, H2, { type: 'v2_report', group: G });
    deliver(e, 5_000, H1, { type: 'v2_leave', group: G });
    deliver(e, 5_080, H2, { type: 'v2_report', group: G });
    assert.deepEqual(changesIn(runUntil(e, 6_000)), []);
    assert.equal(e.forwarding(G).mode, 'exclude');
    deliver(e, 7_000, H2, { type: 'v2_leave', group: G });
    assert.deepEqual(changesIn(runUntil(e, 8_000)), [{ at: 7_200, group: G, mode: 'none', sources: [] }]);
  });

  test('groups in 224.0.0.0/24 are not tracked', () => {
    const e = engine();
    assert.equal(deliver(e, 0, H1, { type: 'v2_report', group: '224.0.0.251' }).ignored, 'local_group');
    assert.equal(v3(e, 0, rec('CHANGE_TO_EXCLUDE_MODE', [], '224.0.0.251')).ignored, 'local_group');
    assert.deepEqual(e.view(0).groups, []);
  });
});

// ---- compatibility ------------------------------------------------------------------------------

describe('RFC 3376 7.3.2: older hosts', () => {
  test('a v2 host in a v3 group: EXCLUDE({}), BLOCK ignored, TO_EX sources ignored, until Older Host Present runs out', () => {
    const e = engine();
    v3(e, 0, rec('MODE_IS_INCLUDE', [S1]));
    assert.equal(e.view(0).groups[0]!.compatibilityMode, 3);
    const v2 = deliver(e, 1_000, H2, { type: 'v2_report', group: G });
    assert.deepEqual(v2.changes, [{ group: G, mode: 'exclude', sources: [] }]);
    assert.equal(e.view(1_000).groups[0]!.compatibilityMode, 2);
    assert.equal(e.view(1_000).groups[0]!.v2HostExpiresAt, 1_000 + GMI);
    const block = v3(e, 2_000, rec('BLOCK_OLD_SOURCES', [S1]));
    assert.deepEqual([block.ignored, queries(block)], ['block_in_compat_mode', []]);
    const toEx = v3(e, 3_000, rec('CHANGE_TO_EXCLUDE_MODE', [S2]));
    assert.deepEqual(toEx.changes, []); // treated as TO_EX({}): S2 not blocked
    assert.equal(e.forwardsSource(G, S2), true);
    // the v2 host goes quiet; v3 reports keep the group: compatibility back to v3
    v3(e, 20_000, rec('MODE_IS_EXCLUDE', []));
    runUntil(e, 1_000 + GMI);
    assert.equal(e.view(1_000 + GMI).groups[0]!.compatibilityMode, 3);
    assert.equal(e.view(1_000 + GMI).groups[0]!.v2HostExpiresAt, null);
    // TO_EX's sources count again: S2 is queried (A-X-Y took the group timer, the query lowers it)
    // and, unanswered, blocked after LMQT
    const toEx2 = v3(e, 23_000, rec('CHANGE_TO_EXCLUDE_MODE', [S2]));
    assert.deepEqual(queries(toEx2), [{ group: G, sources: [S2], s: false }]);
    assert.deepEqual(changesIn(runUntil(e, 23_000 + LMQT)), [{ at: 23_000 + LMQT, group: G, mode: 'exclude', sources: [S2] }]);
  });

  test('a v1 host: v2 leaves are ignored while it is present', () => {
    const e = engine();
    deliver(e, 0, H1, { type: 'v1_report', group: G });
    deliver(e, 0, H2, { type: 'v2_report', group: G });
    assert.equal(e.view(0).groups[0]!.compatibilityMode, 1);
    const leave = deliver(e, 1_000, H2, { type: 'v2_leave', group: G });
    assert.deepEqual([leave.ignored, leave.send.length], ['leave_with_v1_host', 0]);
    assert.equal(state(e, 1_000)?.groupTimer, GMI);
  });
});

describe('version 2 (RFC 2236)', () => {
  test('v2 queries; reports join, leaves send v2 group-specific queries; v3 reports ignored', () => {
    const e = new IgmpInterface({ ...CONFIG, version: 2 });
    const start = e.start(0);
    const q = start.send[0]!.message as IgmpQuery;
    assert.deepEqual([q.version, q.maxResponseMs, start.send[0]!.packet.length], [2, 1_000, 32]);
    assert.equal(v3(e, 0, rec('CHANGE_TO_EXCLUDE_MODE', [])).ignored, 'v3_report_in_v2_mode');
    assert.deepEqual(deliver(e, 100, H1, { type: 'v2_report', group: G }).changes, [{ group: G, mode: 'exclude', sources: [] }]);
    assert.equal(e.view(100).groups[0]!.compatibilityMode, 2);
    const leave = deliver(e, 1_000, H1, { type: 'v2_leave', group: G });
    const lq = leave.send[0]!.message as IgmpQuery;
    assert.deepEqual([lq.version, lq.group, lq.maxResponseMs, leave.send[0]!.destination], [2, G, 100, G]);
    const log = runUntil(e, 2_000);
    assert.deepEqual(
      queriesIn(log).map((x) => x.at),
      [1_100],
    );
    assert.deepEqual(changesIn(log), [{ at: 1_200, group: G, mode: 'none', sources: [] }]);
  });

  test('membership expires after GMI without reports', () => {
    const e = new IgmpInterface({ ...CONFIG, version: 2 });
    e.start(0);
    deliver(e, 0, H1, { type: 'v2_report', group: G });
    assert.deepEqual(changesIn(runUntil(e, GMI)), [{ at: GMI, group: G, mode: 'none', sources: [] }]);
  });
});

// ---- wire and configuration ---------------------------------------------------------------------

describe('sent packets and configuration', () => {
  test('every packet sent is a valid IGMP packet from our address with TTL 1 and Router Alert', () => {
    const e = engine();
    v3(e, 0, rec('MODE_IS_INCLUDE', [S1, S2]), rec('MODE_IS_EXCLUDE', [], '239.2.2.2'));
    const sent = [
      ...v3(e, 1_000, rec('BLOCK_OLD_SOURCES', [S1])).send,
      ...v3(e, 1_000, rec('CHANGE_TO_INCLUDE_MODE', [], '239.2.2.2')).send,
      ...runUntil(e, 30_000).flatMap((l) => l.result.send),
    ];
    assert.ok(sent.length >= 5);
    for (const s of sent) {
      const parsed = parseIgmpPacket(s.packet);
      if (!parsed.ok) assert.fail(parsed.reason);
      const p: IgmpPacket = parsed.packet;
      assert.deepEqual(p.ip, { source: OWN, destination: s.destination, ttl: 1, routerAlert: true });
      assert.deepEqual(p.message, s.message);
    }
  });

  test('nextDeadline: null before start, then the earliest timer', () => {
    const e = new IgmpInterface(CONFIG);
    assert.equal(e.nextDeadline(), null);
    e.start(0);
    assert.equal(e.nextDeadline(), 2_500);
    v3(e, 100, rec('BLOCK_OLD_SOURCES', [S1])); // no state: nothing scheduled
    assert.equal(e.nextDeadline(), 2_500);
    v3(e, 100, rec('MODE_IS_INCLUDE', [S1]));
    v3(e, 200, rec('BLOCK_OLD_SOURCES', [S1]));
    assert.equal(e.nextDeadline(), 300);
  });

  test('stop() withdraws every listener', () => {
    const e = engine();
    v3(e, 0, rec('MODE_IS_INCLUDE', [S1]), rec('MODE_IS_EXCLUDE', [], '239.2.2.2'));
    assert.deepEqual(e.stop().changes, [
      { group: G, mode: 'none', sources: [] },
      { group: '239.2.2.2', mode: 'none', sources: [] },
    ]);
    assert.equal(e.nextDeadline(), null);
  });

  test('defaults, and seconds to milliseconds', () => {
    assert.deepEqual(IGMP_DEFAULTS, {
      version: 3,
      queryInterval: 125,
      queryResponseInterval: 10,
      lastMemberQueryInterval: 1,
      robustness: 2,
    });
    assert.deepEqual(igmpInterfaceConfig(OWN, { ...IGMP_DEFAULTS, queryResponseInterval: 0.3 }), {
      address: OWN,
      version: 3,
      queryIntervalMs: 125_000,
      queryResponseIntervalMs: 300,
      lastMemberQueryIntervalMs: 1_000,
      robustness: 2,
    });
  });
});

// A compile-time check that MembershipChange is the documented shape.
const _change: MembershipChange = { group: G, mode: 'none', sources: [] };
void _change;

// ---- properties ----------------------------------------------------------------------------------

describe('engine properties', () => {
  const groups = ['239.1.1.1', '239.2.2.2', '232.1.1.1'];
  const srcs = [S1, S2, S3, '10.9.0.4'];
  const host = fc.constantFrom(H1, H2, '10.0.0.103');
  const record = fc
    .record({ type: fc.constantFrom(...GROUP_RECORD_TYPES), group: fc.constantFrom(...groups), sources: fc.subarray(srcs) })
    .map((r) => ({ ...r }));
  const query = fc
    .record({
      version: fc.constantFrom(2 as const, 3 as const),
      group: fc.constantFrom('0.0.0.0', ...groups),
      s: fc.boolean(),
      qrv: fc.nat(7),
      qqic: fc.integer({ min: 0, max: 40 }),
      sources: fc.subarray(srcs),
    })
    .map(
      (q): IgmpMessage => ({
        type: 'query',
        version: q.version,
        group: q.group,
        maxResponseMs: 1_000,
        suppressRouterProcessing: q.version === 3 && q.s,
        robustness: q.version === 3 ? q.qrv : 0,
        queryIntervalSeconds: q.version === 3 ? q.qqic : 0,
        sources: q.version === 3 ? q.sources : [],
      }),
    );
  const step = fc.record({
    dt: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 30_000 })),
    from: fc.oneof(host, fc.constantFrom('10.0.0.1', '10.0.0.9')),
    message: fc.oneof(
      fc.array(record, { minLength: 1, maxLength: 3 }).map((records): IgmpMessage => ({ type: 'v3_report', records })),
      fc.constantFrom(...groups).map((group): IgmpMessage => ({ type: 'v2_report', group })),
      fc.constantFrom(...groups).map((group): IgmpMessage => ({ type: 'v2_leave', group })),
      fc.constantFrom(...groups).map((group): IgmpMessage => ({ type: 'v1_report', group })),
      query,
    ),
  });

  test('any message sequence: changes match forwarding(), nothing is missed, INCLUDE has no blocked source, packets parse', () => {
    fc.assert(
      fc.property(fc.constantFrom(2 as const, 3 as const), fc.array(step, { maxLength: 40 }), (version, steps) => {
        const e = new IgmpInterface({ ...CONFIG, version });
        const seen = new Map<string, MembershipChange>();
        const check = (now: number, r: IgmpResult) => {
          for (const c of r.changes) {
            assert.deepEqual(e.forwarding(c.group), c);
            if (c.mode === 'none') seen.delete(c.group);
            else seen.set(c.group, c);
          }
          for (const s of r.send) assert.ok(parseIgmpPacket(s.packet).ok);
          assert.deepEqual(
            e.filters(),
            [...seen.values()].sort((a, b) => (a.group < b.group ? -1 : 1)),
          );
          for (const g of e.view(now).groups) {
            if (g.filterMode === 'include')
              assert.ok(g.sources.length > 0 && g.sources.every((s) => s.expiresAt !== null && s.expiresAt > now));
            else assert.ok(g.expiresAt > now);
          }
          const next = e.nextDeadline();
          assert.ok(next === null || next > now);
        };
        let now = 0;
        check(now, e.start(now));
        for (const { dt, from, message } of steps) {
          now += dt;
          for (let at = e.nextDeadline(); at !== null && at <= now; at = e.nextDeadline()) check(at, e.tick(at));
          check(now, e.receive({ ip: { source: from, destination: '224.0.0.22', ttl: 1, routerAlert: true }, message }, now));
        }
        now += 1_000_000;
        for (let at = e.nextDeadline(); at !== null && at <= now; at = e.nextDeadline()) check(at, e.tick(at));
      }),
      { numRuns: 300, seed: 0x69676d70 },
    );
  });
});
