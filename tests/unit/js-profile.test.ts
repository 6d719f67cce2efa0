// SPDX-License-Identifier: MIT
// The text summaries of `npm run profile -- js|doctor` from small hand-made inputs: V8 ticks split
// by state, idle ticks left out of the function lists, native frames charged to the JS function
// that called them, parts counted once per tick, the load window; doctor's embedded verdict and
// samples; /proc stat lines whose comm holds spaces and parentheses.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatDoctor, readDoctorReport } from '../../profiling/doctor-report';
import { statTicks } from '../../profiling/js-load';
import { frameLabel, summarize, TELEMETRY, windowed, type PreprocessedLog } from '../../profiling/js-ticks';

const JS = 0;
const EXTERNAL = 6;
const IDLE = 8;

const log: PreprocessedLog = {
  code: [
    { name: 'epoll_pwait@@GLIBC_2.6', type: 'CPP' },
    { name: 'dispatch /repo/dist/src/control/server.js:177:20', type: 'JS', kind: 'Opt' },
    { name: 'read /repo/dist/src/daemon/stats.js:121:9', type: 'JS', kind: 'Opt' },
    { name: '__write@@GLIBC_2.2.5', type: 'CPP' },
    { name: 'writeGeneric node:internal/stream_base_commons:147:22', type: 'JS', kind: 'Opt' },
    { name: 'serializeSpan /repo/node_modules/@opentelemetry/otlp-transformer/build/x.js:129:3', type: 'JS', kind: 'Opt' },
  ],
  ticks: [
    { tm: 1_000, vm: IDLE, s: [0, 10] },
    // dispatch -> read (leaf), twice
    { tm: 2_000, vm: JS, s: [2, 4, 1, 8] },
    { tm: 3_000, vm: JS, s: [2, 4, 1, 8] },
    // dispatch -> writeGeneric -> __write: the write is charged to writeGeneric, an unknown pc skipped
    { tm: 4_000, vm: EXTERNAL, s: [-1, 0, 3, 1, 4, 2, 1, 8] },
    { tm: 5_000, vm: JS, s: [5, 0] },
    { tm: 9_000, vm: IDLE, s: [0, 10] },
  ],
};

describe('js-ticks', () => {
  test('states, busy ticks, top functions and parts', () => {
    const s = summarize(log);
    assert.equal(s.ticks, 6);
    assert.equal(s.busy, 4);
    assert.deepEqual(s.states, [
      ['JS', 3],
      ['IDLE', 2],
      ['EXTERNAL', 1],
    ]);
    assert.deepEqual(s.topJs, [
      ['read src/daemon/stats.js:121', 2],
      ['serializeSpan @opentelemetry/otlp-transformer/build/x.js:129', 1],
      ['writeGeneric node:internal/stream_base_commons:147', 1],
    ]);
    assert.deepEqual(s.topLeaf[0], ['read src/daemon/stats.js:121', 2]);
    assert.ok(s.topLeaf.some(([name, n]) => name === '__write@@GLIBC_2.2.5' && n === 1));
    assert.deepEqual(s.inclusive, [
      ['mcr src/control/', 3],
      ['mcr src/daemon/', 2],
      ['@opentelemetry/otlp-transformer', 1],
      ['Node.js core (node:*)', 1],
      [TELEMETRY, 1],
    ]);
  });

  test('the window counts from the first tick, in ms', () => {
    assert.deepEqual(
      windowed(log, 2, 4).ticks.map((t) => t.tm),
      [3_000, 4_000, 5_000],
    );
    assert.equal(summarize(windowed(log, 5)).ticks, 1);
  });

  test('labels', () => {
    assert.equal(frameLabel({ name: ' /repo/dist/src/cli/mcrd.js:3:1', type: 'JS' }), '(anonymous) src/cli/mcrd.js:3');
    assert.equal(frameLabel({ name: 'Builtin: CallFunction', type: 'CODE' }), 'Builtin: CallFunction');
  });
});

describe('doctor-report', () => {
  const sample = (timestamp: number, cpu: number, delay: number): string =>
    JSON.stringify({
      timestamp,
      delay,
      cpu,
      memory: { rss: 1, heapTotal: 2, heapUsed: 10e6, external: 0 },
      handles: 1,
      loopUtilization: 20,
    });
  const html = [
    '<script type="application/json">{ "processStat": [',
    `${sample(1000, 0.1, 1)},`,
    `${sample(2000, 0.3, 3)},`,
    sample(9000, 0.9, 90),
    '],',
    '  "analysis": {"interval":[1000,2000],"issues":{"delay":"none","cpu":"performance"},"issueCategory":"io"}',
    '}</script>',
  ].join('\n');

  test('verdict and the samples inside its interval', () => {
    const { analysis, samples } = readDoctorReport(html);
    assert.equal(analysis.issueCategory, 'io');
    assert.equal(samples.length, 3);
    const text = formatDoctor(analysis, samples);
    assert.match(text, /issue category "io"/);
    assert.match(text, /1\.0 s, 2 samples of mcrd/);
    assert.match(text, /CPU % of one core: mean 20\.0, p50 30\.0, max 30\.0/);
    assert.match(text, /event-loop delay ms: mean 2\.0/);
  });
});

describe('js-load', () => {
  test('utime + stime from a stat line whose comm has spaces and parentheses', () => {
    const line = '4242 (node (x) y) S 1 2 3 4 5 6 7 8 9 10 1234 567 0 0 20 0 11 0 100 0 0';
    assert.equal(statTicks(line), 1234 + 567);
  });
});
