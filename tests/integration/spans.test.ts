// SPDX-License-Identifier: MIT
// The worker's sampled spans (ring_wait, batch, idle_spin) and the placement options that go with
// them: spanSampleEvery decides exactly which batches are timed, busyPoll forwards without
// sleeping, and with `cpus` every control thread of mcrd and of its data plane keeps off the
// worker's CPU.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import { describe, it } from 'node:test';
import { quietOneHop, stats, TempDir, type Stats } from '../helpers/datapath';
import { skipReason, startDaemon, streamExactly, type DaemonHandle, type Topology } from '../helpers/netns';

const skip = skipReason();
const COUNT = 4_000;
const RULE = {
  name: 's',
  input: { interface: 'r0', group: '239.1.1.1', port: 5001 },
  outputs: [{ group: '239.2.2.2', port: 5002, interface: 'r1' }],
};
const STREAM = { group: '239.1.1.1', port: 5001, out: '239.2.2.2', outPort: 5002, count: COUNT, rate: 4_000 };

type Spans = Stats['totals']['spans'];

function bucketSum(spans: Spans, name: string): number {
  return spans[name]?.buckets.reduce((a, b) => a + b, 0) ?? -1;
}

/** The CPUs a thread may run on, from /proc (e.g. "0" or "0-1"). */
function allowedCpus(pid: number, tid: number): string {
  const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
  return /Cpus_allowed_list:\s*(\S+)/.exec(status)?.[1] ?? '?';
}

/** "0,2-3" -> [0, 2, 3] */
function cpuList(list: string): number[] {
  return list.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number);
    return b === undefined ? [a ?? -1] : Array.from({ length: b - (a ?? 0) + 1 }, (_, i) => (a ?? 0) + i);
  });
}

function threads(pid: number): { tid: number; name: string }[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => ({
    tid: Number(tid),
    name: readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(),
  }));
}

async function runWith(
  label: string,
  config: Record<string, unknown>,
  check: (s: Stats, mcrd: DaemonHandle) => Promise<void> | void,
): Promise<void> {
  const dir = new TempDir();
  const t: Topology = await quietOneHop(label);
  let mcrd: DaemonHandle | undefined;
  try {
    mcrd = await startDaemon(t, 'relay', { configFile: dir.config('mcr.json5', { ...config, rules: [RULE] }) });
    await streamExactly(t, STREAM);
    await check(await stats(mcrd), mcrd);
  } finally {
    await mcrd?.stop();
    await t.destroy();
    dir.remove();
  }
}

describe('sampled spans', { skip }, () => {
  it('by default one receive batch in 16 is timed: ring_wait and batch samples = floor(batches / 16), idle_spin none', async () => {
    await runWith('spd', {}, (s) => {
      const { batches, spans } = s.totals;
      assert.ok(batches > 0 && batches <= COUNT, `batches ${batches}`);
      assert.equal(spans.ringWait?.samples, Math.floor(batches / 16), 'ringWait samples');
      assert.equal(spans.batch?.samples, Math.floor(batches / 16), 'batch samples');
      assert.equal(bucketSum(spans, 'ringWait'), spans.ringWait?.samples, 'buckets add up');
      assert.equal(spans.idleSpin?.samples, 0, 'no idle_spin without busyPoll');
      // Percentiles are bucket upper bounds: a power of two, and ordered.
      const w = spans.ringWait;
      assert.ok(w && w.p50Us !== null && w.p99Us !== null && w.maxUs !== null, 'percentiles present');
      assert.ok(Number.isInteger(Math.log2(w.p50Us ?? 3)) && (w.p50Us ?? 0) <= (w.p99Us ?? 0) && (w.p99Us ?? 0) <= (w.maxUs ?? 0));
    });
  });

  it('spanSampleEvery 0 times nothing; the packets are forwarded all the same', async () => {
    await runWith('sp0', { spanSampleEvery: 0 }, (s) => {
      assert.equal(s.totals.txPackets, COUNT);
      for (const [name, h] of Object.entries(s.totals.spans)) assert.equal(h.samples, 0, name);
    });
  });

  it('busyPoll with spanSampleEvery 1: no wake-ups, every batch timed, idle passes timed', async () => {
    await runWith('spb', { busyPoll: true, spanSampleEvery: 1 }, (s) => {
      assert.equal(s.totals.txPackets, COUNT);
      assert.equal(s.totals.wakeups, 0, 'a busy-polling worker never sleeps in poll()');
      assert.equal(s.totals.spans.ringWait?.samples, s.totals.batches, 'every batch timed');
      assert.equal(s.totals.spans.batch?.samples, s.totals.batches);
      assert.ok((s.totals.spans.idleSpin?.samples ?? 0) > 0, 'idle passes timed');
    });
  });

  const cpuSkip = os.cpus().length < 2 ? `needs 2 CPUs, this machine has ${os.cpus().length}` : false;
  it('with cpus [1], the worker runs on CPU 1 and every other thread of mcrd and its data plane keeps off it', {
    skip: cpuSkip,
  }, async () => {
    await runWith('spc', { cpus: [1] }, async (_s, mcrd) => {
      const w = await mcrd.request('workers');
      const worker = w.workers[0];
      assert.equal(worker?.cpu, 1, 'worker pinned to CPU 1');
      const dataplane = w.dataplane.pid ?? 0;
      assert.equal(allowedCpus(dataplane, worker?.tid ?? 0), '1', 'worker thread allowed on CPU 1 only');
      const others = [
        ...threads(dataplane)
          .filter((th) => th.tid !== worker?.tid)
          .map((th) => ({ ...th, pid: dataplane })),
        ...threads(mcrd.child.pid ?? 0).map((th) => ({ ...th, pid: mcrd.child.pid ?? 0 })),
      ];
      assert.ok(others.length > 5, 'Node threads found');
      const onWorkerCpu = others.filter((th) => cpuList(allowedCpus(th.pid, th.tid)).includes(1));
      assert.deepEqual(
        onWorkerCpu.map((th) => `${th.pid}/${th.tid} ${th.name}: ${allowedCpus(th.pid, th.tid)}`),
        [],
        'threads allowed on the worker CPU',
      );
    });
  });
});
