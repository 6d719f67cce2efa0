// SPDX-License-Identifier: MIT
// The hot-path regression gate (native/tests/hot-path/gate.js) as part of `npm test`: the workers'
// per-frame code, replayed under callgrind on frame sets v2 and v3-match ((S,G), any-port, ESP,
// routed and port-keeping outputs), must stay within 3% of each set's committed instructions per
// packet and allocate nothing. Skips only when valgrind is not installed.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

const GATE = path.resolve(__dirname, '../../../native/tests/hot-path/gate.js');
const BASELINE = path.resolve(__dirname, '../../../native/tests/hot-path/baseline-instructions.json');

function skipReason(): string | undefined {
  const probe = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
  return probe.error ? 'valgrind is not installed (Debian: apt-get install valgrind)' : undefined;
}

const skip = skipReason();
if (skip) console.log(`hot-path gate skipped: ${skip}`);

function runGate(...args: string[]) {
  const run = spawnSync(process.execPath, [GATE, ...args], { encoding: 'utf8', timeout: 55_000 });
  assert.equal(run.error, undefined, `gate did not run: ${run.error?.message}`);
  return run;
}

test('hot path: instructions per packet within the committed budget, no allocation', { skip, timeout: 60_000 }, () => {
  const run = runGate();
  assert.equal(run.status, 0, `gate failed:\n${run.stdout}${run.stderr}`);
  assert.match(run.stdout, /^hot path ok: /m);
  assert.match(run.stdout, /^socket egress ok: /m);
  assert.match(run.stdout, /^v3-match hot path ok: /m);
  assert.match(run.stdout, /^v3-match socket egress ok: /m);
  assert.match(run.stdout, /^ {2}v2: .*heap allocations in the measured loop: 0 /m);
  assert.match(run.stdout, /^ {2}v3-match: .*esp 8000, ttlExpired 4000, .*heap allocations in the measured loop: 0 /m);
});

test('hot path: v3-match is gated against its own figure', { skip, timeout: 60_000 }, () => {
  // The committed baseline with only v3-match's packet egress figure 10% lower: today's run is
  // then a regression of that set alone.
  const baseline = JSON.parse(readFileSync(BASELINE, 'utf8'));
  baseline.v3Match.instructionsPerPacket = Math.round(baseline.v3Match.instructionsPerPacket * 0.9 * 100) / 100;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mcr-gate-test-'));
  try {
    const file = path.join(dir, 'baseline.json');
    writeFileSync(file, JSON.stringify(baseline));
    const run = runGate('--baseline', file);
    assert.equal(run.status, 1, `gate passed a 10% v3-match regression:\n${run.stdout}${run.stderr}`);
    assert.match(run.stderr, /^v3-match hot path regressed: .*\(\+1\d\.\d%, limit \+3%\)/m);
    assert.doesNotMatch(run.stderr, /^(hot path|socket egress|v3-match socket egress) regressed/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
