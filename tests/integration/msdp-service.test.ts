// SPDX-License-Identifier: MIT
// MsdpService (src/routing/msdp/service.ts) against FRR 8.4's pimd over real TCP port 639 on one
// veth link, both ways round (the lower address connects, the higher listens): the session comes
// up on both sides, an SA mcr originates shows in FRR's SA cache, a peer that goes silent is
// dropped by mcr's Hold timer and the session returns when FRR does, and a peer sending garbage
// from the configured address has its session reset with the reason counted. FRR as RP and
// first-hop router of a source on its other link originates an SA, which mcr caches.
// The service runs as a child (tests/helpers/msdp-peer.ts) inside mcr's namespace.
//   mcr: m0 <-> frr: f0   (10.0.9.1 and 10.0.9.2, one way round or the other)
//               frr: f1 10.0.8.1 <-> src: s0 10.0.8.2 (a multicast source; FRR is its RP)
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import * as path from 'node:path';
import { frrSkipReason, startFrr, type FrrInstance } from '../../lab/frr';
import { send } from '../../lab/mcrgen';
import { start, type Proc } from '../../lab/proc';
import type { MsdpStatus } from '../../src/routing/msdp/service';
import { pollUntil } from '../helpers/control';
import { ROOT, skipReason, Topology } from '../helpers/netns';

const skip = skipReason() ?? frrSkipReason();
const LOW = '10.0.9.1';
const HIGH = '10.0.9.2';
/** Short timers on both sides: KeepAlive 2 s, Hold 6 s, ConnectRetry 2 s. */
const KEEPALIVE_S = 2;
const HOLD_S = 6;
const CONNECT_RETRY_S = 2;
const UP_DEADLINE_MS = 20_000;
const HOLD_DEADLINE_MS = HOLD_S * 1000 + 15_000;
const SCRIPT = path.join(ROOT, 'dist/tests/helpers/msdp-peer.js');

interface FrrMsdpPeer {
  peer: string;
  local: string;
  state: string;
  /** hh:mm:ss left */
  holdTimer: string;
  keepAliveTimer: string;
}

const seconds = (hms: string): number => hms.split(':').reduce((total, part) => total * 60 + Number(part), 0);

interface ChildLine {
  event: string;
  type?: string;
  peer?: string;
  reason?: string;
  source?: string;
  group?: string;
  rp?: string;
}

/** The MsdpService child: its JSON lines so far, and commands to it. */
class McrMsdp {
  constructor(readonly proc: Proc) {}

  lines(): ChildLine[] {
    return this.proc.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as ChildLine);
  }

  changes(type: string): ChildLine[] {
    return this.lines().filter((l) => l.event === 'change' && l.type === type);
  }

  command(c: object): void {
    this.proc.child.stdin?.write(`${JSON.stringify(c)}\n`);
  }

  async status(): Promise<MsdpStatus> {
    const before = this.lines().filter((l) => l.event === 'status').length;
    this.command({ status: true });
    const lines = await pollUntil(
      async () => this.lines().filter((l) => l.event === 'status'),
      (l) => l.length > before,
      'msdp-peer status answer',
    );
    return lines[lines.length - 1] as unknown as MsdpStatus;
  }

  async waitFor(type: string, count: number, what: string, timeoutMs = UP_DEADLINE_MS): Promise<ChildLine[]> {
    return pollUntil(
      async () => this.changes(type),
      (c) => c.length >= count,
      `${what} (mcr's ${type} #${count}); mcr printed:\n${this.proc.stdout}${this.proc.stderr}`,
      timeoutMs,
      100,
    );
  }
}

interface Lab {
  t: Topology;
  mcr: McrMsdp;
  frr: FrrInstance;
  mcrAddress: string;
  frrAddress: string;
}

/**
 * FRR: the MSDP peer with short timers (8.4 takes them at top level as KEEPALIVE HOLD RETRY; its
 * running-config writes the first two swapped, so the test reads the timers from the peer view),
 * and PIM with itself as RP, so a source on f1 makes it originate an SA.
 */
function frrConfig(frrAddress: string, mcrAddress: string): string {
  return [
    `ip msdp timers ${KEEPALIVE_S} ${HOLD_S} ${CONNECT_RETRY_S}`,
    `ip msdp peer ${mcrAddress} source ${frrAddress}`,
    `ip pim rp ${frrAddress} 224.0.0.0/4`,
    'interface f0',
    ' ip pim',
    '!',
    'interface f1',
    ' ip pim',
    '!',
  ].join('\n');
}

async function startLabFrr(t: Topology, frrAddress: string, mcrAddress: string): Promise<FrrInstance> {
  return startFrr(t, 'frr', { pimd: frrConfig(frrAddress, mcrAddress) });
}

async function setUp(mcrAddress: string, frrAddress: string): Promise<Lab> {
  const t = new Topology('msdp');
  await t.addNamespace('mcr');
  await t.addNamespace('frr');
  await t.addNamespace('src');
  await t.link('mcr', 'm0', `${mcrAddress}/24`, 'frr', 'f0', `${frrAddress}/24`);
  await t.link('src', 's0', '10.0.8.2/24', 'frr', 'f1', '10.0.8.1/24');
  const options = {
    localAddress: mcrAddress,
    peers: [{ address: frrAddress }],
    keepAliveMs: KEEPALIVE_S * 1000,
    holdMs: HOLD_S * 1000,
    connectRetryMs: CONNECT_RETRY_S * 1000,
  };
  const proc = start('msdp-peer', 'ip', ['netns', 'exec', t.ns('mcr'), process.execPath, SCRIPT, JSON.stringify(options)], {
    stdin: 'pipe',
  });
  const mcr = new McrMsdp(proc);
  await pollUntil(
    async () => mcr.lines(),
    (l) => l.some((x) => x.event === 'started'),
    `msdp-peer started: ${proc.stderr}`,
  );
  const frr = await startLabFrr(t, frrAddress, mcrAddress);
  return { t, mcr, frr, mcrAddress, frrAddress };
}

async function tearDown(lab: Lab | undefined): Promise<void> {
  await lab?.mcr.proc.stop();
  await lab?.frr.stop();
  await lab?.t.destroy();
}

async function frrPeer(frr: FrrInstance, peer: string): Promise<FrrMsdpPeer | undefined> {
  const peers = await frr.vtyshJson<Record<string, FrrMsdpPeer>>('show ip msdp peer');
  return peers[peer];
}

async function waitEstablished(lab: Lab, ups: number): Promise<void> {
  await lab.mcr.waitFor('peer_up', ups, 'the session came up');
  await pollUntil(
    () => frrPeer(lab.frr, lab.mcrAddress),
    (p) => p?.state === 'established',
    `FRR's peer ${lab.mcrAddress} established`,
    UP_DEADLINE_MS,
    200,
  );
}

for (const [arrangement, mcrAddress, frrAddress] of [
  ['mcr lower: mcr connects', LOW, HIGH],
  ['mcr higher: mcr listens', HIGH, LOW],
] as const) {
  describe(`MSDP with FRR, ${arrangement}`, { skip }, () => {
    let lab: Lab | undefined;
    after(() => tearDown(lab));

    it('establishes the session on both sides', async () => {
      lab = await setUp(mcrAddress, frrAddress);
      await waitEstablished(lab, 1);
      const s = await lab.mcr.status();
      assert.equal(s.peers[0]?.state, 'established');
      assert.equal(s.peers[0]?.role, mcrAddress === LOW ? 'connect' : 'listen');
      assert.ok((s.counters.received.keepalive ?? 0) >= 1, 'mcr got FRR KeepAlives');
      assert.deepEqual(s.counters.errors, {}, 'FRR sent nothing mcr could not parse');
      // the per-peer form has the timers; the table form does not
      const atFrr = (await lab.frr.vtyshJson<Record<string, FrrMsdpPeer>>(`show ip msdp peer ${mcrAddress}`))[mcrAddress];
      assert.ok(
        atFrr && seconds(atFrr.holdTimer) <= HOLD_S && seconds(atFrr.keepAliveTimer) <= KEEPALIVE_S,
        `FRR runs the short timers: ${JSON.stringify(atFrr)}`,
      );
    });

    it("an SA mcr originates appears in FRR's SA cache", async () => {
      assert.ok(lab);
      lab.mcr.command({ originate: ['10.0.1.1', '239.1.1.1'] });
      const frr = lab.frr;
      const sa = await pollUntil(
        () => frr.vtyshJson<Record<string, Record<string, { rp: string; local: string }>>>('show ip msdp sa'),
        (v) => v['239.1.1.1']?.['10.0.1.1'] !== undefined,
        "FRR's show ip msdp sa lists (10.0.1.1, 239.1.1.1)",
        UP_DEADLINE_MS,
        200,
      );
      assert.equal(sa['239.1.1.1']?.['10.0.1.1']?.rp, mcrAddress, 'RP is mcr');
    });

    it("FRR as RP originates an SA for its source; mcr caches it with FRR's RP", async () => {
      assert.ok(lab);
      // a short stream from src: FRR, first-hop router and RP, registers the source with itself
      const sent = await send(lab.t, 'src', { group: '239.2.2.2', port: 5000, source: '10.0.8.2', rate: 20, count: 20, ttl: 8 });
      assert.equal(sent.sent, 20);
      const added = await lab.mcr.waitFor('sa_added', 1, 'an SA from FRR');
      assert.deepEqual(
        { source: added[0]?.source, group: added[0]?.group, rp: added[0]?.rp, peer: added[0]?.peer },
        { source: '10.0.8.2', group: '239.2.2.2', rp: frrAddress, peer: frrAddress },
      );
      const s = await lab.mcr.status();
      assert.deepEqual(
        s.sa.map((e) => `${e.source},${e.group},${e.rp}`),
        [`10.0.8.2,239.2.2.2,${frrAddress}`],
      );
      assert.deepEqual(s.counters.rejected, {});
    });

    it("a silent FRR is dropped by mcr's Hold timer; the session returns with FRR", async (ctx) => {
      assert.ok(lab);
      const pimd = lab.frr.daemons.get('pimd');
      assert.ok(pimd);
      // frozen, pimd keeps its TCP connection open but sends nothing: only the Hold timer can notice
      const frozenAt = Date.now();
      pimd.child.kill('SIGSTOP');
      const downs = await lab.mcr.waitFor('peer_down', 1, "mcr's Hold timer expired", HOLD_DEADLINE_MS);
      ctx.diagnostic(`hold_expired seen ${Date.now() - frozenAt} ms after SIGSTOP (hold ${HOLD_S} s, polled every 100 ms)`);
      assert.equal(downs[0]?.reason, 'hold_expired');
      // what was learned from FRR goes with the session
      const removed = await lab.mcr.waitFor('sa_removed', 1, "FRR's SA removed");
      assert.equal(removed[0]?.reason, 'peer_down');
      pimd.child.kill('SIGKILL');
      await lab.frr.stop();
      const upsBefore = lab.mcr.changes('peer_up').length;
      lab.frr = await startLabFrr(lab.t, frrAddress, mcrAddress);
      await waitEstablished(lab, upsBefore + 1);
      // mcr sends its originated SA to the returning peer at once
      const frr = lab.frr;
      await pollUntil(
        () => frr.vtyshJson<Record<string, Record<string, unknown>>>('show ip msdp sa'),
        (v) => v['239.1.1.1']?.['10.0.1.1'] !== undefined,
        'the SA again at the restarted FRR',
        UP_DEADLINE_MS,
        200,
      );
    });

    if (mcrAddress === HIGH)
      it("garbage from the peer's address resets that session and counts the reason", async () => {
        assert.ok(lab);
        const mcr = lab.mcr;
        const downsAtStop = mcr.changes('peer_down').length;
        await lab.frr.stop();
        await mcr.waitFor('peer_down', downsAtStop + 1, 'FRR gone');
        await pollUntil(
          () => mcr.status(),
          (s) => s.peers[0]?.state === 'listen',
          'mcr listens again',
          HOLD_DEADLINE_MS,
          200,
        );
        const downsBefore = lab.mcr.changes('peer_down').length;
        // from FRR's address, as the configured peer: a valid KeepAlive, then a type-9 TLV and random bytes
        const py = [
          'import os, socket, time',
          `s = socket.create_connection(("${mcrAddress}", 639), source_address=("${frrAddress}", 0))`,
          's.sendall(bytes([4, 0, 3]))',
          'time.sleep(0.3)',
          's.sendall(bytes([9, 0, 40]) + os.urandom(37))',
          's.settimeout(10)',
          'data = b""',
          'while True:',
          '    chunk = s.recv(4096)',
          '    if not chunk: break',
          '    data += chunk',
          'print(len(data))',
        ].join('\n');
        const r = await lab.t.exec('frr', 'python3', ['-c', py], { timeoutMs: 20_000 });
        assert.equal(r.code, 0, `the fake peer ran: ${r.stderr}`);
        assert.ok(Number(r.stdout.trim()) >= 3, `mcr sent its KeepAlive before closing (got ${r.stdout.trim()} bytes)`);
        const downs = await lab.mcr.waitFor('peer_down', downsBefore + 1, 'the garbage reset the session');
        assert.equal(downs[downs.length - 1]?.reason, 'malformed_unknown_type');
        const s = await lab.mcr.status();
        assert.equal(s.counters.errors.unknown_type, 1);
        assert.equal(s.counters.resets.malformed_unknown_type, 1);
        assert.equal(s.peers[0]?.state, 'listen', 'listening again for the peer');
        // a connection from an address that is not a configured peer is closed at once
        await lab.t.ip('frr', ['addr', 'add', '10.0.9.77/24', 'dev', 'f0']);
        const stranger = await lab.t.exec(
          'frr',
          'python3',
          [
            '-c',
            `import socket\ns = socket.create_connection(("${mcrAddress}", 639), source_address=("10.0.9.77", 0))\ns.settimeout(10)\nprint(len(s.recv(10)))`,
          ],
          { allowFail: true, timeoutMs: 20_000 },
        );
        assert.ok(
          stranger.code !== 0 || stranger.stdout.trim() === '0',
          `a stranger is closed at once: ${stranger.stdout}${stranger.stderr}`,
        );
        assert.equal((await lab.mcr.status()).counters.refusedConnections, 1);
      });
  });
}
