// SPDX-License-Identifier: MIT
// The hot-path regression gate (native/tests/hot-path/gate.js) as part of `npm test`: the workers'
// per-frame code, replayed under callgrind, must stay within 3% of the committed instructions
// per packet and allocate nothing. Skips only when valgrind is not installed.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';

const GATE = path.resolve(__dirname, '../../../native/tests/hot-path/gate.js');

function skipReason(): string | undefined {
  const probe = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
  return probe.error ? 'valgrind is not installed (Debian: apt-get install valgrind)' : undefined;
}

const skip = skipReason();
if (skip) console.log(`hot-path gate skipped: ${skip}`);

test('hot path: instructions per packet within the committed budget, no allocation', { skip, timeout: 60_000 }, () => {
  const run = spawnSync(process.execPath, [GATE], { encoding: 'utf8', timeout: 55_000 });
  assert.equal(run.error, undefined, `gate did not run: ${run.error?.message}`);
  assert.equal(run.status, 0, `gate failed:\n${run.stdout}${run.stderr}`);
  assert.match(run.stdout, /^hot path ok: /m);
  assert.match(run.stdout, /heap allocations in the measured loop: 0 /);
});
