// SPDX-License-Identifier: MIT
// igmpproxy mode with the kernel's own IGMP host stack as the listener: a socket that joins in
// the sink's namespace (IGMPv3 by default, v2 with force_igmp_version=2) is what makes mcr
// forward; its leave is what stops it. Packets arrive from their original source, TTL - 1.
//   gen: g0 10.0.1.1 (+10.0.1.11) <-> relay: r0 (igmp.upstream) | r1 (igmp.interfaces) <-> sink: s0
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MrouteResult } from '../../src/control/protocol';
import { pollUntil } from '../helpers/control';
import { TempDir } from '../helpers/datapath';
import { oneHop, ROOT, send, skipReason, startDaemon, type DaemonHandle, type Topology } from '../helpers/netns';

const skip = skipReason();
const LISTENER = path.join(ROOT, 'tests', 'helpers', 'listener.py');
const CAPTURE = path.join(ROOT, 'tests', 'helpers', 'capture.py');
// Short timers on mcr's side (the kernel host answers queries within their max response time).
const LMQI = 0.2;
const ROBUSTNESS = 2;
const LEAVE_SLACK_MS = (LMQI * ROBUSTNESS + 1) * 1000 + 2000;
const N = 500;

interface ListenResult {
  total: number;
  bySource: Record<string, number>;
}

describe('igmpproxy mode against the kernel IGMP host stack', { skip }, () => {
  let t: Topology;
  let mcrd: DaemonHandle;
  const dir = new TempDir();

  before(async () => {
    t = await oneHop('igmp');
    await t.ip('gen', ['addr', 'add', '10.0.1.11/24', 'dev', 'g0']);
    // The sink reaches the sources through the relay, as a LAN behind a router does.
    await t.ip('sink', ['route', 'add', '10.0.1.0/24', 'via', '10.0.2.1']);
    const config = dir.config('mcr.json', {
      igmp: {
        interfaces: ['r1'],
        upstream: 'r0',
        queryInterval: 2,
        queryResponseInterval: 1,
        lastMemberQueryInterval: LMQI,
        robustness: ROBUSTNESS,
      },
      telemetry: { metricsListen: '127.0.0.1:9464' },
      rules: [
        {
          name: 'gated',
          input: { interface: 'r0', group: '239.8.8.8', port: 8000 },
          outputs: [{ interface: 'r1', group: '239.9.9.9', port: 9000, onlyWithListeners: true }],
        },
      ],
    });
    mcrd = await startDaemon(t, 'relay', { configFile: config });
  });
  after(async () => {
    await mcrd?.stop();
    await t?.destroy();
    dir.remove();
  });

  const routes = async (): Promise<MrouteResult['routes']> => (await mcrd.request('mroute')).routes;
  const routeFor = (all: MrouteResult['routes'], group: string, source?: string) =>
    all.find((r) => r.group === group && r.source === source && r.interface === 'r0');

  const listen = (group: string, port: number, sources: string[] = []) => {
    const p = t.spawn('sink', `listener ${group}`, 'python3', [
      LISTENER,
      '--interface',
      's0',
      '--group',
      group,
      '--port',
      String(port),
      ...sources.flatMap((s) => ['--source', s]),
    ]);
    const ready = pollUntil(
      async () => p.stderr,
      (s) => s.includes('joined'),
      'the listener to join',
    );
    return {
      ready,
      async stop(): Promise<ListenResult> {
        await p.stop('SIGTERM');
        return JSON.parse(p.stdout.trim().split('\n').pop() ?? '{}') as ListenResult;
      },
    };
  };

  /** Frames to `port` seen on the sink's interface during `fn`, by source address. */
  const onTheWire = async (port: number, expect: number, fn: () => Promise<unknown>) => {
    const cap = t.spawn('sink', 'capture', 'python3', [
      CAPTURE,
      '--interface',
      's0',
      '--port',
      String(port),
      '--count',
      String(expect + 1),
      '--timeout',
      '2',
    ]);
    await pollUntil(
      async () => cap.stderr,
      (s) => s.includes('capturing'),
      'the capture',
    );
    await fn();
    await cap.exited;
    const frames = cap.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { src: string; ttl: number });
    const bySource: Record<string, number> = {};
    for (const f of frames) bySource[f.src] = (bySource[f.src] ?? 0) + 1;
    return { frames, bySource };
  };

  it('forwards nothing while nobody listens', async () => {
    const wire = await onTheWire(7000, 0, () =>
      send(t, 'gen', { group: '239.7.7.7', port: 7000, source: '10.0.1.1', rate: 2000, count: 200 }),
    );
    assert.equal(wire.frames.length, 0);
    assert.deepEqual(
      (await routes()).filter((r) => r.origins.includes('igmp')),
      [],
    );
  });

  it('a v3 listener: the stream arrives exactly, from its source, TTL decremented; after the leave nothing again', async () => {
    const l = listen('239.7.7.7', 7000);
    await l.ready;
    const route = routeFor(await pollUntil(routes, (r) => routeFor(r, '239.7.7.7') !== undefined, 'the (*,G) route'), '239.7.7.7');
    assert.deepEqual(route?.origins, ['igmp']);
    assert.deepEqual(
      route?.outputs.map((o) => [o.interface, o.forwarding]),
      [['r1', 'routed']],
    );
    const groups = await mcrd.request('igmp.groups');
    const r1 = groups.interfaces.find((i) => i.interface === 'r1');
    assert.equal(r1?.querier?.self, true);
    assert.equal(r1?.groups.find((g) => g.group === '239.7.7.7')?.lastReporter, '10.0.2.2');

    const wire = await onTheWire(7000, N, () =>
      send(t, 'gen', { group: '239.7.7.7', port: 7000, source: '10.0.1.1', rate: 5000, count: N, ttl: 16 }),
    );
    assert.deepEqual(wire.bySource, { '10.0.1.1': N });
    assert.ok(
      wire.frames.every((f) => f.ttl === 15),
      'TTL 16 - 1',
    );
    assert.equal(routeFor(await routes(), '239.7.7.7')?.packets, N);
    assert.equal((await l.stop()).total, N);
    // Closing the socket is the kernel's leave (v3: TO_IN {}); mcr's group-specific queries go unanswered.
    await pollUntil(routes, (r) => routeFor(r, '239.7.7.7') === undefined, 'the route to go after the leave', LEAVE_SLACK_MS);
    const after = await onTheWire(7000, 0, () =>
      send(t, 'gen', { group: '239.7.7.7', port: 7000, source: '10.0.1.1', rate: 2000, count: 200 }),
    );
    assert.equal(after.frames.length, 0);
  });

  it('the group stays until the last of two listeners leaves', async () => {
    const a = listen('239.7.7.8', 7001);
    const b = listen('239.7.7.8', 7001);
    await Promise.all([a.ready, b.ready]);
    await pollUntil(routes, (r) => routeFor(r, '239.7.7.8') !== undefined, 'the route');
    await a.stop();
    // Longer than the leave timers: the kernel sends no leave while b is a member, and b answers the queries.
    await new Promise((resolve) => setTimeout(resolve, LEAVE_SLACK_MS));
    assert.ok(routeFor(await routes(), '239.7.7.8'), 'still routed for the second listener');
    const wire = await onTheWire(7001, N, () =>
      send(t, 'gen', { group: '239.7.7.8', port: 7001, source: '10.0.1.1', rate: 5000, count: N }),
    );
    assert.equal(wire.frames.length, N);
    assert.equal((await b.stop()).total, N);
    await pollUntil(routes, (r) => routeFor(r, '239.7.7.8') === undefined, 'the route to go after the last leave', LEAVE_SLACK_MS);
    const after = await onTheWire(7001, 0, () =>
      send(t, 'gen', { group: '239.7.7.8', port: 7001, source: '10.0.1.1', rate: 2000, count: 200 }),
    );
    assert.equal(after.frames.length, 0);
  });

  it('a v3 source-specific listener gets only its source of two', async () => {
    const l = listen('232.1.1.1', 7002, ['10.0.1.1']);
    await l.ready;
    await pollUntil(routes, (r) => routeFor(r, '232.1.1.1', '10.0.1.1') !== undefined, 'the (S,G) route');
    assert.equal(routeFor(await routes(), '232.1.1.1'), undefined, 'no (*,G) route for an INCLUDE listener');
    // Upstream, mcr joins source-specifically (an IGMPv3 INCLUDE {10.0.1.1} on r0), not any-source.
    // /proc/net/mcfilter prints addresses as host-order hex, /proc/net/igmp as the raw word.
    const mcHex = (a: string): string => Buffer.from(a.split('.').map(Number)).readUInt32BE(0).toString(16).padStart(8, '0');
    const hex = (a: string): string => Buffer.from(a.split('.').map(Number)).readUInt32LE(0).toString(16).toUpperCase().padStart(8, '0');
    const mcfilter = await pollUntil(
      async () => (await t.exec('relay', 'cat', ['/proc/net/mcfilter'])).stdout,
      (text) => new RegExp(`r0\\s+0x${mcHex('232.1.1.1')}\\s+0x${mcHex('10.0.1.1')}\\s+1\\s+0`).test(text),
      'the source-specific join on r0',
    );
    assert.ok(!/r0\s+0x\w+\s+0x\w+\s+0\s+1/.test(mcfilter), `no EXCLUDE-mode (any-source) entry: ${mcfilter}`);
    const maddr = (await t.exec('relay', 'cat', ['/proc/net/igmp'])).stdout;
    assert.ok(maddr.includes(hex('232.1.1.1')), 'the group is joined on r0');
    const wire = await onTheWire(7002, 2 * N, () =>
      Promise.all([
        send(t, 'gen', { group: '232.1.1.1', port: 7002, source: '10.0.1.1', rate: 5000, count: N }),
        send(t, 'gen', { group: '232.1.1.1', port: 7002, source: '10.0.1.11', rate: 5000, count: N }),
      ]),
    );
    assert.deepEqual(wire.bySource, { '10.0.1.1': N });
    assert.equal((await l.stop()).total, N);
    await pollUntil(routes, (r) => routeFor(r, '232.1.1.1', '10.0.1.1') === undefined, 'the (S,G) route to go', LEAVE_SLACK_MS);
  });

  it('a v2 listener (force_igmp_version=2) is forwarded to, and its leave stops it', async () => {
    await t.exec('sink', 'sysctl', ['-qw', 'net.ipv4.conf.s0.force_igmp_version=2']);
    try {
      const l = listen('239.7.7.9', 7003);
      await l.ready;
      await pollUntil(routes, (r) => routeFor(r, '239.7.7.9') !== undefined, 'the route for a v2 report');
      const groups = await mcrd.request('igmp.groups');
      assert.equal(groups.interfaces[0]?.groups.find((g) => g.group === '239.7.7.9')?.compatibilityVersion, 2);
      const wire = await onTheWire(7003, N, () =>
        send(t, 'gen', { group: '239.7.7.9', port: 7003, source: '10.0.1.1', rate: 5000, count: N }),
      );
      assert.equal(wire.frames.length, N);
      assert.equal((await l.stop()).total, N);
      await pollUntil(routes, (r) => routeFor(r, '239.7.7.9') === undefined, 'the route to go after the v2 leave', LEAVE_SLACK_MS);
    } finally {
      await t.exec('sink', 'sysctl', ['-qw', 'net.ipv4.conf.s0.force_igmp_version=0']);
    }
  });

  it('mcrctl mroute and mcrctl igmp groups print the tables', async () => {
    const l = listen('239.7.7.10', 7004);
    await l.ready;
    await pollUntil(routes, (r) => routeFor(r, '239.7.7.10') !== undefined, 'the route');
    const mroute = await mcrd.ctl(['mroute']);
    assert.match(mroute.stdout, /\(\*,239\.7\.7\.10\)\s+any\s+udp\s+r0\s+r1\s+igmp/);
    const groups = await mcrd.ctl(['igmp', 'groups']);
    assert.match(groups.stdout, /r1: querier \(this relay, 10\.0\.2\.1\)/);
    assert.match(groups.stdout, /r1\s+239\.7\.7\.10\s+EXCLUDE\s+-\s+10\.0\.2\.2\s+v3/);
    const json = JSON.parse((await mcrd.ctl(['mroute', '--json'])).stdout) as MrouteResult;
    assert.ok(json.routes.some((r) => r.group === '239.7.7.10' && r.origins.includes('igmp')));
    // The same state as metrics, read through mcrd's Prometheus endpoint in its namespace.
    const metrics = (
      await t.exec('relay', 'python3', [
        '-c',
        'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9464/metrics").read().decode())',
      ])
    ).stdout;
    assert.match(metrics, /^mcr_igmp_groups\{interface="r1"[^}]*\} 1$/m);
    assert.match(metrics, /^mcr_igmp_messages_total\{direction="sent",type="query_v3"[^}]*\} [1-9]\d*$/m);
    assert.match(metrics, /^mcr_igmp_messages_total\{direction="received",type="report_v3"[^}]*\} [1-9]\d*$/m);
    assert.match(metrics, /^mcr_route_changes_total\{origin="igmp"[^}]*\} [1-9]\d*$/m);
    // The config's one static rule, added at start.
    assert.match(metrics, /^mcr_route_changes_total\{origin="static"[^}]*\} 1$/m);
    await l.stop();
  });

  it('a static output with onlyWithListeners sends only while its group has a listener', async () => {
    const sendGated = (count: number) => send(t, 'gen', { group: '239.8.8.8', port: 8000, source: '10.0.1.1', rate: 5000, count });
    const before = await onTheWire(9000, 0, () => sendGated(200));
    assert.equal(before.frames.length, 0, 'no listener: nothing sent');
    const gated = async () => (await mcrd.request('mroute')).routes.find((r) => r.group === '239.8.8.8');
    assert.deepEqual((await gated())?.outputs, [], 'the rule stays, without its gated output');
    const l = listen('239.9.9.9', 9000);
    await l.ready;
    await pollUntil(gated, (r) => r?.outputs.length === 1, 'the gated output to open');
    // Republished, as static rules are: from the relay's address, to the output's group and port.
    const wire = await onTheWire(9000, N, () => sendGated(N));
    assert.deepEqual(wire.bySource, { '10.0.2.1': N });
    assert.equal((await l.stop()).total, N);
    await pollUntil(gated, (r) => r?.outputs.length === 0, 'the gated output to close after the leave', LEAVE_SLACK_MS);
    const after = await onTheWire(9000, 0, () => sendGated(200));
    assert.equal(after.frames.length, 0);
  });

  it('refuses onlyWithListeners on an interface IGMP does not run on, naming why', async () => {
    const r = await mcrd.ctl(
      [
        'add',
        '--input-interface',
        'r1',
        '--input-group',
        '239.8.8.9',
        '--input-port',
        '8001',
        '--outputs',
        '239.9.9.8:9001:r0',
        '--only-with-listeners',
      ],
      true,
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /r0 is not in igmp\.interfaces \(r1\), so no listener would ever be seen there/);
  });

  it('counts malformed IGMP by reason and drops it', async () => {
    // IGMP checksum over the message (RFC 1071), to make the well-checksummed unknown type.
    const checksummed = (hex: string): string => {
      const b = Buffer.from(hex, 'hex');
      let sum = 0;
      for (let i = 0; i < b.length; i += 2) sum += (b[i] ?? 0) * 256 + (b[i + 1] ?? 0);
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
      b.writeUInt16BE(~sum & 0xffff, 2);
      return b.toString('hex');
    };
    const errorsBefore = (await mcrd.request('igmp.groups')).counters.errors;
    await t.exec('sink', 'python3', [
      path.join(ROOT, 'tests', 'helpers', 'send-igmp.py'),
      '--interface-address',
      '10.0.2.2',
      // a v2 report for 239.1.2.3 with a wrong checksum
      '--hex',
      '16000000ef010203',
      // four bytes: shorter than any IGMP message
      '--hex',
      '16000000',
      // type 0x99, checksum right
      '--hex',
      checksummed('99000000ef010203'),
    ]);
    const counted = await pollUntil(
      async () => (await mcrd.request('igmp.groups')).counters.errors,
      (e) =>
        (e.bad_igmp_checksum ?? 0) - (errorsBefore.bad_igmp_checksum ?? 0) >= 1 &&
        (e.unknown_type ?? 0) - (errorsBefore.unknown_type ?? 0) >= 1,
      'the malformed messages to be counted',
    );
    const delta = (k: string): number => (counted[k] ?? 0) - (errorsBefore[k] ?? 0);
    assert.equal(delta('bad_igmp_checksum'), 1);
    assert.equal(delta('bad_length'), 1);
    assert.equal(delta('unknown_type'), 1);
    assert.equal(
      (await mcrd.request('igmp.groups')).interfaces[0]?.groups.some((g) => g.group === '239.1.2.3'),
      false,
      'a malformed report creates no membership',
    );
  });
});
