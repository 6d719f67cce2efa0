#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// `npm test`: every gate in one command. Type-check and compile, lint, the native core's own
// test binary, then the TypeScript unit and integration tests (real namespaces; they skip with
// a printed reason where the machine cannot run them). Ends with one summary line.

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const totals = { passed: 0, failed: 0, skipped: 0 };
const failedSteps = [];
/** `name: reason` of every skipped test or suite, repeated after the summary line. */
const skips = [];

function step(name, cmd, args, parse) {
  process.stdout.write(`\n=== ${name}: ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 << 20 });
  process.stdout.write(r.stdout ?? '');
  if (parse) parse(r.stdout ?? '');
  if (r.status !== 0) failedSteps.push(name);
  return r.status === 0;
}

const nodeCounts = (out) => {
  const get = (key) => Number((out.match(new RegExp(`^# ${key} (\\d+)$`, 'm')) ?? [])[1] ?? 0);
  totals.passed += get('pass');
  totals.failed += get('fail') + get('cancelled');
  // node's "# skipped" leaves out skipped suites (a whole file's describe({ skip })): count every
  // test and suite the TAP output marks, at any depth.
  const marked = [...out.matchAll(/^\s*ok \d+ - (.*) # SKIP ?(.*)$/gm)].map((m) => `${m[1]}: ${m[2] || 'no reason given'}`);
  skips.push(...marked);
  totals.skipped += marked.length;
};

const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
if (!step('typescript', process.execPath, [tsc, '-p', 'tsconfig.json'])) {
  console.log('\ntotal: 0 passed, 1 failed');
  process.exit(1);
}
step('lint', process.execPath, ['scripts/lint.js']);
step('native core', path.join(root, 'build', 'Release', 'mcr_core_tests'), [], (out) => {
  const m = out.match(/^(\d+) passed, (\d+) failed$/m);
  if (m) {
    totals.passed += Number(m[1]);
    totals.failed += Number(m[2]);
  } else totals.failed += 1;
});
// The span code's compile-time gate must keep working: the worker and its send path compile without it, warning-free.
if (
  step('worker without spans (MCR_ENABLE_SPANS=0)', 'g++', [
    '-std=c++20',
    '-fsyntax-only',
    '-Wall',
    '-Wextra',
    '-Werror',
    '-DMCR_ENABLE_SPANS=0',
    '-Inative/include',
    'native/core/worker.cc',
    'native/core/egress.cc',
  ])
)
  totals.passed += 1;
else totals.failed += 1;
// Fuzz targets (native/fuzz, docs/fuzzing.md): a fixed number of executions each from a fixed
// seed. A crash, a sanitizer report, a seed set that misses a class, or a missing clang/libFuzzer
// fails the step (scripts/fuzz.js says what to install).
step('fuzz (libFuzzer, ASan + UBSan)', process.execPath, ['scripts/fuzz.js', '--runs', '100000'], (out) => {
  const m = out.match(/^fuzz: (\d+) passed, (\d+) failed$/m);
  if (m) {
    totals.passed += Number(m[1]);
    totals.failed += Number(m[2]);
  } else totals.failed += 1;
});

const testFiles = (dir) =>
  fs.existsSync(path.join(root, dir))
    ? fs
        .readdirSync(path.join(root, dir))
        .filter((f) => f.endsWith('.test.js'))
        .map((f) => path.join(dir, f))
    : [];
const only = process.argv.slice(2);
const files = [...testFiles('dist/tests/unit'), ...testFiles('dist/tests/integration')].filter(
  (f) => only.length === 0 || only.some((o) => f.includes(o)),
);
// One at a time: the datapath tests assert exact packet counts and share two CPUs.
step('unit + integration', process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=tap', ...files], nodeCounts);

if (failedSteps.length > 0) console.log(`\nfailed steps: ${failedSteps.join(', ')}`);
console.log(`\ntotal: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
for (const skip of skips) console.log(`skipped: ${skip}`);
process.exit(failedSteps.length > 0 || totals.failed > 0 ? 1 : 0);
