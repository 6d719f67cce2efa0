// SPDX-License-Identifier: MIT
// The profiling script's perf-script parser, stack folding, flame graph and hot-path check, on a
// hand-written `perf script -F comm,tid,cpu,ip,sym,dso` excerpt.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { diffFlameSvg, flameSvg, fold, hotPathReport, parsePerfScript, readFolded } from '../../profiling/flamegraph';

const SCRIPT = `
mcr-worker-0  4242 [001]
\tffffffff81001000 _copy_from_iter+0x10 ([kernel.kallsyms])
\tffffffff81002000 udp_sendmsg+0x200 ([kernel.kallsyms])
\t7f0000001000 __sendmmsg+0x20 (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t7f0000002000 mcr::Worker::drain_ring+0x99 (/work/build/Release/mcr_native.node)

mcr-worker-0  4242 [001]
\t7f0000003000 malloc+0x5 (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t7f0000002000 mcr::Worker::drain_ring+0x40 (/work/build/Release/mcr_native.node)

mcr-worker-0  4242 [001]
\t7f0000002000 mcr::Worker::drain_ring+0x40 (/work/build/Release/mcr_native.node)

mcrgen  4100 [000]
\tffffffff81003000 tpacket_rcv+0x30 ([kernel.kallsyms])
\t7f0000004000 [unknown] (/work/build/Release/mcrgen)
`;

describe('profiling/flamegraph', () => {
  const samples = parsePerfScript(SCRIPT);

  test('parses samples with thread, CPU and root-first frames; kernel frames marked', () => {
    assert.equal(samples.length, 4);
    assert.deepEqual(samples[0], {
      thread: 'mcr-worker-0',
      cpu: 1,
      frames: ['mcr::Worker::drain_ring', '__sendmmsg', 'udp_sendmsg_[k]', '_copy_from_iter_[k]'],
    });
    assert.deepEqual(samples[3]?.frames, ['[mcrgen]', 'tpacket_rcv_[k]']);
  });

  test('folds identical stacks and counts them', () => {
    const folded = fold([...samples, samples[2]!]);
    assert.equal(folded.get('mcr-worker-0;mcr::Worker::drain_ring'), 2);
    assert.equal(folded.get('mcrgen;[mcrgen];tpacket_rcv_[k]'), 1);
  });

  test('hot-path check counts the worker samples under each cost', () => {
    const report = hotPathReport(samples);
    assert.match(report, /forwarding-worker samples: 3 of 4/);
    assert.match(report, /heap allocation \(malloc\/new\/free\) +1 samples \(33\.33%/);
    assert.match(report, /write\/pipe syscalls \(logging\) +0 samples/);
    assert.match(report, /in userspace \(leaf frame not kernel\) +2 samples/);
  });

  test('the flame graph is one SVG with a box per frame, labelled and titled', () => {
    const svg = flameSvg(fold(samples), 'test <profile>');
    assert.match(svg, /^<svg [^>]+>/);
    assert.match(svg, /test &lt;profile&gt;/);
    assert.equal((svg.match(/<rect x=/g) ?? []).length, 2 + 5 + 2, "thread roots + the worker's 5 distinct frames + mcrgen's 2");
    assert.match(svg, /<title>udp_sendmsg \(1 samples, 25\.00%\)<\/title>/);
  });
});

describe('differential flame graph', () => {
  // base: the worker spends 10 of 10 samples in drain_ring -> sendmmsg; next: 5 of 10 there, 4
  // under a new formatting frame, 1 in a pipe write.
  const base = new Map([['mcr-worker-0;drain_ring;sendmmsg', 10]]);
  const next = new Map([
    ['mcr-worker-0;drain_ring;sendmmsg', 5],
    ['mcr-worker-0;drain_ring;format', 4],
    ['mcr-worker-0;drain_ring;write', 1],
  ]);
  const svg = diffFlameSvg(base, next, 'drill against shipped');
  const fill = (frame: string): string => {
    const m = new RegExp(`<title>${frame}: [^<]*</title><rect [^>]*fill="([^"]+)"`).exec(svg);
    assert.ok(m, `${frame} drawn`);
    return m[1] ?? '';
  };

  test('a frame that grew most is full red, one that shrank is blue, an unchanged one white', () => {
    // shares: sendmmsg 100% -> 50% (-50 points, the largest change), format 0 -> 40%, write 0 -> 10%
    assert.equal(fill('sendmmsg'), 'rgb(0,0,255)');
    assert.equal(fill('format'), `rgb(255,${Math.round(255 * (1 - 40 / 50))},${Math.round(255 * (1 - 40 / 50))})`);
    assert.equal(fill('drain_ring'), 'rgb(255,255,255)');
    assert.match(svg, /format: 40\.00% of samples, was 0\.00% \(\+40\.00 points\)/);
  });

  test('readFolded reads what fold writes', () => {
    assert.deepEqual(
      readFolded('a;b 3\na;c 4\n'),
      new Map([
        ['a;b', 3],
        ['a;c', 4],
      ]),
    );
  });
});
