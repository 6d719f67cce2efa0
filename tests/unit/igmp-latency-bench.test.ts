// SPDX-License-Identifier: MIT
// The igmp-latency scenario's pure parts: percentiles, the probe's lines and mcr's route events
// turned into per-cycle figures (warm-up marked, failed cycles left out, each route change matched
// to the cycle it belongs to), the summary over measured cycles only, and its report section.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { igmpLatencySection, igmpLatencyTerminal } from '../../bench/igmp-latency-report';
import {
  latencyStats,
  parseRouteEvents,
  summarize,
  toCycles,
  type IgmpLatencySummary,
  type ProbeLine,
} from '../../bench/scenarios/igmp-latency';

const MS = 1_000_000;
/** A cycle starting at `t` ms: report after 10 ms, first frame after `join` ms, leave at t+200, last frame `leave` ms later. */
function line(cycle: number, t: number, join: number, leave: number): ProbeLine {
  return {
    cycle,
    joinNs: t * MS,
    joinSentNs: (t + 10) * MS,
    firstNs: (t + join) * MS,
    framesJoined: 1000,
    leaveNs: (t + 200) * MS,
    leaveSentNs: (t + 210) * MS,
    lastNs: (t + 200 + leave) * MS,
    framesAfterLeave: 4000,
  };
}

const base = {
  id: 'mcr' as const,
  label: 'mcr',
  config: {},
  lastMemberQueryIntervalS: 0.2,
  lastMemberQueryCount: 2,
  cyclesRequested: 3,
  warmup: 1,
};

describe('igmp-latency figures', () => {
  test('latencyStats: interpolated p50 and p99, nulls and NaN ignored', () => {
    const s = latencyStats([...Array.from({ length: 100 }, (_, i) => i + 1), null, undefined, Number.NaN]);
    assert.deepEqual(s, { n: 100, p50: 50.5, p99: 99.01, max: 100, min: 1, mean: 50.5 });
    assert.deepEqual(latencyStats([]), { n: 0, p50: null, p99: null, max: null, min: null, mean: null });
  });

  test('toCycles: ms from the probe, split at the host messages; warm-up marked; a failed cycle left out', () => {
    const lines = [line(0, 1000, 50, 420), line(1, 2000, 30, 410), { cycle: 2, joinNs: 3000 * MS, error: 'no frame within 5 s' }];
    const cycles = toCycles(lines, 1);
    assert.equal(cycles.length, 2);
    assert.deepEqual(cycles[1], {
      cycle: 1,
      warmup: false,
      joinToForwardMs: 30,
      joinReportMs: 10,
      reportToForwardMs: 20,
      leaveToStopMs: 410,
      leaveReportMs: 10,
      leaveToLastFrameMs: 400,
      framesJoined: 1000,
      framesAfterLeave: 4000,
    });
    assert.equal(cycles[0]?.warmup, true);
    // no report seen on the wire: the split is unknown, the total is not
    const [c] = toCycles([{ ...line(0, 1000, 50, 420), joinSentNs: null }], 0);
    assert.equal(c?.reportToForwardMs, null);
    assert.equal(c?.joinToForwardMs, 50);
  });

  test('route events: the add between join and leave, the remove after the leave, of the group only', () => {
    const events = parseRouteEvents(
      [
        '{"time":"1970-01-01T00:00:01.012Z","type":"igmp.join","interface":"r1","group":"239.1.1.1"}',
        '{"time":"1970-01-01T00:00:01.012Z","type":"route.add","group":"239.9.9.9","origin":"igmp"}',
        '{"time":"1970-01-01T00:00:01.013Z","type":"route.add","group":"239.1.1.1","origin":"igmp"}',
        '{"time":"1970-01-01T00:00:01.612Z","type":"route.remove","group":"239.1.1.1","origin":"igmp"}',
        '{"time":"1970-01-01T00:00:02.011Z","type":"route.add","group":"239.1.1.1","origin":"igmp"}',
        '{"time":"1970-01-01T00:00:02.613Z","type":"route.remove","group":"239.1.1.1","origin":"igmp"}',
        'not json',
      ].join('\n'),
    );
    assert.equal(events.length, 4);
    const cycles = toCycles([line(0, 1000, 50, 420), line(1, 2000, 30, 410)], 0, events);
    assert.deepEqual(
      cycles.map((c) => [c.routeAddToForwardMs, c.routeRemoveToLastFrameMs]),
      [
        [37, 8],
        [19, -3],
      ],
    );
  });

  test('summary over the measured cycles; the report shows each relay or why not', () => {
    const r = summarize(base, toCycles([line(0, 1000, 500, 420), line(1, 2000, 30, 410), line(2, 3000, 40, 430)], 1));
    assert.equal(r.joinToForwardMs.n, 2);
    assert.equal(r.joinToForwardMs.max, 40, 'the 500 ms warm-up cycle is left out');
    assert.equal(r.leaveToStopMs.p50, 420);
    assert.equal(r.routeAddToForwardMs, undefined, 'no events, no event rows');
    const s: IgmpLatencySummary = {
      group: '239.1.1.1',
      port: 5001,
      ratePps: 10000,
      size: 64,
      holdMs: 100,
      quietMs: 300,
      startedAt: 'a',
      endedAt: 'b',
      loadBefore: [1, 1, 1],
      loadAfter: [1, 1, 1],
      relays: [
        r,
        summarize({ ...base, id: 'igmpproxy', label: 'kernel routing (igmpproxy 0.3)', skipped: 'igmpproxy is not installed' }, []),
      ],
    };
    const md = igmpLatencySection(s).join('\n');
    assert.match(md, /\*\*mcr: 2 cycles after 1 warm-up; leave timers 2 x 0.2 s = 0.4 s\*\*/);
    assert.match(md, /\| join -> first frame \| 35\.0 \| 39\.9 \| 40\.0 \|/);
    assert.match(md, /\| leave -> last frame \| 420 \| 430 \| 430 \|/);
    assert.match(md, /kernel routing \(igmpproxy 0\.3\): skipped: igmpproxy is not installed/);
    assert.match(igmpLatencyTerminal(s).join('\n'), /report -> first frame \(relay\)\s+25\.0\s+29\.9\s+30\.0/);
  });
});
