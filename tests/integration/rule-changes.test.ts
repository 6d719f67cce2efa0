// SPDX-License-Identifier: MIT
// Rules change while traffic flows: dozens of adds and removes never cost another rule a packet,
// a rule added mid-stream forwards everything sent after it, a removed rule stops forwarding at
// once, and mcrctl refuses bad changes with one-line messages.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { RuleSpec } from '../../src/config/types';
import { rules, stats } from '../helpers/control';
import { oneHop, receive, send, skipReason, sleep, startDaemon, startStream, type DaemonHandle, type Topology } from '../helpers/netns';

const skip = skipReason();

const A = { group: '239.1.1.1', port: 5001, out: '239.2.2.1', outPort: 6001 };

const ruleIdOf = (iface: string, group: string, port: number): string =>
  createHash('sha256').update(`${iface}|${group}|${port}`).digest('hex').slice(0, 12);

function spec(name: string, group: string, port: number, outGroup: string, outPort: number, outIf = 'r1'): RuleSpec {
  return { name, input: { interface: 'r0', group, port }, outputs: [{ group: outGroup, port: outPort, interface: outIf }] };
}

async function refused(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('request was not refused');
}

describe('rule changes during traffic', { skip }, () => {
  let t: Topology;
  let mcrd: DaemonHandle;

  before(async () => {
    t = await oneHop('rule');
    mcrd = await startDaemon(t, 'relay');
    const add = await mcrd.ctl([
      'add',
      '--input-interface',
      'r0',
      '--input-group',
      A.group,
      '--input-port',
      String(A.port),
      '--outputs',
      `${A.out}:${A.outPort}:r1`,
      '--name',
      'a',
    ]);
    assert.equal(add.stdout, `${ruleIdOf('r0', A.group, A.port)}\n`);
  });
  after(async () => {
    await mcrd?.stop();
    await t?.destroy();
  });

  it('52 adds and removes while stream A flows: A loses nothing, a rule added mid-stream forwards all', async (ctx) => {
    const countA = 30_000; // 6 s at 5,000 pps, longer than all the changes below
    const before = await stats(mcrd);
    const streamA = await startStream(t, { ...A, count: countA, rate: 5_000 });
    await sleep(300);

    // Churn: add rule 0, add 1, remove 0, add 2, remove 1, ... (25 adds, 25 removes); every
    // 10th change goes through mcrctl, the rest through the protocol directly.
    let ops = 0;
    const churnName = (k: number): string => `churn-${k}`;
    const change = async (kind: 'add' | 'remove', k: number): Promise<void> => {
      const name = churnName(k);
      const viaCli = ops % 10 === 0;
      if (kind === 'add') {
        const s = spec(name, `239.1.10.${k + 1}`, 7000 + k, `239.2.10.${k + 1}`, 8000 + k);
        if (viaCli)
          await mcrd.ctl([
            'add',
            '--input-interface',
            'r0',
            '--input-group',
            `239.1.10.${k + 1}`,
            '--input-port',
            String(7000 + k),
            '--outputs',
            `239.2.10.${k + 1}:${8000 + k}:r1`,
            '--name',
            name,
          ]);
        else await mcrd.request('add', s);
      } else if (viaCli) {
        await mcrd.ctl(['remove', '--name', name]);
      } else {
        await mcrd.request('remove', { id: ruleIdOf('r0', `239.1.10.${k + 1}`, 7000 + k) });
      }
      ops++;
    };

    // Rule X is added half-way through; a stream to it starts right after the add and runs
    // while the churn goes on; X is removed once that stream is done.
    const X = { group: '239.1.20.1', port: 7500, out: '239.2.20.1', outPort: 8500 };
    const countX = 2_000;
    let streamX: Promise<void> | undefined;
    for (let k = 0; k < 25; k++) {
      await change('add', k);
      if (k > 0) await change('remove', k - 1);
      if (k === 10) {
        await mcrd.request('add', spec('x', X.group, X.port, X.out, X.outPort));
        ops++;
        const sinkX = receive(t, 'sink', { group: X.out, port: X.outPort, iface: 's0', count: countX });
        streamX = (async () => {
          await sinkX.ready;
          const sentX = await send(t, 'gen', { group: X.group, port: X.port, source: '10.0.1.1', rate: 2_000, count: countX });
          const gotX = await sinkX.result;
          assert.equal(sentX.sent, countX);
          assert.equal(gotX.unique, countX, 'every packet sent to X after its add arrived');
          assert.equal(gotX.lost, 0);
          assert.equal(gotX.duplicates, 0);
        })();
      }
      await sleep(40);
    }
    await change('remove', 24);
    assert.equal(streamA.isDone(), false, 'every change happened while stream A was flowing');
    await streamX;
    await mcrd.ctl(['remove', '--name', 'x']);
    ops++;
    ctx.diagnostic(`${ops} rule changes during stream A`);
    assert.equal(ops, 52);

    await streamA.finish();

    await sleep(100);
    const after = await stats(mcrd);
    assert.equal(after.totals.matched - before.totals.matched, countA + countX);
    assert.equal(after.totals.txPackets - before.totals.txPackets, countA + countX);
    assert.equal(after.totals.noMatch - before.totals.noMatch, 0);
    const a = after.rules.find((r) => r.name === 'a');
    assert.equal(a?.matchedPackets, countA);
    assert.equal(a?.outputs[0]?.txPackets, countA);
    assert.deepEqual(
      (await rules(mcrd)).map((r) => r.name),
      ['a'],
    );
  });

  it('stops forwarding a removed rule at once: later packets count as no_match, exactly', async () => {
    const G = { group: '239.1.30.1', port: 7600, out: '239.2.30.1', outPort: 8600 };
    await mcrd.ctl([
      'add',
      '--input-interface',
      'r0',
      '--input-group',
      G.group,
      '--input-port',
      String(G.port),
      '--outputs',
      `${G.out}:${G.outPort}:r1`,
      '--name',
      'gone',
    ]);
    const sink1 = receive(t, 'sink', { group: G.out, port: G.outPort, iface: 's0', count: 1_000 });
    await sink1.ready;
    await send(t, 'gen', { group: G.group, port: G.port, source: '10.0.1.1', rate: 5_000, count: 1_000 });
    assert.equal((await sink1.result).unique, 1_000);

    const removed = await mcrd.ctl(['remove', '--name', 'gone']);
    assert.equal(removed.stdout, `removed ${ruleIdOf('r0', G.group, G.port)} (gone)\n`);
    await sleep(100);
    const before = await stats(mcrd);
    const sink2 = receive(t, 'sink', { group: G.out, port: G.outPort, iface: 's0', timeoutS: 1 });
    await sink2.ready;
    const sent = await send(t, 'gen', { group: G.group, port: G.port, source: '10.0.1.1', rate: 5_000, count: 1_000 });
    assert.equal(sent.sent, 1_000);
    const got = await sink2.result;
    assert.equal(got.received, 0, 'nothing forwarded after the remove');
    await sleep(100);
    const after = await stats(mcrd);
    assert.equal(after.totals.rxFrames - before.totals.rxFrames, 1_000);
    assert.equal(after.totals.noMatch - before.totals.noMatch, 1_000);
    assert.equal(after.totals.matched - before.totals.matched, 0);
    assert.equal(after.totals.txPackets - before.totals.txPackets, 0);
  });

  it('removes by --rule-id and by --name', async () => {
    const id1 = (
      await mcrd.ctl([
        'add',
        '--input-interface',
        'r0',
        '--input-group',
        '239.1.40.1',
        '--input-port',
        '7700',
        '--outputs',
        '239.2.40.1:8700:r1',
      ])
    ).stdout.trim();
    assert.equal(id1, ruleIdOf('r0', '239.1.40.1', 7700));
    await mcrd.ctl([
      'add',
      '--input-interface',
      'r0',
      '--input-group',
      '239.1.40.2',
      '--input-port',
      '7701',
      '--outputs',
      '239.2.40.2:8701:r1',
      '--name',
      'by-name',
    ]);
    assert.deepEqual(
      (await rules(mcrd)).map((r) => r.name ?? r.id),
      ['a', id1, 'by-name'],
    );
    assert.equal((await mcrd.ctl(['remove', '--rule-id', id1])).stdout, `removed ${id1}\n`);
    assert.equal((await mcrd.ctl(['remove', '--name', 'by-name'])).stdout, `removed ${ruleIdOf('r0', '239.1.40.2', 7701)} (by-name)\n`);
    assert.deepEqual(
      (await rules(mcrd)).map((r) => r.name),
      ['a'],
    );
  });

  it('refuses to remove a rule that does not exist: exit 1, one line', async () => {
    const byId = await mcrd.ctl(['remove', '--rule-id', 'ffffffffffff'], true);
    assert.equal(byId.code, 1);
    assert.equal(byId.stdout, '');
    assert.equal(byId.stderr, 'mcrctl: no rule with id "ffffffffffff"\n');
    const byName = await mcrd.ctl(['remove', '--name', 'nope'], true);
    assert.equal(byName.code, 1);
    assert.equal(byName.stderr, 'mcrctl: no rule named "nope"\n');
    const err = await refused(mcrd.request('remove', { name: 'nope' }));
    assert.equal(err.code, 'ENOENT');
  });

  it('refuses a second rule for the same input, or the same name, with EEXIST', async () => {
    const listBefore = await rules(mcrd);
    const dup = await mcrd.ctl(
      [
        'add',
        '--input-interface',
        'r0',
        '--input-group',
        A.group,
        '--input-port',
        String(A.port),
        '--outputs',
        '239.2.9.9:6999:r1',
        '--name',
        'other',
      ],
      true,
    );
    assert.equal(dup.code, 1);
    assert.equal(dup.stdout, '');
    assert.equal(dup.stderr, `mcrctl: a rule for r0 ${A.group}:${A.port} exists already (id ${ruleIdOf('r0', A.group, A.port)}, name a)\n`);
    const errInput = await refused(mcrd.request('add', spec('other', A.group, A.port, '239.2.9.9', 6999)));
    assert.equal(errInput.code, 'EEXIST');
    const errName = await refused(mcrd.request('add', spec('a', '239.1.9.9', 5999, '239.2.9.9', 6999)));
    assert.equal(errName.code, 'EEXIST');
    assert.equal(errName.message, 'a rule named "a" exists already');
    assert.deepEqual(await rules(mcrd), listBefore);
  });

  it('refuses an output on the input interface, naming the key', async () => {
    const listBefore = await rules(mcrd);
    const cli = await mcrd.ctl(
      ['add', '--input-interface', 'r0', '--input-group', '239.1.50.1', '--input-port', '7800', '--outputs', '239.2.50.1:8800:r0'],
      true,
    );
    assert.equal(cli.code, 2, 'validated locally: a usage error');
    assert.equal(cli.stderr, 'mcrctl: --outputs: "r0" is also this rule\'s input interface (the relay would feed its own output back)\n');
    const err = await refused(mcrd.request('add', spec('loop', '239.1.50.1', 7800, '239.2.50.1', 8800, 'r0')));
    assert.equal(err.code, 'EINVAL');
    assert.equal(
      err.message,
      'rule.outputs[0].interface: "r0" is also this rule\'s input interface (the relay would feed its own output back)',
    );
    assert.deepEqual(await rules(mcrd), listBefore);
  });
});
