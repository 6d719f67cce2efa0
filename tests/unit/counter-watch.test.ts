// SPDX-License-Identifier: MIT
// The counter watch (src/daemon/watch.ts) on counter readings and a clock given by the test:
// what went wrong between two readings becomes one warning per kind, and within 10 s of a
// warning further events are added up and reported together, not line by line.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Counters } from '../../src/control/protocol';
import { CounterWatch } from '../../src/daemon/watch';
import { Logger } from '../../src/lib/logger';

function counters(c: { ringDrops?: number; eagain?: number; enobufs?: number; otherTxErrors?: number; filtered?: number }): Counters {
  const eagain = c.eagain ?? 0;
  const enobufs = c.enobufs ?? 0;
  return {
    rxFrames: 0,
    spansWritten: 0,
    spansDropped: 0,
    punted: 0,
    puntRateLimited: 0,
    puntRingFull: 0,
    rxBytes: 0,
    matched: 0,
    noMatch: 0,
    filtered: c.filtered ?? 0,
    filteredByReason: {},
    txPackets: 0,
    txBytes: 0,
    txErrors: eagain + enobufs + (c.otherTxErrors ?? 0),
    txErrorsByErrno: { EAGAIN: eagain, ENOBUFS: enobufs },
    ringDrops: c.ringDrops ?? 0,
    bufExhaust: 0,
    ttlExpired: 0,
    batches: 0,
    wakeups: 0,
    holdoffs: 0,
    spans: {},
  };
}

function watchWith(): { watch: CounterWatch; set: (c: Counters) => void; clock: { ms: number }; lines: string[] } {
  let current = counters({});
  const clock = { ms: 1_000_000 };
  const lines: string[] = [];
  const log = Logger.create('info', 'text', 'watch', (line) => lines.push(line));
  const watch = new CounterWatch(
    () => current,
    log,
    () => clock.ms,
  );
  return { watch, set: (c) => (current = c), clock, lines };
}

describe('counter watch', () => {
  test('quiet counters: no line', () => {
    const { watch, clock, lines } = watchWith();
    for (let i = 0; i < 30; i++, clock.ms += 1000) watch.tick();
    assert.deepEqual(lines, []);
  });

  test('one line per kind of trouble, then the next 10 s add up into one report', () => {
    const { watch, set, clock, lines } = watchWith();
    watch.tick();
    clock.ms += 1000;
    set(counters({ ringDrops: 5, eagain: 2, enobufs: 1, otherTxErrors: 4, filtered: 7 }));
    watch.tick();
    assert.equal(lines.length, 4);
    assert.match(lines[0] ?? '', /receive ring full \(kernel dropped\): 5 packets in the last 1 s/);
    assert.match(lines[1] ?? '', /send buffer full \(dropped\): 3 packets in the last 1 s/);
    assert.match(lines[2] ?? '', /send errors \(other\): 4 packets in the last 1 s/);
    assert.match(lines[3] ?? '', /malformed or unsupported frames dropped: 7 packets in the last 1 s/);
    for (const add of [10, 20]) {
      clock.ms += 1000;
      set(counters({ ringDrops: 5 + add, eagain: 2, enobufs: 1, otherTxErrors: 4, filtered: 7 }));
      watch.tick();
    }
    assert.equal(lines.length, 4, 'held back within 10 s of the last warning');
    clock.ms += 8000;
    watch.tick();
    assert.equal(lines.length, 5);
    assert.match(lines[4] ?? '', /receive ring full \(kernel dropped\): 20 packets in the last 10 s/);
  });
});
