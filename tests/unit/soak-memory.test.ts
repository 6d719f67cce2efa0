// SPDX-License-Identifier: MIT
// The soak scenario's growth rule (bench/memory.ts): a least-squares line through VmRSS after the
// warm-up must flag a leak of 1 KiB per control operation (50 operations a second) and must not
// flag a GC sawtooth or a process that grows only while warming up.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { DEFAULT_GROWTH_RULE, fitLine, growthCheck, parseStatus, warmupFor, type MemSample } from '../../bench/memory';

/** One sample a second for `seconds`, VmRSS = f(t) MiB. */
function series(seconds: number, f: (t: number) => number): MemSample[] {
  return Array.from({ length: seconds + 1 }, (_, t) => {
    const kib = Math.round(f(t) * 1024);
    return { t, rssKiB: kib, hwmKiB: kib, anonKiB: kib, fileKiB: 0, shmemKiB: 0 };
  });
}

const rule = (durationS: number) => ({ ...DEFAULT_GROWTH_RULE, warmupS: warmupFor(durationS) });
/** a V8-like sawtooth: the heap fills for `period` seconds, then a collection gives back `amp` MiB */
const saw = (t: number, amp: number, period: number): number => amp * ((t % period) / period);
/** 1 KiB per operation at 50 operations a second */
const LEAK_MIB_PER_S = (50 * 1) / 1024;

describe('soak growth rule', () => {
  test('fitLine recovers a line exactly', () => {
    const xs = [0, 1, 2, 3, 4];
    const f = fitLine(xs, xs.map((x) => 3 + 0.5 * x));
    assert.equal(f.n, 5);
    assert.ok(Math.abs(f.slope - 0.5) < 1e-12 && Math.abs(f.intercept - 3) < 1e-12);
    assert.deepEqual(fitLine([1, 1], [2, 5]), { slope: 0, intercept: 3.5, n: 2 });
  });

  test('warm-up is 20% of the run, at most 60 s', () => {
    assert.deepEqual([warmupFor(60), warmupFor(180), warmupFor(600), warmupFor(3600)], [12, 36, 60, 60]);
  });

  test('a flat process with a 4 MiB GC sawtooth passes (10 minutes and 1 hour)', () => {
    for (const d of [600, 3600]) {
      const v = growthCheck(series(d, (t) => 70 + saw(t, 4, 45)), rule(d));
      assert.equal(v.growing, false, `${d} s: growth ${v.growthMiB} MiB > ${v.thresholdMiB}`);
    }
  });

  test('growth during the warm-up only passes', () => {
    const v = growthCheck(series(600, (t) => (t < 40 ? 40 + t : 80) + saw(t, 2, 30)), rule(600));
    assert.equal(v.growing, false);
    assert.equal(v.startMiB, 40);
  });

  test('a leak of 1 KiB per control operation fails a 180 s, a 10-minute and a 1-hour run', () => {
    for (const d of [180, 600, 3600]) {
      const v = growthCheck(series(d, (t) => 70 + saw(t, 4, 45) + LEAK_MIB_PER_S * t), rule(d));
      assert.equal(v.growing, true, `${d} s: growth ${v.growthMiB} MiB <= ${v.thresholdMiB}`);
      assert.ok(Math.abs(v.slopeKiBPerS - 50) < 5, `slope ${v.slopeKiBPerS} KiB/s`);
    }
  });

  test('the threshold is max(2 MiB, 5% of the warm RSS)', () => {
    assert.equal(growthCheck(series(600, () => 20), rule(600)).thresholdMiB, 2);
    assert.equal(growthCheck(series(600, () => 100), rule(600)).thresholdMiB, 5);
  });

  test('parseStatus reads /proc/self/status and names a missing field', () => {
    const s = parseStatus(readFileSync('/proc/self/status', 'utf8'), 1);
    assert.ok(s.rssKiB > 0 && s.hwmKiB >= s.rssKiB && s.anonKiB > 0);
    assert.equal(s.rssKiB, s.anonKiB + s.fileKiB + s.shmemKiB);
    assert.throws(() => parseStatus('Name:\tnode\n', 0), /no VmRSS line/);
  });
});
