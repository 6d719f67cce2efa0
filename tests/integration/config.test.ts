// SPDX-License-Identifier: MIT
// The config file in a running relay: its rules forward, SIGHUP and `mcrctl config reload` apply
// a changed file without a lost packet, an invalid file is refused naming the key path and
// changes nothing, and a rule waiting for its input interface starts once the interface exists.
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pollUntil, rules, stats } from '../helpers/control';
import {
  oneHop,
  ROOT,
  skipReason,
  sleep,
  startDaemon,
  startStream,
  streamExactly,
  type DaemonHandle,
  type Topology,
} from '../helpers/netns';

const skip = skipReason();
const MCRD = path.join(ROOT, 'dist', 'src', 'cli', 'mcrd.js');

const A = { group: '239.1.1.1', port: 5001, out: '239.2.2.1', outPort: 6001 };
const B = { group: '239.1.1.2', port: 5002, out: '239.2.2.2', outPort: 6002 };
const LATE = { group: '239.1.9.1', port: 5009, out: '239.2.9.1', outPort: 6009 };

const ruleA = `{ name: 'a', input: { interface: 'r0', group: '${A.group}', port: ${A.port} }, outputs: [{ group: '${A.out}', port: ${A.outPort}, interface: 'r1' }] },`;
const ruleLate = `{ name: 'late', input: { interface: 'r9', group: '${LATE.group}', port: ${LATE.port} }, outputs: [{ group: '${LATE.out}', port: ${LATE.outPort}, interface: 'r1' }] },`;
const ruleB = (groupKey = 'group', group = B.group): string =>
  `{ name: 'b', input: { interface: 'r0', ${groupKey}: '${group}', port: ${B.port} }, outputs: [{ group: '${B.out}', port: ${B.outPort}, interface: 'r1' }] },`;
const configText = (...ruleTexts: string[]): string =>
  `// mcr test config (JSON5)\n{\n  workers: 1,\n  rules: [\n    ${ruleTexts.join('\n    ')}\n  ],\n}\n`;

describe('config file', { skip }, () => {
  let t: Topology;
  let mcrd: DaemonHandle;
  let file: string;
  let badFile: string;

  before(async () => {
    t = await oneHop('conf');
    file = `/tmp/${t.prefix}-mcr.json5`;
    badFile = `/tmp/${t.prefix}-bad.json5`;
    writeFileSync(file, configText(ruleA, ruleLate));
    mcrd = await startDaemon(t, 'relay', { configFile: file });
  });
  after(async () => {
    await mcrd?.stop();
    await t?.destroy();
    for (const f of [file, badFile]) if (f) rmSync(f, { force: true });
  });

  function stream(
    r: { group: string; port: number; out: string; outPort: number },
    count: number,
    rate = 10_000,
    source = '10.0.1.1',
  ): Promise<void> {
    return streamExactly(t, { ...r, count, rate, source });
  }

  const logged = (text: string): Promise<string> =>
    pollUntil(
      async () => mcrd.stderr,
      (s) => s.includes(text),
      `mcrd to log "${text}"`,
      5_000,
    );

  it('forwards the rules of the --config file exactly; a missing input interface waits', async () => {
    const list = await rules(mcrd);
    assert.deepEqual(
      list.map((r) => [r.name, r.status.input, r.status.outputs]),
      [
        ['a', 'up', ['up']],
        ['late', 'waiting-for-interface', ['up']],
      ],
    );
    const shown = JSON.parse((await mcrd.ctl(['config', 'show', '--json'])).stdout) as { path: string };
    assert.equal(shown.path, file);
    await stream(A, 5_000);
  });

  it('SIGHUP applies an added rule; the existing rule loses nothing during the reload', async () => {
    const streamA = await startStream(t, { ...A, count: 20_000, rate: 5_000 }); // 4 s
    await sleep(500);
    writeFileSync(file, configText(ruleA, ruleLate, ruleB()));
    mcrd.child.kill('SIGHUP');
    await logged('SIGHUP: configuration reloaded (3 rules, 1 added, 0 changed, 0 removed)');
    assert.deepEqual(
      (await rules(mcrd)).map((r) => [r.name, r.status.input]),
      [
        ['a', 'up'],
        ['late', 'waiting-for-interface'],
        ['b', 'up'],
      ],
    );
    await stream(B, 2_000, 2_000); // while A still flows
    assert.equal(streamA.isDone(), false, 'the reload and stream B happened while A was flowing');
    await streamA.finish();
  });

  it('SIGHUP with an invalid file: refused naming the key path, rules unchanged, traffic flows', async () => {
    const before = (await mcrd.ctl(['list', '--json'])).stdout;
    writeFileSync(file, configText(ruleA, ruleLate, ruleB('grp')));
    mcrd.child.kill('SIGHUP');
    const log = await logged('SIGHUP: reload rejected');
    const line = log.split('\n').find((l) => l.includes('SIGHUP: reload rejected')) as string;
    assert.match(line, /running rules unchanged/);
    assert.ok(line.includes(`${file}: rules[2].input.grp: unknown key (expected one of interface, group, port, source, protocol)`), line);
    assert.equal((await mcrd.ctl(['list', '--json'])).stdout, before);
    await stream(A, 3_000);
    await stream(B, 3_000);
  });

  it('mcrctl config reload with an invalid file exits 1 with the reason and changes nothing', async () => {
    const before = (await mcrd.ctl(['list', '--json'])).stdout;
    writeFileSync(file, configText(ruleA, ruleLate, ruleB('group', '239.1')));
    const r = await mcrd.ctl(['config', 'reload'], true);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `mcrctl: ${file}: rules[2].input.group: expected an IPv4 address, got "239.1"\n`);
    assert.equal((await mcrd.ctl(['list', '--json'])).stdout, before);
    // Fixed again: a reload that changes nothing.
    writeFileSync(file, configText(ruleA, ruleLate, ruleB()));
    const ok = await mcrd.ctl(['config', 'reload']);
    assert.equal(ok.stdout, 'reloaded: 3 rules (0 added, 0 changed, 0 removed)\n');
    assert.equal((await mcrd.ctl(['list', '--json'])).stdout, before);
    await stream(B, 2_000);
  });

  it("a reload with a rule the data plane cannot install changes nothing, and another rule's stream loses no packet across it", async () => {
    const before = (await mcrd.ctl(['list', '--json'])).stdout;
    // 'late' removed, 'c' added with a source address nobody has: its egress socket cannot bind.
    const ruleC = `{ name: 'c', input: { interface: 'r0', group: '239.1.3.1', port: 5003 }, outputs: [{ group: '239.2.3.1', port: 6003, interface: 'r1', source: '10.0.2.77' }] },`;
    writeFileSync(file, configText(ruleA, ruleB(), ruleC));
    const streamA = await startStream(t, { ...A, count: 15_000, rate: 5_000 }); // 3 s
    await sleep(500);
    const r = await mcrd.ctl(['config', 'reload'], true);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^mcrctl: reload refused, running rules unchanged: c: bind\(source 10\.0\.2\.77\) for output interface r1: Cannot assign requested address\n$/,
    );
    assert.equal((await mcrd.ctl(['list', '--json'])).stdout, before, 'the rule set is unchanged, "late" included');
    const joined = (await t.ip('relay', ['maddr', 'show', 'dev', 'r0'])).stdout;
    assert.ok(!joined.includes('239.1.3.1'), `the refused rule's group was left again: ${joined}`);
    assert.equal(streamA.isDone(), false, 'the refused reload happened while A was flowing');
    await streamA.finish();
    await stream(B, 2_000);
    writeFileSync(file, configText(ruleA, ruleLate, ruleB()));
  });

  it('mcrctl config check: ok for a good file, every problem of a bad one with exit 1', async () => {
    const good = await mcrd.ctl(['config', 'check', file]);
    assert.equal(good.stdout, `${file}: ok (3 rules)\n`);
    writeFileSync(
      badFile,
      `{ workers: 0, rules: [ { input: { interface: 'r0', group: '239.1.1.1', port: 5001 }, outputs: [{ group: '239.1', port: 6001, interface: 'r1' }] } ] }`,
    );
    const bad = await mcrd.ctl(['config', 'check', badFile], true);
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout, '');
    assert.equal(
      bad.stderr,
      `${badFile}: workers: expected an integer from 1 to 32, got 0\n${badFile}: rules[0].outputs[0].group: expected an IPv4 address, got "239.1"\n`,
    );
    const json = await mcrd.ctl(['config', 'check', badFile, '--json'], true);
    assert.equal(json.code, 1);
    assert.deepEqual(JSON.parse(json.stdout), {
      file: badFile,
      ok: false,
      problems: ['workers: expected an integer from 1 to 32, got 0', 'rules[0].outputs[0].group: expected an IPv4 address, got "239.1"'],
    });
  });

  it('mcrd started with an invalid config exits non-zero, naming the key path', async () => {
    writeFileSync(
      badFile,
      configText(
        ruleA,
        `{ name: 'x', input: { interface: 'r0', grp: '239.1.1.5', port: 5005 }, outputs: [{ group: '239.2.2.5', port: 6005, interface: 'r1' }] },`,
      ),
    );
    const socket = `/tmp/${t.prefix}-bad.sock`;
    const r = await t.exec('relay', 'node', [MCRD, '--control-socket', socket, '--config', badFile], {
      allowFail: true,
      timeoutMs: 15_000,
    });
    assert.notEqual(r.code, 0);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^mcrd: invalid configuration: /);
    assert.ok(
      r.stderr.includes(`${badFile}: rules[1].input.grp: unknown key (expected one of interface, group, port, source, protocol)`),
      r.stderr,
    );
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    assert.equal(existsSync(socket), false);
  });

  it('mcrd refuses cpus that this machine does not have, naming the key', async () => {
    writeFileSync(badFile, `{ workers: 2, cpus: [0, 4096], rules: [] }`);
    const socket = `/tmp/${t.prefix}-cpu.sock`;
    const r = await t.exec('relay', 'node', [MCRD, '--control-socket', socket, '--config', badFile], {
      allowFail: true,
      timeoutMs: 15_000,
    });
    // 2: a config that cannot work on this machine; systemd does not restart it (RestartPreventExitStatus=2).
    assert.equal(r.code, 2);
    assert.match(r.stderr.trim(), /^mcrd: .*: cpus\[1\]: CPU 4096 does not exist on this machine \(CPUs 0 to \d+\)$/);
    assert.equal(existsSync(socket), false);
  });

  it("mcrd refuses a --workers that no longer fits the file's cpus, instead of dropping the pinning", async () => {
    writeFileSync(badFile, `{ cpus: [0], busyPoll: true, rules: [] }`);
    const socket = `/tmp/${t.prefix}-wcpu.sock`;
    const r = await t.exec('relay', 'node', [MCRD, '--control-socket', socket, '--config', badFile, '--workers', '2'], {
      allowFail: true,
      timeoutMs: 15_000,
    });
    assert.equal(r.code, 2);
    assert.match(
      r.stderr.trim(),
      /^mcrd: .*: cpus: lists 1 CPU but mcrd --workers asks for 2 workers \(one CPU per worker\): change cpus or drop --workers$/,
    );
    assert.equal(existsSync(socket), false);
  });

  it('a reload that edits a rule keeps its counters and those of its unchanged outputs', async () => {
    const before = (await mcrd.request('stats')).rules;
    const a = before.find((r) => r.name === 'a');
    assert.ok(a && a.matchedPackets > 0, 'rule a has forwarded before');
    // Same input (same id), one more output: a "changed" rule, not removed and re-added.
    const edited = ruleA.replace('outputs: [', "outputs: [{ group: '239.2.2.9', port: 6009, interface: 'r1' }, ");
    writeFileSync(file, configText(edited, ruleLate));
    const r = await mcrd.ctl(['config', 'reload']);
    assert.equal(r.stdout, 'reloaded: 2 rules (0 added, 1 changed, 1 removed)\n');
    const after = (await mcrd.request('stats')).rules;
    const a2 = after.find((x) => x.name === 'a');
    assert.equal(a2?.id, a.id);
    assert.equal(a2?.matchedPackets, a.matchedPackets);
    assert.equal(a2?.outputs.find((o) => o.group === '239.2.2.9')?.txPackets, 0);
    assert.equal(a2?.outputs.find((o) => o.group !== '239.2.2.9')?.txPackets, a.outputs[0]?.txPackets);
  });

  it('starts a rule waiting for its input interface once the interface is created', async () => {
    const waiting = (await rules(mcrd)).find((r) => r.name === 'late');
    assert.equal(waiting?.status.input, 'waiting-for-interface');
    const list = await mcrd.ctl(['list']);
    // Only the missing interface is named: the output r1 exists.
    assert.match(list.stdout, /late .* waiting for r9 \(input\)\n/);
    assert.doesNotMatch(mcrd.stderr, /output interface r1 does not exist/);
    const before = await stats(mcrd);

    await t.link('gen', 'g9', '10.0.9.1/24', 'relay', 'r9', '10.0.9.2/24');
    const up = await pollUntil(
      () => rules(mcrd),
      (rs) => rs.find((r) => r.name === 'late')?.status.input === 'up',
      'rule "late" up',
      5_000,
      100,
    );
    assert.deepEqual(up.find((r) => r.name === 'late')?.status.outputs, ['up']);
    await logged('interface change picked up');

    await stream(LATE, 3_000, 10_000, '10.0.9.1');
    await sleep(100);
    const after = await stats(mcrd);
    const late = after.rules.find((r) => r.name === 'late');
    const lateBefore = before.rules.find((r) => r.name === 'late');
    assert.equal((late?.matchedPackets ?? 0) - (lateBefore?.matchedPackets ?? 0), 3_000);
    assert.equal(late?.outputs[0]?.txPackets, 3_000);
  });
});
