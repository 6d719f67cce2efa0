// SPDX-License-Identifier: MIT
// The event stream (src/daemon/events.ts) and its transport: each subscriber's queue is bounded,
// drops its oldest events and reports them with one `dropped` event in their place; subscribers
// are independent; the interface watch and the static route events say what changed. Then the
// real ControlServer with a subscriber that stops reading: the server's memory stays bounded
// (the socket buffer never grows past one high-water mark), other clients are answered, and the
// reader, once it reads again, gets everything it was sent or told how much it lost, in order.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { renderEvent } from '../../src/cli/render';
import { ControlClient } from '../../src/control/client';
import { noParams, type EventsParams, type EventsResult, type NoParams, type ParamCheck } from '../../src/control/protocol';
import { ControlServer, LIMITS, type ServerMethods } from '../../src/control/server';
import {
  DEFAULT_QUEUE_LIMIT,
  EventBus,
  InterfaceStates,
  staticRouteEvent,
  type McrEvent,
  type McrEventBody,
  type RuleInterfaces,
} from '../../src/daemon/events';
import { Logger } from '../../src/lib/logger';

/** A clock that moves 1 ms per reading, so every event has its own time. */
function steppingClock(start = Date.UTC(2026, 0, 2, 3, 4, 5, 6)): () => Date {
  let t = start;
  return () => new Date(t++);
}

const join = (n: number): McrEventBody => ({ type: 'igmp.join', interface: 'eth0', group: `239.0.${n >> 8}.${n & 255}` });
const groupOf = (e: McrEvent | undefined): string => (e && 'group' in e ? e.group : '');
/** After the immediates queued so far (the subscriber's notification) have run. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const drain = (take: () => McrEvent | undefined): McrEvent[] => {
  const out: McrEvent[] = [];
  for (let e = take(); e !== undefined; e = take()) out.push(e);
  return out;
};

describe('EventBus', () => {
  test('stamps each event with an ISO 8601 time in ms, first key, and delivers in order', () => {
    const bus = new EventBus(steppingClock());
    const sub = bus.subscribe();
    bus.emit({ type: 'interface.up', interface: 'r1' });
    bus.emit({ type: 'dataplane.restart', reason: 'exited unexpectedly (SIGKILL)', pid: 42 });
    const got = drain(() => sub.take());
    assert.deepEqual(got, [
      { time: '2026-01-02T03:04:05.006Z', type: 'interface.up', interface: 'r1' },
      { time: '2026-01-02T03:04:05.007Z', type: 'dataplane.restart', reason: 'exited unexpectedly (SIGKILL)', pid: 42 },
    ]);
    assert.deepEqual(Object.keys(got[0] ?? {}).slice(0, 2), ['time', 'type']);
  });

  test('a full queue drops its oldest events; the dropped count comes first, then the events after the gap', () => {
    const bus = new EventBus(steppingClock());
    const sub = bus.subscribe(10);
    assert.equal(sub.limit, 10);
    for (let n = 0; n < 25; n++) bus.emit(join(n));
    assert.equal(sub.size, 10);
    assert.equal(sub.dropped, 15);
    const got = drain(() => sub.take());
    assert.equal(got.length, 11);
    // Its time is the newest lost event's: the gap ends there, and times still never go back.
    assert.deepEqual(got[0], { time: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6 + 14)).toISOString(), type: 'dropped', count: 15 });
    assert.deepEqual(
      got.slice(1).map(groupOf),
      Array.from({ length: 10 }, (_, i) => join(15 + i)).map((e) => ('group' in e ? e.group : '')),
    );
    const times = got.map((e) => e.time);
    assert.deepEqual([...times].sort(), times);
    assert.equal(sub.take(), undefined);
  });

  test('a gap after events were taken: delivered ones stay delivered, the count covers only the lost ones', () => {
    const bus = new EventBus(steppingClock());
    const sub = bus.subscribe(3);
    for (let n = 0; n < 3; n++) bus.emit(join(n));
    assert.equal(groupOf(sub.take()), groupOf({ time: '', ...join(0) }));
    for (let n = 3; n < 8; n++) bus.emit(join(n)); // queue 1,2 then 3..7 in 3 places: 1..4 lost
    const got = drain(() => sub.take());
    assert.deepEqual(
      got.map((e) => (e.type === 'dropped' ? `dropped ${e.count}` : groupOf(e))),
      ['dropped 4', groupOf({ time: '', ...join(5) }), groupOf({ time: '', ...join(6) }), groupOf({ time: '', ...join(7) })],
    );
    // Losses again later: a second dropped event, again before what follows the gap.
    for (let n = 8; n < 13; n++) bus.emit(join(n));
    const again = drain(() => sub.take());
    assert.equal(again[0]?.type, 'dropped');
    assert.equal(again[0]?.type === 'dropped' ? again[0].count : 0, 2);
    assert.equal(again.length, 4);
  });

  test('memory stays bounded: 200,000 events into a queue of 1000 keep 1000', () => {
    const bus = new EventBus();
    const sub = bus.subscribe();
    assert.equal(sub.limit, DEFAULT_QUEUE_LIMIT);
    for (let n = 0; n < 200_000; n++) bus.emit(join(n % 65536));
    assert.equal(sub.size, DEFAULT_QUEUE_LIMIT);
    assert.equal(sub.dropped, 200_000 - DEFAULT_QUEUE_LIMIT);
  });

  test('subscribers are independent: one stalled, one reading, one late, one closed', () => {
    const bus = new EventBus(steppingClock());
    const stalled = bus.subscribe(5);
    const reading = bus.subscribe(5);
    const closed = bus.subscribe(5);
    const readingGot: McrEvent[] = [];
    for (let n = 0; n < 20; n++) {
      if (n === 10) closed.close();
      bus.emit(join(n));
      readingGot.push(...drain(() => reading.take()));
    }
    const late = bus.subscribe(5);
    bus.emit(join(20));
    readingGot.push(...drain(() => reading.take()));
    assert.equal(readingGot.length, 21);
    assert.ok(readingGot.every((e) => e.type === 'igmp.join'));
    assert.equal(stalled.size, 5);
    assert.equal(stalled.dropped, 16);
    assert.deepEqual(drain(() => late.take()).map(groupOf), [groupOf({ time: '', ...join(20) })]);
    assert.equal(closed.take(), undefined);
    assert.equal(bus.subscriberCount, 3);
  });

  test('onReadable runs once, later, for a burst; not after close', async () => {
    const bus = new EventBus();
    const sub = bus.subscribe();
    let calls = 0;
    sub.onReadable(() => calls++);
    for (let n = 0; n < 100; n++) bus.emit(join(n));
    assert.equal(calls, 0, 'emit never calls a reader synchronously');
    await nextTurn();
    assert.equal(calls, 1);
    bus.emit(join(0));
    sub.close();
    await nextTurn();
    assert.equal(calls, 1);
  });

  test('refuses a queue limit outside 1..10000', () => {
    const bus = new EventBus();
    for (const bad of [0, -1, 1.5, 10_001]) assert.throws(() => bus.subscribe(bad), RangeError);
  });
});

describe('what the daemon emits', () => {
  test('a static rule as route.add / route.remove', () => {
    const rule = {
      id: '0123456789ab',
      spec: {
        name: 'feed',
        input: { interface: 'r0', group: '239.1.1.1', port: 5001 },
        outputs: [{ interface: 'r1', group: '239.2.2.2', port: 5002, ttl: 16 }],
      },
    };
    assert.deepEqual(staticRouteEvent('route.add', rule), {
      type: 'route.add',
      route: '(*,239.1.1.1)',
      interface: 'r0',
      group: '239.1.1.1',
      port: 5001,
      outputs: [{ interface: 'r1', group: '239.2.2.2', port: 5002 }],
      origin: 'static',
      rule: '0123456789ab',
      name: 'feed',
    });
    const sg = staticRouteEvent('route.remove', {
      id: 'ffffffffffff',
      spec: { input: { interface: 'r0', group: '239.1.1.1', port: 0, source: '10.0.1.1' }, outputs: [] },
    });
    assert.equal(sg.type, 'route.remove');
    assert.equal('route' in sg ? sg.route : '', '(10.0.1.1,239.1.1.1)');
    assert.equal('source' in sg ? sg.source : '', '10.0.1.1');
  });

  test('interface.up / interface.down only for a change of an interface already seen', () => {
    const rule = (input: string, out: string, si: string, so: string, error?: string): RuleInterfaces => ({
      spec: { input: { interface: input }, outputs: [{ interface: out }] },
      status: {
        input: si as 'up',
        outputs: [so as 'up'],
        ...(error ? { error } : {}),
      },
    });
    const events: McrEventBody[] = [];
    const sink = { emit: (e: McrEventBody) => events.push(e) };
    const states = new InterfaceStates();
    states.observe([rule('r0', 'r1', 'up', 'waiting-for-interface')], sink);
    assert.deepEqual(events, [], 'first sight is no change');
    states.observe([rule('r0', 'r1', 'up', 'up')], sink);
    assert.deepEqual(events, [{ type: 'interface.up', interface: 'r1' }]);
    // pending (data plane starting) and refused rules say nothing about their interfaces.
    states.observe([rule('r0', 'r1', 'pending', 'pending')], sink);
    states.observe([rule('r0', 'r1', 'up', 'up', 'refused')], sink);
    assert.equal(events.length, 1);
    states.observe([rule('r0', 'r1', 'waiting-for-interface', 'up'), rule('r2', 'r1', 'up', 'up')], sink);
    assert.deepEqual(events.slice(1), [{ type: 'interface.down', interface: 'r0' }]);
    // r0 unused, then used again: forgotten, so no stale change.
    states.observe([rule('r2', 'r1', 'up', 'up')], sink);
    states.observe([rule('r0', 'r1', 'up', 'up')], sink);
    assert.equal(events.length, 2);
  });

  test('mcrctl events renders one line per event, unknown types and fields as key=value', () => {
    assert.equal(
      renderEvent({
        time: '2026-01-02T03:04:05.006Z',
        ...staticRouteEvent('route.add', {
          id: '0123456789ab',
          spec: {
            name: 'feed',
            input: { interface: 'r0', group: '239.1.1.1', port: 5001 },
            outputs: [{ interface: 'r1', group: '239.2.2.2', port: 5002 }],
          },
        }),
      }),
      '2026-01-02T03:04:05.006Z route.add (*,239.1.1.1) on r0 port 5001 -> 239.2.2.2:5002:r1 static rule 0123456789ab (feed)',
    );
    assert.equal(
      renderEvent({ time: 't', type: 'dataplane.restart', reason: 'exited unexpectedly (SIGKILL)', pid: 7 }),
      't dataplane.restart reason="exited unexpectedly (SIGKILL)" pid=7',
    );
    assert.equal(renderEvent({ time: 't', type: 'dropped', count: 3 }), 't dropped count=3');
    assert.equal(
      renderEvent({ time: 't', type: 'pim.neighbor', interface: 'r1', holdtime: 105 }),
      't pim.neighbor interface=r1 holdtime=105',
    );
  });
});

// ---- over a real control socket --------------------------------------------------------------

interface StreamMethods {
  ping: { params: NoParams; result: string };
  events: { params: EventsParams | undefined; result: EventsResult };
}

describe('events over the control socket', () => {
  let dir: string;
  let socketPath: string;
  let server: ControlServer<StreamMethods>;
  const bus = new EventBus();

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'mcr-events-'));
    socketPath = path.join(dir, 'ctl.sock');
    const methods: ServerMethods<StreamMethods> = {
      checks: { ping: noParams, events: ((raw) => raw as EventsParams | undefined) as ParamCheck<EventsParams | undefined> },
      handlers: {
        ping: () => 'pong',
        events: (params, connection) => {
          const subscriber = bus.subscribe(params?.queue);
          connection.stream(subscriber);
          return { subscribed: true, queue: subscriber.limit };
        },
      },
    };
    server = new ControlServer(
      socketPath,
      methods,
      Logger.create('error', 'text', 'control', () => undefined),
    );
    await server.listen();
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the client gets the reply, then each event as one exact JSON line; closing unsubscribes', async () => {
    const client = new ControlClient<StreamMethods>(socketPath);
    const lines: string[] = [];
    const { result, ended } = await client.subscribe('events', undefined, (_event, line) => lines.push(line));
    assert.deepEqual(result, { subscribed: true, queue: DEFAULT_QUEUE_LIMIT });
    assert.equal(bus.subscriberCount, 1);
    bus.emit({ type: 'interface.up', interface: 'r1' });
    bus.emit({ type: 'interface.down', interface: 'r1' });
    for (let i = 0; i < 100 && lines.length < 2; i++) await sleep(10);
    assert.equal(lines.length, 2);
    const parsed = lines.map((l) => JSON.parse(l) as McrEvent);
    assert.deepEqual(
      parsed.map((e) => e.type),
      ['interface.up', 'interface.down'],
    );
    assert.equal(lines[0], JSON.stringify(parsed[0]));
    client.close();
    assert.equal(await ended, undefined);
    for (let i = 0; i < 100 && bus.subscriberCount > 0; i++) await sleep(10);
    assert.equal(bus.subscriberCount, 0);
  });

  test('a subscription is exempt from the idle timeout; a plain connection is not', async () => {
    const idleMs = LIMITS.idleMs;
    LIMITS.idleMs = 200;
    try {
      const plain = net.createConnection(socketPath);
      const plainClosed = new Promise<void>((resolve) => plain.on('close', () => resolve()));
      plain.on('error', () => undefined);
      plain.resume(); // read (and discard) the ETIMEOUT reply, so the server's end is seen
      const client = new ControlClient<StreamMethods>(socketPath);
      const { ended } = await client.subscribe('events', undefined, () => undefined);
      let streamEnded = false;
      void ended.then(() => (streamEnded = true));
      await plainClosed;
      await sleep(600);
      assert.equal(streamEnded, false, 'the quiet subscription is still open after 3 idle periods');
      client.close();
    } finally {
      LIMITS.idleMs = idleMs;
    }
  });

  test('a subscriber that stops reading: bounded server memory, others answered, then dropped + later events', async () => {
    // Raw socket, paused at once: nothing is read until resume().
    const stalled = net.createConnection(socketPath);
    await new Promise<void>((resolve) => stalled.once('connect', () => resolve()));
    let received = '';
    stalled.setEncoding('utf8');
    stalled.on('data', (chunk: string) => {
      received += chunk;
    });
    stalled.write(`${JSON.stringify({ id: 1, method: 'events', params: { queue: 100 } })}\n`);
    for (let i = 0; i < 100 && !received.includes('\n'); i++) await sleep(10);
    stalled.pause();
    const subscriber = (): number => bus.subscriberCount;
    assert.equal(subscriber(), 1);

    // 200,000 events of ~150 bytes (30 MB): far more than the kernel's socket buffer and the
    // server's, emitted in bursts with turns of the event loop between them so the pump runs.
    const total = 200_000;
    const big = 'x'.repeat(64);
    for (let n = 0; n < total; n++) {
      bus.emit({ type: 'igmp.join', interface: 'eth0', group: `239.0.${(n >> 8) & 255}.${n & 255}`, reporter: `${big}${n}` });
      if (n % 1000 === 999) await new Promise((r) => setImmediate(r));
    }
    await sleep(50);
    // The server side holds at most one socket high-water mark plus one line.
    const serverSocket = [...(server as unknown as { clients: Set<net.Socket> }).clients][0];
    assert.ok(serverSocket);
    assert.ok(serverSocket.writableLength <= serverSocket.writableHighWaterMark + 1024, `writableLength ${serverSocket.writableLength}`);
    // Other clients are answered meanwhile.
    const other = new ControlClient<StreamMethods>(socketPath);
    assert.equal(await other.request('ping'), 'pong');
    other.close();

    // Reading again: the lines seen are what was sent; the `dropped` counts make up the rest.
    stalled.resume();
    const last = `${big}${total - 1}`;
    for (let i = 0; i < 500 && !received.includes(last); i++) await sleep(10);
    const lines = received.trim().split('\n');
    assert.deepEqual(JSON.parse(lines[0] ?? ''), { id: 1, ok: true, result: { subscribed: true, queue: 100 } });
    const events = lines.slice(1).map((l) => JSON.parse(l) as McrEvent);
    const drops = events.filter((e) => e.type === 'dropped');
    const delivered = events.filter((e) => e.type === 'igmp.join');
    assert.ok(drops.length >= 1, 'at least one dropped event');
    const lost = drops.reduce((sum, e) => sum + (e.type === 'dropped' ? e.count : 0), 0);
    assert.ok(lost > 0);
    assert.equal(delivered.length + lost, total, 'every event either delivered or counted as dropped');
    // In order, and a dropped event is followed by an event (the one after the gap).
    const seq = delivered.map((e) => Number((e.type === 'igmp.join' ? (e.reporter ?? '') : '').slice(big.length)));
    assert.ok(
      seq.every((n, i) => i === 0 || n > (seq[i - 1] ?? -1)),
      'delivered in emit order',
    );
    assert.equal(seq[seq.length - 1], total - 1, 'the newest event arrives');
    assert.equal(events[events.length - 1]?.type, 'igmp.join');
    stalled.destroy();
    for (let i = 0; i < 100 && subscriber() > 0; i++) await sleep(10);
    assert.equal(subscriber(), 0, 'the closed connection unsubscribed');
  });
});
