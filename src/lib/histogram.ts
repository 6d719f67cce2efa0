// SPDX-License-Identifier: MIT
// Log2 microsecond histograms of the core's sampled spans (native/include/mcr/counters.h):
// buckets[0] counts samples under 2 µs, buckets[b] those in [2^b, 2^(b+1)) µs, and the last
// bucket everything above its lower bound.

export interface SpanHistogram {
  samples: number;
  buckets: number[];
  /** The sampled durations summed, in µs (exact: the core sums nanoseconds); the histograms' _sum. */
  sumUs: number;
  /** Upper bounds (µs) of the buckets holding these quantiles; null without samples. */
  p50Us: number | null;
  p99Us: number | null;
  p999Us: number | null;
  maxUs: number | null;
}

/** The upper bound (µs) of the bucket holding quantile q; the open last bucket reports its lower bound. */
function bucketQuantile(buckets: number[], samples: number, q: number): number | null {
  if (samples === 0) return null;
  const rank = Math.max(1, Math.ceil(q * samples));
  let seen = 0;
  for (let b = 0; b < buckets.length; b++) {
    seen += buckets[b] ?? 0;
    if (seen >= rank) return b === buckets.length - 1 ? 2 ** b : 2 ** (b + 1);
  }
  return 2 ** (buckets.length - 1);
}

export function spanHistogram(buckets: number[], sumUs = 0): SpanHistogram {
  const samples = buckets.reduce((a, b) => a + b, 0);
  return {
    samples,
    buckets,
    sumUs,
    p50Us: bucketQuantile(buckets, samples, 0.5),
    p99Us: bucketQuantile(buckets, samples, 0.99),
    p999Us: bucketQuantile(buckets, samples, 0.999),
    maxUs: bucketQuantile(buckets, samples, 1),
  };
}

/** after - before, bucket by bucket (for a rate window); a missing `before` means zero. */
export function spanDelta(after: SpanHistogram, before?: SpanHistogram): SpanHistogram {
  return spanHistogram(
    after.buckets.map((v, b) => Math.max(0, v - (before?.buckets[b] ?? 0))),
    Math.max(0, after.sumUs - (before?.sumUs ?? 0)),
  );
}
