// SPDX-License-Identifier: MIT
// `mcrctl trace` and the USDT probes on a real mcrd with real packets: the sampling override
// (until the next reload), a chase of one rule recording its next batches whatever the
// sampling, and bpftrace on the mcr:batch probe counting exactly the batches the counters count.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { quietOneHop, stats, TempDir } from '../helpers/datapath';
import { ROOT, sh, skipReason, sleep, startDaemon, startStream, streamExactly, type DaemonHandle, type Topology } from '../helpers/netns';

const skip = skipReason();
const RULE = {
  name: 'chased',
  input: { interface: 'r0', group: '239.1.1.1', port: 5001 },
  outputs: [{ group: '239.2.2.2', port: 5002, interface: 'r1' }],
};
const STREAM = { group: '239.1.1.1', port: 5001, out: '239.2.2.2', outPort: 5002 };

async function withRelay(
  label: string,
  config: Record<string, unknown>,
  body: (t: Topology, mcrd: DaemonHandle, dir: TempDir) => Promise<void>,
): Promise<void> {
  const dir = new TempDir();
  const t = await quietOneHop(label);
  let mcrd: DaemonHandle | undefined;
  try {
    mcrd = await startDaemon(t, 'relay', { configFile: dir.config('mcr.json5', { ...config, rules: [RULE] }) });
    await body(t, mcrd, dir);
  } finally {
    await mcrd?.stop();
    await t.destroy();
    dir.remove();
  }
}

describe('mcrctl trace', { skip }, () => {
  it('shows the settings; --sample overrides the rate until a reload; every batch is timed at --sample 1', async () => {
    await withRelay('trs', { spanSampleEvery: 0 }, async (t, mcrd) => {
      const shown = await mcrd.ctl(['trace']);
      assert.match(shown.stdout, /^sampling: off \(configured\)$/m);
      assert.match(shown.stdout, /span records: not exported; 0 written, 0 dropped/);

      const set = await mcrd.ctl(['trace', '--sample', '1']);
      assert.match(set.stdout, /^sampling: every batch \(override until the next reload or data-plane restart; configured: 0\)$/m);
      await streamExactly(t, { ...STREAM, count: 3000, rate: 3000 });
      const s = await stats(mcrd);
      assert.ok(s.totals.batches > 0);
      assert.equal(s.totals.spans.batch?.samples, s.totals.batches, 'every batch timed');
      assert.ok((s.totals.spans.batch?.sumUs ?? 0) > 0, 'the histogram has its sum');
      assert.equal(s.totals.spansWritten, 0, 'no records without an exporter');

      const reloaded = await mcrd.ctl(['config', 'reload']);
      assert.equal(reloaded.code, 0, reloaded.stderr);
      const after = await mcrd.request('trace');
      assert.deepEqual([after.sampleEvery, after.override], [0, false], 'a reload ends the override');
      await streamExactly(t, { ...STREAM, count: 1000, rate: 3000 });
      assert.equal((await stats(mcrd)).totals.spans.batch?.samples, s.totals.batches, 'nothing timed after the reload');
    });
  });

  it('--rule NAME --count K records the next K batches of that rule with sampling off', async () => {
    await withRelay('trr', { spanSampleEvery: 0 }, async (t, mcrd) => {
      const chase = mcrd.ctl(['trace', '--rule', 'chased', '--count', '3', '--json']);
      await sleep(300);
      const stream = await startStream(t, { ...STREAM, count: 2000, rate: 2000 });
      const result = await chase;
      await stream.finish();
      assert.equal(result.code, 0, result.stderr);
      const out = JSON.parse(result.stdout) as {
        batches: {
          worker: number;
          input: string;
          packets: number;
          ringWaitUs: number;
          classifyUs: number;
          batchUs: number;
          rules: string[];
          sends: { interface: string; packets: number; errors: number }[];
        }[];
        chase: unknown;
      };
      assert.equal(out.batches.length, 3);
      for (const b of out.batches) {
        assert.equal(b.input, 'r0');
        assert.deepEqual(b.rules, ['chased']);
        assert.ok(b.packets >= 1);
        assert.equal(b.sends.length, 1);
        assert.deepEqual([b.sends[0]?.interface, b.sends[0]?.packets, b.sends[0]?.errors], ['r1', b.packets, 0]);
        assert.ok(b.ringWaitUs >= 0 && b.classifyUs >= 0 && b.classifyUs <= b.batchUs, JSON.stringify(b));
      }
      assert.equal(out.chase, null);
      const s = await stats(mcrd);
      assert.equal(s.totals.spansWritten, 3, 'exactly the chased batches were recorded');
      assert.equal(s.totals.spans.batch?.samples, 0, 'a chase is not sampling');

      const unknown = await mcrd.ctl(['trace', '--rule', 'nope'], true);
      assert.notEqual(unknown.code, 0);
      assert.match(unknown.stderr, /no rule named or with id "nope"/);
      const bad = await mcrd.ctl(['trace', '--count', '2'], true);
      assert.match(bad.stderr, /--count and --timeout need --rule/);
    });
  });
});

describe('USDT probes', { skip }, () => {
  it('bpftrace on mcr:batch counts exactly the batches the counters report', async () => {
    const which = await sh('sh', ['-c', 'command -v bpftrace'], { allowFail: true });
    if (which.code !== 0) assert.fail('bpftrace is not installed (Debian: apt-get install bpftrace; .ci/run installs it)');
    await withRelay('tru', {}, async (t, mcrd) => {
      const addon = path.join(ROOT, 'build', 'Release', 'mcr_native.node');
      const pid = await mcrd.dataplanePid();
      const before = (await stats(mcrd)).totals.batches;
      // BEGIN runs once every probe is attached: "Attaching N probes..." is printed before that,
      // and a stream started on it lost its first batches to the race.
      const program = `BEGIN { printf("probes live\\n"); } usdt:${addon}:mcr:batch { @batches = count(); @packets = sum(arg2); }`;
      const bt = spawn('bpftrace', ['-p', String(pid), '-e', program], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      bt.stdout.on('data', (d: Buffer) => (out += d.toString()));
      bt.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const deadline = Date.now() + 30_000;
      while (!/probes live/.test(out) && Date.now() < deadline && bt.exitCode === null) await sleep(100);
      assert.match(out, /probes live/, `bpftrace did not attach: ${out}`);
      await streamExactly(t, { ...STREAM, count: 2000, rate: 2000 });
      const after = (await stats(mcrd)).totals;
      const exited = new Promise((resolve) => bt.on('exit', resolve));
      bt.kill('SIGINT');
      await exited;
      const count = Number(/@batches: (\d+)/.exec(out)?.[1] ?? -1);
      const packets = Number(/@packets: (\d+)/.exec(out)?.[1] ?? -1);
      assert.equal(count, after.batches - before, `probe count vs counters (${out})`);
      assert.equal(packets, 2000, 'the probe carries each batch size');
    });
  });
});
