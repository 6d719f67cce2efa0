// SPDX-License-Identifier: MIT
// `mcrctl events` against the real daemon: rule changes, an output interface going away and
// coming back and a killed data plane each arrive as one event, in JSON and as a readable line;
// a subscriber that stops reading costs the daemon nothing (forwarding stays exact, other
// clients are answered) and, once it reads again, is told exactly how many events it lost.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RuleSpec } from '../../src/config/types';
import type { McrEvent } from '../../src/daemon/events';
import { MCRCTL } from '../../lab/paths';
import type { Proc } from '../../lab/proc';
import { pollUntil, RawClient } from '../helpers/control';
import { oneHop, skipReason, startDaemon, startStream, type DaemonHandle, type Topology } from '../helpers/netns';

const skip = skipReason();

const ISO_8601_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** A rule r0 `group`:`port` -> r1 with `outputs` republished groups 239.2.x.1.. on port `outPort`. */
function spec(name: string, group: string, port: number, outGroupPrefix: string, outPort: number, outputs = 1): RuleSpec {
  return {
    name,
    input: { interface: 'r0', group, port },
    outputs: Array.from({ length: outputs }, (_, i) => ({ group: `${outGroupPrefix}.${i + 1}`, port: outPort, interface: 'r1' })),
  };
}

/** The stdout lines of a running `mcrctl events`, complete lines only. */
function linesOf(proc: Proc): string[] {
  const text = proc.stdout;
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .slice(0, -1);
}

const eventsOf = (proc: Proc): McrEvent[] => linesOf(proc).map((l) => JSON.parse(l) as McrEvent);

/** The events of `proc` after the last one for the sync rule (see subscribed()). */
function afterSync(events: McrEvent[]): McrEvent[] {
  const last = lastIndexOf(events, (e) => 'name' in e && e.name === SYNC_RULE.name);
  return events.slice(last + 1);
}

function lastIndexOf<T>(items: T[], pred: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (pred(items[i] as T)) return i;
  return -1;
}

const SYNC_RULE = spec('sync', '239.1.9.1', 5900, '239.2.9', 6900);

describe('mcrctl events with the real daemon', { skip }, () => {
  let t: Topology;
  let mcrd: DaemonHandle;

  before(async () => {
    t = await oneHop('evts');
    mcrd = await startDaemon(t, 'relay');
  });
  after(async () => {
    await mcrd?.stop();
    await t?.destroy();
  });

  /** `mcrctl events ARGS` running in the relay's namespace until stopped. */
  const follow = (label: string, args: string[]): Proc =>
    t.spawn('relay', label, 'node', [MCRCTL, '--socket', mcrd.socket, 'events', ...args]);

  /**
   * Waits until every follower is subscribed. The daemon keeps no backlog, so an event emitted
   * before the subscription is not delivered: add the sync rule until each follower shows its
   * route.add, then remove it and wait for the route.remove. Events after that are all ours.
   */
  async function subscribed(followers: { proc: Proc; json: boolean }[]): Promise<void> {
    const seen = (f: { proc: Proc; json: boolean }, type: string): number =>
      linesOf(f.proc).filter((l) =>
        f.json ? l.includes(`"type":"${type}"`) && l.includes('"name":"sync"') : l.includes(` ${type} `) && l.endsWith('(sync)'),
      ).length;
    for (let attempt = 0; ; attempt++) {
      await mcrd.request('add', SYNC_RULE);
      try {
        await pollUntil(
          async () => followers.every((f) => seen(f, 'route.add') > 0),
          (ok) => ok,
          'every follower shows the sync rule',
          1_000,
        );
        break;
      } catch (err) {
        if (attempt >= 20) throw err;
        await mcrd.request('remove', { name: 'sync' });
      }
    }
    await mcrd.request('remove', { name: 'sync' });
    await pollUntil(
      async () => followers.every((f) => seen(f, 'route.remove') === seen(f, 'route.add')),
      (ok) => ok,
      'every follower shows each sync rule removed',
      10_000,
    );
  }

  it('route, interface and data-plane events, as JSON and as readable lines', async (ctx) => {
    const json = follow('mcrctl events --json', ['--json']);
    const text = follow('mcrctl events', []);
    await subscribed([
      { proc: json, json: true },
      { proc: text, json: false },
    ]);
    const events = async (): Promise<McrEvent[]> => afterSync(eventsOf(json));
    const waitFor = (n: number, what: string, timeoutMs = 10_000): Promise<McrEvent[]> =>
      pollUntil(events, (e) => e.length >= n, what, timeoutMs);

    // mcrctl add / remove: route.add and route.remove with the rule's id, name and outputs.
    const add = await mcrd.ctl([
      'add',
      '--input-interface',
      'r0',
      '--input-group',
      '239.1.1.1',
      '--input-port',
      '5001',
      '--outputs',
      '239.2.1.1:6001:r1',
      '--name',
      'ev-a',
    ]);
    const id = add.stdout.trim();
    assert.match(id, /^[0-9a-f]{12}$/);
    const route = {
      route: '(*,239.1.1.1)',
      interface: 'r0',
      group: '239.1.1.1',
      port: 5001,
      outputs: [{ interface: 'r1', group: '239.2.1.1', port: 6001 }],
      origin: 'static',
      rule: id,
      name: 'ev-a',
    };
    const [added] = await waitFor(1, 'route.add');
    assert.ok(added);
    assert.deepEqual(Object.keys(added).slice(0, 2), ['time', 'type'], 'time first, then type');
    assert.match(added.time, ISO_8601_MS);
    assert.ok(Math.abs(Date.parse(added.time) - Date.now()) < 60_000, `${added.time} is now`);
    assert.deepEqual(added, { time: added.time, type: 'route.add', ...route });

    // Interfaces: a rule's status says whether its interfaces exist (administratively down is
    // not looked at: docs/cli.md, list), so the output goes away (r1 and its peer s0 deleted) and
    // comes back (the veth pair made again). The data plane re-checks every second.
    await t.ip('relay', ['link', 'del', 'r1']);
    const [, down] = await waitFor(2, 'interface.down', 30_000);
    assert.deepEqual(down, { time: down?.time, type: 'interface.down', interface: 'r1' });
    await t.link('relay', 'r1', '10.0.2.1/24', 'sink', 's0', '10.0.2.2/24');
    const [, , up] = await waitFor(3, 'interface.up', 30_000);
    assert.deepEqual(up, { time: up?.time, type: 'interface.up', interface: 'r1' });

    await mcrd.ctl(['remove', '--name', 'ev-a']);
    const [, , , removed] = await waitFor(4, 'route.remove');
    assert.deepEqual(removed, { time: removed?.time, type: 'route.remove', ...route });

    // A data plane killed behind mcrd's back: dataplane.restart with the reason and the old pid.
    const workers = JSON.parse((await mcrd.ctl(['workers', '--json'])).stdout) as { dataplane: { pid: number } };
    const pid = workers.dataplane.pid;
    assert.ok(pid > 0);
    process.kill(pid, 'SIGKILL');
    const [, , , , restart] = await waitFor(5, 'dataplane.restart', 30_000);
    assert.deepEqual(restart, { time: restart?.time, type: 'dataplane.restart', reason: 'exited unexpectedly (SIGKILL)', pid });
    await pollUntil(
      () => mcrd.request('workers'),
      (w) => w.dataplane.state === 'running' && w.dataplane.pid !== pid,
      'a new data plane running',
      30_000,
    );

    // Nothing else happened, and the times never go back.
    const all = await events();
    assert.deepEqual(
      all.map((e) => e.type),
      ['route.add', 'interface.down', 'interface.up', 'route.remove', 'dataplane.restart'],
    );
    for (const e of all) assert.match(e.time, ISO_8601_MS);
    const times = all.map((e) => e.time);
    assert.deepEqual([...times].sort(), times);

    // The same events as readable lines (the second follower saw the same stamped events).
    const [a, d, u, r, x] = all.map((e) => e.time);
    const readable = [
      `${a} route.add (*,239.1.1.1) on r0 port 5001 -> 239.2.1.1:6001:r1 static rule ${id} (ev-a)`,
      `${d} interface.down interface=r1`,
      `${u} interface.up interface=r1`,
      `${r} route.remove (*,239.1.1.1) on r0 port 5001 -> 239.2.1.1:6001:r1 static rule ${id} (ev-a)`,
      `${x} dataplane.restart reason="exited unexpectedly (SIGKILL)" pid=${pid}`,
    ];
    const textLines = await pollUntil(
      async () => linesOf(text).slice(-readable.length),
      (l) => l.at(-1)?.includes('dataplane.restart') === true,
      'the readable dataplane.restart line',
    );
    assert.deepEqual(textLines, readable);
    for (const line of readable) ctx.diagnostic(line);

    // Ctrl-C ends mcrctl events with exit 0.
    assert.equal(await json.stop('SIGINT'), 0, json.stderr);
    assert.equal(await text.stop('SIGINT'), 0, text.stderr);
    assert.equal(json.stderr, '');
  });

  it('a subscriber that stops reading: forwarding stays exact, others are answered, then it gets dropped + later events', async (ctx) => {
    // The stream's rule goes in before the subscription: its route.add is not one of ours.
    const stream = { group: '239.1.2.1', port: 5002, out: '239.2.2.1', outPort: 6002 };
    await mcrd.request('add', spec('stream', stream.group, stream.port, '239.2.2', stream.outPort));

    const stalled = await RawClient.connect(mcrd.socket);
    try {
      const reply = await stalled.call({ id: 1, method: 'events', params: { queue: 10 } });
      assert.deepEqual(reply, { id: 1, ok: true, result: { subscribed: true, queue: 10 } });
      stalled.socket.pause();

      // The churn: add and remove one rule 200 times, a different name each time. Its 32 outputs
      // make each event ~1.6 kB, so 400 of them (~650 kB) overfill every buffer between mcrd's
      // queue and the paused reader (mcrd's socket buffer, the kernel's, ours).
      const churns = 200;
      const expected: string[] = [];
      const sent = await startStream(t, { ...stream, count: 20_000, rate: 4_000 });
      const listed = (result: string): (string | undefined)[] =>
        (JSON.parse(result) as { rules: { name?: string }[] }).rules.map((r) => r.name);
      const rulesBefore = listed((await mcrd.ctl(['list', '--json'])).stdout);
      assert.ok(rulesBefore.includes('stream'));
      let answered = 0;
      for (let k = 0; k < churns; k++) {
        const name = `churn-${k}`;
        await mcrd.request('add', spec(name, '239.1.20.1', 7000, '239.2.20', 8000, 32));
        expected.push(`route.add ${name}`);
        await mcrd.request('remove', { name });
        expected.push(`route.remove ${name}`);
        if (k % 20 === 19) {
          // Other clients are answered while the subscriber sits on its events.
          assert.equal((await mcrd.request('ping')).pong, true);
          assert.deepEqual(listed((await mcrd.ctl(['list', '--json'])).stdout), rulesBefore);
          answered++;
        }
      }
      assert.equal(sent.isDone(), false, 'the churn happened while the stream was flowing');
      await sent.finish();
      assert.equal(answered, churns / 20);
      assert.equal(stalled.closed, false, 'mcrd keeps a subscriber that does not read');

      // Reading again: what was delivered before the stall, then dropped (count), then the newest.
      stalled.socket.resume();
      const last = expected.at(-1);
      const lines = await pollUntil(
        async () => stalled.lines.slice(1).map((l) => JSON.parse(l) as McrEvent),
        (e) => e.some((x) => 'name' in x && `${x.type} ${x.name}` === last),
        `the last event (${last})`,
        30_000,
      );
      let at = 0;
      let droppedTotal = 0;
      let droppedEvents = 0;
      let delivered = 0;
      for (const [i, e] of lines.entries()) {
        if (e.type === 'dropped') {
          assert.ok(e.count > 0, `dropped count ${e.count}`);
          assert.notEqual(lines[i + 1], undefined, 'a dropped event is followed by the events after the gap');
          at += e.count;
          droppedTotal += e.count;
          droppedEvents++;
          continue;
        }
        assert.equal('name' in e ? `${e.type} ${e.name}` : e.type, expected[at], `event ${i} is the one produced ${at}th`);
        at++;
        delivered++;
      }
      assert.ok(droppedTotal > 0, 'the stalled subscriber lost events');
      assert.equal(delivered + droppedTotal, expected.length, 'delivered + dropped == produced');
      ctx.diagnostic(
        `${expected.length} events produced: ${delivered} delivered, ${droppedTotal} reported dropped in ${droppedEvents} dropped event(s); ` +
          `the last ${lines.length - 1 - lastIndexOf(lines, (e) => e.type === 'dropped')} after the last gap`,
      );
    } finally {
      stalled.close();
      await mcrd.request('remove', { name: 'stream' });
    }
  });

  it('mcrctl events --queue 0 is a usage error naming --queue', async () => {
    const r = await mcrd.ctl(['events', '--queue', '0'], true);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--queue: expected a whole number from 1 to 10000, got "0"/);
    assert.equal(r.stdout, '');
  });
});
