// SPDX-License-Identifier: MIT
// Span histograms (src/lib/histogram.ts) and how mcrctl stats shows them: percentiles are the
// upper bounds of log2 microsecond buckets, and watch mode shows the window, not the totals.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { renderStats, type StatsView } from '../../src/cli/render';
import { spanDelta, spanHistogram } from '../../src/lib/histogram';

const BUCKETS = 20;
function buckets(counts: Record<number, number>): number[] {
  return Array.from({ length: BUCKETS }, (_, b) => counts[b] ?? 0);
}

describe('span histogram', () => {
  test('percentiles are bucket upper bounds', () => {
    // 98 samples in [32, 64) us, 1 in [256, 512), 1 in [4096, 8192)
    const h = spanHistogram(buckets({ 5: 98, 8: 1, 12: 1 }));
    assert.deepEqual([h.samples, h.p50Us, h.p99Us, h.p999Us, h.maxUs], [100, 64, 512, 8192, 8192]);
  });
  test('bucket 0 is everything under 2 us; the last bucket is open and reports its lower bound', () => {
    assert.equal(spanHistogram(buckets({ 0: 5 })).maxUs, 2);
    assert.equal(spanHistogram(buckets({ [BUCKETS - 1]: 1 })).maxUs, 2 ** (BUCKETS - 1));
  });
  test('no samples: null percentiles', () => {
    const h = spanHistogram(buckets({}));
    assert.deepEqual([h.samples, h.p50Us, h.p99Us, h.maxUs], [0, null, null, null]);
  });
  test('delta is bucket by bucket', () => {
    const d = spanDelta(spanHistogram(buckets({ 3: 10, 9: 2 })), spanHistogram(buckets({ 3: 4, 9: 2 })));
    assert.deepEqual([d.samples, d.maxUs], [6, 16]);
  });
});

describe('mcrctl stats span table', () => {
  const at = (uptimeSeconds: number, ringWait: Record<number, number>): StatsView => ({
    uptimeSeconds,
    totals: { rxFrames: 0, spans: { ringWait: spanHistogram(buckets(ringWait)), batch: spanHistogram(buckets({})) } },
    workers: [],
    rules: [],
  });
  test('totals', () => {
    const text = renderStats(at(10, { 4: 99, 11: 1 }));
    assert.match(text, /ringWait +frame waited in the receive ring +100 +<=32 +<=32 +<=4,096/);
    assert.match(text, /batch .* 0 +- +- +-/);
  });
  test('watch mode: only the samples of the window', () => {
    const text = renderStats(at(11, { 4: 99, 11: 1, 6: 10 }), at(10, { 4: 99, 11: 1 }));
    assert.match(text, /ringWait +frame waited in the receive ring +10 +<=128 +<=128 +<=128/);
    assert.match(text, /SPAN +MEANING +SAMPLES_IN_INTERVAL +P50_US/);
  });
});
