// SPDX-License-Identifier: MIT
// `npm run profile -- js` and `-- doctor` end to end (profiling/profile-js.sh): the real mcrd in
// the one-hop lab with a stream through it and telemetry on, its control socket driven by
// profiling/js-load.ts, under V8's tick profiler rendered by 0x, and under clinic doctor. The
// flame graph must hold mcrd's own functions (the control server's dispatch, the counter reads
// of src/daemon/stats.ts), the load must have run exactly as asked, and the exports must have
// been taken while it ran.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { LoadResult } from '../../profiling/js-load';
import { ROOT, skipReason } from '../helpers/netns';

const SECONDS = 2;
const missing = ['0x', 'clinic'].filter((p) => !existsSync(path.join(ROOT, 'node_modules', p, 'package.json')));
const skip = skipReason() ?? (missing.length > 0 ? `devDependencies not installed: ${missing.join(', ')} (run npm install)` : undefined);

function profile(mode: 'js' | 'doctor', out: string): string {
  const r = spawnSync('bash', [path.join(ROOT, 'profiling', 'profile.sh'), mode, '--seconds', String(SECONDS), '--out', out], {
    encoding: 'utf8',
    timeout: 90_000,
  });
  assert.equal(r.status, 0, `profile.sh ${mode} failed (status ${r.status}, signal ${r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The load ran exactly as asked: 100 stats/s and 10 rule adds and removes/s, none failed. */
function checkLoad(out: string): LoadResult {
  const load = JSON.parse(readFileSync(path.join(out, 'load.json'), 'utf8')) as LoadResult;
  assert.equal(load.stats.failed, 0, `stats failures: ${load.stats.error}`);
  assert.equal(load.stats.ok + load.stats.skipped, 100 * SECONDS, 'every stats read due was sent or counted as skipped');
  assert.ok(load.stats.ok >= 90 * SECONDS, `stats reads answered: ${load.stats.ok}`);
  assert.deepEqual([load.adds.ok, load.adds.failed, load.removes.ok, load.removes.failed], [10 * SECONDS, 0, 10 * SECONDS, 0]);
  // (read from two stats replies while packets flow, so in and out may differ by those in flight)
  assert.ok(load.rxFrames > 0 && load.txPackets > 0, `stream forwarded: ${load.rxFrames} in, ${load.txPackets} out`);
  assert.ok(load.supervisor.ms > 0, 'the supervisor used CPU');
  return load;
}

/** The sink's snapshots before and after the load: OTLP requests and scrapes arrived during it. */
function checkTelemetry(out: string): void {
  const lines = readFileSync(path.join(out, 'sink.jsonl'), 'utf8').trim().split('\n');
  assert.ok(lines.length >= 2, `sink snapshots: ${lines.length}`);
  const [a, b] = lines.slice(0, 2).map((l) => JSON.parse(l) as Record<string, { requests?: number; ok?: number }>);
  const delta = (k: string, f: 'requests' | 'ok'): number => (b?.[k]?.[f] ?? 0) - (a?.[k]?.[f] ?? 0);
  assert.ok(delta('traces', 'requests') > 0, 'OTLP trace exports during the load');
  assert.ok(delta('metrics', 'requests') > 0, 'OTLP metric exports during the load');
  assert.ok(delta('scrapes', 'ok') >= SECONDS - 1, `/metrics scrapes during the load: ${delta('scrapes', 'ok')}`);
}

describe('npm run profile -- js|doctor (0x, clinic doctor)', { skip }, () => {
  it(`js: a ${SECONDS} s control load on a forwarding mcrd with telemetry, 0x's flame graph holds mcrd's own functions`, () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'mcrprofjs-'));
    try {
      const stdout = profile('js', out);
      checkLoad(out);
      checkTelemetry(out);
      const html = readFileSync(path.join(out, 'js', 'flamegraph.html'), 'utf8');
      // Frame names as 0x embeds them: "name /abs/path/file.js:line:column".
      assert.match(
        html,
        /"name":"\*?dispatch [^"]*\/dist\/src\/control\/server\.js:\d+:\d+"/,
        'control server dispatch in the flame graph',
      );
      assert.match(
        html,
        /"name":"\*?\w+ [^"]*\/dist\/src\/daemon\/stats\.js:\d+:\d+"/,
        'a src/daemon/stats.ts function in the flame graph',
      );
      assert.ok(stdout.includes(`profile: ${path.join(out, 'js', 'flamegraph.html')}`), stdout);
      const summary = readFileSync(path.join(out, 'summary.txt'), 'utf8');
      const busy = /busy \(not IDLE in the event loop\) (\d+)/.exec(summary);
      assert.ok(busy && Number(busy[1]) > 0, `busy ticks in the summary:\n${summary}`);
      assert.match(summary, /^ +\d+ +[\d.]+% +mcr src\/control\/$/m, 'the control server has a share of the busy ticks');
      // The data plane's own V8 log is kept, under a name 0x does not take for mcrd's.
      assert.ok(readdirSync(path.join(out, 'js')).some((f) => f.startsWith('dataplane-isolate-')));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it(`doctor: the same load under clinic doctor, with no prompt and no update check; its report and verdict`, () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'mcrprofdoc-'));
    try {
      profile('doctor', out);
      checkLoad(out);
      const reports = readdirSync(path.join(out, 'doctor')).filter((f) => f.endsWith('.clinic-doctor.html'));
      assert.equal(reports.length, 1, `doctor reports: ${reports.join(', ')}`);
      const summary = readFileSync(path.join(out, 'summary.txt'), 'utf8');
      const samples = /over its analysis interval \([\d.]+ s, (\d+) samples of mcrd\)/.exec(summary);
      assert.ok(samples && Number(samples[1]) > 0, `doctor samples in the summary:\n${summary}`);
      assert.match(summary, /clinic doctor: issue category "\w+"/);
      // Its settings went to OUT, not to the home directory.
      assert.ok(existsSync(path.join(out, 'doctor-config', 'insight-nodejs')));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
