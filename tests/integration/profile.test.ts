// SPDX-License-Identifier: MIT
// profiling/profile.sh end to end: a real mcrd forwarding a real stream while perf records, then
// the report, the hot-path check and the flame graph. The worker must show samples, and none of
// them under heap allocation, formatting or write() (the seed incident's costs).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT, skipReason } from '../helpers/netns';

const perf = spawnSync('perf', ['--version'], { encoding: 'utf8' });
const skip = skipReason() ?? (perf.status === 0 ? undefined : 'perf is not installed');

describe('profiling/profile.sh', { skip }, () => {
  it('profiles 80,000 packets (20k pps, 4 s): exact counts, worker samples, no allocation/format/write in the worker, a flame graph', () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'mcrprof-'));
    try {
      const r = spawnSync('bash', [path.join(ROOT, 'profiling', 'profile.sh'), '--rate', '20000', '--seconds', '1', '--out', out], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(r.status, 0, `profile.sh failed: ${r.stderr}`);
      const report = readFileSync(path.join(out, 'report.txt'), 'utf8');
      assert.match(report, /relay input received 80000, sink received 80000, lost 0/);
      assert.match(report, /SPAN +MEANING/, 'mcrctl stats with the span table');
      const hot = readFileSync(path.join(out, 'hot-path.txt'), 'utf8');
      const workerSamples = Number(/forwarding-worker samples: (\d+)/.exec(hot)?.[1] ?? 0);
      assert.ok(workerSamples > 0, `the worker was sampled: ${hot}`);
      for (const cost of ['heap allocation', 'text formatting', 'write/pipe syscalls', 'locks'])
        assert.match(hot, new RegExp(`${cost.replace('/', '\\/')}.* 0 samples`), `${cost} in the worker:\n${hot}`);
      const svg = readFileSync(path.join(out, 'flamegraph.svg'), 'utf8');
      assert.match(svg, /<title>mcr-worker-0 \(\d+ samples/);
      assert.ok(existsSync(path.join(out, 'perf.data')));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
